//! `gort::trace`: the execution trace, written as Chrome trace-event JSON (what
//! chrome://tracing, Perfetto and speedscope open).
//!
//! # What is recorded
//!
//! | event | where it is taken | JSON |
//! |---|---|---|
//! | a run slice: G ran on P from t0 to t1, and why it stopped (`park: chan receive`, `yield`, `exit`, `preempted`) | `Sched::execute`, around the resume | `"ph":"X"` on the P's track (`tid` = P + 1), named `G7 'name'` |
//! | create (`spawn`), with the parent | `Sched::spawn_g` | `"ph":"i"` on the P's track (or the runtime track) |
//! | ready (park → runnable), with the readier | `Sched::ready_g` | `"ph":"i"` |
//! | steal | `steal_work` | `"ph":"i"`, `args.from` |
//! | syscall: enter to exit, handed off or not | `entersyscall` / `exitsyscall` | `"ph":"X"` on the M's track (`tid` = 1000 + M) |
//! | handoff by sysmon (syscall, hog, blocked) | `sysmon::retake` | `"ph":"i"` on the sysmon track |
//! | netpoll: Gs made ready by a poll | `netpoll` | `"ph":"i"` |
//! | timer fired | `timer` | `"ph":"i"` |
//! | GOMAXPROCS change | `Sched::resize` | `"ph":"i"` and a `"ph":"C"` counter |
//!
//! # Cost, and how the buffers move
//!
//! Off (the default), each site costs one relaxed load of `STATE` (a byte that never
//! changes, so the line stays shared in every core's cache). On, an event is 32 bytes
//! (`Ev`: two stamps or a stamp and a payload, the G, the M, the P, a kind and a byte)
//! appended to a buffer owned by whoever owns the P the event happens on (`PLocal::trace`,
//! no lock, no atomic), with a TSC stamp (`metrics::stamp`); events without a P (a plain
//! thread's ready, sysmon, syscalls, timers, the poller) go to one global buffer under a
//! lock. A P's buffer full of `CHUNK` events (128 KiB) is handed to the writer thread (a plain
//! thread: the user's `Write` never runs on an M or on sysmon), which formats JSON as it goes
//! and gives the emptied buffer back (`Shared::spare`), so a recording P keeps writing into
//! memory it has touched before instead of a fresh allocation per chunk. The writer is woken
//! when `WAKE_AT` buffers wait (and polls every `POLL`), not per buffer: a wake-up is a futex
//! call on the recording M.
//!
//! On a machine with few cores the writer's work competes with the Ms (it runs beside them),
//! so it formats by hand: each event's fixed part is assembled in a stack
//! buffer (`Line`) with integers written from a two-digit table, appended to the output in
//! one copy, and written to `w` a chunk at a time (ring: ~2,500 instructions per event with
//! `core::fmt`, ~800 now; the Ms' side is ~70).
//!
//! **Stopping** must collect buffers other threads own. [`stop`] turns recording off and
//! bumps `FLUSH_GEN`; an M hands its P's buffer over at its next scheduling round when it
//! sees the new generation (one load per round while a trace runs), and `stop` hands over
//! the buffers of idle Ps itself (an idle P's owner is whoever holds `Sched::lock`). It waits
//! for every live P, at most `STOP_WAIT`: a P held by a G that computes without a
//! scheduling point for longer loses its last buffer (the trace ends with a note saying so).
//! No world is stopped: each P gives up its buffer at a round of its own.

use crate::loom::unmodelled::{Condvar, Mutex};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// 0: off; 1: recording; 2: stopping (Ms hand their buffers over). Read (Relaxed) at every
/// event site and scheduling round.
static STATE: AtomicU8 = AtomicU8::new(0);
/// Bumped by `stop`: Ms hand their P's buffer over when they see it change.
static FLUSH_GEN: AtomicU64 = AtomicU64::new(0);

/// Events per buffer before it goes to the writer (128 KiB).
const CHUNK: usize = 4096;
/// Full buffers waiting before a P wakes the writer; fewer wait until its next `POLL`. A
/// wake-up is a futex call on the recording M and a switch on the writer's core: waking per
/// buffer made a recording ring 1.50x slower than untraced, against 1.35x this way.
const WAKE_AT: usize = 4;
/// How long the writer sleeps when fewer than `WAKE_AT` buffers wait.
const POLL: Duration = Duration::from_millis(10);
/// How long `stop` waits for a busy P to hand its buffer over.
const STOP_WAIT: Duration = Duration::from_millis(200);

/// Why a run slice ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SliceEnd {
    Park(crate::g::WaitReason),
    Yield,
    Exit,
    /// Its M lost the P while it ran (sysmon's retake), or it left a blocking call without one.
    Preempted,
}

