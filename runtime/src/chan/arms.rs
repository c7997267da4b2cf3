//! The arms of a select: one channel operation each, as the algorithm in select.rs drives them.
//!
//! * [`RecvArm`] and [`SendArm`]: `select!`'s arms, and the one-arm selects behind blocking
//!   `send`/`recv` with a deadline. Pass 1 performs the operation; a parked one is performed by
//!   its claimer (waiter.rs), so the arm's slot holds the result when the select returns.
//! * [`WatchArm`]: the dynamic `Select`'s arm that performs nothing itself (dynamic.rs). In
//!   *ready* mode (`Select::ready`) pass 1 only tests the side, and parked it is a watcher:
//!   linked with case `WATCH` in the channel's watch list, woken to look again. In *reserve*
//!   mode (a dynamic `Select` send, which has no value yet) pass 1 reserves the send: it claims
//!   a parked receiver or counts a buffer slot in `reserved`; parked, it is a *deferred sender*
//!   in `sendq` (no slot, an answer cell instead), and whoever claims it gives it such a
//!   reservation (mod.rs, "Watchers and reservations").
//!
//! Every arm's slot, waiter and flags are touched by its own G only, except the slot and waiter
//! of a linked arm, which only the claimer that won the core touches, and only under the
//! channel lock or after the claim (waiter.rs).

use super::select::{Reg, SelectArm};
use super::waiter::{Reservation, SelCore, WaitList, Waiter, WATCH};
use super::{Chan, Inner, Receiver, RecvError, SendError, Sender, TryRecv, TrySend};
use crate::g::WaitReason;
use crate::loom::Arc;
use std::cell::{Cell, UnsafeCell};

/// A receive arm of `select!` (hidden; built by the macro).
#[doc(hidden)]
pub struct RecvArm<'a, T> {
    pub(super) c: &'a Arc<Chan<T>>,
    /// The received value; `None` after a completed arm means "closed".
    pub(super) slot: UnsafeCell<Option<T>>,
    pub(super) waiter: UnsafeCell<Waiter<T>>,
    chosen: Cell<bool>,
}

impl<'a, T> RecvArm<'a, T> {
    /// An arm receiving from `rx`.
    pub fn new(rx: &'a Receiver<T>) -> Self {
        RecvArm::for_chan(&rx.c)
    }

    pub(super) fn for_chan(c: &'a Arc<Chan<T>>) -> Self {
        RecvArm {
            c,
            slot: UnsafeCell::new(None),
            waiter: UnsafeCell::new(Waiter::new(std::ptr::null_mut())),
            chosen: Cell::new(false),
        }
    }

    /// `Some(result)` if this arm was chosen.
    pub fn into_result(self) -> Option<Result<T, RecvError>> {
        if !self.chosen.get() {
            return None;
        }
        Some(self.slot.into_inner().ok_or(RecvError))
    }

    /// As [`into_result`](Self::into_result), leaving the arm ready for another select (the
    /// dynamic `Select` reuses its arms). Only between selects: no waiter of this arm is linked
    /// then, so nobody else touches the slot.
    pub(super) fn take_result(&self) -> Option<Result<T, RecvError>> {
        if !self.chosen.replace(false) {
            return None;
        }
        // SAFETY: between selects (the caller's contract): the waiter is unlinked, so only we
        // reach the slot.
        Some(unsafe { (*self.slot.get()).take() }.ok_or(RecvError))
    }
}

impl<T> super::select::sealed::Sealed for RecvArm<'_, T> {}

impl<T> SelectArm for RecvArm<'_, T> {
    fn try_now(&self) -> bool {
        match Chan::try_recv(self.c) {
            TryRecv::Got(v) => {
                // SAFETY: the arm is not registered anywhere during pass 1: only we touch it.
                unsafe { *self.slot.get() = Some(v) };
                true
            }
            TryRecv::Closed => true,
            TryRecv::Empty | TryRecv::Paired(_) => false,
        }
    }

    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn register(&self, core: *const SelCore, case: usize) -> Reg {
        let mut g = self.c.inner.lock();
        self.c.poll_timer(&mut g);
        if !g.buf.is_empty() || g.closed || g.sendq.has_partner(core) {
            return Reg::Ready;
        }
        // Our unlinked waiter stays in place until `unregister` (the caller's contract).
        // SAFETY: so it, `core` and the slot outlive the link; we hold the lock for the push.
        unsafe {
            Chan::link_recv(
                self.c,
                &mut g,
                self.waiter.get(),
                core,
                case,
                self.slot.get(),
            )
        };
        Reg::Linked
    }

    fn unregister(&self, selected: bool) {
        if !selected {
            unlink(self.c, self.waiter.get(), |g| &mut g.recvq);
        }
        // Else the claimer unlinked it before claiming, and `complete`/`commit` ordered that.
    }

    fn mark(&self) {
        self.chosen.set(true);
    }

    fn reason(&self) -> WaitReason {
        WaitReason::ChanReceive
    }

    fn bubble(&self) -> u32 {
        self.c.bubble
    }

    fn wait_obj(&self) -> crate::g::WaitObj {
        self.c.wait_obj()
    }
}

