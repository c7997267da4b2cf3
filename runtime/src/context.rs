//! Contexts: Go's `context` package (cancellation, deadlines and request-scoped values that flow
//! down a tree of work), on park/ready and one runtime timer per deadline.
//!
//! # The tree
//!
//! A [`Context`] is a shared pointer to an immutable `Node` that keeps its parent alive:
//! `Background` at the root, then `Cancel` nodes (from `with_cancel`, `with_deadline`, ...),
//! `Value` nodes and `WithoutCancel` nodes. Every node knows its *canceler*: the nearest `Cancel`
//! node at or above it (Go's `parentCancelCtx`); `WithoutCancel` and `Background` have none,
//! which is what makes them never end.
//!
//! A `Cancel` node registers itself, when it is made, in its parent canceler's `children` slab
//! (Go's `propagateCancel`). Since gort's `Context` is a concrete type (Go's is an interface that
//! user types implement), Go's fallback of a goroutine per context that watches a foreign parent's
//! `Done` never arises: **no context costs a G**, and a deadline costs one timer-heap entry.
//!
//! # Cancelling (Go's `(*cancelCtx).cancel`)
//!
//! 1. Under the node's lock: if `err` is set, stop (cancel happens once). Else set `err` and
//!    `cause`; publish the error in the atomic `code` (so a G woken by the close below sees
//!    it), close `done` (waking every G in a `select!` on it), mark `code` CLOSED (an `err` that
//!    sees the error without the mark takes the lock to wait for the close: Go's "Err ≠ nil
//!    implies Done is closed"); take the children and the timer.
//! 2. Outside the lock: cancel the timer.
//! 3. Push the children on a work list and repeat 1-2 for each with the same `err` and `cause`;
//!    run the hooks (after-funcs, blocked waits) once the whole subtree is done.
//! 4. For the root of the operation only (a handle's `cancel`, a deadline), remove it from its
//!    parent canceler's slab.
//!
//! The traversal is an explicit work list, not recursion: a chain of 100,000 contexts is
//! cancelled in one pass on any stack. Go holds the parent's lock while it cancels the children;
//! here each node's lock is taken alone (step 1 empties the slab, so a child added afterwards
//! finds `err` set in step 1 of its own registration and cancels itself). Context locks never
//! nest.
//!
//! # Who touches what
//!
//! * `CancelCtx::state` (err, cause, done sender, children, timer): under its lock, held briefly
//!   and never across a park, user code, or another context's lock.
//! * `CancelCtx::code`: written under the state lock (Release), the error before `done` closes
//!   and the CLOSED mark after; read without the lock (Acquire) by `err`.
//! * `CancelCtx::done`: initialised once, under the state lock (so that a cancel in between
//!   cannot be missed), read lock-free afterwards.
//! * `CancelCtx::reg`: this node's key in its parent canceler's slab, an atomic written under
//!   the parent's lock when registered and taken under it when removed.
//!
//! Lock order: a context's state lock < a channel's lock (a cancel closes `done`, and `done()`
//! creates it, under the state lock; a channel never calls into a context). Timers are armed
//! and cancelled outside the state lock. Hooks run with no lock held.
//!
//! # Dropping the cancel handle cancels
//!
//! [`CancelHandle`] (and [`CancelCauseHandle`]) cancel their context when dropped. Go asks every
//! caller to `defer cancel()` (and `go vet` reports a lost one) because an uncancelled child
//! stays in its parent's children map, and its timer in the heap, until the parent ends; RAII
//! makes that `defer` automatic. Keep the handle alive for as long as the work runs (bind it to
//! a named variable such as `_cancel`, never `_`, which drops it at once).

use crate::chan::{bounded, Receiver, Sender};
use crate::g::WaitReason;
use crate::loom::unmodelled::Mutex;
use crate::sync::waitcell::{self, WaitCell, CTX_DONE};
use crate::timer::TimerId;
use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Why a context ended (Go's `context.Canceled` and `context.DeadlineExceeded`).
///
/// # Examples
///
/// ```
/// use gort::context::{self, Error};
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// assert_eq!(ctx.err(), None);
/// cancel.cancel();
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// assert_eq!(Error::Canceled.to_string(), "context canceled");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The context was cancelled (a handle's `cancel`, or an ancestor's).
    Canceled,
    /// The context's deadline passed.
    DeadlineExceeded,
}

pub use Error::{Canceled, DeadlineExceeded};

