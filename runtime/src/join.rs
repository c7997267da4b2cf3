//! Spawning and joining: `spawn`, `Builder`, `JoinHandle`, and the G's exit protocol.
//!
//! One allocation per spawn: a `Task` holds the user's closure and the join slot, in one task
//! cell (task.rs: counted like an `Arc`, served from a block pool instead of `malloc`) shared by
//! the G (its `Entry`) and the `JoinHandle` (a `RawRef` and the task's join functions).
//! When the closure returns or panics, on the G:
//! 1. the panic (if any) is caught at the G's boundary (a panic never unwinds into the M);
//! 2. the G's G-local values are dropped (on its own stack);
//! 3. the live-G count drops (so `num_goroutine()` is exact once a join returns);
//! 4. the result goes into the join slot and a parked joiner is unparked;
//! 5. the G lets go of its task: for a detached G (its `JoinHandle` dropped) that was the last
//!    reference, so the result (or the panic payload) is dropped here, still on the G;
//! 6. G-local values that step 5's destructors created are dropped, again on the G.
//!
//! # The boundary (no panic reaches an M)
//!
//! Every piece of user code the runtime runs for a G runs inside a `catch_unwind`: the closure
//! (step 1), each G-local value's destructor (steps 2 and 6, one value at a time, so one
//! panicking destructor does not leak the rest), the result's and the payload's destructors
//! (step 5), and the closure's destructor when the G never runs (`Runnable::abandon`, on the
//! M). A panic caught in steps 2, 5 and 6 is reported on stderr naming the G (the panic hook has
//! already printed its message and location) and the G ends normally: its M, its P and the
//! runtime's counts are untouched. A payload whose own destructor panics is leaked with a
//! message rather than dropped again. The engine's loop (`m_main`) aborts with a message if
//! anything unwinds out of it anyway: an M is never lost silently. A panic hook runs inside
//! std's panic machinery, before any unwinding: one that parks is handled by pinning the G
//! (sched.rs, "Unwinding Gs keep their M"), but one that panics itself makes std abort the
//! process ("thread panicked while processing panic"), as it does for threads; nothing can
//! catch that.
//!
//! If the G never runs because it could not get a stack, the engine calls
//! `Runnable::abandon`, which does steps 3 and 4 with an error payload that says why.

use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::Mutex;
use crate::park::{park_with, Unparker};
use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::task::{RawRef, Runnable, TaskPtr};

/// The joiner's view of a task: its functions, with both the closure's and the result's types
/// erased (the result comes back through an out pointer, so the table names no type and can be
/// a `'static` constant while `JoinHandle<T>` keeps no `T: 'static` bound).
struct JoinVTable {
    /// True once the result is in (Acquire: pairs with `complete`'s Release store).
    finished: unsafe fn(&RawRef) -> bool,
    /// Parks the caller until G `goid` finished, then moves its result into `out` (a
    /// `*mut MaybeUninit<std::thread::Result<T>>`); `site` is the user's `join` call (the
    /// dump's wait site).
    wait_and_take: unsafe fn(&RawRef, u64, crate::g::Site, *mut ()),
}

fn join_vtable<F, T>() -> &'static JoinVTable
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    &JoinVTable {
        finished: finished_erased::<F, T>,
        wait_and_take: wait_erased::<F, T>,
    }
}

/// # Safety
/// `r` refers to a cell made as a `Task<F, T>` (`Builder::spawn_g`).
unsafe fn finished_erased<F, T>(r: &RawRef) -> bool
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: caller's contract.
    unsafe { r.work::<Task<F, T>>() }.finished()
}

/// # Safety
/// As for [`finished_erased`], and `out` points to a writable
/// `MaybeUninit<std::thread::Result<T>>`.
unsafe fn wait_erased<F, T>(r: &RawRef, goid: u64, site: crate::g::Site, out: *mut ())
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: caller's contract.
    let res = unsafe { r.work::<Task<F, T>>() }.wait_and_take(goid, site);
    // SAFETY: caller's contract for `out`.
    unsafe { out.cast::<std::thread::Result<T>>().write(res) };
}

