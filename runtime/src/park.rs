//! park / ready: the one building block under everything that blocks (channels, locks, join,
//! timers, the netpoller).
//!
//! # The protocol (Go's `gopark(unlockf)` / `goready`)
//!
//! 1. A G that must wait calls `park``(reason, register)`.
//! 2. The G switches out to its M. Only then, on the M's stack, the M calls `register(u)` with
//!    the G's [`Unparker`] (which owns the G's `GRef`).
//! 3. `register` takes the lock of whatever the G waits on, re-checks the condition, and either
//!    stores `u` there and returns `None` (the G stays parked), or returns `Some(u)` because the
//!    condition came true meanwhile (the G runs on at once, in the same time slice).
//! 4. Later, whoever makes the condition true removes `u` under that lock and calls
//!    [`Unparker::unpark`], which is `ready`: the G goes to the waker's P's runnext (or the global
//!    queue from a plain thread) and an M is woken if one is needed.
//!
//! Why the registration happens after the switch: a waker on another M may ready the G the
//! instant it is registered; if the G were still running on its own stack, two Ms would run it.
//! Registering from the M after the switch makes that impossible by construction, since the
//! `GRef` does not exist anywhere else until `register` stores it. So "ready racing park" has only
//! the two outcomes of step 3, and loom model 3 checks exactly that.
//!
//! `register` runs on the M, not the G: it must not block, park or yield, and must be short.
//!
//! A waiter may also be published *before* the switch, as long as no waker can reach the G's
//! `GRef` through it: a blocking channel send/recv links its waiter under the channel lock of
//! its attempt ("early link", chan/waiter.rs), and a waker that finds it before `register` has
//! run only completes the transfer; the `Unparker` is handed over in `register` as above, and
//! the waiter's `REG` bit decides who readies the G.
//!
//! From a plain OS thread the same API blocks the thread: `register` runs first on the thread
//! itself with an `Unparker::Thread`, and the thread then waits on its signal.
//!
//! # Why `park` is not public (issue 15, item 5)
//!
//! `register` runs on the M, between two Gs, and receives the only owner of the parked G. A
//! callback that dropped its `Unparker` would free a suspended G, and corosensei would unwind
//! that G's stack right there, on the M, inside the callback: the G's destructors would run as
//! nobody, with the M's locks held. A callback that blocked or panicked would wedge or kill the
//! M. Those rules cannot be expressed in a safe signature, so `park` and `park_deadline_on` are
//! `pub(crate)`: every blocking API users see (channels, locks, join, sleep, sockets) is built on
//! them inside the engine, where each callback is written to the rules above. As a last line,
//! dropping the owner of a suspended G is a fatal error naming the G (`GRef`'s drop), never an
//! unwinding on the wrong stack.

use crate::coro::{self, ParkFn, Suspend};
use crate::g::{GRef, Site, WaitObj, WaitReason};
use crate::loom::{Arc, Condvar, Mutex};
use std::time::Instant;

/// The right to wake one parked waiter: a G or a plain OS thread.
///
/// Exactly one exists per parked waiter; [`unpark`](Unparker::unpark) consumes it.
#[must_use = "a parked waiter stays parked until its Unparker is unparked"]
pub enum Unparker {
    /// A parked G (owns it).
    G(GRef),
    /// A plain OS thread blocked in `park`.
    Thread(Arc<ThreadSignal>),
}

impl Unparker {
    /// Makes the waiter runnable (Go's `goready`), or wakes the thread.
    pub fn unpark(self) {
        match self {
            Unparker::G(g) => crate::sched().ready_g(g, true),
            Unparker::Thread(t) => t.notify(),
        }
    }

    /// The waiting G's id (0 for a thread).
    pub fn goid(&self) -> u64 {
        match self {
            Unparker::G(g) => g.id(),
            Unparker::Thread(_) => 0,
        }
    }
}

impl std::fmt::Debug for Unparker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unparker::G(g) => write!(f, "Unparker(G{})", g.id()),
            Unparker::Thread(_) => write!(f, "Unparker(thread)"),
        }
    }
}

/// A plain thread's wake-up signal (a binary semaphore).
#[derive(Debug, Default)]
pub struct ThreadSignal {
    set: Mutex<bool>,
    cv: Condvar,
    /// True while the thread counts in `deadlock::PARKED_THREADS` (see deadlock.rs, "Races"):
    /// set by the thread before it publishes its `Unparker`, cleared (by swap, so exactly once)
    /// by the waker before it notifies, or by the thread if it does not wait after all.
    counted: crate::loom::atomic::AtomicBool,
}

impl ThreadSignal {
    fn begin_counted(&self) {
        use crate::loom::atomic::Ordering::SeqCst;
        self.counted.store(true, SeqCst);
        crate::deadlock::PARKED_THREADS.fetch_add(1, SeqCst);
    }

