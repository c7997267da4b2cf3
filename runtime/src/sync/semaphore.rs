//! `Semaphore`: a weighted semaphore with x/sync's semantics (`golang.org/x/sync/semaphore`).
//!
//! `avail` permits and a FIFO queue of waiters, each wanting `n` (its cell's `tag`), under one
//! lock.
//!
//! 1. Acquire `n`: if the queue is empty and `n` fit, take them. Otherwise queue at the back and
//!    wait on the waiter's [`WaitCell`] (with a deadline or a context, if given).
//! 2. Release `n` (`notify_waiters`): `avail += n`, then grant waiters **from the front only**,
//!    while the front one fits. A waiter that does not fit stops the pass even if later, smaller
//!    ones would: a large request is not starved by a stream of small ones, and nobody barges
//!    past the queue (`try_acquire_many` fails while anyone waits).
//! 3. A waiter whose cell ended by timeout or context, not by a grant, removes itself; if it was
//!    at the front, permits that it was holding the queue up for may now serve the next ones,
//!    so it runs step 2's pass (x/sync's "isFront" rule). A granter that meets an ended cell at
//!    the front drops it and goes on.
//! 4. With a context: a context that has ended fails the call even if permits are free
//!    (x/sync checks `ctx.Done()` first), and permits granted as the context ends are returned.
//! 5. A request larger than the semaphore's size (`avail + outstanding`: the permits there are,
//!    free or held) could never be served, and x/sync never queues it, so that it does not hold
//!    up everyone behind it. Here the size can grow (a `release` beyond what is held adds
//!    permits, as gort's counting semaphore always allowed), so such a request waits aside in
//!    `oversized` and joins the back of the queue once the size has grown enough.
//!
//! Lock order: `st` < a waiter cell's lock (a granter ends cells under `st`); unparks happen
//! after `st` is released.

use super::waitcell::{self, WaitCell, GRANTED, WAITING};
use crate::context::{self, Context};
use crate::g::WaitReason;
use crate::loom::Mutex;
use crate::park::Unparker;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A counting, weighted semaphore that parks the G while permits are short (x/sync's
/// `semaphore.Weighted`: FIFO, no barging, large requests not starved).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let s = Arc::new(gort::sync::Semaphore::new(2));
/// s.acquire();
/// s.acquire();
/// assert!(!s.try_acquire());
/// let s2 = s.clone();
/// gort::spawn(move || s2.release());
/// s.acquire(); // parks until the release
/// assert_eq!(s.available_permits(), 0);
/// ```
pub struct Semaphore {
    st: Mutex<State>,
}

struct State {
    avail: u64,
    /// Permits handed out and not yet released (step 5).
    outstanding: u64,
    /// Waiters in arrival order; each cell's `tag` is the permits it wants.
    waiters: VecDeque<Arc<WaitCell>>,
    /// Requests larger than the size (step 5), in arrival order.
    oversized: VecDeque<Arc<WaitCell>>,
}

/// Permits held from a [`Semaphore`]; dropping it returns them (or keep them with
/// [`forget`](SemaphorePermit::forget)).
///
/// # Examples
///
/// ```
/// let s = gort::sync::Semaphore::new(4);
/// {
///     let p = s.acquire_many(3);
///     assert_eq!(p.num_permits(), 3);
///     assert_eq!(s.available_permits(), 1);
/// }
/// assert_eq!(s.available_permits(), 4);
/// ```
#[must_use = "dropping a SemaphorePermit releases its permits at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: u32,
}

impl Semaphore {
    super::cfn! {
        /// A semaphore with `permits` permits (`const`).
        ///
        /// # Examples
        ///
        /// ```
        /// assert_eq!(gort::sync::Semaphore::new(3).available_permits(), 3);
        /// ```
        pub fn new(permits: u32) -> Semaphore {
            Semaphore {
                st: Mutex::new(State {
                    avail: permits as u64,
                    outstanding: 0,
                    waiters: VecDeque::new(),
                    oversized: VecDeque::new(),
                }),
            }
        }
    }