/// A task's life, under its mutex (uncontended but for one G and one joiner).
enum State<F, T> {
    /// Spawned, not started: the closure. A joiner that comes now waits in `waiter`.
    Ready(F),
    /// The closure runs on the G.
    Running,
    /// Finished: the result (or panic payload), until the joiner takes it.
    Done(std::thread::Result<T>),
    /// The joiner took the result.
    Taken,
}

struct Inner<F, T> {
    state: State<F, T>,
    /// The parked joiner, if any (at most one: `join` consumes the handle).
    waiter: Option<Unparker>,
}

/// The closure and the join slot of one G, in one cell: an 80-byte pool block (task.rs) for a small
/// closure and result (a unit test holds it to that), which a million queued `JoinHandle`s
/// hold until they are joined.
struct Task<F, T> {
    /// Set (Release) after `state` became `Done`; read (Acquire) by `is_finished` and the
    /// join fast path.
    finished: AtomicBool,
    inner: Mutex<Inner<F, T>>,
}

impl<F, T> Task<F, T> {
    fn new(f: F) -> Task<F, T> {
        Task {
            finished: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                state: State::Ready(f),
                waiter: None,
            }),
        }
    }

    /// Steps 3 and 4 of the exit protocol (module docs).
    fn complete(&self, r: std::thread::Result<T>) {
        crate::sched().ngoroutine.fetch_sub(1, Ordering::Relaxed);
        let waiter = {
            let mut s = self.inner.lock();
            s.state = State::Done(r);
            self.finished.store(true, Ordering::Release);
            s.waiter.take()
        };
        if let Some(w) = waiter {
            w.unpark();
        }
    }
}

impl<F, T> Runnable for Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(this: TaskPtr<Self>) {
        let f = match std::mem::replace(&mut this.inner.lock().state, State::Running) {
            State::Ready(f) => f,
            _ => crate::fatal::fatal!("a green thread ran twice"),
        };
        // Step 1.
        let r = catch_unwind(AssertUnwindSafe(f));
        if let Err(p) = &r {
            // In a synctest bubble an escaped panic fails the run unless a join takes it.
            if crate::bubble::active() {
                crate::bubble::g_panicked(payload_str(&**p));
            }
        }
        // Step 2: G-local values die with the G, on its stack, before the joiner hears of it.
        let me = crate::exiting_g();
        me.drop_locals();
        // Steps 3 and 4.
        this.complete(r);
        // Step 5: if the JoinHandle is gone, this drops the result or the panic payload.
        guarded("the destructor of its result", move || drop(this));
        // Step 6.
        me.drop_locals();
    }

    fn abandon(this: TaskPtr<Self>, why: String) {
        // On the M: the closure never ran, but its captured values have destructors.
        guarded("the destructor of its closure", || {
            drop(std::mem::replace(
                &mut this.inner.lock().state,
                State::Running,
            ))
        });
        this.complete(Err(Box::new(why)));
    }
}

impl<F, T> Task<F, T>
where
    F: Send,
    T: Send,
{
    fn finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    fn wait_and_take(&self, goid: u64, site: crate::g::Site) -> std::thread::Result<T> {
        if !self.finished() {
            park_with(
                crate::bubble::join_reason(goid),
                crate::g::WaitObj::Join(goid),
                site,
                |u| {
                    let mut s = self.inner.lock();
                    if let State::Done(_) = s.state {
                        Some(u)
                    } else {
                        s.waiter = Some(u);
                        None
                    }
                },
            );
        }
        match std::mem::replace(&mut self.inner.lock().state, State::Taken) {
            State::Done(r) => {
                if r.is_err() && crate::bubble::active() {
                    crate::bubble::panic_joined(goid);
                }
                r
            }
            _ => crate::fatal::fatal!("join woke before its G finished"),
        }
    }
}

/// Runs `f`, user code the runtime runs on a G's behalf (a destructor), under the boundary
/// described in the module docs: a panic is reported, naming the running G, and goes no further.
pub(crate) fn guarded(what: &str, f: impl FnOnce()) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
        report_caught(what, p);
    }
}

