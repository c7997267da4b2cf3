//! The loom model harness (`--cfg loom` only; re-exported as `gort_runtime::model`).
//!
//! It lets `loom-tests/` drive the real scheduler code from loom threads. Everything here is a
//! *seam* (docs/loom.md): the smallest stand-in for what loom cannot run, around the real code.
//!
//! * **The scheduler.** [`Model::new`] builds a real [`Sched`] with N Ps inside the current
//!   `loom::model` execution and installs it as `crate::sched()` (a plain std pointer, not a
//!   loom object: executions run one after another). Dropping the `Model` frees it, so no loom
//!   object outlives its execution (loom checks that).
//! * **Gs without coroutines.** [`Model::new_g`] makes a real `G` record with an empty entry;
//!   it never gets a stack or a coroutine. "Executing" a G in a model is being dequeued by an M
//!   (`find_runnable` returned it), or running on after a cancelled park ([`Handle::park_g`]).
//!   Each execution is recorded ([`Handle::ran`]) and passed to the model's `on_run` hook, so a
//!   model can touch the G's "stack" (a loom `UnsafeCell`) and let loom catch two Ms running one
//!   G at once.
//! * **Ms.** Under loom, `Sched::newm` calls [`spawn_m`]: a loom thread running [`m_loop`], the
//!   real M steps (`acquirep`, `find_runnable`, `reset_spinning`, `stopm` inside
//!   `find_runnable`) with `execute` replaced by "record the G and drop it". An M ends only when
//!   it dequeues an *exit G* ([`EXIT_G`]), which [`Model::shutdown`] hands, with an idle P, to
//!   each parked M once the model's work is done. So an M that parks while work is queued stays
//!   parked: if every thread then blocks, loom reports a deadlock. That is how a lost wakeup
//!   shows.
//! * **park.** [`Handle::park_g`] is what `park` + `execute` do around the switch, minus the
//!   switch: it builds the real callback (`park::park_callback`), wraps it in the real
//!   `ParkFn`, marks the G waiting and calls it with the G's `GRef`, as `execute`'s Park arm
//!   does after `resume` returned.

use super::{take_owned_p, with_m, with_owned_p_opt, GStatus, Ordering, PSlot, Sched, Wakeup};
use crate::coro::ParkFn;
use crate::g::{GRef, WaitReason};
use crate::loom::atomic::AtomicUsize;
use crate::loom::{Condvar, Mutex};
use crate::m::MShared;
use crate::p::PHandle;
use crate::park::Unparker;
use crate::runq::Steal;

/// A G's work in a model: nothing (a model G "runs" by being dequeued).
struct Nop;

impl crate::task::Runnable for Nop {
    fn run(_: crate::task::TaskPtr<Self>) {}
    fn abandon(_: crate::task::TaskPtr<Self>, _why: String) {}
}

/// A G record with no stack and no coroutine.
fn model_g(id: u64) -> GRef {
    GRef::alloc(
        None,
        id,
        None,
        crate::g::SpawnInfo::NONE,
        0,
        crate::task::Entry::new(Nop),
    )
}

/// The M id a `with_p` thread uses as its P-owner tag (it is not an M).
const WITH_P_TAG: usize = usize::MAX >> 9;

/// The id of the G that tells a model M to exit (see the module docs).
pub const EXIT_G: u64 = u64::MAX;

type OnRun = Box<dyn Fn(u64) + Send + Sync>;

/// One execution's state: the scheduler and what the harness records.
struct Ctx {
    sched: Sched,
    /// Ids of the Gs executed so far, in order (exit Gs not counted).
    ran: Mutex<Vec<u64>>,
    ran_cv: Condvar,
    /// Called with a G's id each time it is executed (before it is recorded).
    on_run: Option<OnRun>,
    /// Model Ms started and not yet exited. Decremented under `Sched::lock`.
    live_ms: AtomicUsize,
    /// Paired with `Sched::lock`: notified when an M parks (`stopm`) or exits.
    idle_cv: Condvar,
    handles: Mutex<Vec<loom::thread::JoinHandle<()>>>,
    /// The largest `nmspinning` any M saw at a checkpoint (see `check_spinning`).
    max_spinning: AtomicUsize,
}

