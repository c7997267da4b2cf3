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
//! * `GORT_MAXTHREADS=N`: the most OS threads (default 10,000, Go's); more is fatal.
//! * `GORT_MAXBLOCKING=N`: the most Gs inside [`blocking`]/[`block_in_place`] at once (default
//!   512, tokio's `max_blocking_threads`); more park until one returns.
//! * `GORT_DEBUG=schedtrace=MS[,scheddetail=1]`: Go-format `SCHED` lines on stderr.
//! * `GORT_DEBUG=blocktrace=1`: a line on stderr each time a G blocks its thread without
//!   [`blocking`] and sysmon hands its P off (naming the G and the syscall);
//!   `GORT_DEBUG=blockcheck=0` turns that detection off. See docs/blocking.md.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Sockets that park the calling green thread instead of its OS thread (Go's `net`):
/// [`TcpListener`](net::TcpListener), [`TcpStream`](net::TcpStream),
/// [`UdpSocket`](net::UdpSocket), and on Unix [`UnixListener`](net::UnixListener),
/// [`UnixStream`](net::UnixStream) and [`UnixDatagram`](net::UnixDatagram). From a plain OS
/// thread they behave like std's blocking sockets. Timeouts and deadlines
/// ([`TcpStream::set_deadline`](net::TcpStream::set_deadline), Go's `SetDeadline`) end a wait
/// with `io::ErrorKind::TimedOut` (not std's `WouldBlock`: that kind means only "non-blocking
/// mode, try later"); `close(&self)` wakes every G parked on a socket or any of its
/// `try_clone`s with `NotConnected`. [`TcpStream::into_split`](net::TcpStream::into_split)
/// gives owned read and write halves for two Gs.
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
    pub use gort_runtime::net::{
        Incoming, OwnedReadHalf, OwnedWriteHalf, ReuniteError, TcpListener, TcpStream, UdpSocket,
    };
    #[cfg(unix)]
    pub use gort_runtime::net::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};
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

/// Unix signals delivered to channels (Go's `os/signal`): [`notify`](signal::notify) returns
/// a `select!`-able receiver; [`stop`](signal::stop), [`ignore`](signal::ignore),
/// [`reset`](signal::reset), [`ctrl_c`](signal::ctrl_c). Delivery goes through a self-pipe in
/// the netpoller and one watcher green thread: no thread per signal. The runtime keeps SIGSEGV
/// and SIGBUS for its stack-overflow report; a [`Signal`](signal::Signal) cannot name them.
///
/// ```
/// use gort::signal::{self, Signal};
/// let rx = signal::notify(&[Signal::SIGUSR1, Signal::SIGTERM]);
/// // SAFETY: raise has no preconditions.
/// unsafe { libc::raise(libc::SIGUSR1) };
/// let timeout = gort::time::after(std::time::Duration::from_secs(10));
/// gort::select! {
///     recv(rx) -> s => assert_eq!(s, Ok(Signal::SIGUSR1)),
///     recv(timeout) -> _ => panic!("no signal"),
/// }
/// signal::stop(&rx);
/// ```
#[cfg(unix)]
pub mod signal {
    pub use gort_runtime::os_signal::{ctrl_c, ignore, notify, reset, stop, Signal};
}

/// Child processes (Go's `os/exec`), shaped like `std::process`: waiting parks the G (a pidfd
/// in the netpoller on Linux ≥ 5.3; elsewhere a wait inside `gort::blocking`), and piped
/// streams are gort pipes whose reads and writes park it.
///
/// ```
/// use gort::process::{Command, Stdio};
/// use std::io::Read;
/// let h = gort::spawn(|| {
///     let mut child = Command::new("echo").arg("hello").stdout(Stdio::piped()).spawn()?;
///     let mut out = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut out)?;
///     child.wait()?;
///     Ok::<_, std::io::Error>(out)
/// });
/// assert_eq!(h.join().unwrap().unwrap(), "hello\n");
/// ```
#[cfg(unix)]
pub mod process {
    pub use gort_runtime::process::{
        Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio,
    };
}

/// Files and directories (Go's `os` file functions), shaped like `std::fs`: each call runs on
/// the blocking pool (`gort::blocking`), so a slow disk hands the P to another thread instead of
/// stalling the green threads queued behind it. `read_dir` yields `io::Result<DirEntry>`.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("gort-fs-doc-{}", std::process::id()));
/// let d = dir.clone();
/// gort::spawn(move || -> std::io::Result<()> {
///     gort::fs::create_dir_all(&d)?;
///     gort::fs::write(d.join("a.txt"), "alpha")?;
///     assert_eq!(gort::fs::read_to_string(d.join("a.txt"))?, "alpha");
///     let names: Vec<_> = gort::fs::read_dir(&d)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
///     assert_eq!(names, ["a.txt"]);
///     assert_eq!(gort::fs::metadata(d.join("a.txt"))?.len(), 5);
///     gort::fs::remove_dir_all(&d)
/// })
/// .join()
/// .unwrap()
/// .unwrap();
/// ```
pub mod fs {
    #[cfg(unix)]
    pub use gort_runtime::fs::symlink;
    pub use gort_runtime::fs::{
        canonicalize, copy, create_dir, create_dir_all, exists, hard_link, metadata, read,
        read_dir, read_link, read_to_string, remove_dir, remove_dir_all, remove_file, rename,
        set_permissions, symlink_metadata, write, DirBuilder, DirEntry, File, FileTimes, FileType,
        Metadata, OpenOptions, Permissions, ReadDir,
    };
}

/// Standard streams for green threads (Go's `os.Stdin`/`os.Stdout`/`os.Stderr`): reading
/// standard input parks the G until input arrives; the outputs are unbuffered, and a write to a
/// full pipe parks the G. Pipes and terminals go through the netpoller on a descriptor of our
/// own (the shell's stays blocking); files and other kinds go through the blocking pool.
///
/// ```
/// use std::io::Write;
/// gort::spawn(|| writeln!(gort::io::stdout(), "from a green thread").unwrap()).join().unwrap();
/// ```
#[cfg(unix)]
pub mod io {
    pub use gort_runtime::stdio::{stderr, stdin, stdout, Stderr, Stdin, Stdout};
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
