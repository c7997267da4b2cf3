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
//! ## From Go to gort
//!
//! | Go | gort |
//! |---|---|
//! | `go f()` | [`gort::spawn(f)`](spawn) (returns a [`JoinHandle`]; drop it to detach) |
//! | `go` over borrowed data, then wait | [`gort::scope(\|s\| { s.spawn(..); })`](scope) |
//! | `make(chan T)` | [`gort::chan::bounded::<T>(0)`](chan::bounded) |
//! | `make(chan T, n)` | [`gort::chan::bounded::<T>(n)`](chan::bounded) ([`unbounded`](chan::unbounded) has no Go twin) |
//! | `ch <- v` | [`tx.send(v)`](chan::Sender::send) (`Err` on a closed channel, where Go panics) |
//! | `v, ok := <-ch` | [`rx.recv()`](chan::Receiver::recv): `Ok(v)`, or `Err(RecvError)` once closed and drained |
//! | `close(ch)` | [`tx.close()`](chan::Sender::close), or drop every `Sender` |
//! | nil channel (blocks forever) | [`gort::chan::never()`](chan::never) |
//! | `select { case v := <-a: … case b <- x: … }` | [`gort::select! { recv(a) -> v => …, send(b, x) -> r => … }`](select) |
//! | `select` with `default:` | `gort::select! { …, default => … }` |
//! | `select` over a runtime-sized set (`reflect.Select`) | [`gort::chan::Select`](chan::Select) |
//! | `time.After(d)` | [`gort::time::after(d)`](time::after) |
//! | `time.NewTimer(d)`, `t.Stop()`, `t.Reset(d)` | [`gort::time::Timer::new(d)`](time::Timer::new), [`t.stop()`](time::Timer::stop), [`t.reset(d)`](time::Timer::reset); `time.NewTicker` is [`gort::time::Ticker::new(d)`](time::Ticker::new), `time.AfterFunc` [`gort::time::after_func`](time::after_func) |
//! | `time.Sleep(d)` | [`gort::sleep(d)`](sleep); with a context, [`gort::sleep_ctx(&ctx, d)`](sleep_ctx) |
//! | `context.Background()` | [`gort::context::background()`](context::background) |
//! | `ctx, cancel := context.WithTimeout(parent, d); defer cancel()` | [`let (ctx, _cancel) = gort::context::with_timeout(&parent, d);`](context::with_timeout) (dropping the handle is the `defer cancel()`) |
//! | `context.WithCancel`, `WithDeadline`, `WithValue`, `WithoutCancel`, `AfterFunc`, `Cause` | [`with_cancel`](context::with_cancel), [`with_deadline`](context::with_deadline), [`with_value`](context::with_value), [`without_cancel`](context::without_cancel), [`after_func`](context::after_func), [`ctx.cause()`](context::Context::cause) |
//! | `<-ctx.Done()`, `ctx.Err()` | [`ctx.done()`](context::Context::done) (a `Receiver<()>`, closed at the end), [`ctx.err()`](context::Context::err) |
//! | `errgroup.WithContext(ctx)`, `g.Go(f)`, `g.Wait()` | [`gort::errgroup::with_context(&ctx)`](errgroup::with_context), [`g.go(f)`](errgroup::Group::go), [`g.wait()`](errgroup::Group::wait) |
//! | `sync.WaitGroup`: `wg.Add(1)`/`wg.Done()`/`wg.Wait()`, `wg.Go(f)` | [`gort::sync::WaitGroup`](sync::WaitGroup): `add(1)`/`done()`/`wait()`, [`wg.go(f)`](sync::WaitGroup::go) |
//! | `sync.Mutex`, `sync.RWMutex`, `sync.Cond` | [`sync::Mutex`], [`sync::RwLock`], [`sync::Condvar`] |
//! | `sync.Pool{New: f}`, `p.Get()`, `p.Put(x)` | [`gort::sync::Pool::new(f)`](sync::Pool::new), [`p.get()`](sync::Pool::get), [`p.put(x)`](sync::Pool::put) |
//! | `sync.Once`, `sync.OnceValue` | [`sync::Once`], [`sync::OnceLock`] / [`sync::LazyLock`] |
//! | `semaphore.NewWeighted(n)`, `s.Acquire(ctx, k)` | [`gort::sync::Semaphore::new(n)`](sync::Semaphore::new), [`s.acquire_many_ctx(&ctx, k)`](sync::Semaphore::acquire_many_ctx) |
//! | `net.Dial`, `(&net.Dialer{}).DialContext(ctx, …)` | [`gort::net::TcpStream::connect`](net::TcpStream::connect), [`connect_ctx(&ctx, addr)`](net::TcpStream::connect_ctx) |
//! | `time.Now()` | [`gort::time::now()`](time::now) (an `Instant`; virtual inside a synctest bubble) |
//! | `synctest.Test(t, f)`, `synctest.Wait()` | [`gort::synctest::test(f)`](synctest::test), [`gort::synctest::wait()`](synctest::wait); [`#[gort::test(synctest)]`](test) |
//! | `runtime.Gosched()` | [`gort::yield_now()`](yield_now) |
//! | `runtime.NumGoroutine()` | [`gort::num_goroutine()`](num_goroutine) |
//! | `runtime.GOMAXPROCS(0)` | [`gort::maxprocs()`](maxprocs); set with `GORT_MAXPROCS=N` |
//! | `runtime.GOMAXPROCS(n)` | [`gort::set_maxprocs(n)`](set_maxprocs) |
//! | SIGQUIT goroutine dump, `runtime.Stack(buf, true)` | [`gort::dump()`](fn@dump), [`gort::dump_to(w)`](dump_to); `GORT_DEBUG=dumponquit=1` for SIGQUIT |
//! | `runtime/metrics.Read`, client_golang's Go collector | [`gort::metrics::snapshot()`](metrics::snapshot), [`gort::metrics::prometheus()`](metrics::prometheus) |
//! | `runtime/trace.Start(w)` / `Stop()` | [`gort::trace::start(w)`](trace::start) / [`gort::trace::stop()`](trace::stop); `GORT_DEBUG=trace=FILE` |
//! | `runtime.LockOSThread()` / `UnlockOSThread()` | [`gort::lock_os_thread()`](lock_os_thread) / [`unlock_os_thread()`](unlock_os_thread) |
//! | a blocking syscall (Go hands the P off) | [`gort::blocking(\|\| …)`](blocking) |
//! | `GODEBUG=schedtrace=1000,scheddetail=1` | `GORT_DEBUG=schedtrace=1000,scheddetail=1` |
//!
//! ## Environment
//! * `GORT_MAXPROCS=N`: number of Ps (default: `available_parallelism()`).
//! * `GORT_STACK_SIZE=BYTES`: default stack size (default 256 KiB; `64K`, `1M` accepted).
//! * `GORT_MAXTHREADS=N`: the most OS threads (default 10,000, Go's); more is fatal.
//! * `GORT_MAXBLOCKING=N`: the most Gs inside [`blocking`]/[`block_in_place`] at once (default
//!   512, tokio's `max_blocking_threads`); more park until one returns.
//! * `GORT_SEED=N`: the schedule seed of [`synctest`] bubbles (`explore` then replays only it).
//! * `GORT_DEBUG=schedtrace=MS[,scheddetail=1]`: Go-format `SCHED` lines on stderr.
//! * `GORT_DEBUG=blocktrace=1`: a line on stderr each time a G blocks its thread without
//!   [`blocking`] and sysmon hands its P off (naming the G and the syscall);
//!   `GORT_DEBUG=blockcheck=0` turns that detection off. See docs/blocking.md.
//! * `GORT_DEBUG=hogreport=1`: a line on stderr each time sysmon takes a P from a G that ran a
//!   whole 10 ms slice without a scheduling point (the G, its spawn site, how long); the same
//!   line as blocktrace's for the blocked case. [`metrics::hogs`] keeps the last 32.
//! * `GORT_DEBUG=dumponquit=1`: on SIGQUIT print [`dump`](fn@dump) to stderr and exit with status 2, as
//!   Go does (off by default: a library must not take a signal unasked).
//! * `GORT_DEBUG=trace=FILE`: record an execution trace ([`trace`]) from start to exit.
//! * Without `GORT_MAXPROCS`, the number of Ps follows the CPU limit (affinity mask, cgroup
//!   quota), re-read every second, as Go 1.25 does; [`set_maxprocs`] ends that.
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
        listen_backlog, Incoming, OwnedReadHalf, OwnedWriteHalf, ReuniteError, TcpListener,
        TcpStream, UdpSocket,
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

