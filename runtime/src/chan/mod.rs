//! Channels: Go's `chan T` for green threads and plain threads alike.
//!
//! # States (per channel, under its lock)
//!
//! | state            | `buf`             | `recvq`          | `sendq`              |
//! |------------------|-------------------|------------------|----------------------|
//! | open, idle       | 0 < len < cap     | empty            | empty                |
//! | open, receivers wait | empty         | parked receivers | empty                |
//! | open, senders wait   | full (len + reserved = cap; always for `bounded(0)`) | empty | parked senders |
//! | closed           | draining          | empty            | empty                |
//!
//! Stale waiters (selects already claimed by another channel) may sit in either queue; they are
//! dropped by whoever meets them (waiter.rs). `bounded(0)` has `cap == 0`: a send completes only
//! by a direct hand-off to a receiver, so it returns only once a receiver has the value.
//!
//! # Who touches what
//!
//! * `Chan::inner` (buffer, queues, watch lists, reservations, closed flag, timer state): under
//!   `Chan::inner`'s lock, always short and never held across a park.
//! * A parked waiter's slot: only by the claimer that won its core (waiter.rs, step 3).
//! * `senders` / `receivers`: atomic counts; the last `Sender` or `Receiver` dropped closes.
//! * `timer` (the hooks of a timer channel) is immutable after creation.
//!
//! # Hot paths
//!
//! A send to a parked receiver writes the value straight into the receiver's slot on its stack
//! (Go's `sudog.elem`) and readies it into the sender's P's `runnext`; a receive from a parked
//! sender takes the value from the sender's stack. Waiter nodes live in the blocked call's frame,
//! so no operation allocates (except growth of an unbounded buffer, and deadlines, which need
//! a timer).
//!
//! # Watchers and reservations (the dynamic `Select`, dynamic.rs)
//!
//! `Select::ready` waits until an operation *could* complete without performing it, and a
//! dynamic `Select`'s send has no value until the user completes it. Both block as *watchers*:
//! waiters in `recv_watch` / `send_watch`, linked with case `WATCH`, that carry no value. Every
//! transition that makes a side ready wakes that side's watchers (claims them for `RETRY`, so
//! their G looks again): a value buffered or a sender parked (receive side); room made or a
//! receiver parked (send side); close (both). A dynamic `Select` whose send is ready
//! *reserves* it until the user supplies the value: a parked receiver is claimed and held
//! (completed by `SelectedOperation::send`, or given back with `RETRY` if that is dropped), or
//! a buffer slot is counted in `reserved` (room is `buf.len() + reserved < cap`).
//!
//! # Timer channels (Go 1.23's synchronous timers; time.rs)
//!
//! A timer channel (`after`, `tick`, `Timer`, `Ticker`) is a channel of capacity 1 with no
//! sender and a `ChanTimer` in its state. Its value is made when a receive, select or `len`
//! looks and the timer is due (`TimerHooks::fire_due`, Go's `maybeRunChan`), so a due timer is
//! ready at once, never behind `default`. Only while a waiter is linked on it is it in the timer
//! heap (`TimerHooks::block`, Go's `blockTimerChan`); the last `Receiver` dropped takes it out
//! of the heap, so an unreferenced timer costs nothing.
//!
//! # Closing (Go's rules, without the panics)
//!
//! `Sender::close` (or dropping the last `Sender`) closes: parked receivers wake with an error,
//! parked senders get their values back, receivers drain the buffer and then get errors, and
//! later sends return their value in the error. Dropping the last `Receiver` closes too (no one
//! can ever receive, so a blocked sender must not wait forever; crossbeam's rule) and drops the
//! buffered values then, one at a time: a value whose `Drop` panics propagates that panic out of
//! the receiver's drop, and values still buffered are then leaked rather than dropped during the
//! unwind (a second panic there would abort the process).

mod arms;
mod ctx;
mod dynamic;
mod macros;
mod select;
mod time;
pub(crate) mod waiter;

pub use arms::{RecvArm, SendArm};
pub use ctx::{RecvCtxError, SendCtxError};
pub use dynamic::{
    ReadyTimeoutError, Select, SelectTimeoutError, SelectedOperation, TryReadyError, TrySelectError,
};
pub use select::{
    select as __select, select_biased as __select_biased, Mode as __Mode, Reg as __Reg,
    SelectArm as __SelectArm,
};
pub use time::{after, after_func, at, tick, AfterFunc, Ticker, Timer};

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Arc, Mutex, MutexGuard};
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};
use time::ChanTimer;
use waiter::{Reservation, SelCore, WaitList, Waiter};

struct Inner<T> {
    buf: VecDeque<T>,
    closed: bool,
    /// Buffer slots promised to dynamic-`Select` sends not completed yet (module docs).
    reserved: usize,
    recvq: WaitList<T>,
    sendq: WaitList<T>,
    /// Watchers of the receive side: woken when a value is buffered, a sender parks, or close.
    recv_watch: WaitList<T>,
    /// Watchers of the send side: woken when room is made, a receiver parks, or close.
    send_watch: WaitList<T>,
    /// A timer channel's timer (time.rs); `None` for every other channel.
    timer: Option<Box<ChanTimer>>,
}

