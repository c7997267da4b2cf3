//! gort-runtime: the engine under [gort](https://docs.rs/gort). Users name `gort`, never this
//! crate; its public items are re-exported there, and the rest is public only for gort's own
//! layers and the loom models.
//!
//! | module   | concept                                              | docs/design.md section |
//! |----------|------------------------------------------------------|------------------------|
//! | `g`      | G records, states, wait reasons, the registry        | G lifecycle            |
//! | `coro`   | the coroutine and the migration contract \[unsafe\]     | Soundness              |
//! | `stack`  | guarded stacks from slabs \[unsafe\]                    | Stacks                 |
//! | `signal` | the stack-overflow report (SIGSEGV on an alt stack) \[unsafe\] | Stacks          |
//! | `process` | `gort::process`: children waited through a pidfd in the netpoller \[unsafe: pidfd_open\] | docs/blocking.md |
//! | `fs`     | `gort::fs`: std::fs on the blocking pool             | docs/blocking.md       |
//! | `stdio`  | `gort::io`: stdin/stdout/stderr that park the G       | docs/blocking.md       |
//! | `os_signal` | `gort::signal`: signals to channels via a self-pipe \[unsafe: sigaction\] | docs/blocking.md |
//! | `sys`    | libc wrappers: mmap, madvise, mprotect \[unsafe\]       | Stacks                 |
//! | `p`      | P, runnext                                           | Scheduling             |
//! | `runq`   | local and global run queues                          | Scheduling             |
//! | `m`      | M threads, notes, thread-local M state               | Spinning and parking   |
//! | `sched`  | findRunnable, wakep, the parking protocol            | Spinning and parking   |
//! | `park`   | park / ready                                         | park/ready             |
//! | `join`   | spawn, Builder, JoinHandle \[unsafe: the handle's erased task\] | G lifecycle |
//! | `task`   | task cells (counted, type-erased) and their block pool \[unsafe\] | G lifecycle |
//! | `timer`  | per-P timer heaps and sleep                          | Timers                 |
//! | `sysmon` | the monitor thread: retake, slices, timers, traces, unwrapped blocking | sysmon |
//! | `threadstate` | an M's thread state from /proc (sysmon's blocking check) | sysmon       |
//! | `scavenge`| returning memory freed after bursts to the OS       | Deviations             |
//! | `syscall`| blocking(), block_in_place(), LockOSThread           | Syscall handoff        |
//! | `deadlock`| checkdead: all goroutines are asleep                | Syscall handoff        |
//! | `netpoll`| the netpoller: contract, poll descriptors, mio poller \[unsafe\] | Netpoller    |
//! | `net`    | TcpListener, TcpStream, UdpSocket, Unix sockets \[unsafe: setsockopt\] | Netpoller |
//! | `trace`  | schedtrace / scheddetail                             | schedtrace format      |
//! | `metrics`| `gort::metrics`: counters, latency histogram, Prometheus text, hog reports \[unsafe: rdtsc\] | docs/observability.md |
//! | `dump`   | `gort::dump`: every G, where it waits, wait-for cycles; SIGQUIT | docs/observability.md |
//! | `exectrace` | `gort::trace`: the execution trace (Chrome trace-event JSON) | docs/observability.md |
//! | `bubble` | synctest bubbles: private P, bubble threads, virtual clock, seeded choices | synctest bubbles (§16) |
//! | `synctest` | `gort::synctest`: test, wait, test_seeded, explore  | docs/testing.md        |
//! | `env`    | GORT_* configuration, the CPU limit \[unsafe: sched_getaffinity\] | Configuration |
//! | `chan`   | channels, `select!`, the dynamic `Select`, timer channels and timers \[unsafe: waiter nodes, erased select values\] | docs/channels.md |
//! | `context`| Go's context: cancellation trees, deadlines, values  | docs/toolkit.md        |
//! | `errgroup`| x/sync's errgroup: first error, limit, derived context | docs/toolkit.md     |
//! | `scope`  | scoped Gs borrowing the caller's stack \[unsafe: lifetime erasure\] | docs/toolkit.md |
//! | `sync`   | Mutex, RwLock, Condvar, WaitGroup, Once, LazyLock, Semaphore, Barrier, Pool | docs/channels.md, docs/toolkit.md |
//! | `local`  | G-local storage (`local!`) \[unsafe: stable value addresses\] | docs/channels.md |
//!
//! Unsafe code lives only in the modules marked `\[unsafe\]` above and in `g` (the owning `GRef`
//! pointer) and `p` (runnext's raw pointer hand-over); the crate denies it elsewhere.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]
// Under loom the coroutine, stack and OS paths are behind seams (docs/loom.md) and go unused.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

