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
//! plain tokens; the runtime's `W` is the parked G's `Unparker` (its deadline timer's id stays
//! in the waiting frame, netpoll/mod.rs `wait`).
//!
//! # Layout
//!
//! A slot keeps its first waiter, and then that waiter's outcome, inline (`First`); more (two
//! Gs on one socket) spill into `Vec`s flagged by `spill`. With `repr(C)` and `align(64)`, the
//! atomics, the lock, the flags and the read slot's inline entry fill bytes 0..56 of one cache
//! line, the only line of the descriptor a socket request touches; it moves once each way per
//! request between the poller's core and the G's (see `Inner`).

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

/// A slot's inline entry: its first waiter, then (same ticket, same memory) that waiter's
/// outcome until the woken G collects it. Almost always a slot has at most one waiter (one G
/// reading a socket), so the common case lives in the descriptor's first cache line with the
/// lock and the flags (see [`Inner`]).
enum First<W> {
    Empty,
    Waiting(u64, W),
    Done(u64, Outcome),
}

/// The rest of a slot's waiters and outcomes (two Gs on one socket; an outcome not yet
/// collected when the next one is recorded). Order is not kept (as `swap_remove`).
struct More<W> {
    waiters: Vec<(u64, W)>,
    outcomes: Vec<(u64, Outcome)>,
}

impl<W> More<W> {
    const fn new() -> Self {
        More {
            waiters: Vec::new(),
            outcomes: Vec::new(),
        }
    }
}

/// The state under the lock. `repr(C)` here and in [`PollDesc`] with its `align(64)` keep the
/// descriptor's atomics, the lock byte, `closed`, both `ready` flags and the read slot's inline
/// entry in one cache line (offsets 0..56 with the runtime's 24-byte entry; `pd_hot_line`
/// checks): under socket load this is the line that moves between the poller's core (notify)
/// and the waiter's (its I/O checks, arm, outcome) on every request, and it is the only one.
/// The write slot's entry and the spill `Vec`s follow, untouched while `spill` is false (the
/// common case reads and writes line 0 only).
#[repr(C)]
struct Inner<W> {
    closed: bool,
    ready: [bool; 2],
    /// `more[d]` may hold entries (set on a push to it, cleared when both its `Vec`s are
    /// found empty after a take).
    spill: [bool; 2],
    first: [First<W>; 2],
    more: [More<W>; 2],
}

impl<W> Inner<W> {
    fn has_waiters(&self, d: usize) -> bool {
        matches!(self.first[d], First::Waiting(..))
            || (self.spill[d] && !self.more[d].waiters.is_empty())
    }

    /// Clears `spill[d]` if `more[d]` turned out empty.
    fn respill(&mut self, d: usize) {
        let m = &self.more[d];
        self.spill[d] = !m.waiters.is_empty() || !m.outcomes.is_empty();
    }

    fn push_waiter(&mut self, d: usize, t: u64, w: W) {
        if matches!(self.first[d], First::Empty) {
            self.first[d] = First::Waiting(t, w);
        } else {
            self.more[d].waiters.push((t, w));
            self.spill[d] = true;
        }
    }

    fn push_outcome(&mut self, d: usize, t: u64, o: Outcome) {
        if matches!(self.first[d], First::Empty) {
            self.first[d] = First::Done(t, o);
        } else {
            self.more[d].outcomes.push((t, o));
            self.spill[d] = true;
        }
    }

    /// Takes the inline waiter, whose ticket `t` the caller just read there, leaving its
    /// outcome `o` in the same entry.
    fn take_first(&mut self, d: usize, t: u64, o: Outcome) -> W {
        match std::mem::replace(&mut self.first[d], First::Done(t, o)) {
            First::Waiting(_, w) => w,
            _ => unreachable!("take_first on an entry that holds no waiter"),
        }
    }

    /// Takes the waiter of `t` (if it still waits), recording outcome `o` in its place.
    fn take_waiter(&mut self, d: usize, t: u64, o: Outcome) -> Option<W> {
        if matches!(self.first[d], First::Waiting(ft, _) if ft == t) {
            return Some(self.take_first(d, t, o));
        }
        if !self.spill[d] {
            return None;
        }
        let more = &mut self.more[d];
        let i = more.waiters.iter().position(|(wt, _)| *wt == t)?;
        let (_, w) = more.waiters.swap_remove(i);
        self.push_outcome(d, t, o);
        self.respill(d);
        Some(w)
    }

    /// Takes every waiter of `d` (to `out`) with outcome `o`; returns how many.
    fn take_all(&mut self, d: usize, o: Outcome, out: &mut Vec<W>) -> usize {
        let mut n = 0;
        if let First::Waiting(t, _) = self.first[d] {
            out.push(self.take_first(d, t, o));
            n += 1;
        }
        if self.spill[d] {
            let waiters = std::mem::take(&mut self.more[d].waiters);
            for (t, w) in waiters {
                self.push_outcome(d, t, o);
                out.push(w);
                n += 1;
            }
            self.respill(d);
        }
        n
    }