    /// Takes a permit, parking until one is available (in turn: FIFO).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(1);
    /// s.acquire();
    /// assert_eq!(s.available_permits(), 0);
    /// ```
    #[track_caller]
    pub fn acquire(&self) {
        self.acquire_many(1).forget();
    }

    /// Takes a permit if one is available now and nobody is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(1);
    /// assert!(s.try_acquire());
    /// assert!(!s.try_acquire());
    /// ```
    #[must_use]
    pub fn try_acquire(&self) -> bool {
        self.try_acquire_many(1)
            .map(SemaphorePermit::forget)
            .is_some()
    }

    /// Returns a permit (waking waiters it lets through).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(0);
    /// s.release();
    /// assert!(s.try_acquire());
    /// ```
    pub fn release(&self) {
        self.release_many(1);
    }

    /// Returns `n` permits (step 2). Releasing more than is held adds permits (the size grows).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(0);
    /// s.release_many(3);
    /// assert_eq!(s.available_permits(), 3);
    /// ```
    pub fn release_many(&self, n: u32) {
        let mut wake = Vec::new();
        {
            let mut st = self.st.lock();
            let back = st.outstanding.min(u64::from(n));
            st.outstanding -= back;
            st.avail += u64::from(n);
            if back < u64::from(n) {
                st.admit_oversized();
            }
            st.notify_waiters(&mut wake);
        }
        for u in wake {
            u.unpark();
        }
    }

    /// Permits available now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::sync::Semaphore::new(0).available_permits(), 0);
    /// ```
    #[must_use]
    pub fn available_permits(&self) -> u32 {
        u32::try_from(self.st.lock().avail).unwrap_or(u32::MAX)
    }

    /// Takes `n` permits, parking until they are available and every earlier waiter has been
    /// served (x/sync's `Acquire`). A request larger than the semaphore's size does not hold
    /// up the queue: it waits aside until releases beyond what is held make it fit (else for
    /// good).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let s = Arc::new(gort::sync::Semaphore::new(10));
    /// let all = s.acquire_many(10);
    /// let s2 = s.clone();
    /// let h = gort::spawn(move || s2.acquire_many(4).num_permits());
    /// drop(all); // lets the waiter through
    /// assert_eq!(h.join().unwrap(), 4);
    /// ```
    #[track_caller]
    pub fn acquire_many(&self, n: u32) -> SemaphorePermit<'_> {
        match self.acquire_inner(n, None, None) {
            Ok(()) => SemaphorePermit { sem: self, n },
            Err(_) => unreachable!("an acquire without deadline or context gave up"),
        }
    }

    /// Takes `n` permits if they are available now and nobody is waiting (no barging).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(3);
    /// let p = s.try_acquire_many(2).unwrap();
    /// assert!(s.try_acquire_many(2).is_none());
    /// drop(p);
    /// assert!(s.try_acquire_many(3).is_some());
    /// ```
    #[must_use]
    pub fn try_acquire_many(&self, n: u32) -> Option<SemaphorePermit<'_>> {
        let mut st = self.st.lock();
        if st.waiters.is_empty() && st.avail >= u64::from(n) {
            st.take(u64::from(n));
            Some(SemaphorePermit { sem: self, n })
        } else {
            None
        }
    }

    /// [`acquire_many`](Self::acquire_many), giving up after `timeout` (`None`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort::sync::Semaphore::new(1);
    /// let _p = s.acquire_many(1);
    /// assert!(s.acquire_many_timeout(1, Duration::from_millis(5)).is_none());
    /// ```
    #[must_use]
    #[track_caller]
    pub fn acquire_many_timeout(&self, n: u32, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        let d = crate::timer::deadline_after(timeout);
        self.acquire_inner(n, Some(d), None)
            .ok()
            .map(|()| SemaphorePermit { sem: self, n })
    }

    /// [`acquire_many`](Self::acquire_many), giving up with the context's error once `ctx`
    /// ends (x/sync's `Acquire(ctx, n)`). A context that has ended fails the call even if the
    /// permits are free; a wait that `ctx` ends returns within one scheduling round.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// use std::time::Duration;
    /// let s = gort::sync::Semaphore::new(1);
    /// let _held = s.acquire_many(1);
    /// let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(5));
    /// assert_eq!(s.acquire_many_ctx(&ctx, 1).err(), Some(context::DeadlineExceeded));
    /// ```
    #[track_caller]
    pub fn acquire_many_ctx(
        &self,
        ctx: &Context,
        n: u32,
    ) -> Result<SemaphorePermit<'_>, context::Error> {
        match self.acquire_inner(n, None, Some(ctx)) {
            Ok(()) => Ok(SemaphorePermit { sem: self, n }),
            Err(()) => Err(ctx
                .err()
                .expect("a context wait ended without the context ending")),
        }
    }

    /// Steps 1, 3 and 4.
    #[track_caller]
    fn acquire_inner(
        &self,
        n: u32,
        deadline: Option<Instant>,
        ctx: Option<&Context>,
    ) -> Result<(), ()> {
        if ctx.is_some_and(|c| c.err().is_some()) {
            return Err(());
        }
        let cell = {
            let mut st = self.st.lock();
            if st.waiters.is_empty() && st.avail >= u64::from(n) {
                st.take(u64::from(n));
                return Ok(());
            }
            let cell = WaitCell::new(u64::from(n));
            if u64::from(n) > st.avail + st.outstanding {
                st.oversized.push_back(cell.clone());
            } else {
                st.waiters.push_back(cell.clone());
            }
            cell
        };
        let how = waitcell::wait(&cell, WaitReason::Semacquire, deadline, ctx);
        if how == GRANTED {
            if ctx.is_some_and(|c| c.err().is_some()) {
                // Granted just as the context ended: x/sync returns the permits and fails.
                self.release_many(n);
                return Err(());
            }
            return Ok(());
        }
        let mut wake = Vec::new();
        {
            let mut st = self.st.lock();
            if let Some(i) = st.waiters.iter().position(|c| Arc::ptr_eq(c, &cell)) {
                st.waiters.remove(i);
                if i == 0 {
                    st.notify_waiters(&mut wake);
                }
            } else if let Some(i) = st.oversized.iter().position(|c| Arc::ptr_eq(c, &cell)) {
                st.oversized.remove(i);
            }
        }
        for u in wake {
            u.unpark();
        }
        Err(())
    }
}

