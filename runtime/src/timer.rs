//! Timers: per-P heaps (Go 1.14+'s design), run by the Ps themselves, by the M blocked in the
//! netpoller, and by sysmon as a backstop.
//!
//! # Structure, and why
//!
//! There is one *shard* per P: a binary min-heap of `(when, seq, slot)` keys beside a slab that
//! holds the actions, under the shard's own mutex, plus an atomic copy of the shard's earliest
//! deadline (`Shard::next`) that anyone may read without the lock. A timer added by a G goes into
//! the shard of the P its M holds, so the common case (a G sleeping, or arming a socket deadline,
//! and its P running it later) touches one uncontended lock that stays in that P's cache. Callers
//! that are not Ms (plain threads, sysmon) spread over the shards by a per-thread index.
//!
//! Rejected: (1) the first version's single global `BTreeMap` under one lock: every sleep on
//! every P contends on it (measured in docs/netpoll.md, "Timers"); (2) a hierarchical wheel
//! (tokio's): O(1) insert, but it needs a driver ticking at 1 ms even when the earliest timer is
//! far away, and cascading makes "the earliest deadline of all Ps" (what the poller sleeps until)
//! a search; a heap answers it with one load per shard.
//!
//! # Contract (kept from the first version; the channels code relies on it)
//!
//! * [`add`] registers a callback to run once at or after `when`, on a runtime thread (never on
//!   the caller's stack); it returns an id. `add_unpark` is the allocation-free variant used by
//!   [`sleep`]: its "callback" is an [`Unparker`].
//! * [`cancel`] removes a timer that has not fired yet and says whether it did. It does not wait
//!   for a callback that is already running: callbacks own what they touch (`'static + Send`).
//! * Callbacks must be short and must not block: they typically `unpark` a G.
//! * [`pending`] counts the timers that have neither finished firing nor been cancelled (a
//!   timer whose action is running still counts: the deadlock check relies on it).
//!
//! # Who runs timers (promptness)
//!
//! 1. An M holding P *p*, at the top of every `find_runnable` round, runs *p*'s due timers
//!    (`check_local`; one atomic load when none is due). Gs they ready go to *p*'s runnext.
//! 2. A spinning M, before stealing, runs the due timers of every shard (`check_all`): this is
//!    how timers of a P that went idle (its M gone) fire while other Ms are busy.
//! 3. The M that blocks in the netpoller sleeps until the earliest deadline of all shards
//!    (`next_deadline`) and, on waking, runs them. An [`add`] earlier than that poller's timeout
//!    breaks the poll (`netpoll::timer_added`); with nobody in the poller it calls `wakep`, so an
//!    idle M comes to wait for the timer.
//! 4. sysmon runs timers overdue by more than [`BACKSTOP_SLACK`] (a P stuck in a long G).
//!
//! # Invariants
//!
//! * `Shard::next` equals the `when` of the heap's top *live* entry (stale entries of cancelled
//!   timers are popped eagerly from the top), or `u64::MAX`; it is written only under the
//!   shard's lock, with SeqCst, and read SeqCst by the poller (netpoll/mod.rs, step P3 pairs with
//!   the store here).
//! * A slab slot is live iff its `action` is `Some`; a `TimerId` names a slot *and* its `seq`, so
//!   an id outlives its slot's reuse harmlessly.
//! * Actions run after the shard's lock is released, so a callback may add or cancel timers.
//!
//! Lock order: a poll descriptor's lock < a shard's lock (netpoll arms deadlines under the pd's
//! lock). Nothing is held while an action runs.

// Process statics: the std types even under `--cfg loom` (`loom::unmodelled`): loom objects may
// not outlive one model execution, and timers are outside the loom models (docs/loom.md).
use crate::loom::unmodelled::{AtomicU64, AtomicUsize, Mutex};
use crate::park::Unparker;
use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// sysmon fires a timer itself only once it is this late (the Ms and the poller fire them on
/// time; sysmon is for a P held by a long-running G).
pub const BACKSTOP_SLACK: Duration = Duration::from_millis(1);

