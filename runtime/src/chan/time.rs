//! Timer channels and stoppable timers: Go 1.23+'s `time.After`, `time.Tick`, `time.NewTimer`,
//! `time.NewTicker` and `time.AfterFunc` (and crossbeam's `at`), on `timer.rs`'s heaps.
//!
//! # Timer channels are synchronous (Go 1.23's design)
//!
//! A timer channel is a channel of capacity 1 with no sender and a [`ChanTimer`] in its state
//! (under the channel lock, like everything else of the channel). Nothing runs when its time
//! comes unless someone is waiting:
//!
//! 1. **Looking runs it** (Go's `maybeRunChan`): a receive, a select arm, `len` or `is_full` on a
//!    timer channel first calls [`fire_due`]: if the timer is due, its value (the instant it was
//!    due, as Go's `sendTime` sends) goes to a parked receiver or into the buffer, and the timer
//!    moves on (a ticker to its next period on its phase grid, skipping missed periods; a
//!    one-shot timer stops). So a due timer is ready the moment it is looked at: `default` does
//!    not win over it, and several due timers in one select are all ready and chosen uniformly.
//! 2. **Blocking heaps it** (Go's `blockTimerChan`): when a waiter (a receiver, a select arm, a
//!    `Select::ready` watcher) is linked on the channel, [`block`] puts the timer in the heap if
//!    it is active and not there yet. The heap entry runs [`heap_fired`], which runs step 1 into
//!    the buffer and wakes the first waiter to look again (so a select woken by one of several
//!    due timers still chooses uniformly), and, for a ticker with waiters still linked, heaps
//!    the next period.
//! 3. **Dropping releases it**: the last `Receiver` dropped (a `Timer`/`Ticker` holds one) closes
//!    the channel, which cancels a heap entry. No heap entry exists for a timer nobody waits on,
//!    so a loop of selects each with a fresh `after(d)` leaves nothing behind (Go collects such
//!    timers with the garbage collector for the same reason).
//!
//! **No stale values** (Go 1.23's guarantee): `stop` and `reset` run under the channel lock,
//! drain the buffered value and move the timer, so no receive after they return yields a value
//! of the old setting. A heap entry carries the generation it was made for (`ChanTimer::gen`);
//! one that fires after a `stop`/`reset` finds `heap` taken or the generation moved and does
//! nothing. There is no "send in progress" window as in Go: a firing delivers under the channel
//! lock. `stop`/`reset` return whether a value of the old setting was still to come (the timer
//! was active, or its value was buffered and not received), Go's `pending`.
//!
//! `after_func` timers are plain heap entries that start a G running the function (Go's
//! `goFunc`); they stay in the heap until they fire or are stopped, whatever happens to the
//! handle.
//!
//! Lock order: a channel's lock < a timer shard's lock (`block` heaps under the channel lock);
//! cancels run after the channel lock is released. Heap callbacks take the channel lock with no
//! timer lock held.

use super::{Chan, Inner, Receiver, TimerHooks};
use crate::loom::{Arc, Mutex};
use crate::timer::{self as timers, TimerId};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// A timer channel's timer (module docs). Under the channel lock.
pub(super) struct ChanTimer {
    /// When the next value is due; `None` once a one-shot timer fired, or after `stop`.
    when: Option<Instant>,
    /// A ticker's period (`Some(ZERO)`: `tick(ZERO)`, due on every look); `None` for one-shot.
    period: Option<Duration>,
    /// The heap entry, while there is one (step 2).
    heap: Option<TimerId>,
    /// Bumped for every heap entry; an entry whose generation is not current is stale.
    gen: u64,
}

impl ChanTimer {
    /// Takes the heap entry out (for the caller to cancel once the channel lock is released).
    pub(super) fn unheap(&mut self) -> Option<TimerId> {
        self.heap.take()
    }
}

/// A new timer channel due at `when`, repeating every `period` if given.
fn timer_chan(when: Instant, period: Option<Duration>) -> Receiver<Instant> {
    let hooks = TimerHooks { fire_due, block };
    // Capacity 1, but no buffer allocated until a value is made (most timers in a select loop
    // are dropped before they fire).
    let c = Chan::with_parts(1, VecDeque::new(), Some(hooks));
    c.inner.lock().timer = Some(Box::new(ChanTimer {
        when: Some(when),
        period,
        heap: None,
        gen: 0,
    }));
    Receiver { c: Arc::new(c) }
}

