//! The netpoller: one OS poller per process (mio: epoll on Linux, kqueue on macOS/BSD,
//! edge-triggered), woven into the scheduler where Go weaves it (docs/netpoll.md).
//!
//! # The contract
//!
//! What the rest of the runtime may rely on, and the only functions it calls:
//!
//! * **Descriptors.** `open` registers a non-blocking fd and returns its `&'static` [`Pd`]
//!   (from a cache; descriptors are recycled, never freed). `close` deregisters it, wakes
//!   every waiter with [`Outcome::Closed`], and returns it to the cache. The fd itself is the
//!   caller's: it must stay open until `close` returned.
//! * **Waiting.** `wait``(pd, fd, dir, deadline)` is called after a syscall on `fd` returned
//!   `WouldBlock`. On a G it parks the G (wait reason `IO wait`) until readiness (`Ok`), the
//!   deadline (`TimedOut`) or a close (`NotConnected`, Go's "use of closed network connection");
//!   on a plain thread it blocks the thread in poll(2) instead (std's behaviour). Readiness may
//!   be spurious: callers retry the syscall in a loop.
//! * **Scheduler hooks** (sched.rs calls, in `find_runnable`): step 5 `poll_ready` (a
//!   non-blocking poll, only if Gs wait on sockets and no M is blocked in the poller), step 8
//!   `block` (the one M that blocks in the poller, until the nearest timer), and
//!   `break_poller` (from `wakep`, when new work finds no idle M: Go's `netpollBreak`).
//! * **Timers** call `timer_added` after every add: an earlier deadline than the blocked
//!   poller's breaks it; with nobody in the poller, `wakep` brings an M to wait for it.
//! * **sysmon** calls `sysmon_poll` every tick: a poller not polled for 10 ms is polled.
//! * [`waiters`]: Gs parked on sockets now (for the deadlock detector: they are not deadlocked).
//!
//! # The blocking-poll protocol (numbered; code comments cite the steps)
//!
//! * P1. CAS `POLL_OWNER` false→true. Only its holder polls (blocking or not); an M that loses
//!   simply parks (stopm): one M at a time waits in the kernel.
//! * P2. `POLL_UNTIL = u64::MAX` (SeqCst): "an M is blocked, until an unknown time": any timer
//!   added from now on breaks the poll.
//! * P3. Read the earliest deadline of all timer shards (SeqCst loads).
//! * P4. `POLL_UNTIL = that deadline` (SeqCst).
//! * P5. `poll(timeout = deadline - now)`.
//! * P6. `POLL_UNTIL = 0`, `WAKE_SIG = false`, `LAST_POLL = now`, release `POLL_OWNER`.
//! * P7. Take an idle P if there is one: run due timers, inject the readied Gs (one is run by
//!   this M); without a P, inject them into the global queue and park the M.
//!
//! A timer adder does A1. insert and publish its shard's `next` (SeqCst, timer.rs); A2. load
//! `POLL_UNTIL` (SeqCst); A3. if nonzero and later than its deadline, break the poll; if zero,
//! `wakep`. Proof sketch: if A2 reads 0 or a value from before P2, then A1 precedes P2 in the
//! SeqCst order, hence precedes P3, and the poller's timeout accounts for the new timer. If A2
//! reads P2's `MAX` or P4's value, the adder compares against it and breaks if needed; the
//! waker's eventfd stays signalled until the next poll consumes it, so a break sent before P5
//! makes P5 return at once. Either way the poller never sleeps past a pending deadline.
//!
//! # The descriptor cache
//!
//! Descriptors are leaked `PollDesc`s kept on a free list; their addresses are the poller's
//! tokens (Go's `pollcache`). So a token in a late event always names a live descriptor, a
//! deadline timer may hold `&'static Pd` past the socket's close, and tickets (never reused)
//! make such stale timers no-ops.

pub mod pd;
mod poller;

use crate::g::{GRef, WaitReason};
use crate::loom::Mutex;
// Process-global statics are no part of any loom model (model 6 drives pd.rs alone), so they use
// std's atomics, which stay const-initialisable under `--cfg loom`.
use crate::park::Unparker;
use crate::sched::Sched;
use crate::timer::TimerId;
use crossbeam_utils::CachePadded;
use pd::{Arm, Dir, Outcome, PollDesc};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A runtime poll descriptor: the state machine of pd.rs with a parked G (its `Unparker`) as the
/// waiter.
pub type Pd = PollDesc<Waiter>;

