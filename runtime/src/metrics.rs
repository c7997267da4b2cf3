//! `gort::metrics`: the runtime's counters under Go's runtime/metrics names, and a Prometheus
//! text reader.
//!
//! # Where the numbers come from (and what they cost)
//!
//! * **Gauges** (Gs alive, Ps, Ms by state, queue lengths, pending timers, stacks) are read at
//!   snapshot time from the scheduler's own atomics, as schedtrace reads them: nothing is kept
//!   for them on any hot path. Gs by state are approximate, as Go's are (a snapshot in
//!   progress): running and in-syscall come from the Ps' ownership words and the blocking
//!   counts, runnable from the queues, waiting is the rest.
//! * **Counters** (Gs created, parks, steals, timers fired) live per P (`PStats`, in
//!   `PShared`) and are bumped with a relaxed load and store, not a locked add, by the P's
//!   owner only (the M holding it, or its running G through `g_access`), so they are exact: one
//!   writer at a time, and the P's hand-over between owners is a Release/Acquire pair on its
//!   ownership word (p.rs). Counting without a P (a spawn from a plain thread, a park on an M
//!   whose P sysmon retook) goes to a global counter with `fetch_add`. A snapshot sums them.
//!   Rare events (sysmon's hand-offs, socket waits) use the global counters directly.
//! * **The latency histogram** (`/sched/latencies:seconds`, Go's ready-to-run delay, in Go's
//!   bucket layout: 162 counts) is sampled as Go samples it (`gTrackingPeriod`): each G counts
//!   the times it becomes runnable, and every `TRACK_PERIOD`th time it is stamped
//!   (`stamp`, the TSC on x86-64: ~8 ns against ~23 ns for `Instant::now` here) and the M
//!   that runs it records the delay into its P's histogram (owner-only, as the counters). The
//!   first G records of a P's id batch start at different phases (a G's id), so 1 in
//!   `TRACK_PERIOD` of new Gs is sampled at its first run.
//!
//! Names follow Go's `runtime/metrics` where Go has the metric (`/sched/goroutines:goroutines`,
//! `/sched/latencies:seconds`, `/sched/gomaxprocs:threads`, ...); gort's own live under
//! `/gort/`. Kinds are Go's: [`Value::Uint64`], [`Value::Float64`],
//! [`Value::Float64Histogram`]. [`prometheus`] renders a snapshot in the text format 0.0.4
//! with client_golang's name mapping (`/sched/latencies:seconds` →
//! `go_sched_latencies_seconds`; gort's `/gort/sched/steals:events` →
//! `gort_sched_steals_events_total`).
//!
//! # Hog reports
//!
//! When sysmon retakes a P from a G that ran a whole slice without a scheduling point, or
//! hands one off because its G blocked the thread without `gort::blocking`, it records the
//! G ([`Hog`]: id, name, spawn site, how long it held the P) here ([`hogs`], the last
//! [`HOG_KEEP`]), counts it, and prints one line under `GORT_DEBUG=hogreport=1`.

use crate::loom::atomic::Ordering;
use crate::loom::unmodelled::{AtomicU64, Mutex};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A metric's value, in Go's kinds (`runtime/metrics.ValueKind`).
///
/// # Examples
///
/// ```
/// match gort::metrics::snapshot().get("/sched/goroutines:goroutines") {
///     Some(gort::metrics::Value::Uint64(n)) => assert!(n < 1 << 40),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A count or a gauge.
    Uint64(u64),
    /// A float (seconds, ratios).
    Float64(f64),
    /// A distribution: `counts[i]` counts values in `[buckets[i], buckets[i + 1])`, so
    /// `buckets.len() == counts.len() + 1`; the ends may be infinite. The buckets are fixed for
    /// the program's life (Go's `Float64Histogram`).
    Float64Histogram {
        /// Samples per bucket.
        counts: Vec<u64>,
        /// Bucket boundaries, increasing.
        buckets: Vec<f64>,
    },
}

