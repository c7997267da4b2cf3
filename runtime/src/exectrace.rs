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
//! changes, so the line stays shared in every core's cache). On, an event is a few words
//! appended to a buffer owned by whoever owns the P the event happens on (`PLocal::trace`,
//! no lock, no atomic), with a TSC stamp (`metrics::stamp`); events without a P (a plain
//! thread's ready, sysmon, syscalls, timers, the poller) go to one global buffer under a
//! lock. A P's buffer full of `CHUNK` events is handed to the writer thread (a plain thread:
//! the user's `Write` never runs on an M or on sysmon), which formats JSON as it goes.
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

/// Events per buffer before it goes to the writer.
const CHUNK: usize = 4096;
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

#[derive(Clone, Copy, Debug)]
enum Kind {
    Slice(SliceEnd),
    Create { parent: u64 },
    Ready { by: u64 },
    Steal { from: u32 },
    Syscall { handed_off: bool },
    Handoff { cause: &'static str },
    Netpoll { n: u32 },
    TimerFired,
    Procs { from: u32, to: u32 },
}

/// One event: a few words, `Copy`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ev {
    kind: Kind,
    /// P id, or `u32::MAX` for none.
    p: u32,
    m: u32,
    g: u64,
    t0: u64,
    t1: u64,
}

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
    global: Vec<Ev>,
    /// Names of the Gs seen (named ones only), for the slices' titles.
    names: std::collections::BTreeMap<u64, std::sync::Arc<str>>,
    stopping: bool,
    /// Ps that handed their buffer over since `stop` bumped the generation.
    flushed: std::collections::BTreeSet<usize>,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    full: Vec::new(),
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

fn push_global(e: Ev) {
    let mut s = SHARED.lock();
    s.global.push(e);
    if s.global.len() >= CHUNK {
        let full = std::mem::take(&mut s.global);
        s.full.push(full);
        drop(s);
        WAKE.notify_all();
    }
}

/// Records `e` in P `p`'s buffer (caller: its owner), or the global one.
#[inline]
fn push(local: Option<&crate::p::PLocal>, e: Ev) {
    match local {
        Some(l) => {
            let mut b = l.trace.borrow_mut();
            b.evs.push(e);
            if b.evs.len() >= CHUNK {
                let full = std::mem::replace(&mut b.evs, Vec::with_capacity(CHUNK));
                drop(b);
                SHARED.lock().full.push(full);
                WAKE.notify_all();
            }
        }
        None => push_global(e),
    }
}

// ---- the sites (each checks `on()` first, at its caller or here) ---------------------------------

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
    push(
        local,
        Ev {
            kind: Kind::Slice(end),
            p: p as u32,
            m: m as u32,
            g,
            t0,
            t1,
        },
    );
}

/// An instant event of `kind` about G `g` (0: none) on P `p` (`u32::MAX`: none), now, into
/// the buffer of P `local` (its owner) or the global one.
fn instant(local: Option<&crate::p::PLocal>, kind: Kind, p: u32, g: u64) {
    let t = crate::metrics::stamp();
    let e = Ev {
        kind,
        p,
        m: 0,
        g,
        t0: t,
        t1: t,
    };
    push(local, e);
}

fn pid(p: Option<usize>) -> u32 {
    p.map_or(u32::MAX, |p| p as u32)
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
    instant(local, Kind::Create { parent }, pid(p), g);
}

/// G `g` was made runnable by G `by` (0: a plain thread or the runtime).
#[cold]
pub(crate) fn ready(local: Option<&crate::p::PLocal>, p: Option<usize>, g: u64, by: u64) {
    instant(local, Kind::Ready { by }, pid(p), g);
}

/// P `p` (owner `local`) stole G `g` from P `from`.
#[cold]
pub(crate) fn steal(local: &crate::p::PLocal, p: usize, from: usize, g: u64) {
    let kind = Kind::Steal { from: from as u32 };
    instant(Some(local), kind, p as u32, g);
}