/// Pass 3 for an arm whose waiter `w` may still be linked in the list `list` picks: unlinks it
/// under the channel lock.
fn unlink<T>(c: &Chan<T>, w: *mut Waiter<T>, list: impl FnOnce(&mut Inner<T>) -> &mut WaitList<T>) {
    let mut g = c.inner.lock();
    // SAFETY: `linked` and the lists are touched only under this lock; a linked waiter is in
    // the list its arm linked it into, which `list` names.
    unsafe {
        if (*w).linked {
            list(&mut g).remove(w);
        }
    }
}

/// A send arm of `select!` (hidden; built by the macro).
#[doc(hidden)]
pub struct SendArm<'a, T> {
    c: &'a Chan<T>,
    /// The value until it is sent; still `Some` after a completed arm means "closed".
    pub(super) slot: UnsafeCell<Option<T>>,
    pub(super) waiter: UnsafeCell<Waiter<T>>,
    pub(super) chosen: Cell<bool>,
}

impl<'a, T> SendArm<'a, T> {
    /// An arm sending `v` on `tx`.
    pub fn new(tx: &'a Sender<T>, v: T) -> Self {
        SendArm {
            c: &tx.c,
            slot: UnsafeCell::new(Some(v)),
            waiter: UnsafeCell::new(Waiter::new(std::ptr::null_mut())),
            chosen: Cell::new(false),
        }
    }

    /// `Some(result)` if this arm was chosen.
    pub fn into_result(self) -> Option<Result<(), SendError<T>>> {
        if !self.chosen.get() {
            return None;
        }
        Some(match self.slot.into_inner() {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        })
    }
}

impl<T> super::select::sealed::Sealed for SendArm<'_, T> {}

impl<T> SelectArm for SendArm<'_, T> {
    fn try_now(&self) -> bool {
        // SAFETY: not registered during pass 1: only we touch the slot.
        let slot = unsafe { &mut *self.slot.get() };
        let v = slot.take().expect("send arm without a value");
        match self.c.try_send(v) {
            TrySend::Sent => true,
            TrySend::Closed(v) => {
                *slot = Some(v);
                true
            }
            TrySend::Full(v) => {
                *slot = Some(v);
                false
            }
        }
    }

    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn register(&self, core: *const SelCore, case: usize) -> Reg {
        let mut g = self.c.inner.lock();
        if g.closed || self.c.has_room(&g) || g.recvq.has_partner(core) {
            return Reg::Ready;
        }
        // SAFETY: as in `RecvArm::register`: our waiter outlives the link; we hold the lock.
        unsafe {
            self.c
                .link_send(&mut g, self.waiter.get(), core, case, self.slot.get())
        };
        Reg::Linked
    }

    fn unregister(&self, selected: bool) {
        if !selected {
            unlink(self.c, self.waiter.get(), |g| &mut g.sendq);
        }
    }

    fn mark(&self) {
        self.chosen.set(true);
    }

    fn reason(&self) -> WaitReason {
        WaitReason::ChanSend
    }

    fn bubble(&self) -> u32 {
        self.c.bubble
    }

    fn wait_obj(&self) -> crate::g::WaitObj {
        self.c.wait_obj()
    }
}

/// The dynamic `Select`'s watching arm (module docs): tests (or reserves) one side of a channel
/// and, parked, is woken when that side may have become ready.
pub(super) struct WatchArm<'a, T> {
    pub(super) c: &'a Arc<Chan<T>>,
    /// The side watched: true for send.
    send: bool,
    /// Reserve mode (a dynamic `Select`'s `select`, send side only) rather than ready mode.
    pub(super) reserve: Cell<bool>,
    waiter: UnsafeCell<Waiter<T>>,
    /// Set by a reserving pass 1 that found the side ready; taken by the caller.
    pub(super) got: Cell<Option<Reservation>>,
}