// SAFETY: the raw waiter pointers in the queues are touched only under the channel lock, and the
// waiters they point to are alive while linked (waiter.rs); the values moved through them are `T:
// Send`.
unsafe impl<T: Send> Send for Inner<T> {}

/// The two places where a timer channel's timer runs (module docs, "Timer channels"). Function
/// pointers made for `Chan<Instant>` at creation (time.rs), so the generic paths call them
/// without knowing `T = Instant`.
struct TimerHooks<T> {
    /// Go's `maybeRunChan`: if the timer is due at `now`, makes its value (to a parked receiver
    /// or the buffer) and moves the timer on. Under the channel lock.
    fire_due: fn(&Chan<T>, &mut Inner<T>, Instant),
    /// Go's `blockTimerChan`: a waiter was just linked, so the timer must be in the heap to wake
    /// it. Under the channel lock.
    block: fn(&Arc<Chan<T>>, &mut Inner<T>),
}

struct Chan<T> {
    inner: Mutex<Inner<T>>,
    /// `usize::MAX` for unbounded.
    cap: usize,
    /// Live `Sender`s; Relaxed increments (a clone comes from a live one), AcqRel decrement so
    /// the last dropper sees every other sender's effects before closing.
    senders: AtomicUsize,
    /// Live `Receiver`s; as `senders`.
    receivers: AtomicUsize,
    /// Set for timer channels only. Immutable.
    timer: Option<TimerHooks<T>>,
    /// The synctest bubble the channel was made in (its key; 0: none). Immutable. A member
    /// blocked on it is durably blocked, and its timer runs on that bubble's clock
    /// (bubble/mod.rs).
    bubble: u32,
}

enum TrySend<T> {
    Sent,
    Full(T),
    Closed(T),
}

enum TryRecv<T> {
    Got(T),
    Empty,
    Closed,
    /// Claimed a deferred sender (a blocked dynamic `Select` send, which has no value yet): the
    /// receiver must hand it a slot and wait for the value ([`Chan::recv_paired`]).
    Paired(Pairing),
}

/// A deferred sender claimed by a receiver: its core (claimed, not completed) and its answer
/// cell. Until the receiver completes the core, both are the receiver's to use (waiter.rs,
/// steps 3-4).
#[derive(Clone, Copy)]
struct Pairing {
    core: *const SelCore,
    got: *const Cell<Option<Reservation>>,
}

impl<T> Chan<T> {
    /// What a G blocked on this channel waits on, for the dump (its identity is its address,
    /// as `chan_id`'s).
    fn wait_obj(&self) -> crate::g::WaitObj {
        crate::g::WaitObj::Chan {
            id: self as *const Chan<T> as usize,
            cap: (self.cap != usize::MAX).then_some(self.cap),
        }
    }

    fn new(cap: usize) -> Self {
        let buf = if cap == usize::MAX {
            VecDeque::new()
        } else {
            VecDeque::with_capacity(cap)
        };
        Chan::with_parts(cap, buf, None)
    }

