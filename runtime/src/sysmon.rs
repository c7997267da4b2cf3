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
//! # Blocking calls nobody wrapped (Linux)
//!
//! Step 3 treats a G that stays on its P without a scheduling point as computing. But a G that
//! calls `std::thread::sleep`, `std::fs`, a std socket or a C library blocks its M in the kernel
//! without telling us, and its P's queue then waits for the 10 ms hog rule. So between step 2
//! and 3, for a P in `RUNNING_G` whose `switches` and owner have not changed since the last tick
//! (the same G has run for at least a tick), sysmon looks at the M's thread
//! (threadstate.rs, `/proc/self/task/TID`):
//!
//! * tick k: `syscall` reads `running` → computing: the hog rule applies, nothing else (one
//!   ~0.7 µs pread); the next look at the same G comes after an interval that doubles from a
//!   tick up to 1 ms (`LOOK_MAX`), so a long computation costs ~15 reads per 10 ms slice, not
//!   one per tick. Reads "asleep in a syscall" → remember `schedstat` (on-CPU ns, timeslices).
//! * tick k+1: `schedstat` unchanged → the thread has not run since: one sleep spans a whole
//!   tick, Go's test for a syscall worth a handoff. The P is retaken (CAS on `RUNNING_G`) and
//!   handed off under the same rule as step 2 (not while nothing waits for it, other Ps are idle
//!   or spinning and the sleep is younger than 10 ms), and within `GORT_MAXBLOCKING` (these Ms
//!   count with the Gs inside `gort::blocking`: `Sched::nunwrapped`). The G keeps its M,
//!   without a P, as a hog does; its next scheduling point puts it on the global queue.
//!   `schedstat` changed → it ran meanwhile; start over.
//!
//! While a P with waiting work is under watch the next tick is the short one (20 µs), so a
//! burst of unwrapped sleeps is handed off one every two or three ticks, not one per backoff.
//! A runnable thread (preempted by the kernel) reads `running`, so a computing G is never
//! taken for a blocked one, however loaded the machine. `GORT_DEBUG=blockcheck=0` turns the
//! check off; `GORT_DEBUG=blocktrace=1` prints a line per hand-off naming the G, the syscall and
//! its user-space pc. docs/blocking.md has what it catches and what it cannot.
//!
//! Its sleep starts at 20 µs and doubles after 1 ms without a retake, up to 10 ms (Go's
//! backoff), so an idle process costs about 100 wakeups a second. A G entering a blocking call
//! ends a sleep of 1 ms or more early (`nudge`) and makes the next one 20 µs, so the P it
//! leaves is looked at again a tick later instead of a whole backoff later.

use crate::loom::atomic::Ordering;
use crate::p::{PShared, PStatus, IDLE, RUNNING_G, SYSCALL};
use crate::sched::Sched;
use std::time::{Duration, Instant};

/// Go's forcePreemptNS: the length of a time slice.
pub const TIME_SLICE: Duration = Duration::from_millis(10);
/// Shortest and longest sysmon sleep (Go: 20 µs and 10 ms).
const MIN_DELAY: Duration = Duration::from_micros(20);
const MAX_DELAY: Duration = Duration::from_millis(10);
/// Ticks without a retake before the sleep starts doubling (Go: 50, i.e. 1 ms at 20 µs).
const IDLE_TICKS: u32 = 50;
/// How often sysmon re-reads the CPU limit when `GORT_MAXPROCS` was not set (Go: 1 s).
const PROCS_CHECK: Duration = Duration::from_secs(1);

