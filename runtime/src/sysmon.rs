//! sysmon: the monitor thread, outside the Ps (Go's `sysmon`). It holds no P and runs no G; it
//! touches Ps only through `PShared` atomics and the retake CAS.
//!
//! Each tick it:
//! 1. fires due timers (timer.rs; the backstop once Ms run timers themselves);
//! 2. **retakes Ps from blocking calls**: a P in `SYSCALL` whose `syscalltick` has not moved
//!    since the last tick (so it has been in the same call for at least one tick, ≥ 20 µs) is
//!    retaken and handed off (`handoffp`), unless its queue is empty and other Ps are idle or
//!    spinning and the call is younger than 10 ms (Go's rule: no point waking an M for nothing);
//! 3. **ends time slices and retakes Ps from CPU hogs**: a P whose G has not switched out for
//!    10 ms (`switches` unchanged) gets its `preempt` flag (so `should_yield()` says so and
//!    runnext inheritance ends); if work is waiting behind the hog, the P itself is retaken and
//!    handed to another M. The hog keeps its M, without a P; at its next scheduling point its M
//!    finds no P and the G goes to the global queue. (Rust code cannot be preempted safely: an
//!    asynchronous switch could land inside `malloc` or while a lock is held. Handing the P away
//!    is the sound half of Go's preemption: everyone else runs; only the hog waits.)
//! 4. prints schedtrace when due; runs the deadlock check while every P is idle.
//!
//! Its sleep starts at 20 µs and doubles after 1 ms without a retake, up to 10 ms (Go's
//! backoff), so an idle process costs about 100 wakeups a second. A G entering a blocking call
//! ends a sleep of 1 ms or more early (`nudge`) and makes the next one 20 µs, so the P it
//! leaves is looked at again a tick later instead of a whole backoff later.

use crate::loom::atomic::Ordering;
use crate::p::{PStatus, RUNNING_G, SYSCALL};
use crate::sched::Sched;
use std::time::{Duration, Instant};

/// Go's forcePreemptNS: the length of a time slice.
pub const TIME_SLICE: Duration = Duration::from_millis(10);
/// Shortest and longest sysmon sleep (Go: 20 µs and 10 ms).
const MIN_DELAY: Duration = Duration::from_micros(20);
const MAX_DELAY: Duration = Duration::from_millis(10);
/// Ticks without a retake before the sleep starts doubling (Go: 50, i.e. 1 ms at 20 µs).
const IDLE_TICKS: u32 = 50;

pub(crate) fn start(s: &'static Sched) {
    crate::loom::spawn_thread("gort-sysmon".into(), move || run(s))
        .unwrap_or_else(|e| crate::fatal::fatal!("failed to start sysmon: {e}"));
}

/// What sysmon remembers about a P between ticks (Go's `sysmontick`).
#[derive(Clone, Copy)]
struct Seen {
    schedtick: u64,
    schedwhen: Instant,
    syscalltick: u64,
    syscallwhen: Instant,
    switches: u64,
    switchwhen: Instant,
}