/// A waiter stored in a [`Pd`] slot: the parked G. Its deadline timer's id stays in the waiting
/// frame (`wait`), which cancels it after the wake-up: the waiter is a pointer's worth, so a
/// slot's inline entry fits in the descriptor's first cache line (pd.rs, `Inner`) and a batch
/// of readied waiters moves half the bytes.
pub struct Waiter {
    u: Unparker,
}

/// How long sysmon lets the poller go unpolled while Gs wait on sockets (Go: 10 ms).
pub const SYSMON_POLL_AFTER: Duration = Duration::from_millis(10);
/// A plain thread blocked in poll(2) re-checks for a close this often.
const THREAD_SLICE: Duration = Duration::from_millis(100);

static POLLER: OnceLock<poller::Poller> = OnceLock::new();
// Each of the poller's hot words has a cache line of its own (`CachePadded`): they are written
// from both Ms many times per millisecond under socket load (`WAITERS` on every park, `POLL_OWNER`
// and `LAST_POLL` on every poll) and read on every `find_runnable`, and the linker had put them
// in one line with each other and with unrelated statics, so every write made the other core
// miss on all of them.
/// P1: the right to call `poll`. CAS false→true to take (Acquire), store false to give (Release).
static POLL_OWNER: CachePadded<AtomicBool> = CachePadded::new(AtomicBool::new(false));
/// 0: no M blocked in the poller; else the blocked poller's deadline (timer ns; MAX = none).
/// SeqCst: pairs with timer adds (A2) and `break_poller` (see the protocol).
static POLL_UNTIL: CachePadded<AtomicU64> = CachePadded::new(AtomicU64::new(0));
/// A break is on its way (Go's `netpollWakeSig`): CAS false→true before waking; cleared at P6.
static WAKE_SIG: CachePadded<AtomicBool> = CachePadded::new(AtomicBool::new(false));
/// When the poller last returned (ns on the timer clock; Relaxed: a heuristic for sysmon).
static LAST_POLL: CachePadded<AtomicU64> = CachePadded::new(AtomicU64::new(0));
/// Gs parked on descriptors (incremented by a parking `arm`, decremented by whoever takes the
/// waiter). Relaxed: a count for heuristics and the deadlock detector.
static WAITERS: CachePadded<AtomicUsize> = CachePadded::new(AtomicUsize::new(0));
/// The descriptor cache.
static FREE: OnceLock<Mutex<Vec<&'static Pd>>> = OnceLock::new();

fn free_list() -> &'static Mutex<Vec<&'static Pd>> {
    FREE.get_or_init(|| Mutex::new(Vec::new()))
}

fn poller() -> io::Result<&'static poller::Poller> {
    if let Some(p) = POLLER.get() {
        return Ok(p);
    }
    let p = poller::Poller::new()?;
    Ok(POLLER.get_or_init(|| p))
}

/// The number of Gs parked on sockets now (for the deadlock detector).
///
/// # Examples
///
/// ```
/// assert_eq!(gort_runtime::netpoll::waiters(), 0);
/// ```
pub fn waiters() -> usize {
    WAITERS.load(Ordering::Relaxed)
}

/// Registers the non-blocking `fd` with the poller; returns its descriptor.
pub(crate) fn open(fd: RawFd) -> io::Result<&'static Pd> {
    let p = poller()?;
    let pd = match free_list().lock().pop() {
        Some(pd) => {
            pd.reset();
            pd
        }
        None => Box::leak(Box::new(Pd::new())),
    };
    match p.register(fd, pd) {
        Ok(()) => Ok(pd),
        Err(e) => {
            pd.close(&mut Vec::new());
            free_list().lock().push(pd);
            Err(e)
        }
    }
}

/// Deregisters `fd`, wakes every waiter of `pd` with a close error, and recycles `pd`. Call it
/// before closing the fd.
pub(crate) fn close(pd: &'static Pd, fd: RawFd) {
    shutdown(pd, fd);
    free_list().lock().push(pd);
}