pub(crate) mod bubble;
#[allow(unsafe_code)]
pub mod chan;
pub mod context;
#[allow(unsafe_code)]
mod coro;
pub(crate) mod deadlock;
#[allow(unsafe_code)]
pub(crate) mod dump;
#[allow(unsafe_code)]
pub mod env;
pub mod errgroup;
pub mod exectrace;
mod fatal;
pub mod fs;
#[allow(unsafe_code)]
pub mod g;
#[allow(unsafe_code)]
pub mod join;
#[allow(unsafe_code)]
pub mod local;
pub(crate) mod loom;
pub(crate) mod m;
#[allow(unsafe_code)]
pub mod metrics;
#[allow(unsafe_code)]
pub mod net;
#[allow(unsafe_code)]
pub mod netpoll;
#[cfg(all(unix, not(loom)))]
#[allow(unsafe_code)]
pub mod os_signal;
#[allow(unsafe_code)]
pub mod p;
pub mod park;
#[cfg(all(unix, not(loom)))]
#[allow(unsafe_code)]
pub mod process;
pub(crate) mod runq;
pub(crate) mod scavenge;
#[allow(unsafe_code)]
pub mod sched;
#[allow(unsafe_code)]
pub mod scope;
#[allow(unsafe_code)]
pub mod signal;
#[allow(unsafe_code)]
pub mod stack;
#[cfg(all(unix, not(loom)))]
pub mod stdio;
#[allow(unsafe_code)]
pub mod sync;
pub mod synctest;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub mod syscall;
pub mod sysmon;
#[allow(unsafe_code)]
pub(crate) mod task;
#[cfg(target_os = "linux")]
pub(crate) mod threadstate;
pub mod timer;
pub mod trace;

pub use context::sleep_ctx;
pub use join::{spawn, Builder, JoinHandle};
pub use park::{in_green_thread, yield_now, Unparker};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use syscall::{
    block_in_place, blocking, lock_os_thread, preempt_point, should_yield, unlock_os_thread,
};
pub use timer::sleep;

/// What this crate's public API does not let safe code do (issue 15, item 5), as compile-time
/// tests. Each block must fail to compile.
///
/// `park`, whose callback receives the only owner of a suspended G, is not public:
///
/// ```compile_fail
/// gort_runtime::park::park(gort_runtime::g::WaitReason::Sleep, |u| Some(u));
/// ```
///
/// ```compile_fail
/// gort_runtime::park::park_deadline_on(
///     gort_runtime::g::WaitReason::Sleep,
///     gort_runtime::g::WaitObj::None,
///     std::time::Instant::now(),
///     |u| Some(u),
///     || None,
/// );
/// ```
///
/// nor is the timer that owns one:
///
/// ```compile_fail
/// fn f(u: gort_runtime::Unparker) {
///     gort_runtime::timer::add_unpark(std::time::Instant::now(), u);
/// }
/// ```
///
/// Raw file descriptors are not registered or closed through the netpoller from outside (I/O
/// safety: a safe call must not close an fd it does not own):
///
/// ```compile_fail
/// let pd = gort_runtime::netpoll::open(0).unwrap();
/// gort_runtime::netpoll::close(pd, 0);
/// ```
#[cfg(doctest)]
struct EngineApiPromises;

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
#[inline]
pub fn sched() -> &'static sched::Sched {
    match SCHED.get() {
        Some(s) => s,
        None => start_runtime(),
    }
}

