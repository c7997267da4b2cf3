//! The scheduler: global state (`Sched`, Go's `schedt`), run queue operations, the search for work
//! (`find_runnable`), and the spinning/parking protocol for Ms.
//!
//! # The parking problem (Go's proc.go essay, restated for gort)
//!
//! We want to keep enough Ms running to use all Ps in parallel while there is runnable work, and
//! park the rest so an idle process burns no CPU. Two things make this hard: the work is spread
//! over per-P queues, so nobody sees it all at once; and a readier and an M going idle may race,
//! so that the M parks just as a G becomes runnable, and the G waits for nobody (a *lost wakeup*).
//! Rejected designs, as in Go: (1) one global queue with a condvar — a bottleneck on every ready;
//! (2) waking an M on every ready — thrashing, since the M usually finds nothing; (3) the readier
//! handing the G straight to an idle M — loses locality and the runnext pairing.
//!
//! The chosen protocol: an M with no work *spins* (looks at other Ps) for a while before parking,
//! and readiers wake a parked M only if nobody is spinning (`wakep`). At most half of the busy Ps
//! have a spinning M (`2 * nmspinning < nprocs - npidle`). The lost wakeup is closed by two mirror
//! recipes (each step numbered as the code comments cite them):
//!
//! * **Submit** (readier, `Sched::ready_g`): S1. publish the G (runnext swap, SeqCst; or a queue
//!   push followed by a SeqCst fence; or the global queue under `lock`); S2. load `npidle` and
//!   `nmspinning` (SeqCst); S3. if a P is idle and nobody spins, CAS `nmspinning` 0→1 and start
//!   an M on an idle P.
//! * **Stop spinning** (an M giving up, in `find_runnable`): T1. give the P back to the idle
//!   list (`npidle += 1`, SeqCst, under `lock`); T2. `nmspinning -= 1` (SeqCst) and a SeqCst fence;
//!   T3. re-check the global queue (under `lock`) and every P's runnext and local queue; if
//!   anything is there, take an idle P back, spin again and go to the top.
//!
//! Proof sketch (rayon-core's sleep/README style): the SeqCst operations S1, S2, T1, T2 are in one
//! total order. If S2 reads `nmspinning` before T2's decrement (so the readier does not wake
//! anyone), then S1 precedes T2 and so precedes T2's fence, and T3 — sequenced after that fence —
//! must observe the G. If S2 reads `nmspinning` after T2 and sees 0 with `npidle` > 0 (T1 precedes
//! T2), the readier wakes an M itself. Either way somebody runs the G. A global-queue push is
//! not a SeqCst operation, so that case goes through the lock instead: if T3's critical section
//! follows the push's, T3 sees the G; otherwise T2 happens-before the readier's S2, which then
//! reads the decrement (and T1) and wakes an M. (T3 once read `nglobal` without the lock; loom
//! model 2 found the lost wakeup.) Non-spinning Ms that go idle
//! do not re-check other Ps' queues: a G in a P's local queue is that P's owner's job, and the owner
//! is running. The remaining window (a readier finds no idle P while a non-spinning M is about to
//! release one) is Go's "delicate dance": the readier sets `needspinning`, and an M about to
//! release its P checks it under `lock` and spins instead. Loom model 2 (loom-tests) checks this.
//!
//! # The runnext back-off (a deviation from Go)
//!
//! A spinning M takes a running P's runnext only in its last steal round, after a back-off,
//! since the owner is probably about to run it. Go waits 3 µs and then compares pointers. gort
//! also leaves the G if the owner took its runnext meanwhile (`PShared::runnext_taken` moved:
//! it ran or queued what we saw), and then doubles that P's back-off for the next thief, up to
//! 1 ms; a steal resets it to 3 µs (`Sched::steal_runnext_after_backoff`). A hand-off pattern
//! (a ping-pong pair takes turns in runnext) thus stops costing an M wake-up every few hundred
//! µs. The waiting thief still holds its P and counts in `nmspinning`, and it finishes its
//! round and re-checks (T3) after the wait, so the Submit/Stop spinning argument above is
//! unchanged; what the longer wait could delay is work that appears elsewhere meanwhile (no one
//! else is woken while a spinner exists), so queue and global-queue pushes, new timers and Gs
//! parking on sockets poke thieves in a longer wait awake (`BackoffSleep`; Go's 3 µs wait stays
//! a plain sleep), and a long wait is not taken while Gs wait on sockets. A G that only sits in
//! a busy P's runnext, behind a G that keeps running, waits out the longer back-off (at most
//! 1 ms) once; the steal resets it.
//!
//! # Lock order
//! A channel's lock < `Sched::lock` < an M's note lock < a registry shard lock (a channel's
//! `close` completes its waiters under its lock, and a completion readies a G). User code never
//! runs under any of them. `BackoffSleep::pokes` is a leaf: nothing is taken under it.

use crate::coro::{Coro, Resumed, Suspend};
use crate::env::Config;
use crate::fatal::fatal;
use crate::g::{GRef, GStatus, G};
use crate::loom::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::loom::{Mutex, MutexGuard};
use crate::m::{with_m, with_m_sched, MShared, PSlot, Wakeup};
use crate::p::{PHandle, PLocal, PShared, RunningP};
use crate::runq::{Steal, LOCAL_CAP};
use std::collections::VecDeque;
use std::time::Duration;

/// The loom model harness: a child module so it can drive the private steps below (docs/loom.md).
#[cfg(loom)]
#[doc(hidden)]
#[path = "model.rs"]
pub mod model;

/// Every this many schedule rounds a P takes one G from the global queue first (Go's 61: a prime,
/// so it does not fall into step with periodic workloads).
const GLOBAL_CHECK_INTERVAL: u64 = 61;
/// Rounds over all Ps a spinning M makes before giving up (Go: 4). Under loom 2, a first and a
/// last round (only the last takes runnext): more rounds repeat the same steps, and each one
/// multiplies the interleavings loom explores.
const STEAL_TRIES: usize = if cfg!(loom) { 2 } else { 4 };
/// A thief's first wait before taking a running P's runnext: Go's `usleep(3)`, which Linux
/// stretches to ~50 µs with its timer slack.
pub(crate) const STEAL_BACKOFF_MIN_US: usize = 3;
/// The longest such wait: each time the owner runs the G while a thief waits (a hand-off
/// pattern such as a ping-pong pair), that P's wait doubles, up to this (`steal_work`).
const STEAL_BACKOFF_MAX_US: usize = 1000;

/// Entries of capacity the global queue keeps once it has drained (picked without data: 32 KiB
/// of entries; more is freed, see `globrunqget`).
const GLOBAL_KEEP: usize = 1024;

/// What came of a thief's attempt at a running P's runnext.
enum RunnextTake {
    Stole(GRef),
    /// Left to its owner (it ran the G, or another thief took it).
    Left,
    /// The back-off was cut short: stealable work was queued somewhere.
    Poked,
}

/// Where thieves wait in a runnext back-off, and how stealable work cuts the wait short.
///
/// A thief waits holding its P and counted in `nmspinning`, so while it waits `wakep` wakes no
/// one else: work that lands in a run queue or the global queue meanwhile must not wait for a
/// long back-off to end. (Go's own 3 µs wait is a plain sleep, as in Go: only longer waits are
/// registered here and can be poked.) Whoever queues such work calls [`poke`](Self::poke)
/// (`ready_g` when a G lands in a queue, `global_put`, `injectglist`; also a new timer and a G
/// parking on a socket), which wakes every waiting thief to look again; work that only lands in
/// a runnext does not (that is the case the back-off is for), nor does an owner moving its own
/// runnext to its queue (the thief's T3 sees it). A poke that races with a thief going to sleep can be missed:
/// that work then waits at most the thief's back-off (the thief finishes its round, and its T3
/// re-check or next round finds it).
/// Not modelled by loom (a thief yields instead of waiting there): a latency aid only.
struct BackoffSleep {
    /// Thieves waiting; the poke's fast path is one load of it.
    sleepers: crate::loom::unmodelled::AtomicUsize,
    /// Pokes so far; a waiting thief returns when it changes.
    pokes: crate::loom::unmodelled::Mutex<u64>,
    cv: crate::loom::unmodelled::Condvar,
}

impl BackoffSleep {
    fn new() -> BackoffSleep {
        BackoffSleep {
            sleepers: crate::loom::unmodelled::AtomicUsize::new(0),
            pokes: crate::loom::unmodelled::Mutex::new(0),
            cv: crate::loom::unmodelled::Condvar::new(),
        }
    }

    /// Waits `us` microseconds or until poked; true if poked. A wait longer than Go's ends by
    /// the nearest timer due when it starts (a waiting thief runs no timers; a timer added
    /// meanwhile pokes), and is not taken at all while Gs wait on sockets (a waiting thief
    /// polls nothing, and it may be the M that would; a G parking on a socket pokes).
    #[cfg(not(loom))]
    fn sleep(&self, us: usize) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        if us <= STEAL_BACKOFF_MIN_US {
            // Go's wait, as Go does it: not cut short, so it costs no one a wake-up (a poke of a
            // short wait would make a spawner pay a futex wake for work the thief finds ~50 µs
            // later anyway).
            std::thread::sleep(Duration::from_micros(us as u64));
            return false;
        }
        let now = std::time::Instant::now();
        let mut deadline = now + Duration::from_micros(us as u64);
        let go = now + Duration::from_micros(STEAL_BACKOFF_MIN_US as u64);
        if crate::netpoll::waiters() > 0 {
            deadline = go;
        } else if let Some(t) = crate::timer::next_deadline() {
            deadline = deadline.min(t.max(go));
        }
        let mut g = self.pokes.lock();
        let seen = *g;
        self.sleepers.fetch_add(1, SeqCst);
        loop {
            if *g != seen {
                break;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            g = self.cv.wait_for(g, deadline - now);
        }
        self.sleepers.fetch_sub(1, SeqCst);
        *g != seen
    }

    #[cfg(loom)]
    fn sleep(&self, _us: usize) -> bool {
        crate::loom::short_sleep();
        false
    }

    /// Stealable work was just queued: wake the thieves waiting in a back-off, if any.
    fn poke(&self) {
        if self.sleepers.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return;
        }
        *self.pokes.lock() += 1;
        self.cv.notify_all();
    }
}
/// An idle M beyond the floor exits after this long without work. Go never retires Ms; a burst
/// of blocking calls would then leave hundreds of threads behind for good (golang/go#14592).
/// Picked without data; seconds rather than minutes so a burst's threads are gone soon after.
pub const M_IDLE_EXIT: Duration = Duration::from_secs(2);

/// What `Sched::lock` protects.
pub(crate) struct Locked {
    /// The global run queue (FIFO).
    pub(crate) global: VecDeque<GRef>,
    /// Gs spawned outside any P, not given a record yet (FIFO; see [`FreshG`]).
    pub(crate) fresh: VecDeque<FreshG>,
    /// Takes from `global` since `fresh` was last served while non-empty (see
    /// `globrunqget`: fresh entries wait at most [`GLOBAL_CHECK_INTERVAL`] such takes).
    fresh_skips: u64,
    /// Fresh entries ever taken off `fresh`'s front: the absolute index of its head, so the
    /// dump can walk it in chunks while it moves (`for_each_fresh`).
    fresh_popped: u64,
    /// Idle Ps, most recently idled last.
    pub(crate) idle_p: Vec<PHandle>,
    /// Idle Ms, parked on their notes.
    pub(crate) idle_m: Vec<&'static MShared>,
}

/// A G spawned from outside any P (a plain thread, or a G whose P sysmon retook): its task
/// and id, queued on `Locked::fresh` without a G record (32 bytes inline in the queue). The M
/// that takes it gives it a record from its P's cache of dead records (`globrunq_fresh`). So a
/// plain thread that spawns faster than the Ms run costs only its tasks for the Gs still
/// queued, not a 256-byte record each: measured with 1,000,000 spawns from `main` on a loaded
/// machine, up to 450,000 Gs were queued at once, i.e. 115 MB of records that glibc then kept
/// for the process (issue 15, item 9). It also takes the record's `malloc` and its registry
/// insert off the spawner's path. (Go allocates a `g` and its stack in `newproc` itself; its
/// spawner is always on a P.) A separate queue rather than a variant of `global`'s entries
/// keeps the yield path (a push and a pop of `global` per switch) exactly as it was.
pub(crate) struct FreshG {
    id: u64,
    entry: crate::g::Entry,
    /// The `spawn` call's source line (the dump's `created by`).
    site: Option<crate::g::Site>,
    /// Only for a named G, a non-default stack size, a stack reservation (mprotect mode), or a
    /// spawning G (one whose P sysmon retook).
    extra: Option<Box<FreshExtra>>,
}