/// `close` without recycling: the descriptor stays closed (every wait fails) until `close`;
/// for `close(&self)` on sockets still owned by someone.
pub(crate) fn shutdown(pd: &'static Pd, fd: RawFd) {
    if pd.is_closed() {
        return;
    }
    if let Some(p) = POLLER.get() {
        let _ = p.deregister(fd);
    }
    let mut out = Vec::new();
    let n = pd.close(&mut out);
    WAITERS.fetch_sub(n, Ordering::Relaxed);
    wake_all(out, false);
}

/// Wakes every G waiting for `dir` on `pd` as if it were ready (they retry their syscall and
/// re-read their deadline); with nobody waiting, the next wait returns at once, once. For
/// deadline changes (net/mod.rs).
pub(crate) fn kick(pd: &'static Pd, dir: Dir) {
    let mut out = Vec::new();
    let n = pd.notify(dir, &mut out);
    if n > 0 {
        WAITERS.fetch_sub(n, Ordering::Relaxed);
        wake_all(out, false);
    }
}

/// The error a wait on a closed descriptor returns (Go's "use of closed network connection").
pub fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "use of closed network connection",
    )
}

/// Waits for `dir` readiness of `fd` (after a `WouldBlock`), until `deadline`. See the contract.
///
/// Inlined into the I/O loop (`net::Io::io_from`): its frame would be one more on the G's stack
/// at every park, and the first touch of a parked G's stack lines on the wake-up is a cache miss
/// each (callgrind, tcp_echo server: D1 read misses per round trip 16.8 -> 14.6).
#[track_caller]
#[inline(always)]
pub(crate) fn wait(
    pd: &'static Pd,
    fd: RawFd,
    dir: Dir,
    deadline: Option<Instant>,
) -> io::Result<()> {
    if !crate::park::in_green_thread() {
        return wait_thread(pd, fd, dir, deadline);
    }
    let ticket = pd.ticket();
    // On this G's P (owner-only, no shared cache line: a global counter here was one more
    // cross-core read-modify-write per request); on no P, the global count.
    if crate::sched::with_current_p(|p, _| {
        crate::metrics::count(p, crate::metrics::Counter::NetpollWaits)
    })
    .is_none()
    {
        crate::metrics::count_global(crate::metrics::Counter::NetpollWaits);
    }
    let mut timer: Option<TimerId> = None;
    let timer_slot = &mut timer;
    crate::park::park(WaitReason::IoWait, move |u| {
        // `on_park` runs under the descriptor's lock before the waiter is stored, so the timer
        // id is written before any waker can hand the G out (and resume it to read it).
        match pd.arm(dir, ticket, Waiter { u }, |_| {
            if let Some(d) = deadline {
                *timer_slot = Some(crate::timer::add(
                    d,
                    Box::new(move || {
                        if let Some(w) = pd.expire(dir, ticket) {
                            WAITERS.fetch_sub(1, Ordering::Relaxed);
                            w.u.unpark();
                        }
                    }),
                ));
            }
        }) {
            Arm::Parked => {
                WAITERS.fetch_add(1, Ordering::Relaxed);
                // A thief in a long runnext back-off polls nothing: have it look (sched.rs).
                crate::sched().poke_thieves();
                None
            }
            Arm::Ready(w) | Arm::Closed(w) => Some(w.u),
        }
    });
    let outcome = pd.outcome(dir, ticket);
    if let Some(t) = timer {
        if outcome != Outcome::TimedOut {
            // Woken by readiness or a close: the timer could only find no ticket, but it holds
            // heap space until it fires.
            crate::timer::cancel(t);
        }
    }
    match outcome {
        Outcome::Ready => Ok(()),
        Outcome::TimedOut => Err(io::Error::from(io::ErrorKind::TimedOut)),
        Outcome::Closed => Err(closed_error()),
    }
}