/// Step 1 (Go's `maybeRunChan`): if the timer is due at `now`, delivers its value (to the first
/// parked receiver, as Go's send does, else into the buffer) and moves it on. Under the channel
/// lock.
fn fire_due(c: &Chan<Instant>, g: &mut Inner<Instant>, now: Instant) {
    fire(c, g, now, true);
}

/// [`fire_due`], delivering to a parked receiver only if `handoff`; false puts the value in the
/// buffer and returns whether the timer fired.
fn fire(c: &Chan<Instant>, g: &mut Inner<Instant>, now: Instant, handoff: bool) -> bool {
    let Some(t) = g.timer.as_deref_mut() else {
        return false;
    };
    let Some(when) = t.when else { return false };
    if when > now {
        return false;
    }
    t.when = t.period.map(|p| next_tick(when, now, p));
    if let Some(w) = handoff.then(|| g.recvq.claim_front()).flatten() {
        // SAFETY: claimed under the lock, so its slot is ours to write and the waiter alive
        // until `complete` (waiter.rs, steps 3-4). Completing under the lock is fine, as in
        // `Chan::close`.
        unsafe {
            *(*w).slot = Some(when);
            (*(*w).core).complete();
        }
    } else if c.has_room(g) {
        g.buf.push_back(when);
        if !g.recv_watch.is_empty() {
            g.recv_watch.notify_all(std::ptr::null());
        }
    }
    // Else a value is buffered already (an unreceived tick): this one is dropped, as Go's
    // ticker drops ticks for a slow receiver.
    true
}

/// A ticker's next due time after firing for `when` at `now`: on the period grid that `when` is
/// on, the first point after `now` (Go's `when + period*(1 + delay/period)`).
fn next_tick(when: Instant, now: Instant, period: Duration) -> Instant {
    if period.is_zero() {
        return now;
    }
    let periods = now.saturating_duration_since(when).as_nanos() / period.as_nanos() + 1;
    u32::try_from(periods)
        .ok()
        .and_then(|k| period.checked_mul(k))
        .and_then(|d| when.checked_add(d))
        // A grid point past `Instant`'s range or 2^32 periods away: one period from now.
        .unwrap_or_else(|| timers::deadline_after(period))
}

/// Step 2 (Go's `blockTimerChan`): a waiter was linked, so an active timer must be in the heap.
/// Under the channel lock.
fn block(c: &Arc<Chan<Instant>>, g: &mut Inner<Instant>) {
    let Some(t) = g.timer.as_deref_mut() else {
        return;
    };
    if t.heap.is_some() {
        return;
    }
    let Some(when) = t.when else { return };
    t.gen += 1;
    let gen = t.gen;
    let key = c.bubble;
    let c = c.clone();
    // The channel's bubble's heap (or the shards for a channel made outside bubbles), whoever
    // blocks on it.
    t.heap = Some(timers::add_for(
        key,
        when,
        Box::new(move || heap_fired(&c, gen)),
    ));
}

/// The heap entry of generation `gen` fired: runs step 1, and heaps a ticker's next period if
/// waiters are still linked.
fn heap_fired(c: &Arc<Chan<Instant>>, gen: u64) {
    let mut g = c.inner.lock();
    let Some(t) = g.timer.as_deref_mut() else {
        return;
    };
    if t.heap.is_none() || t.gen != gen {
        return; // stopped, reset or closed since
    }
    t.heap = None;
    // The heap fired at or after `when` by its own clock; make sure `fire` agrees.
    let clock = c.clock();
    let Some(t) = g.timer.as_deref_mut() else {
        return;
    };
    let now = t.when.map_or(clock, |w| w.max(clock));
    // Into the buffer, and the first waiter looks again instead of being handed the value: a
    // select woken by one of several timers due together then chooses among all of them
    // uniformly, as it does when it finds them due itself (Go hands the value over, so the
    // timer the heap runs first wins).
    if fire(c, &mut g, now, false) {
        g.recvq.wake_front_retry();
    }
    if !g.recvq.is_empty() || !g.recv_watch.is_empty() {
        block(c, &mut g);
    }
}

