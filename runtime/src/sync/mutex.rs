//! `Mutex<T>`: Go's `sync.Mutex` (normal and starvation modes) holding a `T`.
//!
//! # The state word (Go's layout)
//!
//! `state`: bit 0 `LOCKED`, bit 1 `WOKEN` (a waiter was woken and is on its way; unlockers need
//! not wake another), bit 2 `STARVING`, bits 3.. the number of parked waiters. `sema` (a
//! [`Sema`] with zero permits) is where waiters park.
//!
//! * **Fast paths**: lock is one CAS `0 → LOCKED`; unlock is one `fetch_sub(LOCKED)` that finds
//!   the word zero.
//! * **Normal mode**: waiters queue FIFO, but a woken waiter competes with newly arriving Gs,
//!   which usually win (they are already on a CPU). A waiter that lost re-queues at the front.
//! * **Starvation mode**: a waiter that has waited more than 1 ms sets `STARVING`. Then unlock
//!   hands the lock straight to the first waiter (`Sema::release(handoff)`; `LOCKED` stays clear
//!   but arrivals see `STARVING` and queue at the tail instead of barging). The new owner leaves
//!   starvation mode when it is the last waiter or waited less than 1 ms.
//!
//! * **Spinning**: before queueing, a G spins up to 4 rounds of 30 `PAUSE`s while the mutex is
//!   locked (not starving) and other Ps are running (`sched::can_spin`), setting `WOKEN` so that
//!   the unlocker does not wake a waiter that would only find the mutex taken again. Unlike Go,
//!   it spins even when its P has queued Gs: see `can_spin` for the measurement behind that.
//!
//! The algorithm and its orderings are Go's (`sync/mutex.go`, `lockSlow`/`unlockSlow`); every
//! RMW here is AcqRel or SeqCst, as Go's atomics are sequentially consistent.

use super::sema::Sema;
use crate::g::WaitReason;
use crate::loom::atomic::{AtomicU32, Ordering};
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

const LOCKED: u32 = 1;
const WOKEN: u32 = 2;
const STARVING: u32 = 4;
const WAITER_SHIFT: u32 = 3;
const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// True if a waiter that started waiting at `start` has waited past the threshold. In a
/// synctest bubble the bubble's generator decides instead (real time would make the schedule
/// unrepeatable): it is the choice between handing the lock off and letting arrivals barge.
#[cfg(not(loom))]
fn starved(start: Instant) -> bool {
    if crate::bubble::active() {
        if let Some(c) = crate::bubble::coin() {
            return c;
        }
    }
    start.elapsed() > STARVATION_THRESHOLD
}

/// Under loom time is not modelled: every waiter that had to park once counts as starved, so
/// the models exercise hand-off mode deterministically.
#[cfg(loom)]
fn starved(_start: Instant) -> bool {
    true
}

/// The lock without data (shared by `Mutex`, `RwLock` and `Once`).
pub(crate) struct RawMutex {
    state: AtomicU32,
    sema: Sema,
    /// The id of the G holding the lock (0: nobody, or a plain thread). Written by the holder
    /// (Relaxed, after acquiring and before releasing); read only by the dump, through the
    /// table of contended locks (dump.rs, "The owner of a lock"). A label, not a protocol:
    /// a std atomic even under loom.
    pub(crate) owner: crate::loom::unmodelled::AtomicU64,
}

