//! sysmon: the monitor thread, outside the Ps (Go's `sysmon`).
//!
//! In this version it (1) fires timers (see timer.rs), (2) prints schedtrace lines, and (3) ends
//! a P's time slice when the P has run the same runnext chain for 10 ms (`schedtick` unchanged):
//! it sets `PShared::preempt`, and the P's next schedule round lets its local queue go before
//! runnext, so a ping-pong pair cannot starve the rest of its P. The syscall-handoff issue adds
//! retaking Ps from blocking calls and CPU hogs here.
//!
//! It holds no P and runs no G; it touches Ps only through `PShared` atomics.

use crate::loom::atomic::Ordering;
use crate::sched::Sched;
use std::time::{Duration, Instant};

/// Go's forcePreemptNS: the length of a time slice.
pub const TIME_SLICE: Duration = Duration::from_millis(10);
/// How often sysmon looks at the Ps when nothing else wakes it (Go backs off to 10 ms).
const TICK: Duration = Duration::from_millis(10);

pub(crate) fn start(s: &'static Sched) {
    crate::loom::spawn_thread("gort-sysmon".into(), move || run(s))
        .unwrap_or_else(|e| crate::fatal::fatal!("failed to start sysmon: {e}"));
}

fn run(s: &'static Sched) {
    let trace_every = Duration::from_millis(s.cfg.debug.schedtrace_ms);
    let mut next_trace = (!trace_every.is_zero()).then(Instant::now);
    let mut last_tick: Vec<(u64, Instant)> = vec![(0, Instant::now()); s.nprocs()];
    loop {
        let now = Instant::now();
        let next_timer = crate::timer::run_due(now);
        crate::netpoll::sysmon_poll();
        if let Some(t) = next_trace {
            if now >= t {
                crate::trace::print(s, s.cfg.debug.scheddetail);
                next_trace = Some(t + trace_every);
            }
        }
        // End time slices of Ps stuck on one runnext chain.
        for (p, last) in s.ps.iter().zip(last_tick.iter_mut()) {
            let tick = p.schedtick.load(Ordering::Relaxed);
            if tick != last.0 {
                *last = (tick, now);
            } else if now.duration_since(last.1) >= TIME_SLICE
                && p.status() == crate::p::PStatus::Running
            {
                p.preempt.store(true, Ordering::Relaxed);
                last.1 = now;
            }
        }
        let mut wake = Instant::now() + TICK;
        if let Some(t) = next_timer {
            wake = wake.min(t);
        }
        if let Some(t) = next_trace {
            wake = wake.min(t);
        }
        crate::timer::wait_until(wake);
    }
}