/// A plain thread's wait: poll(2) for at most [`THREAD_SLICE`], then a spurious `Ok` so the
/// caller looks again (for a close, or a deadline changed meanwhile).
fn wait_thread(pd: &Pd, fd: RawFd, dir: Dir, deadline: Option<Instant>) -> io::Result<()> {
    if pd.is_closed() {
        return Err(closed_error());
    }
    let mut slice = THREAD_SLICE;
    if let Some(d) = deadline {
        let now = Instant::now();
        if now >= d {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        slice = slice.min(d - now);
    }
    poller::wait_fd(fd, dir, slice)?;
    if pd.is_closed() {
        return Err(closed_error());
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(io::Error::from(io::ErrorKind::TimedOut));
    }
    Ok(())
}

/// Makes the readied waiters runnable: Gs as one batch (`injectglist`), threads one by one. (A
/// waiter's deadline timer is cancelled by the woken G itself, in `wait`.)
fn wake_all(ws: Vec<Waiter>, hold_p: bool) -> Option<GRef> {
    let mut gs = Vec::with_capacity(ws.len());
    for w in ws {
        match w.u {
            Unparker::G(g) => gs.push(g),
            u @ Unparker::Thread(_) => u.unpark(),
        }
    }
    let first = if hold_p { gs.pop() } else { None };
    if !gs.is_empty() {
        crate::sched().injectglist(gs);
    }
    first
}

fn now_ns() -> u64 {
    crate::timer::to_ns(Instant::now())
}

/// Polls without blocking if `POLL_OWNER` is free; moves ready waiters to `out`.
fn poll_now(out: &mut Vec<Waiter>) -> bool {
    let Some(p) = POLLER.get() else { return false };
    if POLL_OWNER
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    let n = p.poll(Some(Duration::ZERO), out);
    LAST_POLL.store(now_ns(), Ordering::Relaxed);
    POLL_OWNER.store(false, Ordering::Release);
    WAITERS.fetch_sub(n, Ordering::Relaxed);
    true
}

/// `find_runnable` step 5: a non-blocking poll, if Gs wait on sockets and no M is blocked in
/// the poller. Readied Gs are injected; one is returned for this M (which holds a P) to run.
pub(crate) fn poll_ready() -> Option<GRef> {
    if WAITERS.load(Ordering::Relaxed) == 0 || POLL_UNTIL.load(Ordering::Relaxed) != 0 {
        return None;
    }
    let mut out = Vec::new();
    if !poll_now(&mut out) || out.is_empty() {
        return None;
    }
    wake_all(out, true)
}

/// What [`block`] leaves the M with.
pub(crate) enum Polled {
    /// Holding a P: run this G.
    Run(GRef),
    /// Holding a P: look for work again.
    Again,
    /// No P (or not the poller): park the M.
    Stop,
}

/// `find_runnable` step 8: the M (holding no P) blocks in the poller until the nearest timer,
/// if Gs wait on sockets or timers are pending and no other M is in the poller. See the
/// protocol P1-P7 in the module docs.
pub(crate) fn block(s: &'static Sched) -> Polled {
    if WAITERS.load(Ordering::Relaxed) == 0 && crate::timer::pending() == 0 {
        return Polled::Stop;
    }
    let Ok(p) = poller() else {
        return Polled::Stop;
    };
    // P1.
    if POLL_OWNER
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Polled::Stop;
    }
    // P2.
    POLL_UNTIL.store(u64::MAX, Ordering::SeqCst);
    // P3, P4.
    let next = crate::timer::next_deadline();
    let until = next.map_or(u64::MAX, |d| crate::timer::to_ns(d).max(1));
    POLL_UNTIL.store(until, Ordering::SeqCst);
    // P5.
    let timeout = next.map(|d| d.saturating_duration_since(Instant::now()));
    let mut out = Vec::new();
    let n = p.poll(timeout, &mut out);
    // P6.
    POLL_UNTIL.store(0, Ordering::SeqCst);
    WAKE_SIG.store(false, Ordering::SeqCst);
    LAST_POLL.store(now_ns(), Ordering::Relaxed);
    POLL_OWNER.store(false, Ordering::Release);
    WAITERS.fetch_sub(n, Ordering::Relaxed);
    // P7.
    if !s.try_acquire_idle_p() {
        wake_all(out, false);
        return Polled::Stop;
    }
    crate::timer::check_all();
    match wake_all(out, true) {
        Some(g) => Polled::Run(g),
        None => Polled::Again,
    }
}