/// Stops the timer of channel `c` and drains its value; true if a value of this setting was
/// still to come (module docs, "No stale values").
fn stop(c: &Arc<Chan<Instant>>) -> bool {
    if c.bubble != 0 {
        crate::bubble::check_member(c.bubble, "stop of");
    }
    let mut g = c.inner.lock();
    let t = g.timer.as_deref_mut().expect("a timer channel has a timer");
    let active = t.when.take().is_some();
    let heaped = t.heap.take();
    let drained = g.buf.pop_front().is_some();
    drop(g);
    if let Some(id) = heaped {
        timers::cancel(id);
    }
    active || drained
}

/// Resets the timer of channel `c` to fire at `when` (every `period`, for a ticker); drains a
/// value of the old setting. Returns as [`stop`] does.
fn reset(c: &Arc<Chan<Instant>>, when: Instant, period: Option<Duration>) -> bool {
    if c.bubble != 0 {
        crate::bubble::check_member(c.bubble, "reset of");
    }
    let mut g = c.inner.lock();
    let inner = &mut *g;
    let t = inner
        .timer
        .as_deref_mut()
        .expect("a timer channel has a timer");
    let active = t.when.replace(when).is_some();
    if period.is_some() {
        t.period = period;
    }
    let heaped = t.heap.take();
    let drained = inner.buf.pop_front().is_some();
    // A reset to "now" is due at once; waiters linked meanwhile need the new heap entry.
    fire_due(c, inner, c.clock());
    if !inner.recvq.is_empty() || !inner.recv_watch.is_empty() {
        block(c, inner);
    }
    drop(g);
    if let Some(id) = heaped {
        timers::cancel(id);
    }
    active || drained
}

/// A channel that receives the instant it was due, once, `d` from now (Go's `time.After`,
/// crossbeam's `after`). The value is made when the channel is looked at after that instant, so
/// it is ready at once then (even against `default`); after it has been received, nothing more
/// comes (a receive waits for good, `try_recv` is `Empty`). Dropping the receiver releases the
/// timer: a fresh `after` per loop iteration leaves nothing behind.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let (_tx, never) = gort::chan::bounded::<()>(0);
/// let timed_out = gort::select! {
///     recv(never) -> _ => false,
///     recv(gort::time::after(Duration::from_millis(10))) -> _ => true,
/// };
/// assert!(timed_out);
/// // A due timer is ready, not overtaken by `default` (Go 1.23's timers):
/// let fired = gort::select! {
///     recv(gort::time::after(Duration::ZERO)) -> _ => true,
///     default => false,
/// };
/// assert!(fired);
/// ```
#[must_use]
pub fn after(d: Duration) -> Receiver<Instant> {
    timer_chan(timers::deadline_after(d), None)
}

/// A channel that receives `when` once, at that instant (crossbeam's `at`); otherwise as
/// [`after`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let when = Instant::now() + Duration::from_millis(5);
/// assert_eq!(gort::chan::at(when).recv(), Ok(when));
/// ```
#[must_use]
pub fn at(when: Instant) -> Receiver<Instant> {
    timer_chan(when, None)
}

/// A channel that receives the instant of each tick, every `period` (Go's `time.Tick`,
/// crossbeam's `tick`). Ticks stay on the period grid (Go's phase), and ticks a slow receiver
/// misses are dropped, not queued: at most one waits in the channel. Dropping the receiver
/// releases the timer. A zero `period` ticks on every look (crossbeam's behaviour; Go's
/// `time.Tick(0)` returns a nil channel instead). For a ticker you can stop or reset, see
/// [`Ticker`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let t = gort::time::tick(Duration::from_millis(1));
/// let a = t.recv().unwrap();
/// let b = t.recv().unwrap();
/// assert!(b > a);
/// ```
#[must_use]
pub fn tick(period: Duration) -> Receiver<Instant> {
    timer_chan(timers::deadline_after(period), Some(period))
}