/// Reports a panic caught by [`guarded`] and disposes of its payload without letting a second
/// panic (from the payload's own destructor) escape.
pub(crate) fn report_caught(what: &str, payload: Box<dyn Any + Send>) {
    let who = match crate::current_info() {
        Some((id, name)) => format!(
            "green thread {id}{}",
            name.map(|n| format!(" '{n}'")).unwrap_or_default()
        ),
        None => "the runtime".to_string(),
    };
    eprintln!(
        "gort: {who}: a panic in {what} was caught at the green thread's boundary ({}); the \
         program goes on",
        payload_str(&*payload)
    );
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        eprintln!("gort: {who}: the panic payload's own destructor panicked too; it is leaked");
        std::mem::forget(again);
    }
}

/// Called by the engine when a G cannot get its stack: prints why, and abandons the G's task so
/// its joiner gets `Err` with the same message.
pub(crate) fn record_spawn_failure(g: &mut crate::g::GRef, e: io::Error) {
    let name = g.name().map(|n| format!(" '{n}'")).unwrap_or_default();
    let msg = format!(
        "gort: green thread {}{name} could not get a stack and did not run: {e}",
        g.id()
    );
    eprintln!("{msg}");
    if let Some(entry) = g.owned().entry.take() {
        entry.abandon(msg);
    }
}

/// An owned permission to join a green thread (wait for it to finish and take its result).
///
/// Dropping a `JoinHandle` detaches the G: it runs on, and its result is dropped when it ends.
///
/// # Examples
///
/// ```
/// let h = gort::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[must_use = "dropping a JoinHandle detaches the green thread; call join() to wait for it"]
pub struct JoinHandle<T> {
    /// The handle's reference to the task cell (a `Task<F, T>` for the `F` of the spawn).
    task: RawRef,
    /// That task's join functions.
    vt: &'static JoinVTable,
    id: u64,
    /// The handle produces one `T`, by value: `fn() -> T` makes it covariant in `T` and
    /// unwind-safe whatever `T` (no `T` is reachable through `&JoinHandle`), promises gort's
    /// `AutoTraitPromises` doctests hold (the `Arc<dyn ..>` this replaced gave neither).
    _result: std::marker::PhantomData<fn() -> T>,
}

// `Send` and `Sync` for every `T`, as std's `JoinHandle` (and the `Arc<dyn ..>` this replaced):
// `RawRef` is both (task.rs), and the handle reaches its task only through `finished` (an
// atomic) and `wait_and_take` (the task's mutex).

impl<T> JoinHandle<T> {
    /// Waits for the G to finish and returns its result, or the payload of its panic in `Err`
    /// (like `std::thread::JoinHandle::join`).
    ///
    /// From a G it parks the G (its M runs other Gs meanwhile); from a plain thread it blocks
    /// the thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort::spawn(|| -> u32 { panic!("boom") });
    /// let err = h.join().unwrap_err();
    /// assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        let mut out = std::mem::MaybeUninit::<std::thread::Result<T>>::uninit();
        // SAFETY: `vt` is the table of the `Task<F, T>` that `task` was made with (`spawn_g`),
        // whose `T` is ours; `out` is a writable slot of that result type.
        unsafe {
            (self.vt.wait_and_take)(
                &self.task,
                self.id,
                std::panic::Location::caller(),
                out.as_mut_ptr().cast(),
            )
        };
        // SAFETY: `wait_and_take` returns only after writing the result (or does not return).
        unsafe { out.assume_init() }
    }

    /// True once the G has finished (its closure returned or panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort::spawn(|| ());
    /// while !h.is_finished() {
    ///     gort::yield_now();
    /// }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        // SAFETY: as in `join`.
        unsafe { (self.vt.finished)(&self.task) }
    }

    /// The G's id (unique for the process's life; the same as `gort::current().id()` inside it).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort::spawn(|| gort::current().id());
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Configures a green thread before spawning it: its name and stack size.
///
/// # Examples
///
/// ```
/// let h = gort::Builder::new()
///     .name("worker")
///     .stack_size(64 * 1024)
///     .spawn(|| gort::current().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until spawn() is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    pinned: bool,
}

