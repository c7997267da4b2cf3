//! The select algorithm on the caller's stack (Go's `selectgo`, with per-channel locks), for
//! `select!`, the dynamic `Select` (dynamic.rs; both through [`select_in`], over any [`Arms`]),
//! and the channels' timed operations.
//!
//! 1. Pass 1: try every arm without blocking, in a uniformly random order (a fresh Fisher-Yates
//!    permutation per call; source order for `select_biased!` and `Select::new_biased`). The
//!    first ready arm is performed and chosen, so among ready arms each is chosen with equal
//!    probability (Go's rule). A closed channel is ready (its arm gets the error). With
//!    `default` (or a deadline already passed) and two or more arms, `settle` then makes
//!    "nothing was ready" linearizable: it registers on every arm, as pass 2 does but without
//!    parking, and claims its own core unless a sender got there first.
//! 2. Pass 2: park; the registrar links one waiter per arm (waiter.rs, step 2).
//! 3. Pass 3: once woken, unlink every waiter that is still linked, then report the case the
//!    winner claimed. `RETRY` goes back to pass 1 (an arm became ready during registration, a
//!    watcher was woken, or a dynamic `Select` gave back the receiver it had reserved);
//!    `TIMEOUT` reports the deadline.
//!
//! An arm is only ever performed by pass 1 (on this stack) or by the single claimer that won the
//! core, so a losing arm never consumes a value (may's bug #102 cannot happen): a losing receive
//! arm's slot stays empty and a losing send arm's value is dropped with the arm, unsent.

use super::waiter::{SelCore, RETRY, TIMEOUT};
use crate::g::WaitReason;
use crate::loom::Arc;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// What happens when no arm is ready (hidden: used by `select!` and the channel methods).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Wait for an arm.
    Block,
    /// `default =>`: return at once.
    NonBlock,
    /// `default(d) =>`: wait at most `d`.
    Timeout(Duration),
    /// Wait until the instant.
    Deadline(Instant),
}

/// Registration result for one arm (hidden, used by the arm types).
#[doc(hidden)]
#[derive(Debug, PartialEq, Eq)]
pub enum Reg {
    /// The waiter is linked.
    Linked,
    /// The arm is ready now: do not park, run pass 1 again.
    Ready,
}

/// Seals [`SelectArm`]: the trait must be public for `select!` to name it from users' crates,
/// but its `register` links waiters into channels and its `try_now` decides what a select
/// returns, so only the engine's arms may implement it (issue 15, item 5).
pub(crate) mod sealed {
    /// Implemented by the engine's arm types only.
    pub trait Sealed {}
}

/// One arm of a select (hidden: implemented by the receive and send arms; sealed).
#[doc(hidden)]
pub trait SelectArm: sealed::Sealed {
    /// Pass 1: performs the operation if it can complete now. True if it did (or the channel is
    /// closed, which completes the arm with an error).
    fn try_now(&self) -> bool;
    /// Pass 2, on the M: under the channel lock, re-checks and links the waiter with `case`.
    ///
    /// # Safety
    /// `core` outlives the registration (until `unregister`); the arm is not moved meanwhile.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn register(&self, core: *const SelCore, case: usize) -> Reg;
    /// Pass 3: unlinks the waiter if it is still linked (takes the lock unless `selected`).
    fn unregister(&self, selected: bool);
    /// Marks the arm as the chosen one.
    fn mark(&self);
    /// The wait reason when this arm blocks alone.
    fn reason(&self) -> WaitReason;
    /// The synctest bubble the arm's channel was made in (0: none; bubble/mod.rs).
    fn bubble(&self) -> u32;
    /// What a G blocked on this arm alone waits on (the dump: the channel and its capacity).
    fn wait_obj(&self) -> crate::g::WaitObj;
}

#[cfg(not(loom))]
thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// Under loom the order is fixed (identity): a model must be deterministic per execution.
#[cfg(loom)]
fn fastrand(_n: usize) -> usize {
    0
}

/// A small per-thread xorshift generator (fairness, not cryptography). In a synctest bubble the
/// bubble's seeded generator draws instead (a replayable arm order).
#[cfg(not(loom))]
fn fastrand(n: usize) -> usize {
    if crate::bubble::active() {
        if let Some(x) = crate::bubble::rand_below(n) {
            return x;
        }
    }
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            let a = &x as *const u64 as u64;
            x = a ^ 0x9E37_79B9_7F4A_7C15 ^ (std::process::id() as u64) << 32;
            x |= 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        ((x >> 32).wrapping_mul(n as u64) >> 32) as usize
    })
}

/// A set of select arms, indexed from 0 (a `select!`'s slice, or a dynamic `Select`'s
/// operations).
pub(crate) trait Arms {
    fn len(&self) -> usize;
    fn arm(&self, i: usize) -> &dyn SelectArm;
}

impl Arms for [&dyn SelectArm] {
    fn len(&self) -> usize {
        <[_]>::len(self)
    }
    fn arm(&self, i: usize) -> &dyn SelectArm {
        self[i]
    }
}

