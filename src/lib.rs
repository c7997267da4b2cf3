//! # gort: Go's scheduler for Rust
//!
//! M:N green threads on stackful coroutines, scheduled the way Go schedules goroutines: Gs
//! (green threads) run on Ms (OS threads) that hold Ps (processors, `GORT_MAXPROCS` of them),
//! with per-P run queues, a `runnext` slot, a global queue and work stealing.
//!
//! ```
//! let handles: Vec<_> = (0..1000).map(|i| gort::spawn(move || i)).collect();
//! let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(total, 499_500);
//! ```
//!
//! Blocking APIs (`join`, and the channels, locks, sleeps and sockets built on park/ready) park
//! the calling G, never its M, and work from plain OS threads too (there they block the thread).
//!
//! ## The hazard a stackful M:N runtime cannot check
//!
//! A G may resume on another OS thread after any blocking point (a join, sleep, channel
//! operation, gort lock or guard drop, socket call, `yield_now`, `spawn`, `blocking`). So in a
//! G, **do not touch thread-locals in a function that also blocks**, directly or through a
//! library, unless the G is pinned: the compiler may compute a thread-local's address once and
//! reuse it after the G moved, so even a `LOCAL.with(...)` made *after* the blocking call can
//! read the old thread's value. The same goes for `!Send` values tied to a thread
//! (`std::sync::MutexGuard`, `Rc`s shared with thread-local state). The usual culprits:
//! `rand::thread_rng`, `tracing`'s `Span::enter` guard, `RefCell` borrows of a `thread_local!`,
//! `std::sync::MutexGuard`, `std::thread::current()` (which names the OS thread, not the G).
//! The compiler cannot catch this; the remedies are API:
//!
//! * [`local!`] instead of `thread_local!` (per G, moves with the G);
//! * [`sync`]'s locks instead of `std::sync`'s (their guards may cross threads);
//! * [`Builder::pinned`]`(true)`, or [`lock_os_thread`], for a G that must use thread-locals or
//!   thread-bound C state: it keeps one OS thread for its life (two thread switches per park).
//!
//! ```
//! thread_local! { static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) }; }
//! // Pinned: this G may use thread-locals around blocking calls.
//! let h = gort::Builder::new().pinned(true).spawn(|| {
//!     SCRATCH.with(|s| s.borrow_mut().push(1));
//!     gort::sleep(std::time::Duration::from_millis(1));
//!     SCRATCH.with(|s| s.borrow().len())
//! });
//! assert_eq!(h.unwrap().join().unwrap(), 1);
//! ```
//!
//! See [`spawn`] for the full list of blocking points, and docs/design.md §11 for why.
//!
//! ## Environment
//! * `GORT_MAXPROCS=N`: number of Ps (default: `available_parallelism()`).
//! * `GORT_STACK_SIZE=BYTES`: default stack size (default 256 KiB; `64K`, `1M` accepted).
//! * `GORT_DEBUG=schedtrace=MS[,scheddetail=1]`: Go-format `SCHED` lines on stderr.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Sockets that park the calling green thread instead of its OS thread (Go's `net`):
/// [`TcpListener`](net::TcpListener), [`TcpStream`](net::TcpStream),
/// [`UdpSocket`](net::UdpSocket), and on Unix [`UnixListener`](net::UnixListener) and
/// [`UnixStream`](net::UnixStream). From a plain OS thread they behave like std's blocking
/// sockets. Timeouts end a wait with `io::ErrorKind::TimedOut`; `close(&self)` wakes every G
/// parked on a socket with `NotConnected`.
///
/// ```
/// use gort::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// gort::spawn(move || {
///     for s in l.incoming() {
///         let mut s = s.unwrap();
///         gort::spawn(move || {
///             let mut b = [0; 1024];
///             while let Ok(n @ 1..) = s.read(&mut b) {
///                 s.write_all(&b[..n]).unwrap();
///             }
///         });
///     }
/// });
/// let mut c = TcpStream::connect(addr).unwrap();
/// c.write_all(b"echo").unwrap();
/// let mut b = [0; 4];
/// c.read_exact(&mut b).unwrap();
/// assert_eq!(&b, b"echo");
/// ```
pub mod net {
    pub use gort_runtime::net::{Incoming, TcpListener, TcpStream, UdpSocket};
    #[cfg(unix)]
    pub use gort_runtime::net::{UnixIncoming, UnixListener, UnixStream};
}

/// Parks the calling green thread until `deadline` (a plain thread sleeps).
///
/// ```
/// let when = std::time::Instant::now() + std::time::Duration::from_millis(2);
/// gort::spawn(move || gort::sleep_until(when)).join().unwrap();
/// assert!(std::time::Instant::now() >= when);
/// ```
pub use gort_runtime::timer::sleep_until;

