//! Channels: Go's `chan T` for green threads and plain threads alike.
//!
//! # States (per channel, under its lock)
//!
//! | state            | `buf`             | `recvq`          | `sendq`              |
//! |------------------|-------------------|------------------|----------------------|
//! | open, idle       | 0 < len < cap     | empty            | empty                |
//! | open, receivers wait | empty         | parked receivers | empty                |
//! | open, senders wait   | full (len = cap; always for `bounded(0)`) | empty | parked senders |
//! | closed           | draining          | empty            | empty                |
//!
//! Stale waiters (selects already claimed by another channel) may sit in either queue; they are
//! dropped by whoever meets them (waiter.rs). `bounded(0)` has `cap == 0`: a send completes only
//! by a direct hand-off to a receiver, so it returns only once a receiver has the value.
//!
//! # Who touches what
//!
//! * `Chan::inner` (buffer, queues, closed flag): under `Chan::inner`'s lock, always short and
//!   never held across a park.
//! * A parked waiter's slot: only by the claimer that won its core (waiter.rs, step 3).
//! * `senders` / `receivers`: atomic counts; the last `Sender` or `Receiver` dropped closes.
//!
//! # Hot paths
//!
//! A send to a parked receiver writes the value straight into the receiver's slot on its stack
//! (Go's `sudog.elem`) and readies it into the sender's P's `runnext`; a receive from a parked
//! sender takes the value from the sender's stack. Waiter nodes live in the blocked call's frame,
//! so no operation allocates (except growth of an unbounded buffer, and deadlines, which need
//! a timer).
//!
//! # Closing (Go's rules, without the panics)
//!
//! `Sender::close` (or dropping the last `Sender`) closes: parked receivers wake with an error,
//! parked senders get their values back, receivers drain the buffer and then get errors, and
//! later sends return their value in the error. Dropping the last `Receiver` closes too (no one
//! can ever receive, so a blocked sender must not wait forever; crossbeam's rule).

mod ctx;
mod select;
mod time;
pub(crate) mod waiter;

pub use ctx::{RecvCtxError, SendCtxError};
pub use select::{select as __select, Mode as __Mode, Reg as __Reg, SelectArm as __SelectArm};
pub use time::{after, tick};

use crate::g::WaitReason;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{Arc, Mutex, MutexGuard};
use select::{Reg, SelectArm};
use std::cell::{Cell, UnsafeCell};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};
use waiter::{SelCore, WaitList, Waiter};

struct Inner<T> {
    buf: VecDeque<T>,
    closed: bool,
    recvq: WaitList<T>,
    sendq: WaitList<T>,
}

// SAFETY: the raw waiter pointers in the queues are touched only under the channel lock, and the
// waiters they point to are alive while linked (waiter.rs); the values moved through them are `T:
// Send`.
unsafe impl<T: Send> Send for Inner<T> {}

