//! The semaphore under every lock (Go's `runtime/sema.go`, `semacquire1`/`semrelease1`).
//!
//! `count` holds available permits. A waiter that finds none parks in `q`.
//!
//! # Protocol
//!
//! Acquire (slow path):
//! 1. On the M after the switch (park's `register`), take `q`'s lock, `nwait += 1` (SeqCst),
//!    then re-try the count (SeqCst). If that succeeds, undo `nwait` and cancel the park.
//! 2. Otherwise queue `(unparker, &handed)` at the back (FIFO) or front (`lifo`: a waiter that
//!    already waited once, Go's rule for mutexes) and stay parked.
//! 3. Woken: if `handed` is set the releaser gave us its permit directly; else retry from 1.
//!
//! Release:
//! 1. `count += 1`, then take `q`'s lock (always: see `release` for why not Go's lock-free
//!    `nwait == 0` check). The lock orders us against the registrar's re-check: no waiter sleeps
//!    on an available permit.
//! 2. If `nwait > 0`: under `q`'s lock pop the first waiter, `nwait -= 1`; with `handoff`, take
//!    the permit on its behalf and set its `handed` (Release; it reads after the unpark).
//! 3. Unlock, then unpark it. With `handoff`, also yield so that it runs at once (Go's
//!    `goyield` in starvation mode; it sits in our P's runnext).
//!
//! Who touches what: `q` and the waiters' `handed` flags only under `q`'s lock (the flag is
//! read by its owner after the wake, ordered by the unpark); `count`/`nwait` are atomics.

use crate::g::WaitReason;
use crate::loom::atomic::{AtomicBool, AtomicU32, Ordering};
use crate::loom::unmodelled::AtomicU64;
use crate::loom::Mutex;
use crate::park::Unparker;
use std::collections::VecDeque;

struct SemaWaiter {
    u: Unparker,
    /// On the waiter's stack; alive until it is woken (it is woken only after being popped).
    handed: *const AtomicBool,
}

// SAFETY: `handed` points to an atomic on a parked waiter's stack, written only by the releaser
// that popped the waiter, before the unpark; the stack outlives the wait.
unsafe impl Send for SemaWaiter {}

pub(crate) struct Sema {
    count: AtomicU32,
    nwait: AtomicU32,
    q: Mutex<VecDeque<SemaWaiter>>,
    /// Set (under `q`'s lock) once a waiter queued with an owner cell: from then on the
    /// semaphore is in the dump's table of contended locks while waiters are queued
    /// (dump.rs, "The owner of a lock"). Read and written only under `q`'s lock.
    tracked: AtomicBool,
}

impl Sema {
    super::cfn! {
        pub(crate) fn new(permits: u32) -> Sema {
            Sema {
                count: AtomicU32::new(permits),
                nwait: AtomicU32::new(0),
                q: Mutex::new(VecDeque::new()),
                tracked: AtomicBool::new(false),
            }
        }
    }

    /// Takes a permit if one is available.
    pub(crate) fn try_acquire(&self) -> bool {
        let mut v = self.count.load(Ordering::SeqCst);
        loop {
            if v == 0 {
                return false;
            }
            // SeqCst: part of the store-buffer pairing with `release` (module docs).
            match self
                .count
                .compare_exchange_weak(v, v - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(x) => v = x,
            }
        }
    }

    /// Takes a permit, parking until one is available (acquire protocol).
    #[track_caller]
    pub(crate) fn acquire(&self, lifo: bool, reason: WaitReason) {
        self.acquire_owned(lifo, reason, None)
    }

    /// [`Sema::acquire`] for a lock whose owner's G id is kept in `owner`: while Gs wait here,
    /// the dump can name the owner (dump.rs).
    #[track_caller]
    pub(crate) fn acquire_owned(&self, lifo: bool, reason: WaitReason, owner: Option<&AtomicU64>) {
        if self.try_acquire() {
            return;
        }
        let me = self as *const Sema as usize;
        let obj = match owner {
            Some(_) => crate::g::WaitObj::Lock(me),
            None => crate::g::WaitObj::None,
        };
        let mut lifo = lifo;
        loop {
            let handed = AtomicBool::new(false);
            let hp: *const AtomicBool = &handed;
            crate::park::park_on(reason, obj, |u| {
                let mut q = self.q.lock();
                // SeqCst: step 1, paired with release's count increment then nwait load.
                self.nwait.fetch_add(1, Ordering::SeqCst);
                if self.try_acquire() {
                    self.nwait.fetch_sub(1, Ordering::SeqCst);
                    handed.store(true, Ordering::Relaxed);
                    return Some(u);
                }
                let w = SemaWaiter { u, handed: hp };
                if let Some(o) = owner {
                    if q.is_empty() {
                        self.tracked.store(true, Ordering::Relaxed);
                        crate::dump::lock_waited(me, o);
                    }
                }
                if lifo {
                    q.push_front(w);
                } else {
                    q.push_back(w);
                }
                None
            });
            // Acquire: pairs with the releaser's Release store (also ordered by the unpark).
            if handed.load(Ordering::Acquire) || self.try_acquire() {
                return;
            }
            lifo = true;
        }
    }

    /// Returns a permit and wakes one waiter (release protocol). With `handoff` the permit goes
    /// straight to the woken waiter (no barging) and the caller yields to it.
    pub(crate) fn release(&self, handoff: bool) {
        // SeqCst: step 1 (module docs).
        self.count.fetch_add(1, Ordering::SeqCst);
        // Always through the lock, not Go's lock-free `nwait == 0` early return: that relies on
        // the SeqCst store-buffer argument, which loom does not model (it treats SeqCst as
        // AcqRel and reported a lost wake-up). Through the lock, either our `lock` follows the
        // registrar's unlock (we see its waiter) or precedes its lock (it sees our permit).
        // Callers (Mutex, RwLock, WaitGroup) release only when they know of waiters.
        let mut q = self.q.lock();
        if self.nwait.load(Ordering::SeqCst) == 0 {
            return;
        }
        // nwait counts exactly the queued waiters (both change under `q`'s lock).
        let w = q.pop_front().expect("sema: nwait > 0 with an empty queue");
        self.nwait.fetch_sub(1, Ordering::SeqCst);
        if q.is_empty() && self.tracked.load(Ordering::Relaxed) {
            // Before the wake-up: the dump's read of the owner cell relies on it (dump.rs).
            crate::dump::lock_unwaited(self as *const Sema as usize);
        }
        let handed = handoff && self.try_acquire();
        if handed {
            // SAFETY: the waiter is parked (we just popped it, it is woken only by us below), so
            // its stack frame holding `handed` is alive.
            unsafe { (*w.handed).store(true, Ordering::Release) };
        }
        drop(q);
        w.u.unpark();
        if handed && crate::park::in_green_thread() {
            crate::park::yield_now();
        }
    }
}