/// Runs a select over `arms`; returns the chosen arm's index, or `None` when `mode` gave up.
/// The chosen arm is also marked (`SelectArm::mark`), which is how `select!` finds it.
#[doc(hidden)]
#[track_caller]
pub fn select(arms: &[&dyn SelectArm], mode: Mode) -> Option<usize> {
    select_small(arms, mode, false)
}

/// [`select`] trying the arms in source order in pass 1 (`select_biased!`): among ready arms
/// the first wins. Not Go's rule; crossbeam's `select_biased!`.
#[doc(hidden)]
#[track_caller]
pub fn select_biased(arms: &[&dyn SelectArm], mode: Mode) -> Option<usize> {
    select_small(arms, mode, true)
}

#[track_caller]
fn select_small(arms: &[&dyn SelectArm], mode: Mode, biased: bool) -> Option<usize> {
    let n = arms.len();
    let mut small = [0u32; 16];
    let mut big = Vec::new();
    let order: &mut [u32] = if n <= small.len() {
        &mut small[..n]
    } else {
        big.resize(n, 0u32);
        &mut big[..]
    };
    select_in(arms, mode, biased, order)
}

/// The algorithm (module docs) over any arm set; `order` is scratch space of `arms.len()`
/// entries.
#[track_caller]
pub(crate) fn select_in<A: Arms + ?Sized>(
    arms: &A,
    mode: Mode,
    biased: bool,
    order: &mut [u32],
) -> Option<usize> {
    let n = arms.len();
    debug_assert_eq!(order.len(), n);
    // A select is one of a synctest bubble's preemption points.
    if crate::bubble::active() {
        crate::bubble::preempt_point();
    }
    let deadline = match mode {
        Mode::Timeout(d) => crate::timer::now().checked_add(d),
        Mode::Deadline(t) => Some(t),
        _ => None,
    };
    loop {
        // Pass 1, in a fresh random order (source order when biased).
        for i in 0..n {
            order[i] = i as u32;
            if !biased {
                let j = fastrand(i + 1);
                order.swap(i, j);
            }
        }
        for &i in order.iter() {
            let i = i as usize;
            if arms.arm(i).try_now() {
                arms.arm(i).mark();
                return Some(i);
            }
        }
        let give_up = match mode {
            Mode::NonBlock => true,
            Mode::Timeout(_) | Mode::Deadline(_) => {
                deadline.is_some_and(|d| crate::timer::now() >= d)
            }
            Mode::Block => false,
        };
        if give_up {
            if n < 2 {
                return None; // one arm: pass 1's attempt was atomic already
            }
            match settle(arms, order) {
                RETRY => continue,
                TIMEOUT => return None,
                i => {
                    arms.arm(i).mark();
                    return Some(i);
                }
            }
        }
        let (reason, obj) = match n {
            1 => (arms.arm(0).reason(), arms.arm(0).wait_obj()),
            _ => (WaitReason::Select, crate::g::WaitObj::Select(n)),
        };
        // In a synctest bubble: durable if every arm is a channel of the caller's bubble.
        if crate::bubble::active() {
            crate::bubble::chan_park((0..n).map(|i| arms.arm(i).bubble()), "select on");
        }
        let sel = match deadline {
            None => {
                let core = SelCore::new();
                block(arms, order, &core, reason, obj, None)
            }
            Some(d) => {
                let core = Arc::new(SelCore::new());
                block(arms, order, &core, reason, obj, Some((d, core.clone())))
            }
        };
        match sel {
            RETRY => continue,
            TIMEOUT => return None,
            i => {
                arms.arm(i).mark();
                return Some(i);
            }
        }
    }
}

/// The blocking part of a `send` or `recv` (not `select!`) that found its channel not ready:
/// the caller still holds the channel's lock from that attempt, and `link` links the arm's
/// waiter to the core under it and releases it. So an operation that must wait takes its
/// channel's lock once, as Go's `chansend`/`chanrecv` do, and no `RETRY` can arise; only the
/// unparker is left for the registrar on the M (waiter.rs, "Single-arm cores"). Without the
/// random order, arm slice and dynamic dispatch, the parked G's frames stay shallow and few,
/// which is what a resume pays for in cache misses (the ring benchmark cycles through 10,000
/// parked Gs).
///
/// Returns false if the operation must be attempted again: a dynamic `Select` that had taken
/// this waiter for its send gave it back unsent (`SelCore::complete_retry`).
#[must_use = "false means the operation did not happen and must be attempted again"]
#[track_caller]
pub(crate) fn block_one<A: SelectArm>(arm: &A, link: impl FnOnce(*const SelCore)) -> bool {
    let core = SelCore::new_single();
    // From the link until the claimer's `complete`, a claimer may write into this frame and the
    // caller's: unwinding out of here in between (a panic in `park`'s thread path, say, during
    // thread-local teardown) would leave it writing into freed stack. Nothing here is meant to
    // panic; if something does, abort rather than unwind.
    let guard = AbortOnUnwind;
    // `core` lives in this frame, which stays put until `park` returns, after the claimer's
    // `complete` (the caller's `link` relies on that).
    link(&core);
    crate::park::park_on_inline(arm.reason(), arm.wait_obj(), |u| {
        // SAFETY: we are the registrar. The waiter is already published, which a single-arm
        // core allows: a claimer that completes while `REG` is set leaves the unparker alone
        // (step 4), and `commit` then hands it back, cancelling the park.
        unsafe { core.set_unparker(u) };
        // SAFETY: we are the registrar; `set_unparker` ran just above.
        unsafe { core.commit() }
    });
    std::mem::forget(guard);
    // The claimer unlinked the waiter before claiming it, so there is nothing to unregister.
    let sel = core
        .selected()
        .expect("channel operation woken without a claim");
    if sel == RETRY {
        return false;
    }
    debug_assert_eq!(sel, 0, "a single-arm operation claimed as case {sel}");
    arm.mark();
    true
}

