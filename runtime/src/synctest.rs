//! Testing concurrent code: bubbles with a virtual clock (Go's `testing/synctest`) and seeded,
//! replayable schedules with random and PCT exploration (shuttle's). The engine side is
//! `bubble/`; docs/testing.md is the guide.
//!
//! * [`test()`] runs a function in a **bubble**: the green threads it spawns (and they spawn)
//!   belong to it, run one at a time on one OS thread, and see a virtual clock
//!   ([`gort::time::now`](crate::timer::now), sleeps, timers, tickers, deadlines) that starts
//!   at the same instant in every bubble and jumps to the next timer only when every green
//!   thread of the bubble is *durably blocked*. A test of an hour of timeouts takes
//!   milliseconds, and takes the same path every time.
//! * [`wait`] returns once every other green thread of the bubble is durably blocked.
//! * Every choice the bubble's scheduler makes comes from a seeded generator: [`test_seeded`]
//!   replays one schedule exactly (its [`Report::schedule_hash`] is the proof), [`explore`]
//!   runs a test under many schedules (random, or PCT) and stops at the first failure, naming
//!   the seed and the command that replays it (`GORT_SEED=N cargo test ...`).
//!
//! ```
//! use std::time::Duration;
//! gort::synctest::test(|| {
//!     let (tx, rx) = gort::chan::bounded(0);
//!     gort::spawn(move || {
//!         gort::sleep(Duration::from_secs(5)); // virtual: returns at once in wall time
//!         tx.send("done").unwrap();
//!     });
//!     let start = gort::time::now();
//!     assert_eq!(rx.recv(), Ok("done"));
//!     assert_eq!(gort::time::now() - start, Duration::from_secs(5));
//! });
//! ```

use crate::bubble::{self, splitmix, Outcome, Plan, PCT_MAX_DEPTH, PCT_MAX_K};
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

/// What a test function returns: `()`, or a `Result` whose `Err` fails the run (as a `#[test]`
/// returning `Result` fails).
///
/// # Examples
///
/// ```
/// gort::synctest::test(|| -> Result<(), String> {
///     let (tx, rx) = gort::chan::bounded(1);
///     tx.send(1).map_err(|e| e.to_string())?;
///     assert_eq!(rx.recv(), Ok(1));
///     Ok(())
/// });
/// ```
pub trait TestResult: Send + 'static {
    /// `Ok` for success, or the failure's description.
    fn into_result(self) -> Result<(), String>;
}

impl TestResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Debug + Send + 'static> TestResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// What one run of a bubble did: its seed, the hash of its schedule, and why it failed, if it
/// did.
///
/// # Examples
///
/// ```
/// let a = gort::synctest::test_seeded(7, || {
///     let h = gort::spawn(|| gort::yield_now());
///     gort::yield_now();
///     h.join().unwrap();
/// });
/// let b = gort::synctest::test_seeded(7, || {
///     let h = gort::spawn(|| gort::yield_now());
///     gort::yield_now();
///     h.join().unwrap();
/// });
/// assert_eq!(a.schedule_hash(), b.schedule_hash()); // the same seed, the same schedule
/// assert_eq!(a.seed(), 7);
/// assert!(a.failure().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    seed: u64,
    hash: u64,
    switches: u64,
    steps: u64,
    elapsed: Duration,
    goroutines: usize,
    failure: Option<String>,
}

impl Report {
    fn from(o: &Outcome) -> Report {
        Report {
            seed: o.seed,
            hash: o.schedule_hash,
            switches: o.switches,
            steps: o.steps,
            elapsed: o.elapsed,
            goroutines: o.goroutines,
            failure: o.failure.clone(),
        }
    }