pub use gort_runtime::scope::{scope, Scope, ScopedJoinHandle};

/// Marks a test function, as `#[test]` does, and runs its body in gort:
///
/// * `#[gort::test]`: in a green thread (it may block on channels, locks, sockets as any G);
/// * `#[gort::test(synctest)]`: in a synctest bubble ([`synctest::test`]): a virtual clock,
///   one green thread at a time under a seeded schedule, deadlocks reported;
/// * `#[gort::test(explore = N)]`: under `N` schedules ([`synctest::explore`]), stopping at
///   the first that fails and naming its seed (`GORT_SEED=seed cargo test` replays it); add
///   `pct = DEPTH` for PCT instead of random schedules, `seed = S` for a fixed base seed.
///
/// The body may return `()` or a `Result<(), E>` (an `Err` fails the test). Other attributes
/// (`#[should_panic]`, `#[ignore]`) go after it as usual.
///
/// ```
/// use std::time::Duration;
///
/// #[gort::test(synctest)]
/// fn retries_back_off() {
///     let start = gort::time::now();
///     for attempt in 0..5 {
///         gort::sleep(Duration::from_millis(100 << attempt)); // virtual: no wall time
///     }
///     assert_eq!(gort::time::now() - start, Duration::from_millis(3100));
/// }
///
/// #[gort::test(explore = 200, pct = 2)]
/// fn counter_is_atomic() {
///     let n = std::sync::Arc::new(gort::sync::Mutex::new(0));
///     let hs: Vec<_> = (0..2)
///         .map(|_| {
///             let n = n.clone();
///             gort::spawn(move || *n.lock() += 1)
///         })
///         .collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
///     assert_eq!(*n.lock(), 2);
/// }
/// # // (A doctest does not run `#[test]` functions; this is what the first one does.)
/// # gort::synctest::test(|| gort::sleep(Duration::from_millis(3100)));
/// ```
pub use gort_macros::test;