/// What an [`Ev`] records; its payload is in `Ev::x` and `Ev::aux`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    /// `x`: the slice's end stamp; `aux`: [`SliceEnd::code`].
    Slice,
    /// `x`: the parent G.
    Create,
    /// `x`: the readier G (0: a plain thread or the runtime).
    Ready,
    /// `x`: the victim P.
    Steal,
    /// `x`: the call's end stamp; `aux`: 1 if its P was handed off.
    Syscall,
    /// `aux`: the index of the cause in [`CAUSES`].
    Handoff,
    /// `x`: how many Gs the poll made ready.
    Netpoll,
    TimerFired,
    /// `x`: the old count in the high half, the new one in the low half.
    Procs,
}

/// sysmon's handoff causes, by `Ev::aux`.
const CAUSES: [&str; 3] = ["syscall", "hog", "blocked"];

impl SliceEnd {
    const YIELD: u8 = 253;
    const EXIT: u8 = 254;
    const PREEMPTED: u8 = 255;

    /// One byte: a park's wait reason (every `WaitReason` is below 253), or a marker.
    fn code(self) -> u8 {
        match self {
            SliceEnd::Park(r) => r as u8,
            SliceEnd::Yield => Self::YIELD,
            SliceEnd::Exit => Self::EXIT,
            SliceEnd::Preempted => Self::PREEMPTED,
        }
    }

    fn from_code(c: u8) -> SliceEnd {
        match c {
            Self::YIELD => SliceEnd::Yield,
            Self::EXIT => SliceEnd::Exit,
            Self::PREEMPTED => SliceEnd::Preempted,
            r => SliceEnd::Park(crate::g::WaitReason::from_u8(r)),
        }
    }
}

/// One event: 32 bytes, `Copy` (half a cache line: what a recording P writes per event).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ev {
    t0: u64,
    /// The kind's payload (see [`Kind`]).
    x: u64,
    g: u64,
    m: u32,
    /// P id (below `MAX_PROCS`), or `NO_P`.
    p: u16,
    kind: Kind,
    aux: u8,
}

const NO_P: u16 = u16::MAX;
const _: () = assert!(std::mem::size_of::<Ev>() == 32);
const _: () = assert!(crate::env::MAX_PROCS < NO_P as usize);

/// A P's buffer (in `PLocal`, owner-only) and the generation it last flushed at.
#[derive(Default)]
pub(crate) struct PBuf {
    evs: Vec<Ev>,
    gen: u64,
}

/// Whether events are being recorded (one relaxed load).
#[inline]
pub(crate) fn on() -> bool {
    STATE.load(Ordering::Relaxed) == 1
}

/// Whether a trace is recording or stopping: scheduling rounds then call [`round`].
#[inline]
pub(crate) fn active() -> bool {
    STATE.load(Ordering::Relaxed) != 0
}

/// Full buffers waiting for the writer, the global buffer, and the writer's wake-up.
struct Shared {
    full: Vec<Vec<Ev>>,
    /// Emptied buffers the writer gave back (at most `SPARES`).
    spare: Vec<Vec<Ev>>,
    global: Vec<Ev>,
    /// Names of the Gs seen (named ones only), for the slices' titles.
    names: std::collections::BTreeMap<u64, std::sync::Arc<str>>,
    stopping: bool,
    /// Ps that handed their buffer over since `stop` bumped the generation.
    flushed: std::collections::BTreeSet<usize>,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    full: Vec::new(),
    spare: Vec::new(),
    global: Vec::new(),
    names: std::collections::BTreeMap::new(),
    stopping: false,
    flushed: std::collections::BTreeSet::new(),
});
static WAKE: Condvar = Condvar::new();
static FLUSHED: Condvar = Condvar::new();

/// The running trace's writer thread.
static WRITER: Mutex<Option<std::thread::JoinHandle<io::Result<()>>>> = Mutex::new(None);
/// Serialises `start`/`stop`.
static CONTROL: Mutex<()> = Mutex::new(());
/// 1 while a writer thread runs (the deadlock detector counts it as a runtime thread).
static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The trace's writer thread, if one runs (deadlock.rs).
pub(crate) fn threads() -> usize {
    THREADS.load(Ordering::SeqCst)
}

/// How many emptied buffers the writer keeps for the Ps to reuse.
const SPARES: usize = 8;

/// An empty buffer of `CHUNK` capacity: a spare the writer returned, or a new one.
fn fresh(s: &mut Shared) -> Vec<Ev> {
    s.spare.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK))
}