/// What a metric means (Go's `metrics.Description`).
///
/// # Examples
///
/// ```
/// let d = gort::metrics::all()
///     .iter()
///     .find(|d| d.name == "/sched/goroutines-created:goroutines")
///     .unwrap();
/// assert!(d.cumulative);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Description {
    /// `/path:unit`, Go's naming (`^(/[^:]+):([^:*/]+(?:[*/][^:*/]+)*)$`).
    pub name: &'static str,
    /// One sentence.
    pub description: &'static str,
    /// Only ever increases (a counter).
    pub cumulative: bool,
}

/// One reading of every metric, taken by [`snapshot`].
///
/// # Examples
///
/// ```
/// let s = gort::metrics::snapshot();
/// assert!(s.get("/sched/gomaxprocs:threads").is_some());
/// assert!(s.get("/no/such:metric").is_none());
/// for (name, value) in s.iter() {
///     assert!(name.starts_with('/'), "{name} {value:?}");
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Snapshot {
    values: Vec<(&'static str, Value)>,
}

impl Snapshot {
    /// The value of metric `name` (see [`all`] for the names).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::metrics::Value;
    /// let s = gort::metrics::snapshot();
    /// assert!(matches!(s.get("/sched/latencies:seconds"), Some(Value::Float64Histogram { .. })));
    /// ```
    pub fn get(&self, name: &str) -> Option<Value> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    /// Every metric and its value, in [`all`]'s order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::metrics::snapshot().iter().count(), gort::metrics::all().len());
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.values.iter().map(|(n, v)| (*n, v))
    }
}

/// Exact per-P counters (module docs).
#[repr(usize)]
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    /// Gs spawned.
    Created,
    /// Parks that waited (a park its `register` cancelled does not count).
    Parks,
    /// Successful steals (one per steal, whatever the batch).
    Steals,
    /// sysmon hand-offs of a P whose G sat in `gort::blocking`.
    HandoffSyscall,
    /// sysmon retakes from a G that held its P for a whole slice.
    HandoffHog,
    /// sysmon hand-offs of a P whose G blocked its thread without `gort::blocking`.
    HandoffBlocked,
    /// Gs that parked on a socket.
    NetpollWaits,
    /// Timers fired.
    TimersFired,
    /// Nanoseconds hogs held their Ps when sysmon took them (the held time of each report).
    HogHeldNs,
}

const NCOUNTERS: usize = 9;

/// Go's time histogram layout (`runtime/histogram.go`): buckets by the top set bit from 2^9 ns
/// to 2^48 ns, 4 linear sub-buckets each, plus underflow and overflow.
const MIN_BUCKET_BITS: u32 = 9;
const MAX_BUCKET_BITS: u32 = 48;
const SUB_BUCKET_BITS: u32 = 2;
const NUM_SUB: usize = 1 << SUB_BUCKET_BITS;
const NUM_BUCKETS: usize = (MAX_BUCKET_BITS - MIN_BUCKET_BITS + 1) as usize;
/// Counts of `/sched/latencies:seconds`: 162, as Go's.
pub(crate) const HIST_COUNTS: usize = NUM_BUCKETS * NUM_SUB + 2;

/// Every this many times a G becomes runnable, its delay to running is sampled (Go's
/// `gTrackingPeriod` is 8; gort's is 16 so the sampling stays under 1% of a channel hand-off,
/// docs/observability.md has the measurement).
pub(crate) const TRACK_PERIOD: u8 = 16;

/// A P's counters and latency histogram. Written only by the P's owner, with a relaxed load and
/// store (module docs); read by anyone.
pub(crate) struct PStats {
    counters: [AtomicU64; NCOUNTERS],
    latency: [AtomicU64; HIST_COUNTS],
    latency_sum_ns: AtomicU64,
}

impl PStats {
    pub(crate) fn new() -> PStats {
        PStats {
            counters: [const { AtomicU64::new(0) }; NCOUNTERS],
            latency: [const { AtomicU64::new(0) }; HIST_COUNTS],
            latency_sum_ns: AtomicU64::new(0),
        }
    }
}