/// What `globrunqget` took.
pub(crate) enum Global {
    /// A G with a record, to run.
    G(GRef),
    /// A batch of fresh entries, in the P's `glob_batch`.
    Fresh,
}

struct FreshExtra {
    name: Option<std::sync::Arc<str>>,
    stack_size: usize,
    stack_reserved: bool,
    parent: u64,
}

/// The Ps as one immutable set (Go's `allp` and `gomaxprocs`), replaced whole by
/// [`Sched::set_maxprocs`] (see "Resizing the Ps" below). Sets are leaked: a reader that loaded
/// an old one may keep using it (its Ps live for the process, as Go's do).
pub(crate) struct PSet {
    /// Every P ever made, by id; those at `n..` are retired (dead, or retiring: held by an M
    /// that gives them up at its next scheduling round).
    pub(crate) all: Box<[&'static PShared]>,
    /// The live Ps: `all[..n]` (GOMAXPROCS).
    pub(crate) n: usize,
    /// Strides coprime with `n`, for random-order stealing (Go's `stealOrder`).
    strides: Box<[usize]>,
}

impl PSet {
    fn new(all: Box<[&'static PShared]>, n: usize) -> PSet {
        PSet {
            all,
            n,
            strides: (1..=n).filter(|&s| gcd(s, n) == 1).collect(),
        }
    }
}

/// The scheduler's global state (Go's `schedt` plus `allp`).
pub struct Sched {
    pub(crate) cfg: Config,
    /// The current P set. A process-lifetime pointer to a leaked `PSet`, swapped under `lock`
    /// (Release) by `set_maxprocs`; read (Acquire) without the lock. Unmodelled under loom: the
    /// resize model checks the protocol's lock and P states, not this publication.
    pset: crate::loom::unmodelled::AtomicPtr<PSet>,
    /// Every `PSet` ever published (for loom's cleanup, which frees them with the `Sched`).
    #[cfg(loom)]
    psets: Mutex<Vec<usize>>,
    /// Whether `set_maxprocs` was called (then sysmon stops following the CPU limit).
    pub(crate) maxprocs_custom: AtomicBool,
    pub(crate) lock: Mutex<Locked>,
    /// Length of `Locked::global`; written under `lock`, read without it (a hint, except in T3
    /// where it is read after the SeqCst fence).
    pub(crate) nglobal: AtomicUsize,
    /// Idle Ps. Written under `lock`; read SeqCst by `wakep` (submit step S2).
    pub(crate) npidle: AtomicUsize,
    /// Spinning Ms (see the module essay). SeqCst everywhere.
    pub(crate) nmspinning: AtomicUsize,
    /// Go's `needspinning`: a readier found no idle P for a spinner. Written SeqCst; read under
    /// `lock` by an M about to release its P.
    pub(crate) needspinning: AtomicBool,
    /// Idle Ms (length of `Locked::idle_m`), for traces.
    pub(crate) nmidle: AtomicUsize,
    /// Ms sleeping while locked to a G that is not running (traces: `nmidlelocked`).
    pub(crate) nmidlelocked: AtomicUsize,
    /// Ms ever created (M ids are 1..=mcount).
    pub(crate) mcount: AtomicUsize,
    /// Ms whose threads have not exited.
    pub(crate) mlive: AtomicUsize,
    /// Live Gs: incremented at spawn, decremented when a G's closure has returned (before its
    /// joiner is told), so `num_goroutine()` is exact once a join returns.
    pub(crate) ngoroutine: AtomicUsize,
    /// Gs inside `blocking` (for the deadlock check). Relaxed counts; the check re-reads them.
    pub(crate) nsyscall: AtomicUsize,
    /// The blocking pool's permits: `cfg.maxblocking` of them; a G holds one from entering
    /// `blocking`/`block_in_place` until it leaves (syscall.rs, "The blocking pool").
    pub(crate) block_slots: crate::sync::sema::Sema,
    /// Ms whose P sysmon took because their G blocked the thread without `gort::blocking`, and
    /// that have not come back to the scheduler yet (they count against `cfg.maxblocking`:
    /// sysmon.rs). Incremented by sysmon, decremented by the M; Relaxed (a bound, not a
    /// protocol: an M counted a moment too long only delays one more such hand-off).
    pub(crate) nunwrapped: AtomicUsize,
    /// Every M, newest last (for traces and LockOSThread hand-offs).
    pub(crate) allm: Mutex<Vec<&'static MShared>>,
    /// Thieves waiting before they take a running P's runnext (`steal_work`).
    backoff: BackoffSleep,
}

/// Under loom a `Sched` lives for one model execution, and its Ps hold loom objects (the run
/// queue stand-in's `Arc`), which must not outlive it: free the leaked P array with the `Sched`.
#[cfg(loom)]
impl Drop for Sched {
    fn drop(&mut self) {
        {
            let mut l = self.lock.lock();
            l.idle_p.clear();
            l.global.clear();
            l.fresh.clear();
            l.idle_m.clear();
        }
        let all: Vec<&'static PShared> = self.all_ps().to_vec();
        for p in &all {
            drop(p.take_runnext());
        }
        for set in self.psets.lock().drain(..) {
            // SAFETY: every set came from `Box::into_raw` in `new` or `resize`, once; under loom
            // the scheduler is owned by one model execution, whose model Ms have all exited.
            drop(unsafe { Box::from_raw(set as *mut PSet) });
        }
        for p in all {
            // SAFETY: each P came from `Box::leak` in `make_p`; nothing refers to the Ps any
            // more (the sets were freed above, the handles dropped with the lists).
            drop(unsafe { Box::from_raw(p as *const PShared as *mut PShared) });
        }
    }
}

impl Sched {
    /// Builds a scheduler with `cfg.maxprocs` idle Ps and no Ms. The Ps are leaked: they live as
    /// long as the process (as Go's `allp`).
    pub(crate) fn new(cfg: Config) -> Sched {
        let n = cfg.maxprocs;
        let all: Box<[&'static PShared]> = (0..n).map(make_p).collect();
        let mut idle: Vec<PHandle> = all.iter().map(|p| p.initial_handle()).collect();
        idle.reverse(); // P0 is handed out first.
        let set = Box::into_raw(Box::new(PSet::new(all, n)));
        let maxblocking = u32::try_from(cfg.maxblocking).unwrap_or(u32::MAX);
        Sched {
            cfg,
            pset: crate::loom::unmodelled::AtomicPtr::new(set),
            #[cfg(loom)]
            psets: Mutex::new(vec![set as usize]),
            maxprocs_custom: AtomicBool::new(false),
            lock: Mutex::new(Locked {
                global: VecDeque::new(),
                fresh: VecDeque::new(),
                fresh_skips: 0,
                fresh_popped: 0,
                idle_p: idle,
                idle_m: Vec::new(),
            }),
            nglobal: AtomicUsize::new(0),
            npidle: AtomicUsize::new(n),
            nmspinning: AtomicUsize::new(0),
            needspinning: AtomicBool::new(false),
            nmidle: AtomicUsize::new(0),
            nmidlelocked: AtomicUsize::new(0),
            mcount: AtomicUsize::new(0),
            mlive: AtomicUsize::new(0),
            ngoroutine: AtomicUsize::new(0),
            nsyscall: AtomicUsize::new(0),
            block_slots: crate::sync::sema::Sema::new(maxblocking),
            nunwrapped: AtomicUsize::new(0),
            allm: Mutex::new(Vec::new()),
            backoff: BackoffSleep::new(),
        }
    }

    /// Number of Ps (GOMAXPROCS).
    #[inline]
    pub fn nprocs(&self) -> usize {
        self.pset().n
    }

    /// The current P set (see [`PSet`]).
    #[inline]
    pub(crate) fn pset(&self) -> &'static PSet {
        // Acquire: pairs with `publish_pset`'s Release store, so the set's contents are seen.
        let p = self.pset.load(std::sync::atomic::Ordering::Acquire);
        // SAFETY: the pointer always holds a leaked `PSet` (never freed outside loom's drop of
        // the whole scheduler, after its model threads ended).
        unsafe { &*p }
    }

    /// The live Ps (ids `0..nprocs`).
    #[inline]
    pub(crate) fn active_ps(&self) -> &'static [&'static PShared] {
        let set = self.pset();
        &set.all[..set.n]
    }

    /// Every P ever made, retired ones included (for counters that must not go backwards).
    pub(crate) fn all_ps(&self) -> &'static [&'static PShared] {
        &self.pset().all
    }

    // ---- run queues ----------------------------------------------------------------------

    /// Puts a runnable G on P `p` (Go's `runqput`). With `next`, it goes into runnext (and the G
    /// it displaces to the tail); otherwise to the tail. A full local queue spills half of itself
    /// plus the G to the global queue. Caller: the owner of `p` only (`local` proves it).
    /// Returns whether a G went where a thief takes it without a back-off (the queue, or the
    /// global queue on a spill), rather than only into runnext.
    pub(crate) fn runqput(&self, shared: &PShared, local: &PLocal, g: GRef, next: bool) -> bool {
        let g = if next {
            match crate::p::put_runnext_shared(shared, g) {
                None => return false,
                Some(old) => old,
            }
        } else {
            g
        };
        if local.runq.len() < LOCAL_CAP {
            local.runq.push(g);
        } else {
            self.runqputslow(local, g);
        }
        true
    }

    /// Moves half of a local queue and `g` to the global queue in one lock (Go's `runqputslow`).
    fn runqputslow(&self, local: &PLocal, g: GRef) {
        let n = local.runq.len() / 2;
        let mut batch = Vec::with_capacity(n + 1);
        for _ in 0..n {
            match local.runq.pop() {
                Some(x) => batch.push(x),
                None => break,
            }
        }
        batch.push(g);
        let mut l = self.lock.lock();
        l.global.extend(batch);
        self.nglobal
            .store(l.global.len() + l.fresh.len(), Ordering::Relaxed);
    }

    /// Takes the next G from `p`: runnext first (inheriting the time slice), then the queue head.
    /// If sysmon flagged the slice as used up, runnext goes to the back of the queue this once.
    fn runqget(&self, p: &PHandle) -> Option<(GRef, bool)> {
        let shared = p.shared();
        let local = p.local();
        let taken = |s: &PShared| {
            // Owner-only writer: a load and a store (thieves only compare it).
            let n = s.runnext_taken.load(Ordering::Relaxed);
            s.runnext_taken.store(n.wrapping_add(1), Ordering::Relaxed);
        };
        if shared.preempt.load(Ordering::Relaxed) {
            shared.preempt.store(false, Ordering::Relaxed);
            if let Some(g) = shared.take_runnext() {
                taken(shared);
                // On the tail, where a thief takes it without a back-off (no poke needed:
                // thieves end at T3, which sees it).
                local.runq.push(g);
            }
        } else if let Some(g) = shared.take_runnext() {
            taken(shared);
            return Some((g, true));
        }
        local.runq.pop().map(|g| (g, false))
    }

    /// Puts a G on the global queue (from outside any P, or for a P-less M).
    pub(crate) fn global_put(&self, g: GRef) {
        // A synctest bubble's G goes to its bubble (a yield, bubble/mod.rs): one load.
        if g.bubble_key() != 0 {
            return crate::bubble::ready(g);
        }
        let mut l = self.lock.lock();
        l.global.push_back(g);
        self.nglobal
            .store(l.global.len() + l.fresh.len(), Ordering::Relaxed);
        drop(l);
        self.backoff.poke();
    }