fn push_global(e: Ev) {
    let mut s = SHARED.lock();
    if s.global.capacity() == 0 {
        s.global = fresh(&mut s);
    }
    s.global.push(e);
    if s.global.len() >= CHUNK {
        let next = fresh(&mut s);
        let full = std::mem::replace(&mut s.global, next);
        s.full.push(full);
        let wake = s.full.len() >= WAKE_AT;
        drop(s);
        if wake {
            WAKE.notify_all();
        }
    }
}

/// Records `e` in P `p`'s buffer (caller: its owner), or the global one.
#[inline]
fn push(local: Option<&crate::p::PLocal>, e: Ev) {
    match local {
        Some(l) => {
            let mut b = l.trace.borrow_mut();
            if b.evs.len() >= CHUNK || b.evs.capacity() == 0 {
                hand_over(&mut b.evs);
            }
            b.evs.push(e);
        }
        None => push_global(e),
    }
}

/// Gives a P's full buffer to the writer and puts a spare in its place (a buffer is reused,
/// so a recording P keeps writing into memory it already touched).
#[cold]
fn hand_over(evs: &mut Vec<Ev>) {
    let mut s = SHARED.lock();
    let next = fresh(&mut s);
    let full = std::mem::replace(evs, next);
    if full.is_empty() {
        return;
    }
    s.full.push(full);
    let wake = s.full.len() >= WAKE_AT;
    drop(s);
    if wake {
        WAKE.notify_all();
    }
}

// ---- the sites (each checks `on()` first, at its caller or here) ---------------------------------

fn ev(kind: Kind, p: u16, m: u32, g: u64, t0: u64, x: u64, aux: u8) -> Ev {
    Ev {
        t0,
        x,
        g,
        m,
        p,
        kind,
        aux,
    }
}

/// A run slice of G `g` on P `p` (owner `local`) by M `m`, from `t0` to now.
#[cold]
pub(crate) fn slice(
    local: Option<&crate::p::PLocal>,
    p: usize,
    m: usize,
    g: u64,
    t0: u64,
    end: SliceEnd,
) {
    let t1 = crate::metrics::stamp();
    let e = ev(Kind::Slice, p as u16, m as u32, g, t0, t1, end.code());
    push(local, e);
}

/// An instant event of `kind` (payload `x`, `aux`) about G `g` (0: none) on P `p` (`NO_P`:
/// none), now, into the buffer of P `local` (its owner) or the global one.
fn instant(local: Option<&crate::p::PLocal>, kind: Kind, p: u16, g: u64, x: u64, aux: u8) {
    let t = crate::metrics::stamp();
    push(local, ev(kind, p, 0, g, t, x, aux));
}

fn pid(p: Option<usize>) -> u16 {
    p.map_or(NO_P, |p| p as u16)
}

/// G `g` was created by `parent`, on P `p` (its owner `local`) or without one.
#[cold]
pub(crate) fn create(
    local: Option<&crate::p::PLocal>,
    p: Option<usize>,
    g: u64,
    parent: u64,
    name: Option<&std::sync::Arc<str>>,
) {
    if let Some(n) = name {
        SHARED.lock().names.insert(g, n.clone());
    }
    instant(local, Kind::Create, pid(p), g, parent, 0);
}

/// G `g` was made runnable by G `by` (0: a plain thread or the runtime).
#[cold]
pub(crate) fn ready(local: Option<&crate::p::PLocal>, p: Option<usize>, g: u64, by: u64) {
    instant(local, Kind::Ready, pid(p), g, by, 0);
}

/// P `p` (owner `local`) stole G `g` from P `from`.
#[cold]
pub(crate) fn steal(local: &crate::p::PLocal, p: usize, from: usize, g: u64) {
    instant(Some(local), Kind::Steal, p as u16, g, from as u64, 0);
}

/// G `g` on M `m` spent `t0`..now in a blocking call; its P was handed off meanwhile or not.
#[cold]
pub(crate) fn syscall(m: usize, g: u64, t0: u64, handed_off: bool) {
    let t1 = crate::metrics::stamp();
    push_global(ev(
        Kind::Syscall,
        NO_P,
        m as u32,
        g,
        t0,
        t1,
        handed_off as u8,
    ));
}

/// sysmon handed P `p` off from G `g` (`cause`: `syscall`, `hog`, `blocked`).
#[cold]
pub(crate) fn handoff(p: usize, g: u64, cause: &'static str) {
    let c = CAUSES.iter().position(|&k| k == cause).unwrap_or(0);
    instant(None, Kind::Handoff, p as u16, g, 0, c as u8);
}

/// A poll made `n` Gs ready.
#[cold]
pub(crate) fn netpoll(n: usize) {
    instant(None, Kind::Netpoll, NO_P, 0, n as u64, 0);
}

