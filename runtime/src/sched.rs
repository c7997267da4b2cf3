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
//! * **Submit** (readier, [`Sched::ready_g`]): S1. publish the G (runnext swap, SeqCst; or a queue
//!   push followed by a SeqCst fence; or the global queue under `lock`); S2. load `npidle` and
//!   `nmspinning` (SeqCst); S3. if a P is idle and nobody spins, CAS `nmspinning` 0→1 and start
//!   an M on an idle P.
//! * **Stop spinning** (an M giving up, in [`find_runnable`]): T1. give the P back to the idle
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
//! # Lock order
//! `Sched::lock` < an M's note lock < a registry shard lock. Nothing else is held while taking
//! `Sched::lock`, and user code never runs under any of them.

use crate::coro::{Coro, Resumed, Suspend};
use crate::env::Config;
use crate::fatal::fatal;
use crate::g::{GRef, GStatus};
use crate::loom::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::loom::{Arc, Mutex, MutexGuard};
use crate::m::{with_m, MShared, Wakeup};
use crate::p::{PLocal, PShared, PStatus};
use crate::runq::{Steal, LOCAL_CAP};
use std::collections::VecDeque;
use std::time::Instant;

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

/// What `Sched::lock` protects.
pub(crate) struct Locked {
    /// The global run queue (FIFO).
    pub(crate) global: VecDeque<GRef>,
    /// Idle Ps, most recently idled last.
    pub(crate) idle_p: Vec<PLocal>,
    /// Idle Ms, parked on their notes.
    pub(crate) idle_m: Vec<Arc<MShared>>,
}

/// The scheduler's global state (Go's `schedt` plus `allp`).
pub struct Sched {
    pub(crate) cfg: Config,
    pub(crate) ps: Box<[PShared]>,
    /// Strides coprime with the P count, for random-order stealing.
    strides: Vec<usize>,
    pub(crate) lock: Mutex<Locked>,
    /// Length of `Locked::global`; written under `lock`, read without it (a hint; Relaxed).
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
    /// Ms ever created.
    pub(crate) mcount: AtomicUsize,
    /// Live Gs: incremented at spawn, decremented when a G's closure has returned (before its
    /// joiner is told), so `num_goroutine()` is exact once a join returns.
    pub(crate) ngoroutine: AtomicUsize,
    /// Every M, newest last (for traces).
    pub(crate) allm: Mutex<Vec<Arc<MShared>>>,
    pub(crate) start: Instant,
}

impl Sched {
    /// Builds a scheduler with `cfg.maxprocs` idle Ps and no Ms.
    pub(crate) fn new(cfg: Config) -> Sched {
        let n = cfg.maxprocs;
        let mut idle = Vec::with_capacity(n);
        let mut shared = Vec::with_capacity(n);
        for id in 0..n {
            let (l, s) = PLocal::new(id);
            idle.push(l);
            shared.push(s);
        }
        idle.reverse(); // P0 is handed out first.
        let strides = (1..=n).filter(|&s| gcd(s, n) == 1).collect();
        Sched {
            cfg,
            ps: shared.into_boxed_slice(),
            strides,
            lock: Mutex::new(Locked {
                global: VecDeque::new(),
                idle_p: idle,
                idle_m: Vec::new(),
            }),
            nglobal: AtomicUsize::new(0),
            npidle: AtomicUsize::new(n),
            nmspinning: AtomicUsize::new(0),
            needspinning: AtomicBool::new(false),
            nmidle: AtomicUsize::new(0),
            mcount: AtomicUsize::new(0),
            ngoroutine: AtomicUsize::new(0),
            allm: Mutex::new(Vec::new()),
            start: Instant::now(),
        }
    }

    /// Number of Ps.
    pub fn nprocs(&self) -> usize {
        self.ps.len()
    }

    fn pshared(&self, p: &PLocal) -> &PShared {
        &self.ps[p.id]
    }

    // ---- run queues ----------------------------------------------------------------------

    /// Puts a runnable G on P `p` (Go's `runqput`). With `next`, it goes into runnext (and the G
    /// it displaces to the tail); otherwise to the tail. A full local queue spills half of itself
    /// plus the G to the global queue. Caller: the owner of `p` only.
    pub(crate) fn runqput(&self, p: &PLocal, g: GRef, next: bool) {
        let g = if next {
            match p.put_runnext(self.pshared(p), g) {
                None => return,
                Some(old) => old,
            }
        } else {
            g
        };
        if p.runq.len() < LOCAL_CAP {
            p.runq.push(g);
        } else {
            self.runqputslow(p, g);
        }
    }