    /// The seed the run's schedule came from (pass it to [`test_seeded`] or `GORT_SEED` to
    /// replay the run).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::synctest::test_seeded(3, || {}).seed(), 3);
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A hash of every choice the scheduler made (which green thread ran at each decision,
    /// every random draw): equal for two runs that took the same schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = || {
    ///     for _ in 0..3 {
    ///         gort::spawn(|| gort::yield_now());
    ///     }
    /// };
    /// let r = gort::synctest::test_seeded(11, f);
    /// assert_eq!(r.schedule_hash(), gort::synctest::test_seeded(11, f).schedule_hash());
    /// ```
    pub fn schedule_hash(&self) -> u64 {
        self.hash
    }

    /// How many times the bubble switched from one green thread to another.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = gort::synctest::test_seeded(1, || gort::spawn(|| ()).join().unwrap());
    /// assert!(r.switches() >= 2); // root, the child, the root again
    /// ```
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// Scheduling decisions that had more than one candidate (PCT's steps).
    ///
    /// # Examples
    ///
    /// ```
    /// let r = gort::synctest::test_seeded(1, || {});
    /// assert_eq!(r.steps(), 0); // one green thread: nothing to choose
    /// ```
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The virtual time the run took.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = gort::synctest::test_seeded(1, || gort::sleep(std::time::Duration::from_secs(60)));
    /// assert_eq!(r.elapsed(), std::time::Duration::from_secs(60));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Green threads that ran in the bubble, the root included.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = gort::synctest::test_seeded(1, || gort::spawn(|| ()).join().unwrap());
    /// assert_eq!(r.goroutines(), 2);
    /// ```
    pub fn goroutines(&self) -> usize {
        self.goroutines
    }

    /// Why the run failed: a deadlock inside the bubble (each blocked green thread named), the
    /// root's panic or `Err`, or a panic of another green thread that no join took.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = gort::synctest::try_test_seeded(1, || gort::chan::never::<()>().recv().unwrap());
    /// assert!(r.failure().unwrap().contains("deadlock: all goroutines in bubble are blocked"));
    /// ```
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The replay hint printed with a failure.
    fn replay_hint(&self) -> String {
        format!(
            "schedule seed {:#x} ({}), hash {:#018x}, {} switches, {:?} of virtual time; replay it \
             with GORT_SEED={:#x} or gort::synctest::test_seeded({:#x}, f)",
            self.seed,
            Plan::decode(self.seed),
            self.hash,
            self.switches,
            self.elapsed,
            self.seed,
            self.seed
        )
    }
}

/// Runs `f` in a new bubble (Go's `synctest.Test`) and returns once every green thread of the
/// bubble has ended.
///
/// Inside, green threads spawned (directly or not) belong to the bubble; they run one at a
/// time, in an order drawn from a seed (the `GORT_SEED` environment variable's, else a fresh
/// one, printed when the test fails); the clock is virtual: it starts at the same instant in
/// every bubble and moves, to the next timer, only when every green thread of the bubble is
/// durably blocked (on a channel made in the bubble, a gort lock, a sleep or timer, [`wait`];
/// not on a socket, a channel made outside, a blocking call).
///
/// # Panics
///
/// * When the bubble deadlocks: every green thread durably blocked and no timer left to fire
///   (or the root ended while others are blocked); the message names each one and its wait;
/// * with the root's own panic (re-raised) or its `Err`;
/// * when another green thread of the bubble panicked and no join took the panic;
/// * when called inside a bubble.
///
/// Each failure message names the seed, so that [`test_seeded`] or `GORT_SEED` replays it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// gort::synctest::test(|| {
///     let ticks = gort::time::tick(Duration::from_millis(100));
///     let start = gort::time::now();
///     for _ in 0..36_000 {
///         ticks.recv().unwrap(); // an hour of 100 ms ticks, in milliseconds of wall time
///     }
///     assert_eq!(gort::time::now() - start, Duration::from_secs(3600));
/// });
/// ```
pub fn test<F, R>(f: F)
where
    F: FnOnce() -> R + Send + 'static,
    R: TestResult,
{
    let seed = env_seed().unwrap_or_else(fresh_seed);
    let out = bubble::run(seed, Box::new(move || f().into_result()));
    raise(out);
}

/// Runs `f` in a bubble as [`test()`] does, under the schedule of `seed`: the same seed and the
/// same program make the same choices, in the same order (readies from outside the bubble,
/// such as sockets, excepted). Returns the run's [`Report`].
///
/// # Panics
///
/// As [`test()`] does, naming the seed.
///
/// # Examples
///
/// ```
/// let r = gort::synctest::test_seeded(42, || {
///     let (tx, rx) = gort::chan::bounded(0);
///     gort::spawn(move || tx.send(1).unwrap());
///     assert_eq!(rx.recv(), Ok(1));
/// });
/// println!("schedule {:#x}", r.schedule_hash());
/// ```
pub fn test_seeded<F, R>(seed: u64, f: F) -> Report
where
    F: FnOnce() -> R + Send + 'static,
    R: TestResult,
{
    raise(bubble::run(seed, Box::new(move || f().into_result())))
}

/// [`test_seeded`] that does not panic when the run fails: the failure is in the report.
///
/// # Examples
///
/// ```
/// let r = gort::synctest::try_test_seeded(5, || -> Result<(), &'static str> { Err("nope") });
/// assert!(r.failure().unwrap().contains("nope"));
/// ```
pub fn try_test_seeded<F, R>(seed: u64, f: F) -> Report
where
    F: FnOnce() -> R + Send + 'static,
    R: TestResult,
{
    Report::from(&bubble::run(seed, Box::new(move || f().into_result())))
}

/// Turns a failed outcome into the test's panic (the root's own payload when it panicked).
fn raise(out: Outcome) -> Report {
    let report = Report::from(&out);
    if let Some(f) = &report.failure {
        let hint = report.replay_hint();
        if let Some(p) = out.root_panic {
            eprintln!("gort::synctest: {f}\n{hint}");
            std::panic::resume_unwind(p);
        }
        panic!("gort::synctest: {f}\n{hint}");
    }
    report
}

/// Parks the calling green thread until every other green thread of its bubble is durably
/// blocked (Go's `synctest.Wait`): after it returns, everything the others could do without
/// outside help or the clock moving has been done.
///
/// # Panics
///
/// Outside a bubble, or while another green thread of the bubble is in `wait`.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// gort::synctest::test(|| {
///     let done = Arc::new(AtomicBool::new(false));
///     let d = done.clone();
///     gort::spawn(move || d.store(true, Ordering::SeqCst));
///     gort::synctest::wait();
///     assert!(done.load(Ordering::SeqCst));
/// });
/// ```
pub fn wait() {
    bubble::wait();
}

/// [`gort::sleep`](crate::timer::sleep) then [`wait`] (Go 1.27's `synctest.Sleep`): moves the
/// bubble's clock by `d` and lets everything due by then finish.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// gort::synctest::test(|| {
///     let n = Arc::new(AtomicU32::new(0));
///     let n2 = n.clone();
///     let _t = gort::time::after_func(Duration::from_secs(1), move || {
///         n2.fetch_add(1, Ordering::SeqCst);
///     });
///     gort::synctest::sleep(Duration::from_secs(1));
///     assert_eq!(n.load(Ordering::SeqCst), 1);
/// });
/// ```
pub fn sleep(d: Duration) {
    crate::timer::sleep(d);
    wait();
}

/// How [`explore`] draws schedules.
///
/// # Examples
///
/// ```
/// use gort::synctest::{ExploreOptions, Strategy};
/// let o = ExploreOptions::default().strategy(Strategy::Pct { depth: 3 });
/// assert_eq!(o.get_strategy(), Strategy::Pct { depth: 3 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Every choice uniform among its candidates (shuttle's random scheduler).
    Random,
    /// Probabilistic concurrency testing (Burckhardt et al.): random priorities, `depth - 1`
    /// priority change points; finds a bug of depth `d` among `n` green threads and `k`
    /// steps with probability at least `1 / (n * k^(d-1))` per run. `depth` is 1 to 15.
    Pct {
        /// The bug depth aimed at (ordering constraints the bug needs); 2 or 3 is typical.
        depth: usize,
    },
}

