//! `Condvar`: Go's `sync.Cond` over a ticket notify list (runtime `notifyList`).
//!
//! 1. `wait`: take a ticket (`wait += 1` under the list lock), unlock the mutex, park on the
//!    ticket, re-lock. Taking the ticket before unlocking is what makes a notify between the
//!    unlock and the park count: the notifier advances `notify` past our ticket, and the
//!    registrar, re-checking under the list lock, then cancels the park.
//! 2. `notify_one`: if some ticket is unserved, serve ticket `notify` (`notify += 1`) and wake its
//!    waiter if it is parked already.
//! 3. `notify_all`: serve every ticket taken so far and wake every parked waiter.
//!
//! 4. `wait_timeout`: as `wait`, but the waiter parks on a [`WaitCell`] that its timer may end
//!    first. A notifier that serves the ticket of a waiter that timed out (its cell ended) did
//!    not wake anyone, so it serves the next ticket instead: a timeout never swallows a notify.
//!    A waiter that times out with its ticket still unserved records it in `abandoned`, and
//!    notifiers skip abandoned tickets for the same reason.
//!
//! All fields are under the list lock. Spurious wake-ups do not happen, but callers should
//! still loop on their condition (another G may change it between the notify and the re-lock).
//! Lock order: the list lock < a waiter cell's lock.

use super::mutex::MutexGuard;
use super::waitcell::{self, WaitCell, GRANTED};
use crate::g::WaitReason;
use crate::loom::Mutex as EngineMutex;
use crate::park::Unparker;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct List {
    /// Next ticket to hand out.
    wait: u64,
    /// Next ticket to serve.
    notify: u64,
    waiters: VecDeque<(u64, Waiter)>,
    /// Unserved tickets of waiters that timed out (step 4); notifiers skip them.
    abandoned: Vec<u64>,
}

enum Waiter {
    /// A `wait`: its unparker.
    Plain(Unparker),
    /// A `wait_timeout`: its cell, which the timer may end first.
    Timed(Arc<WaitCell>),
}

