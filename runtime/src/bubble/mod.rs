//! Synctest bubbles: a set of Gs run one at a time on a private P under a seeded schedule,
//! with a virtual clock (Go's `testing/synctest`, plus shuttle's seeded schedules). The public
//! face is `synctest.rs`; this is the engine side.
//!
//! # What a bubble is
//!
//! `synctest::test(f)` makes a [`Bubble`], takes a *private P* for it (a `PShared` that is in
//! no `Sched::ps`: no thief steals from it, sysmon never retakes it or marks its slice, and its
//! id is at least [`BUBBLE_P_BASE`]) and starts a bubble thread: an M of its own (its `MShared`
//! is in no `allm`) that holds the private P and runs the bubble's loop ([`Bubble::next`]). The
//! root G runs `f`. A G spawned on the private P (by a bubble G, or by a bubble timer's callback
//! such as `after_func`'s) is a member: `adopt` gives it the bubble's key in its record
//! (`G::bubble_key`, in padding: the record does not grow) and wraps its task so that its exit
//! is seen.
//!
//! **Routing.** Wherever a G becomes runnable (`Sched::ready_g`, `global_put`, `injectglist`)
//! a member is diverted to its bubble's run set ([`ready`]) instead of a P's queues; the check
//! is one load of the key from the record being readied. Only the bubble's loop takes Gs from
//! that set, so members run only on the bubble's thread, one at a time, in the order the
//! [`Chooser`] picks. A non-member readied on the bubble's thread (a bubble G sending to an
//! outside G) lands in the private P's runnext like any ready; the loop moves it to the global
//! queue after each G it runs (`drain_private_p`), so the normal scheduler pays nothing for it.
//!
//! **The clock.** Inside a bubble (a member G, or the bubble's thread between Gs) `timer::now`
//! reads `epoch + now_ns`, timers go into the bubble's own heap (`Bubble::add_timer`), and
//! timer channels, sleeps, channel/condvar/socket/context deadlines follow. `now_ns` moves only
//! in `next`, when every live member is *durably blocked* (below) and nothing is runnable: to
//! the earliest timer, whose actions then run on the bubble's thread (equal instants in a
//! seeded random order, Go's `t.rand`). Timers due at the current instant run at every
//! decision, so `after_func(ZERO)` runs without waiting for the bubble to block.
//!
//! **Durably blocked** (Go's `isIdleInSynctest`, with the rule for locks): parked for
//! a reason that only the bubble can end: a bubble channel (noted by [`chan_park`] just before
//! the park, from the channels' keys), a select whose every arm is one, a sleep or timer, a gort lock
//! (`Mutex`, `RwLock`, `Condvar`, `Once`, `Semaphore`, `Barrier`), a `WaitGroup` bound to the
//! bubble by an `add` inside it, an errgroup or scope wait, a join of a member, `synctest::wait`.
//! Not: a channel made outside, a socket, `blocking`, the blocking pool; and a G that blocks its
//! thread (a std lock, a plain syscall) is still *running*, so the loop is not even asked.
//! While a member is blocked otherwise, the loop waits for an outside ready (`cv`).
//!
//! **The choice points** (all drawn from the seeded [`Chooser`], folded into the schedule
//! hash): the next G when the running one parks, yields or ends; a *preemption point*
//! ([`preempt_point`]: after a spawn, at a `select!`, a `Mutex`/`RwLock` lock,
//! `gort::preempt_point`), where the running G may be switched for another runnable one; a
//! select's arm order; whether a contended `Mutex` spins (a yield, here: one M) or parks and
//! whether its unlock hands off; the order of timers due together. Readies from outside the
//! bubble (a socket, an outside channel) come when they come: a schedule that depends on them
//! is not replayable, the rest is.
//!
//! **Locked and unwinding Gs.** A member wired to its thread (`lock_os_thread`,
//! `Builder::pinned`, or pinned because it switched while unwinding: sched.rs, "Unwinding Gs
//! keep their M") keeps it: when it parks, the thread hands the private P to another bubble
//! thread (idle, or a new one) and sleeps until the loop picks that G again, then receives the
//! P with the G ([`BThread`]). So members still run one at a time, the choices are the same
//! whichever thread makes them (replay holds), and no member runs on a thread whose panic state
//! belongs to another.
//!
//! # Invariants and who touches what
//!
//! * `State` is under `Bubble::st` (a leaf lock: nothing is taken while it is held, except the
//!   registry shard lock in `after_run`, and user code never runs under it). Timer actions run
//!   after it is released, on the bubble thread, with the private P in the slot.
//! * A member's `GRef` is held by its bubble's run set, the running bubble thread, or what it
//!   waits on; it dies only on a bubble thread (inside `execute`), so the loop may look its
//!   record up in the registry by position and id while it is parked (`after_run`).
//! * A bubble outlives its members: it is in [`TABLE`] until its last member ended, and a
//!   bubble that fails (deadlock) with members left is leaked with them (they can never run
//!   again; their stacks and timers stay).
//! * The private P is held by exactly one bubble thread at a time (handed over through a
//!   `BThread`'s mailbox), like any P.
//!
//! Lock order: a channel's lock < `Bubble::st` (a close readies waiters under the channel
//! lock); `Bubble::st` < a registry shard lock; `TABLE` and `PPOOL` are leaves.

mod choose;

