//! gort-runtime: the engine under [gort](https://docs.rs/gort). Users name `gort`, never this
//! crate; its public items are re-exported there, and the rest is public only for gort's own
//! layers and the loom models.
//!
//! | module   | concept                                              | docs/design.md section |
//! |----------|------------------------------------------------------|------------------------|
//! | `g`      | G records, states, wait reasons, the registry        | G lifecycle            |
//! | `coro`   | the coroutine and the migration contract [unsafe]     | Soundness              |
//! | `stack`  | guarded stacks from slabs [unsafe]                    | Stacks                 |
//! | `signal` | the stack-overflow report (SIGSEGV on an alt stack) [unsafe] | Stacks          |
//! | `sys`    | libc wrappers: mmap, madvise, mprotect [unsafe]       | Stacks                 |
//! | `p`      | P, runnext                                           | Scheduling             |
//! | `runq`   | local and global run queues                          | Scheduling             |
//! | `m`      | M threads, notes, thread-local M state               | Spinning and parking   |
//! | `sched`  | findRunnable, wakep, the parking protocol            | Spinning and parking   |
//! | `park`   | park / ready                                         | park/ready             |
//! | `join`   | spawn, Builder, JoinHandle                           | G lifecycle            |
//! | `timer`  | per-P timer heaps and sleep                          | Timers                 |
//! | `sysmon` | the monitor thread: retake, slices, timers, traces   | sysmon                 |
//! | `syscall`| blocking(), block_in_place(), LockOSThread           | Syscall handoff        |
//! | `deadlock`| checkdead: all goroutines are asleep                | Syscall handoff        |
//! | `netpoll`| the netpoller: contract, poll descriptors, mio poller [unsafe] | Netpoller    |
//! | `net`    | TcpListener, TcpStream, UdpSocket, Unix sockets [unsafe: setsockopt] | Netpoller |
//! | `trace`  | schedtrace / scheddetail                             | schedtrace format      |
//! | `env`    | GORT_* configuration                                 | Configuration          |
//! | `chan`   | channels, `select!`, the dynamic `Select`, timer channels and timers [unsafe: waiter nodes, erased select values] | docs/channels.md |
//! | `sync`   | Mutex, RwLock, Condvar, WaitGroup, Once, Semaphore, Barrier | docs/channels.md |
//! | `local`  | G-local storage (`local!`) [unsafe: stable value addresses] | docs/channels.md |
//!
//! Unsafe code lives only in the modules marked `[unsafe]` above and in `g` (the owning `GRef`
//! pointer) and `p` (runnext's raw pointer hand-over); the crate denies it elsewhere.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]
// Under loom the coroutine, stack and OS paths are behind seams (docs/loom.md) and go unused.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

#[allow(unsafe_code)]
pub mod chan;
#[allow(unsafe_code)]
mod coro;
pub(crate) mod deadlock;
pub mod env;
mod fatal;
#[allow(unsafe_code)]
pub mod g;
pub mod join;
#[allow(unsafe_code)]
pub mod local;
pub(crate) mod loom;
pub(crate) mod m;
#[allow(unsafe_code)]
pub mod net;
#[allow(unsafe_code)]
pub mod netpoll;
#[allow(unsafe_code)]
pub mod p;
pub mod park;
pub(crate) mod runq;
#[allow(unsafe_code)]
pub mod sched;
#[allow(unsafe_code)]
pub mod signal;
#[allow(unsafe_code)]
pub mod stack;
#[allow(unsafe_code)]
pub mod sync;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub mod syscall;
pub mod sysmon;
pub mod timer;
pub mod trace;

pub use join::{spawn, Builder, JoinHandle};
pub use park::{in_green_thread, park, park_deadline, yield_now, Unparker};
pub use syscall::{
    block_in_place, blocking, lock_os_thread, preempt_point, should_yield, unlock_os_thread,
};
pub use timer::sleep;

/// The loom model harness (only under `--cfg loom`; see docs/loom.md and `loom-tests/`).
#[cfg(loom)]
#[doc(hidden)]
pub use sched::model;

#[cfg(not(loom))]
static SCHED: std::sync::OnceLock<&'static sched::Sched> = std::sync::OnceLock::new();

/// Under loom: the scheduler of the running model execution (`model::Model::new` installs it).
#[cfg(loom)]
#[doc(hidden)]
pub fn sched() -> &'static sched::Sched {
    sched::model::current()
}