impl Error {
    /// True for [`DeadlineExceeded`] (Go's `Timeout()` method on it).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::context::DeadlineExceeded.is_timeout());
    /// assert!(!gort::context::Canceled.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::DeadlineExceeded)
    }

    fn code(self) -> u8 {
        match self {
            Error::Canceled => 1,
            Error::DeadlineExceeded => 2,
        }
    }

    fn from_code(c: u8) -> Option<Error> {
        match c {
            1 => Some(Error::Canceled),
            2 => Some(Error::DeadlineExceeded),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

/// A context error as an I/O error (for calls such as `TcpStream::connect_ctx`):
/// [`DeadlineExceeded`] is `ErrorKind::TimedOut`, [`Canceled`] is `ErrorKind::Other`; the
/// context error is the inner error (`e.get_ref()` downcasts to it).
///
/// # Examples
///
/// ```
/// let e = std::io::Error::from(gort::context::DeadlineExceeded);
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// assert!(e.get_ref().unwrap().downcast_ref::<gort::context::Error>().is_some());
/// ```
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = match e {
            Error::DeadlineExceeded => std::io::ErrorKind::TimedOut,
            Error::Canceled => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// Why a context was cancelled, as given to [`CancelCauseHandle::cancel`] or
/// [`with_deadline_cause`] (Go's `context.Cause`); shared by the context and its descendants.
///
/// # Examples
///
/// ```
/// use gort::context::{self, Cause};
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// cancel.cancel(std::io::Error::other("disk full"));
/// let c: Cause = ctx.cause().unwrap();
/// assert!(c.downcast_ref::<std::io::Error>().is_some());
/// ```
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A context: carries a cancellation signal, maybe a deadline, and values, down a tree of work
/// (Go's `context.Context`). Cheap to clone (a reference count); `Send + Sync`.
///
/// Make one with [`background`], derive children with [`with_cancel`], [`with_timeout`],
/// [`with_deadline`], [`with_value`], [`without_cancel`]. Cancelling a context ends it and every
/// context derived from it.
///
/// # Examples
///
/// ```
/// use gort::context;
/// use std::time::Duration;
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
/// let worker = {
///     let ctx = ctx.clone();
///     gort::spawn(move || {
///         let done = ctx.done();
///         gort::select! {
///             recv(done) -> _ => ctx.err(),
///         }
///     })
/// };
/// assert_eq!(worker.join().unwrap(), Some(context::DeadlineExceeded));
/// ```
#[derive(Clone)]
pub struct Context {
    node: Arc<Node>,
}

pub(crate) struct Node {
    /// The context this one was derived from (`None` only for `Background`). Keeps the chain
    /// alive for value lookups and for the canceler below.
    parent: Option<Context>,
    kind: Kind,
    /// The deadline, inherited or own (immutable).
    deadline: Option<Instant>,
    /// For non-`Cancel` nodes: the nearest `Cancel` node above (`None`: never cancelled). A
    /// `Cancel` node is its own canceler (see `Context::canceler`).
    canceler: Option<Arc<Node>>,
}

enum Kind {
    Background,
    Cancel(CancelCtx),
    Value {
        value: Box<dyn Any + Send + Sync>,
        type_name: &'static str,
    },
    WithoutCancel,
}

/// Set in `CancelCtx::code` once `done` is closed.
const CLOSED: u8 = 0x80;

struct CancelCtx {
    /// `Error::code` of the error, 0 while running; `| CLOSED` once `done` is closed. Written
    /// under `state`'s lock (Release), read without it (Acquire) by `err`.
    code: AtomicU8,
    state: Mutex<CancelState>,
    /// The done channel, made on first use (under `state`'s lock).
    done: OnceLock<Receiver<()>>,
    /// This node's `Key` in its parent canceler's `children` (0: not registered). Written and
    /// read under the *parent's* state lock (Relaxed: the lock orders them).
    reg: AtomicU64,
    /// Made by `with_deadline` (for `Display`).
    timed: bool,
}

struct CancelState {
    err: Option<Error>,
    /// The cause given with the first cancellation (`None`: none given; `cause()` then reports
    /// the error, so a plain cancel shares nothing down the tree).
    cause: Option<Cause>,
    /// The only sender of `done`, until cancel closes it.
    tx: Option<Sender<()>>,
    children: Slab,
    timer: Option<TimerId>,
}

/// A registered dependant of a `Cancel` node.
enum Child {
    /// A derived `Cancel` node: cancelled with its parent.
    Ctx(Arc<Node>),
    /// Code to run when the node ends (after-funcs, blocked waits): short, never blocking.
    Hook(Box<dyn FnOnce(Error) + Send>),
}

/// Where a child sits in a slab: its slot and the id it was given (slots are reused; ids are
/// not, modulo 2^32), packed in one word so that a child can keep it in an atomic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key(u64);

impl Key {
    fn new(slot: u32, id: u32) -> Key {
        Key(u64::from(slot) << 32 | u64::from(id))
    }
    fn slot(self) -> usize {
        (self.0 >> 32) as usize
    }
    fn id(self) -> u32 {
        self.0 as u32
    }
}

/// Children of a `Cancel` node: O(1) insert and remove by key, vacant slots chained through
/// `free` (a small node: most contexts never have children).
#[derive(Default)]
struct Slab {
    entries: Vec<Entry>,
    /// First vacant slot + 1 (0: none).
    free: u32,
    next_id: u32,
    len: u32,
}

enum Entry {
    Used(u32, Child),
    /// Vacant; the next vacant slot + 1 (0: none).
    Vacant(u32),
}

impl Slab {
    fn insert(&mut self, c: Child) -> Key {
        // Never 0, so that no key is 0 (a child's "not registered").
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        let id = self.next_id;
        self.len += 1;
        let slot = match self.free {
            0 => {
                self.entries.push(Entry::Used(id, c));
                self.entries.len() - 1
            }
            f => {
                let s = f as usize - 1;
                if let Entry::Vacant(next) = self.entries[s] {
                    self.free = next;
                }
                self.entries[s] = Entry::Used(id, c);
                s
            }
        };
        let slot = u32::try_from(slot).expect("context: more than 2^32 children");
        Key::new(slot, id)
    }

    fn remove(&mut self, k: Key) -> Option<Child> {
        match self.entries.get(k.slot()) {
            Some(Entry::Used(id, _)) if *id == k.id() => {}
            _ => return None,
        }
        self.len -= 1;
        let e = std::mem::replace(&mut self.entries[k.slot()], Entry::Vacant(self.free));
        self.free = k.slot() as u32 + 1;
        match e {
            Entry::Used(_, c) => Some(c),
            Entry::Vacant(_) => None,
        }
    }

    fn drain(self) -> impl Iterator<Item = Child> {
        self.entries.into_iter().filter_map(|e| match e {
            Entry::Used(_, c) => Some(c),
            Entry::Vacant(_) => None,
        })
    }
}

impl CancelCtx {
    fn new(timed: bool) -> CancelCtx {
        CancelCtx {
            code: AtomicU8::new(0),
            state: Mutex::new(CancelState {
                err: None,
                cause: None,
                tx: None,
                children: Slab::default(),
                timer: None,
            }),
            done: OnceLock::new(),
            reg: AtomicU64::new(0),
            timed,
        }
    }

    fn err(&self) -> Option<Error> {
        // Acquire: pairs with the Release stores in `cancel_one`.
        let c = self.code.load(Ordering::Acquire);
        if c != 0 && c & CLOSED == 0 {
            // The canceller is closing `done` under the lock: wait for it, so that an error
            // seen here implies `done` is closed (Go's TestContextErrDoneRace).
            drop(self.state.lock());
        }
        Error::from_code(c & !CLOSED)
    }

    fn done(&self) -> &Receiver<()> {
        if let Some(r) = self.done.get() {
            return r;
        }
        let mut st = self.state.lock();
        self.done.get_or_init(|| {
            let (tx, rx) = bounded(0);
            if st.err.is_some() {
                tx.close(); // already over: a closed channel (Go's `closedchan`)
            } else {
                st.tx = Some(tx);
            }
            rx
        })
    }
}

impl Node {
    fn cc(&self) -> &CancelCtx {
        match &self.kind {
            Kind::Cancel(c) => c,
            _ => unreachable!("context: a canceler that is not a Cancel node"),
        }
    }
}

impl Drop for Node {
    /// Drops the parent chain iteratively: a chain of 100,000 contexts must not recurse 100,000
    /// frames deep when its last handle goes.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(ctx) = next {
            next = match Arc::into_inner(ctx.node) {
                Some(mut n) => n.parent.take(),
                None => None,
            };
        }
    }
}

/// Cancels `node` and its subtree (module docs, steps 1-4).
fn cancel_tree(node: &Arc<Node>, err: Error, cause: Option<Cause>, remove_from_parent: bool) {
    let mut hooks = Vec::new();
    let mut work = Vec::new();
    if cancel_one(node, err, &cause, &mut work, &mut hooks) {
        while let Some(n) = work.pop() {
            cancel_one(&n, err, &cause, &mut work, &mut hooks);
        }
        if remove_from_parent {
            remove_child(node);
        }
    }
    for h in hooks {
        h(err);
    }
}

/// Steps 1-2 for one node; pushes its children. False if it had ended already.
fn cancel_one(
    node: &Arc<Node>,
    err: Error,
    cause: &Option<Cause>,
    work: &mut Vec<Arc<Node>>,
    hooks: &mut Vec<Box<dyn FnOnce(Error) + Send>>,
) -> bool {
    let cc = node.cc();
    let (children, timer) = {
        let mut st = cc.state.lock();
        if st.err.is_some() {
            return false;
        }
        st.err = Some(err);
        st.cause = cause.clone();
        // Release (both): pair with the Acquire load in `CancelCtx::err`. The error is
        // published before `done` closes, so a G woken by the close sees it; CLOSED after, so
        // `err` can tell whether the close is still under way (then it waits for this lock).
        if let Some(tx) = st.tx.take() {
            cc.code.store(err.code(), Ordering::Release);
            tx.close();
        }
        cc.code.store(err.code() | CLOSED, Ordering::Release);
        (std::mem::take(&mut st.children), st.timer.take())
    };
    if let Some(t) = timer {
        crate::timer::cancel(t);
    }
    if children.len > 0 {
        for c in children.drain() {
            match c {
                Child::Ctx(n) => work.push(n),
                Child::Hook(h) => hooks.push(h),
            }
        }
    }
    true
}

/// Step 4: takes `node` out of its parent canceler's slab.
fn remove_child(node: &Arc<Node>) {
    let Some(parent) = node.parent.as_ref().and_then(|p| p.canceler()) else {
        return;
    };
    let mut pst = parent.cc().state.lock();
    let removed = match node.cc().reg.swap(0, Ordering::Relaxed) {
        0 => None,
        k => pst.children.remove(Key(k)),
    };
    drop(pst);
    drop(removed); // outside the lock
}

/// Go's `propagateCancel`: registers the new `Cancel` node `child` with `parent`'s canceler, or
/// cancels it at once if that has ended.
fn propagate(parent: &Context, child: &Arc<Node>) {
    let Some(p) = parent.canceler() else { return };
    let mut st = p.cc().state.lock();
    if let Some(err) = st.err {
        let cause = st.cause.clone();
        drop(st);
        cancel_tree(child, err, cause, false);
        return;
    }
    let k = st.children.insert(Child::Ctx(child.clone()));
    child.cc().reg.store(k.0, Ordering::Relaxed);
}

fn new_cancel_node(parent: &Context, deadline: Option<Instant>, timed: bool) -> Arc<Node> {
    let node = Arc::new(Node {
        parent: Some(parent.clone()),
        kind: Kind::Cancel(CancelCtx::new(timed)),
        deadline,
        canceler: None,
    });
    propagate(parent, &node);
    node
}

/// Registration of a hook with a context (see [`Context::on_done`]).
#[derive(Debug)]
pub(crate) enum Hook {
    /// The context had ended: the hook ran already, on the caller.
    Ran,
    /// The context can never end: the hook was dropped.
    Never,
    /// Registered with this canceler under this key.
    Registered(Arc<Node>, Key),
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Node { .. }")
    }
}