/// Identifies a pending timer: its shard, its slab slot, and a sequence number that makes the id
/// unique for the life of the process.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let id = gort_runtime::timer::add(Instant::now() + Duration::from_secs(60), Box::new(|| {}));
/// assert!(gort_runtime::timer::cancel(id));
/// assert!(!gort_runtime::timer::cancel(id)); // already gone
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    shard: u32,
    slot: u32,
    seq: u64,
}

/// `TimerId::shard` of a synctest bubble's timer (its `slot` is the bubble's key).
const BUBBLE_SHARD: u32 = u32::MAX;

impl TimerId {
    /// The id of timer `seq` of the bubble with key `key` (bubble/mod.rs).
    pub(crate) fn bubble(key: u32, seq: u64) -> TimerId {
        TimerId {
            shard: BUBBLE_SHARD,
            slot: key,
            seq,
        }
    }
}

type Callback = Box<dyn FnOnce() + Send>;

/// What a timer does when it fires (also what a synctest bubble's heap holds: bubble/mod.rs).
pub(crate) enum Action {
    Call(Callback),
    Unpark(Unparker),
}

impl Action {
    pub(crate) fn run(self) {
        match self {
            // On a runtime thread: a panicking callback must not take the M with it.
            Action::Call(f) => crate::join::guarded("a timer callback", f),
            Action::Unpark(u) => u.unpark(),
        }
    }
}

struct Entry {
    seq: u64,
    action: Option<Action>,
}

#[derive(Default)]
struct Heap {
    /// Min-heap of (when in ns since `BASE`, seq, slot).
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slab: Vec<Entry>,
    free: Vec<u32>,
    live: usize,
    seq: u64,
}

impl Heap {
    fn is_live(&self, seq: u64, slot: u32) -> bool {
        let e = &self.slab[slot as usize];
        e.seq == seq && e.action.is_some()
    }

    /// Pops stale (cancelled) entries off the top; returns the top live deadline.
    fn clean_top(&mut self) -> u64 {
        while let Some(&Reverse((when, seq, slot))) = self.heap.peek() {
            if self.is_live(seq, slot) {
                return when;
            }
            self.heap.pop();
        }
        u64::MAX
    }

    fn take(&mut self, slot: u32) -> Option<Action> {
        let a = self.slab[slot as usize].action.take();
        if a.is_some() {
            self.live -= 1;
            self.free.push(slot);
        }
        a
    }
}

/// One P's timers.
struct Shard {
    heap: Mutex<Heap>,
    /// Earliest live deadline (ns since `BASE`), `u64::MAX` if none. See the invariants.
    next: AtomicU64,
}

struct Timers {
    base: Instant,
    /// Shard `i` belongs to P `i`; made when P `i` first needs one (`set_maxprocs` may add Ps),
    /// and never freed: a `TimerId` names its shard for the timer's life, so a removed P's
    /// shard stays, and the live P `i % nprocs` runs its timers (`adopted`).
    shards: Box<[OnceLock<Box<Shard>>]>,
    /// Shards made so far (the ones `check_all`, `next_ns` and sysmon look at). Only grows.
    nshards: AtomicUsize,
    /// `nprocs` while shards of removed Ps exist (then live P `i` also runs shards `j >= n`
    /// with `j % n == i`), else `usize::MAX`: one load on the hot path (`local_due`).
    adopt_n: AtomicUsize,
    /// Live timers in all shards (Relaxed: a count for `pending` and the deadlock detector).
    /// Every add and every fire writes it, from every P: it has a cache line of its own, so
    /// the read-mostly fields above, which every add reads, do not share its line (they did
    /// after an unrelated change moved this static by 0x20: sleep_wakeups' CPU per wake-up
    /// went up 17%, `Timers::add` stalling on the load of `shards`).
    live: crossbeam_utils::CachePadded<AtomicUsize>,
}

static TIMERS: OnceLock<Timers> = OnceLock::new();

fn timers() -> &'static Timers {
    TIMERS.get_or_init(|| {
        let t = Timers {
            base: Instant::now(),
            shards: (0..crate::env::MAX_PROCS)
                .map(|_| OnceLock::new())
                .collect(),
            nshards: AtomicUsize::new(0),
            adopt_n: AtomicUsize::new(usize::MAX),
            live: crossbeam_utils::CachePadded::new(AtomicUsize::new(0)),
        };
        for i in 0..crate::sched().all_ps().len() {
            t.shard(i);
        }
        t
    })
}

