//! Scoped green threads: `gort::scope(|s| ...)`, Gs that borrow from the caller's stack,
//! shaped like `std::thread::scope`.
//!
//! # Why it is sound
//!
//! A scoped G runs a closure that may borrow anything that outlives `'scope`: the caller's
//! locals, and what the scope closure borrows. The engine only runs `'static` closures, so
//! [`Scope::spawn`] erases the closure's lifetime (the one `unsafe` here, the same
//! `transmute` std's scoped threads make). That is sound iff nothing the closure borrows is used
//! after its owner is gone, which rests on these facts:
//!
//! 1. **The caller's frame outlives every G.** [`scope`] does not return, and does not unwind,
//!    before `running` is back to zero: it runs the scope closure under `catch_unwind`, then
//!    parks until every G of the scope has decremented `running`, and only then returns or
//!    re-raises. `running` is incremented in `spawn` *before* the G exists, so no G is missed.
//! 2. **A G decrements last.** Its `Pending` guard decrements `running` in its `Drop`, after the
//!    user closure has returned or panicked and its captures are dropped, after the result is
//!    stored, and after the G's reference to the result packet is gone (dropping a result that
//!    borrows from `'scope` happens before, not after). What the G touches after the decrement
//!    is the `ScopeData`, which it keeps alive through its own `Arc`.
//! 3. **A G that never runs is still counted out.** If the engine cannot give the G a stack it
//!    drops the closure unrun, which drops `Pending`: the same decrement, with an error result.
//!    If spawning fails outright, the closure is dropped in `spawn`, the same way.
//! 4. **Parked Gs are joined too.** Joining is counting, not polling a state: a G parked inside
//!    the scope (on a channel, a lock, a socket) has not decremented, so `scope` keeps waiting.
//!    A G parked forever makes `scope` park forever (as a `std` thread would), never return.
//! 5. **No handle destructor is relied on.** Forgetting a [`ScopedJoinHandle`] leaks its result
//!    packet (never read again), and nothing else: the count is the G's business.
//! 6. **Lifetimes as std's.** `Scope<'scope, 'env>` is invariant in `'scope`, and `spawn` takes
//!    `&'scope self` and an `F: 'scope`, so a closure cannot borrow the scope closure's own
//!    locals, nor a G its own locals for a sibling (the compile_fail examples on [`scope`]).
//!    A [`ScopedJoinHandle<'scope, T>`] cannot leave the scope.
//!
//! # Panics
//!
//! A panic in the scope closure is re-raised after every G has ended. A panic in a G is
//! returned by its handle's `join`; if nobody joins it, `scope` panics with "a scoped green
//! thread panicked" after all have ended (std's rule).
//!
//! Who touches what: `ScopeData::st` (running count, the parked caller's wait cell) under its
//! lock; `unjoined_panics` atomic (incremented by a G before its decrement, decremented by the
//! `join` that takes the panic, which happens after that G ended: the join's park orders them).