static BACKGROUND: OnceLock<Context> = OnceLock::new();

/// The root context: never cancelled, no deadline, no values (Go's `context.Background`).
///
/// # Examples
///
/// ```
/// let ctx = gort::context::background();
/// assert_eq!(ctx.err(), None);
/// assert_eq!(ctx.deadline(), None);
/// assert_eq!(ctx.to_string(), "context.Background");
/// ```
pub fn background() -> Context {
    BACKGROUND
        .get_or_init(|| Context {
            node: Arc::new(Node {
                parent: None,
                kind: Kind::Background,
                deadline: None,
                canceler: None,
            }),
        })
        .clone()
}

/// A child of `parent` that ends when its handle's `cancel` is called or dropped, or when
/// `parent` ends, whichever is first (Go's `context.WithCancel`).
///
/// Dropping the [`CancelHandle`] cancels (module docs: it is Go's `defer cancel()`), so keep it
/// bound to a variable for as long as the work runs.
///
/// # Examples
///
/// ```
/// use gort::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let h = {
///     let ctx = ctx.clone();
///     gort::spawn(move || {
///         let done = ctx.done();
///         let _ = done.recv(); // closed by cancel
///         ctx.err()
///     })
/// };
/// cancel.cancel();
/// assert_eq!(h.join().unwrap(), Some(context::Canceled));
/// ```
#[must_use = "dropping the CancelHandle cancels the context at once"]
pub fn with_cancel(parent: &Context) -> (Context, CancelHandle) {
    let node = new_cancel_node(parent, parent.deadline(), false);
    (Context { node: node.clone() }, CancelHandle { node })
}