    fn take_outcome(&mut self, d: usize, t: u64) -> Option<Outcome> {
        if let First::Done(ft, o) = self.first[d] {
            if ft == t {
                self.first[d] = First::Empty;
                return Some(o);
            }
        }
        if !self.spill[d] {
            return None;
        }
        let more = &mut self.more[d];
        let i = more.outcomes.iter().position(|(ot, _)| *ot == t)?;
        let o = more.outcomes.swap_remove(i).1;
        self.respill(d);
        Some(o)
    }
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
#[repr(C, align(64))]
pub struct PollDesc<W> {
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
    /// After the atomics: its lock byte and [`Inner`]'s hot part share their cache line.
    inner: Mutex<Inner<W>>,
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
            closed: AtomicBool::new(false),
            read_closed: AtomicBool::new(false),
            tickets: AtomicU64::new(1),
            inner: Mutex::new(Inner {
                closed: false,
                ready: [false; 2],
                spill: [false; 2],
                first: [First::Empty, First::Empty],
                more: [More::new(), More::new()],
            }),
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
        let d = dir as usize;
        if inner.closed {
            inner.push_outcome(d, ticket, Outcome::Closed);
            return Arm::Closed(w);
        }
        if inner.ready[d] {
            inner.ready[d] = false;
            inner.push_outcome(d, ticket, Outcome::Ready);
            return Arm::Ready(w);
        }
        on_park(&mut w);
        inner.push_waiter(d, ticket, w);
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
        for (d, edge) in [read, write].into_iter().enumerate() {
            if !edge {
                continue;
            }
            if !inner.has_waiters(d) {
                inner.ready[d] = true;
                continue;
            }
            n += inner.take_all(d, Outcome::Ready, out);
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
        inner.take_waiter(dir as usize, ticket, Outcome::TimedOut)
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
        for d in 0..2 {
            inner.ready[d] = false;
            n += inner.take_all(d, Outcome::Closed, out);
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
        match inner.take_outcome(dir as usize, ticket) {
            Some(o) => o,
            None => {
                debug_assert!(false, "pd: no outcome for ticket {ticket}");
                Outcome::Closed
            }
        }
    }

    /// Where the read slot's inline entry ends, in bytes from the descriptor's start (the hot
    /// line's extent; see [`Inner`]).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn hot_line_end(&self) -> usize {
        let inner = self.inner.lock();
        let end = std::ptr::addr_of!(inner.first[0]) as usize + std::mem::size_of::<First<W>>();
        end - self as *const Self as usize
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
        for d in 0..2 {
            debug_assert!(!inner.has_waiters(d), "pd reset with waiters");
            inner.ready[d] = false;
            inner.first[d] = First::Empty;
            inner.more[d].outcomes.clear();
            inner.spill[d] = false;
        }
        self.read_closed.store(false, Ordering::Release);
        self.closed.store(false, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The spill path (more than one entry per slot), which loom model 6 (one waiter) does not
    //! reach: the inline entry and the spill `Vec`s must behave as one keyed set.
    use super::*;

    #[test]
    fn two_waiters_both_woken_with_their_outcomes() {
        let pd = PollDesc::new();
        let (a, b) = (pd.ticket(), pd.ticket());
        assert!(matches!(pd.arm(Dir::Read, a, 'a', |_| {}), Arm::Parked));
        assert!(matches!(pd.arm(Dir::Read, b, 'b', |_| {}), Arm::Parked));
        let mut out = Vec::new();
        assert_eq!(pd.notify(Dir::Read, &mut out), 2);
        out.sort();
        assert_eq!(out, ['a', 'b']);
        // Collected in either order.
        assert_eq!(pd.outcome(Dir::Read, b), Outcome::Ready);
        assert_eq!(pd.outcome(Dir::Read, a), Outcome::Ready);
        // Nothing left: the next edge is remembered, not lost in a spill.
        assert_eq!(pd.notify(Dir::Read, &mut out), 0);
        assert!(matches!(
            pd.arm(Dir::Read, pd.ticket(), 'c', |_| {}),
            Arm::Ready('c')
        ));
    }

    #[test]
    fn expire_finds_a_spilled_waiter_and_only_it() {
        let pd = PollDesc::new();
        let (a, b) = (pd.ticket(), pd.ticket());
        let _ = pd.arm(Dir::Write, a, 1u8, |_| {});
        let _ = pd.arm(Dir::Write, b, 2u8, |_| {});
        assert_eq!(pd.expire(Dir::Write, b), Some(2));
        assert_eq!(pd.expire(Dir::Write, b), None);
        assert_eq!(pd.outcome(Dir::Write, b), Outcome::TimedOut);
        let mut out = Vec::new();
        assert_eq!(pd.close(&mut out), 1);
        assert_eq!(out, [1]);
        assert_eq!(pd.outcome(Dir::Write, a), Outcome::Closed);
    }

    #[test]
    fn an_uncollected_outcome_does_not_block_the_next_waiter() {
        // a is woken but has not run yet when b parks on the same slot: b's waiter spills,
        // and the next edge must still find it.
        let pd = PollDesc::new();
        let a = pd.ticket();
        let _ = pd.arm(Dir::Read, a, 'a', |_| {});
        let mut out = Vec::new();
        assert_eq!(pd.notify(Dir::Read, &mut out), 1);
        let b = pd.ticket();
        assert!(matches!(pd.arm(Dir::Read, b, 'b', |_| {}), Arm::Parked));
        assert_eq!(pd.notify(Dir::Read, &mut out), 1);
        assert_eq!(out, ['a', 'b']);
        assert_eq!(pd.outcome(Dir::Read, a), Outcome::Ready);
        assert_eq!(pd.outcome(Dir::Read, b), Outcome::Ready);
        // Both sets are empty again: a recycled descriptor starts clean.
        pd.close(&mut out);
        pd.reset();
        let c = pd.ticket();
        assert!(matches!(pd.arm(Dir::Read, c, 'c', |_| {}), Arm::Parked));
        assert_eq!(pd.expire(Dir::Read, c), Some('c'));
    }
}