pub(crate) use choose::{splitmix, Plan, PCT_MAX_DEPTH, PCT_MAX_K};

use crate::g::{GRef, WaitReason};
use crate::loom::unmodelled::{AtomicU64, AtomicUsize, Condvar, Mutex};
use crate::m::{with_m, MShared, PSlot};
use crate::p::{PHandle, PShared};
use crate::park::Unparker;
use crate::timer::{Action, TimerId};
use choose::Chooser;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Private Ps have ids from here on (`Sched::ps` never holds them).
pub(crate) const BUBBLE_P_BASE: usize = 1 << 24;
/// Bubble Ms have ids from here on (never in `allm`; they only need to be distinct).
const BUBBLE_M_BASE: usize = 1 << 24;

/// Live bubbles. Relaxed: the gate of every hook outside the bubble's own code (one load,
/// predicted not taken, while no bubble exists); a bubble's own thread sees its increment by
/// program order.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Bubble threads alive (for the process-wide deadlock check, which counts runtime threads).
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// True while any bubble exists: every hook outside bubbles starts with this.
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.load(Relaxed) != 0
}

/// Bubble threads alive.
pub(crate) fn threads() -> usize {
    THREADS.load(SeqCst)
}

/// Whether `p` is a bubble's private P.
#[inline]
pub(crate) fn is_bubble_p(p: &PShared) -> bool {
    p.id >= BUBBLE_P_BASE
}

// ---- the table of bubbles ------------------------------------------------------------------

/// Live (and leaked) bubbles by key: `(generation << 16) | (slot + 1)`, so a key never names a
/// later bubble in the same slot, and 0 is "no bubble".
struct Table {
    slots: Vec<Option<Arc<Bubble>>>,
    gens: Vec<u16>,
    free: Vec<usize>,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    slots: Vec::new(),
    gens: Vec::new(),
    free: Vec::new(),
});

/// The bubble with key `key`, if it is still in the table.
pub(crate) fn lookup(key: u32) -> Option<Arc<Bubble>> {
    if key == 0 {
        return None;
    }
    let slot = (key & 0xffff) as usize - 1;
    let t = TABLE.lock();
    match (t.slots.get(slot), t.gens.get(slot)) {
        (Some(Some(b)), Some(&g)) if g == (key >> 16) as u16 => Some(b.clone()),
        _ => None,
    }
}

thread_local! {
    /// The bubble whose thread this is (bubble threads only).
    static CURRENT: RefCell<Option<Arc<Bubble>>> = const { RefCell::new(None) };
}

/// The bubble of the calling thread (a member G, or a bubble thread between Gs).
/// `#[inline(never)]`: a G may move to another bubble thread at a switch (a locked G's hand
/// over), so the thread-local's address must not be reused across one (coro.rs, point 3).
#[inline(never)]
pub(crate) fn current() -> Option<Arc<Bubble>> {
    if !active() {
        return None;
    }
    CURRENT.with(|c| c.borrow().clone())
}

/// The key of the calling thread's bubble, 0 outside bubbles (a channel's at creation).
#[inline]
pub(crate) fn current_key() -> u32 {
    if !active() {
        return 0;
    }
    current_key_slow()
}

#[inline(never)]
fn current_key_slow() -> u32 {
    CURRENT.with(|c| c.borrow().as_ref().map_or(0, |b| b.key))
}

// ---- members ---------------------------------------------------------------------------------

/// G ids are unique integers: a multiply-shift hash is enough (SipHash was a third of a
/// bubble's switch).
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap = HashMap<u64, u32, std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GState {
    Runnable,
    Running,
    Blocked,
    Exited,
}

struct GInfo {
    id: u64,
    name: Option<Arc<str>>,
    pos: (usize, usize),
    state: GState,
    reason: WaitReason,
    /// Its last channel wait (a `ChanReceive`, `ChanSend` or `Select` park) was on channels of
    /// this bubble only, so durable ([`chan_park`], set just before the park).
    chan_durable: bool,
}

impl GInfo {
    fn durable(&self) -> bool {
        durable(self.reason)
            || self.chan_durable
                && matches!(
                    self.reason,
                    WaitReason::ChanReceive | WaitReason::ChanSend | WaitReason::Select
                )
    }
}

/// What a bubble's thread holds between Gs.
struct State {
    gs: Vec<GInfo>,
    by_id: IdMap,
    /// Scratch for the candidates of a choice (no allocation per switch).
    cands: Vec<u32>,
    live: usize,
    runnable: Vec<GRef>,
    /// The member running now (set by `next`, cleared by `after_run`).
    running: Option<u32>,
    /// The member that ran last (PCT demotes it at a change point).
    last: Option<u32>,
    /// A preemption point chose this member: `next` runs it.
    forced: Option<u32>,
    /// The running member yielded for a preemption point (not a voluntary yield).
    preempted: bool,
    /// Virtual time: ns since the epoch (mirrored in `Bubble::now_ns`).
    now_ns: u64,
    timers: BinaryHeap<Reverse<(u64, u64, u64)>>,
    actions: HashMap<u64, Action>,
    seq: u64,
    /// The member in `synctest::wait`.
    waiter: Option<Unparker>,
    root_exited: bool,
    /// The loop waits on `cv` for an outside ready.
    idle: bool,
    chooser: Chooser,
    switches: u64,
    /// Panics that escaped a member: (G id, bubble index, message, taken by a join). An
    /// untaken one fails the run; taken ones are told with a failure, as its likely cause.
    panics: Vec<(u64, u32, String, bool)>,
    failure: Option<String>,
    /// Bubble threads with nothing to do, and threads waiting for the G wired to them.
    idle_threads: Vec<Arc<BThread>>,
    locked: Vec<Arc<BThread>>,
}