    /// Takes a batch from the global queue (Go's `globrunqget`) for `p`: n = min(len, len /
    /// nprocs + 1, max if nonzero, LOCAL_CAP / 2), one returned and the rest queued on `p`.
    /// Caller holds `lock`. The fresh queue is served when `global` is empty, or when it has
    /// waited `GLOBAL_CHECK_INTERVAL` takes (so a plain thread's spawns cannot starve behind
    /// Gs that keep yielding): its batch goes to `p`'s `glob_batch`, and the caller, after
    /// releasing the lock, gets the G to run from [`Self::globrunq_fresh`].
    fn globrunqget(&self, l: &mut Locked, p: &PHandle, max: usize) -> Option<Global> {
        if !l.fresh.is_empty() {
            l.fresh_skips += 1;
            if l.global.is_empty() || l.fresh_skips >= GLOBAL_CHECK_INTERVAL {
                l.fresh_skips = 0;
                let n = self.global_batch(l.fresh.len(), max);
                p.local().glob_batch.borrow_mut().extend(l.fresh.drain(..n));
                l.fresh_popped += n as u64;
                if l.fresh.is_empty() && l.fresh.capacity() > GLOBAL_KEEP {
                    // A burst of spawns from a plain thread can queue hundreds of thousands
                    // of Gs: give the peak back once drained.
                    l.fresh = VecDeque::with_capacity(GLOBAL_KEEP);
                }
                self.nglobal
                    .store(l.global.len() + l.fresh.len(), Ordering::Relaxed);
                return Some(Global::Fresh);
            }
        }
        let len = l.global.len();
        if len == 0 {
            return None;
        }
        let n = self.global_batch(len, max);
        let g = l.global.pop_front();
        for _ in 1..n {
            match l.global.pop_front() {
                Some(x) => p.local().runq.push(x),
                None => break,
            }
        }
        self.nglobal
            .store(l.global.len() + l.fresh.len(), Ordering::Relaxed);
        g.map(Global::G)
    }

    /// Go's batch size for a global queue of `len`: min(len, len / nprocs + 1, LOCAL_CAP / 2,
    /// max if nonzero).
    #[inline]
    fn global_batch(&self, len: usize, max: usize) -> usize {
        let n = len.min(len / self.nprocs() + 1).min(LOCAL_CAP / 2);
        if max > 0 {
            n.min(max)
        } else {
            n
        }
    }

    /// After [`Self::globrunqget`] returned `Fresh`, without the lock: gives the batch records
    /// from `p`'s cache, returns the first and queues the rest on `p`, in order.
    fn globrunq_fresh(&self, p: &PHandle) -> GRef {
        let local = p.local();
        let mut batch = std::mem::take(&mut *local.glob_batch.borrow_mut());
        let mut first = None;
        for f in batch.drain(..) {
            let FreshG {
                id,
                entry,
                site,
                extra,
            } = f;
            let (name, size, reserved, parent) = match extra {
                Some(x) => (x.name, x.stack_size, x.stack_reserved, x.parent),
                None => (None, self.cfg.stack_size, false, 0),
            };
            let spawn = crate::g::SpawnInfo { site, parent };
            let mut g = GRef::alloc(
                Some(&mut local.gfree.borrow_mut()),
                id,
                name,
                spawn,
                size,
                entry,
            );
            g.owned().stack_reserved = reserved;
            g.set_status(GStatus::Runnable);
            match first {
                None => first = Some(g),
                Some(_) => local.runq.push(g),
            }
        }
        // Keep the buffer's allocation for the next batch.
        *local.glob_batch.borrow_mut() = batch;
        first.unwrap_or_else(|| fatal!("globrunq_fresh without a batch"))
    }

    /// Calls `f(id, name, spawn site, parent)` for each G queued without a record (see
    /// [`FreshG`]), oldest first, holding `lock` for at most `g::WALK_CHUNK` entries at a time
    /// (the dump). Entries taken meanwhile are skipped, not repeated.
    pub(crate) fn for_each_fresh(
        &self,
        mut f: impl FnMut(u64, Option<std::sync::Arc<str>>, Option<crate::g::Site>, u64),
    ) {
        let mut next: u64 = 0;
        loop {
            let l = self.lock.lock();
            let head = l.fresh_popped;
            let at = next.max(head);
            let i = (at - head) as usize;
            if i >= l.fresh.len() {
                return;
            }
            let end = l.fresh.len().min(i + crate::g::WALK_CHUNK);
            for e in l.fresh.range(i..end) {
                let (name, parent) = e
                    .extra
                    .as_ref()
                    .map_or((None, 0), |x| (x.name.clone(), x.parent));
                f(e.id, name, e.site, parent);
            }
            next = head + end as u64;
        }
    }

    /// [`Self::globrunqget`] for `find_runnable`, taking and releasing the lock itself.
    #[inline]
    fn take_global(&self, p: &PHandle, max: usize) -> Option<GRef> {
        let mut l = self.lock.lock();
        let got = self.globrunqget(&mut l, p, max);
        drop(l);
        got.map(|g| self.global_g(g, p))
    }

    /// What [`Self::globrunqget`] took, as the G to run (call without the lock).
    #[inline]
    pub(crate) fn global_g(&self, got: Global, p: &PHandle) -> GRef {
        match got {
            Global::G(g) => g,
            Global::Fresh => self.globrunq_fresh(p),
        }
    }

    // ---- making Gs runnable --------------------------------------------------------------

    /// Makes `g` runnable (Go's `ready`/`goready`): into the current P's runnext if this thread
    /// is an M holding a P (so the readied G runs next and inherits the time slice), else into
    /// the global queue; then wakes an M if a P is idle and nobody spins.
    pub(crate) fn ready_g(&'static self, mut g: GRef, next: bool) {
        g.set_status(GStatus::Runnable);
        crate::metrics::mark_runnable(&mut g);
        if crate::exectrace::on() {
            trace_ready(&g);
        }
        // A synctest bubble's G goes to its bubble's run set, never a P's (bubble/mod.rs,
        // "Routing"): one load of the record being readied.
        if g.bubble_key() != 0 {
            return crate::bubble::ready(g);
        }
        let mut slot = Some(g);
        let stealable = with_current_p(|shared, local| {
            let g = slot.take().unwrap();
            // Into runnext: it runs next on this core, so start loading its frames now (only
            // here: a readier without a P puts it on the global queue, for any core), unless it
            // parked on this P a few switches ago and is still in its cache.
            if next {
                let at = g.parked_sp();
                if !local.parked_recently(at) {
                    Coro::prefetch_stack(at);
                }
            }
            self.runqput(shared, local, g, next)
        });
        let queued = stealable.is_some();
        match slot {
            None => {
                // S1 for a tail push: the runnext swap is SeqCst already, a deque push is only
                // Release, so order it before the loads in S2.
                if !next {
                    fence(Ordering::SeqCst);
                }
            }
            Some(g) => {
                debug_assert!(!queued);
                self.global_put(g);
            }
        }
        if stealable == Some(true) {
            self.backoff.poke();
        }
        self.wakep();
    }

    /// Wakes the thieves waiting in a runnext back-off, for work they would not see otherwise
    /// until the wait ends: a new timer (a waiting thief runs none), a G parking on a socket
    /// (a waiting thief polls nothing).
    pub(crate) fn poke_thieves(&self) {
        self.backoff.poke();
    }