/// Like [`with_cancel`], but the handle's `cancel` records a cause, which [`Context::cause`]
/// reports on this context and its descendants (Go's `context.WithCancelCause`).
///
/// # Examples
///
/// ```
/// use gort::context;
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// cancel.cancel("upstream went away");
/// assert_eq!(ctx.err(), Some(context::Canceled));
/// assert_eq!(ctx.cause().unwrap().to_string(), "upstream went away");
/// ```
#[must_use = "dropping the CancelCauseHandle cancels the context at once"]
pub fn with_cancel_cause(parent: &Context) -> (Context, CancelCauseHandle) {
    let node = new_cancel_node(parent, parent.deadline(), false);
    (Context { node: node.clone() }, CancelCauseHandle { node })
}

/// A child of `parent` that also ends, with [`DeadlineExceeded`], at `deadline` (Go's
/// `context.WithDeadline`). If `parent`'s deadline is earlier this is [`with_cancel`]. The
/// deadline costs one runtime timer (no G), released when the context ends.
///
/// # Examples
///
/// ```
/// use gort::context;
/// use std::time::{Duration, Instant};
/// let d = Instant::now() + Duration::from_millis(2);
/// let (ctx, _cancel) = context::with_deadline(&context::background(), d);
/// assert_eq!(ctx.deadline(), Some(d));
/// let _ = ctx.done().recv();
/// assert_eq!(ctx.err(), Some(context::DeadlineExceeded));
/// ```
#[must_use = "dropping the CancelHandle cancels the context at once"]
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelHandle) {
    deadline_ctx(parent, deadline, None)
}

/// [`with_deadline`] whose expiry records `cause` (Go's `context.WithDeadlineCause`); a
/// `cancel` through the handle records none ([`Canceled`]).
///
/// # Examples
///
/// ```
/// use gort::context;
/// use std::time::Instant;
/// let (ctx, _cancel) =
///     context::with_deadline_cause(&context::background(), Instant::now(), "too slow");
/// assert_eq!(ctx.err(), Some(context::DeadlineExceeded));
/// assert_eq!(ctx.cause().unwrap().to_string(), "too slow");
/// ```
#[must_use = "dropping the CancelHandle cancels the context at once"]
pub fn with_deadline_cause(
    parent: &Context,
    deadline: Instant,
    cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> (Context, CancelHandle) {
    deadline_ctx(parent, deadline, Some(Arc::from(cause.into())))
}

/// `with_deadline(parent, now + timeout)` (Go's `context.WithTimeout`).
///
/// # Examples
///
/// ```
/// use gort::context;
/// use std::time::Duration;
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
/// let _ = ctx.done().recv();
/// assert!(ctx.err().unwrap().is_timeout());
/// ```
#[must_use = "dropping the CancelHandle cancels the context at once"]
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelHandle) {
    deadline_ctx(parent, crate::timer::deadline_after(timeout), None)
}

