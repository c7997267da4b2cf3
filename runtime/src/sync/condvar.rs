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
//! All fields are under the list lock. Spurious wake-ups do not happen, but callers should
//! still loop on their condition (another G may change it between the notify and the re-lock).

use super::mutex::MutexGuard;
use crate::g::WaitReason;
use crate::loom::Mutex as EngineMutex;
use crate::park::Unparker;
use std::collections::VecDeque;
use std::fmt;

struct List {
    /// Next ticket to hand out.
    wait: u64,
    /// Next ticket to serve.
    notify: u64,
    waiters: VecDeque<(u64, Unparker)>,
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
            l.waiters.push_back((ticket, u));
            None
        });
        m.lock()
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
        if l.notify == l.wait {
            return;
        }
        let t = l.notify;
        l.notify += 1;
        let pos = l.waiters.iter().position(|(tk, _)| *tk == t);
        let u = pos.and_then(|i| l.waiters.remove(i)).map(|(_, u)| u);
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
        let ws = std::mem::take(&mut l.waiters);
        drop(l);
        for (_, u) in ws {
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