impl Builder {
    /// A builder with no name and the default stack size (`GORT_STACK_SIZE`, else 256 KiB).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the G: shown by `gort::current().name()`, scheddetail, panic and overflow messages.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort::Builder::new().name("io").spawn(|| ()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Sets the usable stack size in bytes: at least 16 KiB, at most 1 GiB (Go's limit), rounded
    /// up to a size class (four per doubling, so less than a quarter is added; docs/stacks.md).
    /// The stack is reserved address space: a G pays only for the pages it touches. A size
    /// above 1 GiB makes [`Builder::spawn`] return an `InvalidInput` error.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort::Builder::new().stack_size(1 << 20).spawn(|| ()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Pins the G to one OS thread for its whole life, as if its first act were
    /// [`lock_os_thread`](crate::lock_os_thread): the G runs only on the M that first runs it,
    /// and that M runs no other G until this one ends (then the M goes back to running any G;
    /// unlike a G that ends inside `lock_os_thread`, its thread is not ended). Nested
    /// `lock_os_thread`/`unlock_os_thread` calls inside the G cannot undo the pin.
    ///
    /// This is the remedy for code that touches thread-locals in a function that also blocks
    /// (see [`spawn`], "The one rule Rust cannot check for you"): `rand::thread_rng`, `tracing`
    /// span guards, C libraries with per-thread state. The cost: each time the G blocks, its
    /// M hands the P to another M and sleeps, and each time it wakes, the P comes back through
    /// two thread switches (Go measures ~8 µs against ~0.5 µs for an ordinary park and wake,
    /// golang/go#21827), and every pinned G that is alive holds an OS thread. Pin the few Gs
    /// that need it, not a whole server.
    ///
    /// # Examples
    ///
    /// ```
    /// thread_local! { static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) }; }
    /// let h = gort::Builder::new()
    ///     .pinned(true)
    ///     .spawn(|| {
    ///         let thread = std::thread::current().id();
    ///         for _ in 0..10 {
    ///             CALLS.with(|c| c.set(c.get() + 1)); // a thread-local, between blocking calls
    ///             gort::sleep(std::time::Duration::from_millis(1));
    ///         }
    ///         (thread == std::thread::current().id(), CALLS.with(|c| c.get()))
    ///     })
    ///     .unwrap();
    /// assert_eq!(h.join().unwrap(), (true, 10));
    /// ```
    pub fn pinned(mut self, pinned: bool) -> Builder {
        self.pinned = pinned;
        self
    }

    /// Spawns the G. Errors (instead of panicking) when the stack allocator cannot serve one more
    /// stack (address space, or the `vm.max_map_count` budget of the mprotect fallback).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort::Builder::new().spawn(|| "done").expect("spawn failed");
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let site = std::panic::Location::caller();
        if self.pinned {
            // The pin is the G's first act (see `pinned`).
            return self.spawn_g(
                move || {
                    crate::sched::pin_for_life();
                    f()
                },
                site,
            );
        }
        self.spawn_g(f, site)
    }

    fn spawn_g<F, T>(self, f: F, site: crate::g::Site) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (size, reserved) = self.stack()?;
        let task = TaskPtr::new(Task::new(f));
        let entry = task.entry();
        let name = self.name.map(std::sync::Arc::<str>::from);
        let id = crate::sched().spawn_g(name, size, reserved, entry, site);
        Ok(JoinHandle {
            task: task.into_raw_ref(),
            vt: join_vtable::<F, T>(),
            id,
            _result: std::marker::PhantomData,
        })
    }

    /// The stack size to use, reserved against the pool's budget.
    fn stack(&self) -> io::Result<(usize, bool)> {
        let size = self
            .stack_size
            .unwrap_or(crate::sched().cfg.stack_size)
            .max(crate::env::MIN_STACK_SIZE);
        Ok((size, crate::stack::check_capacity(size)?))
    }

    /// Spawns a G nobody joins (Go's `go f()` exactly): no join slot to fill, no handle. Its
    /// panic is printed (the hook) and dropped. For the toolkit's own Gs (errgroup members,
    /// `WaitGroup::go`, after-funcs), which report through their own state.
    #[track_caller]
    pub(crate) fn spawn_detached<F>(self, f: F) -> io::Result<u64>
    where
        F: FnOnce() + Send + 'static,
    {
        let (size, reserved) = self.stack()?;
        let task = crate::task::Entry::new(Detached {
            f: Mutex::new(Some(f)),
        });
        let name = self.name.map(std::sync::Arc::<str>::from);
        let site = std::panic::Location::caller();
        Ok(crate::sched().spawn_g(name, size, reserved, task, site))
    }
}