/// A bubble (module docs).
pub(crate) struct Bubble {
    pub(crate) key: u32,
    seed: u64,
    st: Mutex<State>,
    cv: Condvar,
    /// `State::now_ns`, readable without the lock (written under it).
    now_ns: AtomicU64,
    epoch: Instant,
    /// The root's join handle and the caller's reply channel: whichever bubble thread finds the
    /// bubble over reports (a locked G may have moved the loop to another thread).
    end: Mutex<Option<(RootHandle, crate::chan::Sender<Outcome>)>>,
}

type RootHandle = crate::JoinHandle<Result<(), String>>;

impl Bubble {
    /// The virtual now.
    pub(crate) fn now(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.now_ns.load(Relaxed))
    }

    fn ns(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// Registers a timer in the bubble's heap; it runs when the virtual clock reaches `when`.
    pub(crate) fn add_timer(&self, when: Instant, a: Action) -> TimerId {
        let w = self.ns(when);
        let mut st = self.st.lock();
        st.seq += 1;
        let seq = st.seq;
        let tie = st.chooser.draw();
        st.timers.push(Reverse((w, tie, seq)));
        st.actions.insert(seq, a);
        TimerId::bubble(self.key, seq)
    }

    fn cancel_timer(&self, seq: u64) -> bool {
        let a = self.st.lock().actions.remove(&seq);
        let had = a.is_some();
        drop(a); // outside the lock: an action's captures may be anything
        had
    }

    /// Makes `g` (which the caller holds) a member: registers it and wraps its task so that its
    /// end is seen. Called by the spawner on the private P (or from `spawn_outside_p`).
    fn adopt(self: &Arc<Self>, g: &mut GRef) {
        let idx = {
            let mut st = self.st.lock();
            let idx = st.gs.len() as u32;
            st.gs.push(GInfo {
                id: g.id(),
                name: g.name().cloned(),
                pos: g.registry_pos(),
                state: GState::Runnable,
                reason: WaitReason::None,
                chan_durable: false,
            });
            st.by_id.insert(g.id(), idx);
            st.live += 1;
            st.chooser.new_g(idx);
            idx
        };
        let inner = g.owned().entry.take().expect("a new G has its task");
        g.owned().entry = Some(crate::task::Entry::new(MemberTask {
            inner: Mutex::new(Some(inner)),
            bubble: self.clone(),
            idx,
        }));
        g.set_bubble_key(self.key);
    }

    fn exited(&self, idx: u32) {
        let mut st = self.st.lock();
        let id = st.gs[idx as usize].id;
        st.gs[idx as usize].state = GState::Exited;
        st.by_id.remove(&id);
        st.live -= 1;
        if idx == 0 {
            st.root_exited = true;
        }
    }

    /// A member is runnable: into the run set (from any thread).
    fn push(&self, g: GRef) {
        let mut st = self.st.lock();
        if let Some(&idx) = st.by_id.get(&g.id()) {
            st.gs[idx as usize].state = GState::Runnable;
        }
        st.runnable.push(g);
        if st.idle {
            self.cv.notify_one();
        }
    }

    /// The loop's decision (module docs): the next member to run, or `None` when the bubble is
    /// over (every member ended, or a deadlock, recorded in `failure`).
    fn next(&self) -> Option<GRef> {
        let mut st = self.st.lock();
        loop {
            // Timers due now run first (Go: a timer due now runs before `Wait` returns).
            if let Some(due) = st.take_due() {
                drop(st);
                for a in due {
                    a.run();
                }
                drain_private_p();
                st = self.st.lock();
                continue;
            }
            if !st.runnable.is_empty() {
                return Some(st.pick());
            }
            if st.live == 0 {
                return None;
            }
            if st.all_durable() {
                if let Some(u) = st.waiter.take() {
                    drop(st);
                    u.unpark();
                    st = self.st.lock();
                    continue;
                }
                if !st.root_exited {
                    if let Some(t) = st.next_when() {
                        st.now_ns = t;
                        self.now_ns.store(t, Relaxed);
                        continue;
                    }
                }
                let msg = st.deadlock_message();
                st.failure = Some(msg);
                return None;
            }
            // A member waits for something outside the bubble: so does the loop.
            st.idle = true;
            st = self.cv.wait(st);
            st.idle = false;
        }
    }

    /// After `execute` returned from member `idx`: it ended, yielded or parked.
    fn after_run(&self, idx: u32) {
        let (id, pos) = {
            let st = self.st.lock();
            let g = &st.gs[idx as usize];
            (g.id, g.pos)
        };
        // Read before taking the lock again (the registry's shard lock is taken alone here).
        let reason = crate::g::with_registered(pos, id, |g| g.wait_reason());
        let mut st = self.st.lock();
        st.running = None;
        let preempted = std::mem::take(&mut st.preempted);
        match st.gs[idx as usize].state {
            GState::Running => {
                let gi = &mut st.gs[idx as usize];
                gi.state = GState::Blocked;
                gi.reason = reason.unwrap_or(WaitReason::None);
            }
            GState::Runnable if !preempted => st.chooser.yielded(idx),
            _ => {}
        }
    }
}