/// `with_deadline_cause(parent, now + timeout, cause)` (Go's `context.WithTimeoutCause`).
///
/// # Examples
///
/// ```
/// use gort::context;
/// use std::time::Duration;
/// let (ctx, _cancel) =
///     context::with_timeout_cause(&context::background(), Duration::ZERO, "budget spent");
/// assert_eq!(ctx.cause().unwrap().to_string(), "budget spent");
/// ```
#[must_use = "dropping the CancelHandle cancels the context at once"]
pub fn with_timeout_cause(
    parent: &Context,
    timeout: Duration,
    cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> (Context, CancelHandle) {
    deadline_ctx(
        parent,
        crate::timer::deadline_after(timeout),
        Some(Arc::from(cause.into())),
    )
}

fn deadline_ctx(parent: &Context, d: Instant, cause: Option<Cause>) -> (Context, CancelHandle) {
    if matches!(parent.deadline(), Some(cur) if cur < d) {
        // The parent ends first anyway (Go: "The current deadline is already sooner").
        return with_cancel(parent);
    }
    let node = new_cancel_node(parent, Some(d), true);
    if d <= crate::timer::now() {
        cancel_tree(&node, DeadlineExceeded, cause, true);
    } else {
        // Armed outside the node's lock; a cancel that raced ahead leaves nothing to store it
        // in, and we take the timer back.
        let n = node.clone();
        let id = crate::timer::add(
            d,
            Box::new(move || cancel_tree(&n, DeadlineExceeded, cause, true)),
        );
        let mut st = node.cc().state.lock();
        if st.err.is_none() {
            st.timer = Some(id);
        } else {
            drop(st);
            crate::timer::cancel(id);
        }
    }
    (Context { node: node.clone() }, CancelHandle { node })
}

/// A child of `parent` carrying `value`, found by [`Context::value::<T>`](Context::value)
/// (Go's `context.WithValue`, keyed by type: wrap values in a newtype of your own to keep them
/// apart from other packages'). Cancellation and deadline are `parent`'s.
///
/// # Examples
///
/// ```
/// use gort::context;
/// #[derive(Debug, PartialEq)]
/// struct RequestId(u64);
/// let ctx = context::with_value(&context::background(), RequestId(7));
/// let child = context::with_value(&ctx, "other value");
/// assert_eq!(child.value::<RequestId>(), Some(&RequestId(7)));
/// assert_eq!(child.value::<u32>(), None);
/// ```
pub fn with_value<T: Any + Send + Sync>(parent: &Context, value: T) -> Context {
    Context {
        node: Arc::new(Node {
            parent: Some(parent.clone()),
            kind: Kind::Value {
                value: Box::new(value),
                type_name: std::any::type_name::<T>(),
            },
            deadline: parent.deadline(),
            canceler: parent.canceler().cloned(),
        }),
    }
}

/// A child of `parent` with `parent`'s values but none of its ending: never cancelled, no
/// deadline, no cause (Go's `context.WithoutCancel`), for work that must outlive its request.
///
/// # Examples
///
/// ```
/// use gort::context;
/// let (ctx, cancel) = context::with_cancel(&context::with_value(&context::background(), 5u8));
/// let detached = context::without_cancel(&ctx);
/// cancel.cancel();
/// assert_eq!(detached.err(), None);
/// assert_eq!(detached.value::<u8>(), Some(&5));
/// ```
pub fn without_cancel(parent: &Context) -> Context {
    Context {
        node: Arc::new(Node {
            parent: Some(parent.clone()),
            kind: Kind::WithoutCancel,
            deadline: None,
            canceler: None,
        }),
    }
}

/// Arranges for `f` to run in its own G once `ctx` ends (at once if it has), unless stopped
/// first (Go's `context.AfterFunc`). Dropping the returned handle does not stop `f`.
///
/// # Examples
///
/// ```
/// use gort::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let (tx, rx) = gort::chan::bounded(1);
/// let _stop = context::after_func(&ctx, move || tx.send("cleaned up").unwrap());
/// cancel.cancel();
/// assert_eq!(rx.recv(), Ok("cleaned up"));
/// ```
pub fn after_func<F>(ctx: &Context, f: F) -> AfterFuncHandle
where
    F: FnOnce() + Send + 'static,
{
    let st = Arc::new(AfterFuncState {
        started: AtomicU8::new(AF_PENDING),
        f: Mutex::new(Some(Box::new(f))),
    });
    let s2 = st.clone();
    let hook = ctx.on_done(move |_| s2.start());
    AfterFuncHandle {
        st,
        hook: Mutex::new(Some(hook)),
    }
}

const AF_PENDING: u8 = 0;
const AF_STARTED: u8 = 1;
const AF_STOPPED: u8 = 2;

struct AfterFuncState {
    /// `AF_*`; the one CAS out of `AF_PENDING` decides between running and stopping.
    started: AtomicU8,
    f: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl AfterFuncState {
    fn start(&self) {
        if self
            .started
            .compare_exchange(AF_PENDING, AF_STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let f = self.f.lock().take();
            if let Some(f) = f {
                crate::join::spawn_detached(f);
            }
        }
    }
}

/// Stops an [`after_func`] (Go's `stop` function). Dropping it leaves `f` armed.
///
/// # Examples
///
/// ```
/// use gort::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let stop = context::after_func(&ctx, || unreachable!());
/// assert!(stop.stop()); // f will never run
/// cancel.cancel();
/// assert!(!stop.stop()); // already stopped
/// ```
pub struct AfterFuncHandle {
    st: Arc<AfterFuncState>,
    hook: Mutex<Option<Hook>>,
}

impl AfterFuncHandle {
    /// Stops `f` from running: true if this call stopped it; false if it had started (it is
    /// not waited for) or was stopped already.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// let (tx, rx) = gort::chan::bounded(1);
    /// let stop = context::after_func(&ctx, move || tx.send(()).unwrap());
    /// cancel.cancel();
    /// rx.recv().unwrap();
    /// assert!(!stop.stop()); // f ran
    /// ```
    pub fn stop(&self) -> bool {
        if self
            .st
            .started
            .compare_exchange(AF_PENDING, AF_STOPPED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let hook = self.hook.lock().take();
        if let Some(h) = hook {
            remove_hook(h);
        }
        drop(self.st.f.lock().take());
        true
    }
}

impl fmt::Debug for AfterFuncHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.st.started.load(Ordering::Relaxed) {
            AF_PENDING => "pending",
            AF_STARTED => "started",
            _ => "stopped",
        };
        f.debug_struct("AfterFuncHandle").field("f", &s).finish()
    }
}

/// Removes a hook registered with [`Context::on_done`]; true if it was removed before it ran.
pub(crate) fn remove_hook(h: Hook) -> bool {
    match h {
        Hook::Registered(n, k) => {
            let removed = n.cc().state.lock().children.remove(k);
            removed.is_some() // dropped after the lock
        }
        Hook::Ran | Hook::Never => false,
    }
}

impl Context {
    /// The nearest `Cancel` node at or above this one.
    fn canceler(&self) -> Option<&Arc<Node>> {
        match self.node.kind {
            Kind::Cancel(_) => Some(&self.node),
            _ => self.node.canceler.as_ref(),
        }
    }

    /// A channel that is closed when this context ends (Go's `ctx.Done()`): use it in
    /// `select!`. For a context that can never end (`background`, `without_cancel`) it is a
    /// channel nothing is ever sent on and that is never closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// use std::time::Duration;
    /// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
    /// let (_tx, work) = gort::chan::bounded::<u32>(0);
    /// let done = ctx.done();
    /// let r = gort::select! {
    ///     recv(work) -> v => v.ok(),
    ///     recv(done) -> _ => None,
    /// };
    /// assert_eq!(r, None);
    /// ```
    pub fn done(&self) -> &Receiver<()> {
        match self.canceler() {
            Some(n) => n.cc().done(),
            None => never(),
        }
    }

    /// `None` while the context runs; then why it ended (Go's `ctx.Err()`). Once it returns
    /// `Some`, [`done`](Self::done) is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// assert_eq!(ctx.err(), None);
    /// drop(cancel); // dropping the handle cancels
    /// assert_eq!(ctx.err(), Some(context::Canceled));
    /// ```
    pub fn err(&self) -> Option<Error> {
        self.canceler().and_then(|n| n.cc().err())
    }

    /// Why the context ended (Go's `context.Cause(ctx)`): the cause given to the first
    /// cancellation of this context or an ancestor ([`CancelCauseHandle::cancel`], a
    /// `*_cause` deadline), else the error itself as a cause. `None` while it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// let (parent, cancel) = context::with_cancel_cause(&context::background());
    /// let (child, _c) = context::with_cancel(&parent);
    /// assert!(child.cause().is_none());
    /// cancel.cancel("shutting down");
    /// assert_eq!(child.cause().unwrap().to_string(), "shutting down");
    /// ```
    pub fn cause(&self) -> Option<Cause> {
        let n = self.canceler()?;
        let st = n.cc().state.lock();
        let err = st.err?;
        // No cause given: the error is the cause (Go's `cancel(nil)`).
        Some(st.cause.clone().unwrap_or_else(|| Arc::new(err)))
    }

    /// The instant the context ends by itself, if it has one (Go's `ctx.Deadline()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// use std::time::Duration;
    /// let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_secs(60));
    /// let (child, _c2) = context::with_cancel(&ctx);
    /// assert_eq!(child.deadline(), ctx.deadline());
    /// assert!(ctx.deadline().is_some());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }

    /// The nearest value of type `T` set with [`with_value`] on this context or an ancestor
    /// (Go's `ctx.Value(key)`, where the type is the key).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// struct User(&'static str);
    /// let ctx = context::with_value(&context::background(), User("ann"));
    /// let ctx = context::with_value(&ctx, User("bob")); // shadows
    /// assert_eq!(ctx.value::<User>().unwrap().0, "bob");
    /// ```
    pub fn value<T: Any>(&self) -> Option<&T> {
        let mut n: &Node = &self.node;
        loop {
            if let Kind::Value { value, .. } = &n.kind {
                if let Some(v) = value.downcast_ref::<T>() {
                    return Some(v);
                }
            }
            n = &n.parent.as_ref()?.node;
        }
    }

    /// Registers `f` to run (synchronously, on the cancelling thread, with no lock held) when
    /// this context ends; runs it at once if it has. For the engine's cancellable waits: `f`
    /// must be short and must not block.
    pub(crate) fn on_done(&self, f: impl FnOnce(Error) + Send + 'static) -> Hook {
        let Some(n) = self.canceler() else {
            return Hook::Never;
        };
        let mut st = n.cc().state.lock();
        if let Some(err) = st.err {
            drop(st);
            f(err);
            return Hook::Ran;
        }
        let k = st.children.insert(Child::Hook(Box::new(f)));
        Hook::Registered(n.clone(), k)
    }

    /// Number of registered children (cancellable contexts and hooks); for tests of the
    /// linkage (Go's `XTestCancelRemoves`).
    #[cfg(test)]
    fn children(&self) -> usize {
        self.canceler()
            .map_or(0, |n| n.cc().state.lock().children.len as usize)
    }
}

/// The done channel of contexts that never end: never sent on, never closed (its sender lives
/// in this static).
fn never() -> &'static Receiver<()> {
    static NEVER: OnceLock<(Sender<()>, Receiver<()>)> = OnceLock::new();
    &NEVER.get_or_init(|| bounded(0)).1
}

