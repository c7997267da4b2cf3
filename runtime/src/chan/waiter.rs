//! Waiter nodes and the select core: how a blocked G is found, claimed exactly once, and woken.
//!
//! # Who touches what
//!
//! * [`SelCore`] lives in the blocked call's frame, on the parked G's stack (or, when a deadline
//!   is involved, in an `Arc` held by that frame and by the timer). One per blocking operation or
//!   `select!`; shared by all of its waiters.
//! * [`Waiter<T>`] is one per arm (channel operation), also in the frame. It is linked into one
//!   channel queue ([`WaitList`]) and its `prev`/`next`/`linked` fields are touched **only under
//!   that channel's lock**. Its `slot` (the value to send, or the place to receive into) is
//!   written only by the party that won the claim on the core (below).
//!
//! # The claim protocol (per-channel locks + one atomic "selected" word)
//!
//! `SelCore::state` packs three things: `REG` (bit 0, "the registrar is still registering"),
//! `DONE` (bit 1, "the winner finished its transfer"), and the selected case (bits 2.., 0 =
//! none). It starts as `REG`.
//!
//! 1. The G tries every arm without blocking (pass 1). If none is ready it calls `park`.
//! 2. On the M, after the switch, the registrar stores the G's `Unparker` in the core (before any
//!    waiter is published, so any later claimer sees it), then, one channel at a time under that
//!    channel's lock: stops if the core is already claimed; re-checks the arm, and if it became
//!    ready claims the core itself with `RETRY` (+`DONE`) and stops; else links the waiter.
//! 3. A claimer (a sender, receiver, closer or timer), under its channel's lock, pops a waiter and
//!    CASes the core from "no case" to its case ([`SelCore::claim`]). Losing the CAS means the
//!    waiter is stale (its G was taken by another channel): it is dropped from this queue, which
//!    is all the cleanup a stale waiter needs. Winning gives exclusive right to the slot.
//! 4. The winner does the transfer (writes or takes `slot`), then `fetch_or(DONE)`
//!    ([`SelCore::complete`]). If `REG` was clear, the registrar has finished and the winner takes
//!    the `Unparker` and unparks. If `REG` was set, it touches nothing more.
//! 5. The registrar ends with `fetch_and(!REG)` ([`SelCore::commit`]): if `DONE` was set it
//!    cancels the park (returns the `Unparker`); otherwise it returns `None` and the G sleeps.
//!    Steps 4 and 5 are two RMWs on one word, so exactly one of them sees the other's bit:
//!    **the G is woken exactly once**, and only after the transfer is complete.
//! 6. The woken G unlinks its other waiters, each under its channel's lock (a waiter a claimer
//!    is looking at is therefore still alive), and only then returns: **nothing points into its
//!    stack after the blocking call returns**. The selected waiter was unlinked by its claimer.
//!
//! **Single-arm cores** (a blocking `send`/`recv`, `select::block_one`): the G links its only
//! waiter itself, under the lock of its attempt, before it switches out ("early link"), and the
//! registrar on the M only stores the unparker and commits. This is safe because a claimer that
//! completes while `REG` is set never reads the unparker (step 4). Such a core can be claimed
//! only by popping its one waiter, under its one channel's lock (no select, no timer), so the
//! pop is the claim: step 3's CAS is skipped and step 4's `fetch_or` sets case 0 with `DONE`.
//! Per blocking operation that saves a lock round and a CAS; the exactly-once argument of
//! steps 4-5 is unchanged.
//!
//! **Watchers, deferred senders, give-back** (the dynamic `Select`; docs/channels.md §2): a
//! watcher is linked with case [`WATCH`] (= `RETRY`) in a watch list and claimed for `RETRY` by
//! [`WaitList::notify_all`]; a deferred sender is a sender waiter with no slot whose claimer
//! answers in its `got` cell; a claimer holding a receiver for a dynamic `Select` send that is
//! dropped unsent gives it back with [`SelCore::complete_retry`], replacing the case by `RETRY`
//! before completing, so the receiver attempts again. Each is still one claim and one
//! completion per core: the exactly-once argument of steps 4-5 is unchanged.
//!
//! Why not Go's "lock every channel in address order": that needs the locks of channels of
//! different element types held at once, through type erasure, and makes every send on a busy
//! channel wait for selects that merely mention it. One lock at a time plus one CAS gives the
//! same exactly-once result; the cost is step 2's `RETRY` when an arm becomes ready during
//! registration (rare, and resolved by pass 1 on the G's own stack).

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::park::Unparker;
use std::cell::{Cell, UnsafeCell};
use std::ptr;