/// The closure of a detached G (`Builder::spawn_detached`), in one allocation.
struct Detached<F> {
    /// Taken once, when the G first runs (protected by its mutex, uncontended).
    f: Mutex<Option<F>>,
}

impl<F> Runnable for Detached<F>
where
    F: FnOnce() + Send + 'static,
{
    fn run(this: TaskPtr<Self>) {
        match this.f.lock().take() {
            // The panic hook printed it; nobody joins, so it goes no further (in a synctest
            // bubble it fails the run, as in Go).
            Some(f) => {
                if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
                    if crate::bubble::active() {
                        crate::bubble::g_panicked(payload_str(&*p));
                    }
                }
            }
            None => crate::fatal::fatal!("a green thread ran twice"),
        }
        crate::drop_g_locals();
        crate::sched().ngoroutine.fetch_sub(1, Ordering::Relaxed);
    }

    fn abandon(this: TaskPtr<Self>, _why: String) {
        // On the M: the closure never ran, but its captured values have destructors.
        guarded("the destructor of its closure", || {
            drop(this.f.lock().take())
        });
        crate::sched().ngoroutine.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `Builder::new().spawn_detached(f)`, panicking as [`spawn`] does if no G can be made.
#[track_caller]
pub(crate) fn spawn_detached<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    if let Err(e) = Builder::new().spawn_detached(f) {
        panic!(
            "gort: cannot create a green thread ({} live): {e}",
            crate::num_goroutine()
        )
    }
}

/// Spawns a green thread running `f` and returns a handle to join it (Go's `go f()`).
///
/// The runtime starts on first use. The new G is queued on the current P's `runnext` when called
/// from a G (it runs soon, on this P, unless another P steals it), or on the global queue from a
/// plain thread.
///
/// # The one rule Rust cannot check for you
///
/// A G may resume on a different OS thread after any **blocking point**. So, in a G:
///
/// **Do not touch thread-locals in a function that also blocks** (directly, or through a
/// library that blocks), unless the G is pinned. Not holding a thread-local reference across
/// the blocking call is not enough: the compiler treats the thread as fixed for the whole
/// function, so it may compute a thread-local's address once, before the blocking call, and
/// reuse it after, when the G runs on another thread (this has been seen: `%fs:0` read once
/// before `rx.recv()`, and a second `LOCAL.with(...)` after it returned the old thread's slot).
/// Nor may a `!Send` value whose meaning depends on its thread live across a blocking point.
///
/// The usual culprits: `rand::thread_rng()` (a thread-local generator), `tracing`'s
/// `Span::enter` guard (a thread-local span stack), `RefCell` borrows of a `thread_local!`,
/// `std::sync::MutexGuard` (unlocking on another thread is undefined on some platforms),
/// `std::thread::current()` (it names the M, not the G), and any C library with per-thread
/// state (`errno` is handled by std; OpenSSL error queues, GL contexts are not).
///
/// The blocking points: `JoinHandle::join`; `gort::sleep`, `sleep_until` and timer channels;
/// every channel operation that may wait (`send`, `recv`, `select!`, receiver iterators); the
/// `gort::sync` waits (`Mutex::lock`, `RwLock::read`/`write`, `Condvar::wait`,
/// `WaitGroup::wait`, `Once`/`OnceLock` while another G initialises, `Semaphore::acquire`,
/// `Barrier::wait`) and **dropping a `MutexGuard`** (in starvation mode the unlock hands the lock
/// over and yields); socket calls (`connect`, `accept`, `read`, `write`, DNS lookups);
/// `yield_now` and `preempt_point`; **`spawn`** itself (a G whose P was retaken yields there);
/// and **`blocking` and `block_in_place`** (the G may come back on another M).
///
/// The compiler cannot see stack migration (rust-lang/rust#33368), so it will not stop you. The
/// remedies are API: [`local!`](crate::local!) for per-G state instead of `thread_local!`;
/// gort's own locks (`gort::sync`, whose guards may cross threads); and
/// [`Builder::pinned`]`(true)` (or [`lock_os_thread`](crate::lock_os_thread)) for a G that
/// must use thread-locals or thread-bound C state: it then never leaves its OS thread, at the
/// cost of two thread switches per park and wake. docs/design.md §11 explains why.
///
/// A G that is unwinding from a panic is pinned automatically: std's panic bookkeeping is per
/// thread, so a G that parks in a `Drop` during unwinding keeps its thread until the unwinding
/// ends, and its M runs no other G meanwhile.
///
/// # Panics
///
/// If the stack allocator cannot serve a stack (see [`Builder::spawn`], which returns the error
/// instead); the message names `vm.max_map_count` and the number of live Gs where relevant.
///
/// # Examples
///
/// ```
/// let handles: Vec<_> = (0..10).map(|i| gort::spawn(move || i * i)).collect();
/// let sum: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 285);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).unwrap_or_else(|e| {
        panic!(
            "gort::spawn: cannot create a green thread ({} live): {e}",
            crate::num_goroutine()
        )
    })
}

