//! `errgroup`: golang.org/x/sync/errgroup. A group of Gs working on subtasks of one task; the
//! first error is kept (and cancels the group's context), and `wait` returns it.
//!
//! # State
//!
//! `active` (atomic, Go's `wg` counter) counts members spawned and not finished: `go` adds one
//! before spawning, a member takes one off as its last act. Under `st`'s lock: `waiters`, the
//! cells of parked `wait`/`wait_ctx` calls, all ended (granted) by the member that brings
//! `active` to zero; `err`, the first error; `panic`, the first panic payload. A waiter reads
//! `active` under the lock before it queues, and the last member takes the lock after its
//! decrement, so the last member either sees the waiter or the waiter sees zero. The limit, if
//! any, is a [`Semaphore`] that `go` takes a permit of before spawning and the member returns
//! when it ends (x/sync's `sem` channel); `limited` lets `go` skip its lock when there is none.
//!
//! # Panics in members
//!
//! A member's panic is caught in the member (and printed, as every G panic is), counts as the
//! group's failure (it cancels the context, with a cause saying so), and is **re-raised by
//! `wait`** once every member has finished, with the original payload (the first `wait` to see
//! it; later calls panic with a message). x/sync propagated panics this way in v0.14-v0.15 and
//! reverted for Go reasons (a recovered panic loses the crashing goroutine's stack); in Rust a
//! G's panic is already caught at its boundary and its message printed, so nothing is lost, and
//! a group whose member panicked must not report success.