std::thread_local! {
    /// The running execution's context. Not a loom object: a plain pointer, set by `Model::new`
    /// and cleared by its drop. A std thread-local: loom runs one execution at a time, all of its
    /// threads on the OS thread that called `loom::model` (so two models in parallel test threads
    /// do not meet).
    static CURRENT: std::cell::Cell<*mut Ctx> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

fn ctx() -> &'static Ctx {
    let p = CURRENT.with(|c| c.get());
    assert!(
        !p.is_null(),
        "gort: no loom model is running (create a model::Model first)"
    );
    // SAFETY: set from a leaked Box by `Model::new` and freed only by `Model::drop`, which clears
    // it first; the harness requires every model thread to have finished by then.
    unsafe { &*p }
}

/// `crate::sched()` under loom.
pub(crate) fn current() -> &'static Sched {
    &ctx().sched
}

/// Owns one execution's scheduler; create it inside `loom::model`, drop it at the end.
pub struct Model {
    h: Handle,
}

/// A copyable reference to the running model, for model threads. Valid until the `Model` drops.
#[derive(Clone, Copy)]
pub struct Handle(&'static Ctx);

impl Model {
    /// A scheduler with `nprocs` idle Ps, no Ms and no Gs.
    pub fn new(nprocs: usize) -> Model {
        Model::with_on_run(nprocs, None)
    }

    /// As [`Model::new`], with a hook called with each executed G's id on the executing thread.
    pub fn with_on_run(nprocs: usize, on_run: Option<OnRun>) -> Model {
        let n = nprocs.to_string();
        let (cfg, warnings) =
            crate::env::Config::parse(|k| (k == "GORT_MAXPROCS").then(|| n.clone()));
        assert!(warnings.is_empty(), "{warnings:?}");
        let c = Box::new(Ctx {
            sched: Sched::new(cfg),
            ran: Mutex::new(Vec::new()),
            ran_cv: Condvar::new(),
            on_run,
            live_ms: AtomicUsize::new(0),
            idle_cv: Condvar::new(),
            handles: Mutex::new(Vec::new()),
            max_spinning: AtomicUsize::new(0),
        });
        let p = Box::into_raw(c);
        let prev = CURRENT.with(|c| c.replace(p));
        assert!(prev.is_null(), "gort: a loom model is already running");
        // SAFETY: just leaked; freed only in `drop`.
        let ctx: &'static Ctx = unsafe { &*p };
        Model { h: Handle(ctx) }
    }

    /// A handle for model threads.
    pub fn handle(&self) -> Handle {
        self.h
    }

    /// Ends the model: hands every parked M an exit G (on an idle P) until all model Ms have
    /// exited, then joins them. Call once the model's work is done (after `wait_ran`).
    pub fn shutdown(&self) {
        let c = self.h.0;
        let s = &c.sched;
        let mut l = s.lock.lock();
        while c.live_ms.load(Ordering::SeqCst) > 0 {
            if l.idle_m.is_empty() || l.idle_p.is_empty() {
                // An M is still on its way to park (or to exit): `stopm` and the exit path
                // notify under `Sched::lock`.
                l = c.idle_cv.wait(l);
                continue;
            }
            let m = l.idle_m.pop().unwrap();
            s.nmidle.fetch_sub(1, Ordering::Relaxed);
            let p = s.pidleget(&mut l).unwrap();
            drop(l);
            let exit = model_g(EXIT_G);
            let old = crate::p::put_runnext_shared(p.shared(), exit);
            assert!(old.is_none(), "an idle P had a G in runnext");
            m.wake(Wakeup {
                p,
                spinning: false,
                g: None,
            });
            l = s.lock.lock();
        }
        drop(l);
        let hs = std::mem::take(&mut *c.handles.lock());
        for h in hs {
            h.join().unwrap();
        }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        let p = CURRENT.with(|c| c.replace(std::ptr::null_mut()));
        if std::thread::panicking() {
            // A failing execution: loom is about to report it; threads may still reference the
            // context, so leak it rather than free it under them.
            return;
        }
        // SAFETY: `p` is the box leaked in `new`; every model thread has finished (the harness
        // contract), so nothing references it any more.
        drop(unsafe { Box::from_raw(p) });
    }
}

impl Handle {
    /// A G record (status Idle, no stack, no coroutine) with the given id.
    pub fn new_g(&self, id: u64) -> GRef {
        assert_ne!(id, EXIT_G);
        model_g(id)
    }

    /// Makes `g` runnable from this thread: `Sched::ready_g` (runnext of this M's P, or the
    /// global queue from a plain thread, then `wakep`).
    pub fn ready(&self, g: GRef) {
        current().ready_g(g, true);
    }

    /// `Sched::wakep` from this thread.
    pub fn wakep(&self) {
        current().wakep();
    }

    /// Starts a model M on an idle P (none if every P is taken: returns false). `first` runs on
    /// the new M, holding the P, before its scheduling loop: the code of a G that was running
    /// there (it may `ready`, `park_g`, ...).
    pub fn start_m(&self, spinning: bool, first: impl FnOnce() + Send + 'static) -> bool {
        self.start_m_on(None, spinning, first)
    }

    /// As [`Handle::start_m`], on idle P `id` if given (false if it is not idle).
    pub fn start_m_on(
        &self,
        id: Option<usize>,
        spinning: bool,
        first: impl FnOnce() + Send + 'static,
    ) -> bool {
        let s = current();
        let p = {
            let mut l = s.lock.lock();
            if let Some(id) = id {
                let Some(i) = l.idle_p.iter().position(|p| p.id() == id) else {
                    return false;
                };
                let last = l.idle_p.len() - 1;
                l.idle_p.swap(i, last);
            }
            match s.pidleget(&mut l) {
                Some(p) => p,
                None => return false,
            }
        };
        if spinning {
            s.nmspinning.fetch_add(1, Ordering::SeqCst);
        }
        let id = s.mcount.fetch_add(1, Ordering::Relaxed) + 1;
        let m: &'static MShared = Box::leak(Box::new(MShared::new(id)));
        s.allm.lock().push(m);
        spawn_m(
            s,
            m,
            Wakeup {
                p,
                spinning,
                g: None,
            },
            Some(Box::new(first)),
        )
        .unwrap();
        true
    }

    /// Records that `g` executed (calls the `on_run` hook) and frees it.
    pub fn ran(&self, g: GRef) {
        let c = self.0;
        if let Some(f) = &c.on_run {
            f(g.id());
        }
        c.ran.lock().push(g.id());
        c.ran_cv.notify_all();
        drop(g);
    }

    /// Blocks until `n` Gs have executed; returns their ids in execution order. If a G is lost,
    /// this never returns, and loom reports the deadlock.
    pub fn wait_ran(&self, n: usize) -> Vec<u64> {
        let c = self.0;
        let mut r = c.ran.lock();
        while r.len() < n {
            r = c.ran_cv.wait(r);
        }
        r.clone()
    }

    /// The park of a G that was running on this M, as `park::park` + `execute` do it around the
    /// switch: the real callback (`park::park_callback`) in the real `ParkFn`, called with the G
    /// after marking it waiting. `None`: `register` kept the `Unparker` (the G is parked; whoever
    /// unparks it readies it). `Some(g)`: the park was cancelled and the G runs on here.
    pub fn park_g<F>(&self, g: GRef, register: F) -> Option<GRef>
    where
        F: FnOnce(Unparker) -> Option<Unparker>,
    {
        // G side (`park`): build the callback; then the switch, which loom cannot run.
        let mut cb = crate::park::park_callback(WaitReason::ChanReceive, register);
        let f = ParkFn::new(&mut cb, WaitReason::ChanReceive);
        // M side (`execute`, `Resumed::Suspended(Suspend::Park(f))`).
        g.set_status(GStatus::Waiting);
        #[cfg(gort_mutate = "park_early_publish")]
        let id = g.id();
        // SAFETY: `cb` is alive on this frame, and is called once, before anything resumes the G
        // (the G is represented by `g`, which we hand over right here).
        let r = unsafe { f.call(g) };
        // Mutation (docs/loom.md): the design park.rs rejects, where the G is published while it
        // still runs on its stack. The G's code touches its stack after `register` stored the
        // `Unparker`; loom model 3 must report a race with the M that resumes it.
        #[cfg(gort_mutate = "park_early_publish")]
        if r.is_none() {
            if let Some(f) = &ctx().on_run {
                f(id);
            }
        }
        r
    }

    /// Counters for the model's final checks: (nmspinning, npidle, nprocs, nglobal).
    pub fn counters(&self) -> (usize, usize, usize, usize) {
        let s = &self.0.sched;
        (
            s.nmspinning.load(Ordering::SeqCst),
            s.npidle.load(Ordering::SeqCst),
            s.nprocs(),
            s.lock.lock().global.len(),
        )
    }

    /// `Sched::resize` (`set_maxprocs`'s protocol, R1) from this thread; returns the old count.
    pub fn resize(&self, n: usize) -> usize {
        current().resize(n, false)
    }

    /// P `id`'s `life` word: 0 live, 1 retiring, 2 dead (sched.rs, "Resizing the Ps").
    pub fn p_life(&self, id: usize) -> u8 {
        current().all_ps()[id].life.load(Ordering::SeqCst)
    }

    /// Whether P `id` is on the idle list.
    pub fn p_idle(&self, id: usize) -> bool {
        current().lock.lock().idle_p.iter().any(|p| p.id() == id)
    }

    /// The largest `nmspinning` an M saw at a checkpoint.
    pub fn max_spinning(&self) -> usize {
        self.0.max_spinning.load(Ordering::SeqCst)
    }

    /// Runs `f` on this thread as an M holding idle P `id` (taken now, given back after `f`,
    /// whose queues must then be empty). For the run-queue model.
    pub fn with_p<R>(&self, id: usize, f: impl FnOnce(&PCtx) -> R) -> R {
        let s = current();
        let p = {
            let mut l = s.lock.lock();
            let i = l.idle_p.iter().position(|p| p.id() == id);
            let i = i.unwrap_or_else(|| panic!("with_p: P{id} is not idle"));
            let last = l.idle_p.len() - 1;
            l.idle_p.swap(i, last);
            s.pidleget(&mut l).unwrap()
        };
        let id = p.id();
        let p = p.adopt(WITH_P_TAG);
        with_m(|m| *m.p.borrow_mut() = PSlot::Owned(p));
        let r = f(&PCtx { s, id });
        let p = take_owned_p();
        let mut l = s.lock.lock();
        s.pidleput(&mut l, p);
        r
    }
}

/// The P held by a `with_p` thread, with the real run-queue operations on it.
pub struct PCtx {
    s: &'static Sched,
    id: usize,
}

impl PCtx {
    /// This P's id.
    pub fn id(&self) -> usize {
        self.id
    }

    fn with_p<R>(&self, f: impl FnOnce(&PHandle) -> R) -> R {
        with_owned_p_opt(|p| f(p.expect("PCtx used without its P")))
    }

    /// `Sched::runqput` (owner only).
    pub fn runqput(&self, g: GRef, next: bool) {
        self.with_p(|p| {
            self.s.runqput(p.shared(), p.local(), g, next);
        })
    }

    /// `Sched::runqget` (owner only): the G and whether it came from runnext.
    pub fn runqget(&self) -> Option<(GRef, bool)> {
        self.with_p(|p| self.s.runqget(p))
    }

    /// `globrunqget` into this P, as `find_runnable` step 4 does.
    pub fn globrunqget(&self) -> Option<GRef> {
        self.with_p(|p| {
            let mut l = self.s.lock.lock();
            let got = self.s.globrunqget(&mut l, p, 0);
            drop(l);
            got.map(|g| self.s.global_g(g, p))
        })
    }

    /// One steal from P `victim`, as `steal_work` does on its last round: its queue (about half,
    /// into ours, one returned), then its runnext.
    pub fn steal(&self, victim: usize) -> Option<GRef> {
        let v = self.s.all_ps()[victim];
        self.with_p(|p| loop {
            match v.stealer.steal_into(&p.local().runq) {
                Steal::Success(g) => return Some(g),
                Steal::Retry => continue,
                Steal::Empty => return v.take_runnext(),
            }
        })
    }
}

/// `stopm` put an M on the idle list (called under `Sched::lock`).
pub(crate) fn on_m_idle() {
    ctx().idle_cv.notify_all();
}

/// Starts a model M thread (`Sched::newm` under loom; also `Handle::start_m`).
pub(crate) fn spawn_m(
    s: &'static Sched,
    m: &'static MShared,
    w: Wakeup,
    first: Option<Box<dyn FnOnce() + Send>>,
) -> std::io::Result<()> {
    let c = ctx();
    debug_assert!(std::ptr::eq(s, &c.sched));
    c.live_ms.fetch_add(1, Ordering::SeqCst);
    let h = loom::thread::spawn(move || m_loop(c, m, w, first));
    c.handles.lock().push(h);
    Ok(())
}

/// A model M: `m_main` with `execute` replaced by recording the G, ending on an exit G.
fn m_loop(
    c: &'static Ctx,
    m: &'static MShared,
    w: Wakeup,
    first: Option<Box<dyn FnOnce() + Send>>,
) {
    let s: &'static Sched = &c.sched;
    with_m(|l| l.m.set(Some(m)));
    let _ = s.acquire(w);
    if let Some(f) = first {
        f();
    }
    loop {
        let (g, _inherit) = s
            .find_runnable()
            .unwrap_or_else(|()| panic!("a model M was told to retire"));
        check_spinning(c);
        if g.id() == EXIT_G {
            drop(g);
            // Leave for good: stop counting as a spinner (no wakep: the work is done), give the P
            // back (its queues are empty: all real Gs ran) and forget the M state.
            if with_m(|l| l.spinning.replace(false)) {
                m.spinning.store(false, Ordering::Relaxed);
                s.nmspinning.fetch_sub(1, Ordering::SeqCst);
            }
            let p = take_owned_p();
            with_m(|l| l.m.set(None));
            let mut l = s.lock.lock();
            s.pidleput(&mut l, p);
            c.live_ms.fetch_sub(1, Ordering::SeqCst);
            c.idle_cv.notify_all();
            drop(l);
            return;
        }
        s.reset_spinning();
        Handle(c).ran(g);
    }
}

/// The spinning bound, checked by every M each time `find_runnable` returns (docs/loom.md,
/// model 2): never more spinning Ms than Ps. `nmspinning` counts spinning *tokens*: one per M
/// with `spinning` set, plus one held by a `wakep` between its CAS and handing it to a started M.
/// A token is created only (a) by `wakep`'s CAS 0→1, (b) by a P-holding M in step 6 when
/// `2 * nmspinning < busy`, (c) by an M that had just dropped its own token (T3, the delicate
/// dance); so the count cannot run past the number of Ps in these models. A leaked token (an
/// increment without its decrement) or a double decrement (which wraps) breaks the bound, and
/// the final `nmspinning == 0` check in the models.
fn check_spinning(c: &Ctx) {
    let s = &c.sched;
    let n = s.nmspinning.load(Ordering::SeqCst);
    c.max_spinning.fetch_max(n, Ordering::SeqCst);
    assert!(
        n <= s.nprocs(),
        "nmspinning = {n} > nprocs = {} (a leaked or wrapped spinning count)",
        s.nprocs()
    );
}

// ---- model 5: a blocking call's exit racing sysmon's retake of the P ----------------------

/// A P in `SYSCALL`, as an M leaves it while its G is inside `gort::blocking` (model 5).
pub struct SyscallP {
    r: crate::p::RunningP,
    id: usize,
}

/// What sysmon won: the P, owned, as `retake` hands it to `handoffp`.
pub struct Retaken(PHandle);

impl Handle {
    /// Takes idle P `id` for this thread (as an M with tag `WITH_P_TAG`), starts a G on it and
    /// enters a blocking call (`RUNNING_G` → `SYSCALL`), as `execute` + `entersyscall` do.
    pub fn enter_syscall(&self, id: usize) -> SyscallP {
        let s = current();
        let p = {
            let mut l = s.lock.lock();
            let i = l
                .idle_p
                .iter()
                .position(|p| p.id() == id)
                .expect("P not idle");
            let last = l.idle_p.len() - 1;
            l.idle_p.swap(i, last);
            s.pidleget(&mut l).unwrap()
        };
        let r = p.adopt(WITH_P_TAG).start_g();
        assert!(r.enter_syscall(), "a fresh running P refused entersyscall");
        SyscallP { r, id }
    }

    /// sysmon's side of `retake`: reads P `id`'s word and, if it is in a blocking call, CASes
    /// it away (`PShared::try_retake`), exactly as `sysmon::retake` does.
    pub fn sysmon_retake(&self, id: usize) -> Option<Retaken> {
        let p = current().all_ps()[id];
        let w = p.own_word();
        if w & 0xff != crate::p::SYSCALL {
            return None;
        }
        p.try_retake(w).map(Retaken)
    }

    /// Gives a retaken P back to the idle list (what `handoffp` does with no work around).
    pub fn give_back(&self, r: Retaken) {
        let s = current();
        let mut l = s.lock.lock();
        s.pidleput(&mut l, r.0);
    }
}

impl SyscallP {
    /// `exitsyscall`'s fast path: true if the P is still ours (sysmon did not retake it).
    pub fn exit(&self) -> bool {
        self.r.exit_syscall()
    }

    /// After a successful `exit`: the G switches out, the M takes its P back (`finish`) and
    /// gives it to the idle list. Panics if the P is not ours (the model's invariant).
    pub fn finish_to_idle(self, h: &Handle) {
        let _ = h;
        let s = current();
        let p = self
            .r
            .finish()
            .expect("exit_syscall won, yet the P was lost");
        let mut l = s.lock.lock();
        s.pidleput(&mut l, p);
    }

    /// This P's id.
    pub fn id(&self) -> usize {
        self.id
    }
}