#[inline]
fn bump(a: &AtomicU64, by: u64) {
    // Owner-only: a load and a store (module docs).
    a.store(
        a.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// Counts one `c` on P `p`. Caller: the P's current owner (its M, or its running G inside
/// `g_access`), so no other thread writes the counter meanwhile.
#[inline]
pub(crate) fn count(p: &crate::p::PShared, c: Counter) {
    bump(&p.stats.counters[c as usize], 1);
}

/// P `p`'s count of parks that waited (a part of its switch count, `PShared::switch_count`).
#[inline]
pub(crate) fn parks_on(p: &crate::p::PShared) -> u64 {
    p.stats.counters[Counter::Parks as usize].load(Ordering::Relaxed)
}

static GLOBAL: [AtomicU64; NCOUNTERS] = [const { AtomicU64::new(0) }; NCOUNTERS];

/// Counts one `c` without a P (any thread).
#[inline]
pub(crate) fn count_global(c: Counter) {
    GLOBAL[c as usize].fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_global_by(c: Counter, by: u64) {
    GLOBAL[c as usize].fetch_add(by, Ordering::Relaxed);
}

fn total(c: Counter) -> u64 {
    let s = crate::sched();
    let per_p: u64 = s
        .all_ps()
        .iter()
        .map(|p| p.stats.counters[c as usize].load(Ordering::Relaxed))
        .sum();
    per_p.wrapping_add(GLOBAL[c as usize].load(Ordering::Relaxed))
}

// ---- time stamps ------------------------------------------------------------------------------

/// A cheap time stamp for the latency histogram and the execution trace: the TSC on x86-64
/// (converted with [`ns_per_tick_q32`]), nanoseconds since the runtime's start elsewhere.
#[inline]
pub(crate) fn stamp() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions; it reads the time-stamp counter.
        unsafe { std::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        base().0.elapsed().as_nanos() as u64
    }
}

/// The runtime's time origin: an `Instant` and the [`stamp`] taken with it (taken when the
/// runtime starts, so calibration has a span to measure).
pub(crate) fn base() -> &'static (Instant, u64) {
    static BASE: std::sync::OnceLock<(Instant, u64)> = std::sync::OnceLock::new();
    BASE.get_or_init(|| (Instant::now(), stamp_raw()))
}

#[inline]
fn stamp_raw() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as in `stamp`.
        unsafe { std::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// Nanoseconds per stamp tick, as a 32.32 fixed-point number; 0 until calibrated.
static NS_PER_TICK_Q32: AtomicU64 = AtomicU64::new(if cfg!(target_arch = "x86_64") {
    0
} else {
    1 << 32
});

/// The conversion from stamp ticks to nanoseconds (32.32 fixed point), 0 before sysmon's first
/// calibration (the first 20 ms of the runtime's life).
pub(crate) fn ns_per_tick_q32() -> u64 {
    NS_PER_TICK_Q32.load(Ordering::Relaxed)
}

/// Converts a difference of stamps to nanoseconds (0 before calibration).
#[inline]
pub(crate) fn ticks_to_ns(ticks: u64) -> u64 {
    ((ticks as u128 * ns_per_tick_q32() as u128) >> 32) as u64
}

/// sysmon, each tick: measures the stamp's rate against `Instant` since the runtime started
/// (the longer the span, the closer the estimate; refreshed while the span is under a minute).
pub(crate) fn calibrate(now: Instant) {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let (t0, s0) = *base();
    let span = now.duration_since(t0);
    // 100 µs already pins the rate to ~0.03% (a clock read is ~30 ns).
    if span < Duration::from_micros(100)
        || (span > Duration::from_secs(60) && ns_per_tick_q32() != 0)
    {
        return;
    }
    let ticks = stamp_raw().wrapping_sub(s0);
    if ticks == 0 {
        return;
    }
    let q = (span.as_nanos() << 32) / ticks as u128;
    NS_PER_TICK_Q32.store(q as u64, Ordering::Relaxed);
}

/// Calibrates the stamp now if sysmon has not yet (a trace started in the runtime's first
/// 20 ms): measures 2 ms against `Instant`.
pub(crate) fn calibrate_now() {
    if ns_per_tick_q32() != 0 {
        return;
    }
    let (t0, s0) = (Instant::now(), stamp_raw());
    while t0.elapsed() < Duration::from_millis(2) {
        std::hint::spin_loop();
    }
    let span = t0.elapsed();
    let ticks = stamp_raw().wrapping_sub(s0).max(1);
    let q = (span.as_nanos() << 32) / ticks as u128;
    if ns_per_tick_q32() == 0 {
        NS_PER_TICK_Q32.store(q as u64, Ordering::Relaxed);
    }
}

/// A G became runnable: every `TRACK_PERIOD`th time, stamp it (module docs). Caller: the
/// holder of its `GRef`.
#[inline]
pub(crate) fn mark_runnable(g: &mut crate::g::GRef) {
    let o = g.owned();
    o.track_seq = o.track_seq.wrapping_add(1);
    if o.track_seq.is_multiple_of(TRACK_PERIOD) {
        o.runnable_at = stamp();
    }
}

/// The M is about to run `g` on P `p` (its owner): records a sampled ready-to-run delay.
#[inline]
pub(crate) fn record_run(p: &crate::p::PShared, g: &mut crate::g::GRef) {
    let o = g.owned();
    if o.runnable_at != 0 {
        let ticks = stamp().wrapping_sub(o.runnable_at);
        o.runnable_at = 0;
        record_latency(p, ticks);
    }
}

#[cold]
fn record_latency(p: &crate::p::PShared, ticks: u64) {
    if ns_per_tick_q32() == 0 {
        // Before sysmon's first calibration: try now (the runtime's first 100 µs drop theirs).
        calibrate(Instant::now());
        if ns_per_tick_q32() == 0 {
            return;
        }
    }
    let ns = ticks_to_ns(ticks);
    bump(&p.stats.latency[bucket(ns)], 1);
    bump(&p.stats.latency_sum_ns, ns);
}

/// Go's `timeHistogram.record` bucket for a non-negative duration (the underflow bucket, 0, is
/// never used: stamps are monotonic).
fn bucket(ns: u64) -> usize {
    let len = 64 - ns.leading_zeros();
    let (bit, b) = if len < MIN_BUCKET_BITS {
        (MIN_BUCKET_BITS, 0)
    } else {
        (len, (len - MIN_BUCKET_BITS + 1) as usize)
    };
    if b >= NUM_BUCKETS {
        return HIST_COUNTS - 1;
    }
    let sub = ((ns >> (bit - 1 - SUB_BUCKET_BITS)) as usize) % NUM_SUB;
    1 + b * NUM_SUB + sub
}

/// Go's bucket boundaries in seconds (`timeHistogramMetricsBuckets`): 163 of them.
fn buckets() -> Vec<f64> {
    let mut b = vec![0.0; HIST_COUNTS + 1];
    b[0] = f64::NEG_INFINITY;
    for j in 0..NUM_SUB {
        let ns = (j as u64) << (MIN_BUCKET_BITS - 1 - SUB_BUCKET_BITS);
        b[j + 1] = ns as f64 / 1e9;
    }
    for i in MIN_BUCKET_BITS..MAX_BUCKET_BITS {
        for j in 0..NUM_SUB {
            let ns = (1u64 << (i - 1)) | ((j as u64) << (i - 1 - SUB_BUCKET_BITS));
            let idx = (i - MIN_BUCKET_BITS + 1) as usize * NUM_SUB + j + 1;
            b[idx] = ns as f64 / 1e9;
        }
    }
    b[HIST_COUNTS - 1] = (1u64 << (MAX_BUCKET_BITS - 1)) as f64 / 1e9;
    b[HIST_COUNTS] = f64::INFINITY;
    b
}

// ---- hogs ---------------------------------------------------------------------------------------

/// Why sysmon took a P from its G.
///
/// # Examples
///
/// ```
/// for h in gort::metrics::hogs() {
///     let _ = h.cause == gort::metrics::HogCause::Computing;
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HogCause {
    /// The G ran a whole time slice (10 ms) without a scheduling point while work waited.
    Computing,
    /// The G blocked its thread in a system call without `gort::blocking` (docs/blocking.md).
    BlockedUnwrapped,
}

/// One P sysmon took from the G holding it ([`hogs`]).
///
/// # Examples
///
/// ```
/// if let Some(h) = gort::metrics::hogs().last() {
///     println!("G{} held its P for {:?}", h.goid, h.held);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Hog {
    /// The G's id.
    pub goid: u64,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Where it was spawned (`file:line:col`), if known.
    pub spawn_site: Option<String>,
    /// How long it had held the P without a scheduling point.
    pub held: Duration,
    /// Why the P was taken.
    pub cause: HogCause,
    /// The P's id.
    pub p: usize,
}

/// How many hog reports [`hogs`] keeps (the most recent).
pub const HOG_KEEP: usize = 32;

static HOGS: Mutex<std::collections::VecDeque<Hog>> = Mutex::new(std::collections::VecDeque::new());

/// The most recent Ps sysmon took from a G that held one for a whole slice or blocked its
/// thread unwrapped, oldest first (at most [`HOG_KEEP`]).
///
/// # Examples
///
/// ```
/// assert!(gort::metrics::hogs().len() <= gort::metrics::HOG_KEEP);
/// ```
pub fn hogs() -> Vec<Hog> {
    HOGS.lock().iter().cloned().collect()
}

/// The most recent hog report, if any (schedtrace's `hog=` field).
pub(crate) fn last_hog() -> Option<Hog> {
    HOGS.lock().back().cloned()
}

/// sysmon took P `p` from G `goid` (the G its M runs), which held it for `held`: count it,
/// remember it, and print it under `GORT_DEBUG=hogreport=1`. Finds the G's name and spawn
/// site in the registry (`g::find_g`: a search that stops at the G, not a walk of every G).
/// `extra` is appended to the line (blocktrace's syscall and pc).
pub(crate) fn report_hog(goid: u64, p: usize, held: Duration, cause: HogCause, extra: &str) {
    // The same G reported again (a long computation is retaken once per slice): its name and
    // site from the last report; otherwise from the registry, searched until found.
    let last = HOGS
        .lock()
        .back()
        .filter(|h| h.goid == goid)
        .map(|h| (h.name.clone(), h.spawn_site.clone()));
    let (name, site) = match last {
        Some(known) => known,
        None if goid != 0 => crate::g::find_g(goid, |g| {
            (
                g.name().map(|n| n.to_string()),
                g.spawn_info().site.map(|l| l.to_string()),
            )
        })
        .unwrap_or_default(),
        None => (None, None),
    };
    count_global_by(Counter::HogHeldNs, held.as_nanos() as u64);
    let h = Hog {
        goid,
        name,
        spawn_site: site,
        held,
        cause,
        p,
    };
    let cfg = &crate::sched().cfg.debug;
    let print = match cause {
        HogCause::Computing => cfg.hogreport,
        HogCause::BlockedUnwrapped => cfg.hogreport || cfg.blocktrace,
    };
    if print {
        eprintln!("{}", hog_line(&h, extra));
    }
    let mut q = HOGS.lock();
    if q.len() == HOG_KEEP {
        q.pop_front();
    }
    q.push_back(h);
}

/// The one-line report (`GORT_DEBUG=hogreport=1`; blocktrace prints the same line for the
/// blocked cause).
pub(crate) fn hog_line(h: &Hog, extra: &str) -> String {
    let name = h
        .name
        .as_ref()
        .map(|n| format!(" '{n}'"))
        .unwrap_or_default();
    let site = h
        .spawn_site
        .as_ref()
        .map(|s| format!(" (created at {s})"))
        .unwrap_or_default();
    let (what, how) = match h.cause {
        HogCause::Computing => ("hogreport", "ran without a scheduling point"),
        HogCause::BlockedUnwrapped => ("blocktrace", "blocked its thread without gort::blocking"),
    };
    format!(
        "gort: {what}: G{}{name}{site} {how} for {:.1?}; P{} handed off{extra}",
        h.goid, h.held, h.p
    )
}

// ---- the snapshot ---------------------------------------------------------------------------------

macro_rules! describe {
    ($( $name:literal, $cum:literal, $desc:literal; )*) => {
        /// Every metric [`snapshot`] reads, in order.
        const ALL: &[Description] = &[
            $( Description { name: $name, description: $desc, cumulative: $cum }, )*
        ];
    };
}

describe! {
    "/sched/gomaxprocs:threads", false, "The current GOMAXPROCS setting: the number of Ps (gort::set_maxprocs, GORT_MAXPROCS).";
    "/sched/goroutines:goroutines", false, "Count of live goroutines (spawned and not finished).";
    "/sched/goroutines-created:goroutines", true, "Count of goroutines created since the program started.";
    "/sched/goroutines/not-in-go:goroutines", false, "Approximate count of goroutines in blocking calls (gort::blocking, or caught blocking unwrapped).";
    "/sched/goroutines/runnable:goroutines", false, "Approximate count of goroutines waiting in run queues.";
    "/sched/goroutines/running:goroutines", false, "Approximate count of goroutines running on a P.";
    "/sched/goroutines/waiting:goroutines", false, "Approximate count of parked goroutines.";
    "/sched/latencies:seconds", true, "Distribution of the time goroutines spent runnable before running (sampled, as Go samples it).";
    "/sched/threads/total:threads", false, "Count of live OS threads the runtime owns (Ms, sysmon, the scavenger).";
    "/gort/sched/threads/running:threads", false, "Ms running a goroutine.";
    "/gort/sched/threads/spinning:threads", false, "Ms holding a P and looking for work.";
    "/gort/sched/threads/idle:threads", false, "Ms parked on the idle list.";
    "/gort/sched/threads/syscall:threads", false, "Ms in blocking calls without a P's work (gort::blocking, or unwrapped blocking sysmon caught).";
    "/gort/sched/parks:events", true, "Goroutine parks that waited (park/ready).";
    "/gort/sched/steals:events", true, "Successful steals of runnable goroutines from another P.";
    "/gort/sched/handoffs/syscall:events", true, "Ps sysmon took from goroutines inside gort::blocking and handed off.";
    "/gort/sched/handoffs/hog:events", true, "Ps sysmon took from goroutines that ran a whole time slice without a scheduling point.";
    "/gort/sched/handoffs/blocked:events", true, "Ps sysmon took from goroutines that blocked their thread without gort::blocking.";
    "/gort/sched/hogs/held:seconds", true, "Total time the goroutines of hog and blocked hand-offs had held their Ps when sysmon took them.";
    "/gort/sched/runqueue/global:goroutines", false, "Goroutines in the global run queue (with those spawned from plain threads).";
    "/gort/netpoll/waits:events", true, "Goroutine parks on sockets and other pollable descriptors.";
    "/gort/netpoll/waiting:goroutines", false, "Goroutines parked on sockets now.";
    "/gort/timers/fired:timers", true, "Timers fired (sleeps, timeouts, deadlines, timer channels).";
    "/gort/timers/pending:timers", false, "Timers pending.";
    "/gort/memory/stacks/inuse:stacks", false, "Goroutine stacks handed out (live goroutines that have run).";
    "/gort/memory/stacks/cached:stacks", false, "Goroutine stacks freed and kept for reuse in the global pool.";
    "/gort/memory/stacks/mapped:bytes", false, "Address space mapped for goroutine stacks (reserved, not resident).";
}

/// Every metric [`snapshot`] reads: name, meaning, and whether it is cumulative.
///
/// # Examples
///
/// ```
/// let names: Vec<_> = gort::metrics::all().iter().map(|d| d.name).collect();
/// assert!(names.contains(&"/sched/latencies:seconds"));
/// ```
pub fn all() -> &'static [Description] {
    ALL
}