struct Chan<T> {
    inner: Mutex<Inner<T>>,
    /// `usize::MAX` for unbounded.
    cap: usize,
    /// Live `Sender`s; Relaxed increments (a clone comes from a live one), AcqRel decrement so
    /// the last dropper sees every other sender's effects before closing.
    senders: AtomicUsize,
    /// Live `Receiver`s; as `senders`.
    receivers: AtomicUsize,
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
        Chan {
            inner: Mutex::new(Inner {
                buf,
                closed: false,
                recvq: WaitList::new(),
                sendq: WaitList::new(),
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
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
        if g.buf.len() < self.cap {
            g.buf.push_back(v);
            return Ok(TrySend::Sent);
        }
        Err((g, v))
    }

    fn try_recv(&self) -> TryRecv<T> {
        match self.recv_locked(self.inner.lock()) {
            Ok(r) => r,
            Err(_) => TryRecv::Empty,
        }
    }

    /// The receive under the lock `g`: takes a buffered value or a parked sender's, or reports
    /// the channel closed and drained (`Ok`, the lock released); when it would block, gives the
    /// lock back (`Err`), so that a blocking receive links its waiter under the same lock.
    fn recv_locked<'a>(
        &'a self,
        mut g: MutexGuard<'a, Inner<T>>,
    ) -> Result<TryRecv<T>, MutexGuard<'a, Inner<T>>> {
        if let Some(v) = g.buf.pop_front() {
            // A full buffer with a parked sender: move its value to the tail (Go's recv).
            if let Some(w) = g.sendq.claim_front() {
                // SAFETY: as in `send_locked`: the claim gives us the sender's slot.
                unsafe {
                    let sv = (*(*w).slot).take().expect("parked sender without a value");
                    g.buf.push_back(sv);
                    let core = &*(*w).core;
                    drop(g);
                    core.complete();
                }
            }
            return Ok(TryRecv::Got(v));
        }
        if let Some(w) = g.sendq.claim_front() {
            // SAFETY: as in `send_locked`.
            unsafe {
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

    /// Closes; true if this call did. Wakes every parked waiter (receivers get `None`, senders
    /// keep their value, which they return in the error).
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
        true
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
        let arm = SendArm::new(self, v);
        let (w, slot) = (arm.waiter.get(), arm.slot.get());
        select::block_one(&arm, move |core| {
            let mut g = g;
            // SAFETY: our unlinked waiter, core and slot stay put until the claimer completes.
            unsafe { g.sendq.link(w, core, 0, slot) };
        });
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
        let arm = SendArm::new(self, v);
        let mode = match Instant::now().checked_add(d) {
            Some(t) => __Mode::Deadline(t),
            None => __Mode::Block,
        };
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
            Err(g) => g,
        };
        let arm = RecvArm::new(self);
        let (w, slot) = (arm.waiter.get(), arm.slot.get());
        select::block_one(&arm, move |core| {
            let mut g = g;
            // SAFETY: our unlinked waiter, core and slot stay put until the claimer completes.
            unsafe { g.recvq.link(w, core, 0, slot) };
        });
        arm.into_result()
            .expect("blocking recv returned without completing")
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
        match self.c.try_recv() {
            TryRecv::Got(v) => Ok(v),
            TryRecv::Empty => Err(TryRecvError::Empty),
            TryRecv::Closed => Err(TryRecvError::Closed),
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
        let arm = RecvArm::new(self);
        let mode = match Instant::now().checked_add(d) {
            Some(t) => __Mode::Deadline(t),
            None => __Mode::Block,
        };
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

    /// The number of buffered values.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = gort::chan::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
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
    /// let (_tx, rx) = gort::chan::unbounded::<u8>();
    /// assert!(rx.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity; `None` for an unbounded channel.
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
            self.c.close();
        }
    }
}

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

// ---- select arms ----------------------------------------------------------------------------

/// A receive arm of `select!` (hidden; built by the macro).
#[doc(hidden)]
pub struct RecvArm<'a, T> {
    c: &'a Chan<T>,
    /// The received value; `None` after a completed arm means "closed".
    slot: UnsafeCell<Option<T>>,
    waiter: UnsafeCell<Waiter<T>>,
    chosen: Cell<bool>,
}