    fn with_parts(cap: usize, buf: VecDeque<T>, timer: Option<TimerHooks<T>>) -> Self {
        Chan {
            inner: Mutex::new(Inner {
                buf,
                closed: false,
                reserved: 0,
                recvq: WaitList::new(),
                sendq: WaitList::new(),
                recv_watch: WaitList::new(),
                send_watch: WaitList::new(),
                timer: None,
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            timer,
            bubble: crate::bubble::current_key(),
        }
    }

    /// A wait on this channel is about to begin: in a synctest bubble, a member may wait only
    /// on its own bubble's channels, and such a wait is durable (one relaxed load outside).
    #[inline]
    fn before_park(&self, what: &str) {
        if crate::bubble::active() {
            crate::bubble::chan_park(std::iter::once(self.bubble), what);
        }
    }

    /// The clock this channel's timer runs on (its bubble's, else the real one).
    fn clock(&self) -> Instant {
        if self.bubble == 0 {
            Instant::now()
        } else {
            crate::bubble::clock_of(self.bubble)
        }
    }

    /// True if a send could buffer now (counting reserved slots as taken).
    fn has_room(&self, g: &Inner<T>) -> bool {
        g.buf.len() + g.reserved < self.cap
    }

    /// A timer channel's `maybeRunChan` (module docs); nothing for other channels.
    #[inline]
    fn poll_timer(&self, g: &mut Inner<T>) {
        if let Some(t) = &self.timer {
            (t.fire_due)(self, g, self.clock());
        }
    }

    fn try_send(&self, v: T) -> TrySend<T> {
        match self.send_locked(self.inner.lock(), v) {
            Ok(r) => r,
            Err((_, v)) => TrySend::Full(v),
        }
    }

    /// The send under the lock `g`: hands `v` to a parked receiver, buffers it, or reports the
    /// channel closed (`Ok`, the lock released); when it would block, gives the lock and `v`
    /// back (`Err`), so that a blocking send links its waiter under the same lock.
    fn send_locked<'a>(
        &'a self,
        mut g: MutexGuard<'a, Inner<T>>,
        v: T,
    ) -> Result<TrySend<T>, (MutexGuard<'a, Inner<T>>, T)> {
        if g.closed {
            return Ok(TrySend::Closed(v));
        }
        if let Some(w) = g.recvq.claim_front() {
            // SAFETY: we won `w`'s core (claim_front), so its slot is ours to write, and the
            // waiter is alive until `complete` (its G cannot return from the blocking call
            // before that; with an early link it may still be running towards its park).
            unsafe {
                *(*w).slot = Some(v);
                let core = &*(*w).core;
                drop(g);
                core.complete();
            }
            return Ok(TrySend::Sent);
        }
        if self.has_room(&g) {
            g.buf.push_back(v);
            if !g.recv_watch.is_empty() {
                g.recv_watch.notify_all(std::ptr::null());
            }
            return Ok(TrySend::Sent);
        }
        Err((g, v))
    }

    /// A receive that does not wait for a sender: `Got`, `Empty` or `Closed`. Having paired
    /// with a deferred sender it does wait, but only for that sender's value (crossbeam's
    /// receivers wait for a selected sender's packet the same way).
    fn try_recv(this: &Arc<Self>) -> TryRecv<T> {
        loop {
            match this.recv_locked(this.inner.lock()) {
                Ok(TryRecv::Paired(p)) => {
                    if let Some(r) = Chan::recv_paired(this, p) {
                        return r;
                    }
                    // Given back unsent: look again.
                }
                Ok(r) => return r,
                Err(_) => return TryRecv::Empty,
            }
        }
    }

    /// Finishes a receive that claimed the deferred sender `p`: hands it this frame's slot (as
    /// the sender's reservation) and parks until the sender's `SelectedOperation::send` writes
    /// it. `None` if the sender gave the claim back unsent (the receive must be attempted again).
    #[track_caller]
    fn recv_paired(this: &Arc<Self>, p: Pairing) -> Option<TryRecv<T>> {
        let arm = RecvArm::for_chan(this);
        let slot = arm.slot.get();
        let done = select::block_one(&arm, move |core| {
            // SAFETY: we won the sender's core (claim_front) and have not completed it, so its
            // answer cell and frame are ours until `complete`; our `core` and `slot` stay put
            // until we are completed (block_one's contract).
            unsafe {
                (*p.got).set(Some(Reservation::Receiver(core, slot.cast())));
                (*p.core).complete();
            }
        });
        if !done {
            return None;
        }
        Some(match arm.into_result() {
            Some(Ok(v)) => TryRecv::Got(v),
            _ => unreachable!("a deferred sender completed a paired receiver without a value"),
        })
    }

    /// Under the lock `g`, one slot of the buffer just became free: a parked sender takes it (a
    /// sender's value moves to the tail, Go's `recv`; a deferred sender is given the slot as its
    /// reservation), else the send side's watchers look again. Releases the lock.
    fn refill(&self, mut g: MutexGuard<'_, Inner<T>>) {
        if !self.has_room(&g) {
            return;
        }
        let Some(w) = g.sendq.claim_front() else {
            if !g.send_watch.is_empty() {
                g.send_watch.notify_all(std::ptr::null());
            }
            return;
        };
        // SAFETY: as in `send_locked`: the claim gives us the sender's slot (or answer cell).
        unsafe {
            if (*w).got.is_null() {
                let sv = (*(*w).slot).take().expect("parked sender without a value");
                g.buf.push_back(sv);
            } else {
                g.reserved += 1;
                (*(*w).got).set(Some(Reservation::Slot));
            }
            let core = &*(*w).core;
            drop(g);
            core.complete();
        }
    }

    /// The receive under the lock `g`: takes a buffered value or a parked sender's, or reports
    /// the channel closed and drained (`Ok`, the lock released); when it would block, gives the
    /// lock back (`Err`), so that a blocking receive links its waiter under the same lock.
    fn recv_locked<'a>(
        &'a self,
        mut g: MutexGuard<'a, Inner<T>>,
    ) -> Result<TryRecv<T>, MutexGuard<'a, Inner<T>>> {
        self.poll_timer(&mut g);
        if let Some(v) = g.buf.pop_front() {
            // A full buffer with a parked sender: it takes the freed slot (Go's recv).
            if !g.sendq.is_empty() || !g.send_watch.is_empty() {
                self.refill(g);
            }
            return Ok(TryRecv::Got(v));
        }
        if let Some(w) = g.sendq.claim_front() {
            // SAFETY: as in `send_locked`.
            unsafe {
                if !(*w).got.is_null() {
                    let p = Pairing {
                        core: (*w).core,
                        got: (*w).got,
                    };
                    return Ok(TryRecv::Paired(p));
                }
                let v = (*(*w).slot).take().expect("parked sender without a value");
                let core = &*(*w).core;
                drop(g);
                core.complete();
                return Ok(TryRecv::Got(v));
            }
        }
        if g.closed {
            Ok(TryRecv::Closed)
        } else {
            Err(g)
        }
    }

    /// Links a receive waiter under the lock `g` (a blocking receive or a select's registration)
    /// and does what a parked receiver implies: wakes the send side's watchers (other than
    /// `core`'s own) and, on a timer channel, puts the timer in the heap.
    ///
    /// # Safety
    /// As [`WaitList::link`]: `w` is alive, unlinked, and stays put (with `core` and `slot`)
    /// while linked.
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn link_recv(
        this: &Arc<Self>,
        g: &mut Inner<T>,
        w: *mut Waiter<T>,
        core: *const SelCore,
        case: usize,
        slot: *mut Option<T>,
    ) {
        // SAFETY: the caller's contract; we hold the lock (`g`).
        unsafe { g.recvq.link(w, core, case, slot) };
        if !g.send_watch.is_empty() {
            g.send_watch.notify_all(core);
        }
        if let Some(t) = &this.timer {
            (t.block)(this, g);
        }
    }

    /// Links a send waiter under the lock `g`, and wakes the receive side's watchers (other than
    /// `core`'s own).
    ///
    /// # Safety
    /// As [`Chan::link_recv`].
    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn link_send(
        &self,
        g: &mut Inner<T>,
        w: *mut Waiter<T>,
        core: *const SelCore,
        case: usize,
        slot: *mut Option<T>,
    ) {
        // SAFETY: the caller's contract; we hold the lock (`g`).
        unsafe { g.sendq.link(w, core, case, slot) };
        if !g.recv_watch.is_empty() {
            g.recv_watch.notify_all(core);
        }
    }

    /// Closes; true if this call did. Wakes every parked waiter (receivers get `None`, senders
    /// keep their value, which they return in the error) and every watcher, and takes a timer
    /// channel's timer out of the heap.
    fn close(&self) -> bool {
        let mut g = self.inner.lock();
        if g.closed {
            return false;
        }
        g.closed = true;
        let inner = &mut *g;
        for q in [&mut inner.recvq, &mut inner.sendq] {
            while let Some(w) = q.claim_front() {
                // SAFETY: claimed, so the waiter is ours until `complete`; we read nothing after.
                // Completing under the lock is fine: the woken G takes this lock (to unlink its
                // other arms) only after we release it.
                unsafe { (*(*w).core).complete() };
            }
        }
        inner.recv_watch.notify_all(std::ptr::null());
        inner.send_watch.notify_all(std::ptr::null());
        let heaped = inner.timer.as_deref_mut().and_then(ChanTimer::unheap);
        drop(g);
        if let Some(id) = heaped {
            crate::timer::cancel(id);
        }
        true
    }

    /// The last `Receiver` is gone: close, then drop what is buffered, one value at a time and
    /// outside the lock (module docs, "Closing"). A panicking `Drop` propagates to the caller
    /// and leaves the values behind it buffered.
    fn close_receivers(&self) {
        self.close();
        if std::thread::panicking() {
            // A panicking Drop now would abort: leave the values to the channel's own drop.
            return;
        }
        loop {
            let v = self.inner.lock().buf.pop_front();
            match v {
                Some(v) => drop(v),
                None => break,
            }
        }
    }

    /// Finishes a dynamic `Select`'s send that reserved a buffer slot (dynamic.rs): the value
    /// goes to a receiver parked meanwhile, or into the slot; `Closed` if the channel closed
    /// since (the slot is then simply given up).
    fn send_reserved(&self, v: T) -> TrySend<T> {
        let mut g = self.inner.lock();
        g.reserved -= 1;
        match self.send_locked(g, v) {
            Ok(r) => r,
            // Unreachable: the slot we held is free (`has_room`), or the channel is closed.
            Err((_, v)) => TrySend::Full(v),
        }
    }

    /// Undoes a dynamic `Select`'s buffer reservation (dynamic.rs): the slot is free again, so
    /// a sender parked because of it moves in, or else the send side's watchers look again.
    fn release_slot(&self) {
        let mut g = self.inner.lock();
        g.reserved -= 1;
        if !g.closed && self.has_room(&g) {
            self.refill(g);
        }
    }
}