impl Default for Context {
    /// [`background`].
    fn default() -> Context {
        background()
    }
}

/// Go's `String()`: `context.Background.WithCancel`, `.WithDeadline([in 1.2s])`,
/// `.WithValue(type)`, `.WithoutCancel`.
impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Iteratively, root first (a long chain must not recurse).
        let mut chain = Vec::new();
        let mut n: Option<&Node> = Some(&self.node);
        while let Some(x) = n {
            chain.push(x);
            n = x.parent.as_ref().map(|p| &*p.node);
        }
        for (i, x) in chain.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match &x.kind {
                Kind::Background => f.write_str("context.Background")?,
                Kind::Cancel(c) if c.timed => {
                    let left = x
                        .deadline
                        .map(|d| d.saturating_duration_since(crate::timer::now()))
                        .unwrap_or_default();
                    write!(f, "WithDeadline([in {left:?}])")?
                }
                Kind::Cancel(_) => f.write_str("WithCancel")?,
                Kind::Value { type_name, .. } => write!(f, "WithValue({type_name})")?,
                Kind::WithoutCancel => f.write_str("WithoutCancel")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("name", &format_args!("{self}"))
            .field("err", &self.err())
            .finish()
    }
}

/// Cancels a context from [`with_cancel`], [`with_deadline`] or [`with_timeout`] (Go's
/// `CancelFunc`). **Dropping it cancels too** (the module docs say why); call
/// [`cancel`](Self::cancel) to end the work early, or let the handle go out of scope when it is
/// done.
///
/// # Examples
///
/// ```
/// use gort::context;
/// let bg = context::background();
/// let ctx = {
///     let (ctx, _cancel) = context::with_cancel(&bg);
///     assert_eq!(ctx.err(), None);
///     ctx
/// }; // `_cancel` dropped here: Go's `defer cancel()`
/// assert_eq!(ctx.err(), Some(context::Canceled));
/// ```
pub struct CancelHandle {
    node: Arc<Node>,
}

