//! The scavenger: giving the memory a burst of Gs freed back to the OS (Go's background
//! scavenger, `mgcscavenge.go`, for a runtime that does not own its heap).
//!
//! # The problem (issue 15, item 9)
//!
//! After a burst (a million Gs spawned and joined), the engine itself holds almost nothing: dead
//! G records and stacks are cached in bounded amounts, a G queued from a plain thread has no
//! record (`sched::FreshG`). But the burst's tasks, join handles and records went
//! through the global allocator, and glibc keeps what was freed: measured with rounds of
//! 1,000,000 spawn + join from `main`, the process held 80-130 MB after each round, varying
//! with where glibc's last live chunk happened to sit and with its dynamic trim threshold
//! (raised for good by the first large buffer freed), though `malloc_trim` brought it to 4-5 MB.
//! Go's runtime returns such memory in the background; so does this module.
//!
//! Measured with rounds of 1,000,000 spawn + join from `main` (`after_3 <= 1.25 * after_1 +
//! 16 MiB`, the criterion), the variation across rounds came from two sources, fixed in
//! two places: G records held by Gs queued from a plain thread (sched.rs, `FreshG`: no
//! record until an M runs the G) and glibc's dynamic trim threshold, handled here.
//!
//! # The protocol
//!
//! 1. sysmon calls [`tick`] on every round; it tracks the high-water mark of live Gs since the
//!    last scavenge (sysmon alone writes it).
//! 2. **Prompt trimming after bursts.** glibc returns the free memory at the top of its heap on
//!    `free` once it exceeds `M_TRIM_THRESHOLD` (128 KiB), but raises that threshold (to twice
//!    the size, up to 64 MiB) the first time a large block obtained by `mmap` is freed, e.g. the
//!    `Vec` of a million `JoinHandle`s. From then on a burst's freed tasks stay resident, more
//!    or less of them depending on what happens to sit at the top of the heap: 106-132 MB after
//!    the later rounds against 80-90 MB after the first, in 7 of 24 runs beyond the criterion.
//!    The first time the program has [`BURST`] Gs alive at once, sysmon sets `M_TRIM_THRESHOLD`
//!    to glibc's default explicitly (`mallopt`), which also stops glibc from adjusting it: after
//!    that, 24 of 24 runs met the criterion (79-80 MB after the first round, at most 103 after
//!    the third). Programs that never have that many Gs alive keep glibc's behaviour untouched.
//!    The cost falls on allocations of 128 KiB or more, which stay `mmap`ed (glibc's default
//!    before the dynamic threshold, and what it does for every such block until the first is
//!    freed).
//! 3. **Returning what is left, once quiet.** When a burst has drained to an eighth of its peak
//!    and stayed there for [`QUIET`], sysmon asks the scavenger thread to trim (a flag and a
//!    condvar; the thread starts on first use) and lowers the mark to the current count, so one
//!    burst asks once. The thread calls `malloc_trim(0)`, which returns every free page of every
//!    arena to the OS (6-50 ms after a burst of a million Gs, measured: the first trim of a
//!    heap is the slow one), off sysmon's and every M's path. The quiet period keeps it away
//!    from back-to-back bursts, which would fault the memory in again at once. Before the trim
//!    the thread gives back the task pool's chunks whose blocks are all free (task.rs, issue
//!    20: task cells no longer come from `malloc`) and cuts the global list of dead G records
//!    to 4,096 (it holds up to 65,536 while Gs come and go: g.rs), on every platform.
//!
//! What it costs: nothing per G; one `mallopt` per process and one trim per quiet spell after
//! a burst. Only glibc has the trim calls; with another allocator (a `#[global_allocator]`,
//! musl) the scavenger only releases the task pool's free chunks. `GORT_DEBUG=scavenge=0` turns
//! all of it off.

use crate::loom::unmodelled::{Condvar, Mutex};
use crate::sched::Sched;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Live Gs a burst must reach before the scavenger acts. Picked without data beyond the
/// burst above: 64k Gs free at least ~5 MB of tasks and records, enough to be worth a trim;
/// programs whose G count moves within a few thousand never pay one.
pub(crate) const BURST: usize = 64 * 1024;