/// The coarse clock: milliseconds since the runtime started, advanced by sysmon at each tick
/// (so it lags by at most one sleep, 10 ms). One relaxed load: what a park pays to stamp
/// `wait_since` (the dump's "for 3s"; Go stamps `waitsince` even more coarsely, at GC).
static COARSE_MS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// See [`COARSE_MS`]. Wraps after 49 days (durations use wrapping subtraction).
#[inline]
pub(crate) fn coarse_ms() -> u32 {
    COARSE_MS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The `Instant` the coarse clock counts from.
pub(crate) fn coarse_base() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

pub(crate) fn start(s: &'static Sched) {
    crate::loom::spawn_thread("gort-sysmon".into(), move || run(s))
        .unwrap_or_else(|e| crate::fatal::fatal!("failed to start sysmon: {e}"));
}

/// What sysmon remembers about a P between ticks (Go's `sysmontick`).
struct Seen {
    schedtick: u64,
    schedwhen: Instant,
    syscalltick: u64,
    syscallwhen: Instant,
    switches: u64,
    switchwhen: Instant,
    /// The owner tag (M id + 1) of the P when `switches` was last recorded: a P handed to
    /// another M restarts the count even if no G switched out.
    tag: u64,
    /// The unwrapped-blocking watch on the P's current M (module docs).
    watch: Watch,
}

/// sysmon's view of the thread running a P's G (module docs, "Blocking calls nobody wrapped").
#[derive(Default)]
struct Watch {
    /// The open `/proc` files of the M that held the P when last looked at.
    #[cfg(target_os = "linux")]
    probe: Option<(&'static crate::m::MShared, crate::threadstate::Probe)>,
    /// While the thread reads as running: when to look again, and the current interval
    /// (doubling from a tick up to [`LOOK_MAX`] while the same G keeps computing).
    #[cfg(target_os = "linux")]
    next_look: Option<Instant>,
    #[cfg(target_os = "linux")]
    look_every: Duration,
    /// Set when the thread was seen asleep: when, where, and its `schedstat` then.
    #[cfg(target_os = "linux")]
    asleep: Option<(
        Instant,
        crate::threadstate::Sleeping,
        crate::threadstate::Ran,
    )>,
}

fn run(s: &'static Sched) {
    let trace_every = Duration::from_millis(s.cfg.debug.schedtrace_ms);
    let mut next_trace = (!trace_every.is_zero()).then(Instant::now);
    let now = Instant::now();
    let fresh = |now: Instant| Seen {
        schedtick: 0,
        schedwhen: now,
        syscalltick: 0,
        syscallwhen: now,
        switches: 0,
        switchwhen: now,
        tag: 0,
        watch: Watch::default(),
    };
    let mut seen: Vec<Seen> = (0..s.nprocs()).map(|_| fresh(now)).collect();
    let mut next_procs_check = now + PROCS_CHECK;
    let mut delay = MIN_DELAY;
    let mut idle_ticks = 0u32;
    let mut next_pool_cleanup = now + crate::sync::pool::TICK;
    let base = coarse_base();
    loop {
        let now = Instant::now();
        COARSE_MS.store(
            now.duration_since(base).as_millis() as u32,
            std::sync::atomic::Ordering::Relaxed,
        );
        crate::metrics::calibrate(now);
        let next_timer = crate::timer::run_due(now);
        if now >= next_pool_cleanup {
            // sync::Pool's cleanup (Go's poolCleanup at each GC): pool.rs, "When values are
            // dropped".
            crate::sync::pool::cleanup();
            next_pool_cleanup = now + crate::sync::pool::TICK;
        }
        crate::netpoll::sysmon_poll();
        if let Some(t) = next_trace {
            if now >= t {
                crate::trace::print(s, s.cfg.debug.scheddetail);
                next_trace = Some(t + trace_every);
            }
        }
        // Follow `set_maxprocs`: one `Seen` per live P (Go's `sysmontick` per P).
        let n = s.nprocs();
        if seen.len() != n {
            seen.truncate(n);
            while seen.len() < n {
                seen.push(fresh(now));
            }
        }
        if now >= next_procs_check {
            // Go 1.25: without an explicit GOMAXPROCS, follow the CPU limit (affinity and
            // cgroup quota), looked at once a second; `set_maxprocs` ends this.
            next_procs_check = now + PROCS_CHECK;
            if !s.cfg.maxprocs_explicit && !s.maxprocs_custom.load(Ordering::Relaxed) {
                let want = crate::env::default_maxprocs();
                if want != n {
                    s.resize(want, true);
                }
            }
        }
        let (retook, watching) = retake(s, &mut seen, now);
        crate::scavenge::tick(s, now);
        crate::stack::shrink_tick(s, now);
        let all_idle = s.npidle.load(Ordering::Relaxed) == s.nprocs();
        if all_idle {
            crate::deadlock::check(s);
        }
        // Backoff: 20 µs while things happen, doubling after 1 ms of quiet, up to 10 ms; and
        // straight to 10 ms when every P is idle (nothing to retake).
        if retook {
            idle_ticks = 0;
            delay = MIN_DELAY;
        } else if watching {
            // A thread seen asleep with work waiting for its P: confirm at the next short tick.
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

/// One pass over the Ps (Go's `retake`): whether a P was retaken, and whether a P with work
/// waiting is under the unwrapped-blocking watch (then the next tick should be short).
fn retake(s: &'static Sched, seen: &mut [Seen], now: Instant) -> (bool, bool) {
    let mut retook = false;
    let mut watching = false;
    for (&p, sn) in s.active_ps().iter().zip(seen.iter_mut()) {
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
                    crate::metrics::count_global(crate::metrics::Counter::HandoffSyscall);
                    if crate::exectrace::on() {
                        crate::exectrace::handoff(p.id, m_curg(s, w), "syscall");
                    }
                    s.handoffp(h);
                    retook = true;
                }
            }
            RUNNING_G => {
                let sw = p.switch_count();
                if sw != sn.switches || w >> 8 != sn.tag {
                    sn.switches = sw;
                    sn.switchwhen = now;
                    sn.tag = w >> 8;
                    sn.watch.forget();
                    continue;
                }
                if s.cfg.debug.blockcheck {
                    match sn.watch.check(s, p, w, now, sn.switchwhen) {
                        Verdict::HandedOff => {
                            retook = true;
                            sn.switchwhen = now;
                            continue;
                        }
                        Verdict::Watching => {
                            // Asleep, not computing: the confirming tick (20 µs away) decides,
                            // not the hog rule (which, after a long backoff, would take the P
                            // now without the blocktrace line or the pool's count).
                            watching = true;
                            continue;
                        }
                        Verdict::Running => {}
                    }
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
                        let g = m_curg(s, w);
                        crate::metrics::count_global(crate::metrics::Counter::HandoffHog);
                        crate::metrics::report_hog(
                            g,
                            p.id,
                            now.duration_since(sn.switchwhen),
                            crate::metrics::HogCause::Computing,
                            "",
                        );
                        if crate::exectrace::on() {
                            crate::exectrace::handoff(p.id, g, "hog");
                        }
                        s.handoffp(h);
                        retook = true;
                        // Do not retake the hog's next P (if it gets one) before a new slice.
                        sn.switchwhen = now;
                    }
                }
            }
            st => {
                sn.switches = p.switch_count();
                sn.switchwhen = now;
                sn.tag = w >> 8;
                sn.watch.forget();
                if st == IDLE {
                    // An idle P's last M may retire: do not keep its /proc files open (two
                    // descriptors per P, seen by programs that count their fds).
                    sn.watch.close();
                }
            }
        }
    }
    (retook, watching)
}

/// The longest interval between two looks at a thread that keeps computing (`Watch`): a G
/// that computes for a while and then blocks is handed off at most this much later.
#[cfg(target_os = "linux")]
const LOOK_MAX: Duration = Duration::from_millis(1);

/// What [`Watch::check`] found.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only Linux can tell (module docs)
enum Verdict {
    /// Computing, or nothing to do yet.
    Running,
    /// Asleep, with work waiting for its P: look again at the next short tick.
    Watching,
    /// The P was taken from the sleeping M and handed off.
    HandedOff,
}

/// Whether work waits for `p` (its queue, or the global queue with no idle P to take it).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn work_waits(s: &Sched, p: &PShared) -> bool {
    p.has_work() || (s.nglobal.load(Ordering::Relaxed) > 0 && s.npidle.load(Ordering::SeqCst) == 0)
}

