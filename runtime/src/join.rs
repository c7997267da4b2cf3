//! Spawning and joining: `spawn`, `Builder`, `JoinHandle`, and the G's exit protocol.
//!
//! One allocation per spawn: a `Task` holds the user's closure and the join slot, shared (as
//! one `Arc`) by the G (type-erased as `Runnable`) and the `JoinHandle` (as `JoinSide`).
//! When the closure returns or panics, on the G:
//! 1. the panic (if any) is caught at the G's boundary (a panic never unwinds into the M);
//! 2. the G's G-local values are dropped (on its own stack);
//! 3. the live-G count drops (so `num_goroutine()` is exact once a join returns);
//! 4. the result goes into the join slot and a parked joiner is unparked.
//!
//! If the G never runs because it could not get a stack, the engine calls
//! `Runnable::abandon`, which does steps 3 and 4 with an error payload that says why.

use crate::g::WaitReason;
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::Mutex;
use crate::park::{park, Unparker};
use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A G's work, as the engine sees it.
pub(crate) trait Runnable: Send + Sync {
    /// Runs the closure and completes the join slot. Called once, on the G.
    fn run(self: std::sync::Arc<Self>);
    /// The G will never run: complete the join slot with `why`.
    fn abandon(self: std::sync::Arc<Self>, why: String);
}

/// The joiner's view of a task.
trait JoinSide<T>: Send + Sync {
    fn state(&self) -> &JoinState<T>;
}

struct Slot<T> {
    result: Option<std::thread::Result<T>>,
    waiter: Option<Unparker>,
}

struct JoinState<T> {
    /// Set (Release) after `slot.result` is filled; read (Acquire) by `is_finished` and the
    /// join fast path.
    finished: AtomicBool,
    slot: Mutex<Slot<T>>,
}

impl<T> JoinState<T> {
    fn complete(&self, r: std::thread::Result<T>) {
        crate::sched().ngoroutine.fetch_sub(1, Ordering::Relaxed);
        let waiter = {
            let mut s = self.slot.lock();
            s.result = Some(r);
            self.finished.store(true, Ordering::Release);
            s.waiter.take()
        };
        if let Some(w) = waiter {
            w.unpark();
        }
    }
}

/// The closure and the join slot of one G, in one allocation.
struct Task<F, T> {
    /// Taken once, when the G first runs (protected by its mutex, uncontended).
    f: Mutex<Option<F>>,
    join: JoinState<T>,
}

impl<F, T> Runnable for Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(self: std::sync::Arc<Self>) {
        let f = self.f.lock().take();
        let r = match f {
            Some(f) => catch_unwind(AssertUnwindSafe(f)),
            None => crate::fatal::fatal!("a green thread ran twice"),
        };
        // G-local values die with the G, on its stack, before the joiner hears of it.
        let _ = catch_unwind(crate::drop_g_locals);
        self.join.complete(r);
    }

    fn abandon(self: std::sync::Arc<Self>, why: String) {
        drop(self.f.lock().take());
        self.join.complete(Err(Box::new(why)));
    }
}

impl<F, T> JoinSide<T> for Task<F, T>
where
    F: Send,
    T: Send,
{
    fn state(&self) -> &JoinState<T> {
        &self.join
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
    task: std::sync::Arc<dyn JoinSide<T>>,
    id: u64,
}

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
    pub fn join(self) -> std::thread::Result<T> {
        let st = self.task.state();
        if !st.finished.load(Ordering::Acquire) {
            park(WaitReason::Join, |u| {
                let mut s = st.slot.lock();
                if s.result.is_some() {
                    Some(u)
                } else {
                    s.waiter = Some(u);
                    None
                }
            });
        }
        st.slot
            .lock()
            .result
            .take()
            .unwrap_or_else(|| crate::fatal::fatal!("join woke before its G finished"))
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
        self.task.state().finished.load(Ordering::Acquire)
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

    /// Sets the usable stack size in bytes (rounded up to whole pages; at least 16 KiB).
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

    /// Spawns the G. Errors (instead of panicking) when the stack allocator cannot serve one more
    /// stack (address space, or the `vm.max_map_count` budget of the mprotect fallback).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort::Builder::new().spawn(|| "done").expect("spawn failed");
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let s = crate::sched();
        let size = self
            .stack_size
            .unwrap_or(s.cfg.stack_size)
            .max(crate::env::MIN_STACK_SIZE);
        let reserved = crate::stack::check_capacity(size)?;
        let task = std::sync::Arc::new(Task {
            f: Mutex::new(Some(f)),
            join: JoinState {
                finished: AtomicBool::new(false),
                slot: Mutex::new(Slot {
                    result: None,
                    waiter: None,
                }),
            },
        });
        let name = self.name.map(std::sync::Arc::<str>::from);
        let id = s.spawn_g(name, size, reserved, task.clone());
        Ok(JoinHandle { task, id })
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
/// A G may resume on a different OS thread after any blocking point (a gort channel operation,
/// lock, sleep, socket read, `yield_now`, `join`). Do not hold across such a point:
/// * a reference into a `thread_local!` (it would point at the old thread's value), or
/// * a `!Send` value whose correctness depends on its thread, such as a
///   `std::sync::MutexGuard` (unlocking on another thread is undefined on some platforms) or an
///   `Rc` shared with thread-local state.
///
/// The compiler cannot see stack migration, so it will not stop you. Instead: use
/// `gort::local!` for per-G state, gort's own locks (`gort::sync`), or `gort::lock_os_thread()`
/// to pin the G to its thread. docs/design.md, "Soundness", explains why.
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

/// Installs the panic hook that names the green thread: on a G, a panic prints
/// `green thread 7 'worker' panicked at src/main.rs:3:5:` and the message; elsewhere the
/// previous hook runs unchanged.
pub(crate) fn install_panic_hook() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| match crate::current_info() {
        Some((id, name)) => {
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
        None => prev(info),
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