/// How long a drained burst must stay drained before its memory is returned (step 3). Picked
/// without data: longer than a benchmark's pause between rounds, short enough that an idle
/// service gives its memory back within seconds (Go's scavenger paces itself over minutes).
pub(crate) const QUIET: Duration = Duration::from_secs(1);

/// sysmon's view: the high-water mark of live Gs since the last scavenge, and since when the
/// count has been below an eighth of it. Only sysmon touches it (the mutex is uncontended).
struct Watch {
    high_water: usize,
    drained_since: Option<Instant>,
    froze_threshold: bool,
}

static WATCH: Mutex<Watch> = Mutex::new(Watch {
    high_water: 0,
    drained_since: None,
    froze_threshold: false,
});

/// What sysmon asked the scavenger thread for ([`TRIM`], [`SHRINK`] bits), cleared by the
/// thread; protected by its mutex.
static WANTED: Mutex<u8> = Mutex::new(0);
static WAKE: Condvar = Condvar::new();
/// Step 3's trim.
const TRIM: u8 = 1;
/// A shrink pass over the parked Gs' stacks (stack.rs, "Shrinking the stacks of parked Gs").
const SHRINK: u8 = 2;

/// Steps 1-3, called by sysmon on every tick.
pub(crate) fn tick(s: &Sched, now: Instant) {
    if s.cfg.debug.scavenge_off {
        return;
    }
    let live = s.ngoroutine.load(Ordering::Relaxed);
    let mut w = WATCH.lock();
    if live > w.high_water {
        w.high_water = live;
    }
    if w.high_water < BURST {
        return;
    }
    if !w.froze_threshold {
        w.froze_threshold = true;
        crate::sys::freeze_heap_trim_threshold();
    }
    if live > w.high_water / 8 {
        w.drained_since = None;
        return;
    }
    let since = *w.drained_since.get_or_insert(now);
    if now.duration_since(since) >= QUIET {
        w.high_water = live;
        w.drained_since = None;
        drop(w);
        request();
    }
}

/// OS threads the scavenger adds to the process (0 or 1), for the deadlock check's count of
/// the runtime's own threads.
pub(crate) fn threads() -> usize {
    usize::from(STARTED.is_completed())
}

static STARTED: std::sync::Once = std::sync::Once::new();

fn request() {
    wake(TRIM);
}

/// Asks the scavenger thread for a shrink pass (sysmon, every `stack::SHRINK_EVERY` at most).
pub(crate) fn request_shrink() {
    wake(SHRINK);
}

fn wake(what: u8) {
    STARTED.call_once(|| {
        if let Err(e) = crate::loom::spawn_thread("gort-scavenger".into(), run) {
            eprintln!(
                "gort: cannot start the scavenger thread ({e}); freed memory stays cached and \
                 parked stacks are not shrunk"
            );
        }
    });
    *WANTED.lock() |= what;
    WAKE.notify_one();
}

/// Step 3 and the stack shrinking: the scavenger thread, off sysmon's and every M's path.
fn run() {
    loop {
        let mut w = WANTED.lock();
        while *w == 0 {
            w = WAKE.wait(w);
        }
        let what = std::mem::take(&mut *w);
        drop(w);
        if what & TRIM != 0 {
            // The task pool's free chunks and the dead G records beyond what a quiet program
            // keeps first (task.rs, g.rs), so the trim returns their pages too.
            // Ms hand their free task blocks over at their next round (or have, before they
            // parked); give the busy ones a moment to.
            crate::m::request_release();
            std::thread::sleep(std::time::Duration::from_millis(20));
            crate::task::pool::release_free_chunks();
            crate::g::trim_gfree();
            if crate::sys::can_trim_heap() {
                crate::sys::trim_heap();
            }
        }
        if what & SHRINK != 0 {
            crate::stack::shrink_pass_scheduled();
        }
    }
}