/// What `#[gort::test]` expands to; not an API.
#[doc(hidden)]
pub mod __private {
    /// Runs a test body in a green thread and hands back its result (re-raising its panic on
    /// the test's thread, so that libtest reports it as usual).
    pub fn run_in_g<F, R>(f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match crate::spawn(f).join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

pub use gort_runtime::{dump, dump_to, set_maxprocs};

/// The runtime's metrics under Go's `runtime/metrics` names (`/sched/goroutines:goroutines`,
/// `/sched/latencies:seconds`, `/sched/gomaxprocs:threads`, ...) plus gort's own
/// (`/gort/...`: Ms by state, steals, parks, hand-offs by cause, netpoll waits, timers,
/// stacks), read with [`snapshot`](metrics::snapshot), and the Prometheus text format
/// ([`prometheus`](metrics::prometheus)), so a `/metrics` handler is one line. Counters are
/// exact; gauges are snapshots; the latency histogram is sampled, as Go's is.
///
/// ```
/// use gort::metrics::Value;
/// let s = gort::metrics::snapshot();
/// if let Some(Value::Uint64(n)) = s.get("/sched/goroutines:goroutines") {
///     println!("{n} goroutines");
/// }
/// let body = gort::metrics::prometheus(); // Content-Type: text/plain; version=0.0.4
/// assert!(body.contains("go_sched_gomaxprocs_threads"));
/// ```
pub mod metrics {
    pub use gort_runtime::metrics::{
        all, hogs, prometheus, prometheus_name, snapshot, Description, Hog, HogCause, Snapshot,
        Value, HOG_KEEP,
    };
}

/// The execution trace (Go's `runtime/trace`): G, P and M events (create, run slices per P
/// with why each ended, ready, steal, syscalls and hand-offs, netpoll, timers, GOMAXPROCS
/// changes) as Chrome trace-event JSON, which chrome://tracing and Perfetto open. Start and
/// stop it from code, or record a whole run with `GORT_DEBUG=trace=FILE`.
///
/// ```
/// let file = std::env::temp_dir().join(format!("gort-doc-{}.json", std::process::id()));
/// gort::trace::start(std::fs::File::create(&file).unwrap()).unwrap();
/// gort::spawn(|| gort::sleep(std::time::Duration::from_millis(1))).join().unwrap();
/// gort::trace::stop().unwrap();
/// let json = std::fs::read_to_string(&file).unwrap();
/// assert!(json.contains("\"traceEvents\""));
/// # std::fs::remove_file(file).unwrap();
/// ```
pub mod trace {
    pub use gort_runtime::exectrace::{start, stop};
}
pub use gort_runtime::{
    block_in_place, blocking, current, in_green_thread, lock_os_thread, maxprocs, num_goroutine,
    preempt_point, should_yield, sleep, sleep_ctx, spawn, unlock_os_thread, yield_now, Builder,
    Current, JoinHandle,
};

/// Go's `context`: cancellation, deadlines and values that flow down a tree of work.
///
/// A [`Context`](context::Context) is cheap to clone and `Send + Sync`. Derive children with
/// [`with_cancel`](context::with_cancel), [`with_timeout`](context::with_timeout),
/// [`with_deadline`](context::with_deadline), [`with_value`](context::with_value),
/// [`without_cancel`](context::without_cancel); wait on [`done`](context::Context::done) in a
/// `select!`, or pass the context to a blocking call that takes one: [`sleep_ctx`],
/// [`Receiver::recv_ctx`](chan::Receiver::recv_ctx), [`Sender::send_ctx`](chan::Sender::send_ctx),
/// [`Semaphore::acquire_many_ctx`](sync::Semaphore::acquire_many_ctx),
/// [`Group::wait_ctx`](errgroup::Group::wait_ctx),
/// [`TcpStream::connect_ctx`](net::TcpStream::connect_ctx). Cancelling a context ends its whole
/// subtree in one pass; no context costs a green thread, and a deadline costs one timer.
///
/// **Dropping a cancel handle cancels its context** (RAII for Go's `defer cancel()`, which is
/// what keeps an abandoned child from staying linked to its parent and its timer armed): bind it
/// to a named variable (`_cancel`), not `_`.
///
/// ```
/// use gort::context;
/// use std::time::Duration;
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(10));
/// let (_tx, jobs) = gort::chan::bounded::<u32>(0);
/// let r = jobs.recv_ctx(&ctx); // nothing arrives: the deadline ends the wait
/// assert_eq!(r, Err(gort::chan::RecvCtxError::Context(context::DeadlineExceeded)));
/// ```
pub mod context {
    pub use gort_runtime::context::{
        after_func, background, with_cancel, with_cancel_cause, with_deadline, with_deadline_cause,
        with_timeout, with_timeout_cause, with_value, without_cancel, AfterFuncHandle,
        CancelCauseHandle, CancelHandle, Cause, Context, Error,
    };
    // `Error`'s variants by their Go names (`context.Canceled`), hidden from the page: rustdoc
    // can only show a re-exported variant by its engine path.
    #[doc(hidden)]
    pub use gort_runtime::context::{Canceled, DeadlineExceeded};
}

/// golang.org/x/sync/errgroup: run subtasks in green threads, keep the first error, cancel the
/// rest through a derived context.
///
/// ```
/// use gort::{context, errgroup};
/// let (g, ctx) = errgroup::with_context::<String>(&context::background());
/// for path in ["a", "b", "c"] {
///     let ctx = ctx.clone();
///     g.go(move || {
///         if ctx.err().is_some() {
///             return Ok(()); // another member failed: stop early
///         }
///         let _ = path;
///         Ok(())
///     });
/// }
/// assert!(g.wait().is_ok());
/// ```
pub mod errgroup {
    pub use gort_runtime::errgroup::{with_context, Group};
}

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
        at, bounded, never, unbounded, IntoIter, Iter, ReadyTimeoutError, Receiver, RecvCtxError,
        RecvError, RecvTimeoutError, Select, SelectTimeoutError, SelectedOperation, SendCtxError,
        SendError, SendTimeoutError, Sender, TryIter, TryReadyError, TryRecvError, TrySelectError,
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
    pub use gort_runtime::timer::now;
}