impl State {
    /// Pops the timers due at `now_ns` (in (when, seeded tie) order), if any.
    fn take_due(&mut self) -> Option<Vec<Action>> {
        let mut due = Vec::new();
        while let Some(&Reverse((w, _, seq))) = self.timers.peek() {
            if w > self.now_ns {
                break;
            }
            self.timers.pop();
            if let Some(a) = self.actions.remove(&seq) {
                due.push(a);
            }
        }
        (!due.is_empty()).then_some(due)
    }

    /// The earliest live timer.
    fn next_when(&mut self) -> Option<u64> {
        while let Some(&Reverse((w, _, seq))) = self.timers.peek() {
            if self.actions.contains_key(&seq) {
                return Some(w);
            }
            self.timers.pop();
        }
        None
    }

    fn all_durable(&self) -> bool {
        self.gs.iter().all(|g| match g.state {
            GState::Exited => true,
            GState::Blocked => g.durable(),
            GState::Runnable | GState::Running => false,
        })
    }

    fn pick(&mut self) -> GRef {
        let idx_of = |st: &State, g: &GRef| st.by_id.get(&g.id()).copied().unwrap_or(u32::MAX);
        let forced = self
            .forced
            .take()
            .and_then(|f| self.runnable.iter().position(|g| idx_of(self, g) == f));
        let i = match forced {
            Some(i) => i,
            None => {
                let mut cands = std::mem::take(&mut self.cands);
                cands.clear();
                cands.extend(self.runnable.iter().map(|g| idx_of(self, g)));
                let last = self.last;
                let i = self.chooser.pick(&cands, last);
                self.cands = cands;
                i
            }
        };
        let g = self.runnable.swap_remove(i);
        let idx = idx_of(self, &g);
        if let Some(gi) = self.gs.get_mut(idx as usize) {
            gi.state = GState::Running;
        }
        if self.last != Some(idx) {
            self.switches += 1;
        }
        self.last = Some(idx);
        self.running = Some(idx);
        g
    }

    fn deadlock_message(&self) -> String {
        let mut out = if self.root_exited {
            String::from("deadlock: main bubble goroutine has exited but blocked goroutines remain")
        } else {
            String::from("deadlock: all goroutines in bubble are blocked")
        };
        for (i, g) in self.gs.iter().enumerate() {
            if g.state == GState::Exited {
                continue;
            }
            let name = g
                .name
                .as_ref()
                .map(|n| format!(" '{n}'"))
                .unwrap_or_default();
            let root = if i == 0 { " (root)" } else { "" };
            let d = if g.chan_durable && !durable(g.reason) {
                " (durable)"
            } else {
                ""
            };
            let _ = write!(
                out,
                "\n  goroutine #{i}{name}{root} [{}{d}]",
                g.reason.as_str()
            );
        }
        out
    }
}

/// Whether a member parked for `r` is durably blocked (module docs).
fn durable(r: WaitReason) -> bool {
    use WaitReason::*;
    matches!(
        r,
        WaitGroupWaitDurable
            | JoinDurable
            | SynctestWait
            | Sleep
            | MutexLock
            | RwLockRead
            | RwLockWrite
            | CondWait
            | Semacquire
            | BarrierWait
            | OnceWait
    )
}

/// A member's task: the real one, then the bubble is told the member ended (on the G, after
/// the task's own exit protocol: join.rs).
struct MemberTask {
    inner: Mutex<Option<crate::g::Entry>>,
    bubble: Arc<Bubble>,
    idx: u32,
}

impl crate::task::Runnable for MemberTask {
    fn run(this: crate::task::TaskPtr<Self>) {
        let inner = this.inner.lock().take();
        if let Some(t) = inner {
            t.run();
        }
        this.bubble.exited(this.idx);
    }

    fn abandon(this: crate::task::TaskPtr<Self>, why: String) {
        let inner = this.inner.lock().take();
        if let Some(t) = inner {
            t.abandon(why);
        }
        this.bubble.exited(this.idx);
    }
}

// ---- hooks called by the engine ---------------------------------------------------------------

/// `Sched::ready_g`/`global_put`: member `g` is runnable (its key is non-zero).
pub(crate) fn ready(g: GRef) {
    let key = g.bubble_key();
    // On the bubble's own thread (a member readying another, a bubble timer): no table lookup.
    let mut g = Some(g);
    CURRENT.with(|c| {
        if let Some(b) = c.borrow().as_ref() {
            if b.key == key {
                b.push(g.take().expect("once"));
            }
        }
    });
    let Some(g) = g else { return };
    match lookup(key) {
        Some(b) => b.push(g),
        None => crate::fatal::fatal!("G{} belongs to a bubble that no longer exists", g.id()),
    }
}

/// `Sched::injectglist` (gated by [`active`]): routes the members of a batch to their bubbles.
pub(crate) fn route_batch(gs: &mut Vec<GRef>) {
    let mut i = 0;
    while i < gs.len() {
        if gs[i].bubble_key() != 0 {
            let g = gs.swap_remove(i);
            g.set_status(crate::g::GStatus::Runnable);
            ready(g);
        } else {
            i += 1;
        }
    }
}