/// The registrar (step 2) is still running on the M.
const REG: usize = 1;
/// The winner's transfer is complete (step 4).
const DONE: usize = 2;
const CASE_SHIFT: usize = 2;
/// Case number meaning "an arm became ready during registration: run pass 1 again".
pub(crate) const RETRY: usize = usize::MAX >> 3;
/// Case number meaning "the deadline passed".
pub(crate) const TIMEOUT: usize = RETRY - 1;
/// The case a *watcher* is linked with (a `Select::ready` operation, or a dynamic `Select` send
/// operation that has no value yet): claiming it means "look again", i.e. [`RETRY`].
pub(crate) const WATCH: usize = RETRY;

/// The shared state of one blocking operation or `select!` (see the module docs).
pub struct SelCore {
    /// `REG | DONE | case << 2`. AcqRel RMWs: a claim (step 3) pairs with the registrar's
    /// publication through the channel lock; `complete` (Release) pairs with `commit` (Acquire)
    /// or with the G's read after the unpark.
    state: AtomicUsize,
    /// A blocking `send`/`recv` (select::block_one): one waiter, reachable only under its one
    /// channel's lock, so the claimer that pops it is the only one there can be. Immutable.
    single: bool,
    /// Written once by the registrar while `REG` is set (before any waiter is published, except
    /// for a single-arm core's early link); taken by exactly one of the winner (`complete`) or
    /// the registrar (`commit`), as decided by `state`. Nobody reads it while `REG` is set.
    unparker: UnsafeCell<Option<Unparker>>,
}

// SAFETY: `unparker` is written by the registrar while `REG` is set, when no other party reads it
// (a claimer that completes with `REG` set leaves it alone, step 4), and then taken by exactly one
// party, chosen by the RMWs on `state` (module docs, steps 4-5); `Unparker` is `Send`. The core is
// shared with a timer thread only through an `Arc` for deadlines.
unsafe impl Sync for SelCore {}
// SAFETY: as above.
unsafe impl Send for SelCore {}

impl SelCore {
    pub(crate) fn new() -> SelCore {
        SelCore {
            state: AtomicUsize::new(REG),
            single: false,
            unparker: UnsafeCell::new(None),
        }
    }

    /// The core of a blocking `send`/`recv`: one waiter, case 0, no deadline ("Single-arm
    /// cores" in the module docs).
    pub(crate) fn new_single() -> SelCore {
        SelCore {
            state: AtomicUsize::new(REG),
            single: true,
            unparker: UnsafeCell::new(None),
        }
    }

    /// The selected case after the wake-up (`None`: not claimed).
    pub(crate) fn selected(&self) -> Option<usize> {
        // Acquire: pairs with `complete`'s Release (the transfer into our slots).
        let s = self.state.load(Ordering::Acquire) >> CASE_SHIFT;
        (s != 0).then(|| s - 1)
    }

    /// True if nobody has claimed the core yet (a racy hint, used under a channel lock).
    pub(crate) fn claimable(&self) -> bool {
        self.state.load(Ordering::Acquire) >> CASE_SHIFT == 0
    }

