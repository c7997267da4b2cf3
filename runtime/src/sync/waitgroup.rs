//! `WaitGroup`: Go's `sync.WaitGroup`.
//!
//! `state` packs the counter (high 32 bits, signed) and the number of waiters (low 32 bits);
//! `sema` is where waiters park.
//!
//! 1. `add(d)`: `state += d << 32` (SeqCst). A negative counter panics. If the counter reached
//!    zero with waiters, reset `state` to 0 and release the sema once per waiter.
//! 2. `wait()`: if the counter is zero return; else CAS `waiters += 1` and park on the sema.
//!
//! As in Go, `add` with a positive delta must happen before `wait` when the counter is zero
//! (reusing a group while waiters are still leaving is a misuse, detected on a best-effort basis).

use super::sema::Sema;
use crate::g::WaitReason;
use crate::loom::atomic::{AtomicU64, Ordering};
use std::fmt;

/// Waits for a collection of Gs to finish (Go's `sync.WaitGroup`).
///
/// # Examples
///
/// ```
/// use gort::sync::WaitGroup;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let wg = Arc::new(WaitGroup::new());
/// let n = Arc::new(AtomicUsize::new(0));
/// for _ in 0..100 {
///     wg.add(1);
///     let (wg, n) = (wg.clone(), n.clone());
///     gort::spawn(move || {
///         n.fetch_add(1, Ordering::Relaxed);
///         wg.done();
///     });
/// }
/// wg.wait();
/// assert_eq!(n.load(Ordering::Relaxed), 100);
/// ```
pub struct WaitGroup {
    state: AtomicU64,
    sema: Sema,
    /// The synctest bubble of the last `add` (its key; 0: none), as Go binds a WaitGroup to a
    /// bubble: a wait on it inside that bubble is durably blocked. Relaxed: read by a waiter
    /// of the same bubble, which runs after that `add` on the same thread.
    bubble: crate::loom::unmodelled::AtomicU32,
}

impl WaitGroup {
    /// The wait reason: durable in the bubble this group is bound to (Go's bubbled WaitGroup).
    fn reason(&self) -> WaitReason {
        if crate::bubble::active() {
            let b = self.bubble.load(std::sync::atomic::Ordering::Relaxed);
            if b != 0 && b == crate::bubble::current_key() {
                return WaitReason::WaitGroupWaitDurable;
            }
        }
        WaitReason::WaitGroupWait
    }

    super::cfn! {
        /// A group with a zero counter (`const`).
        ///
        /// # Examples
        ///
        /// ```
        /// let wg = gort::sync::WaitGroup::new();
        /// wg.wait(); // zero: returns at once
        /// ```
        pub fn new() -> WaitGroup {
            WaitGroup {
                state: AtomicU64::new(0),
                sema: Sema::new(0),
                bubble: crate::loom::unmodelled::AtomicU32::new(0),
            }
        }
    }

    /// Adds `delta` (may be negative) to the counter (step 1).
    ///
    /// # Panics
    /// If the counter becomes negative.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.add(-2);
    /// wg.wait();
    /// ```
    pub fn add(&self, delta: i32) {
        if crate::bubble::active() {
            self.bubble.store(
                crate::bubble::current_key(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        let d = (delta as i64 as u64) << 32;
        let state = self.state.fetch_add(d, Ordering::SeqCst).wrapping_add(d);
        let v = (state >> 32) as i32;
        let w = state as u32;
        if v < 0 {
            panic!("gort::sync::WaitGroup: negative counter ({v})");
        }
        if w != 0 && delta > 0 && v == delta {
            panic!("gort::sync::WaitGroup: add called concurrently with wait");
        }
        if v > 0 || w == 0 {
            return;
        }
        // Counter is 0 and there are waiters: nobody can change `state` now except misuse.
        if self.state.load(Ordering::SeqCst) != state {
            panic!("gort::sync::WaitGroup: add called concurrently with wait");
        }
        self.state.store(0, Ordering::SeqCst);
        for _ in 0..w {
            self.sema.release(false);
        }
    }

    /// Decrements the counter (`add(-1)`).
    ///
    /// # Panics
    /// If the counter becomes negative.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// wg.wait();
    /// ```
    pub fn done(&self) {
        self.add(-1);
    }

    /// Parks until the counter is zero (step 2).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let wg = Arc::new(gort::sync::WaitGroup::new());
    /// wg.add(1);
    /// let w2 = wg.clone();
    /// gort::spawn(move || w2.done());
    /// wg.wait();
    /// ```
    #[track_caller]
    pub fn wait(&self) {
        let mut state = self.state.load(Ordering::SeqCst);
        loop {
            if (state >> 32) as i32 == 0 {
                return;
            }
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    self.sema.acquire(false, self.reason());
                    return;
                }
                Err(x) => state = x,
            }
        }
    }
}

impl WaitGroup {
    /// Runs `f` in a new G counted by the group (Go 1.25's `wg.Go(f)`): `add(1)` now, `done()`
    /// when `f` returns **or panics** (Go's `wg.Go` crashes the process on a panic; a gort G's
    /// panic is caught and printed, and a group that never reached zero would hang `wait`). The
    /// receiver is an `Arc` because the G outlives this call; inside
    /// [`gort::scope`](crate::scope::scope), use [`guard`](Self::guard) instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let wg = Arc::new(gort::sync::WaitGroup::new());
    /// let n = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..10 {
    ///     let n = n.clone();
    ///     wg.go(move || {
    ///         n.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// }
    /// wg.go(|| panic!("a worker fails")); // still counted done
    /// wg.wait();
    /// assert_eq!(n.load(Ordering::Relaxed), 10);
    /// ```
    pub fn go<F>(self: &std::sync::Arc<Self>, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.add(1);
        let wg = self.clone();
        crate::join::spawn_detached(move || {
            let _done = WaitGroupGuard(&wg);
            f();
        });
    }

    /// `add(1)` now and `done()` when the returned guard drops, even during a panic: a worker
    /// holding it cannot leave `wait` hanging.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// let data = vec![1, 2, 3];
    /// gort::scope(|s| {
    ///     for x in &data {
    ///         let g = wg.guard();
    ///         s.spawn(move || {
    ///             let _g = g;
    ///             assert!(*x > 0);
    ///         });
    ///     }
    ///     wg.wait();
    /// });
    /// ```
    #[must_use = "dropping the guard calls done() at once"]
    pub fn guard(&self) -> WaitGroupGuard<'_> {
        self.add(1);
        WaitGroupGuard(self)
    }
}

/// Calls `done()` on its group when dropped (from [`WaitGroup::guard`]).
///
/// # Examples
///
/// ```
/// let wg = gort::sync::WaitGroup::new();
/// let g: gort::sync::WaitGroupGuard<'_> = wg.guard();
/// drop(g);
/// wg.wait(); // zero again
/// ```
#[derive(Debug)]
pub struct WaitGroupGuard<'a>(&'a WaitGroup);

impl Drop for WaitGroupGuard<'_> {
    fn drop(&mut self) {
        self.0.done();
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Ordering::Relaxed);
        f.debug_struct("WaitGroup")
            .field("counter", &((s >> 32) as i32))
            .field("waiters", &(s as u32))
            .finish()
    }
}