use crate::context::{self, CancelCauseHandle, Cause, Context};
use crate::g::WaitReason;
use crate::loom::unmodelled::Mutex;
use crate::sync::waitcell::{self, WaitCell, CTX_DONE, GRANTED};
use crate::sync::Semaphore;
use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A group of Gs running subtasks of one task (x/sync's `errgroup.Group`). Clone it to hand it
/// to members that start more members.
///
/// # Examples
///
/// ```
/// use gort::errgroup::Group;
/// let g = Group::new();
/// for i in 0..10 {
///     g.go(move || if i == 7 { Err(format!("task {i} failed")) } else { Ok(()) });
/// }
/// assert_eq!(g.wait(), Err("task 7 failed".to_string()));
/// ```
pub struct Group<E> {
    inner: Arc<Inner<E>>,
}

impl<E> Clone for Group<E> {
    fn clone(&self) -> Self {
        Group {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<E> {
    /// Members spawned and not finished (module docs; SeqCst: the waiter/last-member pairing).
    active: AtomicUsize,
    st: Mutex<State<E>>,
    /// True while `limit` is `Some` (written under `limit`'s lock; Relaxed: a hint that lets
    /// `go` skip the lock, `set_limit` being forbidden while members run).
    limited: AtomicBool,
    /// The member limit (`set_limit`); `None`: no limit.
    limit: Mutex<Option<Arc<Semaphore>>>,
    /// Cancels the derived context (`with_context`); taken by the first error or `wait`.
    cancel: Mutex<Option<CancelCauseHandle>>,
    /// Makes the error into a context cause (set by `with_context`, which has the bounds).
    to_cause: Option<fn(&E) -> Cause>,
}

struct State<E> {
    waiters: Vec<Arc<WaitCell>>,
    err: Option<E>,
    panic: Option<Box<dyn Any + Send>>,
    panicked: bool,
}

/// A new group, and a context derived from `ctx` that is cancelled by the group's first error
/// (or panic) and when [`Group::wait`] returns, whichever comes first (x/sync's
/// `errgroup.WithContext`). The error is the context's [`cause`](Context::cause).
///
/// # Examples
///
/// ```
/// use gort::{context, errgroup};
/// let (g, ctx) = errgroup::with_context::<String>(&context::background());
/// for i in 0..4 {
///     let ctx = ctx.clone();
///     g.go(move || {
///         if i == 0 {
///             return Err("first one fails".into());
///         }
///         let done = ctx.done();
///         let _ = done.recv(); // the others stop when it does
///         Ok(())
///     });
/// }
/// assert_eq!(g.wait(), Err("first one fails".to_string()));
/// assert_eq!(ctx.cause().unwrap().to_string(), "first one fails");
/// ```
pub fn with_context<E>(ctx: &Context) -> (Group<E>, Context)
where
    E: Clone + Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let (c, cancel) = context::with_cancel_cause(ctx);
    let g = Group::build(Some(cancel), Some(|e: &E| Arc::from(e.clone().into())));
    (g, c)
}

impl<E: Send + 'static> Group<E> {
    /// A group with no limit and no context (x/sync's zero `Group`).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = gort::errgroup::Group::<String>::new();
    /// g.go(|| Ok(()));
    /// assert!(g.wait().is_ok());
    /// ```
    pub fn new() -> Group<E> {
        Group::build(None, None)
    }

    fn build(cancel: Option<CancelCauseHandle>, to_cause: Option<fn(&E) -> Cause>) -> Group<E> {
        Group {
            inner: Arc::new(Inner {
                active: AtomicUsize::new(0),
                limited: AtomicBool::new(false),
                st: Mutex::new(State {
                    waiters: Vec::new(),
                    err: None,
                    panic: None,
                    panicked: false,
                }),
                limit: Mutex::new(None),
                cancel: Mutex::new(cancel),
                to_cause,
            }),
        }
    }

    /// Runs `f` in a new G of the group. With a limit set, parks first until a member slot is
    /// free. The first error `f` returns is the group's (later ones are dropped) and cancels
    /// the group's context. Call it before [`wait`](Self::wait), or from a member.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// let g = gort::errgroup::Group::<()>::new();
    /// let sum = Arc::new(AtomicU32::new(0));
    /// for i in 1..=4 {
    ///     let sum = sum.clone();
    ///     g.go(move || {
    ///         sum.fetch_add(i, Ordering::Relaxed);
    ///         Ok(())
    ///     });
    /// }
    /// g.wait().unwrap();
    /// assert_eq!(sum.load(Ordering::Relaxed), 10);
    /// ```
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let limit = self.limit();
        if let Some(sem) = &limit {
            sem.acquire();
        }
        self.start(f, limit);
    }

    /// Runs `f` in a new G of the group only if the limit allows one more member now; true if
    /// it did (x/sync's `TryGo`).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = gort::errgroup::Group::<()>::new();
    /// g.set_limit(1);
    /// let (tx, rx) = gort::chan::bounded::<()>(0);
    /// assert!(g.try_go(move || {
    ///     let _ = rx.recv();
    ///     Ok(())
    /// }));
    /// assert!(!g.try_go(|| Ok(()))); // at the limit
    /// drop(tx);
    /// g.wait().unwrap();
    /// ```
    pub fn try_go<F>(&self, f: F) -> bool
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let limit = self.limit();
        if let Some(sem) = &limit {
            if !sem.try_acquire() {
                return false;
            }
        }
        self.start(f, limit);
        true
    }

    /// Limits the group to `n` active members (x/sync's `SetLimit`): `go` then parks while `n`
    /// are running and `try_go` fails. A negative `n` removes the limit; `0` makes every `go`
    /// park for good (Go's rule).
    ///
    /// # Panics
    ///
    /// If members are running (x/sync panics too: the limit would not hold for them).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = gort::errgroup::Group::<()>::new();
    /// g.set_limit(2);
    /// for _ in 0..10 {
    ///     g.go(|| Ok(())); // at most 2 at a time
    /// }
    /// g.wait().unwrap();
    /// ```
    pub fn set_limit(&self, n: isize) {
        let active = self.inner.active.load(Ordering::SeqCst);
        assert!(
            active == 0,
            "errgroup: set_limit({n}) while {active} members are still running"
        );
        let mut l = self.inner.limit.lock();
        *l = match u32::try_from(n) {
            Ok(n) => Some(Arc::new(Semaphore::new(n))),
            // Negative: no limit. Above u32::MAX: as good as none.
            Err(_) => None,
        };
        self.inner.limited.store(l.is_some(), Ordering::Relaxed);
    }

    fn limit(&self) -> Option<Arc<Semaphore>> {
        if !self.inner.limited.load(Ordering::Relaxed) {
            return None;
        }
        self.inner.limit.lock().clone()
    }

    fn start<F>(&self, f: F, limit: Option<Arc<Semaphore>>)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        self.inner.active.fetch_add(1, Ordering::SeqCst);
        let inner = self.inner.clone();
        crate::join::spawn_detached(move || {
            let r = catch_unwind(AssertUnwindSafe(f));
            inner.finish(r, limit.as_deref());
        });
    }

    /// Parks until every member has finished and returns the first error (x/sync's `Wait`);
    /// the group's context is cancelled when it returns. Calling it again returns the same
    /// error.
    ///
    /// # Panics
    ///
    /// If a member panicked: re-raises the first member panic (the module docs say why).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = gort::errgroup::Group::new();
    /// g.go(|| Err(1));
    /// g.go(|| Ok(()));
    /// assert_eq!(g.wait(), Err(1));
    /// assert_eq!(g.wait(), Err(1));
    /// ```
    pub fn wait(&self) -> Result<(), E>
    where
        E: Clone,
    {
        match self.wait_inner(None) {
            Ok(r) => r,
            Err(_) => unreachable!("a wait without a context gave up"),
        }
    }

    /// [`wait`](Self::wait), giving up when `ctx` ends: `Err(ctx error)` then (the members
    /// keep running, and the group's own context is not cancelled by this call).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// use std::time::Duration;
    /// let g = gort::errgroup::Group::<()>::new();
    /// let (_tx, rx) = gort::chan::bounded::<()>(0);
    /// g.go(move || {
    ///     let _ = rx.recv(); // runs until `_tx` drops
    ///     Ok(())
    /// });
    /// let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(2));
    /// assert_eq!(g.wait_ctx(&ctx), Err(context::DeadlineExceeded));
    /// ```
    pub fn wait_ctx(&self, ctx: &Context) -> Result<Result<(), E>, context::Error>
    where
        E: Clone,
    {
        self.wait_inner(Some(ctx))
    }

    fn wait_inner(&self, ctx: Option<&Context>) -> Result<Result<(), E>, context::Error>
    where
        E: Clone,
    {
        if let Some(e) = ctx.and_then(Context::err) {
            return Err(e);
        }
        let cell = if self.inner.active.load(Ordering::SeqCst) == 0 {
            None
        } else {
            let mut st = self.inner.st.lock();
            // Under the lock (module docs): the last member locks after its decrement.
            if self.inner.active.load(Ordering::SeqCst) == 0 {
                None
            } else {
                let c = WaitCell::new(0);
                st.waiters.push(c.clone());
                Some(c)
            }
        };
        if let Some(cell) = cell {
            let reason = crate::bubble::durable_in_bubble(
                WaitReason::WaitGroupWait,
                WaitReason::WaitGroupWaitDurable,
            );
            let how = waitcell::wait(&cell, reason, None, ctx);
            if how == CTX_DONE {
                self.inner
                    .st
                    .lock()
                    .waiters
                    .retain(|c| !Arc::ptr_eq(c, &cell));
                return Err(ctx
                    .and_then(Context::err)
                    .expect("context wait ended without the context ending"));
            }
        }
        let (r, panic) = {
            let mut st = self.inner.st.lock();
            let r = match &st.err {
                Some(e) => Err(e.clone()),
                None => Ok(()),
            };
            (r, (st.panicked).then(|| st.panic.take()))
        };
        // x/sync: "cancel(g.err)" once Wait returns; the first error already did, if any.
        let cancel = self.inner.cancel.lock().take();
        drop(cancel); // outside the lock: the cancel runs the context's hooks
        match panic {
            Some(Some(p)) => resume_unwind(p),
            Some(None) => panic!("errgroup: a member panicked (re-raised by an earlier wait)"),
            None => Ok(r),
        }
    }
}