    /// Step 3: tries to select `case`. True gives the caller exclusive use of the slots.
    pub(crate) fn claim(&self, case: usize) -> bool {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if s >> CASE_SHIFT != 0 {
                return false;
            }
            let new = s | ((case + 1) << CASE_SHIFT);
            // AcqRel: Acquire pairs with the registrar's publication (the unparker), Release
            // publishes the claim to the registrar's `commit`.
            match self
                .state
                .compare_exchange_weak(s, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(x) => s = x,
            }
        }
    }

    /// Step 4: the transfer is done; wakes the G unless the registrar is still running.
    /// The caller must not touch the core or its waiters afterwards.
    pub(crate) fn complete(&self) {
        // AcqRel: Release publishes the transfer; Acquire pairs with `commit`'s Release so that
        // the registrar's last touches of the frame happen before we wake the G.
        // A single-arm core was never CASed (`claim_front`): its case 0 is set here, with DONE.
        let bits = if self.single {
            DONE | (1 << CASE_SHIFT)
        } else {
            DONE
        };
        let prev = self.state.fetch_or(bits, Ordering::AcqRel);
        if prev & REG == 0 {
            // SAFETY: the registrar has committed (REG clear) and we won the claim, so we are
            // the only party that may take the unparker (module docs, steps 4-5).
            let u = unsafe { (*self.unparker.get()).take() };
            // Nothing of `self` is touched after this point: the G may return at once.
            u.expect("select core: no unparker").unpark();
        }
    }

    /// Step 2, first action: store the G's unparker (before any waiter is published; for a
    /// single-arm core, after its early link).
    ///
    /// # Safety
    /// Only the registrar calls this, once, before its `commit` (so while `REG` is set).
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn set_unparker(&self, u: Unparker) {
        // SAFETY: caller's contract: `REG` is still set, and no party reads `unparker` while it
        // is (a claimer that completes meanwhile leaves it to `commit`, step 4).
        unsafe { *self.unparker.get() = Some(u) };
    }

    /// Step 2: the registrar found an arm ready; claims `RETRY` and completes at once (REG is
    /// still set, so nobody is woken). False if another party claimed the core first.
    pub(crate) fn claim_retry(&self) -> bool {
        if self.claim(RETRY) {
            self.state.fetch_or(DONE, Ordering::AcqRel);
            true
        } else {
            false
        }
    }

    /// Step 5: registration is over. Returns the unparker if the park must be cancelled.
    ///
    /// # Safety
    /// Only the registrar calls this, once, after `set_unparker`.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn commit(&self) -> Option<Unparker> {
        // AcqRel: Acquire pairs with `complete`'s Release (the transfer), Release publishes our
        // last touches of the frame to a later `complete`.
        let prev = self.state.fetch_and(!REG, Ordering::AcqRel);
        if prev & DONE != 0 {
            // SAFETY: DONE was set while REG was set, so the winner left the unparker to us.
            unsafe { (*self.unparker.get()).take() }
        } else {
            None
        }
    }

    /// Gives a claimed core back as `RETRY` instead of completing its case: the claimer took a
    /// parked receiver for a dynamic `Select` send that was then dropped unsent
    /// (`SelectedOperation`'s drop). The woken G runs its attempt again. The caller must have
    /// won the core (step 3, or popped a single-arm waiter) and not completed it; it must not
    /// touch the core afterwards.
    pub(crate) fn complete_retry(&self) {
        let retry = (RETRY + 1) << CASE_SHIFT;
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            // Only the claimer changes the case bits once they are set; the registrar may clear
            // `REG` meanwhile, which the CAS retries over.
            let new = (s & (REG | DONE)) | retry;
            match self
                .state
                .compare_exchange_weak(s, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(x) => s = x,
            }
        }
        // A single-arm core's `complete` would set case 0 again: wake it as a multi-arm one.
        let prev = self.state.fetch_or(DONE, Ordering::AcqRel);
        if prev & REG == 0 {
            // SAFETY: as in `complete`: the registrar has committed and we hold the claim.
            let u = unsafe { (*self.unparker.get()).take() };
            u.expect("select core: no unparker").unpark();
        }
    }

    /// A select giving up without waiting (select.rs, `settle`): claims `TIMEOUT` for itself
    /// and marks it done, unless another party claimed the core first. Only the registrar calls
    /// it, while `REG` is set.
    pub(crate) fn claim_timeout_self(&self) {
        if self.claim(TIMEOUT) {
            self.state.fetch_or(DONE, Ordering::AcqRel);
        }
    }

    /// True once the winner's transfer is complete (step 4). Acquire: pairs with `complete`'s
    /// Release, so the transfer into our slots is visible.
    pub(crate) fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) & DONE != 0
    }

    /// The timer's side of a deadline: claims `TIMEOUT` and takes the unparker to wake the G.
    /// Called only after the registrar committed (the timer is armed after registration).
    pub(crate) fn claim_timeout(&self) -> Option<Unparker> {
        if !self.claim(TIMEOUT) {
            return None;
        }
        let prev = self.state.fetch_or(DONE, Ordering::AcqRel);
        debug_assert_eq!(prev & REG, 0, "deadline fired during registration");
        // SAFETY: we won the claim and the registrar has committed.
        unsafe { (*self.unparker.get()).take() }
    }
}