pub use gort_runtime::{
    block_in_place, blocking, current, in_green_thread, lock_os_thread, maxprocs, num_goroutine,
    preempt_point, should_yield, sleep, spawn, unlock_os_thread, yield_now, Builder, Current,
    JoinHandle,
};

/// Channels (Go's `chan`): bounded, unbuffered (`bounded(0)`), unbounded; MPMC; close; select.
///
/// ```
/// let (tx, rx) = gort::chan::bounded(0);
/// gort::spawn(move || tx.send("ping").unwrap());
/// assert_eq!(rx.recv(), Ok("ping"));
/// ```
pub mod chan {
    pub use gort_runtime::chan::{
        bounded, unbounded, IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, SendError,
        SendTimeoutError, Sender, TryIter, TryRecvError, TrySendError,
    };
}

/// Timer channels (Go's `time.After`, `time.Tick`).
///
/// ```
/// let t = gort::time::after(std::time::Duration::from_millis(1));
/// assert!(t.recv().is_ok());
/// ```
pub mod time {
    pub use gort_runtime::chan::{after, tick};
}

pub use gort_runtime::local::LocalKey;
pub use gort_runtime::{local, select};

/// Blocking synchronisation that parks the G, not the M (Go's `sync`): Mutex (with Go's
/// starvation mode), RwLock, Condvar, WaitGroup, Once, OnceLock, Semaphore, Barrier.
///
/// ```
/// let wg = std::sync::Arc::new(gort::sync::WaitGroup::new());
/// wg.add(1);
/// let w = wg.clone();
/// gort::spawn(move || w.done());
/// wg.wait();
/// ```
pub mod sync {
    pub use gort_runtime::sync::{
        Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, Once, OnceLock, RwLock,
        RwLockReadGuard, RwLockWriteGuard, Semaphore, WaitGroup,
    };
}

/// The README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The auto-trait promises of gort's handle and guard types, as compile-time tests (issue 15,
/// item 1). Each `compile_fail` block must fail to compile; the last block must compile.
///
/// A `MutexGuard` hands out `&T`, so it is `Sync` only when `T` is (as std's guard):
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<gort::sync::MutexGuard<'static, std::cell::Cell<u64>>>();
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<gort::sync::RwLockReadGuard<'static, std::cell::Cell<u64>>>();
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<gort::sync::RwLockWriteGuard<'static, std::cell::Cell<u64>>>();
/// ```
///
/// A guard of a `!Send` value cannot be sent (it would move `&mut T` to another thread):
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<gort::sync::MutexGuard<'static, std::rc::Rc<u64>>>();
/// ```
///
/// Locks and cells share their value between threads only when it may be shared:
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<gort::sync::Mutex<std::rc::Rc<u64>>>();
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<gort::sync::RwLock<std::cell::Cell<u64>>>();
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<gort::sync::OnceLock<std::cell::Cell<u64>>>();
/// ```
///
/// Channels carry only `Send` values (crossbeam's bounds):
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<gort::chan::Sender<std::rc::Rc<u8>>>();
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<gort::chan::Receiver<std::rc::Rc<u8>>>();
/// ```
///
/// A G's closure and result must be `Send` (they may start and end on different threads):
///
/// ```compile_fail
/// let rc = std::rc::Rc::new(1);
/// gort::spawn(move || *rc);
/// ```
///
/// ```compile_fail
/// gort::spawn(|| std::rc::Rc::new(1));
/// ```
///
/// A G-local value moves with its G between threads, so it must be `Send`:
///
/// ```compile_fail
/// gort::local! { static L: std::rc::Rc<u8> = std::rc::Rc::new(0); }
/// ```
///
/// And what is promised does hold:
///
/// ```
/// fn send<T: Send>() {}
/// fn sync<T: Sync>() {}
/// send::<gort::sync::MutexGuard<'static, std::cell::Cell<u64>>>(); // may move with its G
/// sync::<gort::sync::MutexGuard<'static, u64>>();
/// send::<gort::sync::RwLockReadGuard<'static, u64>>();
/// sync::<gort::sync::RwLockWriteGuard<'static, u64>>();
/// send::<gort::chan::Sender<std::cell::Cell<u8>>>();
/// sync::<gort::chan::Receiver<std::cell::Cell<u8>>>();
/// send::<gort::JoinHandle<std::cell::Cell<u8>>>();
/// send::<gort::net::TcpStream>();
/// sync::<gort::net::TcpStream>();
/// ```
#[cfg(doctest)]
struct AutoTraitPromises;
