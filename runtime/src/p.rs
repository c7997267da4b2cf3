//! P: a processor, the right to run Gs. `GORT_MAXPROCS` of them exist for the process's life.
//!
//! A P is split in two, so that ownership is a type (rayon's "evidence token" idea):
//!
//! * [`PLocal`]: what only the owning M touches (the queue's push/pop end, the stack cache, the G
//!   id batch, the schedtick counter). Holding the `PLocal` value *is* owning the P; handoff moves
//!   it to another M (through the idle P list or an M's note), never copies it.
//! * [`PShared`]: what other threads read or take: `runnext` (thieves may CAS it empty on their
//!   last round), the stealer, and counters the tracer and sysmon read.
//!
//! Invariants:
//! 1. At most one M holds a given `PLocal` at a time (it is a moved value).
//! 2. Only the holder *puts* into `runnext`; anyone may *take* from it (swap with null).
//! 3. A P on the idle list has an empty local queue and an empty `runnext` (asserted in debug):
//!    an M gives its P back only after `find_runnable` found nothing in either.

use crate::g::{GCache, GRef, GoidBatch, G};
use crate::loom::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::runq::{LocalQueue, Stealer};
use crate::stack::StackCache;

/// A P's state, with Go's numbers (scheddetail prints them).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PStatus {
    /// On the idle list.
    Idle = 0,
    /// Held by an M running Gs or looking for work.
    Running = 1,
    /// Its M is inside a blocking call; sysmon may retake it (syscall-handoff issue).
    Syscall = 2,
}

/// The part of a P other threads may touch.
pub struct PShared {
    pub(crate) id: usize,
    /// The G to run next (Go's runnext), owned through this pointer (see `GRef::into_raw`).
    /// Put: owner only (swap, AcqRel). Take: anyone (swap with null, AcqRel): the Release half of
    /// the owner's put publishes the G to the Acquire half of a thief's take.
    pub(crate) runnext: AtomicPtr<G>,
    pub(crate) stealer: Stealer,
    /// Atomic, Relaxed: a label for the tracer and sysmon.
    pub(crate) status: AtomicU8,
    /// Atomic, Relaxed: the owner's schedtick, mirrored for sysmon (slice detection) and traces.
    pub(crate) schedtick: AtomicU64,
    /// Atomic, Relaxed: bumped on each entry into a blocking call (syscall-handoff issue).
    pub(crate) syscalltick: AtomicU64,
    /// Atomic, Relaxed: id of the M holding the P, or `usize::MAX`.
    pub(crate) m: AtomicUsize,
    /// Set by sysmon when the P has run the same runnext chain for a whole time slice (10 ms);
    /// cleared by the owner, which then lets its local queue go before `runnext` once. Relaxed:
    /// a hint; missing it for one round only delays fairness by one round.
    pub(crate) preempt: AtomicBool,
}

impl PShared {
    /// Current status (snapshot).
    pub fn status(&self) -> PStatus {
        match self.status.load(Ordering::Relaxed) {
            1 => PStatus::Running,
            2 => PStatus::Syscall,
            _ => PStatus::Idle,
        }
    }

    /// Local queue length for traces (runnext not counted, as in Go).
    pub fn runqsize(&self) -> usize {
        self.stealer.len()
    }

    /// True if the P has a G in runnext or its local queue (a racy snapshot).
    pub(crate) fn has_work(&self) -> bool {
        !self.runnext.load(Ordering::Acquire).is_null() || !self.stealer.is_empty()
    }

    /// Takes the G in runnext, if any. Any thread may call this.
    pub(crate) fn take_runnext(&self) -> Option<GRef> {
        if self.runnext.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let p = self.runnext.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: non-null values in runnext come from `GRef::into_raw` in `PLocal::put_runnext`,
        // and the swap makes us the only taker of this pointer.
        (!p.is_null()).then(|| unsafe { GRef::from_raw(p) })
    }
}

/// The owner's part of a P. Holding it is owning the P.
pub(crate) struct PLocal {
    pub(crate) id: usize,
    pub(crate) runq: LocalQueue,
    pub(crate) stacks: StackCache,
    pub(crate) goids: GoidBatch,
    /// Dead G records for reuse.
    pub(crate) gfree: GCache,
    /// Scheduling rounds that started a new time slice (not counting runnext inheritance).
    pub(crate) schedtick: u64,
}

impl PLocal {
    pub(crate) fn new(id: usize) -> (PLocal, PShared) {
        let (runq, stealer) = LocalQueue::new();
        (
            PLocal {
                id,
                runq,
                stacks: StackCache::default(),
                goids: GoidBatch::default(),
                gfree: GCache::default(),
                schedtick: 0,
            },
            PShared {
                id,
                runnext: AtomicPtr::new(std::ptr::null_mut()),
                stealer,
                status: AtomicU8::new(PStatus::Idle as u8),
                schedtick: AtomicU64::new(0),
                syscalltick: AtomicU64::new(0),
                m: AtomicUsize::new(usize::MAX),
                preempt: AtomicBool::new(false),
            },
        )
    }

    /// Puts `g` into runnext; returns the G it displaced, which the caller queues at the tail.
    #[must_use]
    pub(crate) fn put_runnext(&self, shared: &PShared, g: GRef) -> Option<GRef> {
        debug_assert_eq!(shared.id, self.id);
        let old = shared.runnext.swap(g.into_raw(), Ordering::AcqRel);
        // SAFETY: `old` was put by this P's owner via `into_raw` and the swap removed it from
        // runnext, so we are its only owner now.
        (!old.is_null()).then(|| unsafe { GRef::from_raw(old) })
    }
}