impl<'a, T> RecvArm<'a, T> {
    /// An arm receiving from `rx`.
    pub fn new(rx: &'a Receiver<T>) -> Self {
        RecvArm {
            c: &rx.c,
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
}

impl<T> select::sealed::Sealed for RecvArm<'_, T> {}

impl<T> SelectArm for RecvArm<'_, T> {
    fn try_now(&self) -> bool {
        match self.c.try_recv() {
            TryRecv::Got(v) => {
                // SAFETY: the arm is not registered anywhere during pass 1: only we touch it.
                unsafe { *self.slot.get() = Some(v) };
                true
            }
            TryRecv::Closed => true,
            TryRecv::Empty => false,
        }
    }

    // SAFETY: callers uphold the `# Safety` contract in this function's docs.
    unsafe fn register(&self, core: *const SelCore, case: usize) -> Reg {
        let mut g = self.c.inner.lock();
        if !g.buf.is_empty() || g.closed || g.sendq.has_partner(core) {
            return Reg::Ready;
        }
        // Our unlinked waiter stays in place until `unregister` (the caller's contract).
        // SAFETY: so it, `core` and the slot outlive the link; we hold the lock for the push.
        unsafe { g.recvq.link(self.waiter.get(), core, case, self.slot.get()) };
        Reg::Linked
    }

    fn unregister(&self, selected: bool) {
        let w = self.waiter.get();
        if selected {
            // The claimer unlinked it before claiming, and `complete`/`commit` ordered that.
            return;
        }
        let mut g = self.c.inner.lock();
        // SAFETY: `linked` and the list are touched only under this lock.
        unsafe {
            if (*w).linked {
                g.recvq.remove(w);
            }
        }
    }

    fn mark(&self) {
        self.chosen.set(true);
    }

    fn reason(&self) -> WaitReason {
        WaitReason::ChanReceive
    }

    fn wait_obj(&self) -> crate::g::WaitObj {
        self.c.wait_obj()
    }
}

/// A send arm of `select!` (hidden; built by the macro).
#[doc(hidden)]
pub struct SendArm<'a, T> {
    c: &'a Chan<T>,
    /// The value until it is sent; still `Some` after a completed arm means "closed".
    slot: UnsafeCell<Option<T>>,
    waiter: UnsafeCell<Waiter<T>>,
    chosen: Cell<bool>,
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

impl<T> select::sealed::Sealed for SendArm<'_, T> {}

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
        if g.closed || g.buf.len() < self.c.cap || g.recvq.has_partner(core) {
            return Reg::Ready;
        }
        // SAFETY: as in `RecvArm::register`: our waiter outlives the link; we hold the lock.
        unsafe { g.sendq.link(self.waiter.get(), core, case, self.slot.get()) };
        Reg::Linked
    }

    fn unregister(&self, selected: bool) {
        let w = self.waiter.get();
        if selected {
            return;
        }
        let mut g = self.c.inner.lock();
        // SAFETY: as in `RecvArm::unregister`.
        unsafe {
            if (*w).linked {
                g.sendq.remove(w);
            }
        }
    }

    fn mark(&self) {
        self.chosen.set(true);
    }

    fn reason(&self) -> WaitReason {
        WaitReason::ChanSend
    }

    fn wait_obj(&self) -> crate::g::WaitObj {
        self.c.wait_obj()
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

// ---- the macro ------------------------------------------------------------------------------

/// Waits on several channel operations and runs the arm of the one that completes
/// (Go's `select`, crossbeam-channel's syntax).
///
/// Arms: `recv(rx) -> v => body` (`v: Result<T, RecvError>`), `send(tx, value) -> res => body`
/// (`res: Result<(), SendError<T>>`), and at most one of `default => body` (do not block) or
/// `default(duration) => body` (give up after `duration`). A closed channel's arm is ready (with
/// the error). When several arms are ready one is chosen uniformly at random; exactly one arm
/// runs, and an arm that is not chosen consumes nothing. Runs on the caller's stack; works on
/// plain threads too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let (tx1, rx1) = gort::chan::bounded::<i32>(1);
/// let (tx2, rx2) = gort::chan::bounded::<&str>(1);
/// tx2.send("two").unwrap();
/// let got = gort::select! {
///     recv(rx1) -> v => format!("rx1 {:?}", v),
///     recv(rx2) -> v => format!("rx2 {}", v.unwrap()),
///     default(Duration::from_secs(1)) => "timeout".to_string(),
/// };
/// assert_eq!(got, "rx2 two");
/// let sent = gort::select! {
///     send(tx1, 5) -> r => r.is_ok(),
///     default => false,
/// };
/// assert!(sent);
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(@arms [] @default [] $($tokens)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // recv arms
    (@arms [$($a:tt)*] @default [$($d:tt)*] recv($rx:expr) -> $p:pat => $b:block, $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($a)* (__arm, $crate::chan::RecvArm::new(&$rx), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@arms [$($a:tt)*] @default [$($d:tt)*] recv($rx:expr) -> $p:pat => $b:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($a)* (__arm, $crate::chan::RecvArm::new(&$rx), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@arms [$($a:tt)*] @default [$($d:tt)*] recv($rx:expr) -> $p:pat => $b:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($a)* (__arm, $crate::chan::RecvArm::new(&$rx), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@arms [$($a:tt)*] @default [$($d:tt)*] recv($rx:expr) -> $p:pat => $b:expr) => {
        $crate::__select_parse!(@arms [$($a)* (__arm, $crate::chan::RecvArm::new(&$rx), $p, $b)] @default [$($d)*])
    };
    // send arms
    (@arms [$($a:tt)*] @default [$($d:tt)*] send($tx:expr, $v:expr) -> $p:pat => $b:block, $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($a)* (__arm, $crate::chan::SendArm::new(&$tx, $v), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@arms [$($a:tt)*] @default [$($d:tt)*] send($tx:expr, $v:expr) -> $p:pat => $b:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($a)* (__arm, $crate::chan::SendArm::new(&$tx, $v), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@arms [$($a:tt)*] @default [$($d:tt)*] send($tx:expr, $v:expr) -> $p:pat => $b:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($a)* (__arm, $crate::chan::SendArm::new(&$tx, $v), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@arms [$($a:tt)*] @default [$($d:tt)*] send($tx:expr, $v:expr) -> $p:pat => $b:expr) => {
        $crate::__select_parse!(@arms [$($a)* (__arm, $crate::chan::SendArm::new(&$tx, $v), $p, $b)] @default [$($d)*])
    };
    // default arms
    (@arms [$($a:tt)*] @default [] default => $b:block $(,)?) => {
        $crate::__select_parse!(@arms [$($a)*] @default [$crate::chan::__Mode::NonBlock, $b])
    };
    (@arms [$($a:tt)*] @default [] default => $b:expr $(,)?) => {
        $crate::__select_parse!(@arms [$($a)*] @default [$crate::chan::__Mode::NonBlock, $b])
    };
    (@arms [$($a:tt)*] @default [] default($t:expr) => $b:block $(,)?) => {
        $crate::__select_parse!(@arms [$($a)*] @default [$crate::chan::__Mode::Timeout($t), $b])
    };
    (@arms [$($a:tt)*] @default [] default($t:expr) => $b:expr $(,)?) => {
        $crate::__select_parse!(@arms [$($a)*] @default [$crate::chan::__Mode::Timeout($t), $b])
    };
    (@arms [$($a:tt)*] @default [$($d:tt)+] default $($rest:tt)*) => {
        ::core::compile_error!("select!: more than one default arm, or arms after default")
    };
    // done
    (@arms [$(($name:ident, $ctor:expr, $p:pat, $b:expr))*] @default []) => {
        $crate::__select_parse!(@emit [$(($name, $ctor, $p, $b))*] $crate::chan::__Mode::Block, ::core::unreachable!("select!: no arm chosen"))
    };
    (@arms [$(($name:ident, $ctor:expr, $p:pat, $b:expr))*] @default [$m:expr, $db:expr]) => {
        $crate::__select_parse!(@emit [$(($name, $ctor, $p, $b))*] $m, $db)
    };
    (@emit [$(($name:ident, $ctor:expr, $p:pat, $b:expr))*] $m:expr, $db:expr) => {{
        #[allow(unused_parens, clippy::let_unit_value)]
        let ($($name,)*) = {
            $( let $name = $ctor; )*
            let __arms: &[&dyn $crate::chan::__SelectArm] = &[$(&$name),*];
            $crate::chan::__select(__arms, $m);
            ($($name.into_result(),)*)
        };
        $(
            if let ::core::option::Option::Some(__res) = $name {
                let $p = __res;
                $b
            } else
        )* { $db }
    }};
    (@arms [$($a:tt)*] @default [$($d:tt)*] $($rest:tt)+) => {
        ::core::compile_error!("select!: expected `recv(rx) -> v => ...`, `send(tx, value) -> r => ...`, `default => ...` or `default(duration) => ...`")
    };
}