/// What a *deferred sender* (a dynamic `Select` send that has no value yet, parked in `sendq`)
/// was given by the party that claimed it, and what a dynamic `Select` send secures in pass 1:
/// the send is then finished by `SelectedOperation::send` (dynamic.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// The channel is closed: the send will fail.
    Closed,
    /// A buffer slot, counted in the channel's `reserved`.
    Slot,
    /// A receiver, claimed and not completed: its core and its slot (an `*mut Option<T>`). Its
    /// G waits until the value is written and the core completed, or the claim is given back
    /// (`SelCore::complete_retry`).
    Receiver(*const SelCore, *mut ()),
}

/// One arm's node in one channel queue (see the module docs for who touches what).
pub(crate) struct Waiter<T> {
    /// The operation's core (on the G's stack or in an `Arc` the frame holds).
    pub(crate) core: *const SelCore,
    /// This arm's case number in the core.
    pub(crate) case: usize,
    /// Send: the value to take. Receive: where to put the value (`None` = closed). Null for a
    /// deferred sender and for a watcher.
    pub(crate) slot: *mut Option<T>,
    /// A deferred sender's answer cell (in its arm, beside this waiter); null for every other
    /// waiter. Its claimer writes what it gives the sender here before completing the core; a
    /// closer writes nothing (`None` means closed).
    pub(crate) got: *const Cell<Option<Reservation>>,
    prev: *mut Waiter<T>,
    next: *mut Waiter<T>,
    /// In a queue. Under the channel lock, like `prev`/`next`.
    pub(crate) linked: bool,
}

impl<T> Waiter<T> {
    pub(crate) fn new(slot: *mut Option<T>) -> Waiter<T> {
        Waiter {
            core: ptr::null(),
            case: 0,
            slot,
            got: ptr::null(),
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
            linked: false,
        }
    }
}

/// An intrusive FIFO of waiters (Go's `waitq`). Every method runs under the owning channel's
/// lock, and every waiter in it is alive (its G has not returned from the blocking call: it
/// unlinks itself under this same lock first).
pub(crate) struct WaitList<T> {
    head: *mut Waiter<T>,
    tail: *mut Waiter<T>,
}

impl<T> WaitList<T> {
    pub(crate) const fn new() -> Self {
        WaitList {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
        }
    }