impl<E> Inner<E> {
    /// A member ended with `r`: record it, free its limit slot, and end the waits if it was
    /// the last one.
    fn finish(&self, r: std::thread::Result<Result<(), E>>, limit: Option<&Semaphore>) {
        if !matches!(r, Ok(Ok(()))) {
            self.record(r);
        }
        if let Some(sem) = limit {
            sem.release();
        }
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            let wake = std::mem::take(&mut self.st.lock().waiters);
            for w in wake {
                w.end_now(GRANTED);
            }
        }
    }

    /// The first error or panic is the group's; it cancels the context.
    #[cold]
    fn record(&self, r: std::thread::Result<Result<(), E>>) {
        let mut cause = None;
        {
            let mut st = self.st.lock();
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if st.err.is_none() && !st.panicked {
                        cause = Some(self.to_cause.map(|f| f(&e)));
                        st.err = Some(e);
                    }
                }
                Err(p) => {
                    if !st.panicked {
                        if st.err.is_none() {
                            cause = Some(Some(Arc::new(MemberPanicked) as Cause));
                        }
                        st.panicked = true;
                        st.panic = Some(p);
                    }
                }
            }
        }
        if let Some(cause) = cause {
            let cancel = self.cancel.lock().take();
            // Outside the lock: the cancel runs the context's hooks.
            if let Some(c) = cancel {
                match cause {
                    Some(cause) => c.cancel_shared(cause),
                    None => drop(c),
                }
            }
        }
    }
}

/// The cause recorded when a member panics.
#[derive(Debug)]
struct MemberPanicked;

impl fmt::Display for MemberPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("errgroup: a member panicked")
    }
}

impl std::error::Error for MemberPanicked {}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Self {
        Group::new()
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.st.lock();
        f.debug_struct("Group")
            .field("active", &self.inner.active.load(Ordering::Relaxed))
            .field("failed", &(st.err.is_some() || st.panicked))
            .finish()
    }
}