/// Options of [`explore`]: how many runs, which [`Strategy`], and the base seed.
///
/// # Examples
///
/// ```
/// use gort::synctest::{ExploreOptions, Strategy};
/// let o = ExploreOptions::default().iterations(500).strategy(Strategy::Random).seed(1);
/// assert_eq!(o.get_iterations(), 500);
/// ```
#[derive(Clone, Debug)]
pub struct ExploreOptions {
    iterations: usize,
    strategy: Strategy,
    seed: Option<u64>,
}

impl Default for ExploreOptions {
    /// 100 iterations of [`Strategy::Random`], from a fresh base seed.
    ///
    /// # Examples
    ///
    /// ```
    /// let o = gort::synctest::ExploreOptions::default();
    /// assert_eq!(o.get_iterations(), 100);
    /// ```
    fn default() -> Self {
        ExploreOptions {
            iterations: 100,
            strategy: Strategy::Random,
            seed: None,
        }
    }
}

impl ExploreOptions {
    /// Runs `n` schedules (at least one).
    ///
    /// # Examples
    ///
    /// ```
    /// let o = gort::synctest::ExploreOptions::default().iterations(10);
    /// assert_eq!(o.get_iterations(), 10);
    /// ```
    #[must_use]
    pub fn iterations(mut self, n: usize) -> Self {
        self.iterations = n.max(1);
        self
    }