impl<T> Drop for Chan<T> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.inner.lock().buf);
        drop_one_at_a_time(buf);
    }
}

/// Drops `buf`'s values front to back. The first panicking `Drop` propagates, and the values
/// behind it are leaked, not dropped during the unwind: a second panicking destructor there
/// would abort the process (crossbeam's channels behave the same). If a panic is already
/// unwinding, everything is leaked for the same reason.
fn drop_one_at_a_time<T>(buf: VecDeque<T>) {
    struct LeakOnUnwind<T>(VecDeque<T>);
    impl<T> Drop for LeakOnUnwind<T> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                std::mem::forget(std::mem::take(&mut self.0));
            }
        }
    }
    let mut rest = LeakOnUnwind(buf);
    if std::thread::panicking() {
        return;
    }
    while let Some(v) = rest.0.pop_front() {
        drop(v);
    }
}

/// Creates a channel holding at most `cap` values; `bounded(0)` is Go's unbuffered channel, where
/// a send completes only when a receiver takes the value.
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::bounded(1);
/// tx.send(1).unwrap();
/// assert!(tx.try_send(2).is_err()); // full
/// assert_eq!(rx.recv(), Ok(1));
///
/// let (tx, rx) = gort::chan::bounded::<u32>(0);
/// let h = gort::spawn(move || tx.send(7).unwrap());
/// assert_eq!(rx.recv(), Ok(7));
/// h.join().unwrap();
/// ```
#[must_use]
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    assert!(cap < usize::MAX, "gort::chan::bounded: capacity too large");
    let c = Arc::new(Chan::new(cap));
    (Sender { c: c.clone() }, Receiver { c })
}

