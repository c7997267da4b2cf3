//! The poll descriptor: per socket, a read slot and a write slot, each a small state machine
//! between the Gs that wait for readiness and the three things that end a wait (readiness from
//! the poller, a deadline timer, a close). Go's `pollDesc` with its `rg`/`wg` semaphores.
//!
//! # States of a slot (Go's four, and how they map)
//!
//! | Go (`rg`/`wg`) | here                                   | meaning                              |
//! |----------------|----------------------------------------|--------------------------------------|
//! | `nil`          | `ready == false`, no waiters           | nothing known, nobody waiting        |
//! | `pdReady`      | `ready == true`, no waiters            | an edge arrived that nobody consumed |
//! | a G            | `waiters` non-empty, `ready == false`  | Gs parked, each with a ticket        |
//! | `pdWait`       | (no state: see below)                  | a G committing to park               |
//!
//! Go needs `pdWait` because its G publishes itself before it has switched out. gort's park
//! protocol (park.rs) calls [`PollDesc::arm`] on the M *after* the G switched out, so there is
//! nothing to commit: the G becomes visible to wakers at the instant `arm` stores it, atomically
//! with the check of `ready` and `closed` under the lock. A slot may hold more than one waiter
//! (two Gs reading one `&TcpStream`); readiness wakes them all and they retry (edge-triggered:
//! the losers see `WouldBlock` and park again).
//!
//! # Transitions (all under `inner`'s lock)
//!
//! 1. **arm(dir, ticket, w)** (the waiter, on its M): closed → returns `Closed(w)` (outcome
//!    `Closed`); `ready` → clears it and returns `Ready(w)` (outcome `Ready`: retry the I/O);
//!    else stores `(ticket, w)`, runs `on_park` (arms the deadline timer), returns `Parked`.
//! 2. **notify(dir)** (the poller, for an edge): no waiters → `ready = true`; else every waiter
//!    is taken with outcome `Ready`. `notify_edges` does it for both directions of one event
//!    under one lock (the poller's form).
//! 3. **expire(dir, ticket)** (the deadline timer): if `ticket` still waits, it is taken with
//!    outcome `TimedOut`; else nothing (a waker got there first).
//! 4. **close()** (the owner dropping or closing the socket): `closed = true`, `ready` cleared,
//!    every waiter of both slots taken with outcome `Closed`. Later arms return `Closed`.
//! 5. **outcome(dir, ticket)** (the waiter, after it runs again): removes and returns the
//!    outcome recorded for its ticket.
//!
//! # Invariants (loom model 6, loom-tests/tests/pd.rs, checks 1 and 2)
//!
//! 1. Each armed `w` is returned exactly once, by exactly one of arm / notify / expire / close,
//!    and at that moment the outcome for its ticket is recorded (the "woken exactly once with
//!    the right result").
//! 2. `ready` and a non-empty `waiters` never hold together; after `close`, both are empty/false
//!    until [`PollDesc::reset`].
//! 3. Tickets are never reused for the life of a descriptor (descriptors are recycled, never
//!    freed; a stale timer's `expire` finds no ticket and does nothing).
//!
//! The state machine is generic over the waiter `W` so the loom model drives the real code with
//! plain tokens; the runtime's `W` is an `Unparker` plus the deadline timer's id.

use crate::loom::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::loom::Mutex;

/// Which half of a socket a waiter waits on.
///
/// # Examples
///
/// ```
/// use gort_runtime::netpoll::pd::Dir;
/// assert_ne!(Dir::Read, Dir::Write);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Readable (also: accept, recv).
    Read = 0,
    /// Writable (also: connect completion, send).
    Write = 1,
}

/// Why a wait ended.
///
/// # Examples
///
/// ```
/// use gort_runtime::netpoll::pd::Outcome;
/// assert_ne!(Outcome::Ready, Outcome::TimedOut);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Readiness arrived (or was pending): retry the I/O.
    Ready,
    /// The deadline passed first.
    TimedOut,
    /// The descriptor was closed.
    Closed,
}

/// What [`PollDesc::arm`] did with the waiter.
#[derive(Debug)]
pub enum Arm<W> {
    /// Stored: the waiter will be handed out by notify, expire or close.
    Parked,
    /// Not stored, because readiness was pending: handed back (outcome `Ready`).
    Ready(W),
    /// Not stored, because the descriptor is closed: handed back (outcome `Closed`).
    Closed(W),
}