    /// Starts one more M spinning if a P is idle and no M is spinning (Go's `wakep`; steps S2
    /// and S3 of the submit recipe).
    pub(crate) fn wakep(&'static self) {
        // S2.
        if self.npidle.load(Ordering::SeqCst) == 0 || self.nmspinning.load(Ordering::SeqCst) != 0 {
            return;
        }
        // S3: be conservative, one new spinner at a time.
        if self
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let mut l = self.lock.lock();
        if l.idle_m.is_empty() && crate::netpoll::break_poller() {
            // No idle M, but one is blocked in the netpoller: it takes the idle P itself.
            drop(l);
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        match self.pidleget(&mut l) {
            Some(p) => {
                drop(l);
                self.startm(p, true, None);
            }
            None => {
                // Nobody to run it on right now: ask an M about to release its P to spin
                // instead (the "delicate dance").
                self.needspinning.store(true, Ordering::SeqCst);
                drop(l);
                self.nmspinning.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    // ---- P and M lists -------------------------------------------------------------------

    fn pidleget(&self, l: &mut MutexGuard<'_, Locked>) -> Option<PHandle> {
        let p = l.idle_p.pop()?;
        self.npidle.fetch_sub(1, Ordering::SeqCst);
        self.needspinning.store(false, Ordering::SeqCst);
        Some(p)
    }

    /// Gives P `p` up (its queues empty): onto the idle list, or, if `set_maxprocs` removed it
    /// meanwhile (`RETIRING`), it dies here instead ("Resizing the Ps").
    fn pidleput(&self, l: &mut MutexGuard<'_, Locked>, p: PHandle) {
        if p.shared().life.load(Ordering::Relaxed) == crate::p::RETIRING {
            self.kill_p(l, p);
            return;
        }
        l.idle_p.push(p.make_idle());
        // T1.
        self.npidle.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs `p` on an idle M, or a new one (Go's `startm`). With `g`, the M is the one locked to
    /// `g` and must run it (see `startlockedm`); otherwise any idle M will do.
    pub(crate) fn startm(&'static self, p: PHandle, spinning: bool, g: Option<GRef>) {
        let m = {
            let mut l = self.lock.lock();
            let m = l.idle_m.pop();
            if m.is_some() {
                self.nmidle.fetch_sub(1, Ordering::Relaxed);
            }
            m
        };
        match m {
            Some(m) => m.wake(Wakeup { p, spinning, g }),
            None => self.newm(Wakeup { p, spinning, g }),
        }
    }

    fn newm(&'static self, w: Wakeup) {
        let live = self.mlive.fetch_add(1, Ordering::Relaxed) + 1;
        if live > self.cfg.maxthreads {
            fatal!(
                "program exceeds {}-thread limit (GORT_MAXTHREADS): {} Gs are in blocking calls \
                 or locked to threads; raise GORT_MAXTHREADS or bound the concurrency of \
                 blocking work",
                self.cfg.maxthreads,
                self.nsyscall.load(Ordering::Relaxed)
            );
        }
        let id = self.mcount.fetch_add(1, Ordering::Relaxed) + 1;
        // Leaked: an M's shared part lives for the process (Go never frees Ms either), so
        // `&'static MShared` can be kept in lists and thread-locals without reference counts.
        let m: &'static MShared = Box::leak(Box::new(MShared::new(id)));
        self.allm.lock().push(m);
        // Seam (docs/loom.md): under loom an M is a model thread running a bounded loop that
        // "executes" a G by dequeuing it, instead of the endless `m_main`.
        #[cfg(loom)]
        let spawned = model::spawn_m(self, m, w, None);
        #[cfg(not(loom))]
        let spawned = crate::loom::spawn_thread(format!("gort-m{id}"), move || m_main(self, m, w));
        if let Err(e) = spawned {
            fatal!("failed to create an OS thread for M{id}: {e}; the system is out of threads or memory");
        }
    }

    /// Gives a P away (Go's `handoffp`): to a new or idle M if there is work for it or nobody
    /// else is looking for work; otherwise to the idle list.
    pub(crate) fn handoffp(&'static self, p: PHandle) {
        if p.shared().retiring() {
            let Some(p) = self.retire_p(p) else {
                return;
            };
            return self.handoffp(p);
        }
        if p.shared().has_work() || self.nglobal.load(Ordering::Relaxed) > 0 {
            self.startm(p, false, None);
            return;
        }
        if self.nmspinning.load(Ordering::SeqCst) + self.npidle.load(Ordering::SeqCst) == 0
            && self
                .nmspinning
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            self.needspinning.store(false, Ordering::SeqCst);
            self.startm(p, true, None);
            return;
        }
        let mut l = self.lock.lock();
        if !l.global.is_empty() || !l.fresh.is_empty() {
            drop(l);
            self.startm(p, false, None);
            return;
        }
        self.pidleput(&mut l, p);
    }

    fn become_spinning(&self) {
        with_m(|m| {
            m.spinning.set(true);
            if let Some(ms) = m.m.get() {
                ms.spinning.store(true, Ordering::Relaxed);
            }
        });
        self.nmspinning.fetch_add(1, Ordering::SeqCst);
        self.needspinning.store(false, Ordering::SeqCst);
    }

    /// A spinning M found work: stop spinning and, since we may have been the last spinner, let
    /// another M look for the rest (Go's `resetspinning`).
    fn reset_spinning(&'static self) {
        let was = with_m(|m| {
            let was = m.spinning.replace(false);
            if let Some(ms) = m.m.get() {
                ms.spinning.store(false, Ordering::Relaxed);
            }
            was
        });
        if was {
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
            self.wakep();
        }
    }

    /// Parks this M (which holds no P) until someone hands it one (Go's `stopm`). Returns a G
    /// to run at once when the M was woken for its locked G, and `Err` when the M has been idle
    /// for [`M_IDLE_EXIT`] beyond the floor and must exit.
    fn stopm(&'static self) -> Result<Option<GRef>, ()> {
        let m = current_m();
        crate::m::release_caches(); // no pool values or free task blocks wait on a parked M
        {
            let mut l = self.lock.lock();
            l.idle_m.push(m);
            self.nmidle.fetch_add(1, Ordering::Relaxed);
            // Seam: lets a loom model's shutdown wait for Ms to park, instead of spinning.
            #[cfg(loom)]
            model::on_m_idle();
        }
        let w = match m.sleep_timeout(M_IDLE_EXIT) {
            Some(w) => w,
            None => {
                let mut l = self.lock.lock();
                let floor = self.nprocs();
                let pos = l.idle_m.iter().position(|x| std::ptr::eq(*x, m));
                match pos {
                    Some(i) if l.idle_m.len() > floor => {
                        l.idle_m.swap_remove(i);
                        self.nmidle.fetch_sub(1, Ordering::Relaxed);
                        return Err(());
                    }
                    // Within the floor, or a waker already took us off the list and its wake-up
                    // is on its way: wait for it.
                    _ => {
                        drop(l);
                        m.sleep()
                    }
                }
            }
        };
        Ok(self.acquire(w))
    }

    /// Installs a hand-over (`Wakeup`) on the current M; returns the G it carries, if any.
    fn acquire(&self, w: Wakeup) -> Option<GRef> {
        let id = current_m().id;
        set_p(PSlot::Owned(w.p.adopt(id)));
        if w.spinning {
            // The waker counted us in nmspinning already.
            with_m(|l| l.spinning.set(true));
            current_m().spinning.store(true, Ordering::Relaxed);
        }
        w.g
    }

    // ---- finding work --------------------------------------------------------------------

    /// Steals from other Ps: `STEAL_TRIES` rounds over all Ps in a random order; runnext only
    /// in the last round, after a back-off. Caller: a spinning M holding a P.
    fn steal_work(&self, p: &PHandle) -> Option<GRef> {
        let set = self.pset();
        let n = set.n;
        if n == 1 {
            return None;
        }
        let mut waited_long = false;
        // A second pass over the rounds if a poke cut a back-off short (new stealable work).
        for pass in 0..2 {
            let mut poked = false;
            'rounds: for round in 0..STEAL_TRIES {
                let last = round == STEAL_TRIES - 1;
                let r = fastrand();
                let start = r as usize % n;
                let stride = set.strides[(r >> 32) as usize % set.strides.len()];
                let mut retry = false;
                for i in 0..n {
                    let v = set.all[(start + i * stride) % n];
                    if v.id == p.id() {
                        continue;
                    }
                    match v.stealer.steal_into(&p.local().runq) {
                        Steal::Success(g) => {
                            crate::metrics::count(p.shared(), crate::metrics::Counter::Steals);
                            if crate::exectrace::on() {
                                crate::exectrace::steal(p.local(), p.id(), v.id, g.id());
                            }
                            return Some(g);
                        }
                        Steal::Retry => retry = true,
                        Steal::Empty => {}
                    }
                    let seen = v.runnext.load(Ordering::Acquire);
                    if last && !seen.is_null() {
                        match self.steal_runnext_after_backoff(v, seen, &mut waited_long) {
                            RunnextTake::Stole(g) => {
                                crate::metrics::count(p.shared(), crate::metrics::Counter::Steals);
                                if crate::exectrace::on() {
                                    crate::exectrace::steal(p.local(), p.id(), v.id, g.id());
                                }
                                return Some(g);
                            }
                            RunnextTake::Left => {}
                            RunnextTake::Poked => {
                                poked = true;
                                break 'rounds;
                            }
                        }
                    }
                }
                if !retry && last {
                    break;
                }
            }
            if !poked || pass == 1 {
                break;
            }
        }
        None
    }

    /// The last round's take of victim `v`'s runnext, which held `seen`.
    ///
    /// Its owner is probably about to run it (the G it runs readied it and is about to block),
    /// so first back off, as Go does (usleep(3)); then take it only if the owner has not taken
    /// its runnext meanwhile (`runnext_taken`) and it is still the same G.
    ///
    /// **Deviation from Go**, which checks only the pointer and always waits 3 µs. In a
    /// hand-off pattern (a ping-pong pair: the two Gs take turns in runnext) the pointer
    /// matches again about half the time, so Go's thief splits the pair across Ps, and with
    /// or without that, every waiting thief soon gives up its P and parks, to be woken by the
    /// pair's next ready: ~1,100 M wake-ups and ~470 migrations per 1,000,000 round trips on 2
    /// Ps (scratch counters). So: a P that took its runnext keeps it, and the next thief waits
    /// twice as long before trying that P (`PShared::steal_backoff_us`, up to
    /// [`STEAL_BACKOFF_MAX_US`]); a steal resets it. While a thief waits, work queued anywhere
    /// else pokes it awake ([`BackoffSleep`]), so only a G that sits in a busy P's runnext
    /// waits the longer back-off, at most once per change of pattern on that P.
    fn steal_runnext_after_backoff(
        &self,
        v: &PShared,
        seen: *mut G,
        waited_long: &mut bool,
    ) -> RunnextTake {
        use std::sync::atomic::Ordering::Relaxed as R;
        let taken = v.runnext_taken.load(Ordering::Relaxed);
        if v.status() == crate::p::PStatus::Running {
            // At most one long wait per steal_work call (the last round may meet several Ps
            // with a runnext); the others wait Go's 3 µs.
            let us = if *waited_long {
                STEAL_BACKOFF_MIN_US
            } else {
                v.steal_backoff_us.load(R)
            };
            *waited_long |= us > STEAL_BACKOFF_MIN_US;
            if self.backoff.sleep(us) {
                return RunnextTake::Poked;
            }
        }
        if v.runnext_taken.load(Ordering::Relaxed) != taken {
            // The owner ran what we saw (or moved it to its queue's tail, where the steal of
            // the next round or thief finds it).
            let us = v.steal_backoff_us.load(R);
            v.steal_backoff_us
                .store((us * 2).min(STEAL_BACKOFF_MAX_US), R);
            return RunnextTake::Left;
        }
        match v.steal_runnext(seen) {
            Some(g) => {
                v.steal_backoff_us.store(STEAL_BACKOFF_MIN_US, R);
                RunnextTake::Stole(g)
            }
            None => RunnextTake::Left,
        }
    }

    /// Finds a runnable G for this M (Go's `findRunnable`); parks the M while there is none.
    /// Returns the G and whether it inherits the current time slice. Called with a P; returns
    /// with one. `Err` when the M must exit (idle too long).
    fn find_runnable(&'static self) -> Result<(GRef, bool), ()> {
        'top: loop {
            let mut p = take_owned_p();
            if p.shared().retiring() {
                // `set_maxprocs` removed this P: its Gs go to the global queue and this M
                // finds another P or stops ("Resizing the Ps").
                match self.retire_p(p) {
                    Some(kept) => p = kept,
                    None => {
                        if with_m(|m| m.spinning.replace(false)) {
                            current_m().spinning.store(false, Ordering::Relaxed);
                            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
                            self.wakep();
                        }
                        if !self.try_acquire_idle_p() {
                            if let Some(g) = self.stopm()? {
                                fatal!(
                                    "M{} woken with G{} it is not locked to",
                                    current_m().id,
                                    g.id()
                                );
                            }
                        }
                        continue 'top;
                    }
                }
            }
            if crate::exectrace::active() {
                crate::exectrace::round(p.local(), p.id());
            }
            // 0: this P's due timers (Go's checkTimers); the Gs they ready land in runnext, so
            // the P goes back in the slot while they run.
            if let Some(now) = crate::timer::local_due(p.id()) {
                let pid = p.id();
                set_p(PSlot::Owned(p));
                crate::timer::check_local(pid, now);
                p = take_owned_p();
            }
            // 1-3: every 61st round the global queue first; then runnext and the local queue.
            if p.local()
                .schedtick
                .get()
                .is_multiple_of(GLOBAL_CHECK_INTERVAL)
                && self.nglobal.load(Ordering::Relaxed) > 0
            {
                if let Some(g) = self.take_global(&p, 1) {
                    set_p(PSlot::Owned(p));
                    return Ok((g, false));
                }
            }
            if let Some(r) = self.runqget(&p) {
                set_p(PSlot::Owned(p));
                return Ok(r);
            }
            // 4: the global queue, in a batch.
            if self.nglobal.load(Ordering::Relaxed) > 0 {
                if let Some(g) = self.take_global(&p, 0) {
                    set_p(PSlot::Owned(p));
                    return Ok((g, false));
                }
            }
            // 5: a non-blocking netpoll, if Gs wait on sockets and no M is blocked in it.
            set_p(PSlot::Owned(p));
            if let Some(g) = crate::netpoll::poll_ready() {
                return Ok((g, false));
            }
            // 6: steal, if we are a spinner or may become one.
            let spinning = with_m(|m| m.spinning.get());
            let busy = self.nprocs() - self.npidle.load(Ordering::SeqCst);
            if spinning || 2 * self.nmspinning.load(Ordering::SeqCst) < busy {
                if !spinning {
                    self.become_spinning();
                }
                // Timers of every P (those of idle Ps have no M to run them).
                if crate::timer::check_all() > 0 {
                    continue 'top;
                }
                let p = take_owned_p();
                let stolen = self.steal_work(&p);
                set_p(PSlot::Owned(p));
                if let Some(g) = stolen {
                    return Ok((g, false));
                }
            }
            // 7: nothing found: give the P back (T1) unless the global queue has work.
            let p = take_owned_p();
            let mut l = self.lock.lock();
            if let Some(got) = self.globrunqget(&mut l, &p, 0) {
                drop(l);
                let g = self.global_g(got, &p);
                set_p(PSlot::Owned(p));
                return Ok((g, false));
            }
            let spinning = with_m(|m| m.spinning.get());
            if !spinning && self.needspinning.load(Ordering::SeqCst) {
                // The delicate dance: a readier found no idle P; look again as a spinner.
                drop(l);
                set_p(PSlot::Owned(p));
                self.become_spinning();
                continue 'top;
            }
            self.pidleput(&mut l, p);
            drop(l);
            if spinning {
                // T2.
                with_m(|m| m.spinning.set(false));
                current_m().spinning.store(false, Ordering::Relaxed);
                self.nmspinning.fetch_sub(1, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                // T3: re-check the global queue and every P. The global queue is re-checked under
                // `lock`, as Go does: a push there is ordered by the lock, not by a SeqCst
                // operation, so an unlocked read of `nglobal` may miss it while the readier's S2
                // still sees us spinning (a lost wakeup; loom model 2 found it).
                // (`gort_mutate="no_t3_recheck"` drops T3: model 2 must then fail; docs/loom.md.)
                // (`gort_mutate="t3_unlocked_global"` restores the unlocked read.)
                #[cfg(not(any(
                    gort_mutate = "no_t3_recheck",
                    gort_mutate = "t3_unlocked_global"
                )))]
                let recheck = {
                    let l = self.lock.lock();
                    !l.global.is_empty() || !l.fresh.is_empty()
                } || self.active_ps().iter().any(|p| p.has_work());
                #[cfg(gort_mutate = "t3_unlocked_global")]
                let recheck = self.nglobal.load(Ordering::SeqCst) > 0
                    || self.active_ps().iter().any(|p| p.has_work());
                #[cfg(gort_mutate = "no_t3_recheck")]
                let recheck = false;
                if recheck {
                    let mut l = self.lock.lock();
                    if let Some(p) = self.pidleget(&mut l) {
                        drop(l);
                        set_p(PSlot::Owned(p.adopt(current_m().id)));
                        self.become_spinning();
                        continue 'top;
                    }
                }
            }
            // 8: block in the netpoller until the nearest timer (one M at a time), else park.
            // Either may last: hand this M's sync::Pool values to sysmon first (pool.rs).
            crate::sync::pool::m_release();
            match crate::netpoll::block(self) {
                crate::netpoll::Polled::Run(g) => return Ok((g, false)),
                crate::netpoll::Polled::Again => continue 'top,
                crate::netpoll::Polled::Stop => {}
            }
            if let Some(g) = self.stopm()? {
                // Only a locked M is woken with a G, and this M is not locked.
                fatal!(
                    "M{} woken with G{} it is not locked to",
                    current_m().id,
                    g.id()
                );
            }
        }
    }

