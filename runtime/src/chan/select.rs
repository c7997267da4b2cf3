//! `select!`: the algorithm on the caller's stack (Go's `selectgo`, with per-channel locks).
//!
//! 1. Pass 1: try every arm without blocking, in a uniformly random order (a fresh Fisher-Yates
//!    permutation per call). The first ready arm is performed and chosen, so among ready arms
//!    each is chosen with equal probability (Go's rule). A closed channel is ready (its arm gets
//!    the error). With `default`, stop here.
//! 2. Pass 2: park; the registrar links one waiter per arm (waiter.rs, step 2).
//! 3. Pass 3: once woken, unlink every waiter that is still linked, then report the case the
//!    winner claimed. `RETRY` goes back to pass 1; `TIMEOUT` reports the deadline.
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

/// One arm of a select (hidden: implemented by the receive and send arms).
#[doc(hidden)]
pub trait SelectArm {
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

/// A small per-thread xorshift generator (fairness, not cryptography).
#[cfg(not(loom))]
fn fastrand(n: usize) -> usize {
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

/// Runs a select over `arms`; returns the chosen arm's index, or `None` when `mode` gave up.
/// The chosen arm is also marked (`SelectArm::mark`), which is how `select!` finds it.
#[doc(hidden)]
pub fn select(arms: &[&dyn SelectArm], mode: Mode) -> Option<usize> {
    let n = arms.len();
    let deadline = match mode {
        Mode::Timeout(d) => Instant::now().checked_add(d),
        Mode::Deadline(t) => Some(t),
        _ => None,
    };
    let mut small = [0u16; 16];
    let mut big = Vec::new();
    let order: &mut [u16] = if n <= small.len() {
        &mut small[..n]
    } else {
        big.resize(n, 0u16);
        &mut big[..]
    };
    loop {
        // Pass 1, in a fresh random order.
        for i in 0..n {
            order[i] = i as u16;
            let j = fastrand(i + 1);
            order.swap(i, j);
        }
        for &i in order.iter() {
            let i = i as usize;
            if arms[i].try_now() {
                arms[i].mark();
                return Some(i);
            }
        }
        match mode {
            Mode::NonBlock => return None,
            Mode::Timeout(_) | Mode::Deadline(_) => {
                if let Some(d) = deadline {
                    if Instant::now() >= d {
                        return None;
                    }
                }
            }
            Mode::Block => {}
        }
        let reason = match n {
            1 => arms[0].reason(),
            _ => WaitReason::Select,
        };
        let sel = match deadline {
            None => {
                let core = SelCore::new();
                block(arms, order, &core, reason, None)
            }
            Some(d) => {
                let core = Arc::new(SelCore::new());
                block(arms, order, &core, reason, Some((d, core.clone())))
            }
        };
        match sel {
            RETRY => continue,
            TIMEOUT => return None,
            i => {
                arms[i].mark();
                return Some(i);
            }
        }
    }
}

/// A blocking `send` or `recv` whose caller has just tried the arm itself: the protocol of
/// [`select`] for one arm, minus its first pass 1 and what only several arms need (the random
/// order, the arm slice, dynamic dispatch). Registration re-checks the arm under its lock, so
/// an arm that became ready since the caller's try is still found (`RETRY`). It keeps the parked G's frames shallow and
/// few, which is what a resume pays for in cache misses (the ring benchmark cycles through
/// 10,000 parked Gs); the claim protocol (waiter.rs) is the same one, step for step.
pub(crate) fn block_one<A: SelectArm>(arm: &A) {
    loop {
        let core = SelCore::new();
        let cp: *const SelCore = &core;
        let register = |u| {
            // SAFETY: we are the registrar, and nothing is published yet.
            unsafe { core.set_unparker(u) };
            // SAFETY: `core` and the arm live in this frame (and our caller's), which stays put
            // until the arm is unregistered below.
            if unsafe { arm.register(cp, 0) } == Reg::Ready {
                core.claim_retry();
            }
            // SAFETY: we are the registrar; `set_unparker` ran above.
            unsafe { core.commit() }
        };
        crate::park::park(arm.reason(), register);
        let sel = core
            .selected()
            .expect("channel operation woken without a claim");
        arm.unregister(sel == 0);
        if sel != RETRY {
            arm.mark();
            return;
        }
        // Pass 1 again: the arm became ready while we registered.
        if arm.try_now() {
            arm.mark();
            return;
        }
    }
}

/// Passes 2 and 3: park registered on every arm, then unlink. Returns the claimed case.
fn block(
    arms: &[&dyn SelectArm],
    order: &[u16],
    core: &SelCore,
    reason: WaitReason,
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
            let r = unsafe { arms[i as usize].register(cp, i as usize) };
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
        None => crate::park::park(reason, register),
        Some((d, c)) => {
            crate::park::park_deadline(reason, d, register, move || c.claim_timeout());
        }
    }
    let sel = core.selected().expect("select woken without a claim");
    for &i in &order[..registered.get()] {
        arms[i as usize].unregister(i as usize == sel);
    }
    sel
}