/// `Sched::spawn_g` on a private P: `g` is a member of the calling thread's bubble.
pub(crate) fn adopt(g: &mut GRef) {
    match current() {
        Some(b) => b.adopt(g),
        None => crate::fatal::fatal!("a G spawned on a bubble's P outside its thread"),
    }
}

/// `Sched::spawn_g` from a member that has no P at hand (inside `blocking`): the record is made
/// here and the G routed to the bubble. `None` outside bubbles.
pub(crate) fn spawn_outside_p(
    name: Option<Arc<str>>,
    stack_size: usize,
    stack_reserved: bool,
    entry: &mut Option<crate::g::Entry>,
    site: crate::g::Site,
) -> Option<u64> {
    let b = current()?;
    let id = crate::g::goid_single();
    let spawn = crate::g::SpawnInfo {
        site: Some(site),
        parent: crate::current_goid(),
    };
    let mut g = GRef::alloc(None, id, name, spawn, stack_size, entry.take()?);
    g.owned().stack_reserved = stack_reserved;
    b.adopt(&mut g);
    g.set_status(crate::g::GStatus::Runnable);
    b.push(g);
    Some(id)
}

/// A preemption point (module docs): in a bubble, the running member may be switched for
/// another runnable one, as the generator says. Returns whether the caller is in a bubble.
pub(crate) fn preempt_point() -> bool {
    let Some(b) = current() else { return false };
    if !crate::coro::on_g_stack() {
        return true;
    }
    let switch = {
        let mut st = b.st.lock();
        match st.running {
            Some(cur) if !st.runnable.is_empty() => {
                let mut cands = std::mem::take(&mut st.cands);
                cands.clear();
                cands.push(cur);
                let by_id = &st.by_id;
                cands.extend(
                    st.runnable
                        .iter()
                        .map(|g| by_id.get(&g.id()).copied().unwrap_or(u32::MAX)),
                );
                let i = st.chooser.pick(&cands, Some(cur));
                let switch = i != 0;
                if switch {
                    st.forced = Some(cands[i]);
                    st.preempted = true;
                }
                st.cands = cands;
                switch
            }
            _ => false,
        }
    };
    if switch {
        crate::park::yield_now();
    }
    true
}

/// A uniform draw in `0..n` from the calling bubble's generator (a select's arm order), or
/// `None` outside bubbles.
pub(crate) fn rand_below(n: usize) -> Option<usize> {
    let b = current()?;
    let x = b.st.lock().chooser.below(n.max(1));
    Some(x)
}

/// `sched::can_spin` in a bubble: whether a contended lock spins (round `iter`). With one M
/// spinning cannot see the holder run, so a spin here is a yield to the generator's pick, and
/// then one more look at the lock. `None` outside bubbles.
pub(crate) fn spin_choice(iter: u32) -> Option<bool> {
    let b = current()?;
    if iter >= 4 || !crate::coro::on_g_stack() {
        return Some(false);
    }
    let spin = b.st.lock().chooser.coin();
    drop(b);
    if spin {
        crate::park::yield_now();
    }
    Some(spin)
}

/// A coin from the calling bubble's generator (a `Mutex` waiter's starvation verdict, which
/// outside bubbles is "waited more than 1 ms" of real time), or `None` outside bubbles.
pub(crate) fn coin() -> Option<bool> {
    let b = current()?;
    let c = b.st.lock().chooser.coin();
    Some(c)
}

/// `timer::add` and friends (gated by [`active`]): into the calling thread's bubble's heap, or
/// the action back for the global heaps.
pub(crate) fn try_add_timer(when: Instant, a: Action) -> Result<TimerId, Action> {
    match current() {
        Some(b) => Ok(b.add_timer(when, a)),
        None => Err(a),
    }
}

/// A timer of the bubble with key `key` (a timer channel's, whatever thread arms it), or the
/// action back when the bubble is gone.
pub(crate) fn add_timer_in(key: u32, when: Instant, a: Action) -> Result<TimerId, Action> {
    match lookup(key) {
        Some(b) => Ok(b.add_timer(when, a)),
        None => Err(a),
    }
}

/// `timer::cancel` of a bubble timer.
pub(crate) fn cancel_timer(key: u32, seq: u64) -> bool {
    lookup(key).is_some_and(|b| b.cancel_timer(seq))
}

/// The clock of the bubble with key `key` (a timer channel's), real time for 0.
pub(crate) fn clock_of(key: u32) -> Instant {
    match lookup(key) {
        Some(b) => b.now(),
        None => Instant::now(),
    }
}

/// A channel op that is about to wait, on a channel of the bubble with key `key` (non-zero):
/// panics if the caller is in another bubble, or outside every bubble while that bubble lives
/// (Go makes both fatal; a channel outliving its bubble is not checked).
pub(crate) fn check_member(key: u32, what: &str) {
    let cur = current_key();
    if cur == key {
        return;
    }
    if cur != 0 || lookup(key).is_some() {
        panic!(
            "gort::synctest: {what} a channel or timer of a synctest bubble from outside the \
             bubble (a bubble's channels and timers belong to it: pass values out, not them)"
        );
    }
}