/// A slot's waiters or outcomes, keyed by ticket: the first entry inline, any more in a `Vec`.
/// Almost always there is at most one (one G reading a socket), so the common case touches the
/// descriptor's own memory and no separate heap line: under socket load the descriptor's lines
/// move between the poller's core and the waiter's on every request, and the two `Vec` buffers
/// this replaced were two more lines to move (tcp_echo profile: the wake-up's first touch of
/// the outcomes buffer was a quarter of `netpoll::wait`'s samples).
///
/// Invariant: `rest` is empty whenever `first` is `None`. Order is not kept (as `swap_remove`).
struct Few<T> {
    first: Option<(u64, T)>,
    rest: Vec<(u64, T)>,
}

impl<T> Few<T> {
    const fn new() -> Self {
        Few {
            first: None,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, ticket: u64, v: T) {
        if self.first.is_none() {
            self.first = Some((ticket, v));
        } else {
            self.rest.push((ticket, v));
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// Removes and returns the entry of `ticket`, if there is one.
    fn take(&mut self, ticket: u64) -> Option<T> {
        if self.first.as_ref().is_some_and(|(t, _)| *t == ticket) {
            let (_, v) = std::mem::replace(&mut self.first, self.rest.pop())?;
            return Some(v);
        }
        let i = self.rest.iter().position(|(t, _)| *t == ticket)?;
        Some(self.rest.swap_remove(i).1)
    }

    /// Removes every entry, passing each to `f`.
    fn drain(&mut self, mut f: impl FnMut(u64, T)) {
        if let Some((t, v)) = self.first.take() {
            f(t, v);
        }
        for (t, v) in self.rest.drain(..) {
            f(t, v);
        }
    }
}

struct Slot<W> {
    ready: bool,
    waiters: Few<W>,
    outcomes: Few<Outcome>,
}

impl<W> Slot<W> {
    const fn new() -> Self {
        Slot {
            ready: false,
            waiters: Few::new(),
            outcomes: Few::new(),
        }
    }
}

struct Inner<W> {
    closed: bool,
    slots: [Slot<W>; 2],
}

/// A poll descriptor (see the module docs for the state machine).
///
/// # Examples
///
/// ```
/// use gort_runtime::netpoll::pd::{Arm, Dir, Outcome, PollDesc};
/// let pd = PollDesc::<&str>::new();
/// let t = pd.ticket();
/// assert!(matches!(pd.arm(Dir::Read, t, "g1", |_| {}), Arm::Parked));
/// let mut woken = Vec::new();
/// pd.notify(Dir::Read, &mut woken);
/// assert_eq!(woken, ["g1"]);
/// assert_eq!(pd.outcome(Dir::Read, t), Outcome::Ready);
/// ```
pub struct PollDesc<W> {
    inner: Mutex<Inner<W>>,
    /// Mirror of `Inner::closed` for the I/O fast path. Written under the lock (Release), read
    /// without it (Acquire): a stale `false` only costs one syscall, then `arm` sees the truth.
    closed: AtomicBool,
    /// Sticky until [`PollDesc::reset`]: the poller saw the read side end (a FIN, a hang-up or
    /// an error: `EPOLLRDHUP`/`EPOLLHUP`/`EPOLLERR`). Such an end raises one edge and never
    /// another, so a reader that skips the read call to wait for the next edge (net/mod.rs,
    /// "Short reads") must not wait once it has come. Set (Release) by the poller before its
    /// `notify` of that event; read (Acquire) by the reader, which sees it whenever the edge's
    /// readiness was consumed by an earlier wait of its own (that wait took the lock after the
    /// `notify`, which came after the store).
    read_closed: AtomicBool,
    /// Next ticket (Relaxed: uniqueness is all that matters).
    tickets: AtomicU64,
}

impl<W> Default for PollDesc<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W> PollDesc<W> {
    /// An open descriptor with both slots empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let pd = gort_runtime::netpoll::pd::PollDesc::<u32>::new();
    /// assert!(!pd.is_closed());
    /// ```
    pub fn new() -> Self {
        PollDesc {
            inner: Mutex::new(Inner {
                closed: false,
                slots: [Slot::new(), Slot::new()],
            }),
            closed: AtomicBool::new(false),
            read_closed: AtomicBool::new(false),
            tickets: AtomicU64::new(1),
        }
    }

    /// Notes that the read side ended (the poller, before its `notify` of the event).
    ///
    /// # Examples
    ///
    /// ```
    /// let pd = gort_runtime::netpoll::pd::PollDesc::<u32>::new();
    /// assert!(!pd.read_closed());
    /// pd.mark_read_closed();
    /// assert!(pd.read_closed());
    /// ```
    pub fn mark_read_closed(&self) {
        self.read_closed.store(true, Ordering::Release);
    }

    /// Whether the poller saw the read side end since the descriptor was opened (or reset).
    ///
    /// # Examples
    ///
    /// ```
    /// let pd = gort_runtime::netpoll::pd::PollDesc::<u32>::new();
    /// pd.mark_read_closed();
    /// pd.close(&mut Vec::new());
    /// pd.reset();
    /// assert!(!pd.read_closed());
    /// ```
    pub fn read_closed(&self) -> bool {
        self.read_closed.load(Ordering::Acquire)
    }

    /// A fresh ticket for the next wait (unique for this descriptor's life).
    ///
    /// # Examples
    ///
    /// ```
    /// let pd = gort_runtime::netpoll::pd::PollDesc::<u32>::new();
    /// assert_ne!(pd.ticket(), pd.ticket());
    /// ```
    pub fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::Relaxed)
    }

    /// True once [`close`](Self::close) ran (until [`reset`](Self::reset)).
    ///
    /// # Examples
    ///
    /// ```
    /// let pd = gort_runtime::netpoll::pd::PollDesc::<u32>::new();
    /// pd.close(&mut Vec::new());
    /// assert!(pd.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Transition 1: park `w` on `dir` under `ticket`, unless readiness is pending or the
    /// descriptor is closed. `on_park` runs under the lock, only when parking (to arm a deadline
    /// whose expiry can then only find the waiter stored).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::netpoll::pd::{Arm, Dir, PollDesc};
    /// let pd = PollDesc::new();
    /// pd.notify(Dir::Write, &mut Vec::new()); // an edge nobody waited for
    /// assert!(matches!(pd.arm(Dir::Write, pd.ticket(), 7, |_| {}), Arm::Ready(7)));
    /// ```
    pub fn arm(&self, dir: Dir, ticket: u64, mut w: W, on_park: impl FnOnce(&mut W)) -> Arm<W> {
        let mut inner = self.inner.lock();
        if inner.closed {
            inner.slots[dir as usize]
                .outcomes
                .push(ticket, Outcome::Closed);
            return Arm::Closed(w);
        }
        let slot = &mut inner.slots[dir as usize];
        if slot.ready {
            slot.ready = false;
            slot.outcomes.push(ticket, Outcome::Ready);
            return Arm::Ready(w);
        }
        on_park(&mut w);
        slot.waiters.push(ticket, w);
        Arm::Parked
    }

    /// Transition 2: an edge on `dir`. Waiters are moved to `out` (each with outcome `Ready`);
    /// with none, the edge is remembered. Returns how many were moved.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::netpoll::pd::{Dir, PollDesc};
    /// let pd = PollDesc::<u8>::new();
    /// assert_eq!(pd.notify(Dir::Read, &mut Vec::new()), 0);
    /// ```
    pub fn notify(&self, dir: Dir, out: &mut Vec<W>) -> usize {
        self.notify_edges(dir == Dir::Read, dir == Dir::Write, out)
    }

    /// Transition 2 for the read side, the write side or both under one lock: the poller's
    /// form, since an edge-triggered event reports the whole ready mask (a socket that received
    /// data is writable too, so most events carry both edges). Returns how many waiters were
    /// moved to `out`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::netpoll::pd::{Arm, Dir, PollDesc};
    /// let pd = PollDesc::<u8>::new();
    /// assert!(matches!(pd.arm(Dir::Read, pd.ticket(), 7, |_| {}), Arm::Parked));
    /// let mut out = Vec::new();
    /// assert_eq!(pd.notify_edges(true, true, &mut out), 1);
    /// assert_eq!(out, [7]);
    /// // The write edge found nobody waiting: it is remembered.
    /// assert!(matches!(pd.arm(Dir::Write, pd.ticket(), 8, |_| {}), Arm::Ready(8)));
    /// ```
    pub fn notify_edges(&self, read: bool, write: bool, out: &mut Vec<W>) -> usize {
        let mut inner = self.inner.lock();
        if inner.closed {
            return 0;
        }
        let mut n = 0;
        for (slot, edge) in inner.slots.iter_mut().zip([read, write]) {
            if !edge {
                continue;
            }
            if slot.waiters.is_empty() {
                slot.ready = true;
                continue;
            }
            n += slot.waiters.len();
            let outcomes = &mut slot.outcomes;
            slot.waiters.drain(|t, w| {
                outcomes.push(t, Outcome::Ready);
                out.push(w);
            });
        }
        n
    }

    /// Transition 3: the deadline of `ticket` passed. Returns its waiter if it still waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::netpoll::pd::{Dir, Outcome, PollDesc};
    /// let pd = PollDesc::new();
    /// let t = pd.ticket();
    /// let _ = pd.arm(Dir::Read, t, 'w', |_| {});
    /// assert_eq!(pd.expire(Dir::Read, t), Some('w'));
    /// assert_eq!(pd.expire(Dir::Read, t), None);
    /// assert_eq!(pd.outcome(Dir::Read, t), Outcome::TimedOut);
    /// ```
    pub fn expire(&self, dir: Dir, ticket: u64) -> Option<W> {
        let mut inner = self.inner.lock();
        let slot = &mut inner.slots[dir as usize];
        let w = slot.waiters.take(ticket)?;
        slot.outcomes.push(ticket, Outcome::TimedOut);
        Some(w)
    }

    /// Transition 4: close. Every waiter of both slots moves to `out` with outcome `Closed`;
    /// later arms fail. Returns how many were moved.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::netpoll::pd::{Dir, Outcome, PollDesc};
    /// let pd = PollDesc::new();
    /// let t = pd.ticket();
    /// let _ = pd.arm(Dir::Write, t, 1u8, |_| {});
    /// let mut out = Vec::new();
    /// assert_eq!(pd.close(&mut out), 1);
    /// assert_eq!(pd.outcome(Dir::Write, t), Outcome::Closed);
    /// ```
    pub fn close(&self, out: &mut Vec<W>) -> usize {
        let mut inner = self.inner.lock();
        inner.closed = true;
        self.closed.store(true, Ordering::Release);
        let mut n = 0;
        for slot in inner.slots.iter_mut() {
            slot.ready = false;
            let outcomes = &mut slot.outcomes;
            slot.waiters.drain(|t, w| {
                outcomes.push(t, Outcome::Closed);
                out.push(w);
                n += 1;
            });
        }
        n
    }

    /// Transition 5: the outcome recorded for `ticket` (removed). A ticket with no outcome means
    /// the caller was never armed or asks twice: reported as `Closed` (and asserted in debug).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::netpoll::pd::{Dir, Outcome, PollDesc};
    /// let pd = PollDesc::<()>::new();
    /// pd.close(&mut Vec::new());
    /// let t = pd.ticket();
    /// let _ = pd.arm(Dir::Read, t, (), |_| {});
    /// assert_eq!(pd.outcome(Dir::Read, t), Outcome::Closed);
    /// ```
    pub fn outcome(&self, dir: Dir, ticket: u64) -> Outcome {
        let mut inner = self.inner.lock();
        let slot = &mut inner.slots[dir as usize];
        match slot.outcomes.take(ticket) {
            Some(o) => o,
            None => {
                debug_assert!(false, "pd: no outcome for ticket {ticket}");
                Outcome::Closed
            }
        }
    }

    /// Makes a closed, waiter-free descriptor reusable for a new socket (tickets keep counting).
    ///
    /// # Examples
    ///
    /// ```
    /// let pd = gort_runtime::netpoll::pd::PollDesc::<u8>::new();
    /// pd.close(&mut Vec::new());
    /// pd.reset();
    /// assert!(!pd.is_closed());
    /// ```
    pub fn reset(&self) {
        let mut inner = self.inner.lock();
        inner.closed = false;
        for slot in inner.slots.iter_mut() {
            debug_assert!(slot.waiters.is_empty(), "pd reset with waiters");
            slot.ready = false;
            slot.outcomes.drain(|_, _| {});
        }
        self.read_closed.store(false, Ordering::Release);
        self.closed.store(false, Ordering::Release);
    }
}