impl RawMutex {
    super::cfn! {
        pub(crate) fn new() -> RawMutex {
            RawMutex {
                state: AtomicU32::new(0),
                sema: Sema::new(0),
                owner: crate::loom::unmodelled::AtomicU64::new(0),
            }
        }
    }

    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        // Acquire: pairs with unlock's Release; one CAS is the whole fast path.
        let ok = self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if ok {
            self.set_owner();
        }
        ok
    }

    /// Records the calling G as the holder (for the dump).
    #[inline]
    fn set_owner(&self) {
        self.owner
            .store(crate::current_goid(), std::sync::atomic::Ordering::Relaxed);
    }

    #[inline]
    #[track_caller]
    pub(crate) fn lock(&self) {
        // A lock is one of a synctest bubble's preemption points (one load outside bubbles).
        if crate::bubble::active() {
            crate::bubble::preempt_point();
        }
        if !self.try_lock() {
            self.lock_slow();
        }
    }

    #[cold]
    #[track_caller]
    fn lock_slow(&self) {
        self.lock_slow_inner();
        self.set_owner();
    }

    #[track_caller]
    fn lock_slow_inner(&self) {
        let mut wait_start: Option<Instant> = None;
        let mut starving = false;
        let mut awoke = false;
        let mut old = self.state.load(Ordering::Relaxed);
        let mut spins = 0;
        loop {
            // Go's active spinning: while the mutex is locked (not starving) and the scheduler
            // says spinning can pay off (more than one P, other Ps busy; unlike Go, even with
            // Gs queued on ours: see `can_spin`), spin a little before queueing; set WOKEN so that unlock does not wake a waiter
            // that would only find the mutex taken again.
            if old & (LOCKED | STARVING) == LOCKED && crate::sched::can_spin(spins) {
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                for _ in 0..30 {
                    std::hint::spin_loop();
                }
                spins += 1;
                old = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut new = old;
            // Do not grab a starving mutex: arrivals queue.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += 1 << WAITER_SHIFT;
            }
            // Switch to starvation mode, unless the mutex is unlocked (unlock expects a
            // starving mutex to have waiters).
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                assert!(new & WOKEN != 0, "gort::sync::Mutex: inconsistent state");
                new &= !WOKEN;
            }
            match self
                .state
                .compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if old & (LOCKED | STARVING) == 0 {
                        return; // locked with the CAS
                    }
                    // A waiter that already waited re-queues at the front.
                    let lifo = wait_start.is_some();
                    let start = *wait_start.get_or_insert_with(Instant::now);
                    self.sema
                        .acquire_owned(lifo, WaitReason::MutexLock, Some(&self.owner));
                    starving = starving || starved(start);
                    old = self.state.load(Ordering::Acquire);
                    if old & STARVING != 0 {
                        // Handed off to us: LOCKED is clear and we still count as a waiter.
                        assert!(
                            old & (LOCKED | WOKEN) == 0 && old >> WAITER_SHIFT != 0,
                            "gort::sync::Mutex: inconsistent state"
                        );
                        let mut delta = LOCKED.wrapping_sub(1 << WAITER_SHIFT);
                        if !starving || old >> WAITER_SHIFT == 1 {
                            // Leave starvation mode (Go: else two Gs can go lock-step in it).
                            delta = delta.wrapping_sub(STARVING);
                        }
                        self.state.fetch_add(delta, Ordering::AcqRel);
                        return;
                    }
                    awoke = true;
                }
                Err(x) => old = x,
            }
        }
    }

    #[inline]
    pub(crate) fn unlock(&self) {
        self.owner.store(0, std::sync::atomic::Ordering::Relaxed);
        // Release: pairs with the next locker's Acquire.
        let new = self
            .state
            .fetch_sub(LOCKED, Ordering::AcqRel)
            .wrapping_sub(LOCKED);
        if new != 0 {
            self.unlock_slow(new);
        }
    }

    #[cold]
    fn unlock_slow(&self, new: u32) {
        assert!(
            new.wrapping_add(LOCKED) & LOCKED != 0,
            "gort::sync::Mutex: unlock of unlocked mutex"
        );
        if new & STARVING == 0 {
            let mut old = new;
            loop {
                // Nobody to wake, or someone already woken or holding the lock.
                if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                    return;
                }
                let n = (old - (1 << WAITER_SHIFT)) | WOKEN;
                match self
                    .state
                    .compare_exchange(old, n, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) => {
                        self.sema.release(false);
                        return;
                    }
                    Err(x) => old = x,
                }
            }
        } else {
            // Starving: hand the lock to the first waiter and yield to it.
            self.sema.release(true);
        }
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (LOCKED | STARVING) != 0
    }
}

