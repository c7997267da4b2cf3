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

use crate::g::G;
use crate::loom::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::loom::{Arc, Condvar, Mutex};
use crate::p::PLocal;
use std::cell::{Cell, RefCell};

/// What a sleeping M is woken with: a P, and whether it counts as spinning (the waker already
/// incremented `nmspinning` for it).
pub(crate) struct Wakeup {
    pub(crate) p: PLocal,
    pub(crate) spinning: bool,
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
    pub(crate) m: RefCell<Option<Arc<MShared>>>,
    /// The P this M holds. Borrowed only briefly, never across a switch or a call into user code.
    pub(crate) p: RefCell<Option<PLocal>>,
    /// The running G (null between Gs). Valid while the G runs on this M.
    pub(crate) curg: Cell<*const G>,
    pub(crate) spinning: Cell<bool>,
}

#[cfg(not(loom))]
thread_local! {
    static MLOCAL: MLocal = const {
        MLocal {
            m: RefCell::new(None),
            p: RefCell::new(None),
            curg: Cell::new(std::ptr::null()),
            spinning: Cell::new(false),
        }
    };
}

// Under loom every model thread runs on one OS thread, so the M state must be loom's per-model-
// thread local (a std thread-local would be shared by all Ms of a model).
#[cfg(loom)]
loom::thread_local! {
    static MLOCAL: MLocal = MLocal {
        m: RefCell::new(None),
        p: RefCell::new(None),
        curg: Cell::new(std::ptr::null()),
        spinning: Cell::new(false),
    };
}

/// Runs `f` with this thread's M state. `#[inline(never)]` plus `black_box`: a call made after a
/// switch must recompute the thread-local address (see the module docs).
#[inline(never)]
pub(crate) fn with_m<R>(f: impl FnOnce(&MLocal) -> R) -> R {
    std::hint::black_box(());
    MLOCAL.with(f)
}

/// The id of the current M, if this thread is one.
pub(crate) fn current_m_id() -> Option<usize> {
    with_m(|m| m.m.borrow().as_ref().map(|m| m.id))
}