use crate::g::WaitReason;
use crate::loom::unmodelled::Mutex;
use crate::sync::waitcell::{self, WaitCell, GRANTED};
use crate::JoinHandle;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Runs `f` with a [`Scope`] on which it can spawn Gs that borrow from the caller; returns
/// once every such G has finished (like `std::thread::scope`).
///
/// # Panics
///
/// Re-raises a panic of `f`, after all its Gs have finished; else panics if a G panicked and
/// its handle was not joined.
///
/// # Examples
///
/// ```
/// let mut counts = [0usize; 4];
/// let words = ["go", "rust", "gort", "m:n"];
/// gort::scope(|s| {
///     for (c, w) in counts.iter_mut().zip(&words) {
///         s.spawn(move || *c = w.len());
///     }
/// });
/// assert_eq!(counts, [2, 4, 4, 3]);
/// ```
///
/// A G may not borrow a local of the scope closure (it could outlive it):
///
/// ```compile_fail,E0373
/// gort::scope(|s| {
///     let local = 1;
///     s.spawn(|| println!("{local}"));
/// });
/// ```
///
/// nor can two Gs borrow the same data mutably:
///
/// ```compile_fail,E0499
/// let mut v = vec![1];
/// gort::scope(|s| {
///     s.spawn(|| v.push(2));
///     s.spawn(|| v.push(3));
/// });
/// ```
///
/// nor a handle leave the scope:
///
/// ```compile_fail
/// let h = gort::scope(|s| s.spawn(|| 1));
/// h.join().unwrap();
/// ```
///
/// nor a G hand a sibling a borrow of its own locals (`'scope` is invariant):
///
/// ```compile_fail,E0373
/// gort::scope(|s| {
///     s.spawn(|| {
///         let mine = 5;
///         s.spawn(|| println!("{mine}"));
///     });
/// });
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            st: Mutex::new(Running { n: 0, waiter: None }),
            unjoined_panics: AtomicUsize::new(0),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let r = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.data.wait_all();
    match r {
        Err(p) => resume_unwind(p),
        // Acquire: pairs with the Release increments of Gs that ended (ordered by wait_all).
        Ok(_) if scope.data.unjoined_panics.load(Ordering::Acquire) > 0 => {
            panic!("a scoped green thread panicked")
        }
        Ok(v) => v,
    }
}

/// The scope of [`scope`]: spawns Gs that may borrow what outlives `'scope`.
///
/// # Examples
///
/// ```
/// let data = vec![1, 2, 3];
/// let sum = gort::scope(|s: &gort::Scope<'_, '_>| {
///     let h = s.spawn(|| data.iter().sum::<i32>());
///     h.join().unwrap()
/// });
/// assert_eq!(sum, 6);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariance in `'scope` (std's): a G cannot lend a sibling its own locals.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

struct ScopeData {
    st: Mutex<Running>,
    /// Panics of Gs whose handle has not taken them (module docs).
    unjoined_panics: AtomicUsize,
}

struct Running {
    /// Gs spawned and not yet counted out (fact 2).
    n: usize,
    /// `scope`'s own wait, once it waits.
    waiter: Option<Arc<WaitCell>>,
}

impl ScopeData {
    fn increment(&self) {
        let mut st = self.st.lock();
        assert!(
            st.n < usize::MAX / 2,
            "too many running scoped green threads"
        );
        st.n += 1;
    }

    fn decrement(&self) {
        let w = {
            let mut st = self.st.lock();
            st.n -= 1;
            if st.n == 0 {
                st.waiter.take()
            } else {
                None
            }
        };
        if let Some(w) = w {
            w.end_now(GRANTED);
        }
    }

    fn wait_all(&self) {
        let cell = {
            let mut st = self.st.lock();
            if st.n == 0 {
                return;
            }
            let c = WaitCell::new(0);
            st.waiter = Some(c.clone());
            c
        };
        let reason = crate::bubble::durable_in_bubble(
            WaitReason::WaitGroupWait,
            WaitReason::WaitGroupWaitDurable,
        );
        waitcell::wait(&cell, reason, None, None);
    }
}

/// The result slot a scoped G fills and its handle reads.
struct Packet<T> {
    result: Mutex<Option<std::thread::Result<T>>>,
}