/// The first `sched()`: builds the scheduler, then runs what needs a running scheduler (the
/// `GORT_DEBUG` trace file and SIGQUIT dump), once, after `SCHED` is set (so they may call
/// `sched()` themselves).
#[cfg(not(loom))]
#[cold]
fn start_runtime() -> &'static sched::Sched {
    let s = SCHED.get_or_init(|| {
        let cfg = env::Config::from_env();
        metrics::base();
        let s: &'static sched::Sched = Box::leak(Box::new(sched::Sched::new(cfg)));
        join::install_panic_hook();
        if let Err(e) = sys::on_fork_child(forked_child) {
            eprintln!("gort: cannot register the fork handler ({e}): gort calls in a child forked without exec will hang instead of panicking");
        }
        if let Err(e) = signal::install() {
            eprintln!("gort: cannot install the stack-overflow handler ({e}): an overflow will be a bare SIGSEGV");
        }
        sysmon::start(s);
        s
    });
    static POST: std::sync::Once = std::sync::Once::new();
    POST.call_once(|| {
        #[cfg(unix)]
        if s.cfg.debug.dumponquit {
            if let Err(e) = dump::install_quit_dump() {
                eprintln!("gort: GORT_DEBUG=dumponquit=1: cannot install the SIGQUIT dump ({e})");
            }
        }
        if let Some(path) = &s.cfg.trace_file {
            exectrace::start_file(path);
        }
    });
    s
}

// ---- fork (issue 15, item 6) ------------------------------------------------------------------
//
// `fork()` copies only the calling thread: in a child forked without `exec`, the Ms, sysmon and
// the poller thread do not exist, yet the scheduler's memory says they do, so the first spawn +
// join would wait forever for an M that is not there. Go does not support it either. gort makes
// it loud: a `pthread_atfork` child handler (registered when the runtime starts) sets `FORKED`,
// and the entry points that would wait for the runtime's threads check it: `spawn` everywhere,
// and park and yield on a plain thread (a G's switches do not pay for it: the G's own M was
// copied, and its next spawn stops it). A plain thread gets a panic naming fork, a G (an M
// copied mid-run) a fatal error, since its scheduler cannot go on.
// `std::process::Command` (posix_spawn, or fork + exec without gort calls in between) is not
// affected.

/// Set in a child forked after the runtime started. Std atomic even under loom: written by the
/// fork handler, outside every model.
static FORKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn forked_child() {
    FORKED.store(true, std::sync::atomic::Ordering::Relaxed);
}

const FORK_MESSAGE: &str = "gort: this process was forked (fork() without exec) after the gort \
    runtime started; the runtime's threads do not exist in the child, so green threads cannot \
    run here. Call exec right after fork (std::process::Command does), or fork before the first \
    gort call";

/// Panics (plain thread) or stops (a G) in a child forked without exec; see above. One relaxed
/// load otherwise.
#[inline]
pub(crate) fn check_not_forked() {
    if FORKED.load(std::sync::atomic::Ordering::Relaxed) {
        forked_fail();
    }
}

