//! M: an OS thread that runs Gs, its note (the sleep/wake primitive), and its thread-local state.
//!
//! * An M runs Gs only while it holds a P (a `PLocal` in its thread-local [`MLocal`]).
//! * An M without work parks on its **note** ([`MShared::sleep`]) after putting itself on the
//!   idle M list; whoever wakes it hands it a P in the same step ([`MShared::wake`]), as Go's
//!   `startm` sets `m.nextp` before `notewakeup`. So a woken M never has to look for a P.
//! * Ms never exit in this version (Go's Ms do not either, except locked ones).
//!
//! Thread-local access rule (see coro.rs, migration contract point 3): engine code reaches
//! `MLocal` only through [`with_m`], which is `#[inline(never)]`, and never holds the reference
//! across a switch. A G that parks on one M may resume on another; `with_m` after the switch sees
//! the new M.

use crate::g::{GRef, G};
use crate::loom::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use crate::loom::{Condvar, Mutex};
use crate::p::{PHandle, RunningP};
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// Asks every M to hand over what its thread keeps for itself between Gs (`sync::Pool`'s
/// private values, the task pool's free blocks), at its next scheduling round: `m_main` compares
/// it once per round (one relaxed load of a line written about once a second), and an M does it
/// anyway before it parks (`release_caches`). Written by sysmon's pool cleanup and by the
/// scavenger before it gives chunks back (Relaxed: a request only; what is handed over travels
/// under the receiving lists' locks).
static RELEASE_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The release epoch (module-level [`RELEASE_EPOCH`]).
#[inline]
pub(crate) fn release_epoch() -> u64 {
    RELEASE_EPOCH.load(std::sync::atomic::Ordering::Relaxed)
}

