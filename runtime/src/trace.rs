//! schedtrace / scheddetail in Go's format (Go 1.27's `schedtrace` in proc.go).
//!
//! Summary line, every `GORT_DEBUG=schedtrace=MS` milliseconds, printed by sysmon:
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 needspinning=0 idlethreads=2 runqueue=0 [ 3 0 ] schedticks=[ 18 23 ]
//! ```
//!
//! Fields, in Go's order: milliseconds since the first trace line (so it starts at `0ms`); Ps; idle Ps; OS threads (Ms plus
//! sysmon); spinning Ms; whether a spinner is wanted; idle Ms; global queue length; each P's local
//! queue length (runnext not counted); each P's schedtick. With `scheddetail=1` the header stops
//! after `runqueue=`, adds Go's `gcwaiting=false nmidlelocked=0 stopwait=0 sysmonwait=false`
//! (fields with no meaning in gort print as Go prints them when idle), then one line per P, per M
//! (newest first) and per G. Statuses are Go's numbers (P: 0 idle, 1 running, 2 syscall;
//! G: 1 runnable, 2 running, 3 syscall, 4 waiting, 6 dead) with the wait reason in parentheses.
//! The counters are read without locks, as Go reads them: a line is a snapshot in progress.
//! Once sysmon has taken a P from a hog (or a G blocked without `gort::blocking`), the summary
//! line ends with `hog=G7:P0:10.1ms`: the last such G, its P and how long it held it (not in
//! Go's line; `GORT_DEBUG=hogreport=1` prints each one with its spawn site).

use crate::loom::atomic::Ordering;
use crate::sched::Sched;
use std::fmt::Write as _;

/// Formats one trace (summary, or summary plus detail) as Go would print it.
pub fn format(s: &Sched, detail: bool) -> String {
    let mut out = String::new();
    // Go prints milliseconds since the first trace line, so the first line is always `SCHED 0ms`.
    static FIRST: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let ms = FIRST
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis();
    let threads = s.mcount.load(Ordering::Relaxed) + 1;
    let _ = write!(
        out,
        "SCHED {ms}ms: gomaxprocs={} idleprocs={} threads={threads} spinningthreads={} \
         needspinning={} idlethreads={} runqueue={}",
        s.nprocs(),
        s.npidle.load(Ordering::Relaxed),
        s.nmspinning.load(Ordering::Relaxed),
        s.needspinning.load(Ordering::Relaxed) as u8,
        s.nmidle.load(Ordering::Relaxed),
        s.nglobal.load(Ordering::Relaxed),
    );
    if !detail {
        out.push_str(" [ ");
        for p in s.active_ps().iter() {
            let _ = write!(out, "{} ", p.runqsize());
        }
        out.push_str("] schedticks=[ ");
        for p in s.active_ps().iter() {
            let _ = write!(out, "{} ", p.schedtick.load(Ordering::Relaxed));
        }
        out.push(']');
        // Not in Go's line: the last P sysmon took from a hog or a G blocked unwrapped
        // (metrics.rs, "Hog reports"), once there has been one.
        if let Some(h) = crate::metrics::last_hog() {
            let _ = write!(out, " hog=G{}:P{}:{:.1?}", h.goid, h.p, h.held);
        }
        out.push('\n');
        return out;
    }
    let _ = writeln!(
        out,
        " gcwaiting=false nmidlelocked={} stopwait=0 sysmonwait=false",
        s.nmidlelocked.load(Ordering::Relaxed)
    );
    for p in s.active_ps().iter() {
        let m = p.m.load(Ordering::Relaxed);
        let m = if m == usize::MAX {
            "-1".to_string()
        } else {
            m.to_string()
        };
        let _ = writeln!(
            out,
            "  P{}: status={} schedtick={} syscalltick={} m={m} runqsize={} gfreecnt=0 timerslen={}",
            p.id,
            p.status() as u8,
            p.schedtick.load(Ordering::Relaxed),
            p.syscalltick.load(Ordering::Relaxed),
            p.runqsize(),
            0,
        );
    }
    let ms = s.allm.lock().clone();
    for m in ms.iter().rev().filter(|m| !m.dead.load(Ordering::Relaxed)) {
        let p = m.p.load(Ordering::Relaxed);
        let p = if p == usize::MAX {
            "-1".to_string()
        } else {
            p.to_string()
        };
        let g = m.curg.load(Ordering::Relaxed);
        let g = if g == 0 {
            "-1".to_string()
        } else {
            g.to_string()
        };
        let _ = writeln!(
            out,
            "  M{}: p={p} curg={g} mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning={} blocked={} lockedg={}",
            m.id,
            m.spinning.load(Ordering::Relaxed),
            m.blocked.load(Ordering::Relaxed),
            match m.lockedg.load(Ordering::Relaxed) {
                0 => "nil".to_string(),
                g => g.to_string(),
            },
        );
    }
    crate::g::for_each_g(|g| {
        if g.status() == crate::g::GStatus::Dead {
            return; // cached dead records: counted below, not listed one by one
        }
        let m = g.m_id().map_or("nil".to_string(), |m| m.to_string());
        let lockedm = match g.locked_m.load(Ordering::Relaxed) {
            0 => "nil".to_string(),
            m => (m - 1).to_string(),
        };
        let name = g.name().map(|n| format!(" name={n:?}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  G{}: status={}({}) m={m} lockedm={lockedm}{name}",
            g.id(),
            g.status() as u8,
            g.wait_reason().as_str(),
        );
    });
    // Not in Go's format (Go has no stack slabs): one line for the stack pool, and the count of
    // dead G records kept for reuse.
    let _ = writeln!(
        out,
        "  {} deadg={} timers={}",
        crate::stack::stats(),
        crate::g::registry_count().saturating_sub(s.ngoroutine.load(Ordering::Relaxed)),
        crate::timer::pending()
    );
    out
}

/// Prints one trace to stderr in a single write.
pub fn print(s: &Sched, detail: bool) {
    use std::io::Write as _;
    let text = format(s, detail);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