/// A timer you can stop and reset (Go's `time.Timer` from `time.NewTimer`): its channel,
/// [`receiver`](Timer::receiver), receives the instant the timer was due, once per setting.
///
/// Go 1.23's semantics: after [`stop`](Timer::stop) or [`reset`](Timer::reset) returns, no
/// receive yields a value of the old setting (a value already made but not received is
/// drained), and both return true if such a value was still to come. Dropping the `Timer` (and
/// any clone of its receiver) releases it; it need not be stopped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let t = gort::time::Timer::new(Duration::from_secs(60));
/// assert!(t.stop()); // it had not fired
/// assert!(t.receiver().try_recv().is_err());
/// assert!(!t.reset(Duration::from_millis(1))); // stopped: nothing was to come
/// assert!(t.receiver().recv().is_ok());
/// ```
pub struct Timer {
    rx: Receiver<Instant>,
}

impl Timer {
    /// A timer that fires once, `d` from now.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = gort::time::Timer::new(std::time::Duration::from_millis(1));
    /// let due = t.receiver().recv().unwrap();
    /// assert!(due <= std::time::Instant::now());
    /// ```
    #[must_use]
    pub fn new(d: Duration) -> Timer {
        Timer { rx: after(d) }
    }

    /// The timer's channel (Go's `t.C`): use it in `select!` or receive from it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort::time::Timer::new(Duration::from_millis(1));
    /// let (_tx, rx) = gort::chan::bounded::<()>(0);
    /// let fired = gort::select! {
    ///     recv(rx) -> _ => false,
    ///     recv(t.receiver()) -> _ => true,
    /// };
    /// assert!(fired);
    /// ```
    #[must_use]
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the timer. True if its value was still to come (the timer had not fired, or its
    /// value had not been received); false if it had been received or the timer was stopped.
    /// No receive after this yields a value of this setting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort::time::Timer::new(Duration::ZERO);
    /// assert!(t.stop()); // due, but not received: drained, so true
    /// assert!(t.receiver().try_recv().is_err());
    /// assert!(!t.stop());
    /// ```
    pub fn stop(&self) -> bool {
        stop(&self.rx.c)
    }

    /// Makes the timer fire `d` from now (again, if it had fired or was stopped). Returns as
    /// [`stop`](Timer::stop) does, for the old setting, whose value is never received after
    /// this.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let t = gort::time::Timer::new(Duration::from_secs(60));
    /// let start = Instant::now();
    /// assert!(t.reset(Duration::from_millis(5)));
    /// assert!(t.receiver().recv().unwrap() >= start + Duration::from_millis(5));
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        reset(&self.rx.c, timers::deadline_after(d), None)
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Timer { .. }")
    }
}

/// A ticker you can stop and reset (Go's `time.Ticker` from `time.NewTicker`): its channel,
/// [`receiver`](Ticker::receiver), receives the instant of each tick, every period, on the
/// period grid (Go's phase); ticks a slow receiver misses are dropped, and at most one waits.
/// After [`stop`](Ticker::stop) or [`reset`](Ticker::reset) no tick of the old setting is
/// received. Dropping it releases it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let t = gort::time::Ticker::new(Duration::from_millis(1));
/// for _ in 0..3 {
///     t.receiver().recv().unwrap();
/// }
/// assert!(t.stop());
/// assert!(t.receiver().recv_timeout(Duration::from_millis(5)).is_err());
/// ```
pub struct Ticker {
    rx: Receiver<Instant>,
}

impl Ticker {
    /// A ticker with period `period`; the first tick comes one period from now.
    ///
    /// # Panics
    ///
    /// If `period` is zero (Go's `NewTicker` panics on a non-positive interval).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = gort::time::Ticker::new(std::time::Duration::from_millis(2));
    /// assert!(t.receiver().recv().is_ok());
    /// ```
    #[must_use]
    pub fn new(period: Duration) -> Ticker {
        assert!(!period.is_zero(), "gort::time::Ticker::new: zero period");
        Ticker { rx: tick(period) }
    }

    /// The ticker's channel (Go's `t.C`).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = gort::time::Ticker::new(std::time::Duration::from_millis(1));
    /// let first = t.receiver().recv().unwrap();
    /// assert!(t.receiver().recv().unwrap() > first);
    /// ```
    #[must_use]
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticker; no tick is received after this (a buffered one is drained). True if
    /// it was running. (Go's `Ticker.Stop` returns nothing.)
    ///
    /// # Examples
    ///
    /// ```
    /// let t = gort::time::Ticker::new(std::time::Duration::from_millis(1));
    /// assert!(t.stop());
    /// assert!(!t.stop());
    /// ```
    pub fn stop(&self) -> bool {
        stop(&self.rx.c)
    }