/// A timer fired.
#[cold]
pub(crate) fn timer_fired() {
    instant(None, Kind::TimerFired, NO_P, 0, 0, 0);
}

/// GOMAXPROCS went from `from` to `to`.
pub(crate) fn procs(from: usize, to: usize) {
    if !on() {
        return;
    }
    let x = ((from as u64) << 32) | to as u64;
    instant(None, Kind::Procs, NO_P, 0, x, 0);
}

/// At each scheduling round, while a trace runs or is being stopped: hands P `p`'s buffer to
/// the writer if `stop` asked (module docs, "Stopping"). Caller: the P's owner.
#[inline]
pub(crate) fn round(local: &crate::p::PLocal, p: usize) {
    let gen = FLUSH_GEN.load(Ordering::Relaxed);
    if local.trace.borrow().gen != gen {
        flush_p(local, p, gen);
    }
}

/// P `local` was removed by `set_maxprocs`: its events go to the writer now (its owner, under
/// `Sched::lock`, calls this; `stop` flushes live Ps only).
#[cold]
pub(crate) fn p_removed(local: &crate::p::PLocal) {
    let evs = std::mem::take(&mut local.trace.borrow_mut().evs);
    if !evs.is_empty() {
        SHARED.lock().full.push(evs);
        WAKE.notify_all();
    }
}

#[cold]
fn flush_p(local: &crate::p::PLocal, p: usize, gen: u64) {
    let mut b = local.trace.borrow_mut();
    b.gen = gen;
    let evs = std::mem::take(&mut b.evs);
    drop(b);
    let mut s = SHARED.lock();
    if !evs.is_empty() {
        s.full.push(evs);
    }
    s.flushed.insert(p);
    drop(s);
    WAKE.notify_all();
    FLUSHED.notify_all();
}

// ---- start / stop ---------------------------------------------------------------------------------

/// Starts recording an execution trace into `w` (Go's `runtime/trace.Start`), as Chrome
/// trace-event JSON. `w` is written from a thread of its own, never from an M or sysmon.
/// Fails if a trace is already running.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("gort-start-{}.json", std::process::id()));
/// gort::trace::start(std::fs::File::create(&path).unwrap()).unwrap();
/// assert!(gort::trace::start(std::io::sink()).is_err()); // one at a time
/// gort::trace::stop().unwrap();
/// # std::fs::remove_file(path).unwrap();
/// ```
pub fn start(w: impl Write + Send + 'static) -> io::Result<()> {
    let _c = CONTROL.lock();
    if on() || WRITER.lock().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "gort::trace::start: a trace is already running (call gort::trace::stop first)",
        ));
    }
    let s = crate::sched();
    crate::metrics::calibrate_now();
    {
        let mut sh = SHARED.lock();
        sh.full.clear();
        sh.global.clear();
        sh.stopping = false;
        sh.flushed.clear();
        sh.names.clear();
        // Names of the Gs alive now (later ones are recorded at creation).
        crate::g::for_each_g(|g| {
            if let Some(n) = g.name() {
                sh.names.insert(g.id(), n.clone());
            }
        });
    }
    let nprocs = s.all_ps().len();
    let t0 = crate::metrics::stamp();
    THREADS.fetch_add(1, Ordering::SeqCst);
    let writer = std::thread::Builder::new()
        .name("gort-trace".into())
        .spawn(move || {
            let r = write_loop(w, t0, nprocs);
            THREADS.fetch_sub(1, Ordering::SeqCst);
            r
        })
        .inspect_err(|_| {
            THREADS.fetch_sub(1, Ordering::SeqCst);
        })?;
    *WRITER.lock() = Some(writer);
    STATE.store(1, Ordering::Relaxed);
    Ok(())
}