fn run(s: &'static Sched) {
    let trace_every = Duration::from_millis(s.cfg.debug.schedtrace_ms);
    let mut next_trace = (!trace_every.is_zero()).then(Instant::now);
    let now = Instant::now();
    let mut seen = vec![
        Seen {
            schedtick: 0,
            schedwhen: now,
            syscalltick: 0,
            syscallwhen: now,
            switches: 0,
            switchwhen: now,
        };
        s.nprocs()
    ];
    let mut delay = MIN_DELAY;
    let mut idle_ticks = 0u32;
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
        let retook = retake(s, &mut seen, now);
        let all_idle = s.npidle.load(Ordering::Relaxed) == s.nprocs();
        if all_idle {
            crate::deadlock::check(s);
        }
        // Backoff: 20 µs while things happen, doubling after 1 ms of quiet, up to 10 ms; and
        // straight to 10 ms when every P is idle (nothing to retake).
        if retook {
            idle_ticks = 0;
            delay = MIN_DELAY;
        } else if all_idle {
            delay = MAX_DELAY;
        } else {
            idle_ticks += 1;
            if idle_ticks > IDLE_TICKS {
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
        let mut wake = Instant::now() + delay;
        if let Some(t) = next_timer {
            wake = wake.min(t);
        }
        if let Some(t) = next_trace {
            wake = wake.min(t);
        }
        if sleep_until(wake, delay >= DEEP_SLEEP) {
            // A G entered a blocking call during a deep sleep: a burst may be starting. Look
            // again after the short tick, or the retake of its P would wait one more whole
            // backoff (the first pass after the nudge only records the P's syscall tick, as
            // Go's retake does). `idle_ticks` is kept, so without a retake the backoff doubles
            // back up within a few ticks: a process making a short blocking call every few ms
            // pays a handful of extra sysmon wakeups per call, not 1 ms of 20 µs ticks.
            delay = MIN_DELAY;
        }
    }
}

/// A sleep of at least this long is "deep": a G entering a blocking call wakes sysmon from it
/// (see [`nudge`]), so the first retake of a burst does not wait for the backoff to run out.
const DEEP_SLEEP: Duration = Duration::from_millis(1);

/// sysmon's sleep: a condvar wait, so that [`nudge`] can end a deep one early.
static SLEEP: crate::loom::unmodelled::Mutex<bool> = crate::loom::unmodelled::Mutex::new(false);
static WAKE: crate::loom::unmodelled::Condvar = crate::loom::unmodelled::Condvar::new();
/// Set (Relaxed) while sysmon is in a deep sleep; read by `nudge` on every `entersyscall`.
static DEEP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sleeps until `until`, or until [`nudge`]d if `deep`; true if a nudge ended the sleep.
fn sleep_until(until: Instant, deep: bool) -> bool {
    let mut nudged = SLEEP.lock();
    *nudged = false;
    DEEP.store(deep, std::sync::atomic::Ordering::Relaxed);
    loop {
        let now = Instant::now();
        if *nudged || now >= until {
            break;
        }
        nudged = WAKE.wait_for(nudged, (until - now).max(MIN_DELAY));
    }
    DEEP.store(false, std::sync::atomic::Ordering::Relaxed);
    *nudged
}

/// Called when a G enters a blocking call: if sysmon is in a deep sleep (the process was quiet),
/// wake it, so that it looks at the P within a tick (~20 µs) instead of up to 10 ms later. Go
/// wakes sysmon only from its all-Ps-idle sleep (`sysmonwait`), so its first retake after a
/// quiet spell can wait for the whole backoff; this closes that gap for one relaxed load per
/// call.
#[inline]
pub(crate) fn nudge() {
    if DEEP.load(std::sync::atomic::Ordering::Relaxed)
        && DEEP.swap(false, std::sync::atomic::Ordering::Relaxed)
    {
        *SLEEP.lock() = true;
        WAKE.notify_one();
    }
}

/// One pass over the Ps (Go's `retake`); true if a P was retaken.
fn retake(s: &'static Sched, seen: &mut [Seen], now: Instant) -> bool {
    let mut retook = false;
    for (p, sn) in s.ps.iter().zip(seen.iter_mut()) {
        // Time slices of runnext chains (the P keeps switching, but between the same Gs).
        let tick = p.schedtick.load(Ordering::Relaxed);
        if tick != sn.schedtick {
            sn.schedtick = tick;
            sn.schedwhen = now;
        } else if now.duration_since(sn.schedwhen) >= TIME_SLICE && p.status() != PStatus::Idle {
            p.preempt.store(true, Ordering::Relaxed);
            sn.schedwhen = now;
        }
        let w = p.own_word();
        match w & 0xff {
            SYSCALL => {
                let t = p.syscalltick.load(Ordering::Relaxed);
                if t != sn.syscalltick {
                    sn.syscalltick = t;
                    sn.syscallwhen = now;
                    continue;
                }
                let in_call = now.duration_since(sn.syscallwhen);
                let helpers = s.nmspinning.load(Ordering::SeqCst) + s.npidle.load(Ordering::SeqCst);
                if !p.has_work() && helpers > 0 && in_call < TIME_SLICE {
                    continue;
                }
                if let Some(h) = p.try_retake(w) {
                    s.handoffp(h);
                    retook = true;
                }
            }
            RUNNING_G => {
                let sw = p.switches.load(Ordering::Relaxed);
                if sw != sn.switches {
                    sn.switches = sw;
                    sn.switchwhen = now;
                    continue;
                }
                if now.duration_since(sn.switchwhen) < TIME_SLICE {
                    continue;
                }
                // The same G has run for a whole slice without a scheduling point.
                p.preempt.store(true, Ordering::Relaxed);
                let waiting = p.has_work()
                    || (s.nglobal.load(Ordering::Relaxed) > 0
                        && s.npidle.load(Ordering::SeqCst) == 0);
                if waiting {
                    if let Some(h) = p.try_retake(w) {
                        s.handoffp(h);
                        retook = true;
                        // Do not retake the hog's next P (if it gets one) before a new slice.
                        sn.switchwhen = now;
                    }
                }
            }
            _ => {
                sn.switches = p.switches.load(Ordering::Relaxed);
                sn.switchwhen = now;
            }
        }
    }
    retook
}