/// A channel wait is about to begin (gated by [`active`]) on channels of the bubbles `keys`
/// (0: made outside bubbles): a member may wait only on its own bubble's channels or outside
/// ones (else the caller panics, see [`check_member`]), and the wait is durable if they are
/// all its bubble's.
pub(crate) fn chan_park(keys: impl Iterator<Item = u32>, what: &str) {
    let cur = current_key();
    let mut all = true;
    for k in keys {
        if k != 0 && k != cur {
            check_member(k, what);
        }
        all &= k != 0 && k == cur;
    }
    if cur == 0 {
        return;
    }
    if let Some(b) = current() {
        let mut st = b.st.lock();
        if let Some(i) = st.running {
            if let Some(g) = st.gs.get_mut(i as usize) {
                g.chan_durable = all;
            }
        }
    }
}

/// The wait reason of a join of G `id`: durable when the joiner and `id` are members of the
/// same bubble.
pub(crate) fn join_reason(id: u64) -> WaitReason {
    if active() {
        if let Some(b) = current() {
            if b.st.lock().by_id.contains_key(&id) {
                return WaitReason::JoinDurable;
            }
        }
    }
    WaitReason::Join
}

/// `reason`, made durable when the caller is in a bubble (errgroup and scope waits, whose
/// members the caller spawned).
pub(crate) fn durable_in_bubble(reason: WaitReason, durable: WaitReason) -> WaitReason {
    if active() && current().is_some() {
        durable
    } else {
        reason
    }
}

/// A member's closure panicked (join.rs, on the G): the bubble fails unless a join takes it.
pub(crate) fn g_panicked(msg: &str) {
    let Some(b) = current() else { return };
    let Some((id, _)) = crate::current_info() else {
        return;
    };
    let mut st = b.st.lock();
    if let Some(&idx) = st.by_id.get(&id) {
        st.panics.push((id, idx, msg.to_string(), false));
    }
}

/// A join took the panic of G `id`: it was handled.
pub(crate) fn panic_joined(id: u64) {
    if let Some(b) = current() {
        for p in b.st.lock().panics.iter_mut().filter(|p| p.0 == id) {
            p.3 = true;
        }
    }
}

/// `synctest::wait`: parks the calling member until every other member is durably blocked.
pub(crate) fn wait() {
    let b = match current() {
        Some(b) if crate::coro::on_g_stack() => b,
        _ => panic!("gort::synctest::wait called outside a synctest bubble"),
    };
    if b.st.lock().waiter.is_some() {
        panic!("gort::synctest::wait: wait already in progress");
    }
    let b2 = b.clone();
    drop(b);
    crate::park::park(WaitReason::SynctestWait, move |u| {
        b2.st.lock().waiter = Some(u);
        None
    });
}

// ---- bubble threads and the private P ------------------------------------------------------

/// Private Ps not in use (a P's caches stay with it).
static PPOOL: Mutex<Vec<PHandle>> = Mutex::new(Vec::new());
static NEXT_P: AtomicUsize = AtomicUsize::new(0);
static NEXT_M: AtomicUsize = AtomicUsize::new(0);

fn take_p() -> PHandle {
    if let Some(p) = PPOOL.lock().pop() {
        return p;
    }
    let id = BUBBLE_P_BASE + NEXT_P.fetch_add(1, Relaxed);
    // Leaked, as every P is (they live for the process); pooled for the next bubble.
    let p: &'static PShared = Box::leak(Box::new(PShared::new(id)));
    p.initial_handle()
}

fn put_p(p: PHandle) {
    // Records of dead members cached on the P keep their key until reused (`GRef::reuse`
    // clears it); none of them is alive.
    PPOOL.lock().push(p.make_idle());
}

/// Non-members readied on the bubble's thread land in the private P's runnext or queue: move
/// them to the global queue (module docs, "Routing").
fn drain_private_p() {
    let s = crate::sched();
    let mut moved = Vec::new();
    crate::sched::with_current_p(|shared, local| {
        if !shared.has_work() {
            return;
        }
        if let Some(g) = shared.take_runnext() {
            moved.push(g);
        }
        while let Some(g) = local.runq.pop() {
            moved.push(g);
        }
    });
    if moved.is_empty() {
        return;
    }
    for g in moved {
        s.global_put(g);
    }
    s.wakep();
}

/// What a bubble thread is handed.
enum Msg {
    /// Run the loop with the private P, starting with this G (a G wired to this thread).
    Run(PHandle, Option<GRef>),
    Exit,
}

/// A bubble thread: its M identity and its mailbox.
pub(crate) struct BThread {
    m: &'static MShared,
    mail: Mutex<Option<Msg>>,
    cv: Condvar,
}

impl BThread {
    fn new() -> Arc<BThread> {
        let id = BUBBLE_M_BASE + NEXT_M.fetch_add(1, Relaxed);
        Arc::new(BThread {
            // Leaked like every M's shared part (lockedg/curg are read through it).
            m: Box::leak(Box::new(MShared::new(id))),
            mail: Mutex::new(None),
            cv: Condvar::new(),
        })
    }

    fn send(&self, m: Msg) {
        *self.mail.lock() = Some(m);
        self.cv.notify_one();
    }

    fn recv(&self) -> Msg {
        let mut g = self.mail.lock();
        loop {
            if let Some(m) = g.take() {
                return m;
            }
            g = self.cv.wait(g);
        }
    }
}