    /// Draws schedules with `s`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::synctest::{ExploreOptions, Strategy};
    /// let o = ExploreOptions::default().strategy(Strategy::Pct { depth: 2 });
    /// assert_eq!(o.get_strategy(), Strategy::Pct { depth: 2 });
    /// ```
    #[must_use]
    pub fn strategy(mut self, s: Strategy) -> Self {
        self.strategy = s;
        self
    }

    /// Derives the iterations' seeds from `base` (the same base, the same schedules), instead
    /// of a fresh one per call.
    ///
    /// # Examples
    ///
    /// ```
    /// let o = gort::synctest::ExploreOptions::default().seed(99);
    /// assert_eq!(o.get_seed(), Some(99));
    /// ```
    #[must_use]
    pub fn seed(mut self, base: u64) -> Self {
        self.seed = Some(base);
        self
    }

    /// The number of iterations.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::synctest::ExploreOptions::default().get_iterations(), 100);
    /// ```
    pub fn get_iterations(&self) -> usize {
        self.iterations
    }

    /// The strategy.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::synctest::{ExploreOptions, Strategy};
    /// assert_eq!(ExploreOptions::default().get_strategy(), Strategy::Random);
    /// ```
    pub fn get_strategy(&self) -> Strategy {
        self.strategy
    }

    /// The base seed, if one was given.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::synctest::ExploreOptions::default().get_seed(), None);
    /// ```
    pub fn get_seed(&self) -> Option<u64> {
        self.seed
    }
}

/// What a passing [`explore`] did.
///
/// # Examples
///
/// ```
/// use gort::synctest::{explore, ExploreOptions};
/// let r = explore(ExploreOptions::default().iterations(20).seed(1), || {
///     let h = gort::spawn(|| 1);
///     assert_eq!(h.join().unwrap(), 1);
/// });
/// assert_eq!(r.iterations(), 20);
/// assert!(r.distinct_schedules() >= 1);
/// ```
#[derive(Clone, Debug)]
pub struct ExploreReport {
    iterations: usize,
    distinct: usize,
    max_steps: u64,
}

impl ExploreReport {
    /// Schedules run.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = gort::synctest::explore(gort::synctest::ExploreOptions::default().iterations(3), || {});
    /// assert_eq!(r.iterations(), 3);
    /// ```
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Distinct schedule hashes among them.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = gort::synctest::explore(gort::synctest::ExploreOptions::default().iterations(3), || {});
    /// assert_eq!(r.distinct_schedules(), 1); // one green thread: one schedule
    /// ```
    pub fn distinct_schedules(&self) -> usize {
        self.distinct
    }

    /// The most scheduling steps (decisions with more than one candidate) a run took.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = gort::synctest::explore(gort::synctest::ExploreOptions::default().iterations(3), || {});
    /// assert_eq!(r.max_steps(), 0);
    /// ```
    pub fn max_steps(&self) -> u64 {
        self.max_steps
    }
}

/// A failing schedule found by [`try_explore`]: the seed, the iteration, and the failure.
///
/// # Examples
///
/// ```
/// use gort::synctest::{try_explore, ExploreOptions};
/// let f = try_explore(ExploreOptions::default().iterations(50).seed(3), || {
///     let (tx, rx) = gort::chan::bounded::<u8>(0);
///     let h = gort::spawn(move || drop(tx)); // closes the channel: the receive below fails
///     let got = rx.recv();
///     h.join().unwrap();
///     assert!(got.is_ok(), "always fails");
/// })
/// .unwrap_err();
/// assert_eq!(f.iteration(), 0);
/// assert!(f.message().contains("always fails"));
/// assert!(f.replay_command().contains(&format!("GORT_SEED={:#x}", f.seed())));
/// ```
#[derive(Clone, Debug)]
pub struct Failure(Box<FailureInner>);