/// Wakes the M blocked in the poller, if there is one (Go's `netpollBreak` for new work).
/// Returns true if an M is (or was just) blocked in the poller and has been told to look.
pub(crate) fn break_poller() -> bool {
    if POLL_UNTIL.load(Ordering::SeqCst) == 0 {
        return false;
    }
    if WAKE_SIG
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok()
    {
        if let Some(p) = POLLER.get() {
            p.wake();
        }
    }
    true
}

/// Timer hook (A2, A3 of the protocol): a timer due at `when_ns` was added.
pub(crate) fn timer_added(when_ns: u64) {
    let until = POLL_UNTIL.load(Ordering::SeqCst);
    if until == 0 {
        // A thief in a long runnext back-off runs no timers: have it look (sched.rs).
        crate::sched().poke_thieves();
        crate::sched().wakep();
    } else if when_ns < until {
        break_poller();
    }
}

/// sysmon's hook: if Gs wait on sockets, no M is blocked in the poller, and nobody polled for
/// [`SYSMON_POLL_AFTER`], poll without blocking and inject what is ready.
pub(crate) fn sysmon_poll() {
    if WAITERS.load(Ordering::Relaxed) == 0 || POLL_UNTIL.load(Ordering::SeqCst) != 0 {
        return;
    }
    let now = now_ns();
    if now.saturating_sub(LAST_POLL.load(Ordering::Relaxed)) < SYSMON_POLL_AFTER.as_nanos() as u64 {
        return;
    }
    let mut out = Vec::new();
    if poll_now(&mut out) && !out.is_empty() {
        wake_all(out, false);
    }
}

#[cfg(test)]
mod tests {
    //! The descriptor API (crate-private since issue 15: raw fds are not opened or closed
    //! through the poller by safe code outside the crate).
    use super::*;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[test]
    fn pd_hot_line() {
        // The atomics, the lock, the flags and the read slot's inline waiter/outcome share one
        // cache line (pd.rs, `Inner`): the line that moves between the poller's core and the G's.
        let pd = Pd::new();
        assert_eq!(std::mem::align_of::<Pd>(), 64);
        assert!(
            pd.hot_line_end() <= 64,
            "hot part ends at {}",
            pd.hot_line_end()
        );
    }

    #[test]
    fn open_and_close() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let pd = open(l.as_raw_fd()).unwrap();
        close(pd, l.as_raw_fd());
    }

    #[test]
    fn shutdown_closes_the_descriptor() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        let pd = open(s.as_raw_fd()).unwrap();
        shutdown(pd, s.as_raw_fd());
        assert!(pd.is_closed());
        close(pd, s.as_raw_fd());
    }

    #[test]
    fn wait_times_out_on_a_g() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        let pd = open(s.as_raw_fd()).unwrap();
        let fd = s.as_raw_fd();
        let r = crate::spawn(move || {
            wait(
                pd,
                fd,
                Dir::Read,
                Some(Instant::now() + Duration::from_millis(5)),
            )
        });
        assert_eq!(
            r.join().unwrap().unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
        close(pd, fd);
    }

    #[test]
    fn readiness_cancels_the_deadline_timer() {
        // The woken G cancels its own deadline timer (`wait`, after the outcome): a wait ended
        // by readiness leaves no timer behind. Other tests' timers may come and go meanwhile,
        // so the check is against a timer that could not have fired yet.
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        let addr = s.local_addr().unwrap();
        let pd = open(s.as_raw_fd()).unwrap();
        let fd = s.as_raw_fd();
        let far = Instant::now() + Duration::from_secs(3600);
        let (tx, rx) = std::sync::mpsc::channel();
        let g = crate::spawn(move || {
            let r = wait(pd, fd, Dir::Read, Some(far));
            // Still on the G, right after the wake-up: was our timer (due in an hour) removed?
            let after = crate::timer::next_deadline();
            tx.send(()).unwrap();
            (r.map_err(|e| e.kind()), after)
        });
        // Let the G park (its timer armed), then make the socket readable.
        while waiters() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(b"x", addr)
            .unwrap();
        rx.recv().unwrap();
        let (r, after) = g.join().unwrap();
        assert_eq!(r, Ok(()));
        assert!(
            after.is_none_or(|d| d < far),
            "the deadline timer outlived the wait"
        );
        close(pd, fd);
    }
}