type Root = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// How a run ended, for `synctest.rs`.
pub(crate) struct Outcome {
    pub(crate) seed: u64,
    pub(crate) schedule_hash: u64,
    pub(crate) switches: u64,
    pub(crate) steps: u64,
    pub(crate) elapsed: Duration,
    pub(crate) goroutines: usize,
    /// Why the run failed (a deadlock, the root's panic or error, a member's panic).
    pub(crate) failure: Option<String>,
    /// The root's panic payload, to re-raise.
    pub(crate) root_panic: Option<Box<dyn std::any::Any + Send>>,
}

/// Runs `root` in a new bubble under the schedule `seed`; returns when every member ended or
/// the bubble deadlocked. Panics if called inside a bubble.
pub(crate) fn run(seed: u64, root: Root) -> Outcome {
    if current().is_some() {
        panic!("gort::synctest::test called inside a synctest bubble (bubbles do not nest)");
    }
    let epoch = crate::timer::from_ns(0);
    let b = {
        let mut t = TABLE.lock();
        let slot = match t.free.pop() {
            Some(s) => s,
            None => {
                assert!(
                    t.slots.len() < 0xffff,
                    "gort::synctest: too many bubbles at once"
                );
                t.slots.push(None);
                t.gens.push(0);
                t.slots.len() - 1
            }
        };
        t.gens[slot] = t.gens[slot].wrapping_add(1);
        let key = (t.gens[slot] as u32) << 16 | (slot as u32 + 1);
        let b = Arc::new(Bubble {
            key,
            seed,
            st: Mutex::new(State {
                gs: Vec::new(),
                by_id: IdMap::default(),
                cands: Vec::new(),
                live: 0,
                runnable: Vec::new(),
                running: None,
                last: None,
                forced: None,
                preempted: false,
                now_ns: 0,
                timers: BinaryHeap::new(),
                actions: HashMap::new(),
                seq: 0,
                waiter: None,
                root_exited: false,
                idle: false,
                chooser: Chooser::new(Plan::decode(seed)),
                switches: 0,
                panics: Vec::new(),
                failure: None,
                idle_threads: Vec::new(),
                locked: Vec::new(),
            }),
            cv: Condvar::new(),
            now_ns: AtomicU64::new(0),
            epoch,
            end: Mutex::new(None),
        });
        t.slots[slot] = Some(b.clone());
        b
    };
    ACTIVE.fetch_add(1, SeqCst);
    let (tx, rx) = crate::chan::bounded::<Outcome>(1);
    let p = take_p();
    let first = BThread::new();
    let b2 = b.clone();
    start_thread(first, b2, Msg::Run(p, None), Some((root, tx)));
    let out = rx.recv().unwrap_or_else(|_| {
        crate::fatal::fatal!("a synctest bubble's thread ended without a result")
    });
    drop(b);
    out
}

fn start_thread(
    t: Arc<BThread>,
    b: Arc<Bubble>,
    first: Msg,
    root: Option<(Root, crate::chan::Sender<Outcome>)>,
) {
    THREADS.fetch_add(1, SeqCst);
    let name = format!("gort-bubble-m{}", t.m.id);
    let r = std::thread::Builder::new()
        .name(name)
        .spawn(move || thread_main(t, b, first, root));
    if let Err(e) = r {
        crate::fatal::fatal!("failed to create an OS thread for a synctest bubble: {e}");
    }
}

/// A bubble thread's life: set up as an M of the bubble, run the loop whenever handed the P.
fn thread_main(
    me: Arc<BThread>,
    b: Arc<Bubble>,
    first: Msg,
    mut root: Option<(Root, crate::chan::Sender<Outcome>)>,
) {
    if let Err(e) = crate::signal::init_thread() {
        eprintln!("gort: bubble thread: no alternate signal stack ({e})");
    }
    with_m(|l| l.m.set(Some(me.m)));
    CURRENT.with(|c| *c.borrow_mut() = Some(b.clone()));
    crate::sync::pool::m_started();
    let mut msg = first;
    loop {
        match msg {
            Msg::Exit => break,
            Msg::Run(p, g) => {
                crate::sched::set_p(PSlot::Owned(p.adopt(me.m.id)));
                if let Some((f, tx)) = root.take() {
                    // The root: spawned on the private P, so it is member #0.
                    let h = crate::spawn(f);
                    *b.end.lock() = Some((h, tx));
                }
                match run_loop(&b, &me, g) {
                    LoopEnd::Over => {
                        finish(&b);
                        break;
                    }
                    LoopEnd::HandedOff => {}
                    LoopEnd::Exit => break,
                }
            }
        }
        msg = me.recv();
    }
    crate::sync::pool::m_release();
    CURRENT.with(|c| *c.borrow_mut() = None);
    with_m(|l| l.m.set(None));
    THREADS.fetch_sub(1, SeqCst);
}

enum LoopEnd {
    /// The bubble is over (this thread holds the P and reports).
    Over,
    /// The P went to another bubble thread; wait for the mailbox.
    HandedOff,
    /// This thread must end (its G ended inside `lock_os_thread`); the P went on.
    Exit,
}

