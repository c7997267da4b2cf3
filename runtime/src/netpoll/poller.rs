//! The OS poller behind the contract in `netpoll/mod.rs`: mio's `Poll` (epoll on Linux, kqueue
//! on macOS/BSD; edge-triggered), its `Registry`, and a `Waker` (Go's `netpollBreak`: an
//! eventfd on Linux, `EVFILT_USER` on kqueue).
//!
//! Tokens are the addresses of poll descriptors, which are never freed (netpoll/mod.rs, "The
//! descriptor cache"), so an event for any token but [`WAKER`] names a live descriptor; an event
//! that arrives after its socket was closed lands on a recycled descriptor as a spurious edge,
//! which costs its next waiter one retried syscall and nothing else.
//!
//! `poll` needs `&mut mio::Poll`; the caller owns the poll through `netpoll`'s `POLL_OWNER`
//! token (one M at a time), and the mutex here is then never contended.

use super::pd::Dir;
use super::{Pd, Waiter};
use crate::loom::Mutex;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// The waker's token; no descriptor lives at address 0.
const WAKER: Token = Token(0);

pub(crate) struct Poller {
    poll: Mutex<(Poll, Events)>,
    registry: Registry,
    waker: Waker,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(Poller {
            poll: Mutex::new((poll, Events::with_capacity(1024))),
            registry,
            waker,
        })
    }

    /// Registers `fd` for read and write readiness (edge-triggered), reported to `pd`.
    pub(crate) fn register(&self, fd: RawFd, pd: &'static Pd) -> io::Result<()> {
        let token = Token(pd as *const Pd as usize);
        self.registry.register(
            &mut SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    pub(crate) fn deregister(&self, fd: RawFd) -> io::Result<()> {
        self.registry.deregister(&mut SourceFd(&fd))
    }

    /// Go's `netpollBreak`: makes a blocked (or the next) `poll` return.
    pub(crate) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            // Never seen in practice (eventfd full is handled by mio); the poller then wakes at
            // its timeout or by sysmon.
            eprintln!("gort: netpoll: waker failed: {e}");
        }
    }

    /// Waits up to `timeout` (None: forever) and moves the waiters of every ready descriptor
    /// to `out`. Returns how many waiters were moved. Caller: the `POLL_OWNER` holder.
    pub(crate) fn poll(&self, timeout: Option<Duration>, out: &mut Vec<Waiter>) -> usize {
        let mut g = self.poll.lock();
        let (poll, events) = &mut *g;
        match poll.poll(events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return 0,
            Err(e) => {
                eprintln!("gort: netpoll: poll failed: {e}");
                return 0;
            }
        }
        let mut n = 0;
        for ev in events.iter() {
            let t = ev.token();
            if t == WAKER {
                continue;
            }
            // SAFETY: every token but WAKER was made by `register` from a `&'static Pd`
            // (descriptors are leaked and recycled, never freed), so the address is a live Pd.
            let pd: &'static Pd = unsafe { &*(t.0 as *const Pd) };
            let err = ev.is_error();
            if ev.is_read_closed() || err {
                pd.mark_read_closed();
            }
            // Both edges under one lock: most events carry both (see `notify_edges`).
            n += pd.notify_edges(
                ev.is_readable() || ev.is_read_closed() || err,
                ev.is_writable() || ev.is_write_closed() || err,
                out,
            );
        }
        n
    }
}

/// Waits on `fd` for `dir` with poll(2) for at most `timeout` (a plain thread's blocking I/O).
/// Returns Ok(true) if the fd is ready (or in error: the retried syscall reports it).
pub(crate) fn wait_fd(fd: RawFd, dir: Dir, timeout: Duration) -> io::Result<bool> {
    let events = match dir {
        Dir::Read => libc::POLLIN,
        Dir::Write => libc::POLLOUT,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfd` is one valid, initialised pollfd on our stack and nfds is 1.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(r > 0)
}