/// Creates a channel without a capacity limit: sends never block.
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.iter().sum::<i32>(), 499_500);
/// ```
#[must_use]
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(Chan::new(usize::MAX));
    (Sender { c: c.clone() }, Receiver { c })
}

/// A receiver that never receives anything and is never closed (Go's nil channel in a
/// `select`, crossbeam's `never`): its `select!` arm is never ready, and `recv` blocks for good.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = gort::chan::unbounded::<u8>();
/// let mut input = Some(&rx);
/// tx.send(1).unwrap();
/// for round in 0..2 {
///     let got = gort::select! {
///         recv(input.unwrap_or(&gort::chan::never())) -> v => v.ok(),
///         default(Duration::from_millis(5)) => None,
///     };
///     assert_eq!(got, if round == 0 { Some(1) } else { None });
///     input = None; // switch the arm off, as Go does by setting a channel to nil
/// }
/// ```
#[must_use]
pub fn never<T>() -> Receiver<T> {
    // Capacity 0 and a sender count that no `Sender` will ever bring to zero: never ready,
    // never closed.
    Receiver {
        c: Arc::new(Chan::new(0)),
    }
}

/// The sending side of a channel; clone it for more producers (MPMC).
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::unbounded();
/// let tx2 = tx.clone();
/// gort::spawn(move || tx2.send("hi").unwrap()).join().unwrap();
/// assert_eq!(rx.recv(), Ok("hi"));
/// ```
pub struct Sender<T> {
    c: Arc<Chan<T>>,
}

/// The receiving side of a channel; clone it for more consumers (MPMC).
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::bounded(4);
/// let rx2 = rx.clone();
/// tx.send(1).unwrap();
/// assert_eq!(rx2.recv(), Ok(1));
/// ```
pub struct Receiver<T> {
    c: Arc<Chan<T>>,
}

// SAFETY-free: Arc<Chan<T>> is Send/Sync when Chan<T> is; Chan<T> holds `Mutex<Inner<T>>`
// (Send for T: Send, see above) and atomics.

impl<T> Sender<T> {
    /// The channel's identity (its address), shared by every sender and receiver of it: how
    /// `gort::signal::stop` finds the channel a receiver belongs to.
    pub(crate) fn chan_id(&self) -> usize {
        &*self.c as *const Chan<T> as usize
    }