fn run_loop(b: &Arc<Bubble>, me: &Arc<BThread>, mut first: Option<GRef>) -> LoopEnd {
    let s = crate::sched();
    loop {
        let g = match first.take() {
            Some(g) => g,
            None => match b.next() {
                Some(g) => g,
                None => return LoopEnd::Over,
            },
        };
        // A member wired to another bubble thread runs there: hand it the P with the G.
        let locked = g.locked_m.load(Relaxed);
        if locked != 0 && locked != me.m.id + 1 {
            let p = crate::sched::take_owned_p();
            let t = {
                let mut st = b.st.lock();
                let i = st.locked.iter().position(|t| t.m.id + 1 == locked);
                let t = i.map(|i| st.locked.swap_remove(i));
                st.idle_threads.push(me.clone());
                t
            };
            match t {
                Some(t) => t.send(Msg::Run(p, Some(g))),
                None => {
                    crate::fatal::fatal!("G{} is wired to a bubble thread that is gone", g.id())
                }
            }
            return LoopEnd::HandedOff;
        }
        let idx = {
            let mut st = b.st.lock();
            let idx = st.by_id.get(&g.id()).copied().unwrap_or(u32::MAX);
            if let Some(gi) = st.gs.get_mut(idx as usize) {
                gi.state = GState::Running;
            }
            st.running = Some(idx);
            idx
        };
        s.execute_g(me.m, g);
        b.after_run(idx);
        drain_private_p();
        let (lockedg, exiting) = with_m(|m| (m.lockedg.get(), m.exiting.get()));
        if exiting {
            with_m(|m| m.exiting.set(false));
            hand_off(b);
            return LoopEnd::Exit;
        }
        if lockedg != 0 {
            b.st.lock().locked.push(me.clone());
            hand_off(b);
            return LoopEnd::HandedOff;
        }
    }
}

/// Gives the private P to another bubble thread (an idle one, or a new one) to go on with the
/// loop.
fn hand_off(b: &Arc<Bubble>) {
    let p = crate::sched::take_owned_p();
    let idle = b.st.lock().idle_threads.pop();
    match idle {
        Some(t) => t.send(Msg::Run(p, None)),
        None => start_thread(BThread::new(), b.clone(), Msg::Run(p, None), None),
    }
}

/// The bubble is over: collect the outcome, release the P, the threads and the table slot (or
/// leak the bubble with its members if some are left), and tell the caller.
fn finish(b: &Arc<Bubble>) {
    drain_private_p();
    let p = crate::sched::take_owned_p();
    let (root_h, reply) = match b.end.lock().take() {
        Some((h, tx)) => (Some(h), Some(tx)),
        None => (None, None),
    };
    // The root ended if the bubble is not deadlocked: its result is in (no wait).
    let (root_failure, root_panic) = match root_h {
        Some(h) if h.is_finished() => match h.join() {
            Ok(Ok(())) => (None, None),
            Ok(Err(e)) => (Some(format!("the test returned an error: {e}")), None),
            Err(p) => (
                Some(format!(
                    "the root green thread panicked: {}",
                    payload_str(&*p)
                )),
                Some(p),
            ),
        },
        Some(h) => {
            // Deadlocked with the root still parked: leaked with the bubble.
            std::mem::forget(h);
            (None, None)
        }
        None => (None, None),
    };
    let (out, leftover, idle) = {
        let mut st = b.st.lock();
        let mut failure = st.failure.take();
        if let Some(r) = root_failure {
            failure = Some(match failure {
                Some(f) => format!("{r}\n{f}"),
                None => r,
            });
        }
        if failure.is_none() {
            if let Some((_, idx, msg, _)) = st.panics.iter().find(|p| !p.3) {
                failure = Some(format!("green thread #{idx} of the bubble panicked: {msg}"));
            }
        }
        if let Some(f) = &mut failure {
            // Other members' panics are the likely cause (a join that unwrapped one, say).
            for (_, idx, msg, _) in st.panics.iter().filter(|p| p.1 != 0) {
                let line = format!("green thread #{idx} of the bubble panicked: {msg}");
                if !f.contains(&line) {
                    let _ = write!(f, "\n  (before that, {line})");
                }
            }
        }
        let out = Outcome {
            seed: b.seed,
            schedule_hash: st.chooser.hash,
            switches: st.switches,
            steps: st.chooser.steps,
            elapsed: Duration::from_nanos(st.now_ns),
            goroutines: st.gs.len(),
            failure,
            root_panic,
        };
        let leftover = st.live > 0;
        if !leftover {
            // Nothing can wake a timer action any more: drop them (after-funcs that never ran,
            // Go's TestTimerAfterBubbleExit), outside the lock.
            st.timers.clear();
        }
        let actions = if leftover {
            HashMap::new()
        } else {
            std::mem::take(&mut st.actions)
        };
        let idle = std::mem::take(&mut st.idle_threads);
        (out, (leftover, actions), idle)
    };
    let (leftover, actions) = leftover;
    drop(actions);
    put_p(p);
    for t in idle {
        t.send(Msg::Exit);
    }
    {
        let mut t = TABLE.lock();
        let slot = (b.key & 0xffff) as usize - 1;
        if leftover {
            // Its members are parked for good (and may hold its timers' unparkers): it stays
            // in the table, so a late outside ready of one of them finds it.
        } else {
            t.slots[slot] = None;
            t.free.push(slot);
        }
    }
    ACTIVE.fetch_sub(1, SeqCst);
    if let Some(tx) = reply {
        let _ = tx.send(out);
    }
}

fn payload_str(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}