    /// Moves half of `p`'s local queue and `g` to the global queue in one lock (Go's
    /// `runqputslow`).
    fn runqputslow(&self, p: &PLocal, g: GRef) {
        let n = p.runq.len() / 2;
        let mut batch = Vec::with_capacity(n + 1);
        for _ in 0..n {
            match p.runq.pop() {
                Some(x) => batch.push(x),
                None => break,
            }
        }
        batch.push(g);
        let mut l = self.lock.lock();
        l.global.extend(batch);
        self.nglobal.store(l.global.len(), Ordering::Relaxed);
    }

    /// Takes the next G from `p`: runnext first (inheriting the time slice), then the queue head.
    /// If sysmon flagged the slice as used up, runnext goes to the back of the queue this once.
    /// Caller: the owner of `p` only.
    fn runqget(&self, p: &PLocal) -> Option<(GRef, bool)> {
        let shared = self.pshared(p);
        if shared.preempt.load(Ordering::Relaxed) {
            shared.preempt.store(false, Ordering::Relaxed);
            if let Some(g) = shared.take_runnext() {
                p.runq.push(g);
            }
        } else if let Some(g) = shared.take_runnext() {
            return Some((g, true));
        }
        p.runq.pop().map(|g| (g, false))
    }

    /// Puts Gs on the global queue (from outside any P, or for a P-less M).
    pub(crate) fn global_put(&self, g: GRef) {
        let mut l = self.lock.lock();
        l.global.push_back(g);
        self.nglobal.store(l.global.len(), Ordering::Relaxed);
    }

    /// Takes a batch from the global queue into `p` and returns one G (Go's `globrunqget`):
    /// n = min(len, len / nprocs + 1, max if nonzero, LOCAL_CAP / 2). Caller holds `lock`.
    fn globrunqget(&self, l: &mut Locked, p: &PLocal, max: usize) -> Option<GRef> {
        let len = l.global.len();
        if len == 0 {
            return None;
        }
        let mut n = len.min(len / self.nprocs() + 1).min(LOCAL_CAP / 2);
        if max > 0 {
            n = n.min(max);
        }
        let g = l.global.pop_front();
        for _ in 1..n {
            match l.global.pop_front() {
                Some(x) => p.runq.push(x),
                None => break,
            }
        }
        self.nglobal.store(l.global.len(), Ordering::Relaxed);
        g
    }

    // ---- making Gs runnable --------------------------------------------------------------