/// Installs the panic hook that names the green thread (issue 15, item 7: hooks chain).
///
/// * On a G, when the previous hook is std's default, it prints
///   `green thread 7 'worker' panicked at src/main.rs:3:5:` and the message (plus the backtrace
///   when `RUST_BACKTRACE` asks for one): it replaces only std's default message, which would
///   name the M's OS thread instead of the G.
/// * When the program installed its own hook before the runtime started, that hook runs for
///   panics in Gs too, unchanged; it can name the G with `gort::current()`.
/// * Off a G, the previous hook runs unchanged.
///
/// A hook the program installs *after* the runtime started replaces this one, as `set_hook`
/// always does; chaining to the previous hook (`take_hook`) keeps gort's message.
///
/// std offers no way to ask whether a hook is its default, so the previous hook is compared with
/// the one `take_hook` hands back once no hook is set (std's default, boxed in `take_hook` itself,
/// so both boxes share std's vtable; any other hook has its own). The hook cannot be changed while
/// the thread panics (`set_hook` would panic inside the panic), so a runtime started from a
/// destructor during unwinding goes without it.
pub(crate) fn install_panic_hook() {
    if std::thread::panicking() {
        return;
    }
    let prev = std::panic::take_hook();
    let default = std::panic::take_hook(); // no hook is set now: this is std's default
    #[allow(ambiguous_wide_pointer_comparisons)] // comparing the vtable is the point
    let prev_is_default = std::ptr::eq(&*prev as *const _, &*default as *const _);
    drop(default);
    std::panic::set_hook(Box::new(move |info| match crate::current_info() {
        Some((id, name)) if prev_is_default => {
            let name = name.map(|n| format!(" '{n}'")).unwrap_or_default();
            let msg = payload_str(info.payload());
            let loc = info
                .location()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            let bt = std::backtrace::Backtrace::capture();
            let bt = if bt.status() == std::backtrace::BacktraceStatus::Captured {
                format!("\nstack backtrace:\n{bt}")
            } else {
                String::new()
            };
            eprintln!("green thread {id}{name} panicked{loc}:\n{msg}{bt}");
        }
        _ => prev(info),
    }));
}

fn payload_str(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

#[cfg(test)]
mod tests {
    /// What a queued G costs on the heap besides its record (docs/design.md, "What one G
    /// costs"): the task cell of a small closure and result must fit an 80-byte block of the
    /// task pool (task.rs: 16 bytes of header, the reference count and the work's table; the
    /// rest is the task).
    #[test]
    fn a_small_task_fits_an_80_byte_block() {
        // A closure capturing one u64 and returning one, as the spawn_join benchmark spawns.
        fn size_of_task<F, T>(_: &F) -> usize {
            std::mem::size_of::<super::Task<F, T>>()
        }
        let x = 7u64;
        let f = move || x;
        let task = size_of_task::<_, u64>(&f);
        assert!(
            task + crate::task::HEADER_BYTES <= 80,
            "task grew to {task} bytes"
        );
    }
}