#[derive(Clone, Debug)]
struct FailureInner {
    seed: u64,
    iteration: usize,
    iterations: usize,
    report: Report,
    test: Option<String>,
}

impl Failure {
    /// The failing schedule's seed: [`test_seeded`] with it, or `GORT_SEED` set to it, replays
    /// the failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::synctest::{try_explore, ExploreOptions};
    /// let f = try_explore(ExploreOptions::default(), || assert_eq!(2 + 2, 5, "x")).unwrap_err();
    /// let again = gort::synctest::try_test_seeded(f.seed(), || assert_eq!(2 + 2, 5, "x"));
    /// assert!(again.failure().is_some());
    /// ```
    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// The failing iteration (0-based).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::synctest::{try_explore, ExploreOptions};
    /// let f = try_explore(ExploreOptions::default(), || assert_eq!(2 + 2, 5, "x")).unwrap_err();
    /// assert_eq!(f.iteration(), 0);
    /// ```
    pub fn iteration(&self) -> usize {
        self.0.iteration
    }

    /// Why the run failed (as [`Report::failure`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::synctest::{try_explore, ExploreOptions};
    /// let f = try_explore(ExploreOptions::default(), || -> Result<(), u8> { Err(7) }).unwrap_err();
    /// assert!(f.message().contains('7'));
    /// ```
    pub fn message(&self) -> &str {
        self.0.report.failure().unwrap_or("")
    }

    /// The failing run's report.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::synctest::{try_explore, ExploreOptions};
    /// let f = try_explore(ExploreOptions::default(), || assert_eq!(2 + 2, 5, "x")).unwrap_err();
    /// assert_eq!(f.report().seed(), f.seed());
    /// ```
    pub fn report(&self) -> &Report {
        &self.0.report
    }