/// G `g` on M `m` spent `t0`..now in a blocking call; its P was handed off meanwhile or not.
#[cold]
pub(crate) fn syscall(m: usize, g: u64, t0: u64, handed_off: bool) {
    let t1 = crate::metrics::stamp();
    push_global(Ev {
        kind: Kind::Syscall { handed_off },
        p: u32::MAX,
        m: m as u32,
        g,
        t0,
        t1,
    });
}

/// sysmon handed P `p` off from G `g` (`cause`: `syscall`, `hog`, `blocked`).
#[cold]
pub(crate) fn handoff(p: usize, g: u64, cause: &'static str) {
    instant(None, Kind::Handoff { cause }, p as u32, g);
}

/// A poll made `n` Gs ready.
#[cold]
pub(crate) fn netpoll(n: usize) {
    instant(None, Kind::Netpoll { n: n as u32 }, u32::MAX, 0);
}

/// A timer fired.
#[cold]
pub(crate) fn timer_fired() {
    instant(None, Kind::TimerFired, u32::MAX, 0);
}

/// GOMAXPROCS went from `from` to `to`.
pub(crate) fn procs(from: usize, to: usize) {
    if !on() {
        return;
    }
    let kind = Kind::Procs {
        from: from as u32,
        to: to as u32,
    };
    instant(None, kind, u32::MAX, 0);
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
            if let Err(e) = start(io::BufWriter::with_capacity(1 << 20, f)) {
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
        buf: String::with_capacity(1 << 16),
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
            while sh.full.is_empty() && !sh.stopping {
                sh = WAKE.wait(sh);
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
        for chunk in batch {
            // Events older than this trace were left in a P's buffer by the last one.
            for e in chunk.into_iter().filter(|e| e.t0 >= t0) {
                if e.p != u32::MAX && e.p as usize >= procs_named {
                    for p in procs_named..=e.p as usize {
                        out.meta("thread_name", p as u64 + 1, &format!("P{p}"));
                    }
                    procs_named = e.p as usize + 1;
                }
                if let Kind::Syscall { .. } = e.kind {
                    if ms_named.insert(e.m) {
                        out.meta(
                            "thread_name",
                            M_TID + e.m as u64,
                            &format!("M{} blocking calls", e.m),
                        );
                        out.sort(M_TID + e.m as u64, 6000 + e.m as u64);
                    }
                }
                out.event(&e, &names);
            }
            out.drain()?;
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
    buf: String,
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

impl<W: Write> JsonOut<W> {
    fn raw(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    fn item(&mut self, s: &str) {
        if !self.first {
            self.buf.push_str(",\n");
        }
        self.first = false;
        self.buf.push_str(s);
    }

    fn drain(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.w.write_all(self.buf.as_bytes());
        self.buf.clear();
        r
    }

    /// Microseconds since the trace started, with ns precision (the JSON's `ts`).
    fn us(&self, t: u64) -> String {
        let ns = crate::metrics::ticks_to_ns(t.saturating_sub(self.t0));
        format!("{}.{:03}", ns / 1000, ns % 1000)
    }

    /// Appends `ns` as microseconds with ns precision, without allocating.
    fn put_us(buf: &mut String, ns: u64) {
        let _ = write!(buf, "{}.{:03}", ns / 1000, ns % 1000);
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

    fn put_gname(
        b: &mut String,
        g: u64,
        names: &std::collections::BTreeMap<u64, std::sync::Arc<str>>,
    ) {
        let _ = write!(b, "G{g}");
        if let Some(n) = names.get(&g) {
            let _ = write!(b, " '{}'", esc(n));
        }
    }

    fn gname(g: u64, names: &std::collections::BTreeMap<u64, std::sync::Arc<str>>) -> String {
        match names.get(&g) {
            Some(n) => format!("G{g} '{}'", esc(n)),
            None => format!("G{g}"),
        }
    }

    fn event(&mut self, e: &Ev, names: &std::collections::BTreeMap<u64, std::sync::Arc<str>>) {
        let tid = if e.p == u32::MAX {
            RUNTIME_TID
        } else {
            e.p as u64 + 1
        };
        // The frequent events go straight into the buffer (no allocation per event).
        let t0 = crate::metrics::ticks_to_ns(e.t0.saturating_sub(self.t0));
        match e.kind {
            Kind::Slice(end) => {
                if !self.first {
                    self.buf.push_str(",\n");
                }
                self.first = false;
                let b = &mut self.buf;
                b.push_str("{\"name\":\"");
                Self::put_gname(b, e.g, names);
                b.push_str("\",\"cat\":\"run\",\"ph\":\"X\",\"ts\":");
                Self::put_us(b, t0);
                b.push_str(",\"dur\":");
                Self::put_us(b, crate::metrics::ticks_to_ns(e.t1.saturating_sub(e.t0)));
                let _ = write!(
                    b,
                    ",\"pid\":1,\"tid\":{tid},\"args\":{{\"goid\":{},\"m\":{},\"end\":\"",
                    e.g, e.m
                );
                match end {
                    SliceEnd::Park(r) => {
                        b.push_str("park: ");
                        b.push_str(r.as_str());
                    }
                    SliceEnd::Yield => b.push_str("yield"),
                    SliceEnd::Exit => b.push_str("exit"),
                    SliceEnd::Preempted => b.push_str("P taken (retake)"),
                }
                b.push_str("\"}}");
                return;
            }
            Kind::Ready { by } => {
                if !self.first {
                    self.buf.push_str(",\n");
                }
                self.first = false;
                let b = &mut self.buf;
                b.push_str("{\"name\":\"ready ");
                Self::put_gname(b, e.g, names);
                b.push_str("\",\"cat\":\"ready\",\"ph\":\"i\",\"s\":\"t\",\"ts\":");
                Self::put_us(b, t0);
                let _ = write!(
                    b,
                    ",\"pid\":1,\"tid\":{tid},\"args\":{{\"goid\":{},\"by\":{by}}}}}",
                    e.g
                );
                return;
            }
            _ => {}
        }
        let ts = self.us(e.t0);
        let s = match e.kind {
            Kind::Slice(_) | Kind::Ready { .. } => return,
            Kind::Create { parent } => format!(
                "{{\"name\":\"create {}\",\"cat\":\"create\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{tid},\"args\":{{\"goid\":{},\"parent\":{parent}}}}}",
                Self::gname(e.g, names),
                e.g
            ),
            Kind::Steal { from } => format!(
                "{{\"name\":\"steal {} from P{from}\",\"cat\":\"steal\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{tid},\"args\":{{\"goid\":{},\"from\":{from}}}}}",
                Self::gname(e.g, names),
                e.g
            ),
            Kind::Syscall { handed_off } => {
                let dur = crate::metrics::ticks_to_ns(e.t1.saturating_sub(e.t0));
                format!(
                    "{{\"name\":\"syscall {}\",\"cat\":\"syscall\",\"ph\":\"X\",\"ts\":{ts},\"dur\":{}.{:03},\"pid\":1,\"tid\":{},\"args\":{{\"goid\":{},\"handed_off\":{handed_off}}}}}",
                    Self::gname(e.g, names),
                    dur / 1000,
                    dur % 1000,
                    M_TID + e.m as u64,
                    e.g
                )
            }
            Kind::Handoff { cause } => format!(
                "{{\"name\":\"handoff P{} ({cause}: {})\",\"cat\":\"handoff\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{SYSMON_TID},\"args\":{{\"p\":{},\"goid\":{},\"cause\":\"{cause}\"}}}}",
                e.p,
                Self::gname(e.g, names),
                e.p,
                e.g
            ),
            Kind::Netpoll { n } => format!(
                "{{\"name\":\"netpoll: {n} ready\",\"cat\":\"netpoll\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{RUNTIME_TID},\"args\":{{\"ready\":{n}}}}}"
            ),
            Kind::TimerFired => format!(
                "{{\"name\":\"timer fired\",\"cat\":\"timer\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{RUNTIME_TID}}}"
            ),
            Kind::Procs { from, to } => {
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