    fn end_counted(&self) {
        use crate::loom::atomic::Ordering::SeqCst;
        if self.counted.swap(false, SeqCst) {
            crate::deadlock::PARKED_THREADS.fetch_sub(1, SeqCst);
        }
    }

    fn notify(&self) {
        self.end_counted();
        let mut s = self.set.lock();
        *s = true;
        drop(s);
        self.cv.notify_one();
    }

    /// Waits until notified or `deadline`; returns true if notified (and consumes it).
    fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut s = self.set.lock();
        loop {
            if *s {
                *s = false;
                return true;
            }
            match deadline {
                None => s = self.cv.wait(s),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    s = self.cv.wait_for(s, d - now);
                }
            }
        }
    }
}

#[cfg(not(loom))]
thread_local! {
    static SIGNAL: Arc<ThreadSignal> = Arc::new(ThreadSignal::default());
}

#[cfg(not(loom))]
fn thread_signal() -> Arc<ThreadSignal> {
    SIGNAL.with(|s| s.clone())
}

/// Under loom: a fresh signal per park (a std thread-local holding a loom object would outlive
/// the model execution and be shared by all model threads, which run on one OS thread).
#[cfg(loom)]
fn thread_signal() -> Arc<ThreadSignal> {
    Arc::new(ThreadSignal::default())
}

/// True when called on a green thread (a G), false on a plain OS thread.
pub fn in_green_thread() -> bool {
    coro::on_g_stack()
}

/// Parks the caller until its [`Unparker`] is unparked (see the module docs for the protocol).
///
/// `register` receives the caller's `Unparker` and must store it where a waker will find it
/// (returning `None`), or hand it back (`Some`) if the wait is no longer needed. On a G it runs on
/// the M after the switch; on a plain thread it runs on the thread before it blocks.
///
/// `#[track_caller]`, as is every blocking API down to here: the G record keeps the user's
/// source line of the blocking call (`gort::dump`'s "where it waits").
#[track_caller]
pub(crate) fn park<F>(reason: WaitReason, register: F)
where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    park_on(reason, WaitObj::None, register)
}

/// [`park`], recording what the G waits on (a channel, a lock, a G it joins) for the dump.
#[track_caller]
#[inline(always)]
pub(crate) fn park_on<F>(reason: WaitReason, obj: WaitObj, register: F)
where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    park_with(reason, obj, std::panic::Location::caller(), register)
}

/// [`park_on`] with the wait site given (for a caller whose chain to the user passes through
/// a trait object, where `#[track_caller]` does not carry: `JoinHandle::join`).
///
/// Inlined into the caller so that the object is encoded there, where its kind is a constant
/// (a channel's wait is two words known at compile time but for its address and capacity);
/// the rest is [`park_raw`].
#[inline(always)]
pub(crate) fn park_with<F>(reason: WaitReason, obj: WaitObj, site: Site, register: F)
where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    park_raw(
        reason,
        site as *const std::panic::Location<'static> as *mut _,
        obj.encode(),
        register,
    )
}

/// [`park_on`] with the switch in the caller's own frame: for the single-arm channel
/// operations (`chan::select::block_one`), whose frames every parked sender or receiver keeps.
/// The switch's inline assembly saves every callee-saved register, so its frame costs as much
/// as a call; inlined, it shares the caller's instead of adding one more to the parked G's stack
/// (a resume pops every frame between the park and the user's code, one cache line per 64
/// bytes: docs/channels.md §2, "The parked frames"). The other callers keep [`park_raw`] out of
/// line (one copy of the switch for them all).
#[track_caller]
#[inline(always)]
pub(crate) fn park_on_inline<F>(reason: WaitReason, obj: WaitObj, register: F)
where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    let site = std::panic::Location::caller();
    park_raw_inline(
        reason,
        site as *const std::panic::Location<'static> as *mut _,
        obj.encode(),
        register,
    )
}

/// [`park_with`] with the site and object in the G record's form.
fn park_raw<F>(
    reason: WaitReason,
    site: *mut std::panic::Location<'static>,
    obj: (usize, u64),
    register: F,
) where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    park_raw_inline(reason, site, obj, register)
}

/// [`park_raw`]'s body, inlined into it and into [`park_on_inline`]; the plain-thread path stays
/// out of line.
#[inline(always)]
fn park_raw_inline<F>(
    reason: WaitReason,
    site: *mut std::panic::Location<'static>,
    obj: (usize, u64),
    register: F,
) where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    if let Some(y) = coro::g_yielder() {
        let mut cb = park_callback_raw(reason, site, obj, register);
        coro::suspend_with(y, Suspend::Park(ParkFn::new(&mut cb, reason)));
    } else {
        park_thread(register);
    }
}