    // ---- running Gs ----------------------------------------------------------------------

    /// Runs `g` on this M until it yields, parks or finishes (Go's `execute` + the tail of
    /// `gopark`/`goexit`). Called with a P; may return without one (the P was retaken from a
    /// blocking call or a hog, or handed to the M `g` is locked to).
    fn execute(&'static self, me: &'static MShared, mut g: GRef, mut inherit: bool) {
        loop {
            // A G locked to another M runs only there (Go's startlockedm).
            let locked = g.locked_m.load(Ordering::Relaxed);
            if locked != 0 && locked != me.id + 1 {
                self.startlockedm(take_owned_p(), g, locked - 1);
                return;
            }
            g.set_status(GStatus::Running);
            g.set_m(Some(me.id));
            if g.owned().coro.is_none() {
                let p = take_owned_p();
                let bound = self.bind_stack(&mut g, &p);
                set_p(PSlot::Owned(p));
                if !bound {
                    // The G could not get a stack: it never runs; its task tells the joiner why.
                    self.gdestroy(g);
                    return;
                }
            }
            let gp: *const G = &*g;
            me.curg.store(g.id(), Ordering::Relaxed);
            // The execution trace's slice start (0: not tracing).
            let t0 = if crate::exectrace::on() {
                crate::metrics::stamp()
            } else {
                0
            };
            // A sampled ready-to-run delay (metrics.rs), while the P is still in this M's slot
            // (owner-only counters). Only on sampled turns, and outside the closure below, which
            // then stays small enough for `LocalKey::with` to inline (callgrind chan_pingpong:
            // a call per switch less).
            if g.owned().runnable_at != 0 {
                with_m_sched(|m| {
                    if let PSlot::Owned(p) = &*m.p.borrow() {
                        crate::metrics::record_run(p.shared(), &mut g);
                    }
                });
            }
            // The M's state before the switch and after it, inline (`with_m_sched`: this frame
            // is the M's and never changes threads): the P goes from the slot into the G's
            // hands, and back.
            let shared = with_m_sched(|m| {
                let mut slot = m.p.borrow_mut();
                let p = match std::mem::replace(&mut *slot, PSlot::None) {
                    PSlot::Owned(h) => h,
                    _ => fatal!("execute ran without an owned P"),
                };
                if !inherit {
                    let t = p.local().schedtick.get() + 1;
                    p.local().schedtick.set(t);
                    p.shared().schedtick.store(t, Ordering::Relaxed);
                }
                let shared = p.shared();
                m.curg.set(gp);
                *slot = PSlot::InG(p.start_g());
                shared
            });
            // The stack shrinking's gate (stack.rs): one load, taken only while a pass holds
            // this G's stack. The `Running` store above is the other half of its handshake.
            crate::stack::shrink_gate(gp);
            let r = g.owned().coro.as_mut().unwrap().resume(gp);
            let parked_at = match &r {
                Resumed::Suspended(Suspend::Park(f)) => f.addr(),
                _ => 0,
            };
            g.set_parked_sp(parked_at);
            me.curg.store(0, Ordering::Relaxed);
            g.set_m(None);
            let gid = g.id();
            let (has_p, mut locked_here) = with_m_sched(|m| {
                m.curg.set(std::ptr::null());
                let mut slot = m.p.borrow_mut();
                // Take the P back, unless sysmon retook it meanwhile.
                let p = match std::mem::replace(&mut *slot, PSlot::None) {
                    PSlot::InG(r) => r.finish(),
                    PSlot::Owned(h) => Some(h),
                    PSlot::None => None,
                };
                let has_p = p.is_some();
                if let Some(p) = p {
                    p.local().note_park(parked_at);
                    *slot = PSlot::Owned(p);
                }
                (has_p, m.lockedg.get() == gid)
            });
            // Unwinding Gs keep their M: this is the same OS thread the G just left, so its
            // panic state is this thread's (one relaxed load while nobody panics).
            if std::thread::panicking() {
                locked_here = pin_unwinding(me, &g);
            } else if locked_here && g.lock_count.load(Ordering::Relaxed) & PIN_UNWIND != 0 {
                locked_here = unpin_unwound(me, &g);
            }
            if !has_p && me.blocked_handoff.load(Ordering::Relaxed) {
                // Back from a call sysmon caught blocking without `gort::blocking`: give back
                // its place in the pool's count (sysmon.rs).
                if me.blocked_handoff.swap(false, Ordering::Relaxed) {
                    self.nunwrapped.fetch_sub(1, Ordering::Relaxed);
                }
            }
            if t0 != 0 {
                self.trace_slice(me, &g, shared, has_p, t0, &r);
            }
            // Every switch bumps one counter of the P, if this M still owns it: a park that
            // waits its exact park count, anything else `switches` (PShared::switch_count).
            let bump_switches = || {
                if has_p {
                    // A plain load and store, not a locked RMW: we own the P.
                    let sw = shared.switches.load(Ordering::Relaxed);
                    shared.switches.store(sw.wrapping_add(1), Ordering::Relaxed);
                }
            };
            match r {
                Resumed::Finished => {
                    bump_switches();
                    let wiring = g.lock_count.load(Ordering::Relaxed);
                    self.gdestroy(g);
                    if locked_here {
                        // Go: a G that exits inside lock_os_thread terminates its thread (its
                        // state may be tainted). A pin alone (Builder::pinned, unwinding) does
                        // not: the M goes back to running any G.
                        with_m(|m| m.lockedg.set(0));
                        me.lockedg.store(0, Ordering::Relaxed);
                        if wiring & LOCK_COUNT_MASK != 0 {
                            with_m(|m| m.exiting.set(true));
                        }
                    }
                    return;
                }
                Resumed::Suspended(Suspend::Yield) => {
                    bump_switches();
                    // Go's Gosched: the G goes to the global queue, so any P may pick it up
                    // (on the local tail it could wait behind Gs that block their Ms).
                    g.set_status(GStatus::Runnable);
                    crate::metrics::mark_runnable(&mut g);
                    if has_p && !locked_here {
                        match self.yield_swap(g) {
                            Ok((next, inh)) => {
                                g = next;
                                inherit = inh;
                                continue;
                            }
                            Err(back) => g = back,
                        }
                    }
                    self.global_put(g);
                    if locked_here || !has_p {
                        self.wakep();
                    }
                    return;
                }
                Resumed::Suspended(Suspend::ToGlobal) => {
                    bump_switches();
                    g.set_status(GStatus::Runnable);
                    crate::metrics::mark_runnable(&mut g);
                    self.global_put(g);
                    self.wakep();
                    return;
                }
                Resumed::Suspended(Suspend::Park(f)) => {
                    g.set_status(GStatus::Waiting);
                    // SAFETY: `f` was carried by the suspend that just returned control to us,
                    // and the G is suspended in it; we call it once, before resuming anything.
                    match unsafe { f.call(g) } {
                        None => {
                            // A park that waits (counted exactly: we own the P, if any).
                            if has_p {
                                crate::metrics::count(shared, crate::metrics::Counter::Parks);
                            } else {
                                crate::metrics::count_global(crate::metrics::Counter::Parks);
                            }
                            return;
                        }
                        Some(back) => {
                            // The park was cancelled: run the G on, in the same slice.
                            bump_switches();
                            g = back;
                            inherit = true;
                            if !has_p {
                                g.set_status(GStatus::Runnable);
                                self.global_put(g);
                                self.wakep();
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Gosched's round without the trip through `m_main` and `find_runnable` (their steps 1-4
    /// inline): when this P is not retiring, has no due timer and no trace is recording, `g`
    /// goes on the global queue's tail and the next G comes from this P's runnext or local
    /// queue (`runqget`), or else off the global queue's head in the same critical section as
    /// the put (Go's `globrunqget` batch, as `find_runnable` takes it): one lock round instead
    /// of two. Every `GLOBAL_CHECK_INTERVAL`-th round takes the long way, so `m_main`'s
    /// per-round checks (the release epoch of per-M caches) and the fairness check of the
    /// global queue still run while Gs only yield. `Err(g)`: not taken, `g` untouched.
    fn yield_swap(&'static self, g: GRef) -> Result<(GRef, bool), GRef> {
        if g.bubble_key() != 0 || crate::exectrace::active() {
            return Err(g);
        }
        let p = with_m_sched(
            |m| match std::mem::replace(&mut *m.p.borrow_mut(), PSlot::None) {
                PSlot::Owned(h) => h,
                _ => fatal!("yield_swap without an owned P"),
            },
        );
        let long_way = p
            .local()
            .schedtick
            .get()
            .is_multiple_of(GLOBAL_CHECK_INTERVAL)
            || p.shared().retiring()
            || crate::timer::local_due(p.id()).is_some();
        let r = if long_way {
            Err(g)
        } else if self.nprocs() == 1
            && self.nglobal.load(Ordering::Relaxed) == 0
            && p.local().runq.len() < LOCAL_CAP
        {
            // One P and an empty global queue: the global queue's tail and this P's queue's
            // tail are the same place in the order this P runs Gs in (`find_runnable` serves
            // its own queue first, and there is no other P to take from the global queue), so
            // the G goes to the local tail, without the lock. A G put on the global queue
            // meanwhile by another thread runs after it either way.
            match self.runqget(&p) {
                Some(next) => {
                    p.local().runq.push(g);
                    Ok(next)
                }
                None => Ok((g, false)),
            }
        } else if let Some(next) = self.runqget(&p) {
            self.global_put(g);
            Ok(next)
        } else {
            let mut l = self.lock.lock();
            l.global.push_back(g);
            let got = self.globrunqget(&mut l, &p, 0);
            let more = !l.global.is_empty() || !l.fresh.is_empty();
            drop(l);
            if more {
                // As `global_put`: a thief in its back-off may take what is left.
                self.backoff.poke();
            }
            match got {
                Some(got) => Ok((self.global_g(got, &p), false)),
                None => fatal!("the global queue lost the G just put there"),
            }
        };
        with_m_sched(|m| *m.p.borrow_mut() = PSlot::Owned(p));
        r
    }

    /// Runs the synctest bubble G `g` on this bubble thread (`me`), which holds the bubble's
    /// private P: `execute` as an M runs a G (bubble/mod.rs, `run_loop`).
    pub(crate) fn execute_g(&'static self, me: &'static MShared, g: GRef) {
        self.execute(me, g, false);
    }

    /// The execution trace's run slice of `g` (tracing only, so off the hot path), ended by
    /// `r` (a park carries its reason in its `ParkFn`: the G's record gets it only in the
    /// callback, after which the G is no longer ours to read).
    #[cold]
    fn trace_slice(
        &self,
        me: &MShared,
        g: &GRef,
        shared: &PShared,
        has_p: bool,
        t0: u64,
        r: &Resumed,
    ) {
        use crate::exectrace::SliceEnd;
        let end = if !has_p {
            SliceEnd::Preempted
        } else {
            match r {
                Resumed::Finished => SliceEnd::Exit,
                Resumed::Suspended(Suspend::Yield) => SliceEnd::Yield,
                Resumed::Suspended(Suspend::ToGlobal) => SliceEnd::Preempted,
                Resumed::Suspended(Suspend::Park(f)) => SliceEnd::Park(f.reason()),
            }
        };
        with_owned_p_opt(|p| {
            crate::exectrace::slice(p.map(|p| p.local()), shared.id, me.id, g.id(), t0, end)
        });
    }

    /// Hands `p` and the runnable `g` to the M `g` is locked to (Go's `startlockedm`); the
    /// calling M is left without a P.
    fn startlockedm(&'static self, p: PHandle, g: GRef, m_id: usize) {
        let m = self
            .allm
            .lock()
            .iter()
            .find(|m| m.id == m_id)
            .cloned()
            .unwrap_or_else(|| fatal!("G{} is locked to M{m_id}, which does not exist", g.id()));
        m.wake(Wakeup {
            p,
            spinning: false,
            g: Some(g),
        });
    }

    /// Gives a G its stack on first run. On failure (the stack allocator's error: out of memory,
    /// or the mapping budget exhausted) the G is destroyed without running; its task tells the
    /// joiner, and the message says what to do.
    fn bind_stack(&self, g: &mut GRef, p: &PHandle) -> bool {
        let size = g.stack_size();
        let r = crate::stack::alloc(size, Some(&mut p.local().stacks.borrow_mut()));
        if std::mem::take(&mut g.owned().stack_reserved) {
            crate::stack::unreserve();
        }
        match r {
            Ok(stack) => {
                let entry = g.owned().entry.take().expect("G without an entry");
                g.owned().coro = Some(Coro::new(stack, entry));
                true
            }
            Err(e) => {
                crate::join::record_spawn_failure(g, e);
                false
            }
        }
    }

    /// Frees a dead G: its stack back to the P's cache, its record to the P's free list (or the
    /// global pools when this M has no P).
    fn gdestroy(&self, mut g: GRef) {
        g.set_status(GStatus::Dead);
        let coro = g.owned().coro.take();
        g.owned().entry = None;
        let mut slot = Some(g);
        let mut coro = coro;
        with_owned_p_opt(|p| {
            if let Some(p) = p {
                if let Some(c) = coro.take() {
                    crate::stack::free(c.into_stack(), Some(&mut p.local().stacks.borrow_mut()));
                }
                p.local().gfree.borrow_mut().put(slot.take().unwrap());
            }
        });
        if let Some(c) = coro {
            crate::stack::free(c.into_stack(), None);
        }
        drop(slot);
    }

    /// Creates a G running `entry` and makes it runnable (Go's `newproc`). From a G it goes into
    /// the current P's runnext; from a plain thread, into the global queue.
    pub(crate) fn spawn_g(
        &'static self,
        name: Option<std::sync::Arc<str>>,
        stack_size: usize,
        stack_reserved: bool,
        entry: crate::g::Entry,
        site: crate::g::Site,
    ) -> u64 {
        crate::check_not_forked();
        self.ngoroutine.fetch_add(1, Ordering::Relaxed);
        let mut args = Some((name, entry));
        let on_p = with_current_p_g(|shared, local, parent| {
            let (name, entry) = args.take().unwrap();
            let id = local.goids.borrow_mut().next();
            crate::metrics::count(shared, crate::metrics::Counter::Created);
            let spawn = crate::g::SpawnInfo {
                site: Some(site),
                parent,
            };
            let mut g = GRef::alloc(
                Some(&mut local.gfree.borrow_mut()),
                id,
                name,
                spawn,
                stack_size,
                entry,
            );
            g.owned().stack_reserved = stack_reserved;
            crate::metrics::mark_runnable(&mut g);
            if crate::exectrace::on() {
                crate::exectrace::create(Some(local), Some(shared.id), id, parent, g.name());
            }
            // Spawned on a synctest bubble's private P: a member of that bubble.
            let bubbled = crate::bubble::is_bubble_p(shared);
            if bubbled {
                crate::bubble::adopt(&mut g);
            }
            (g, bubbled)
        });
        if let Some((g, bubbled)) = on_p {
            let id = g.id();
            self.ready_g(g, true);
            if bubbled {
                // A spawn is one of a bubble's preemption points.
                crate::bubble::preempt_point();
            }
            return id;
        }
        // A bubble's G without its P at hand (inside `blocking`): still a member.
        if crate::bubble::active() {
            let (name, entry) = args.take().unwrap();
            let mut entry = Some(entry);
            if let Some(id) = crate::bubble::spawn_outside_p(
                name.clone(),
                stack_size,
                stack_reserved,
                &mut entry,
                site,
            ) {
                return id;
            }
            args = Some((
                name,
                entry.expect("spawn_outside_p keeps the task when it declines"),
            ));
        }
        // Outside any P: queue it globally without a record (see `FreshG`).
        let (name, entry) = args.take().unwrap();
        let id = crate::g::goid_single();
        crate::metrics::count_global(crate::metrics::Counter::Created);
        let parent = crate::current_goid();
        let extra =
            (name.is_some() || stack_size != self.cfg.stack_size || stack_reserved || parent != 0)
                .then(|| {
                    Box::new(FreshExtra {
                        name,
                        stack_size,
                        stack_reserved,
                        parent,
                    })
                });
        if crate::exectrace::on() {
            let name = extra.as_ref().and_then(|x| x.name.as_ref());
            crate::exectrace::create(None, None, id, parent, name);
        }
        let mut l = self.lock.lock();
        l.fresh.push_back(FreshG {
            id,
            entry,
            site: Some(site),
            extra,
        });
        self.nglobal
            .store(l.global.len() + l.fresh.len(), Ordering::Relaxed);
        drop(l);
        self.backoff.poke();
        self.wakep();
        // A plain thread, or a G whose P is gone. Only this slow path pays for telling them
        // apart.
        let lost_p = crate::coro::on_g_stack();
        // A G that spawns in a long loop reaches no scheduling point, so sysmon may have handed
        // its P to another M (a CPU hog, sysmon.rs). Spawning is a safe point: rather than go on
        // without a P (every spawn then takes the global queue's lock and a fresh G record),
        // yield here, as Go's asynchronous preemption would, and continue once an M with a P
        // picks the G up again.
        if lost_p {
            crate::park::yield_now();
        }
        id
    }

    // ---- blocking calls (Go's entersyscall / exitsyscall) --------------------------------

    /// Marks the running G as in a blocking call: its P may be retaken by sysmon and run by
    /// another M while the call blocks. Returns false (the caller then makes a plain call, with
    /// no `exitsyscall`) on a plain thread and inside another blocking call.
    pub(crate) fn entersyscall(&self) -> bool {
        if !crate::coro::on_g_stack() || curg_in_syscall() {
            return false;
        }
        self.take_block_slot();
        crate::sysmon::nudge();
        let t0 = if crate::exectrace::on() {
            crate::metrics::stamp()
        } else {
            0
        };
        with_m(|m| {
            if let PSlot::InG(r) = &*m.p.borrow() {
                r.enter_syscall();
            }
            let g = m.curg.get();
            if !g.is_null() {
                set_curg_status(g, GStatus::Syscall);
            }
            m.syscall_t0.set(t0);
        });
        self.nsyscall.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Like `entersyscall`, but hands the P off at once (Go's `entersyscallblock`), for calls
    /// known to block for long.
    pub(crate) fn entersyscallblock(&'static self) -> bool {
        if !crate::coro::on_g_stack() || curg_in_syscall() {
            return false;
        }
        self.take_block_slot();
        let t0 = if crate::exectrace::on() {
            crate::metrics::stamp()
        } else {
            0
        };
        let released = with_m(|m| {
            let r = match &*m.p.borrow() {
                // A bubble's private P stays with its thread: the bubble's other Gs wait for
                // this one anyway (one M), and no other M may run them.
                PSlot::InG(r) if crate::bubble::is_bubble_p(r.shared()) => {
                    r.enter_syscall();
                    None
                }
                PSlot::InG(r) => r.release(),
                _ => None,
            };
            let g = m.curg.get();
            if !g.is_null() {
                set_curg_status(g, GStatus::Syscall);
            }
            m.syscall_t0.set(t0);
            r
        });
        self.nsyscall.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = released {
            self.handoffp(p);
        }
        true
    }

    /// The G left its blocking call: take its P back if nobody retook it (fast path), else any
    /// idle P, else queue the G globally and stop the M until there is a P for it (slow path).
    pub(crate) fn exitsyscall(&'static self) {
        self.nsyscall.fetch_sub(1, Ordering::Relaxed);
        let (fast, t0) = with_m(|m| {
            let ok = match &*m.p.borrow() {
                PSlot::InG(r) => r.exit_syscall(),
                _ => false,
            };
            let g = m.curg.get();
            if !g.is_null() {
                set_curg_status(g, GStatus::Running);
            }
            (ok, m.syscall_t0.replace(0))
        });
        if t0 != 0 {
            let m = current_m();
            crate::exectrace::syscall(m.id, m.curg.load(Ordering::Relaxed), t0, !fast);
        }
        if fast {
            // With our P back, a G waiting for the slot goes to its runnext.
            self.block_slots.release(false);
            return;
        }
        // Slow path: our P is gone (its token is stale).
        set_p(PSlot::None);
        let p = {
            let mut l = self.lock.lock();
            self.pidleget(&mut l)
        };
        if let Some(p) = p {
            set_p(PSlot::InG(RunningP::from_handle(p.adopt(current_m().id))));
            self.block_slots.release(false);
            return;
        }
        self.block_slots.release(false);
        crate::coro::suspend(Suspend::ToGlobal);
    }

    /// Takes a permit of the blocking pool, parking the G while `GORT_MAXBLOCKING` calls are in
    /// progress (a CAS when one is free). Caller: a G about to enter a blocking call.
    fn take_block_slot(&self) {
        if !self.block_slots.try_acquire() {
            self.block_slots
                .acquire(false, crate::g::WaitReason::BlockingPool);
        }
    }
}

// ---- Resizing the Ps (Go's procresize; `gort::set_maxprocs`) --------------------------------
//
// Go resizes the Ps with the world stopped. gort cannot stop a G that computes, so the resize
// is a protocol instead, under `Sched::lock`, with each P's `life` word (LIVE, RETIRING, DEAD):
//
// R1. (`resize`, under the lock) Growing: Ps `old..n` become LIVE; a new or DEAD one goes on
//     the idle list (`npidle += 1`), a RETIRING one (its M has not given it up yet) simply
//     stays with its M. Shrinking: Ps `n..old` on the idle list are taken off it and die at
//     once (their queues are empty: invariant 2 of p.rs); the others, held by Ms, become
//     RETIRING. Then the new `PSet` is published (Release): stealing, T3 and sysmon look only
//     at the live Ps from then on.
// R2. (the owner, at its next scheduling round: `find_runnable`'s top, `handoffp`, or
//     `pidleput`) An M holding a RETIRING P retires it (`retire_p`): takes its runnext and
//     queue, and under the lock, if the P is still RETIRING (a grow may have revived it: then
//     the M keeps it and puts the Gs back), moves them to the global queue, flushes the P's
//     stack and G-record caches to the global pools and marks it DEAD (`kill_p`); then pokes
//     and wakes (`wakep`) for the moved Gs, and finds another idle P or stops (`stopm`).
//     A G running on a removed P finishes its slice there (it keeps running until it
//     switches); a spawn or ready it makes lands in that P's runnext and moves with the rest.
//     A G in a blocking call on a removed P takes it back on the fast path and retires it at
//     its M's next round, or sysmon's retake hands it to `handoffp`, which retires it.
// Why nothing is lost: only the owner puts Gs into a P's queues, and the owner moves them
// out under the lock before the P dies; a thief that still steals from it (it read the old
// set) takes a G the normal way. The moved Gs are a global-queue submit (under the lock,
// then `wakep`), the recipe of the module essay. Loom model 8 (loom-tests/tests/resize.rs)
// checks R1/R2 against an M that keeps scheduling and a readier.

impl Sched {
    /// Sets the number of Ps to `n` (clamped to 1..=`env::MAX_PROCS`) and returns the old
    /// number (Go's `runtime.GOMAXPROCS(n)`; `n == 0` only reads it). Stops sysmon's following
    /// of the CPU limit, as a call to Go's does.
    pub(crate) fn set_maxprocs(&'static self, n: usize) -> usize {
        if n == 0 {
            return self.nprocs();
        }
        self.maxprocs_custom.store(true, Ordering::Relaxed);
        self.resize(n, false)
    }

    /// R1 (see above). With `auto`, sysmon following the CPU limit: skipped once the program
    /// set the count itself (checked under the lock, so no automatic change lands after a
    /// `set_maxprocs` returned).
    pub(crate) fn resize(&'static self, n: usize, auto: bool) -> usize {
        let n = n.clamp(1, crate::env::MAX_PROCS);
        let mut l = self.lock.lock();
        let old = self.pset();
        let was = old.n;
        if n == was || (auto && self.maxprocs_custom.load(Ordering::Relaxed)) {
            return was;
        }
        let mut all: Vec<&'static PShared> = old.all.to_vec();
        if n > was {
            for i in was..n {
                if i == all.len() {
                    all.push(make_p(i));
                }
                let p = all[i];
                if p.life.load(Ordering::Relaxed) == crate::p::RETIRING {
                    // Its M has not let go yet: it keeps it.
                    p.life.store(crate::p::LIVE, Ordering::Relaxed);
                } else {
                    // New, or DEAD: nobody holds a handle to it.
                    p.life.store(crate::p::LIVE, Ordering::Relaxed);
                    l.idle_p.push(p.initial_handle());
                    self.npidle.fetch_add(1, Ordering::SeqCst);
                }
            }
        } else {
            for (i, p) in all.iter().enumerate().take(was).skip(n) {
                p.life.store(crate::p::RETIRING, Ordering::Relaxed);
                if let Some(pos) = l.idle_p.iter().position(|h| h.id() == i) {
                    let h = l.idle_p.swap_remove(pos);
                    self.npidle.fetch_sub(1, Ordering::SeqCst);
                    self.kill_p(&mut l, h);
                }
            }
        }
        let set = Box::into_raw(Box::new(PSet::new(all.into_boxed_slice(), n)));
        #[cfg(loom)]
        self.psets.lock().push(set as usize);
        // Release: pairs with `pset`'s Acquire load.
        self.pset.store(set, std::sync::atomic::Ordering::Release);
        drop(l);
        crate::timer::procs_changed(n);
        crate::exectrace::procs(was, n);
        if n > was {
            self.wakep();
        }
        was
    }

    /// R2: the owner of P `p` retires it if it is still RETIRING (then `None`: the M holds no
    /// P), else gives it back (a grow revived it meanwhile).
    pub(crate) fn retire_p(&'static self, p: PHandle) -> Option<PHandle> {
        let mut gs = Vec::new();
        if let Some(g) = p.shared().take_runnext() {
            gs.push(g);
        }
        while let Some(g) = p.local().runq.pop() {
            gs.push(g);
        }
        let mut l = self.lock.lock();
        if p.shared().life.load(Ordering::Relaxed) != crate::p::RETIRING {
            drop(l);
            for g in gs {
                p.local().runq.push(g);
            }
            return Some(p);
        }
        let moved = !gs.is_empty();
        l.global.extend(gs);
        self.nglobal
            .store(l.global.len() + l.fresh.len(), Ordering::Relaxed);
        self.kill_p(&mut l, p);
        drop(l);
        if moved {
            self.backoff.poke();
            self.wakep();
        }
        None
    }

    /// A removed P with empty queues dies: its caches go to the global pools, its `life` is
    /// DEAD, and its handle is dropped (it is on no list). Caller holds the lock and the P.
    fn kill_p(&self, _l: &mut MutexGuard<'_, Locked>, p: PHandle) {
        let local = p.local();
        if !local.stacks.borrow().is_empty() {
            local.stacks.borrow_mut().drain_to_global();
        }
        local.gfree.borrow_mut().drain_to_global();
        *local.goids.borrow_mut() = Default::default();
        // A trace's events of this P would otherwise wait for a `stop` that no longer asks a
        // removed P (it flushes live Ps only).
        crate::exectrace::p_removed(local);
        p.shared().life.store(crate::p::DEAD, Ordering::Relaxed);
        let _dead = p.make_idle();
    }
}

// ---- thread-local P access -------------------------------------------------------------------

/// Takes whatever this M holds of a P out of its slot.
fn take_slot() -> PSlot {
    with_m(|m| std::mem::replace(&mut *m.p.borrow_mut(), PSlot::None))
}

pub(crate) fn set_p(s: PSlot) {
    with_m(|m| *m.p.borrow_mut() = s);
}

/// Takes the owned P out of the M's slot (scheduler context); fatal if the M has none.
pub(crate) fn take_owned_p() -> PHandle {
    with_m(
        |m| match std::mem::replace(&mut *m.p.borrow_mut(), PSlot::None) {
            PSlot::Owned(h) => h,
            _ => fatal!("scheduler code ran without an owned P"),
        },
    )
}

fn with_owned_p_opt<R>(f: impl FnOnce(Option<&PHandle>) -> R) -> R {
    with_m(|m| match &*m.p.borrow() {
        PSlot::Owned(h) => f(Some(h)),
        _ => f(None),
    })
}

/// Runs `f` on the P this thread holds, from scheduler code (owned) or from a running G (a CAS
/// borrow). `None` on a plain thread, an M without a P, or when the P was retaken.
pub(crate) fn with_current_p<R>(f: impl FnOnce(&PShared, &PLocal) -> R) -> Option<R> {
    with_m(|m| match m.p.try_borrow() {
        Ok(slot) => match &*slot {
            PSlot::Owned(h) => Some(f(h.shared(), h.local())),
            PSlot::InG(r) => r.g_access(f),
            PSlot::None => None,
        },
        Err(_) => None,
    })
}

/// The execution trace's ready event for `g` (tracing only: off the hot path, with a thread-local
/// access of its own for this P's buffer).
#[cold]
#[inline(never)]
fn trace_ready(g: &GRef) {
    let id = g.id();
    // One thread-local access for the P and the readier.
    let done = with_current_p_g(|shared, local, by| {
        crate::exectrace::ready(Some(local), Some(shared.id), id, by)
    });
    if done.is_none() {
        let by = crate::current_goid();
        crate::exectrace::ready(None, None, id, by);
    }
}

/// As [`with_current_p`], also passing the id of the G running on this M (0: none), for a
/// spawn's `created by ... in goroutine N` without a second thread-local access.
pub(crate) fn with_current_p_g<R>(f: impl FnOnce(&PShared, &PLocal, u64) -> R) -> Option<R> {
    with_m(|m| {
        let g = m.curg.get();
        // SAFETY: a non-null `curg` is the G running on this M, alive while it runs; only
        // its immutable-after-reuse id is read.
        let gid = if g.is_null() { 0 } else { unsafe { &*g }.id() };
        match m.p.try_borrow() {
            Ok(slot) => match &*slot {
                PSlot::Owned(h) => Some(f(h.shared(), h.local(), gid)),
                PSlot::InG(r) => r.g_access(|s, l| f(s, l, gid)),
                PSlot::None => None,
            },
            Err(_) => None,
        }
    })
}

/// The id of the P this thread's M holds (owned or shared with its running G), if any.
pub(crate) fn current_p_id() -> Option<usize> {
    with_m(|m| match m.p.try_borrow() {
        Ok(slot) => match &*slot {
            PSlot::Owned(h) => Some(h.id()),
            PSlot::InG(r) => Some(r.shared().id),
            PSlot::None => None,
        },
        Err(_) => None,
    })
}

/// Go's `sync_runtime_canSpin`: whether a G about to block on a contended lock should spin
/// (round `iter`) first: at most 4 rounds, only with more than one P, only while other Ps run
/// (the lock holder may be one of them), and only from a G that holds its P.
///
/// **Deviation from Go**: Go also refuses while the P's own run queue is non-empty; gort spins
/// regardless. Measured (`gort_work mutex_contended 1000 10000`, 1,000 Gs on 2 Ps): with Go's
/// rule the loser of nearly every collision parked (100,000-300,000 parks per 10M lock calls,
/// each followed by a wake) because the Ps' queues hold the other contenders; Go, on the same
/// workload, parked 1,500-4,400 times (a uprobe on `runtime_SemacquireMutex`). Spinning
/// regardless brought the parks to ~1,000 and the time from 27.8 to 10.8 ns per lock (medians of
/// 7 alternating runs; Go 31.9 in the same runs). The price is bounded: a G whose lock holder is
/// not running (parked while holding it) wastes at most 4 rounds of 30 `PAUSE`s before parking,
/// and the Gs queued behind it wait that long.
pub(crate) fn can_spin(iter: u32) -> bool {
    if iter >= 4 || cfg!(loom) || !crate::coro::on_g_stack() {
        return false;
    }
    // In a synctest bubble the generator decides (a "spin" yields: bubble::spin_choice).
    if crate::bubble::active() {
        if let Some(spin) = crate::bubble::spin_choice(iter) {
            return spin;
        }
    }
    let s = crate::sched();
    if s.nprocs() <= 1
        || s.nprocs() <= s.npidle.load(Ordering::Relaxed) + s.nmspinning.load(Ordering::Relaxed) + 1
    {
        return false;
    }
    with_m(|m| matches!(&*m.p.borrow(), PSlot::InG(_)))
}

/// For `should_yield`: has sysmon ended the running G's slice (or taken its P)?
pub(crate) fn current_p_preempted() -> bool {
    with_m(|m| match &*m.p.borrow() {
        PSlot::InG(r) => {
            let p = r.shared();
            p.preempt.load(Ordering::Relaxed) || !r.still_mine()
        }
        PSlot::Owned(h) => h.shared().preempt.load(Ordering::Relaxed),
        PSlot::None => true,
    })
}

pub(crate) fn current_m() -> &'static MShared {
    with_m(|m| m.m.get()).unwrap_or_else(|| fatal!("not an M"))
}

/// Whether the running G is already inside `blocking`/`block_in_place`: a nested call is then a
/// plain call (the outer one holds the pool's permit and the P's `SYSCALL` state; a second enter
/// would take a second permit, and its exit would flip the P back to `RUNNING_G` while the
/// outer call still blocks).
fn curg_in_syscall() -> bool {
    let g = with_m(|m| m.curg.get());
    // SAFETY: `g` is this M's `curg`, the G running this code, alive while it runs.
    !g.is_null() && unsafe { &*g }.status() == GStatus::Syscall
}

fn set_curg_status(g: *const G, s: GStatus) {
    // SAFETY: `g` is this M's `curg`, the G running this code, alive while it runs.
    GRef::set_status_shared(unsafe { &*g }, s);
}

// ---- netpoller glue (netpoll/mod.rs) -------------------------------------------------------

impl Sched {
    /// Takes an idle P for this P-less M (the M back from a blocking poll). False if none.
    pub(crate) fn try_acquire_idle_p(&self) -> bool {
        let p = {
            let mut l = self.lock.lock();
            self.pidleget(&mut l)
        };
        match p {
            Some(p) => {
                set_p(PSlot::Owned(p.adopt(current_m().id)));
                true
            }
            None => false,
        }
    }

    /// Makes a batch of Gs runnable at once (Go's `injectglist`): as many as there are idle Ps
    /// go to the global queue with an M started for each such P; the rest go to this M's P's
    /// local queue (all to the global queue on a P-less M).
    pub(crate) fn injectglist(&'static self, mut gs: Vec<GRef>) {
        if crate::bubble::active() {
            crate::bubble::route_batch(&mut gs);
        }
        for g in gs.iter_mut() {
            g.set_status(GStatus::Runnable);
            crate::metrics::mark_runnable(g);
        }
        if crate::exectrace::on() {
            crate::exectrace::netpoll(gs.len());
        }
        let has_p = with_owned_p_opt(|p| p.is_some());
        let nglobal = if has_p {
            gs.len().min(self.npidle.load(Ordering::SeqCst))
        } else {
            gs.len()
        };
        if nglobal > 0 {
            let mut l = self.lock.lock();
            l.global.extend(gs.drain(gs.len() - nglobal..));
            self.nglobal
                .store(l.global.len() + l.fresh.len(), Ordering::Relaxed);
        }
        if !gs.is_empty() {
            let mut rest = Some(gs);
            with_current_p(|shared, local| {
                for g in rest.take().unwrap() {
                    self.runqput(shared, local, g, false);
                }
            });
            if let Some(gs) = rest {
                let mut l = self.lock.lock();
                l.global.extend(gs);
                self.nglobal
                    .store(l.global.len() + l.fresh.len(), Ordering::Relaxed);
            }
            fence(Ordering::SeqCst);
        }
        self.backoff.poke();
        for _ in 0..nglobal {
            let p = {
                let mut l = self.lock.lock();
                self.pidleget(&mut l)
            };
            match p {
                Some(p) => self.startm(p, false, None),
                None => break,
            }
        }
    }
}

/// An M's life: take the P it was started with, then find and run Gs until it must exit.
#[cfg_attr(loom, allow(dead_code))]
fn m_main(s: &'static Sched, m: &'static MShared, w: Wakeup) {
    if let Err(e) = crate::signal::init_thread() {
        eprintln!(
            "gort: M{}: no alternate signal stack ({e}): a stack overflow will not be reported by name",
            m.id
        );
    }
    with_m(|l| l.m.set(Some(m)));
    // User code never unwinds into here (join.rs, "The boundary"); if anything does anyway, the
    // process stops with a message instead of losing this M, its P and its accounting silently.
    let mut alive = MLossGuard {
        id: m.id,
        returned: false,
    };
    crate::sync::pool::m_started();
    let mut release_epoch = crate::m::release_epoch();
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions.
    m.tid.store(unsafe { libc::gettid() }, Ordering::Relaxed);
    let mut first = s.acquire(w);
    loop {
        // After a sync::Pool cleanup or a scavenger's request, this M's private pool values and
        // free task blocks go back (m.rs, `RELEASE_EPOCH`). One relaxed load per round.
        let e = crate::m::release_epoch();
        if e != release_epoch {
            release_epoch = e;
            crate::m::release_caches();
        }
        // One thread-local access for the three questions of each round.
        let (exiting, lockedg, has_p) = with_m(|l| {
            (
                l.exiting.get(),
                l.lockedg.get(),
                matches!(&*l.p.borrow(), PSlot::Owned(_)),
            )
        });
        if exiting {
            break;
        }
        if let Some(g) = first.take() {
            s.execute(m, g, true);
            continue;
        }
        // An M locked to a G runs only that G: give the P away and wait for the G.
        if lockedg != 0 {
            match s.stoplockedm() {
                Some(g) => s.execute(m, g, true),
                None => fatal!("locked M{} woken without its G", m.id),
            }
            continue;
        }
        if !has_p {
            match s.stopm() {
                Ok(Some(g)) => {
                    s.execute(m, g, true);
                    continue;
                }
                Ok(None) => {}
                Err(()) => break,
            }
        }
        match s.find_runnable() {
            Ok((g, inherit)) => {
                // `m.spinning` mirrors the thread-local flag and only this M writes it.
                if m.spinning.load(Ordering::Relaxed) {
                    s.reset_spinning();
                }
                s.execute(m, g, inherit);
            }
            Err(()) => break,
        }
    }
    // Exiting: give back whatever P we hold (and pool values).
    crate::sync::pool::m_release();
    if let PSlot::Owned(p) = take_slot() {
        s.handoffp(p);
    }
    m.dead.store(true, Ordering::Relaxed);
    s.mlive.fetch_sub(1, Ordering::Relaxed);
    alive.returned = true;
}

/// Armed for an M's whole loop (`m_main`): dropped without `returned`, the loop unwound.
struct MLossGuard {
    id: usize,
    returned: bool,
}

impl Drop for MLossGuard {
    fn drop(&mut self) {
        if !self.returned {
            fatal!(
                "a panic unwound out of M{}'s scheduler loop (a gort bug: user code runs under \
                 the green thread boundary); stopping rather than losing the thread",
                self.id
            );
        }
    }
}

impl Sched {
    /// The M is locked to a G that is not running: hand its P to another M and sleep until the
    /// G is handed back (Go's `stoplockedm`). Returns the G.
    fn stoplockedm(&'static self) -> Option<GRef> {
        if let PSlot::Owned(p) = take_slot() {
            self.handoffp(p);
        }
        let m = current_m();
        self.nmidlelocked.fetch_add(1, Ordering::Relaxed);
        let w = m.sleep();
        self.nmidlelocked.fetch_sub(1, Ordering::Relaxed);
        self.acquire(w)
    }

    /// Wires the running G to its M (Go's `LockOSThread`); nested calls count.
    pub(crate) fn lock_os_thread(&self) {
        update_wiring(|c| {
            if c & LOCK_COUNT_MASK == LOCK_COUNT_MASK {
                c // saturated: more than 2^62 nested locks
            } else {
                c + 1
            }
        });
    }

    /// Undoes one `lock_os_thread`; the last one unwires the G (unless a pin holds it).
    pub(crate) fn unlock_os_thread(&self) {
        update_wiring(|c| if c & LOCK_COUNT_MASK == 0 { c } else { c - 1 });
    }
}

// ---- wiring a G to its M: LockOSThread, Builder::pinned, and unwinding Gs ------------------
//
// A G is wired to the M it runs on while its `lock_count` word is non-zero (`G::locked_m` names
// the M; the M's `lockedg` names the G; m_main, `execute` and `startlockedm` keep them
// together). Three independent reasons share the word, so that none undoes another:
//
// * bits 0..62: the nesting count of `lock_os_thread` (user calls);
// * `PIN_BUILDER`: `Builder::pinned(true)`, set by the G as it starts, for its whole life;
// * `PIN_UNWIND`: the G parked or yielded while unwinding from a panic (below).
//
// Written by the G itself while it runs, or by its M right after it switched out (the pin
// below), while that M holds its `GRef` (Relaxed: read by the M that picks the G, after the
// hand-over of its `GRef`, which orders it).
//
// # Unwinding Gs keep their M (issue 15, item 2)
//
// std keeps the panic count behind `std::thread::panicking()`, and the "in the panic hook" flag
// that turns a second panic into an abort, in thread-locals of the OS thread. A G that parks
// or yields mid-unwind (a channel operation in a `Drop`, a `MutexGuard` dropped in starvation
// mode, a panic hook that sleeps) would leave that state on its M for the next G, and resume
// and finish its unwinding, decrementing the count, on another thread. So every switch out of
// a G (`coro::suspend_with`, the one way a G leaves its M, always back into `execute` on the
// same OS thread) is checked there, by the M, before it does anything with the G: a G that
// left while panicking (the thread's panic count is still the G's) gets `PIN_UNWIND`, and is
// then treated exactly like a locked G: its M hands the P off and sleeps until the G can run
// again, and runs no other G meanwhile. The pin is dropped at the G's first switch after the
// unwinding ended (a G that caught its own panic), or when the G ends; an unwinding G that
// ends does not end its thread (its panic count is back to 0 once the G's boundary caught the
// panic), unlike a G that ends inside `lock_os_thread`.
//
// Cost on the hot path: `std::thread::panicking()` is one relaxed load of std's global panic
// count while no thread panics; only a G already wired to this M has its word looked at.

/// The `lock_os_thread` nesting count in `G::lock_count`.
pub(crate) const LOCK_COUNT_MASK: usize = (1 << (usize::BITS - 2)) - 1;
/// `G::lock_count` bit: wired by `Builder::pinned(true)`.
pub(crate) const PIN_BUILDER: usize = 1 << (usize::BITS - 2);
/// `G::lock_count` bit: wired because it switched while unwinding.
pub(crate) const PIN_UNWIND: usize = 1 << (usize::BITS - 1);

/// Applies `f` to the running G's `lock_count` and wires or unwires it as the word leaves or
/// reaches 0. Returns the old and new words (equal on a plain thread, which is never wired).
fn update_wiring(f: impl FnOnce(usize) -> usize) -> (usize, usize) {
    if !crate::coro::on_g_stack() {
        return (0, 0);
    }
    with_m(|m| {
        // SAFETY: `curg` is the G running this code (we are on its stack), alive while it runs.
        let g = unsafe { &*m.curg.get() };
        let ms = m.m.get().expect("a G runs on an M");
        rewire(m, ms, g, f)
    })
}

/// `update_wiring`'s step for G `g` and the M (`m`, `ms`) it runs on or just left.
fn rewire(
    m: &crate::m::MLocal,
    ms: &MShared,
    g: &G,
    f: impl FnOnce(usize) -> usize,
) -> (usize, usize) {
    let old = g.lock_count.load(Ordering::Relaxed);
    let new = f(old);
    g.lock_count.store(new, Ordering::Relaxed);
    if old == 0 && new != 0 {
        g.locked_m.store(ms.id + 1, Ordering::Relaxed);
        m.lockedg.set(g.id());
        ms.lockedg.store(g.id(), Ordering::Relaxed);
    } else if old != 0 && new == 0 {
        g.locked_m.store(0, Ordering::Relaxed);
        m.lockedg.set(0);
        ms.lockedg.store(0, Ordering::Relaxed);
    }
    (old, new)
}

/// `execute`, right after `g` switched out of this M (`me`) while unwinding: pins it here.
/// Returns true: the G is now wired to this M.
#[cold]
#[inline(never)]
fn pin_unwinding(me: &MShared, g: &G) -> bool {
    with_m_sched(|m| rewire(m, me, g, |c| c | PIN_UNWIND));
    true
}

/// `execute`, right after `g`, pinned here while unwinding, switched out with its unwinding
/// over: drops the pin. Returns whether the G is still wired to this M (for another reason).
#[cold]
#[inline(never)]
fn unpin_unwound(me: &MShared, g: &G) -> bool {
    with_m_sched(|m| rewire(m, me, g, |c| c & !PIN_UNWIND)).1 != 0
}

/// `Builder::pinned(true)`: the G wires itself to its M as it starts.
pub(crate) fn pin_for_life() {
    update_wiring(|c| c | PIN_BUILDER);
}

/// Makes P `id` for the process's life (leaked, as Go never frees a P).
fn make_p(id: usize) -> &'static PShared {
    Box::leak(Box::new(PShared::new(id)))
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A per-thread xorshift generator for victim order (quality does not matter; speed does).
fn fastrand() -> u64 {
    use std::cell::Cell;
    #[cfg(not(loom))]
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    // Under loom: per model thread and with a fixed seed, so every execution makes the same
    // choices (loom replays executions and needs them deterministic).
    #[cfg(loom)]
    loom::thread_local! {
        static STATE: Cell<u64> = Cell::new(0);
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = if cfg!(loom) {
                0x9e37_79b9_7f4a_7c15
            } else {
                (s as *const _ as u64) | 1
            };
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{with_m, BackoffSleep, PIN_UNWIND};
    use crate::loom::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Duration;

    /// The running G's wiring word and whether its M is wired to it.
    fn my_wiring() -> (usize, bool) {
        with_m(|m| {
            // SAFETY: `curg` is the G running this code (we are on its stack).
            let g = unsafe { &*m.curg.get() };
            (
                g.lock_count.load(Ordering::Relaxed),
                m.lockedg.get() == g.id(),
            )
        })
    }

    /// Yields from its destructor, i.e. during the unwinding that drops it.
    struct YieldInDrop;
    impl Drop for YieldInDrop {
        fn drop(&mut self) {
            crate::yield_now();
        }
    }

    /// "Unwinding Gs keep their M": a G that switches out while unwinding is pinned by the M
    /// it left (`execute`, after the switch), and the pin is dropped at its first switch after
    /// the unwinding ended, leaving an ordinary G.
    #[test]
    fn an_unwind_pin_is_taken_at_the_switch_and_dropped_after_the_unwinding() {
        let (during, caught, after) = crate::spawn(|| {
            struct Probe(Arc<std::sync::Mutex<Option<(usize, bool)>>>);
            impl Drop for Probe {
                fn drop(&mut self) {
                    // Runs after `YieldInDrop` (declared later, dropped first) switched out.
                    *self.0.lock().unwrap() = Some(my_wiring());
                }
            }
            let seen = Arc::new(std::sync::Mutex::new(None));
            let s2 = seen.clone();
            let r = std::panic::catch_unwind(move || {
                let _probe = Probe(s2);
                let _y = YieldInDrop;
                panic!("unwinding on purpose (a test)");
            });
            assert!(r.is_err());
            let during = seen.lock().unwrap().take().expect("the probe ran");
            let caught = my_wiring();
            crate::yield_now();
            (during, caught, my_wiring())
        })
        .join()
        .unwrap();
        assert_eq!(
            during,
            (PIN_UNWIND, true),
            "pinned after its switch mid-unwind"
        );
        assert_eq!(
            caught,
            (PIN_UNWIND, true),
            "the pin holds until the next switch"
        );
        assert_eq!(
            after,
            (0, false),
            "unpinned at its first switch after the unwinding"
        );
    }

    /// A thief in a long back-off is woken by a poke (stealable work), not left to sleep out
    /// its back-off; with no poke it returns `false` (timed out).
    #[test]
    fn backoff_sleep_is_cut_short_by_a_poke() {
        let b = Arc::new(BackoffSleep::new());
        assert!(!b.sleep(1), "no poke: the back-off times out");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        // A thief shortens its wait to Go's 3 µs while a G waits on a socket or a timer is due
        // soon; other tests in this binary do both, so start it again until it really waits.
        let thief = loop {
            let b2 = b.clone();
            // One minute: far longer than any test run, so `true` can only come from the poke.
            let thief = std::thread::spawn(move || b2.sleep(60_000_000));
            while b.sleepers.load(std::sync::atomic::Ordering::SeqCst) == 0 && !thief.is_finished()
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the thief never started waiting"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            if !thief.is_finished() {
                break thief;
            }
            assert!(!thief.join().unwrap(), "a poke came from nowhere");
        };
        b.poke();
        assert!(thief.join().unwrap(), "the poke did not end the back-off");
        assert_eq!(b.sleepers.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