/// Testing concurrent code (Go's `testing/synctest`, plus seeded and explored schedules):
/// [`test`](synctest::test) runs a function in a *bubble* whose green threads run one at a
/// time under a seeded schedule, with a virtual clock that jumps to the next timer when they
/// are all durably blocked; [`wait`](synctest::wait) waits for them to be;
/// [`test_seeded`](synctest::test_seeded) replays one schedule; [`explore`](synctest::explore)
/// runs many (random or PCT) and names the seed of the first that fails
/// (`GORT_SEED=N cargo test` replays it). [`#[gort::test]`](test) runs a test body in a green
/// thread, in a bubble, or under exploration. See docs/testing.md.
///
/// ```
/// use std::time::Duration;
/// gort::synctest::test(|| {
///     let timeout = gort::time::after(Duration::from_secs(30));
///     let (_tx, rx) = gort::chan::bounded::<u8>(0);
///     let start = gort::time::now();
///     gort::select! {
///         recv(rx) -> _ => unreachable!(),
///         recv(timeout) -> _ => {} // 30 virtual seconds: no wall time
///     }
///     assert_eq!(gort::time::now() - start, Duration::from_secs(30));
/// });
/// ```
pub mod synctest {
    pub use gort_runtime::synctest::{
        explore, sleep, test, test_seeded, try_explore, try_test_seeded, wait, ExploreOptions,
        ExploreReport, Failure, Report, Strategy, TestResult,
    };
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
pub use gort_runtime::{local, select, select_biased};

/// Blocking synchronisation that parks the G, not the M (Go's `sync`): Mutex (with Go's
/// starvation mode), RwLock, Condvar (with timeouts), WaitGroup (with `go`), Once, OnceLock,
/// LazyLock, a weighted Semaphore (x/sync's), Barrier, and Pool (Go's `sync.Pool`).
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
        Barrier, BarrierWaitResult, Condvar, LazyLock, Mutex, MutexGuard, Once, OnceLock, Pool,
        RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit, WaitGroup,
        WaitGroupGuard, WaitTimeoutResult,
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
/// sync::<gort::JoinHandle<std::cell::Cell<u8>>>();
/// // A handle hands its `T` out once, by value: unwind-safe and covariant in `T`, whatever `T`.
/// fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
/// unwind_safe::<gort::JoinHandle<std::cell::Cell<u8>>>();
/// fn shorter<'a>(h: gort::JoinHandle<&'static str>) -> gort::JoinHandle<&'a str> {
///     h
/// }
/// send::<gort::net::TcpStream>();
/// sync::<gort::net::TcpStream>();
/// ```
#[cfg(doctest)]
struct AutoTraitPromises;