impl CancelHandle {
    /// Ends the context and its descendants with [`Canceled`] (no effect if it has ended).
    /// Returns after every descendant's `err()` is set and `done()` closed; it does not wait
    /// for the work they run.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// let (child, _c) = context::with_cancel(&ctx);
    /// cancel.cancel();
    /// cancel.cancel(); // idempotent
    /// assert_eq!(child.err(), Some(context::Canceled));
    /// ```
    pub fn cancel(&self) {
        if self.node.cc().err().is_none() {
            cancel_tree(&self.node, Canceled, None, true);
        }
        // Else it has ended, and whoever ended it unlinked it: its own cancel or deadline
        // removed it from its parent, its parent's cancel emptied the parent's slab.
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("CancelHandle { .. }")
    }
}

/// Cancels a context from [`with_cancel_cause`] with a cause (Go's `CancelCauseFunc`).
/// Dropping it cancels with no cause ([`Canceled`]), as [`CancelHandle`] does.
///
/// # Examples
///
/// ```
/// use gort::context;
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// drop(cancel);
/// assert_eq!(ctx.cause().unwrap().to_string(), "context canceled");
/// ```
pub struct CancelCauseHandle {
    node: Arc<Node>,
}

impl CancelCauseHandle {
    /// Ends the context and its descendants with [`Canceled`] and records `cause` (only the
    /// first cancellation of a context counts).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// #[derive(Debug)]
    /// struct Overloaded;
    /// impl std::fmt::Display for Overloaded {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         f.write_str("overloaded")
    ///     }
    /// }
    /// impl std::error::Error for Overloaded {}
    /// let (ctx, cancel) = context::with_cancel_cause(&context::background());
    /// cancel.cancel(Overloaded);
    /// assert!(ctx.cause().unwrap().downcast_ref::<Overloaded>().is_some());
    /// ```
    pub fn cancel(&self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) {
        cancel_tree(&self.node, Canceled, Some(Arc::from(cause.into())), true);
    }

    /// [`cancel`](Self::cancel) with a cause that is shared already (errgroup's error).
    pub(crate) fn cancel_shared(&self, cause: Cause) {
        cancel_tree(&self.node, Canceled, Some(cause), true);
    }
}

impl Drop for CancelCauseHandle {
    fn drop(&mut self) {
        // As `CancelHandle::cancel`: an ended context is unlinked already.
        if self.node.cc().err().is_none() {
            cancel_tree(&self.node, Canceled, None, true);
        }
    }
}

impl fmt::Debug for CancelCauseHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("CancelCauseHandle { .. }")
    }
}