#[cold]
#[inline(never)]
fn forked_fail() -> ! {
    if coro::on_g_stack() {
        fatal::fatal!("{FORK_MESSAGE}");
    }
    panic!("{FORK_MESSAGE}");
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

/// How many times [`drop_g_locals`] takes the table again because destructors made new values
/// (pthread's `PTHREAD_DESTRUCTOR_ITERATIONS` is 4; more is generous). Values still made after
/// that are leaked, with a message, rather than dropped by anyone else.
const LOCAL_DROP_ROUNDS: usize = 16;

/// Drops the calling G's G-local values (see [`ExitingG::drop_locals`]).
pub(crate) fn drop_g_locals() {
    exiting_g().drop_locals();
}

/// The calling G, looked up once for its exit protocol (join.rs: steps 2 and 6 both drop its
/// G-local values, and each lookup is two thread-local reads). The record is this G's for as
/// long as the G runs, whichever M it runs on: the pointer stays right across a migration (a
/// destructor in step 5 may park), unlike a thread-local's address.
pub(crate) struct ExitingG(Option<*const g::G>);

/// The calling G (none on a plain thread), for [`ExitingG::drop_locals`].
pub(crate) fn exiting_g() -> ExitingG {
    ExitingG(current_g_ptr())
}

impl ExitingG {
    /// Drops the G's G-local values, one at a time, each under the G's boundary
    /// (`join::guarded`), at G exit on the G's own stack, so destructors run as the G. A
    /// destructor that creates new values (of any key) is handled by taking the table again
    /// until it stays empty: when this returns, the G holds no value, so nothing of it is left
    /// for the record's next user (`GRef::reuse` checks). Call it only on the G it was made on.
    #[allow(unsafe_code)]
    pub(crate) fn drop_locals(&self) {
        let Some(g) = self.0 else { return };
        // SAFETY: `g` is the G that made this `ExitingG` (`!Send`, made and used within that
        // G's exit protocol), so this runs on its own stack, the only code touching its locals.
        if !unsafe { (*g).has_locals() } {
            // Most Gs never use `local!`: no table to take (this runs twice per G exit).
            return;
        }
        for _ in 0..LOCAL_DROP_ROUNDS {
            // SAFETY: as in `with_g_local`: we run on the G's own stack; the borrow of the table
            // ends inside `take_locals`, before any destructor runs.
            let vals = unsafe { (*g).take_locals() };
            if vals.is_empty() {
                return;
            }
            for v in vals.into_iter().flatten() {
                join::guarded("the destructor of a gort::local! value", move || drop(v));
            }
        }
        // SAFETY: as above.
        let left = unsafe { (*g).take_locals() };
        if left.iter().any(Option::is_some) {
            eprintln!(
                "gort: green thread {}: G-local destructors kept creating G-local values after {} \
                 rounds; the rest are leaked",
                // SAFETY: as above; `id` is immutable while the G runs.
                unsafe { (*g).id() },
                LOCAL_DROP_ROUNDS
            );
            std::mem::forget(left);
        }
    }
}

/// The id of the G running this code, 0 on a plain thread (one non-inlined thread-local
/// access: never cached across a switch, see m.rs).
#[allow(unsafe_code)]
pub(crate) fn current_goid() -> u64 {
    let g = m::with_m(|m| m.curg.get());
    // SAFETY: a non-null `curg` is the G running on this M, which is the caller (an M's
    // scheduler code never calls this), alive while it runs; its id does not change meanwhile.
    if g.is_null() {
        0
    } else {
        // SAFETY: as above.
        unsafe { &*g }.id()
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

/// Sets the number of Ps to `n` and returns the previous number (Go's `runtime.GOMAXPROCS(n)`;
/// `n == 0` only returns it). `n` is capped at 1024. Gs queued on removed Ps move to the
/// global queue; a G running on a removed P finishes its time slice there (until it parks,
/// yields or ends). Calling it stops the runtime from following the CPU limit (the affinity
/// mask and the cgroup quota, re-read every second when `GORT_MAXPROCS` is not set, as Go
/// 1.25 does). The next schedtrace line shows the new `gomaxprocs`.
///
/// # Examples
///
/// ```
/// let before = gort::set_maxprocs(3);
/// assert_eq!(gort::maxprocs(), 3);
/// let hs: Vec<_> = (0..100).map(|i| gort::spawn(move || i)).collect();
/// assert_eq!(gort::set_maxprocs(1), 3);
/// assert_eq!(hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 4950);
/// gort::set_maxprocs(before);
/// ```
pub fn set_maxprocs(n: usize) -> usize {
    sched().set_maxprocs(n)
}

pub use dump::{dump, dump_to};