    /// Sends `v`, parking while the channel is full (for `bounded(0)`: until a receiver takes
    /// it). Fails, returning `v`, if the channel is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(1);
    /// assert!(tx.send(1).is_ok());
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().into_inner(), 2);
    /// ```
    #[track_caller]
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        // One lock: the send itself (no arm is built: a running G's stack may be cold), or, if it
        // must wait, the link of its waiter, under the same lock (select::block_one).
        let (g, v) = match self.c.send_locked(self.c.inner.lock(), v) {
            Ok(TrySend::Sent) => return Ok(()),
            Ok(TrySend::Closed(v)) => return Err(SendError(v)),
            Ok(TrySend::Full(_)) => unreachable!("send_locked reports a full channel as Err"),
            Err(blocked) => blocked,
        };
        self.c.before_park("send on");
        let arm = SendArm::new(self, v);
        let (w, slot) = (arm.waiter.get(), arm.slot.get());
        let c = &*self.c;
        let done = select::block_one(&arm, move |core| {
            let mut g = g;
            // SAFETY: our unlinked waiter, core and slot stay put until the claimer completes.
            unsafe { c.link_send(&mut g, w, core, 0, slot) };
        });
        // Only a receiver taken by a dynamic `Select` is ever given back, never a sender.
        debug_assert!(done, "a blocking send was given back");
        arm.into_result()
            .expect("blocking send returned without completing")
    }

    /// Sends without blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::chan::TrySendError;
    /// let (tx, rx) = gort::chan::bounded(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    /// ```
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.c.try_send(v) {
            TrySend::Sent => Ok(()),
            TrySend::Full(v) => Err(TrySendError::Full(v)),
            TrySend::Closed(v) => Err(TrySendError::Closed(v)),
        }
    }

    /// Sends, waiting at most `d` for room.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::chan::SendTimeoutError;
    /// use std::time::Duration;
    /// let (tx, _rx) = gort::chan::bounded(0);
    /// let r = tx.send_timeout(5, Duration::from_millis(10));
    /// assert_eq!(r, Err(SendTimeoutError::Timeout(5)));
    /// ```
    #[track_caller]
    pub fn send_timeout(&self, v: T, d: Duration) -> Result<(), SendTimeoutError<T>> {
        match crate::timer::now().checked_add(d) {
            Some(t) => self.send_until(v, __Mode::Deadline(t)),
            None => self.send_until(v, __Mode::Block),
        }
    }

    /// Sends, waiting until `deadline` at most for room (crossbeam's `send_deadline`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::chan::SendTimeoutError;
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = gort::chan::bounded(1);
    /// let soon = Instant::now() + Duration::from_millis(10);
    /// assert_eq!(tx.send_deadline(1, soon), Ok(()));
    /// assert_eq!(tx.send_deadline(2, soon), Err(SendTimeoutError::Timeout(2)));
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn send_deadline(&self, v: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(v, __Mode::Deadline(deadline))
    }

    fn send_until(&self, v: T, mode: __Mode) -> Result<(), SendTimeoutError<T>> {
        let arm = SendArm::new(self, v);
        __select(&[&arm], mode);
        let timed_out = !arm.chosen.get();
        let slot = arm.slot.into_inner();
        match (timed_out, slot) {
            (_, None) => Ok(()),
            (true, Some(v)) => Err(SendTimeoutError::Timeout(v)),
            (false, Some(v)) => Err(SendTimeoutError::Closed(v)),
        }
    }

    /// Closes the channel (Go's `close(ch)`): receivers drain what is buffered and then get
    /// errors; sends fail. Returns false if it was already closed (Go would panic).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(2);
    /// tx.send(1).unwrap();
    /// assert!(tx.close());
    /// assert!(!tx.close());
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn close(&self) -> bool {
        self.c.close()
    }

    /// True once the channel is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded::<()>(0);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.c.inner.lock().closed
    }

    /// The number of buffered values.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded(3);
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.c.inner.lock().buf.len()
    }

    /// True if nothing is buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded::<u8>(3);
    /// assert!(tx.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if a send would have to wait for room: the buffer is full (always for `bounded(0)`,
    /// never for `unbounded()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded(1);
    /// assert!(!tx.is_full());
    /// tx.send(()).unwrap();
    /// assert!(tx.is_full());
    /// assert!(gort::chan::bounded::<()>(0).0.is_full());
    /// ```
    #[must_use]
    pub fn is_full(&self) -> bool {
        !self.c.has_room(&self.c.inner.lock())
    }

    /// The capacity; `None` for an unbounded channel.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::chan::bounded::<u8>(3).0.capacity(), Some(3));
    /// assert_eq!(gort::chan::unbounded::<u8>().0.capacity(), None);
    /// ```
    #[must_use]
    pub fn capacity(&self) -> Option<usize> {
        (self.c.cap != usize::MAX).then_some(self.c.cap)
    }

    /// True if `self` and `other` send on the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::unbounded::<u8>();
    /// let (tx2, _rx2) = gort::chan::unbounded::<u8>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&tx2));
    /// ```
    #[must_use]
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.c, &other.c)
    }
}

impl<T> Receiver<T> {
    /// The channel's identity (see `Sender::chan_id`).
    pub(crate) fn chan_id(&self) -> usize {
        &*self.c as *const Chan<T> as usize
    }