/// Reads every metric now (module docs: counters are exact, gauges are snapshots in
/// progress, the latency histogram is sampled).
///
/// # Examples
///
/// ```
/// use gort::metrics::Value;
/// let before = gort::metrics::snapshot();
/// gort::spawn(|| ()).join().unwrap();
/// let after = gort::metrics::snapshot();
/// let created = |s: &gort::metrics::Snapshot| match s.get("/sched/goroutines-created:goroutines") {
///     Some(Value::Uint64(n)) => n,
///     _ => unreachable!(),
/// };
/// assert!(created(&after) >= created(&before) + 1);
/// ```
pub fn snapshot() -> Snapshot {
    let s = crate::sched();
    let ps = s.active_ps();
    let ngo = s.ngoroutine.load(Ordering::Relaxed) as u64;
    let nsys = (s.nsyscall.load(Ordering::Relaxed) + s.nunwrapped.load(Ordering::Relaxed)) as u64;
    let mut running = 0u64;
    let mut runnable = s.nglobal.load(Ordering::Relaxed) as u64;
    for p in ps.iter() {
        let st = p.own_word() & 0xff;
        if st == crate::p::RUNNING_G || st == crate::p::G_ACCESS {
            running += 1;
        }
        runnable += p.runqsize() as u64 + u64::from(p.has_runnext());
    }
    let waiting = ngo.saturating_sub(running + runnable + nsys);
    let mlive = s.mlive.load(Ordering::Relaxed) as u64;
    let ms_running = s
        .allm
        .lock()
        .iter()
        .filter(|m| m.curg.load(Ordering::Relaxed) != 0)
        .count() as u64;
    let mut counts = vec![0u64; HIST_COUNTS];
    for p in s.all_ps().iter() {
        for (c, a) in counts.iter_mut().zip(p.stats.latency.iter()) {
            *c += a.load(Ordering::Relaxed);
        }
    }
    let st = crate::stack::stats();
    let u = Value::Uint64;
    let values: Vec<Value> = vec![
        u(s.nprocs() as u64),
        u(ngo),
        u(total(Counter::Created)),
        u(nsys),
        u(runnable),
        u(running),
        u(waiting),
        Value::Float64Histogram {
            counts,
            buckets: buckets(),
        },
        u(mlive + 1 + crate::scavenge::threads() as u64),
        u(ms_running),
        u(s.nmspinning.load(Ordering::Relaxed) as u64),
        u(s.nmidle.load(Ordering::Relaxed) as u64),
        u(nsys),
        u(total(Counter::Parks)),
        u(total(Counter::Steals)),
        u(total(Counter::HandoffSyscall)),
        u(total(Counter::HandoffHog)),
        u(total(Counter::HandoffBlocked)),
        Value::Float64(total(Counter::HogHeldNs) as f64 / 1e9),
        u(s.nglobal.load(Ordering::Relaxed) as u64),
        u(total(Counter::NetpollWaits)),
        u(crate::netpoll::waiters() as u64),
        u(total(Counter::TimersFired)),
        u(crate::timer::pending() as u64),
        u(st.in_use as u64),
        u(st.cached_global as u64),
        u(st.mapped_bytes as u64),
    ];
    debug_assert_eq!(values.len(), ALL.len());
    Snapshot {
        values: ALL.iter().map(|d| d.name).zip(values).collect(),
    }
}