/// A mutual-exclusion lock that parks the G, not the M (Go's `sync.Mutex` with a value).
///
/// Uncontended lock and unlock are one atomic each. A waiter that has waited more than 1 ms
/// switches the lock to hand-off mode so it cannot be starved. Works from plain threads too.
///
/// **No poisoning**, as in Go and parking_lot: a panic while the guard is held releases the lock
/// when the guard drops during unwinding, and `lock` returns the guard itself, not a `Result`.
/// Invariants the panicking code broke are the caller's to restore (`catch_unwind` around the
/// critical section if that matters).
///
/// # Examples
///
/// ```
/// use gort::sync::Mutex;
/// use std::sync::Arc;
/// let m = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..10)
///     .map(|_| {
///         let m = m.clone();
///         gort::spawn(move || *m.lock() += 1)
///     })
///     .collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(*m.lock(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives exclusive access to `data`, so sharing the mutex shares `T` only by
// moving access between threads: `T: Send` suffices (as for std's Mutex).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: owning the mutex owns the `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    super::cfn! {
        /// A new unlocked mutex (`const`, so it can be a `static`).
        ///
        /// # Examples
        ///
        /// ```
        /// static M: gort::sync::Mutex<Vec<u8>> = gort::sync::Mutex::new(Vec::new());
        /// M.lock().push(1);
        /// assert_eq!(M.lock().len(), 1);
        /// ```
        pub fn new(t: T) -> Mutex<T> {
            Mutex {
                raw: RawMutex::new(),
                data: UnsafeCell::new(t),
            }
        }
    }

    /// Consumes the mutex, returning the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::sync::Mutex::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the G while another holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = gort::sync::Mutex::new(1);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard {
            m: self,
            _marker: PhantomData,
        }
    }

    /// Locks if free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = gort::sync::Mutex::new(());
    /// let g = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().then(|| MutexGuard {
            m: self,
            _marker: PhantomData,
        })
    }

    /// The value, through `&mut` (no locking needed).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = gort::sync::Mutex::new(1);
    /// *m.get_mut() = 5;
    /// assert_eq!(*m.lock(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// True if locked (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = gort::sync::Mutex::new(());
    /// let _g = m.lock();
    /// assert!(m.is_locked());
    /// ```
    #[must_use]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(g) => f.debug_struct("Mutex").field("data", &&*g).finish(),
            None => f.debug_struct("Mutex").field("data", &"<locked>").finish(),
        }
    }
}

/// Proof of holding a [`Mutex`]; unlocks on drop. May be held across blocking calls and
/// dropped on another thread (the lock is not tied to a thread, as in Go).
///
/// # Examples
///
/// ```
/// let m = gort::sync::Mutex::new(String::new());
/// let mut g: gort::sync::MutexGuard<'_, String> = m.lock();
/// g.push('x');
/// gort::yield_now(); // holding a gort guard across a blocking point is fine
/// drop(g);
/// assert_eq!(*m.lock(), "x");
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    m: &'a Mutex<T>,
    /// The guard hands out `&T` and `&mut T`, so its auto traits must be those of `&mut T`:
    /// `Send` iff `T: Send`, `Sync` iff `T: Sync` (std's `MutexGuard` is `Sync` for `T: Sync`
    /// too). Without this the guard would be `Sync` whenever `&Mutex<T>` is, i.e. for any
    /// `T: Send`, and two threads sharing `&MutexGuard<Cell<_>>` could race on the `Cell`.
    /// Unlike std's guard it is `Send`: gort's mutex is not tied to a thread, and a G holding
    /// it may resume on another thread anyway.
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    pub(crate) fn mutex(g: &Self) -> &'a Mutex<T> {
        g.m
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held, so no `&mut` to the data exists elsewhere.
        unsafe { &*self.m.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access while the lock is held.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.m.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