/// Stops the trace started by [`start`]: every P hands its events over at its next
/// scheduling round (idle Ps at once; a P busy for longer than 200 ms without one keeps its
/// last events, and the trace says so), the writer finishes the JSON and flushes `w`, and its
/// first error, if any, is returned. Fails if no trace is running.
///
/// # Examples
///
/// ```
/// assert!(gort::trace::stop().is_err()); // nothing to stop
/// let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
/// struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
/// impl std::io::Write for W {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().extend_from_slice(b);
///         Ok(b.len())
///     }
///     fn flush(&mut self) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
/// gort::trace::start(W(buf.clone())).unwrap();
/// gort::spawn(|| ()).join().unwrap();
/// gort::trace::stop().unwrap();
/// assert!(String::from_utf8(buf.lock().unwrap().clone()).unwrap().ends_with("]}\n"));
/// ```
pub fn stop() -> io::Result<()> {
    let _c = CONTROL.lock();
    let Some(writer) = WRITER.lock().take() else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "gort::trace::stop: no trace is running",
        ));
    };
    STATE.store(2, Ordering::Relaxed);
    let gen = FLUSH_GEN.fetch_add(1, Ordering::Relaxed) + 1;
    let s = crate::sched();
    // Idle Ps: their buffers are ours under the scheduler lock.
    {
        let l = s.lock.lock();
        for h in l.idle_p.iter() {
            flush_p(h.local(), h.id(), gen);
        }
    }
    let deadline = Instant::now() + STOP_WAIT;
    let mut missing: Vec<usize>;
    {
        let mut sh = SHARED.lock();
        loop {
            missing = s
                .active_ps()
                .iter()
                .map(|p| p.id)
                .filter(|id| !sh.flushed.contains(id))
                .collect();
            let now = Instant::now();
            if missing.is_empty() || now >= deadline {
                break;
            }
            // Idle Ps that went idle after we looked are flushed by whoever next takes them;
            // look again (a P that is idle and unflushed is flushed here).
            drop(sh);
            {
                let l = s.lock.lock();
                for h in l.idle_p.iter() {
                    if h.local().trace.borrow().gen != gen {
                        flush_p(h.local(), h.id(), gen);
                    }
                }
            }
            sh = SHARED.lock();
            if s.active_ps().iter().all(|p| sh.flushed.contains(&p.id)) {
                continue;
            }
            sh = FLUSHED.wait_for(sh, (deadline - now).min(Duration::from_millis(5)));
        }
        if !sh.global.is_empty() {
            let g = std::mem::take(&mut sh.global);
            sh.full.push(g);
        }
        sh.stopping = true;
        if !missing.is_empty() {
            let note = missing
                .iter()
                .map(|p| format!("P{p}"))
                .collect::<Vec<_>>()
                .join(" ");
            // Carried to the writer as a name on a pseudo-G (see `write_loop`).
            sh.names.insert(u64::MAX, note.into());
        }
    }
    STATE.store(0, Ordering::Relaxed);
    WAKE.notify_all();
    match writer.join() {
        Ok(r) => r,
        Err(_) => Err(io::Error::other(
            "gort::trace: the trace writer panicked (the Write implementation)",
        )),
    }
}

/// Starts a trace into `path` (`GORT_DEBUG=trace=FILE`): created (truncated), written until
/// the process exits, when an `atexit` handler stops it.
pub(crate) fn start_file(path: &str) {
    match std::fs::File::create(path) {
        Ok(f) => {
            // No `BufWriter`: the writer hands `w` a chunk's JSON (~100 KiB) per call already.
            if let Err(e) = start(f) {
                eprintln!("gort: GORT_DEBUG=trace={path}: {e}");
                return;
            }
            crate::sys::at_exit(stop_at_exit);
        }
        Err(e) => eprintln!("gort: GORT_DEBUG=trace={path}: cannot create the file: {e}"),
    }
}

extern "C" fn stop_at_exit() {
    if let Err(e) = stop() {
        if e.kind() != io::ErrorKind::NotFound {
            eprintln!("gort: GORT_DEBUG=trace: {e}");
        }
    }
}

// ---- the writer ------------------------------------------------------------------------------