/// Parks the calling G for `d`, or until `ctx` ends (then the context's error, within one
/// scheduling round of the cancel): Go's
/// `select { case <-time.After(d): case <-ctx.Done(): return ctx.Err() }`, with one timer and
/// no channel. A context that has ended already returns at once. On a plain thread it blocks
/// the thread.
///
/// # Examples
///
/// ```
/// use gort::context;
/// use std::time::{Duration, Instant};
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let t = Instant::now();
/// let h = gort::spawn(move || gort::sleep_ctx(&ctx, Duration::from_secs(3600)));
/// gort::sleep(Duration::from_millis(2));
/// cancel.cancel();
/// assert_eq!(h.join().unwrap(), Err(context::Canceled));
/// assert!(t.elapsed() < Duration::from_secs(3600));
/// assert_eq!(gort::sleep_ctx(&context::background(), Duration::from_millis(1)), Ok(()));
/// ```
pub fn sleep_ctx(ctx: &Context, d: Duration) -> Result<(), Error> {
    if let Some(e) = ctx.err() {
        return Err(e);
    }
    if ctx.canceler().is_none() {
        crate::timer::sleep(d);
        return Ok(());
    }
    if d.is_zero() {
        return Ok(());
    }
    let cell = WaitCell::new(0);
    let deadline = crate::timer::deadline_after(d);
    match waitcell::wait(&cell, WaitReason::Sleep, Some(deadline), Some(ctx)) {
        CTX_DONE => Err(ctx
            .err()
            .expect("context wait ended without the context ending")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    //! The linkage tests of Go's src/context/context_test.go, which look at a context's
    //! children (unexported in Go too); the rest are in tests/context.rs.
    use super::*;

    // Go: context_test.go, XTestParentFinishesChild
    #[test]
    fn parent_finishes_child() {
        let (parent, cancel) = with_cancel(&background());
        let (cancel_child, _stop1) = with_cancel(&parent);
        let value_child = with_value(&parent, "value");
        let (timer_child, _stop2) = with_timeout(&value_child, Duration::from_secs(3_600_000));
        let _after = after_func(&parent, || {});
        for c in [&parent, &cancel_child, &value_child, &timer_child] {
            assert!(c.done().try_recv().is_err() && !c.done().is_closed());
        }
        // The parent's children are the three cancellable ones.
        assert_eq!(parent.children(), 3);
        // Each links to the parent as its canceler (Go's parentCancelCtx).
        for c in [&cancel_child, &timer_child] {
            let up = c.node.parent.as_ref().unwrap().canceler().unwrap();
            assert!(Arc::ptr_eq(up, &parent.node));
        }
        cancel.cancel();
        assert_eq!(parent.children(), 0, "cancel didn't clear the children");
        for c in [&parent, &cancel_child, &value_child, &timer_child] {
            assert!(c.done().is_closed());
            assert_eq!(c.err(), Some(Canceled));
        }
        // A value child of a cancelled parent is cancelled.
        let pre = with_value(&parent, "value");
        assert!(pre.done().is_closed());
        assert_eq!(pre.err(), Some(Canceled));
    }

    // Go: context_test.go, XTestChildFinishesFirst
    #[test]
    fn child_finishes_first() {
        let (cancelable, _stop) = with_cancel(&background());
        for parent in [background(), cancelable] {
            let (child, cancel) = with_cancel(&parent);
            assert!(!parent.done().is_closed() && !child.done().is_closed());
            let pc = parent.canceler().is_some();
            if pc {
                assert_eq!(parent.children(), 1);
            }
            cancel.cancel();
            if pc {
                assert_eq!(parent.children(), 0, "child's cancel didn't remove it");
            }
            assert!(child.done().is_closed());
            assert_eq!(child.err(), Some(Canceled));
            assert!(!parent.done().is_closed());
            assert_eq!(parent.err(), None);
        }
    }

    // Go: context_test.go, XTestCancelRemoves
    #[test]
    fn cancel_removes() {
        let (ctx, _c) = with_cancel(&background());
        assert_eq!(ctx.children(), 0);
        let (_child, cancel) = with_cancel(&ctx);
        assert_eq!(ctx.children(), 1);
        cancel.cancel();
        assert_eq!(ctx.children(), 0);

        let (ctx, _c) = with_cancel(&background());
        let (_child, cancel) = with_timeout(&ctx, Duration::from_secs(3600));
        assert_eq!(ctx.children(), 1);
        cancel.cancel();
        assert_eq!(ctx.children(), 0);

        let (ctx, _c) = with_cancel(&background());
        let stop = after_func(&ctx, || {});
        assert_eq!(ctx.children(), 1);
        assert!(stop.stop());
        assert_eq!(ctx.children(), 0);
    }

    // Go: context_test.go, XTestCustomContextGoroutines (gort has no custom contexts, so no
    // derivation can need a watcher G; what is left to check is the linkage through value
    // nodes and timers, and that dropping handles unlinks).
    #[test]
    fn layered_linkage_and_dropped_handles_unlink() {
        let (ctx1, cancel1) = with_cancel(&background());
        let ctx2 = with_value(&ctx1, 1u8);
        let (ctx3, cancel3) = with_cancel(&ctx2);
        let (ctx4, cancel4) = with_timeout(&ctx3, Duration::from_secs(3600));
        let (ctx5, cancel5) = with_cancel(&ctx4);
        assert_eq!(ctx1.children(), 1);
        assert_eq!(ctx3.children(), 1);
        assert_eq!(ctx4.children(), 1);
        drop(cancel5);
        assert_eq!(ctx4.children(), 0);
        assert_eq!(ctx5.err(), Some(Canceled));
        drop((cancel4, cancel3));
        assert_eq!(ctx1.children(), 0);
        drop(cancel1);
        assert_eq!(ctx2.err(), Some(Canceled));
    }

    #[test]
    fn deep_chain_cancels_and_drops_without_recursion() {
        let (root, cancel) = with_cancel(&background());
        let mut ctx = root.clone();
        let mut handles = Vec::new();
        for _ in 0..100_000 {
            let (c, h) = with_cancel(&ctx);
            handles.push(h);
            ctx = c;
        }
        // On a G's stack (256 KiB) as well as here.
        let leaf = ctx.clone();
        crate::spawn(move || {
            cancel.cancel();
            assert_eq!(leaf.err(), Some(Canceled));
            drop(leaf);
        })
        .join()
        .unwrap();
        drop(handles);
        drop(ctx);
    }
}