/// An owned permission to join a scoped G (std's `ScopedJoinHandle`). Dropping it does not
/// wait; the scope joins every G anyway.
///
/// # Examples
///
/// ```
/// let name = String::from("gort");
/// gort::scope(|s| {
///     let h: gort::ScopedJoinHandle<'_, usize> = s.spawn(|| name.len());
///     assert_eq!(h.join().unwrap(), 4);
/// });
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<()>,
    packet: Arc<Packet<T>>,
    data: Arc<ScopeData>,
    _scope: PhantomData<&'scope ()>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a G that may borrow anything that outlives the scope; [`scope`] waits for it.
    ///
    /// # Panics
    ///
    /// If the G cannot be created (as `gort::spawn`).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut hits = 0;
    /// let (tx, rx) = gort::chan::bounded(0);
    /// gort::scope(|s| {
    ///     s.spawn(|| {
    ///         for v in &rx {
    ///             hits += v;
    ///         }
    ///     });
    ///     for _ in 0..3 {
    ///         tx.send(1).unwrap(); // the G parks between values; it is still joined
    ///     }
    ///     drop(tx);
    /// });
    /// assert_eq!(hits, 3);
    /// ```
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet {
            result: Mutex::new(None),
        });
        // Fact 1: counted before the G exists.
        self.data.increment();
        let pending = Pending {
            f: Some(f),
            packet: Some(packet.clone()),
            data: self.data.clone(),
        };
        let main: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || pending.run());
        // SAFETY: only the lifetime changes (`'scope` to `'static`; same layout and vtable). The
        // closure and everything it borrows are used only until `Pending::drop` decrements the
        // scope's count, and `scope` does not return or unwind before the count is zero (module
        // docs, facts 1-3): the borrows outlive every use.
        let main: Box<dyn FnOnce() + Send + 'static> = unsafe {
            std::mem::transmute::<Box<dyn FnOnce() + Send + 'scope>, Box<dyn FnOnce() + Send>>(main)
        };
        let handle = crate::Builder::new().spawn(main).unwrap_or_else(|e| {
            // The closure was dropped unrun (fact 3): the count is right again.
            panic!("gort::Scope::spawn: cannot create a green thread: {e}")
        });
        ScopedJoinHandle {
            handle,
            packet,
            data: self.data.clone(),
            _scope: PhantomData,
        }
    }
}

/// The scoped G's closure and what it must report; its `Drop` is the G's last act (fact 2).
struct Pending<F, T> {
    f: Option<F>,
    packet: Option<Arc<Packet<T>>>,
    data: Arc<ScopeData>,
}

impl<F: FnOnce() -> T, T> Pending<F, T> {
    fn run(mut self) {
        if let Some(f) = self.f.take() {
            let r = catch_unwind(AssertUnwindSafe(f));
            self.finish(r);
        }
        // `self` drops here: Drop counts the G out.
    }

    fn finish(&mut self, r: std::thread::Result<T>) {
        if r.is_err() {
            // Release: pairs with the Acquire load in `scope` / `join`.
            self.data.unjoined_panics.fetch_add(1, Ordering::Release);
        }
        if let Some(p) = &self.packet {
            *p.result.lock() = Some(r);
        }
    }
}

impl<F, T> Drop for Pending<F, T> {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            // Never ran (no stack, or the spawn failed): drop it, and report that.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(f)));
            if let Some(p) = &self.packet {
                *p.result.lock() = Some(Err(Box::new(
                    "gort::scope: the green thread could not start (see the message above)",
                )));
            }
            self.data.unjoined_panics.fetch_add(1, Ordering::Release);
        }
        // Our reference to the result; if it is the last, the result (which may borrow from
        // 'scope) is dropped here, before the count goes down.
        let p = self.packet.take();
        if catch_unwind(AssertUnwindSafe(move || drop(p))).is_err() {
            self.data.unjoined_panics.fetch_add(1, Ordering::Release);
        }
        self.data.decrement();
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the G and returns its result, or its panic's payload in `Err` (std's `join`).
    /// A panic taken this way no longer makes [`scope`] panic.
    ///
    /// # Examples
    ///
    /// ```
    /// gort::scope(|s| {
    ///     let h = s.spawn(|| -> u8 { panic!("oops") });
    ///     assert!(h.join().is_err()); // handled: the scope returns normally
    /// });
    /// ```
    pub fn join(self) -> std::thread::Result<T> {
        let engine = self.handle.join();
        let r = self.packet.result.lock().take();
        match r {
            Some(r) => {
                if r.is_err() {
                    self.data.unjoined_panics.fetch_sub(1, Ordering::AcqRel);
                }
                r
            }
            None => Err(engine
                .err()
                .unwrap_or_else(|| Box::new("gort::scope: a green thread ended without a result"))),
        }
    }

    /// True once the G has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// gort::scope(|s| {
    ///     let h = s.spawn(|| ());
    ///     while !h.is_finished() {
    ///         gort::yield_now();
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.handle.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.st.lock().n)
            .finish()
    }
}