impl<'a, T> WatchArm<'a, T> {
    pub(super) fn new(c: &'a Arc<Chan<T>>, send: bool) -> Self {
        WatchArm {
            c,
            send,
            reserve: Cell::new(false),
            waiter: UnsafeCell::new(Waiter::new(std::ptr::null_mut())),
            got: Cell::new(None),
        }
    }

    /// True if this arm parks as a deferred sender (reserve mode, send side) rather than as a
    /// watcher.
    fn deferred(&self) -> bool {
        self.send && self.reserve.get()
    }

    /// The side is ready under the lock `g`, not counting waiters of core `me`.
    fn ready(&self, g: &mut super::Inner<T>, me: *const SelCore) -> bool {
        if g.closed {
            return true;
        }
        if self.send {
            self.c.has_room(g) || g.recvq.has_partner(me)
        } else {
            self.c.poll_timer(g);
            !g.buf.is_empty() || g.sendq.has_partner(me)
        }
    }
}

impl<T> super::select::sealed::Sealed for WatchArm<'_, T> {}

impl<T> SelectArm for WatchArm<'_, T> {
    fn try_now(&self) -> bool {
        let mut g = self.c.inner.lock();
        if !self.deferred() {
            return self.ready(&mut g, std::ptr::null());
        }
        let got = if g.closed {
            Reservation::Closed
        } else if let Some(w) = g.recvq.claim_front() {
            // Claimed and not completed: its G stays parked until `SelectedOperation::send`
            // writes the slot and completes it, or its drop gives the claim back.
            // SAFETY: popped and claimed under the lock, so alive (list invariant).
            let (core, slot) = unsafe { ((*w).core, (*w).slot) };
            Reservation::Receiver(core, slot.cast())
        } else if self.c.has_room(&g) {
            g.reserved += 1;
            Reservation::Slot
        } else {
            return false;
        };
        self.got.set(Some(got));
        true
    }

    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn register(&self, core: *const SelCore, case: usize) -> Reg {
        let mut g = self.c.inner.lock();
        if self.ready(&mut g, core) {
            return Reg::Ready;
        }
        let w = self.waiter.get();
        if self.deferred() {
            // A deferred sender: a sender in `sendq` with no value; its claimer answers in `got`.
            self.got.set(None);
            // SAFETY: as in `RecvArm::register`: our waiter (and `got` beside it) outlives the
            // link; we hold the lock.
            unsafe {
                (*w).got = &self.got;
                self.c
                    .link_send(&mut g, w, core, case, std::ptr::null_mut());
            }
            return Reg::Linked;
        }
        let inner = &mut *g;
        // SAFETY: as in `RecvArm::register`: our waiter outlives the link; we hold the lock. A
        // watcher is linked with case `WATCH`: its claimer wakes it to look again.
        unsafe {
            if self.send {
                inner.send_watch.link(w, core, WATCH, std::ptr::null_mut());
            } else {
                inner.recv_watch.link(w, core, WATCH, std::ptr::null_mut());
                // A watcher waits for the timer as a receiver does (Go's `blockTimerChan`).
                if let Some(t) = &self.c.timer {
                    (t.block)(self.c, inner);
                }
            }
        }
        Reg::Linked
    }

    fn unregister(&self, selected: bool) {
        // A deferred sender claimed for its case was unlinked by its claimer (a watcher is never
        // selected: its claim is `RETRY`).
        if selected {
            return;
        }
        let w = self.waiter.get();
        if self.deferred() {
            unlink(self.c, w, |g| &mut g.sendq);
        } else if self.send {
            unlink(self.c, w, |g| &mut g.send_watch);
        } else {
            unlink(self.c, w, |g| &mut g.recv_watch);
        }
    }

    fn mark(&self) {
        // The caller learns the choice from the select's return value (and `got`).
    }

    fn wait_obj(&self) -> crate::g::WaitObj {
        self.c.wait_obj()
    }

    fn reason(&self) -> WaitReason {
        if self.send {
            WaitReason::ChanSend
        } else {
            WaitReason::ChanReceive
        }
    }

    fn bubble(&self) -> u32 {
        self.c.bubble
    }
}