    /// Receives, parking while the channel is empty; fails once it is closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(1);
    /// gort::spawn(move || tx.send(3).unwrap());
    /// assert_eq!(rx.recv(), Ok(3));
    /// assert_eq!(rx.recv(), Err(gort::chan::RecvError)); // the sender is gone
    /// ```
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        // One lock: the receive itself, or, if it must wait, the link of its waiter, under the
        // same lock (select::block_one).
        let g = match self.c.recv_locked(self.c.inner.lock()) {
            Ok(TryRecv::Got(v)) => return Ok(v),
            Ok(TryRecv::Closed) => return Err(RecvError),
            Ok(TryRecv::Empty) => unreachable!("recv_locked reports an empty channel as Err"),
            Ok(TryRecv::Paired(p)) => return self.recv_after_pairing(p),
            Err(g) => g,
        };
        self.recv_blocking(g)
    }

    /// [`recv`](Self::recv) after it claimed a deferred sender: waits for its value, or
    /// receives again if the sender gave the claim back. Cold and out of line: its arm and
    /// core would otherwise sit in `recv`'s frame, above every parked receiver (module docs,
    /// "Hot paths").
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn recv_after_pairing(&self, p: Pairing) -> Result<T, RecvError> {
        match Chan::recv_paired(&self.c, p) {
            Some(TryRecv::Got(v)) => Ok(v),
            _ => self.recv(),
        }
    }

    /// The blocking tail of [`recv`](Self::recv): links a waiter under `g`, the lock of the
    /// attempt that found nothing, and parks (select::block_one).
    #[track_caller]
    fn recv_blocking<'a>(&'a self, mut g: MutexGuard<'a, Inner<T>>) -> Result<T, RecvError> {
        self.c.before_park("receive on");
        loop {
            let arm = RecvArm::new(self);
            let (w, slot) = (arm.waiter.get(), arm.slot.get());
            let c = &self.c;
            let done = select::block_one(&arm, move |core| {
                let mut g = g;
                // SAFETY: our unlinked waiter, core and slot stay put until the claimer
                // completes.
                unsafe { Chan::link_recv(c, &mut g, w, core, 0, slot) };
            });
            if done {
                return arm
                    .into_result()
                    .expect("blocking recv returned without completing");
            }
            // A dynamic `Select` took us for its send and gave us back unsent: try again.
            g = match self.recv_again() {
                Ok(g) => g,
                Err(r) => return r,
            };
        }
    }

    /// The retry of [`recv_blocking`](Self::recv_blocking) after a dynamic `Select` gave the
    /// waiter back: the attempt again, as [`recv`](Self::recv) makes it; `Err` carries the
    /// outcome if there was one, `Ok` the lock to wait under. Cold and out of line, so that its
    /// locals do not enlarge the frame every parked receiver keeps.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn recv_again(&self) -> Result<MutexGuard<'_, Inner<T>>, Result<T, RecvError>> {
        match self.c.recv_locked(self.c.inner.lock()) {
            Ok(TryRecv::Got(v)) => Err(Ok(v)),
            Ok(TryRecv::Closed) => Err(Err(RecvError)),
            Ok(TryRecv::Empty) => unreachable!("recv_locked reports an empty channel as Err"),
            Ok(TryRecv::Paired(p)) => Err(self.recv_after_pairing(p)),
            Err(g) => Ok(g),
        }
    }

    /// Receives without blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::chan::TryRecvError;
    /// let (tx, rx) = gort::chan::bounded(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match Chan::try_recv(&self.c) {
            TryRecv::Got(v) => Ok(v),
            TryRecv::Empty => Err(TryRecvError::Empty),
            TryRecv::Closed => Err(TryRecvError::Closed),
            TryRecv::Paired(_) => unreachable!("try_recv finishes a pairing itself"),
        }
    }

    /// Receives, waiting at most `d`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::chan::RecvTimeoutError;
    /// use std::time::Duration;
    /// let (_tx, rx) = gort::chan::bounded::<u8>(1);
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Err(RecvTimeoutError::Timeout));
    /// ```
    #[track_caller]
    pub fn recv_timeout(&self, d: Duration) -> Result<T, RecvTimeoutError> {
        match crate::timer::now().checked_add(d) {
            Some(t) => self.recv_until(__Mode::Deadline(t)),
            None => self.recv_until(__Mode::Block),
        }
    }

    /// Receives, waiting until `deadline` at most (crossbeam's `recv_deadline`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::chan::RecvTimeoutError;
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = gort::chan::bounded(1);
    /// let soon = Instant::now() + Duration::from_millis(10);
    /// assert_eq!(rx.recv_deadline(soon), Err(RecvTimeoutError::Timeout));
    /// tx.send(5).unwrap();
    /// assert_eq!(rx.recv_deadline(soon), Ok(5));
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(__Mode::Deadline(deadline))
    }

    fn recv_until(&self, mode: __Mode) -> Result<T, RecvTimeoutError> {
        let arm = RecvArm::new(self);
        __select(&[&arm], mode);
        match arm.into_result() {
            None => Err(RecvTimeoutError::Timeout),
            Some(Ok(v)) => Ok(v),
            Some(Err(RecvError)) => Err(RecvTimeoutError::Closed),
        }
    }

    /// True once the channel is closed (values may still be buffered).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded::<()>(0);
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.c.inner.lock().closed
    }

    /// The number of buffered values. A due timer channel (`gort::time::after` and friends)
    /// counts its value, which is made when it is looked at.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// assert_eq!(gort::time::after(std::time::Duration::ZERO).len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        let mut g = self.c.inner.lock();
        self.c.poll_timer(&mut g);
        g.buf.len()
    }

    /// True if nothing is buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = gort::chan::unbounded::<u8>();
    /// assert!(rx.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the buffer is full (always for `bounded(0)` and `never()`, never for
    /// `unbounded()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(1);
    /// assert!(!rx.is_full());
    /// tx.send(1).unwrap();
    /// assert!(rx.is_full());
    /// ```
    #[must_use]
    pub fn is_full(&self) -> bool {
        let mut g = self.c.inner.lock();
        self.c.poll_timer(&mut g);
        !self.c.has_room(&g)
    }

    /// The capacity; `None` for an unbounded channel (1 for timer channels, 0 for `never()`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::chan::bounded::<u8>(0).1.capacity(), Some(0));
    /// ```
    #[must_use]
    pub fn capacity(&self) -> Option<usize> {
        (self.c.cap != usize::MAX).then_some(self.c.cap)
    }

    /// True if `self` and `other` receive from the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = gort::chan::unbounded::<u8>();
    /// assert!(rx.same_channel(&rx.clone()));
    /// assert!(!rx.same_channel(&gort::chan::never()));
    /// ```
    #[must_use]
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.c, &other.c)
    }

    /// A blocking iterator that ends when the channel is closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::unbounded();
    /// gort::spawn(move || (1..=3).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// A non-blocking iterator over what can be received right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().count(), 2);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: cloning from a live sender; the count cannot be zero here.
        self.c.senders.fetch_add(1, Ordering::Relaxed);
        Sender { c: self.c.clone() }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        // Relaxed: as for `Sender::clone`.
        self.c.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver { c: self.c.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last dropper must see all other senders' sends before it closes.
        if self.c.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.c.close();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // AcqRel: as for `Sender::drop`.
        if self.c.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.c.close_receivers();
        }
    }
}