/// The sum of the sampled latencies, in seconds (the Prometheus histogram's `_sum`).
fn latency_sum_seconds() -> f64 {
    let s = crate::sched();
    let ns: u64 = s
        .all_ps()
        .iter()
        .map(|p| p.stats.latency_sum_ns.load(Ordering::Relaxed))
        .sum();
    ns as f64 / 1e9
}

/// client_golang's name for a metric (`prometheus/internal/go_runtime_metrics.go`): Go's
/// metrics become `go_` + path + `_` + unit, with `/` and `-` → `_`, a `/` in the unit →
/// `_per_`, and `_total` for cumulative non-histograms. gort's own (`/gort/...`) get `gort_`
/// instead of `go_gort_`.
///
/// # Examples
///
/// ```
/// assert_eq!(gort::metrics::prometheus_name("/sched/latencies:seconds", true, true),
///            "go_sched_latencies_seconds");
/// assert_eq!(gort::metrics::prometheus_name("/gort/sched/steals:events", true, false),
///            "gort_sched_steals_events_total");
/// ```
pub fn prometheus_name(name: &str, cumulative: bool, histogram: bool) -> String {
    let (path, unit) = name.split_once(':').unwrap_or((name, ""));
    let (prefix, path) = match path.strip_prefix("/gort/") {
        Some(rest) => ("gort_", rest),
        None => ("go_", path.trim_start_matches('/')),
    };
    let clean = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    let mut out = format!(
        "{prefix}{}_{}",
        clean(path),
        clean(&unit.replace('/', "_per_"))
    );
    if cumulative && !histogram {
        out.push_str("_total");
    }
    out
}