/// Whether a timed wait on a [`Condvar`] ended by timing out (std's `WaitTimeoutResult`).
///
/// # Examples
///
/// ```
/// use gort::sync::{Condvar, Mutex};
/// use std::time::Duration;
/// let (m, cv) = (Mutex::new(()), Condvar::new());
/// let (_g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(1));
/// assert!(r.timed_out());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because the time ran out (not because of a notify).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::sync::{Condvar, Mutex};
    /// use std::time::Duration;
    /// let (m, cv) = (Mutex::new(0), Condvar::new());
    /// let (_g, r) = cv.wait_timeout_while(m.lock(), Duration::ZERO, |n| *n == 0);
    /// assert!(r.timed_out());
    /// ```
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable for [`Mutex`](super::Mutex): parks the G (Go's `sync.Cond`).
///
/// # Examples
///
/// ```
/// use gort::sync::{Condvar, Mutex};
/// use std::sync::Arc;
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p2 = pair.clone();
/// gort::spawn(move || {
///     *p2.0.lock() = true;
///     p2.1.notify_one();
/// });
/// let mut ready = pair.0.lock();
/// while !*ready {
///     ready = pair.1.wait(ready);
/// }
/// ```
pub struct Condvar {
    list: EngineMutex<List>,
}

impl Condvar {
    super::cfn! {
        /// A new condition variable (`const`).
        ///
        /// # Examples
        ///
        /// ```
        /// static CV: gort::sync::Condvar = gort::sync::Condvar::new();
        /// CV.notify_all(); // nobody waits: no effect
        /// ```
        pub fn new() -> Condvar {
            Condvar {
                list: EngineMutex::new(List {
                    wait: 0,
                    notify: 0,
                    waiters: VecDeque::new(),
                    abandoned: Vec::new(),
                }),
            }
        }
    }

    /// Unlocks the guard's mutex, parks until notified, and locks it again (step 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    /// let s = Arc::new((Mutex::new(0), Condvar::new()));
    /// let s2 = s.clone();
    /// let h = gort::spawn(move || {
    ///     let mut n = s2.0.lock();
    ///     while *n == 0 {
    ///         n = s2.1.wait(n);
    ///     }
    ///     *n
    /// });
    /// gort::sleep(std::time::Duration::from_millis(5));
    /// *s.0.lock() = 7;
    /// s.1.notify_all();
    /// assert_eq!(h.join().unwrap(), 7);
    /// ```
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let m = MutexGuard::mutex(&guard);
        let ticket = {
            let mut l = self.list.lock();
            l.wait += 1;
            l.wait - 1
        };
        drop(guard);
        crate::park::park(WaitReason::CondWait, |u| {
            let mut l = self.list.lock();
            if ticket < l.notify {
                return Some(u);
            }
            l.waiters.push_back((ticket, Waiter::Plain(u)));
            None
        });
        m.lock()
    }

    /// Like [`wait`](Self::wait), giving up after `dur` (std's `wait_timeout`): the mutex is
    /// locked again either way, and the result says whether the time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let s = Arc::new((Mutex::new(false), Condvar::new()));
    /// let s2 = s.clone();
    /// gort::spawn(move || {
    ///     *s2.0.lock() = true;
    ///     s2.1.notify_one();
    /// });
    /// let mut ready = s.0.lock();
    /// while !*ready {
    ///     let (g, r) = s.1.wait_timeout(ready, Duration::from_secs(10));
    ///     assert!(!r.timed_out());
    ///     ready = g;
    /// }
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        self.wait_deadline(guard, crate::timer::deadline_after(dur))
    }

    /// Waits while `cond` holds, at most `dur` in all (std's `wait_timeout_while`). The result
    /// says whether the time ran out with `cond` still true.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let s = Arc::new((Mutex::new(3), Condvar::new()));
    /// let s2 = s.clone();
    /// gort::spawn(move || {
    ///     *s2.0.lock() = 0;
    ///     s2.1.notify_all();
    /// });
    /// let (g, r) = s.1.wait_timeout_while(s.0.lock(), Duration::from_secs(10), |n| *n != 0);
    /// assert_eq!((*g, r.timed_out()), (0, false));
    /// ```
    #[track_caller]
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut cond: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = crate::timer::deadline_after(dur);
        while cond(&mut guard) {
            if crate::timer::now() >= deadline {
                return (guard, WaitTimeoutResult(true));
            }
            guard = self.wait_deadline(guard, deadline).0;
        }
        (guard, WaitTimeoutResult(false))
    }

    /// Step 4.
    #[track_caller]
    fn wait_deadline<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Instant,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let m = MutexGuard::mutex(&guard);
        let (ticket, cell) = {
            let mut l = self.list.lock();
            l.wait += 1;
            let ticket = l.wait - 1;
            // Queued before the mutex is released, so a notify in between finds it.
            let cell = WaitCell::new(ticket);
            l.waiters.push_back((ticket, Waiter::Timed(cell.clone())));
            (ticket, cell)
        };
        drop(guard);
        let how = waitcell::wait(&cell, WaitReason::CondWait, Some(deadline), None);
        let timed_out = how != GRANTED;
        if timed_out {
            let mut l = self.list.lock();
            if let Some(i) = l.waiters.iter().position(|(t, _)| *t == ticket) {
                l.waiters.remove(i);
            }
            if ticket >= l.notify {
                l.abandoned.push(ticket);
            }
            // Else a notifier served our ticket, found the cell ended, and went on to the next.
        }
        (m.lock(), WaitTimeoutResult(timed_out))
    }

    /// Waits while `cond` holds (loops over [`wait`](Self::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    /// let s = Arc::new((Mutex::new(3), Condvar::new()));
    /// let s2 = s.clone();
    /// gort::spawn(move || {
    ///     *s2.0.lock() = 0;
    ///     s2.1.notify_one();
    /// });
    /// let g = s.1.wait_while(s.0.lock(), |n| *n != 0);
    /// assert_eq!(*g, 0);
    /// ```
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut cond: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while cond(&mut guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Wakes one waiter, if any (step 2).
    ///
    /// # Examples
    ///
    /// ```
    /// gort::sync::Condvar::new().notify_one();
    /// ```
    pub fn notify_one(&self) {
        let mut l = self.list.lock();
        let u = loop {
            if l.notify == l.wait {
                return;
            }
            let t = l.notify;
            l.notify += 1;
            if let Some(i) = l.abandoned.iter().position(|a| *a == t) {
                l.abandoned.swap_remove(i);
                continue; // its waiter timed out: serve the next ticket
            }
            let pos = l.waiters.iter().position(|(tk, _)| *tk == t);
            match pos.and_then(|i| l.waiters.remove(i)).map(|(_, w)| w) {
                // Not parked yet: it sees its ticket served when it registers.
                None => return,
                Some(Waiter::Plain(u)) => break Some(u),
                Some(Waiter::Timed(c)) => match c.end(GRANTED) {
                    Some(u) => break u,
                    None => continue, // timed out just now: serve the next ticket
                },
            }
        };
        drop(l);
        if let Some(u) = u {
            u.unpark();
        }
    }

    /// Wakes every waiter (step 3).
    ///
    /// # Examples
    ///
    /// ```
    /// gort::sync::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        let mut l = self.list.lock();
        l.notify = l.wait;
        l.abandoned.clear();
        let ws = std::mem::take(&mut l.waiters);
        let wake: Vec<Unparker> = ws
            .into_iter()
            .filter_map(|(_, w)| match w {
                Waiter::Plain(u) => Some(u),
                Waiter::Timed(c) => c.end(GRANTED).flatten(),
            })
            .collect();
        drop(l);
        for u in wake {
            u.unpark();
        }
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}