// A panic cannot leave a channel half-updated: every critical section runs to its end (nothing
// in one calls user code), and there is no poisoning. So, like crossbeam's and std's channels,
// the handles may cross `catch_unwind`.
impl<T> std::panic::UnwindSafe for Sender<T> {}
impl<T> std::panic::RefUnwindSafe for Sender<T> {}
impl<T> std::panic::UnwindSafe for Receiver<T> {}
impl<T> std::panic::RefUnwindSafe for Receiver<T> {}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

/// Blocking iterator from [`Receiver::iter`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::bounded(1);
/// drop(tx);
/// let mut it: gort::chan::Iter<'_, u8> = rx.iter();
/// assert_eq!(it.next(), None);
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator from [`Receiver::try_iter`].
///
/// # Examples
///
/// ```
/// let (_tx, rx) = gort::chan::bounded::<u8>(1);
/// assert_eq!(rx.try_iter().next(), None);
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator (`for v in rx`).
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::unbounded();
/// tx.send(1).unwrap();
/// drop(tx);
/// for v in rx {
///     assert_eq!(v, 1);
/// }
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

// ---- errors ---------------------------------------------------------------------------------

/// A send on a closed channel; holds the value that was not sent.
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::bounded(1);
/// drop(rx);
/// let e = tx.send(5).unwrap_err();
/// assert_eq!(e.to_string(), "sending on a closed channel");
/// assert_eq!(e.into_inner(), 5);
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::chan::SendError(1).into_inner(), 1);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Why [`Sender::try_send`] failed; holds the value.
///
/// # Examples
///
/// ```
/// let e = gort::chan::TrySendError::Full(1);
/// assert!(e.is_full());
/// assert_eq!(e.into_inner(), 1);
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The channel is full (or, for `bounded(0)`, no receiver is waiting).
    Full(T),
    /// The channel is closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::chan::TrySendError::Closed(2).into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
    /// True for `Full`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!gort::chan::TrySendError::Closed(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
    /// True for `Closed`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort::chan::TrySendError::Closed(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

/// Why [`Sender::send_timeout`] failed; holds the value.
///
/// # Examples
///
/// ```
/// let e = gort::chan::SendTimeoutError::Timeout(1);
/// assert!(e.is_timeout());
/// assert_eq!(e.into_inner(), 1);
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The time ran out.
    Timeout(T),
    /// The channel is closed.
    Closed(T),
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::chan::SendTimeoutError::Closed(2).into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Closed(v) => v,
        }
    }
    /// True for `Timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!gort::chan::SendTimeoutError::Closed(()).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }
}

/// A receive on a closed, drained channel.
///
/// # Examples
///
/// ```
/// let (tx, rx) = gort::chan::bounded::<u8>(1);
/// drop(tx);
/// assert_eq!(rx.recv(), Err(gort::chan::RecvError));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

/// Why [`Receiver::try_recv`] failed.
///
/// # Examples
///
/// ```
/// assert_eq!(gort::chan::TryRecvError::Empty.to_string(), "receiving on an empty channel");
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// Nothing to receive now.
    Empty,
    /// Closed and drained.
    Closed,
}

/// Why [`Receiver::recv_timeout`] failed.
///
/// # Examples
///
/// ```
/// assert_eq!(gort::chan::RecvTimeoutError::Timeout.to_string(), "timed out waiting on a channel");
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The time ran out.
    Timeout,
    /// Closed and drained.
    Closed,
}

const CLOSED_SEND: &str = "sending on a closed channel";
const CLOSED_RECV: &str = "receiving on a closed channel";

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SendError(..)")
    }
}
impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(CLOSED_SEND)
    }
}
impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.pad("Full(..)"),
            TrySendError::Closed(_) => f.pad("Closed(..)"),
        }
    }
}
impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.pad("sending on a full channel"),
            TrySendError::Closed(_) => f.pad(CLOSED_SEND),
        }
    }
}
impl<T> std::error::Error for TrySendError<T> {}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.pad("Timeout(..)"),
            SendTimeoutError::Closed(_) => f.pad("Closed(..)"),
        }
    }
}
impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.pad("timed out waiting on a channel"),
            SendTimeoutError::Closed(_) => f.pad(CLOSED_SEND),
        }
    }
}
impl<T> std::error::Error for SendTimeoutError<T> {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(CLOSED_RECV)
    }
}
impl std::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.pad("receiving on an empty channel"),
            TryRecvError::Closed => f.pad(CLOSED_RECV),
        }
    }
}
impl std::error::Error for TryRecvError {}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.pad("timed out waiting on a channel"),
            RecvTimeoutError::Closed => f.pad(CLOSED_RECV),
        }
    }
}
impl std::error::Error for RecvTimeoutError {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Closed(e.0)
    }
}