/// Every metric in the Prometheus text exposition format 0.0.4 (`Content-Type: text/plain;
/// version=0.0.4`), so a `/metrics` handler is one line. Counters are `counter`, gauges
/// `gauge`, and the latency histogram a `histogram` with cumulative `le` buckets (Go's `[lo,
/// hi)` counts summed, `le` = hi), `_sum` (of the sampled delays) and `_count`.
///
/// # Examples
///
/// ```
/// let text = gort::metrics::prometheus();
/// assert!(text.contains("# TYPE go_sched_goroutines_goroutines gauge\n"));
/// assert!(text.contains("go_sched_latencies_seconds_bucket{le=\"+Inf\"}"));
/// assert!(text.ends_with('\n'));
/// ```
pub fn prometheus() -> String {
    let snap = snapshot();
    let mut out = String::new();
    for (d, (_, v)) in ALL.iter().zip(snap.values.iter()) {
        let hist = matches!(v, Value::Float64Histogram { .. });
        let name = prometheus_name(d.name, d.cumulative, hist);
        let kind = if hist {
            "histogram"
        } else if d.cumulative {
            "counter"
        } else {
            "gauge"
        };
        let help = d.description.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        match v {
            Value::Uint64(n) => {
                let _ = writeln!(out, "{name} {n}");
            }
            Value::Float64(f) => {
                let _ = writeln!(out, "{name} {}", prom_float(*f));
            }
            Value::Float64Histogram { counts, buckets } => {
                let mut cum = 0u64;
                for (i, c) in counts.iter().enumerate() {
                    cum += c;
                    let le = buckets[i + 1];
                    let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cum}", prom_float(le));
                }
                let _ = writeln!(out, "{name}_sum {}", prom_float(latency_sum_seconds()));
                let _ = writeln!(out, "{name}_count {cum}");
            }
        }
    }
    out
}