fn write_loop(w: impl Write, t0: u64, nprocs: usize) -> io::Result<()> {
    let mut out = JsonOut {
        w,
        t0,
        first: true,
        err: None,
        buf: Vec::with_capacity(1 << 16),
        line: Line::new(),
    };
    out.raw("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    out.meta("process_name", 0, "gort");
    for p in 0..nprocs.max(1) {
        out.meta("thread_name", p as u64 + 1, &format!("P{p}"));
        out.sort(p as u64 + 1, p as u64 + 1);
    }
    out.meta("thread_name", SYSMON_TID, "sysmon");
    out.meta("thread_name", RUNTIME_TID, "runtime (no P)");
    out.sort(SYSMON_TID, 5000);
    out.sort(RUNTIME_TID, 5001);
    let mut ms_named = std::collections::HashSet::new();
    let mut procs_named = nprocs;
    let mut names_seen = 0;
    let mut names = std::collections::BTreeMap::new();
    loop {
        let (batch, new_names, stopping) = {
            let mut sh = SHARED.lock();
            // Woken at `WAKE_AT` buffers or by `stop`; otherwise every `POLL`, taking what
            // there is.
            let mut waited = false;
            while !sh.stopping && sh.full.len() < WAKE_AT && (sh.full.is_empty() || !waited) {
                sh = WAKE.wait_for(sh, POLL);
                waited = true;
            }
            let names = if sh.names.len() != names_seen {
                Some(sh.names.clone())
            } else {
                None
            };
            (std::mem::take(&mut sh.full), names, sh.stopping)
        };
        if let Some(n) = new_names {
            names_seen = n.len();
            names = n;
        }
        for mut chunk in batch {
            // Events older than this trace were left in a P's buffer by the last one.
            for e in chunk.iter().filter(|e| e.t0 >= t0) {
                if e.p != NO_P && e.p as usize >= procs_named {
                    for p in procs_named..=e.p as usize {
                        out.meta("thread_name", p as u64 + 1, &format!("P{p}"));
                    }
                    procs_named = e.p as usize + 1;
                }
                if e.kind == Kind::Syscall && ms_named.insert(e.m) {
                    out.meta(
                        "thread_name",
                        M_TID + e.m as u64,
                        &format!("M{} blocking calls", e.m),
                    );
                    out.sort(M_TID + e.m as u64, 6000 + e.m as u64);
                }
                out.event(e, &names);
            }
            out.drain()?;
            chunk.clear();
            if chunk.capacity() == CHUNK {
                let mut sh = SHARED.lock();
                if sh.spare.len() < SPARES {
                    sh.spare.push(chunk);
                }
            }
        }
        if stopping {
            if let Some(n) = names.get(&u64::MAX) {
                let note = format!(
                    "{{\"name\":\"trace stopped: {n} kept their last events (a G ran past \
                     the 200 ms stop wait without a scheduling point)\",\"ph\":\"i\",\"s\":\"g\",\
                     \"ts\":{},\"pid\":1,\"tid\":{RUNTIME_TID}}}",
                    out.us(crate::metrics::stamp())
                );
                out.item(&note);
            }
            out.raw("\n]}\n");
            out.drain()?;
            out.w.flush()?;
            return match out.err.take() {
                Some(e) => Err(e),
                None => Ok(()),
            };
        }
    }
}

const SYSMON_TID: u64 = 900;
const RUNTIME_TID: u64 = 901;
const M_TID: u64 = 1000;

struct JsonOut<W: Write> {
    w: W,
    t0: u64,
    first: bool,
    err: Option<io::Error>,
    /// JSON not yet written to `w` (bytes: the numbers are put in by hand, not by `fmt`,
    /// which was a fifth of a recording program's CPU time on ring).
    buf: Vec<u8>,
    /// The frequent events' fixed part, reused from event to event.
    line: Line,
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// Two decimal digits for each of 0..100.
const DIGITS2: &[u8; 200] = b"\
    0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
    5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// Writes `v` in decimal at `b[at..]`, from its last digit back; returns the end.
#[inline(always)]
fn put_digits(b: &mut [u8], at: usize, mut v: u64) -> usize {
    let end = at + v.checked_ilog10().unwrap_or(0) as usize + 1;
    let mut i = end;
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        b[i..i + 2].copy_from_slice(&DIGITS2[r..r + 2]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        b[i - 2..i].copy_from_slice(&DIGITS2[r..r + 2]);
    } else {
        b[i - 1] = b'0' + v as u8;
    }
    end
}

/// Appends `v` in decimal.
fn put_u64(b: &mut Vec<u8>, v: u64) {
    let mut d = [0u8; 20];
    let n = put_digits(&mut d, 0, v);
    b.extend_from_slice(&d[..n]);
}

/// Appends `ns` as microseconds with ns precision (`12.345`).
fn put_us(b: &mut Vec<u8>, ns: u64) {
    let mut l = Line::new();
    l.us(ns);
    b.extend_from_slice(l.bytes());
}

/// One event's fixed-size part, put together on the stack and appended to the output at once
/// (one bounds-checked copy per event instead of one per piece).
struct Line {
    b: [u8; 320],
    n: usize,
}

impl Line {
    fn new() -> Line {
        Line { b: [0; 320], n: 0 }
    }

    #[inline(always)]
    fn lit(&mut self, s: &[u8]) {
        self.b[self.n..self.n + s.len()].copy_from_slice(s);
        self.n += s.len();
    }

    /// Appends `v` in decimal, written in place from its last digit back.
    #[inline(always)]
    fn num(&mut self, v: u64) {
        self.n = put_digits(&mut self.b, self.n, v);
    }

    #[inline(always)]
    fn us(&mut self, ns: u64) {
        self.num(ns / 1000);
        let f = (ns % 1000) as usize;
        let r = (f % 100) * 2;
        self.lit(&[b'.', b'0' + (f / 100) as u8, DIGITS2[r], DIGITS2[r + 1]]);
    }

    /// `,"pid":1,"tid":T,"args":{"goid":G` (the args object stays open).
    #[inline(always)]
    fn ids(&mut self, tid: u64, g: u64) {
        self.lit(b",\"pid\":1,\"tid\":");
        self.num(tid);
        self.lit(b",\"args\":{\"goid\":");
        self.num(g);
    }

    fn bytes(&self) -> &[u8] {
        &self.b[..self.n]
    }
}

/// Appends `G7` or `G7 'name'`.
#[inline(always)]
fn put_gname(
    b: &mut Vec<u8>,
    g: u64,
    names: &std::collections::BTreeMap<u64, std::sync::Arc<str>>,
) {
    b.push(b'G');
    put_u64(b, g);
    if let Some(n) = names.get(&g) {
        b.extend_from_slice(b" '");
        b.extend_from_slice(esc(n).as_bytes());
        b.push(b'\'');
    }
}

impl<W: Write> JsonOut<W> {
    fn raw(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Starts the next item of the event array (the separator) and returns the buffer.
    fn next(&mut self) -> &mut Vec<u8> {
        if !self.first {
            self.buf.extend_from_slice(b",\n");
        }
        self.first = false;
        &mut self.buf
    }

    /// Starts a frequent event: `{"name":"<prefix>G7 'name'` goes to the output, and the
    /// rest is put together in the returned `Line` (appended by the caller).
    fn head(
        &mut self,
        prefix: &[u8],
        g: u64,
        names: &std::collections::BTreeMap<u64, std::sync::Arc<str>>,
    ) -> &mut Line {
        let b = self.next();
        b.extend_from_slice(b"{\"name\":\"");
        b.extend_from_slice(prefix);
        put_gname(b, g, names);
        self.line.n = 0;
        &mut self.line
    }

    fn item(&mut self, s: &str) {
        self.next().extend_from_slice(s.as_bytes());
    }

    fn drain(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.w.write_all(&self.buf);
        self.buf.clear();
        r
    }

    /// Microseconds since the trace started, with ns precision (the JSON's `ts`).
    fn us(&self, t: u64) -> String {
        let mut b = Vec::new();
        put_us(
            &mut b,
            crate::metrics::ticks_to_ns(t.saturating_sub(self.t0)),
        );
        String::from_utf8(b).expect("digits")
    }

    fn meta(&mut self, what: &str, tid: u64, name: &str) {
        let s = format!(
            "{{\"name\":\"{what}\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":\"{}\"}}}}",
            esc(name)
        );
        self.item(&s);
    }

    fn sort(&mut self, tid: u64, index: u64) {
        let s = format!(
            "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"sort_index\":{index}}}}}"
        );
        self.item(&s);
    }

    fn gname(g: u64, names: &std::collections::BTreeMap<u64, std::sync::Arc<str>>) -> String {
        let mut b = Vec::new();
        put_gname(&mut b, g, names);
        String::from_utf8(b).expect("names are str")
    }

    fn event(&mut self, e: &Ev, names: &std::collections::BTreeMap<u64, std::sync::Arc<str>>) {
        let tid = if e.p == NO_P {
            RUNTIME_TID
        } else {
            e.p as u64 + 1
        };
        // The frequent events go straight into the buffer (no allocation, no `fmt`).
        let t0 = crate::metrics::ticks_to_ns(e.t0.saturating_sub(self.t0));
        match e.kind {
            Kind::Slice => {
                let dur = crate::metrics::ticks_to_ns(e.x.saturating_sub(e.t0));
                let l = self.head(b"", e.g, names);
                l.lit(b"\",\"cat\":\"run\",\"ph\":\"X\",\"ts\":");
                l.us(t0);
                l.lit(b",\"dur\":");
                l.us(dur);
                l.ids(tid, e.g);
                l.lit(b",\"m\":");
                l.num(e.m as u64);
                l.lit(b",\"end\":\"");
                match SliceEnd::from_code(e.aux) {
                    SliceEnd::Park(r) => {
                        l.lit(b"park: ");
                        l.lit(r.as_str().as_bytes());
                    }
                    SliceEnd::Yield => l.lit(b"yield"),
                    SliceEnd::Exit => l.lit(b"exit"),
                    SliceEnd::Preempted => l.lit(b"P taken (retake)"),
                }
                l.lit(b"\"}}");
                self.buf.extend_from_slice(self.line.bytes());
                return;
            }
            Kind::Ready => {
                let l = self.head(b"ready ", e.g, names);
                l.lit(b"\",\"cat\":\"ready\",\"ph\":\"i\",\"s\":\"t\",\"ts\":");
                l.us(t0);
                l.ids(tid, e.g);
                l.lit(b",\"by\":");
                l.num(e.x);
                l.lit(b"}}");
                self.buf.extend_from_slice(self.line.bytes());
                return;
            }
            _ => {}
        }
        let ts = self.us(e.t0);
        let s = match e.kind {
            Kind::Slice | Kind::Ready => return,
            Kind::Create => format!(
                "{{\"name\":\"create {}\",\"cat\":\"create\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{tid},\"args\":{{\"goid\":{},\"parent\":{}}}}}",
                Self::gname(e.g, names),
                e.g,
                e.x
            ),
            Kind::Steal => format!(
                "{{\"name\":\"steal {} from P{from}\",\"cat\":\"steal\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{tid},\"args\":{{\"goid\":{},\"from\":{from}}}}}",
                Self::gname(e.g, names),
                e.g,
                from = e.x
            ),
            Kind::Syscall => {
                let mut d = Vec::new();
                put_us(&mut d, crate::metrics::ticks_to_ns(e.x.saturating_sub(e.t0)));
                format!(
                    "{{\"name\":\"syscall {}\",\"cat\":\"syscall\",\"ph\":\"X\",\"ts\":{ts},\"dur\":{},\"pid\":1,\"tid\":{},\"args\":{{\"goid\":{},\"handed_off\":{}}}}}",
                    Self::gname(e.g, names),
                    String::from_utf8_lossy(&d),
                    M_TID + e.m as u64,
                    e.g,
                    e.aux != 0
                )
            }
            Kind::Handoff => {
                let cause = CAUSES[e.aux as usize % CAUSES.len()];
                format!(
                    "{{\"name\":\"handoff P{} ({cause}: {})\",\"cat\":\"handoff\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{SYSMON_TID},\"args\":{{\"p\":{},\"goid\":{},\"cause\":\"{cause}\"}}}}",
                    e.p,
                    Self::gname(e.g, names),
                    e.p,
                    e.g
                )
            }
            Kind::Netpoll => format!(
                "{{\"name\":\"netpoll: {n} ready\",\"cat\":\"netpoll\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{RUNTIME_TID},\"args\":{{\"ready\":{n}}}}}",
                n = e.x
            ),
            Kind::TimerFired => format!(
                "{{\"name\":\"timer fired\",\"cat\":\"timer\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{RUNTIME_TID}}}"
            ),
            Kind::Procs => {
                let (from, to) = (e.x >> 32, e.x & 0xffff_ffff);
                let c = format!(
                    "{{\"name\":\"gomaxprocs\",\"ph\":\"C\",\"ts\":{ts},\"pid\":1,\"args\":{{\"gomaxprocs\":{to}}}}}"
                );
                self.item(&c);
                format!(
                    "{{\"name\":\"GOMAXPROCS {from} -> {to}\",\"cat\":\"procs\",\"ph\":\"i\",\"s\":\"g\",\"ts\":{ts},\"pid\":1,\"tid\":{RUNTIME_TID}}}"
                )
            }
        };
        self.item(&s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_fmt_writes_them() {
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            65_535,
            1 << 40,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_u64(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
            let mut l = Line::new();
            l.num(v);
            assert_eq!(l.bytes(), v.to_string().as_bytes());
        }
        for ns in [0, 7, 42, 999, 1000, 1001, 123_456_789, u64::MAX] {
            let mut b = Vec::new();
            put_us(&mut b, ns);
            let want = format!("{}.{:03}", ns / 1000, ns % 1000);
            assert_eq!(String::from_utf8(b).unwrap(), want);
        }
    }

    #[test]
    fn the_longest_slice_line_fits() {
        // Every number at its widest and the longest wait reason: no slice past `Line`'s end.
        let mut l = Line::new();
        l.lit(b"\",\"cat\":\"run\",\"ph\":\"X\",\"ts\":");
        l.us(u64::MAX);
        l.lit(b",\"dur\":");
        l.us(u64::MAX);
        l.ids(u64::MAX, u64::MAX);
        l.lit(b",\"m\":");
        l.num(u32::MAX as u64);
        l.lit(b",\"end\":\"park: ");
        let longest = (0..=u8::MAX)
            .map(|c| crate::g::WaitReason::from_u8(c).as_str().len())
            .max()
            .unwrap();
        l.lit(&vec![b'x'; longest]);
        l.lit(b"\"}}");
        assert!(l.n <= l.b.len());
    }

    #[test]
    fn slice_ends_survive_their_byte() {
        use crate::g::WaitReason;
        for end in [
            SliceEnd::Yield,
            SliceEnd::Exit,
            SliceEnd::Preempted,
            SliceEnd::Park(WaitReason::ChanReceive),
            SliceEnd::Park(WaitReason::SynctestWait),
        ] {
            assert_eq!(
                format!("{:?}", SliceEnd::from_code(end.code())),
                format!("{end:?}")
            );
        }
    }
}