    /// # Safety
    /// `w` is alive and not linked anywhere; caller holds the channel lock.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn push_back(&mut self, w: *mut Waiter<T>) {
        // SAFETY: caller's contract; `tail` is alive (list invariant).
        unsafe {
            (*w).prev = self.tail;
            (*w).next = ptr::null_mut();
            (*w).linked = true;
            if self.tail.is_null() {
                self.head = w;
            } else {
                (*self.tail).next = w;
            }
        }
        self.tail = w;
    }

    /// # Safety
    /// `w` is alive and linked in this list; caller holds the channel lock.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn remove(&mut self, w: *mut Waiter<T>) {
        // SAFETY: caller's contract; neighbours are alive (list invariant).
        unsafe {
            let (p, n) = ((*w).prev, (*w).next);
            if p.is_null() {
                self.head = n;
            } else {
                (*p).next = n;
            }
            if n.is_null() {
                self.tail = p;
            } else {
                (*n).prev = p;
            }
            (*w).prev = ptr::null_mut();
            (*w).next = ptr::null_mut();
            (*w).linked = false;
        }
    }

    /// Points waiter `w` at its arm (`core`, `case`, `slot`) and links it at the back.
    ///
    /// # Safety
    /// As [`push_back`](Self::push_back); `w` stays in place while linked (its G's frame), and
    /// `core` and `slot` with it.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    pub(crate) unsafe fn link(
        &mut self,
        w: *mut Waiter<T>,
        core: *const SelCore,
        case: usize,
        slot: *mut Option<T>,
    ) {
        // SAFETY: caller's contract: `w` is ours, alive and unlinked; we hold the lock.
        unsafe {
            (*w).core = core;
            (*w).case = case;
            (*w).slot = slot;
            self.push_back(w);
        }
    }

    /// True if no waiter is linked. Caller holds the channel lock.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Wakes every watcher in this list (a list of [`WATCH`] waiters) except those of core `me`
    /// (a registrar must not wake itself): each is unlinked, claimed for `RETRY` and completed,
    /// so its G looks at its channels again. Stale ones are only unlinked. Caller holds the
    /// channel lock, which also keeps every other waiter of a woken core alive while we walk:
    /// its G unlinks them under this lock before it returns.
    pub(crate) fn notify_all(&mut self, me: *const SelCore) {
        let mut w = self.head;
        while !w.is_null() {
            // SAFETY: linked, hence alive (list invariant); we hold the lock.
            let (core, next) = unsafe { ((*w).core, (*w).next) };
            if !ptr::eq(core, me) {
                // SAFETY: linked in this list; its core lives in the same frame.
                unsafe {
                    self.remove(w);
                    let c = &*core;
                    if c.claim(WATCH) {
                        c.complete();
                    }
                }
            }
            w = next;
        }
    }

    /// Pops the first waiter (unlinked on return). Caller holds the channel lock.
    pub(crate) fn pop_front(&mut self) -> Option<*mut Waiter<T>> {
        let w = self.head;
        if w.is_null() {
            return None;
        }
        // SAFETY: `w` is linked here, hence alive (list invariant); we hold the lock.
        unsafe { self.remove(w) };
        Some(w)
    }

    /// Pops waiters until one whose core is claimed for its case; returns it (unlinked).
    /// Stale waiters met on the way are dropped from the queue (step 3).
    pub(crate) fn claim_front(&mut self) -> Option<*mut Waiter<T>> {
        while let Some(w) = self.pop_front() {
            // SAFETY: popped under the lock from this list, so alive (list invariant).
            let (core, case) = unsafe { (&*(*w).core, (*w).case) };
            // A single-arm core has no other waiter and no timer, and every claimer pops under
            // this lock: having popped it, we are its claimer, without a CAS.
            if core.single || core.claim(case) {
                return Some(w);
            }
        }
        None
    }

    /// Wakes the first waiter that can still be claimed (stale ones are dropped on the way) to
    /// run its attempt again: claimed for `RETRY` and completed, instead of for its case. A timer
    /// that fired into the buffer uses it, so that the woken select chooses among all its ready
    /// arms (uniformly) rather than being handed the first timer the heap ran.
    pub(crate) fn wake_front_retry(&mut self) {
        while let Some(w) = self.pop_front() {
            // SAFETY: popped under the lock from this list, so alive (list invariant).
            let core = unsafe { &*(*w).core };
            if core.single {
                // Popping a single-arm waiter claims it; `complete_retry` sets `RETRY`.
                core.complete_retry();
                return;
            }
            if core.claim(RETRY) {
                core.complete();
                return;
            }
        }
    }

    /// True if some waiter of another core could still be claimed. Stale waiters are dropped on
    /// the way. Used by the registrar's re-check (step 2), which must not match itself.
    pub(crate) fn has_partner(&mut self, me: *const SelCore) -> bool {
        let mut w = self.head;
        while !w.is_null() {
            // SAFETY: linked, hence alive; we hold the lock.
            let (core, next) = unsafe { ((*w).core, (*w).next) };
            // SAFETY: a linked waiter's core is alive (it lives in the same frame).
            let c = unsafe { &*core };
            if !c.claimable() {
                // SAFETY: linked in this list.
                unsafe { self.remove(w) };
            } else if !ptr::eq(core, me) {
                return true;
            }
            w = next;
        }
        false
    }
}