    /// The shell command that replays the failure (`GORT_SEED=… cargo test …`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::synctest::{try_explore, ExploreOptions};
    /// let f = try_explore(ExploreOptions::default(), || assert_eq!(2 + 2, 5, "x")).unwrap_err();
    /// assert!(f.replay_command().starts_with("GORT_SEED=0x"));
    /// ```
    pub fn replay_command(&self) -> String {
        match &self.0.test {
            Some(t) => format!("GORT_SEED={:#x} cargo test -- --exact {t}", self.0.seed),
            None => format!("GORT_SEED={:#x} cargo test", self.0.seed),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gort::synctest::explore: iteration {} of {} failed under seed {:#x} ({}):\n{}\n\
             replay it: {}\n(or gort::synctest::test_seeded({:#x}, f); schedule hash {:#018x})",
            self.0.iteration + 1,
            self.0.iterations,
            self.0.seed,
            Plan::decode(self.0.seed),
            self.message(),
            self.replay_command(),
            self.0.seed,
            self.0.report.schedule_hash()
        )
    }
}

impl std::error::Error for Failure {}

/// Runs `f` in a bubble under `options.iterations` schedules drawn by `options.strategy`
/// (shuttle's `check_random` / `check_pct`), stopping at the first that fails (a panic, an
/// `Err`, a deadlock in the bubble, an unjoined panic of another green thread). With
/// `GORT_SEED` set, runs just that schedule (the replay of a failure).
///
/// # Panics
///
/// At the first failing schedule, with the seed and the command that replays it (see
/// [`Failure`]'s `Display`); [`try_explore`] returns it instead.
///
/// # Examples
///
/// ```
/// use gort::synctest::{explore, ExploreOptions, Strategy};
/// use std::sync::Arc;
/// // A correct counter: no schedule of 200 breaks it.
/// explore(
///     ExploreOptions::default().iterations(200).strategy(Strategy::Pct { depth: 2 }),
///     || {
///         let n = Arc::new(gort::sync::Mutex::new(0));
///         let hs: Vec<_> = (0..3)
///             .map(|_| {
///                 let n = n.clone();
///                 gort::spawn(move || {
///                     let mut g = n.lock();
///                     let v = *g;
///                     gort::yield_now();
///                     *g = v + 1;
///                 })
///             })
///             .collect();
///         hs.into_iter().for_each(|h| h.join().unwrap());
///         assert_eq!(*n.lock(), 3);
///     },
/// );
/// ```
pub fn explore<F, R>(options: ExploreOptions, f: F) -> ExploreReport
where
    F: Fn() -> R + Send + Sync + 'static,
    R: TestResult,
{
    match try_explore(options, f) {
        Ok(r) => r,
        Err(fail) => panic!("{fail}"),
    }
}

/// [`explore`] that returns the first failing schedule instead of panicking.
///
/// # Examples
///
/// ```
/// use gort::synctest::{try_explore, ExploreOptions};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// // A lost update: read, yield, write.
/// let fail = try_explore(ExploreOptions::default().iterations(100).seed(1), || {
///     let n = Arc::new(AtomicU32::new(0));
///     let hs: Vec<_> = (0..2)
///         .map(|_| {
///             let n = n.clone();
///             gort::spawn(move || {
///                 let v = n.load(Ordering::SeqCst);
///                 gort::yield_now();
///                 n.store(v + 1, Ordering::SeqCst);
///             })
///         })
///         .collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
///     assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
/// })
/// .unwrap_err();
/// assert!(fail.message().contains("lost update"));
/// ```
pub fn try_explore<F, R>(options: ExploreOptions, f: F) -> Result<ExploreReport, Failure>
where
    F: Fn() -> R + Send + Sync + 'static,
    R: TestResult,
{
    let f = std::sync::Arc::new(f);
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main" && !n.starts_with("gort-"))
        .map(str::to_owned);
    let run_one = |seed: u64| {
        let f = f.clone();
        Report::from(&bubble::run(seed, Box::new(move || f().into_result())))
    };
    if let Some(seed) = env_seed() {
        let r = run_one(seed);
        if r.failure.is_some() {
            return Err(Failure(Box::new(FailureInner {
                seed,
                iteration: 0,
                iterations: 1,
                report: r,
                test,
            })));
        }
        eprintln!("gort::synctest::explore: GORT_SEED={seed:#x}: the schedule passed");
        return Ok(ExploreReport {
            iterations: 1,
            distinct: 1,
            max_steps: r.steps,
        });
    }
    let mut base = options.seed.unwrap_or_else(fresh_seed);
    let mut hashes = HashSet::new();
    let mut max_steps = 0u64;
    for i in 0..options.iterations {
        let rng = splitmix(&mut base);
        let seed = match options.strategy {
            Strategy::Random => Plan::random_seed(rng),
            Strategy::Pct { depth } => {
                let depth = (depth as u64).clamp(1, PCT_MAX_DEPTH);
                // The step bound is learned: the most steps a run took so far (the first run
                // has none, so it just learns).
                Plan::pct_seed(depth, max_steps.clamp(1, PCT_MAX_K), rng)
            }
        };
        let r = run_one(seed);
        max_steps = max_steps.max(r.steps);
        hashes.insert(r.hash);
        if r.failure.is_some() {
            return Err(Failure(Box::new(FailureInner {
                seed,
                iteration: i,
                iterations: options.iterations,
                report: r,
                test,
            })));
        }
    }
    Ok(ExploreReport {
        iterations: options.iterations,
        distinct: hashes.len(),
        max_steps,
    })
}

/// `GORT_SEED`, decimal or `0x` hex. A value that is neither is reported, not ignored.
fn env_seed() -> Option<u64> {
    let v = std::env::var("GORT_SEED").ok()?;
    let t = v.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
        None => t.replace('_', "").parse(),
    };
    match parsed {
        Ok(s) => Some(s),
        Err(_) => panic!(
            "GORT_SEED={v:?} is not a seed: give the number a failure printed, decimal or 0x-hex \
             (GORT_SEED=0x1f or GORT_SEED=31)"
        ),
    }
}

/// A seed nobody chose: the clock and a counter, mixed.
fn fresh_seed() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut s = t ^ N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) << 48;
    Plan::random_seed(splitmix(&mut s))
}