/// Asks every M to hand its per-thread caches over at its next round.
pub(crate) fn request_release() {
    RELEASE_EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Hands this M's per-thread caches over (an M between Gs, on its scheduler stack: when the
/// release epoch moved, and before it parks).
pub(crate) fn release_caches() {
    crate::sync::pool::m_release();
    crate::task::pool::flush_local();
}

/// What a sleeping M is woken with: a P, whether it counts as spinning (the waker already
/// incremented `nmspinning` for it), and, for an M locked to a G (LockOSThread), that G.
pub(crate) struct Wakeup {
    pub(crate) p: PHandle,
    pub(crate) spinning: bool,
    pub(crate) g: Option<GRef>,
}

/// What an M holds of a P (thread-local; see `p.rs` for the states).
pub(crate) enum PSlot {
    /// No P: the M is parked, in a blocking call whose P was retaken, or about to stop.
    None,
    /// Scheduler context: the M owns the P.
    Owned(PHandle),
    /// A G runs on this M: the P is shared with that G and sysmon through CASes.
    InG(RunningP),
}

/// The part of an M other threads see.
pub(crate) struct MShared {
    pub(crate) id: usize,
    /// The note: `Some` when a waker has handed this M a P. Protected by its mutex.
    note: Mutex<Option<Wakeup>>,
    cv: Condvar,
    /// Atomic, Relaxed, for traces: the P held (or `usize::MAX`), the running G's id (0 = none),
    /// spinning and blocked flags.
    pub(crate) p: AtomicUsize,
    pub(crate) curg: AtomicU64,
    pub(crate) spinning: AtomicBool,
    pub(crate) blocked: AtomicBool,
    /// Atomic, Relaxed, for traces and LockOSThread: the id of the G locked to this M (0: none).
    pub(crate) lockedg: AtomicU64,
    /// Set when the M's thread has exited (idle for long, or its locked G ended).
    pub(crate) dead: AtomicBool,
    /// The thread's kernel id (Linux `gettid`; 0 until the thread has started, and elsewhere).
    /// Written once by the M at start (Relaxed: sysmon reads it only to look at
    /// `/proc/self/task/TID`, and a 0 just postpones that).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // read by the Linux-only check
    pub(crate) tid: AtomicI32,
    /// Set by sysmon (Relaxed) when it took this M's P because its G blocked the thread without
    /// `gort::blocking` (sysmon.rs); cleared by the M (swap) when it finds its P gone, which
    /// then returns the slot it held in `Sched::nunwrapped`.
    pub(crate) blocked_handoff: AtomicBool,
}

impl MShared {
    pub(crate) fn new(id: usize) -> MShared {
        MShared {
            id,
            note: Mutex::new(None),
            cv: Condvar::new(),
            p: AtomicUsize::new(usize::MAX),
            curg: AtomicU64::new(0),
            spinning: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            lockedg: AtomicU64::new(0),
            dead: AtomicBool::new(false),
            tid: AtomicI32::new(0),
            blocked_handoff: AtomicBool::new(false),
        }
    }

    /// Like [`MShared::sleep`], but gives up after `timeout` if nobody woke the M; then `None`.
    /// The caller must then either remove itself from wherever wakers find it, or (if a waker
    /// already took it from there) call `sleep` to receive the wake-up that is on its way.
    pub(crate) fn sleep_timeout(&self, timeout: Duration) -> Option<Wakeup> {
        if cfg!(loom) {
            // loom has no time: a model M never retires.
            return Some(self.sleep());
        }
        let deadline = Instant::now() + timeout;
        self.blocked.store(true, Ordering::Relaxed);
        let mut note = self.note.lock();
        loop {
            if let Some(w) = note.take() {
                self.blocked.store(false, Ordering::Relaxed);
                return Some(w);
            }
            let now = Instant::now();
            if now >= deadline {
                self.blocked.store(false, Ordering::Relaxed);
                return None;
            }
            note = self.cv.wait_for(note, deadline - now);
        }
    }

    /// Parks the calling M until [`MShared::wake`] hands it a P. The caller must already be on
    /// the idle M list (or otherwise findable by a waker).
    pub(crate) fn sleep(&self) -> Wakeup {
        self.blocked.store(true, Ordering::Relaxed);
        let mut note = self.note.lock();
        loop {
            if let Some(w) = note.take() {
                self.blocked.store(false, Ordering::Relaxed);
                return w;
            }
            note = self.cv.wait(note);
        }
    }

    /// Hands this (sleeping) M a P and wakes it.
    pub(crate) fn wake(&self, w: Wakeup) {
        let mut note = self.note.lock();
        if note.is_some() {
            crate::fatal::fatal!("M{} woken twice", self.id);
        }
        *note = Some(w);
        drop(note);
        self.cv.notify_one();
    }
}

/// An M's thread-local state. Empty (no M) on plain threads.
pub(crate) struct MLocal {
    /// This thread's M (set once at M start; the `MShared` lives for the process, in `allm`).
    pub(crate) m: Cell<Option<&'static MShared>>,
    /// The P this M holds. Borrowed only briefly, never across a switch or a call into user code.
    pub(crate) p: RefCell<PSlot>,
    /// The G locked to this M by `lock_os_thread` (0: none).
    pub(crate) lockedg: Cell<u64>,
    /// Set when the M must exit after its current G (its locked G ended).
    pub(crate) exiting: Cell<bool>,
    /// The running G (null between Gs). Valid while the G runs on this M.
    pub(crate) curg: Cell<*const G>,
    pub(crate) spinning: Cell<bool>,
    /// The execution trace's stamp of the running G's entry into a blocking call (0: none).
    pub(crate) syscall_t0: Cell<u64>,
}

#[cfg(not(loom))]
thread_local! {
    static MLOCAL: MLocal = const {
        MLocal {
            m: Cell::new(None),
            p: RefCell::new(PSlot::None),
            lockedg: Cell::new(0),
            exiting: Cell::new(false),
            curg: Cell::new(std::ptr::null()),
            spinning: Cell::new(false),
            syscall_t0: Cell::new(0),
        }
    };
}

// Under loom every model thread runs on one OS thread, so the M state must be loom's per-model-
// thread local (a std thread-local would be shared by all Ms of a model).
#[cfg(loom)]
loom::thread_local! {
    static MLOCAL: MLocal = MLocal {
        m: Cell::new(None),
        p: RefCell::new(PSlot::None),
        lockedg: Cell::new(0),
        exiting: Cell::new(false),
        curg: Cell::new(std::ptr::null()),
        spinning: Cell::new(false),
        syscall_t0: Cell::new(0),
    };
}

/// Runs `f` with this thread's M state. `#[inline(never)]` plus `black_box`: a call made after a
/// switch must recompute the thread-local address (see the module docs).
#[inline(never)]
pub(crate) fn with_m<R>(f: impl FnOnce(&MLocal) -> R) -> R {
    std::hint::black_box(());
    MLOCAL.with(f)
}

/// [`with_m`] for the scheduler's own frames only: `m_main`, `find_runnable`, `execute` and the
/// synctest bubble loop, which run on an M's thread stack and never on a G's. Such a frame never
/// changes threads (a G's switch returns to the very frame that resumed it, on the same thread),
/// so a thread-local address computed before a `resume` is still this thread's after it, and
/// the access may be inlined: no call, no closure environment, one `%fs` read (the hot path of
/// every switch reaches the M's state four times). Never call it from code a G runs (anything
/// reachable from `ready`, `spawn`, a park callback or a blocking API): that code uses
/// [`with_m`].
#[inline(always)]
pub(crate) fn with_m_sched<R>(f: impl FnOnce(&MLocal) -> R) -> R {
    MLOCAL.with(f)
}