impl Timers {
    /// Shard `i`, made on first use.
    fn shard(&self, i: usize) -> &Shard {
        self.shards[i].get_or_init(|| {
            self.nshards.fetch_max(i + 1, Ordering::SeqCst);
            Box::new(Shard {
                heap: Mutex::new(Heap::default()),
                next: AtomicU64::new(u64::MAX),
            })
        })
    }

    /// The shards made so far, in id order (a shard not yet made in that range is skipped).
    fn made(&self) -> impl Iterator<Item = (usize, &Shard)> {
        let n = self.nshards.load(Ordering::SeqCst);
        self.shards[..n]
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.get().map(|s| (i, &**s)))
    }

    /// The shards P `pid` runs at its rounds: its own, and those of removed Ps it adopts
    /// (`j >= nprocs`, `j % nprocs == pid`), Go's "move the timers of a destroyed P".
    fn adopted(&self, pid: usize) -> impl Iterator<Item = usize> {
        let n = self.adopt_n.load(Ordering::Relaxed);
        let made = if n == usize::MAX {
            0
        } else {
            self.nshards.load(Ordering::Relaxed)
        };
        let n = n.clamp(1, usize::MAX >> 1);
        std::iter::once(pid).chain((pid + n..made).step_by(n))
    }

    fn ns(&self, t: Instant) -> u64 {
        // Saturating: `u64` ns covers 584 years past start; earlier instants are "now".
        let d = t.saturating_duration_since(self.base);
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
    }

    fn instant(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns)
    }

    /// The shard for a new timer: the caller's P's, else a per-thread pick.
    fn home_shard(&self) -> usize {
        thread_local! {
            static PICK: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        // std's atomic: a process-global static, no part of a loom model (see netpoll/mod.rs).
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        // (A synctest bubble's private P, whose id is past every shard, picks like a thread.)
        let pid = crate::sched::current_p_id().filter(|&p| p < self.shards.len());
        if let Some(p) = pid {
            return p;
        }
        PICK.with(|c| {
            if c.get() == usize::MAX {
                c.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            c.get() % crate::sched().nprocs().max(1)
        })
    }

    fn add(&self, when: Instant, action: Action) -> TimerId {
        let when = self.ns(when);
        let si = self.home_shard();
        let shard = self.shard(si);
        let mut h = shard.heap.lock();
        h.seq += 1;
        let seq = h.seq;
        let slot = match h.free.pop() {
            Some(s) => {
                h.slab[s as usize] = Entry {
                    seq,
                    action: Some(action),
                };
                s
            }
            None => {
                h.slab.push(Entry {
                    seq,
                    action: Some(action),
                });
                (h.slab.len() - 1) as u32
            }
        };
        h.live += 1;
        h.heap.push(Reverse((when, seq, slot)));
        // Compact if cancelled entries dominate (they are otherwise dropped when they surface).
        if h.heap.len() > 64 && h.heap.len() > 2 * h.live {
            let mut v = std::mem::take(&mut h.heap).into_vec();
            v.retain(|Reverse((_, s, sl))| h.is_live(*s, *sl));
            h.heap = BinaryHeap::from(v);
        }
        let next = h.clean_top();
        // Pairs with the poller's SeqCst loads in `next_deadline` (netpoll step P3).
        shard.next.store(next, Ordering::SeqCst);
        drop(h);
        self.live.fetch_add(1, Ordering::Relaxed);
        crate::netpoll::timer_added(when);
        TimerId {
            shard: si as u32,
            slot,
            seq,
        }
    }

    fn cancel(&self, id: TimerId) -> bool {
        let Some(shard) = self.shards.get(id.shard as usize).and_then(OnceLock::get) else {
            return false;
        };
        let mut h = shard.heap.lock();
        if (id.slot as usize) >= h.slab.len() || !h.is_live(id.seq, id.slot) {
            return false;
        }
        let a = h.take(id.slot);
        let next = h.clean_top();
        shard.next.store(next, Ordering::SeqCst);
        drop(h);
        self.live.fetch_sub(1, Ordering::Relaxed);
        drop(a); // outside the lock: a callback's captures may be anything
        true
    }

    /// Runs shard `si`'s timers due at `now_ns` (at most a batch per lock); returns how many ran.
    fn run_shard(&self, si: usize, now_ns: u64) -> usize {
        let Some(shard) = self.shards.get(si).and_then(OnceLock::get) else {
            return 0;
        };
        if shard.next.load(Ordering::SeqCst) > now_ns {
            return 0;
        }
        thread_local! {
            static BATCH: RefCell<Vec<Action>> = const { RefCell::new(Vec::new()) };
        }
        let mut batch = BATCH
            .with(|b| b.try_borrow_mut().map(|mut b| std::mem::take(&mut *b)))
            .unwrap_or_default();
        let mut ran = 0;
        loop {
            {
                let mut h = shard.heap.lock();
                while batch.len() < 128 {
                    match h.heap.peek() {
                        Some(&Reverse((when, seq, slot))) if when <= now_ns => {
                            h.heap.pop();
                            if h.is_live(seq, slot) {
                                if let Some(a) = h.take(slot) {
                                    batch.push(a);
                                }
                            }
                        }
                        _ => break,
                    }
                }
                let next = h.clean_top();
                shard.next.store(next, Ordering::SeqCst);
            }
            if batch.is_empty() {
                break;
            }
            let n = batch.len();
            ran += n;
            crate::metrics::count_global_by(crate::metrics::Counter::TimersFired, n as u64);
            let tracing = crate::exectrace::on();
            for a in batch.drain(..) {
                if tracing {
                    crate::exectrace::timer_fired();
                }
                a.run();
            }
            // After the actions ran, not before: `pending()` must count a firing timer until its
            // action has readied what it readies (the deadlock check relies on it; SeqCst pairs
            // with its loads).
            self.live.fetch_sub(n, Ordering::SeqCst);
            if n < 128 {
                break;
            }
        }
        BATCH.with(|b| {
            if let Ok(mut b) = b.try_borrow_mut() {
                if b.capacity() < batch.capacity() {
                    *b = batch;
                }
            }
        });
        ran
    }

    fn next_ns(&self) -> u64 {
        self.made()
            .map(|(_, s)| s.next.load(Ordering::SeqCst))
            .min()
            .unwrap_or(u64::MAX)
    }
}

/// Registers `f` to run once at or after `when`, on a runtime thread.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::{Duration, Instant};
/// let (tx, rx) = mpsc::channel();
/// gort_runtime::timer::add(Instant::now() + Duration::from_millis(5), Box::new(move || {
///     tx.send(()).unwrap();
/// }));
/// rx.recv().unwrap();
/// ```
///
/// Inside a synctest bubble the timer is the bubble's: it runs when the bubble's virtual clock
/// reaches `when` (see `gort::synctest`).
pub fn add(when: Instant, f: Box<dyn FnOnce() + Send>) -> TimerId {
    add_action(when, Action::Call(f))
}

/// [`add`] for any action: into the calling bubble's heap inside one, else the shards.
fn add_action(when: Instant, a: Action) -> TimerId {
    let a = if crate::bubble::active() {
        match crate::bubble::try_add_timer(when, a) {
            Ok(id) => return id,
            Err(a) => a,
        }
    } else {
        a
    };
    timers().add(when, a)
}

/// [`add`] for a timer that belongs to the bubble with key `key` (a timer channel's, whichever
/// thread arms it), or to nobody (`key` 0: the shards, even when called inside a bubble).
pub(crate) fn add_for(key: u32, when: Instant, f: Box<dyn FnOnce() + Send>) -> TimerId {
    let a = Action::Call(f);
    let a = if key != 0 {
        match crate::bubble::add_timer_in(key, when, a) {
            Ok(id) => return id,
            Err(a) => a,
        }
    } else {
        a
    };
    timers().add(when, a)
}

/// Registers `u` to be unparked at or after `when`: [`add`] without the allocation (what
/// [`sleep`] uses).
pub(crate) fn add_unpark(when: Instant, u: Unparker) -> TimerId {
    add_action(when, Action::Unpark(u))
}

/// Removes a pending timer; true if it had not fired (its callback will never run).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let id = gort_runtime::timer::add(Instant::now() + Duration::from_secs(9), Box::new(|| {}));
/// assert!(gort_runtime::timer::cancel(id));
/// ```
pub fn cancel(id: TimerId) -> bool {
    if id.shard == BUBBLE_SHARD {
        return crate::bubble::cancel_timer(id.slot, id.seq);
    }
    timers().cancel(id)
}

/// The current instant of gort's clock (Go's `time.Now`): inside a synctest bubble (a green
/// thread of the bubble) the bubble's virtual clock, which starts at the same fixed instant in
/// every bubble and moves only when every green thread of the bubble is durably blocked;
/// elsewhere `Instant::now()`. Deadlines given to gort (sleeps, timeouts, timers, contexts,
/// sockets) are on this clock.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let t0 = gort::time::now(); // outside a bubble: the real clock
/// gort::synctest::test(|| {
///     let start = gort::time::now();
///     gort::sleep(Duration::from_secs(3600)); // an hour of virtual time, at once
///     assert_eq!(gort::time::now() - start, Duration::from_secs(3600));
/// });
/// assert!(t0.elapsed() < Duration::from_secs(3600));
/// ```
pub fn now() -> Instant {
    if crate::bubble::active() {
        if let Some(b) = crate::bubble::current() {
            return b.now();
        }
    }
    Instant::now()
}

/// Number of pending timers (added, neither fired nor cancelled).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let id = gort_runtime::timer::add(Instant::now() + Duration::from_secs(9), Box::new(|| {}));
/// assert!(gort_runtime::timer::pending() >= 1);
/// gort_runtime::timer::cancel(id);
/// ```
pub fn pending() -> usize {
    match TIMERS.get() {
        Some(t) => t.live.load(Ordering::SeqCst),
        None => 0,
    }
}

/// Entries in all timer heaps, counting cancelled ones not yet removed (for tests that check
/// that timers are released: they stay within a constant of [`pending`]).
#[doc(hidden)]
pub fn heap_entries() -> usize {
    match TIMERS.get() {
        Some(t) => t
            .shards
            .iter()
            .filter_map(|s| s.get())
            .map(|s| s.heap.lock().heap.len())
            .sum(),
        None => 0,
    }
}

/// `set_maxprocs` set the number of Ps to `n`: shards of removed Ps are adopted by live ones.
pub(crate) fn procs_changed(n: usize) {
    if let Some(t) = TIMERS.get() {
        for i in 0..n {
            t.shard(i);
        }
        let made = t.nshards.load(Ordering::SeqCst);
        let v = if made > n { n } else { usize::MAX };
        t.adopt_n.store(v, Ordering::Relaxed);
    }
}

/// Step 0 of `find_runnable` (Go's `checkTimers`): runs the timers of P `pid` due at `now`, the
/// time [`local_due`] found them due at. Returns how many ran.
pub(crate) fn check_local(pid: usize, now: u64) -> usize {
    let t = timers();
    t.adopted(pid).map(|si| t.run_shard(si, now)).sum()
}

/// If P `pid`'s shard has a due timer, the time it was found due at, for [`check_local`] (the
/// test is separate because running the timers needs the P in its M's slot). One atomic load
/// when the shard is empty; the clock is read once either way.
#[inline]
pub(crate) fn local_due(pid: usize) -> Option<u64> {
    let t = TIMERS.get()?;
    let next = if t.adopt_n.load(Ordering::Relaxed) == usize::MAX {
        // The common case: only this P's own shard.
        t.shards[pid]
            .get()
            .map_or(u64::MAX, |s| s.next.load(Ordering::SeqCst))
    } else {
        adopted_next(t, pid)
    };
    if next == u64::MAX {
        return None;
    }
    let now = t.ns(Instant::now());
    (next <= now).then_some(now)
}

/// The earliest deadline of P `pid`'s shard and those it adopted (after a shrink).
#[cold]
fn adopted_next(t: &Timers, pid: usize) -> u64 {
    t.adopted(pid)
        .filter_map(|si| t.shards[si].get())
        .map(|s| s.next.load(Ordering::SeqCst))
        .min()
        .unwrap_or(u64::MAX)
}

/// Runs the due timers of every shard (a spinning M's "steal timers", and the poller after a
/// poll). Returns how many ran.
pub(crate) fn check_all() -> usize {
    let Some(t) = TIMERS.get() else { return 0 };
    if t.next_ns() == u64::MAX {
        return 0;
    }
    let now = t.ns(Instant::now());
    let made: Vec<usize> = t.made().map(|(i, _)| i).collect();
    made.into_iter().map(|si| t.run_shard(si, now)).sum()
}

/// The earliest deadline over all shards, if any timer is pending (the poller's timeout).
pub(crate) fn next_deadline() -> Option<Instant> {
    let t = TIMERS.get()?;
    let n = t.next_ns();
    (n != u64::MAX).then(|| t.instant(n))
}

/// Converts an instant to the timers' clock (ns since their base), for `netpoll`'s atomics.
pub(crate) fn to_ns(when: Instant) -> u64 {
    timers().ns(when)
}

/// The instant `ns` on the timers' clock stands for (the inverse of [`to_ns`]).
pub(crate) fn from_ns(ns: u64) -> Instant {
    timers().instant(ns)
}

/// sysmon's backstop: runs timers overdue by more than [`BACKSTOP_SLACK`]; returns the next
/// deadline (plus the slack: the time sysmon should look again), if any.
pub(crate) fn run_due(now: Instant) -> Option<Instant> {
    let t = TIMERS.get()?;
    let late = t.ns(now).saturating_sub(BACKSTOP_SLACK.as_nanos() as u64);
    let due: Vec<usize> = t
        .made()
        .filter(|(_, s)| s.next.load(Ordering::SeqCst) <= late)
        .map(|(i, _)| i)
        .collect();
    for si in due {
        t.run_shard(si, late);
    }
    let n = t.next_ns();
    (n != u64::MAX).then(|| t.instant(n) + BACKSTOP_SLACK)
}

/// Parks the current G for `d` (Go's `time.Sleep`); on a plain thread, `std::thread::sleep`.
/// Thousands of sleeping Gs cost no threads: each is one timer-heap entry. A `d` too long for
/// `Instant` (`Duration::MAX`) sleeps 30 years, that is, for good, as in Go; it does not panic.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// let hs: Vec<_> = (0..1000)
///     .map(|_| gort::spawn(|| gort::sleep(Duration::from_millis(10))))
///     .collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert!(t.elapsed() >= Duration::from_millis(10));
/// ```
#[track_caller]
pub fn sleep(d: Duration) {
    if d.is_zero() {
        crate::park::yield_now();
        return;
    }
    if crate::park::in_green_thread() {
        // The deadline is in the future (d > 0): park at once, without sleep_until's first
        // clock read (each costs ~30-50 ns on this VM; sleep_wakeups spent 13% in them).
        park_until(deadline_after(d));
    } else {
        std::thread::sleep(d);
    }
}

/// The instant `d` from now; a `d` too long for `Instant` (`Duration::MAX`, say) gives an instant
/// 30 years ahead, which is "never" for every timer, as Go's `time.Sleep(math.MaxInt64)` is.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// Parks the current G until `deadline` (returns at once if it has passed); on a plain thread,
/// sleeps the thread.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let when = Instant::now() + Duration::from_millis(3);
/// gort::spawn(move || gort::sleep_until(when)).join().unwrap();
/// assert!(Instant::now() >= when);
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) {
    if !crate::park::in_green_thread() {
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        return;
    }
    if now() < deadline {
        park_until(deadline);
    }
}

/// Parks the current G (on a G's stack) until `deadline`, which the caller saw in the future.
fn park_until(deadline: Instant) {
    loop {
        crate::park::park(crate::g::WaitReason::Sleep, move |u| {
            add_unpark(deadline, u);
            None
        });
        // Only the timer holds the unparker, and it fires at or after the deadline; the check
        // guards against the timers' nanosecond clock rounding below `Instant`.
        if now() >= deadline {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g::WaitReason;

    /// `add_unpark` (crate-private since issue 15: it takes the owner of a parked G) wakes its G.
    #[test]
    fn add_unpark_wakes_the_g() {
        let t = Instant::now();
        crate::spawn(move || {
            crate::park::park(WaitReason::Sleep, |u| {
                add_unpark(Instant::now() + Duration::from_millis(2), u);
                None
            })
        })
        .join()
        .unwrap();
        assert!(t.elapsed() >= Duration::from_millis(2));
    }
}