/// [`park_raw`] on a plain OS thread: blocks the thread (module docs).
#[cold]
#[inline(never)]
fn park_thread<F>(register: F)
where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    crate::check_not_forked();
    let sig = thread_signal();
    sig.begin_counted();
    if register(Unparker::Thread(sig.clone())).is_none() {
        // This thread may be the last thing that could make progress: check for a deadlock
        // (it reports only if every thread of the process is blocked on gort). Not under
        // loom: the check is not modelled, and models without a scheduler park threads too.
        #[cfg(not(loom))]
        crate::deadlock::check(crate::sched());
        sig.wait(None);
    }
    sig.end_counted();
}

/// Steps 2-3 of the protocol for a G: the callback the M calls (through `ParkFn`) after the G
/// switched out. It is also the seam loom model 3 drives, since a coroutine cannot switch under
/// loom (`sched::model::park_g` wraps it in a `ParkFn` and calls it as `execute` does).
#[cfg_attr(not(loom), allow(dead_code))]
pub(crate) fn park_callback<F>(reason: WaitReason, register: F) -> impl FnMut(GRef) -> Option<GRef>
where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    park_callback_raw(
        reason,
        std::ptr::null_mut(),
        WaitObj::None.encode(),
        register,
    )
}

/// Steps 2-3 with the wait's source line and object, in the G record's form (recorded before
/// `register` runs, so a dump that sees the G parked sees why and where).
#[inline(always)]
fn park_callback_raw<F>(
    reason: WaitReason,
    site: *mut std::panic::Location<'static>,
    obj: (usize, u64),
    register: F,
) -> impl FnMut(GRef) -> Option<GRef>
where
    F: FnOnce(Unparker) -> Option<Unparker>,
{
    let mut register = Some(register);
    move |g: GRef| -> Option<GRef> {
        g.set_wait_raw(reason, site, obj);
        let f = register.take().expect("park callback called twice");
        match f(Unparker::G(g)) {
            None => None,
            Some(Unparker::G(g)) => {
                g.set_wait_reason(WaitReason::None);
                Some(g)
            }
            Some(Unparker::Thread(_)) => {
                crate::fatal::fatal!("park: register returned a thread unparker for a G")
            }
        }
    }
}

/// Like `park`, with a deadline, for plain threads and Gs alike, recording what the G waits on
/// (see [`park_on`]).
///
/// If the deadline passes first, `cancel` is called (on a timer for a G, on the thread itself for
/// a thread): it must remove the caller's `Unparker` from where `register` stored it and return
/// it, or return `None` if a waker already took it (then that waker's unpark is on its way and
/// is awaited). Returns true if the caller was unparked by a waker, false if it timed out.
#[track_caller]
pub(crate) fn park_deadline_on<F, C>(
    reason: WaitReason,
    obj: WaitObj,
    deadline: Instant,
    register: F,
    cancel: C,
) -> bool
where
    F: FnOnce(Unparker) -> Option<Unparker>,
    C: FnOnce() -> Option<Unparker> + Send + 'static,
{
    if coro::on_g_stack() {
        // The timer is armed by the M right after `register` stored our Unparker (so it cannot
        // fire before there is something to cancel), under `slot`'s lock so that the G, once
        // awake, finds the handle to disarm it.
        struct Slot {
            timer: Option<crate::timer::TimerId>,
            timed_out: bool,
        }
        let slot = Arc::new(Mutex::new(Slot {
            timer: None,
            timed_out: false,
        }));
        let s2 = slot.clone();
        park_on(reason, obj, move |u| match register(u) {
            Some(u) => Some(u),
            None => {
                let mut sl = s2.lock();
                let s3 = s2.clone();
                sl.timer = Some(crate::timer::add(
                    deadline,
                    Box::new(move || {
                        if let Some(u) = cancel() {
                            s3.lock().timed_out = true;
                            u.unpark();
                        }
                    }),
                ));
                None
            }
        });
        let mut sl = slot.lock();
        if let Some(t) = sl.timer.take() {
            crate::timer::cancel(t);
        }
        !sl.timed_out
    } else {
        crate::check_not_forked();
        let sig = thread_signal();
        if register(Unparker::Thread(sig.clone())).is_some() {
            return true;
        }
        if sig.wait(Some(deadline)) {
            return true;
        }
        match cancel() {
            Some(_) => false,
            None => {
                // A waker took our Unparker just as we timed out: its notify is coming.
                sig.wait(None);
                true
            }
        }
    }
}

/// Yields the processor: the current G goes to the back of its P's run queue and other Gs run
/// (Go's `runtime.Gosched`). On a plain thread, `std::thread::yield_now`.
pub fn yield_now() {
    if let Some(y) = coro::g_yielder() {
        coro::suspend_with(y, Suspend::Yield);
    } else {
        crate::check_not_forked();
        std::thread::yield_now();
    }
}