    /// Makes `g` runnable (Go's `ready`/`goready`): into the current P's runnext if this thread
    /// is an M holding a P (so the readied G runs next and inherits the time slice), else into
    /// the global queue; then wakes an M if a P is idle and nobody spins.
    pub(crate) fn ready_g(&'static self, g: GRef, next: bool) {
        g.set_status(GStatus::Runnable);
        let rest = with_m(|m| match m.p.try_borrow() {
            Ok(p) => match p.as_ref() {
                Some(p) => {
                    self.runqput(p, g, next);
                    None
                }
                None => Some(g),
            },
            Err(_) => Some(g),
        });
        match rest {
            None => {
                // S1 for a tail push: the runnext swap is SeqCst already, a deque push is only
                // Release, so order it before the loads in S2.
                if !next {
                    fence(Ordering::SeqCst);
                }
            }
            Some(g) => self.global_put(g),
        }
        self.wakep();
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
        match self.pidleget(&mut l) {
            Some(p) => {
                drop(l);
                self.startm(p, true);
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

    fn pidleget(&self, l: &mut MutexGuard<'_, Locked>) -> Option<PLocal> {
        let p = l.idle_p.pop()?;
        self.npidle.fetch_sub(1, Ordering::SeqCst);
        self.needspinning.store(false, Ordering::SeqCst);
        let s = self.pshared(&p);
        s.status.store(PStatus::Running as u8, Ordering::Relaxed);
        Some(p)
    }

    fn pidleput(&self, l: &mut MutexGuard<'_, Locked>, p: PLocal) {
        let s = self.pshared(&p);
        debug_assert!(p.runq.len() == 0, "idle P with a non-empty run queue");
        s.status.store(PStatus::Idle as u8, Ordering::Relaxed);
        s.m.store(usize::MAX, Ordering::Relaxed);
        l.idle_p.push(p);
        // T1.
        self.npidle.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs `p` on an idle M, or a new one (Go's `startm`).
    pub(crate) fn startm(&'static self, p: PLocal, spinning: bool) {
        let m = {
            let mut l = self.lock.lock();
            let m = l.idle_m.pop();
            if m.is_some() {
                self.nmidle.fetch_sub(1, Ordering::Relaxed);
            }
            m
        };
        match m {
            Some(m) => m.wake(Wakeup { p, spinning }),
            None => self.newm(Wakeup { p, spinning }),
        }
    }

    fn newm(&'static self, w: Wakeup) {
        let id = self.mcount.fetch_add(1, Ordering::Relaxed) + 1;
        let m = Arc::new(MShared::new(id));
        self.allm.lock().push(m.clone());
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

    fn acquirep(&self, p: PLocal) {
        with_m(|m| {
            let ml = m.m.borrow();
            let ms = ml.as_ref().expect("acquirep on a non-M thread");
            let s = self.pshared(&p);
            s.status.store(PStatus::Running as u8, Ordering::Relaxed);
            s.m.store(ms.id, Ordering::Relaxed);
            ms.p.store(p.id, Ordering::Relaxed);
            let prev = m.p.borrow_mut().replace(p);
            if prev.is_some() {
                fatal!("acquirep: M{} already holds a P", ms.id);
            }
        })
    }

    fn releasep(&self) -> PLocal {
        with_m(|m| {
            if let Some(ms) = m.m.borrow().as_ref() {
                ms.p.store(usize::MAX, Ordering::Relaxed);
            }
            m.p.borrow_mut()
                .take()
                .unwrap_or_else(|| fatal!("releasep: M holds no P"))
        })
    }

    fn become_spinning(&self) {
        with_m(|m| {
            m.spinning.set(true);
            if let Some(ms) = m.m.borrow().as_ref() {
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
            if let Some(ms) = m.m.borrow().as_ref() {
                ms.spinning.store(false, Ordering::Relaxed);
            }
            was
        });
        if was {
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
            self.wakep();
        }
    }

    /// Parks this M until someone hands it a P (Go's `stopm`).
    fn stopm(&self) {
        let m = with_m(|m| m.m.borrow().clone()).unwrap_or_else(|| fatal!("stopm: not an M"));
        {
            let mut l = self.lock.lock();
            l.idle_m.push(m.clone());
            self.nmidle.fetch_add(1, Ordering::Relaxed);
            // Seam: lets a loom model's shutdown wait for Ms to park, instead of spinning.
            #[cfg(loom)]
            model::on_m_idle();
        }
        let w = m.sleep();
        self.acquirep(w.p);
        if w.spinning {
            // The waker counted us in nmspinning already.
            with_m(|l| l.spinning.set(true));
            m.spinning.store(true, Ordering::Relaxed);
        }
    }

    // ---- finding work --------------------------------------------------------------------

    /// Steals from other Ps: `STEAL_TRIES` rounds over all Ps in a random order; runnext only
    /// in the last round. Caller: a spinning M holding a P.
    fn steal_work(&self) -> Option<GRef> {
        let n = self.nprocs();
        if n == 1 {
            return None;
        }
        with_m(|m| {
            let pl = m.p.borrow();
            let p = pl.as_ref()?;
            for round in 0..STEAL_TRIES {
                let last = round == STEAL_TRIES - 1;
                let r = fastrand();
                let start = r as usize % n;
                let stride = self.strides[(r >> 32) as usize % self.strides.len()];
                let mut retry = false;
                for i in 0..n {
                    let v = &self.ps[(start + i * stride) % n];
                    if v.id == p.id {
                        continue;
                    }
                    match v.stealer.steal_into(&p.runq) {
                        Steal::Success(g) => return Some(g),
                        Steal::Retry => retry = true,
                        Steal::Empty => {}
                    }
                    if last && !v.runnext.load(Ordering::Relaxed).is_null() {
                        // Its owner is probably about to run it (Go sleeps ~3 µs here): give it
                        // a moment, then take it only if it is still there.
                        if v.status() == PStatus::Running {
                            // Under loom each spin is a yield point: one is as good as 256.
                            for _ in 0..if cfg!(loom) { 1 } else { 256 } {
                                crate::loom::spin_loop();
                            }
                        }
                        if let Some(g) = v.take_runnext() {
                            return Some(g);
                        }
                    }
                }
                if !retry && last {
                    break;
                }
            }
            None
        })
    }

    /// Finds a runnable G for this M (Go's `findRunnable`); parks the M while there is none.
    /// Returns the G and whether it inherits the current time slice. On return the M holds a P.
    pub(crate) fn find_runnable(&'static self) -> (GRef, bool) {
        'top: loop {
            // 1-3: every 61st round the global queue first; then runnext and the local queue.
            let local = with_m(|m| {
                let pl = m.p.borrow();
                let p = pl
                    .as_ref()
                    .unwrap_or_else(|| fatal!("find_runnable without a P"));
                if p.schedtick % GLOBAL_CHECK_INTERVAL == 0
                    && self.nglobal.load(Ordering::Relaxed) > 0
                {
                    let mut l = self.lock.lock();
                    if let Some(g) = self.globrunqget(&mut l, p, 1) {
                        return Some((g, false));
                    }
                }
                self.runqget(p)
            });
            if let Some(r) = local {
                return r;
            }
            // 4: the global queue, in a batch.
            if self.nglobal.load(Ordering::Relaxed) > 0 {
                let g = with_m(|m| {
                    let pl = m.p.borrow();
                    let mut l = self.lock.lock();
                    self.globrunqget(&mut l, pl.as_ref().unwrap(), 0)
                });
                if let Some(g) = g {
                    return (g, false);
                }
            }
            // 5: (netpoll, non-blocking: the netpoller issue.)
            // 6: steal, if we are a spinner or may become one.
            let spinning = with_m(|m| m.spinning.get());
            let busy = self.nprocs() - self.npidle.load(Ordering::SeqCst);
            if spinning || 2 * self.nmspinning.load(Ordering::SeqCst) < busy {
                if !spinning {
                    self.become_spinning();
                }
                if let Some(g) = self.steal_work() {
                    return (g, false);
                }
            }
            // 7: nothing found: give the P back (T1) unless the global queue has work.
            let mut l = self.lock.lock();
            if !l.global.is_empty() {
                let g = with_m(|m| self.globrunqget(&mut l, m.p.borrow().as_ref().unwrap(), 0));
                if let Some(g) = g {
                    return (g, false);
                }
            }
            let spinning = with_m(|m| m.spinning.get());
            if !spinning && self.needspinning.load(Ordering::SeqCst) {
                // The delicate dance: a readier found no idle P; look again as a spinner.
                drop(l);
                self.become_spinning();
                continue 'top;
            }
            let p = self.releasep();
            self.pidleput(&mut l, p);
            drop(l);
            if spinning {
                // T2.
                with_m(|m| {
                    m.spinning.set(false);
                    if let Some(ms) = m.m.borrow().as_ref() {
                        ms.spinning.store(false, Ordering::Relaxed);
                    }
                });
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
                let recheck =
                    !self.lock.lock().global.is_empty() || self.ps.iter().any(|p| p.has_work());
                #[cfg(gort_mutate = "t3_unlocked_global")]
                let recheck =
                    self.nglobal.load(Ordering::SeqCst) > 0 || self.ps.iter().any(|p| p.has_work());
                #[cfg(gort_mutate = "no_t3_recheck")]
                let recheck = false;
                if recheck {
                    let mut l = self.lock.lock();
                    if let Some(p) = self.pidleget(&mut l) {
                        drop(l);
                        self.acquirep(p);
                        self.become_spinning();
                        continue 'top;
                    }
                }
            }
            // 8: (block in netpoll until the next timer: the netpoller issue.) Park the M.
            self.stopm();
        }
    }

    // ---- running Gs ----------------------------------------------------------------------

    /// Runs `g` on this M until it yields, parks or finishes (Go's `execute` + the tail of
    /// `gopark`/`goexit`).
    fn execute(&'static self, mut g: GRef, mut inherit: bool) {
        let m_id = crate::m::current_m_id();
        loop {
            if !inherit {
                with_m(|m| {
                    if let Some(p) = m.p.borrow_mut().as_mut() {
                        p.schedtick += 1;
                        self.ps[p.id]
                            .schedtick
                            .store(p.schedtick, Ordering::Relaxed);
                    }
                });
            }
            g.set_status(GStatus::Running);
            g.set_m(m_id);
            if g.owned().coro.is_none() && !self.bind_stack(&mut g) {
                // The G could not get a stack: it never runs; its closure (dropped) tells the
                // joiner why. See `bind_stack`.
                self.gdestroy(g);
                return;
            }
            let gp: *const crate::g::G = &*g;
            with_m(|m| {
                m.curg.set(gp);
                if let Some(ms) = m.m.borrow().as_ref() {
                    ms.curg.store(g.id(), Ordering::Relaxed);
                }
            });
            let r = g.owned().coro.as_mut().unwrap().resume();
            with_m(|m| {
                m.curg.set(std::ptr::null());
                if let Some(ms) = m.m.borrow().as_ref() {
                    ms.curg.store(0, Ordering::Relaxed);
                }
            });
            g.set_m(None);
            match r {
                Resumed::Finished => {
                    self.gdestroy(g);
                    return;
                }
                Resumed::Suspended(Suspend::Yield) => {
                    g.set_status(GStatus::Runnable);
                    let rest = with_m(|m| {
                        let pl = m.p.borrow();
                        match pl.as_ref() {
                            Some(p) => {
                                self.runqput(p, g, false);
                                None
                            }
                            None => Some(g),
                        }
                    });
                    if let Some(g) = rest {
                        self.global_put(g);
                    }
                    return;
                }
                Resumed::Suspended(Suspend::Park(f)) => {
                    g.set_status(GStatus::Waiting);
                    // SAFETY: `f` was carried by the suspend that just returned control to us,
                    // and the G is suspended in it; we call it once, before resuming anything.
                    match unsafe { f.call(g) } {
                        None => return,
                        Some(back) => {
                            // The park was cancelled: run the G on, in the same slice.
                            g = back;
                            inherit = true;
                        }
                    }
                }
            }
        }
    }

    /// Gives a G its stack on first run. On failure (the stack allocator's error: out of memory,
    /// or the mapping budget exhausted) the G is destroyed without running; its closure's drop
    /// guard tells the joiner, and the message says what to do.
    fn bind_stack(&self, g: &mut GRef) -> bool {
        let size = g.stack_size();
        let r = with_m(|m| {
            let mut pl = m.p.borrow_mut();
            crate::stack::alloc(size, pl.as_mut().map(|p| &mut p.stacks))
        });
        match r {
            Ok(stack) => {
                let entry = g.owned().entry.take().expect("G without an entry");
                // SAFETY: the name is the G's `Arc<str>`, which lives as long as the G, and the
                // info is installed (signal::set_running) only while this G runs on its M.
                let info = unsafe {
                    crate::signal::RunningInfo::with_borrowed_name(
                        g.id(),
                        g.name().map(|n| &**n),
                        &stack,
                    )
                };
                g.owned().coro = Some(Coro::new(stack, info, entry));
                true
            }
            Err(e) => {
                crate::join::record_spawn_failure(g, e);
                false
            }
        }
    }

    /// Frees a dead G: its stack back to the P's cache, its record.
    fn gdestroy(&self, mut g: GRef) {
        g.set_status(GStatus::Dead);
        if let Some(c) = g.owned().coro.take() {
            let stack = c.into_stack();
            with_m(|m| {
                let mut pl = m.p.borrow_mut();
                crate::stack::free(stack, pl.as_mut().map(|p| &mut p.stacks));
            });
        }
        drop(g);
    }

    /// Creates a G running `entry` and makes it runnable (Go's `newproc`). From a G it goes into
    /// the current P's runnext; from a plain thread, into the global queue.
    pub(crate) fn spawn_g(
        &'static self,
        name: Option<std::sync::Arc<str>>,
        stack_size: usize,
        entry: Box<dyn FnOnce() + Send>,
    ) -> u64 {
        self.ngoroutine.fetch_add(1, Ordering::Relaxed);
        let id = with_m(|m| match m.p.try_borrow_mut() {
            Ok(mut p) => p.as_mut().map(|p| p.goids.next()),
            Err(_) => None,
        })
        .unwrap_or_else(crate::g::goid_single);
        let g = GRef::new(id, name, stack_size, entry);
        self.ready_g(g, true);
        id
    }
}

/// An M's life: take the P it was started with, then find and run Gs forever.
#[cfg_attr(loom, allow(dead_code))]
fn m_main(s: &'static Sched, m: Arc<MShared>, w: Wakeup) {
    if let Err(e) = crate::signal::init_thread() {
        eprintln!("gort: M{}: no alternate signal stack ({e}): a stack overflow will not be reported by name", m.id);
    }
    with_m(|l| *l.m.borrow_mut() = Some(m.clone()));
    s.acquirep(w.p);
    if w.spinning {
        with_m(|l| l.spinning.set(true));
        m.spinning.store(true, Ordering::Relaxed);
    }
    loop {
        let (g, inherit) = s.find_runnable();
        s.reset_spinning();
        s.execute(g, inherit);
    }
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