impl Watch {
    /// Closes the `/proc` files of the watched thread (the P went idle).
    fn close(&mut self) {
        #[cfg(target_os = "linux")]
        {
            self.probe = None;
        }
    }

    /// The P changed hands or its G switched: the next look starts over.
    fn forget(&mut self) {
        #[cfg(target_os = "linux")]
        {
            self.asleep = None;
            self.next_look = None;
            self.look_every = Duration::ZERO;
        }
    }

    /// Looks at the thread of the M running `p`'s G (whose ownership word sysmon read as `w`,
    /// in `RUNNING_G`, unchanged for a tick): the module docs' two-tick rule.
    #[cfg(target_os = "linux")]
    fn check(
        &mut self,
        s: &'static Sched,
        p: &'static PShared,
        w: u64,
        now: Instant,
        held_since: Instant,
    ) -> Verdict {
        let m_id = ((w >> 8) as usize).wrapping_sub(1);
        if self.probe.as_ref().is_none_or(|(m, _)| m.id != m_id) {
            self.asleep = None;
            self.probe = open_probe(s, m_id);
        }
        let Some((m, probe)) = &self.probe else {
            return Verdict::Running;
        };
        let fail = |this: &mut Watch| {
            // The thread exited, or /proc is not what we expect: stop looking at it.
            this.probe = None;
            this.asleep = None;
            Verdict::Running
        };
        let Some((since, sleeping, ran)) = self.asleep else {
            if self.next_look.is_some_and(|t| now < t) {
                return Verdict::Running;
            }
            return match probe.sleeping() {
                Ok(None) => {
                    // Computing. A G that has computed for a while will likely go on: look
                    // less often (the first look, at the G's first tick, is what catches the
                    // common case, a G that blocks as it starts), at most LOOK_MAX apart.
                    self.look_every = (self.look_every * 2).clamp(MIN_DELAY, LOOK_MAX);
                    self.next_look = Some(now + self.look_every);
                    Verdict::Running
                }
                Ok(Some(sl)) => match probe.ran() {
                    Ok(r) => {
                        self.asleep = Some((now, sl, r));
                        if work_waits(s, p) {
                            Verdict::Watching
                        } else {
                            Verdict::Running
                        }
                    }
                    Err(_) => fail(self),
                },
                Err(_) => fail(self),
            };
        };
        match probe.ran() {
            Ok(r) if r == ran => {}
            Ok(_) => {
                // It ran since: not one long sleep. Look afresh at the next tick.
                self.asleep = None;
                return Verdict::Running;
            }
            Err(_) => return fail(self),
        }
        // Asleep for a whole tick. Go's rule for a P in a syscall, then the pool's bound.
        let waits = work_waits(s, p);
        let helpers = s.nmspinning.load(Ordering::SeqCst) + s.npidle.load(Ordering::SeqCst);
        let asleep_for = now.duration_since(since);
        if !waits && helpers > 0 && asleep_for < TIME_SLICE {
            return Verdict::Running;
        }
        let held = s.nsyscall.load(Ordering::Relaxed) + s.nunwrapped.load(Ordering::Relaxed);
        if held >= s.cfg.maxblocking {
            return Verdict::Running;
        }
        let Some(h) = p.try_retake(w) else {
            return Verdict::Running;
        };
        s.nunwrapped.fetch_add(1, Ordering::Relaxed);
        m.blocked_handoff.store(true, Ordering::Relaxed);
        let goid = m.curg.load(Ordering::Relaxed);
        crate::metrics::count_global(crate::metrics::Counter::HandoffBlocked);
        // One report for both switches (`blocktrace=1`, `hogreport=1`): the hog report's line
        // with blocktrace's syscall, thread and pc appended.
        let extra = format!(
            " (M{} thread {}, syscall {} ({}), asleep {:.0?}+, caller pc=0x{:x})",
            m.id,
            probe.tid,
            sleeping.nr,
            crate::threadstate::syscall_name(sleeping.nr),
            asleep_for,
            sleeping.pc
        );
        crate::metrics::report_hog(
            goid,
            p.id,
            now.duration_since(held_since),
            crate::metrics::HogCause::BlockedUnwrapped,
            &extra,
        );
        if crate::exectrace::on() {
            crate::exectrace::handoff(p.id, goid, "blocked");
        }
        self.asleep = None;
        s.handoffp(h);
        Verdict::HandedOff
    }

    #[cfg(not(target_os = "linux"))]
    fn check(
        &mut self,
        _: &'static Sched,
        _: &'static PShared,
        _: u64,
        _: Instant,
        _: Instant,
    ) -> Verdict {
        Verdict::Running
    }
}

/// The id of the G running on the M that owned a P whose ownership word sysmon read as `w`
/// (0 if unknown).
fn m_curg(s: &Sched, w: u64) -> u64 {
    let m_id = ((w >> 8) as usize).wrapping_sub(1);
    s.allm
        .lock()
        .iter()
        .find(|m| m.id == m_id)
        .map_or(0, |m| m.curg.load(Ordering::Relaxed))
}

/// Opens the `/proc` files of M `m_id`'s thread (None if it has not started or is gone).
#[cfg(target_os = "linux")]
fn open_probe(
    s: &Sched,
    m_id: usize,
) -> Option<(&'static crate::m::MShared, crate::threadstate::Probe)> {
    let m = s.allm.lock().iter().find(|m| m.id == m_id).copied()?;
    let tid = m.tid.load(Ordering::Relaxed);
    if tid == 0 || m.dead.load(Ordering::Relaxed) {
        return None;
    }
    crate::threadstate::Probe::open(tid).ok().map(|p| (m, p))
}
