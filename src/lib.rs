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
//! A G may resume on another OS thread after any blocking point. Holding a `thread_local!`
//! reference or a `!Send` guard (such as `std::sync::MutexGuard`) across one is a bug the
//! compiler cannot catch. See [`spawn`] for the rule and the remedies, and docs/design.md.
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

/// Channels (Go's `chan`, crossbeam-channel's API): bounded, unbuffered (`bounded(0)`),
/// unbounded; MPMC; close; [`never`](chan::never) (Go's nil channel) and [`at`](chan::at);
/// [`select!`](crate::select) for a fixed set of operations and [`Select`](chan::Select) for a
/// set chosen at run time.
///
/// ```
/// let (tx, rx) = gort::chan::bounded(0);
/// gort::spawn(move || tx.send("ping").unwrap());
/// assert_eq!(rx.recv(), Ok("ping"));
/// ```
pub mod chan {
    pub use gort_runtime::chan::{
        at, bounded, never, unbounded, IntoIter, Iter, ReadyTimeoutError, Receiver, RecvError,
        RecvTimeoutError, Select, SelectTimeoutError, SelectedOperation, SendError,
        SendTimeoutError, Sender, TryIter, TryReadyError, TryRecvError, TrySelectError,
        TrySendError,
    };
}

/// Timers (Go 1.23's `time`): timer channels ([`after`](time::after), [`tick`](time::tick),
/// [`at`](time::at)), stoppable [`Timer`](time::Timer)s and [`Ticker`](time::Ticker)s, and
/// [`after_func`](time::after_func). A timer channel is ready the moment it is due, and one
/// nobody holds costs nothing: no stop is needed.
///
/// ```
/// let t = gort::time::after(std::time::Duration::from_millis(1));
/// assert!(t.recv().is_ok());
/// ```
pub mod time {
    pub use gort_runtime::chan::{after, after_func, at, tick, AfterFunc, Ticker, Timer};
}

pub use gort_runtime::local::LocalKey;
pub use gort_runtime::{local, select, select_biased};

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