/// A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` would let Prometheus parse it.
fn prom_float(f: f64) -> String {
    if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else if f.is_nan() {
        "NaN".into()
    } else {
        format!("{f:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's layout: 162 counts, 163 boundaries; `record`'s bucket lands inside its bounds.
    #[test]
    fn buckets_are_gos() {
        let b = buckets();
        assert_eq!(b.len(), 163);
        assert_eq!(b[1], 0.0);
        assert_eq!(b[2], 64e-9);
        assert_eq!(b[5], 256e-9);
        assert_eq!(b[161], (1u64 << 47) as f64 / 1e9);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        for ns in [
            0u64,
            1,
            63,
            64,
            511,
            512,
            1000,
            123_456,
            1 << 40,
            (1 << 47) - 1,
        ] {
            let i = bucket(ns);
            let s = ns as f64 / 1e9;
            assert!(b[i] <= s && s < b[i + 1], "{ns} ns in bucket {i}");
        }
        assert_eq!(bucket(1 << 47), 161);
    }

    #[test]
    fn names_map_as_client_golang_does() {
        assert_eq!(
            prometheus_name("/sched/goroutines-created:goroutines", true, false),
            "go_sched_goroutines_created_goroutines_total"
        );
        assert_eq!(
            prometheus_name("/sync/mutex/wait/total:seconds", true, false),
            "go_sync_mutex_wait_total_seconds_total"
        );
        assert_eq!(
            prometheus_name("/gc/heap/allocs:bytes/op", false, false),
            "go_gc_heap_allocs_bytes_per_op"
        );
    }

    #[test]
    fn names_are_go_shaped() {
        for d in ALL {
            let (path, unit) = d.name.split_once(':').expect(d.name);
            assert!(path.starts_with('/') && !path.contains(':'), "{}", d.name);
            assert!(!unit.is_empty() && !unit.contains(':'), "{}", d.name);
        }
    }
}
