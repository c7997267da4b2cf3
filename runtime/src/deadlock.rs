//! Deadlock detection (Go's `checkdead`): "fatal error: all goroutines are asleep - deadlock!".
//!
//! # When it fires (exactly)
//!
//! The check runs when a plain thread blocks on gort and on sysmon's ticks (every 10 ms) while
//! every P is idle; so a deadlock is reported within about 10 ms. (Not on every M going idle:
//! with a million parked Gs the walk over them would cost milliseconds each time.) It reports a deadlock only when **all** of these hold:
//!
//! 1. every P is idle and no M spins (no G is running or about to run);
//! 2. there are live Gs, and every one of them is parked (`Waiting`): none is runnable, running,
//!    or inside `gort::blocking`;
//! 3. no timer is pending or firing (a sleeping G, a timeout, `time::after` will wake something);
//! 4. no G waits on a socket (the network may wake it);
//! 5. every thread of the process is either a runtime thread (an M, sysmon, the scavenger, a
//!    synctest bubble's thread) or a plain thread blocked on gort *without a deadline* (for
//!    example `main` in `JoinHandle::join`);
//! 6. no synctest bubble exists (a bubble's Gs wait on its own clock and loop; the bubble
//!    reports its own deadlocks, bubble/mod.rs).
//!
//! Condition 5 is what keeps it exact: a plain OS thread that is doing anything else — computing,
//! blocked in std I/O, or waiting on a non-gort lock — might still send on a channel or unlock a
//! mutex, and the runtime cannot know, so while such a thread exists nothing is reported. (So a
//! program whose only other thread is, say, a logging thread blocked forever is never reported:
//! gort prefers a missed report to a false one.) Go's rule is the same in spirit: it counts Ms
//! running Go code, and cgo/locked threads prevent the report.
//!
//! Races: the counters are read without a global lock, so each check is a snapshot. Every
//! transition that can make progress possible again is ordered so that a snapshot cannot see all
//! five conditions while progress is still possible: a plain thread counts as parked from before
//! it publishes its `Unparker` until a waker takes it (the waker uncounts it before notifying), a
//! firing timer counts as pending until its callback returned, and a readied G is `Runnable`
//! before its waker returns.

use crate::g::{for_each_g, GStatus};
// A process static: std's atomic even under `--cfg loom` (the deadlock check is not modelled).
use crate::loom::unmodelled::AtomicUsize;
use crate::sched::Sched;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// Plain threads blocked in `park` without a deadline (see rule 5).
pub(crate) static PARKED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Runs the check; on a deadlock prints the dump and exits with status 2.
pub(crate) fn check(s: &Sched) {
    if cfg!(loom) {
        // Not modelled: its loads would only multiply the interleavings loom explores.
        return;
    }
    // A synctest bubble's Gs wait on its virtual clock and its own loop, which this check
    // cannot see (the bubble reports its own deadlocks): nothing is reported while one lives.
    if crate::bubble::active() {
        return;
    }
    // Cheap conditions first: this runs whenever an M goes idle.
    let parked = PARKED_THREADS.load(Ordering::SeqCst);
    if parked == 0
        || s.npidle.load(Ordering::SeqCst) != s.nprocs()
        || s.nmspinning.load(Ordering::SeqCst) != 0
        || s.ngoroutine.load(Ordering::SeqCst) == 0
        || s.nsyscall.load(Ordering::SeqCst) != 0
        || s.nglobal.load(Ordering::SeqCst) != 0
        || crate::netpoll::waiters() != 0
        || crate::timer::pending() != 0
        || s.active_ps().iter().any(|p| p.has_work())
    {
        return;
    }
    // Rule 5 before rule 2: reading /proc costs microseconds, walking a million Gs milliseconds.
    // Ms + sysmon + the scavenger, once started.
    let runtime_threads = s.mlive.load(Ordering::SeqCst) + 1 + helper_threads();
    if process_threads() != Some(runtime_threads + parked) {
        return;
    }
    let mut waiting = Vec::new();
    let mut other = false;
    for_each_g(|g| match g.status() {
        GStatus::Waiting => waiting.push(g.id()),
        GStatus::Dead | GStatus::Idle => {}
        _ => other = true,
    });
    if other || waiting.is_empty() {
        return;
    }
    // Re-read what may have changed while we looked (any change means progress is possible).
    if process_threads() != Some(s.mlive.load(Ordering::SeqCst) + 1 + helper_threads() + parked)
        || PARKED_THREADS.load(Ordering::SeqCst) != parked
        || s.npidle.load(Ordering::SeqCst) != s.nprocs()
        || crate::timer::pending() != 0
        || s.nglobal.load(Ordering::SeqCst) != 0
        || s.ngoroutine.load(Ordering::SeqCst) != waiting.len()
    {
        return;
    }
    // Every G in the dump's format (dump.rs: wait site, spawn site, what it waits on), so a
    // deadlock reads like a SIGQUIT dump.
    let mut out = String::from("fatal error: all goroutines are asleep - deadlock!\n\n");
    out.push_str(&crate::dump::dump_for_deadlock());
    let _ = writeln!(
        out,
        "{parked} plain thread(s) blocked on gort; {} green thread(s) parked.",
        waiting.len()
    );
    eprint!("{out}");
    std::process::exit(2);
}

/// Runtime threads besides the Ms and sysmon: the scavenger, the SIGQUIT thread, a trace's
/// writer (none of them can make a G runnable).
fn helper_threads() -> usize {
    crate::scavenge::threads()
        + crate::dump::helper_threads()
        + crate::exectrace::threads()
        + crate::bubble::threads()
}

/// The number of threads in this process (Linux: /proc/self/status; elsewhere unknown, and then
/// nothing is ever reported).
fn process_threads() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("Threads:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