impl State {
    fn take(&mut self, n: u64) {
        self.avail -= n;
        self.outstanding += n;
    }

    /// Step 5: moves the oversized requests that fit the size now to the back of the queue.
    fn admit_oversized(&mut self) {
        let size = self.avail + self.outstanding;
        let mut i = 0;
        while i < self.oversized.len() {
            if self.oversized[i].tag <= size {
                let c = self.oversized.remove(i).expect("index in range");
                self.waiters.push_back(c);
            } else {
                i += 1;
            }
        }
    }

    /// Step 2: grants waiters from the front while they fit; unparkers go to `wake`.
    fn notify_waiters(&mut self, wake: &mut Vec<Unparker>) {
        while let Some(front) = self.waiters.front() {
            if front.state() != WAITING {
                // Ended by a timeout or a context: its owner is on its way to remove it.
                self.waiters.pop_front();
                continue;
            }
            if front.tag > self.avail {
                break; // FIFO: no one behind it goes first
            }
            let n = front.tag;
            // `None`: ended just now by its timer or context; skip it.
            if let Some(u) = front.end(GRANTED) {
                self.take(n);
                wake.extend(u);
            }
            self.waiters.pop_front();
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.st.lock();
        f.debug_struct("Semaphore")
            .field("available", &st.avail)
            .field("waiters", &st.waiters.len())
            .finish()
    }
}

impl SemaphorePermit<'_> {
    /// The number of permits held.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(2);
    /// assert_eq!(s.acquire_many(2).num_permits(), 2);
    /// ```
    #[must_use]
    pub fn num_permits(&self) -> u32 {
        self.n
    }

    /// Keeps the permits taken (they are not returned on drop); return them later with
    /// [`Semaphore::release_many`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::sync::Semaphore::new(2);
    /// s.acquire_many(2).forget();
    /// assert_eq!(s.available_permits(), 0);
    /// s.release_many(2);
    /// assert_eq!(s.available_permits(), 2);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release_many(self.n);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("n", &self.n)
            .finish()
    }
}