/// The scheduler, started on first use: reads the environment, creates the Ps, starts sysmon and
/// installs the panic hook. No setup call is needed.
#[cfg(not(loom))]
#[doc(hidden)]
pub fn sched() -> &'static sched::Sched {
    SCHED.get_or_init(|| {
        let cfg = env::Config::from_env();
        let s: &'static sched::Sched = Box::leak(Box::new(sched::Sched::new(cfg)));
        join::install_panic_hook();
        if let Err(e) = signal::install() {
            eprintln!("gort: cannot install the stack-overflow handler ({e}): an overflow will be a bare SIGSEGV");
        }
        sysmon::start(s);
        s
    })
}

/// The running G's id and name, if the caller is a G.
pub(crate) fn current_info() -> Option<(u64, Option<std::sync::Arc<str>>)> {
    current_g_ptr().map(current_g_fields)
}

#[allow(unsafe_code)]
fn current_g_fields(g: *const g::G) -> (u64, Option<std::sync::Arc<str>>) {
    // SAFETY: `g` is this M's `curg`, the G executing this very code (checked by the caller), so
    // it is alive for the duration of this call; `id` and `name` are immutable after creation.
    let g = unsafe { &*g };
    (g.id(), g.name().cloned())
}

/// Runs `f` on the calling G's value for G-local key `idx` (created by `init` on first use).
/// Returns `None` on a plain OS thread (callers fall back to thread-local storage). This is the
/// storage under `gort::local!`.
#[doc(hidden)]
#[allow(unsafe_code)]
pub fn with_g_local<R>(
    idx: usize,
    init: impl FnOnce() -> Box<dyn std::any::Any + Send>,
    f: impl FnOnce(&(dyn std::any::Any + Send)) -> R,
) -> Option<R> {
    let g = current_g_ptr()?;
    // SAFETY: `g` is the G running this code (`current_g_ptr`), so we are on its own stack.
    Some(unsafe { (*g).with_local(idx, init, f) })
}

/// Drops the calling G's G-local values (at G exit, on the G's own stack, so destructors run in
/// G context). A destructor that creates new values is handled by looping.
#[allow(unsafe_code)]
pub(crate) fn drop_g_locals() {
    if let Some(g) = current_g_ptr() {
        loop {
            // SAFETY: as in `with_g_local`.
            let vals = unsafe { (*g).take_locals() };
            if vals.is_empty() {
                break;
            }
            drop(vals);
        }
    }
}

fn current_g_ptr() -> Option<*const g::G> {
    if !coro::on_g_stack() {
        return None;
    }
    let g = m::with_m(|m| m.curg.get());
    (!g.is_null()).then_some(g)
}

/// A handle to the calling green thread, from [`current`].
///
/// # Examples
///
/// ```
/// let id = gort::spawn(|| gort::current().id()).join().unwrap();
/// assert!(id > 0);
/// ```
#[derive(Clone, Debug)]
pub struct Current {
    id: u64,
    name: Option<std::sync::Arc<str>>,
}

impl Current {
    /// The G's id; 0 when called from a plain OS thread (which is not a G).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::current().id(), 0); // the test's main thread is not a G
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The name given with `Builder::name`; `None` for unnamed Gs and plain threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let n = gort::Builder::new().name("w").spawn(|| gort::current().name().map(String::from));
    /// assert_eq!(n.unwrap().join().unwrap().as_deref(), Some("w"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// The calling green thread (id 0 and no name on a plain OS thread).
///
/// # Examples
///
/// ```
/// let h = gort::spawn(|| gort::current().id());
/// let id = h.id();
/// assert_eq!(h.join().unwrap(), id);
/// ```
pub fn current() -> Current {
    match current_info() {
        Some((id, name)) => Current { id, name },
        None => Current { id: 0, name: None },
    }
}

/// The number of live green threads (Go's `runtime.NumGoroutine`): spawned and not yet finished.
/// Exact: a G stops counting before its joiner is told it finished.
///
/// # Examples
///
/// ```
/// let before = gort::num_goroutine();
/// let h = gort::spawn(|| gort::num_goroutine());
/// assert!(h.join().unwrap() >= before + 1);
/// assert_eq!(gort::num_goroutine(), before);
/// ```
pub fn num_goroutine() -> usize {
    sched()
        .ngoroutine
        .load(crate::loom::atomic::Ordering::Relaxed)
}

/// The number of Ps: how many green threads run in parallel (`GORT_MAXPROCS`, default
/// `std::thread::available_parallelism()`).
///
/// # Examples
///
/// ```
/// assert!(gort::maxprocs() >= 1);
/// ```
pub fn maxprocs() -> usize {
    sched().nprocs()
}
