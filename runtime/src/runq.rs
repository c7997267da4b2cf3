//! Run queues: a P's local queue (with its stealer) and the global queue.
//!
//! * **Local queue**: crossbeam-deque's Chase–Lev deque in FIFO mode. Only the M that owns the P
//!   pushes and pops ([`LocalQueue`] is held inside the moved `PLocal`, so the type system enforces
//!   "owner only"); any M may steal through the P's [`Stealer`]. The orderings are crossbeam's,
//!   which follow Chase–Lev (SPAA 2005) as corrected for weak memory by Lê et al. (PPoPP 2013), and
//!   are checked there under Miri and the sanitizers; loom cannot see inside the deque, so under
//!   `--cfg loom` a `Mutex<VecDeque>` stand-in with the same API replaces it (docs/design.md, "Loom
//!   coverage": the deque is trusted, the protocol around it is checked).
//! * Go's local queue is a 256-slot ring; crossbeam's deque grows instead, so the 256 bound is
//!   enforced by the caller (`P::runqput` spills half to the global queue, as Go's `runqputslow`).
//!   A steal takes about half of the victim's queue, at most crossbeam's batch limit of 32 (Go
//!   takes half of up to 256); the thief runs one and queues the rest.
//! * **Global queue**: a FIFO under `Sched::lock` (Go's `sched.runq`), for work readied outside
//!   any P and for overflow. Its length is mirrored in an atomic so the fast paths can skip the lock.

use crate::g::GRef;

/// The owner's end of a P's local queue.
pub(crate) struct LocalQueue {
    #[cfg(not(loom))]
    worker: crossbeam_deque::Worker<GRef>,
    #[cfg(loom)]
    q: crate::loom::Arc<crate::loom::Mutex<std::collections::VecDeque<GRef>>>,
}

/// Any M's end of a P's local queue.
#[derive(Clone)]
pub(crate) struct Stealer {
    #[cfg(not(loom))]
    stealer: crossbeam_deque::Stealer<GRef>,
    #[cfg(loom)]
    q: crate::loom::Arc<crate::loom::Mutex<std::collections::VecDeque<GRef>>>,
}

/// Result of a steal attempt: retry is a value, not a hidden loop (crossbeam's `Steal`).
pub(crate) enum Steal {
    Empty,
    Success(GRef),
    Retry,
}

#[cfg(not(loom))]
impl LocalQueue {
    pub(crate) fn new() -> (LocalQueue, Stealer) {
        let worker = crossbeam_deque::Worker::new_fifo();
        let stealer = worker.stealer();
        (LocalQueue { worker }, Stealer { stealer })
    }
    #[inline]
    pub(crate) fn push(&self, g: GRef) {
        self.worker.push(g);
    }
    #[inline]
    pub(crate) fn pop(&self) -> Option<GRef> {
        self.worker.pop()
    }
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.worker.len()
    }
}

#[cfg(not(loom))]
impl Stealer {
    /// Steals about half of the victim's queue into `dest`, returning one G to run.
    ///
    /// An empty queue is seen with two loads first: crossbeam pins its epoch (a SeqCst fence
    /// and a thread-local bookkeeping round, ~50 instructions) before it looks, and a spinning
    /// M looks at every P, most of them empty (the scan was the part of a switch that grew
    /// with the number of Ps). A G pushed just after this look is no different from one
    /// pushed after the steal: the thief's final re-check (sched.rs, T3) comes after its SeqCst
    /// fence.
    pub(crate) fn steal_into(&self, dest: &LocalQueue) -> Steal {
        if self.stealer.is_empty() {
            return Steal::Empty;
        }
        match self.stealer.steal_batch_and_pop(&dest.worker) {
            crossbeam_deque::Steal::Success(g) => Steal::Success(g),
            crossbeam_deque::Steal::Empty => Steal::Empty,
            crossbeam_deque::Steal::Retry => Steal::Retry,
        }
    }
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.stealer.is_empty()
    }
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.stealer.len()
    }
}

#[cfg(loom)]
impl LocalQueue {
    pub(crate) fn new() -> (LocalQueue, Stealer) {
        let q = crate::loom::Arc::new(crate::loom::Mutex::new(Default::default()));
        (LocalQueue { q: q.clone() }, Stealer { q })
    }
    pub(crate) fn push(&self, g: GRef) {
        self.q.lock().push_back(g);
    }
    pub(crate) fn pop(&self) -> Option<GRef> {
        self.q.lock().pop_front()
    }
    pub(crate) fn len(&self) -> usize {
        self.q.lock().len()
    }
}

#[cfg(loom)]
impl Stealer {
    pub(crate) fn steal_into(&self, dest: &LocalQueue) -> Steal {
        let mut v = self.q.lock();
        let n = v.len().div_ceil(2);
        if n == 0 {
            return Steal::Empty;
        }
        let first = v.pop_front().unwrap();
        let moved: Vec<GRef> = (1..n).filter_map(|_| v.pop_front()).collect();
        drop(v);
        let mut d = dest.q.lock();
        d.extend(moved);
        Steal::Success(first)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.q.lock().is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.q.lock().len()
    }
}

/// Capacity of a P's local queue before it spills to the global queue (Go: 256; under loom a
/// smaller bound exercises the spill path without changing the logic, as tokio does).
#[cfg(not(loom))]
pub(crate) const LOCAL_CAP: usize = 256;
#[cfg(loom)]
pub(crate) const LOCAL_CAP: usize = 4;