    /// Gives the ticker the period `period`, the next tick one period from now; no tick of the
    /// old setting is received after this. True if it was running. (Go's `Ticker.Reset`
    /// returns nothing.)
    ///
    /// # Panics
    ///
    /// If `period` is zero (as Go's `Ticker.Reset`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort::time::Ticker::new(Duration::from_secs(60));
    /// assert!(t.reset(Duration::from_millis(1)));
    /// assert!(t.receiver().recv().is_ok());
    /// ```
    pub fn reset(&self, period: Duration) -> bool {
        assert!(!period.is_zero(), "gort::time::Ticker::reset: zero period");
        reset(&self.rx.c, timers::deadline_after(period), Some(period))
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Ticker { .. }")
    }
}

/// Runs `f` on a new G after `d` (Go's `time.AfterFunc`); the returned [`AfterFunc`] stops or
/// reschedules it. `f` is `Fn` because a [`reset`](AfterFunc::reset) after it ran schedules it
/// again (and runs may overlap, as in Go). The timer stays armed if the handle is dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = gort::chan::bounded(1);
/// let _t = gort::time::after_func(Duration::from_millis(1), move || {
///     let _ = tx.try_send("ran");
/// });
/// assert_eq!(rx.recv(), Ok("ran"));
/// ```
pub fn after_func<F>(d: Duration, f: F) -> AfterFunc
where
    F: Fn() + Send + Sync + 'static,
{
    let inner = Arc::new(FuncTimer {
        f: Box::new(f),
        heap: Mutex::new(None),
    });
    *inner.heap.lock() = Some(FuncTimer::arm(&inner, d));
    AfterFunc { inner }
}

/// The handle of an [`after_func`] timer (Go's `*time.Timer` from `AfterFunc`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let t = gort::time::after_func(Duration::from_secs(60), || unreachable!());
/// assert!(t.stop()); // f will not run
/// ```
pub struct AfterFunc {
    inner: Arc<FuncTimer>,
}

struct FuncTimer {
    f: Box<dyn Fn() + Send + Sync>,
    /// The current heap entry (possibly one that fired or was stopped: `cancel` then says so).
    heap: Mutex<Option<TimerId>>,
}

impl FuncTimer {
    /// Adds a heap entry that starts a G running `f`, `d` from now.
    fn arm(this: &Arc<FuncTimer>, d: Duration) -> TimerId {
        let t = this.clone();
        timers::add(
            timers::deadline_after(d),
            Box::new(move || {
                // On the M that runs timers: start a G and return at once (Go's `goFunc`).
                // Detached: nobody joins it, so it needs no join slot.
                let r = crate::join::Builder::new().spawn_detached(move || (t.f)());
                if let Err(e) = r {
                    eprintln!("gort: time::after_func could not start its green thread: {e}");
                }
            }),
        )
    }
}

impl AfterFunc {
    /// Stops the timer. True if that prevented `f` from running; false if `f` has already
    /// been started (it is not waited for) or the timer was stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort::time::after_func(Duration::from_secs(60), || {});
    /// assert!(t.stop());
    /// assert!(!t.stop());
    /// ```
    pub fn stop(&self) -> bool {
        let id = self.inner.heap.lock().take();
        id.is_some_and(timers::cancel)
    }

    /// Makes `f` run `d` from now. True if the timer was still pending (it is moved); false if
    /// `f` had already been started or the timer was stopped (then `f` is scheduled again, and
    /// may overlap with a run still going).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let r = runs.clone();
    /// let t = gort::time::after_func(Duration::from_secs(60), move || {
    ///     r.fetch_add(1, Ordering::SeqCst);
    /// });
    /// assert!(t.reset(Duration::from_millis(1)));
    /// while runs.load(Ordering::SeqCst) == 0 {
    ///     gort::sleep(Duration::from_millis(1));
    /// }
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        let mut heap = self.inner.heap.lock();
        let pending = heap.take().is_some_and(timers::cancel);
        *heap = Some(FuncTimer::arm(&self.inner, d));
        pending
    }
}

impl fmt::Debug for AfterFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("AfterFunc { .. }")
    }
}