/// Aborts the process if dropped during a panic (see `block_one`).
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            crate::fatal::fatal!(
                "a panic unwound out of a blocking channel operation while its waiter was linked"
            );
        }
    }
}

/// The linearizable "nothing is ready" of a select that will not wait (`default`, or a deadline
/// that has passed), over two or more arms. Pass 1 looks at one channel at a time, so a value
/// can move from an arm not yet tried to one already tried while it runs (a sender on one
/// channel, then a receiver on the other), and pass 1 would report nothing ready though at
/// every instant something was: Go locks every channel for its check; here, as crossbeam does,
/// the select registers on every arm (pass 2, on its own stack) and then claims its own core
/// for `TIMEOUT`. A send that arrives meanwhile claims the core first and is taken; otherwise
/// the registered window covers the whole pass. Returns the case as `block` does (`TIMEOUT`:
/// nothing was ready).
fn settle<A: Arms + ?Sized>(arms: &A, order: &[u32]) -> usize {
    let core = SelCore::new();
    let cp: *const SelCore = &core;
    let mut registered = 0;
    for &i in order {
        if !core.claimable() {
            break;
        }
        // SAFETY: `core` and the arms stay put until every registered arm is unregistered
        // below; we are the registrar (`REG` is set, so no claimer touches the unparker).
        let r = unsafe { arms.arm(i as usize).register(cp, i as usize) };
        registered += 1;
        if r == Reg::Ready {
            core.claim_retry();
            break;
        }
    }
    core.claim_timeout_self();
    if core.is_done() {
        // SAFETY: we are the registrar and no unparker was stored (none is needed: DONE is
        // set, so `commit` finds the transfer complete).
        let _ = unsafe { core.commit() };
    } else {
        // A claimer won the core and is still transferring (or holds it: a dynamic `Select`
        // reserving this receiver): wait for its `complete`, as a parked select would.
        crate::park::park(WaitReason::Select, |u| {
            // SAFETY: we are the registrar: `REG` is still set, so no claimer reads the
            // unparker before `commit` (waiter.rs, step 4, as for an early-linked waiter).
            unsafe { core.set_unparker(u) };
            // SAFETY: as above; `set_unparker` ran just before.
            unsafe { core.commit() }
        });
    }
    let sel = core.selected().expect("settled select without a claim");
    for &i in &order[..registered] {
        arms.arm(i as usize).unregister(i as usize == sel);
    }
    sel
}

/// Passes 2 and 3: park registered on every arm, then unlink. Returns the claimed case.
#[track_caller]
fn block<A: Arms + ?Sized>(
    arms: &A,
    order: &[u32],
    core: &SelCore,
    reason: WaitReason,
    obj: crate::g::WaitObj,
    deadline: Option<(Instant, Arc<SelCore>)>,
) -> usize {
    let registered = Cell::new(0usize);
    let cp: *const SelCore = core;
    let register = |u| {
        // SAFETY: we are the registrar, and nothing is published yet.
        unsafe { core.set_unparker(u) };
        for &i in order {
            if !core.claimable() {
                break;
            }
            // SAFETY: `core` and the arms live in our caller's frame, which stays put until
            // pass 3 has unregistered every arm.
            let r = unsafe { arms.arm(i as usize).register(cp, i as usize) };
            registered.set(registered.get() + 1);
            if r == Reg::Ready {
                core.claim_retry();
                break;
            }
        }
        // SAFETY: we are the registrar; `set_unparker` ran above.
        unsafe { core.commit() }
    };
    match deadline {
        None => crate::park::park_on(reason, obj, register),
        Some((d, c)) => {
            crate::park::park_deadline_on(reason, obj, d, register, move || c.claim_timeout());
        }
    }
    let sel = core.selected().expect("select woken without a claim");
    for &i in &order[..registered.get()] {
        arms.arm(i as usize).unregister(i as usize == sel);
    }
    sel
}
