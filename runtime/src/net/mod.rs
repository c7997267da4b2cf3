//! Sockets that park the G, not the M: `TcpListener`, `TcpStream`, `UdpSocket`, and on Unix
//! `UnixListener`, `UnixStream` (Go's `net` package over the netpoller).
//!
//! Each type wraps the std socket, put in non-blocking mode and registered with the netpoller
//! (netpoll/mod.rs). Every operation first tries the syscall; on `WouldBlock` the calling G parks
//! on the socket's poll descriptor until readiness, its timeout, or a close, then retries
//! (Go's `fd.Read` loop). From a plain OS thread the same calls block the thread in poll(2), so
//! the types behave like std's blocking sockets there.
//!
//! # Short reads
//!
//! A stream read (`TcpStream`, `UnixStream`) that returns fewer bytes than it asked for has
//! drained the socket's receive queue, so the next read would fail with `EAGAIN` unless data
//! came in since; and data that comes in afterwards raises a new edge on the poll descriptor
//! (the netpoller is edge-triggered, and Linux signals each arrival). So the next read waits
//! for readiness first: if an edge came meanwhile, the descriptor's `ready` flag is set and
//! the wait returns at once; otherwise the G parks until one comes, instead of making a call
//! that fails and then parking. One system call fewer per request of a request/response
//! protocol (measured: `http_hello`, 2 `recvfrom` per request down to 1, as tokio does with its
//! readiness ticks). Not in non-blocking mode, after an end of file (0 bytes), or for
//! `read_vectored`, where the call is always made; and never once the poller has seen the read
//! side end (`PollDesc::read_closed`: a FIN, hang-up or error raises one edge and no other, so
//! if a wait consumed that edge before the short read, a FIN or error still queued behind the
//! data would never wake the next wait: the hang a first version of this had, 1 run in 4 of
//! tests/sockets.rs `into_split_halves_from_two_gs`).
//!
//! # Differences from std, on purpose
//!
//! * A timeout (`set_read_timeout`, `set_write_timeout`, `connect_timeout`) ends the wait with
//!   `io::ErrorKind::TimedOut` on every platform (std returns `WouldBlock` on Unix for
//!   `SO_RCVTIMEO` and `TimedOut` on Windows). The socket stays usable. Why not std's
//!   `WouldBlock`: here `WouldBlock` means only "non-blocking mode and nothing to do now" (after
//!   `set_nonblocking(true)`), which a caller answers by retrying later; a timeout is a verdict
//!   (Go's `os.ErrDeadlineExceeded`, whose `Timeout()` is true) that a retry loop written for
//!   `WouldBlock` would turn into a spin. One kind per meaning, on every platform.
//! * **Deadlines** (`set_deadline`, `set_read_deadline`, `set_write_deadline`, Go's
//!   `SetDeadline`): an absolute `Instant` after which operations fail with `TimedOut` instead
//!   of waiting, **and keep failing** (even with data available) until the deadline is moved or
//!   cleared, as in Go. Setting one wakes the Gs parked on the socket so they re-evaluate it:
//!   `set_read_deadline(Some(Instant::now()))` interrupts a parked read. A per-operation
//!   timeout and a deadline combine: the earlier one ends the wait.
//! * `close(&self)` (Go's `Conn.Close` from another G) deregisters the socket and wakes every G
//!   parked on it with `io::ErrorKind::NotConnected` ("use of closed network connection");
//!   later operations fail the same way. **Clones share it**: `try_clone` gives a new
//!   descriptor with its own registration, and the clones form a close group, so closing any
//!   of them closes all (a G reading a clone wakes at once), as Go's single `netFD` would. The
//!   fds themselves are closed when each value is dropped.
//! * Host names given to `connect`/`bind`/`send_to` are resolved with std's `ToSocketAddrs`
//!   (getaddrinfo), a blocking call, inside `gort::blocking`: the G's P is handed to another M
//!   if the lookup takes longer than a sysmon tick, so other Gs keep running.
//! * `accept` returns resource errors (`EMFILE`, `ENFILE`, `ENOBUFS`) to the caller; the
//!   pending connection stays in the backlog, and the listener keeps working once descriptors
//!   are free. A loop that retries at once would spin: back off (Go's http server sleeps 5 ms
//!   doubling to 1 s), for example with `gort::sleep`.
//! * `TcpListener::bind` and `UnixListener::bind` listen with Go's backlog
//!   ([`listen_backlog`]: `/proc/sys/net/core/somaxconn` on Linux, the kernel's maximum
//!   elsewhere), not std's 128: a burst of connections while the acceptor is busy waits in the
//!   accept queue instead of having its SYNs dropped and retried a second later.
//!
//! # Invariants
//!
//! * The fd is registered from construction until `close`/drop/`into_std`, and deregistered
//!   before it is closed (field order: the registration is dropped before the std socket).
//! * A clone group's member list holds each member's `(pd, fd)` from its construction until
//!   its drop or `into_std`, which remove it under the group's lock before recycling the pd; a
//!   group `close` shuts the members down under that lock. So `close` never reaches a pd that
//!   was recycled for another socket. Lock order: a group's lock < a pd's lock.
//! * `nonblocking` is the user's `set_nonblocking` flag; the fd itself is always non-blocking
//!   while wrapped, and gets its blocking mode back in `into_std`.

mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

pub use tcp::{Incoming, OwnedReadHalf, OwnedWriteHalf, ReuniteError, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};

use crate::netpoll::{self, pd::Dir, Pd};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The registrations of a socket and its clones: closing one closes all (module docs).
#[derive(Default)]
struct CloseGroup {
    /// Members' descriptors and fds, and whether the group was closed.
    members: crate::loom::unmodelled::Mutex<(Vec<(&'static Pd, RawFd)>, bool)>,
}

impl CloseGroup {
    fn join(&self, pd: &'static Pd, fd: RawFd) {
        let mut m = self.members.lock();
        m.0.push((pd, fd));
        if m.1 {
            // Cloned after the close: as closed as the rest.
            netpoll::shutdown(pd, fd);
        }
    }

    fn leave(&self, pd: &'static Pd) {
        self.members.lock().0.retain(|(p, _)| !std::ptr::eq(*p, pd));
    }

    fn close(&self) {
        let mut m = self.members.lock();
        m.1 = true;
        for &(pd, fd) in &m.0 {
            netpoll::shutdown(pd, fd);
        }
    }
}

/// A std socket registered with the netpoller. Dropping it deregisters (before the socket's
/// own drop closes the fd).
pub(crate) struct Io<S: AsRawFd> {
    pd: &'static Pd,
    fd: RawFd,
    /// The user's `set_nonblocking` (Relaxed: a per-call flag with no data to publish).
    nonblocking: AtomicBool,
    /// Read and write timeouts in ns; 0 = none (Relaxed, as above).
    timeouts: [AtomicU64; 2],
    /// Read and write deadlines: 1 + ns on the timers' clock; 0 = none (Relaxed, as above; a
    /// change also wakes the waiters, which then read it again).
    deadlines: [AtomicU64; 2],
    /// This socket and its clones (module docs).
    group: Arc<CloseGroup>,
    /// Set by a stream read that returned less than it asked for (the receive queue was
    /// drained), cleared by the next read, which then waits for readiness first instead of
    /// making the call that would fail with `EAGAIN` (module docs, "Short reads"). Relaxed: a
    /// hint; a stale value costs one wait that returns at once or one extra call.
    drained: AtomicBool,
    sock: Option<S>,
}

impl<S: AsRawFd> Io<S> {
    /// Registers `sock`, which must already be non-blocking.
    pub(crate) fn new(sock: S) -> io::Result<Io<S>> {
        Io::in_group(sock, Arc::default())
    }

    fn in_group(sock: S, group: Arc<CloseGroup>) -> io::Result<Io<S>> {
        let fd = sock.as_raw_fd();
        let pd = netpoll::open(fd)?;
        group.join(pd, fd);
        Ok(Io {
            pd,
            fd,
            nonblocking: AtomicBool::new(false),
            timeouts: [AtomicU64::new(0), AtomicU64::new(0)],
            deadlines: [AtomicU64::new(0), AtomicU64::new(0)],
            group,
            drained: AtomicBool::new(false),
            sock: Some(sock),
        })
    }

    /// Registers `sock`, a duplicate of this socket's fd (`try_clone`), as a member of this
    /// socket's close group, with this socket's non-blocking flag and timeouts (std's dups
    /// share both: they belong to the open file and the socket).
    pub(crate) fn clone_with(&self, sock: S) -> io::Result<Io<S>> {
        let io = Io::in_group(sock, self.group.clone())?;
        io.set_nonblocking(self.nonblocking.load(Ordering::Relaxed));
        for d in [Dir::Read, Dir::Write] {
            let t = self.timeouts[d as usize].load(Ordering::Relaxed);
            io.timeouts[d as usize].store(t, Ordering::Relaxed);
        }
        Ok(io)
    }

    pub(crate) fn sock(&self) -> &S {
        self.sock.as_ref().expect("socket taken")
    }

    /// Runs `f` until it does not return `WouldBlock`, parking on `dir` in between, until the
    /// per-operation timeout or the deadline, whichever comes first.
    #[track_caller]
    pub(crate) fn io<R>(&self, dir: Dir, f: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io_from(dir, false, f)
    }

    /// A stream read of `len` bytes by `f` (module docs, "Short reads"): when the previous read
    /// drained the receive queue, waits for readiness before the first call.
    #[track_caller]
    pub(crate) fn read(
        &self,
        len: usize,
        f: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let wait_first = self.drained.swap(false, Ordering::Relaxed)
            && len > 0
            && !self.nonblocking.load(Ordering::Relaxed)
            && !self.pd.read_closed();
        let r = self.io_from(Dir::Read, wait_first, f);
        if matches!(r, Ok(n) if n > 0 && n < len) {
            self.drained.store(true, Ordering::Relaxed);
        }
        r
    }

    /// [`Io::io`], optionally waiting for readiness before the first call.
    #[track_caller]
    fn io_from<R>(
        &self,
        dir: Dir,
        mut wait_first: bool,
        mut f: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut op_deadline: Option<Instant> = None;
        loop {
            if self.pd.is_closed() {
                return Err(netpoll::closed_error());
            }
            // Go's rule: past the deadline an operation fails, even if it would not wait.
            let deadline = self.deadline(dir);
            if deadline.is_some_and(|d| crate::timer::now() >= d) {
                return Err(io::ErrorKind::TimedOut.into());
            }
            if !std::mem::take(&mut wait_first) {
                match f(self.sock()) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    r => return r,
                }
                if self.nonblocking.load(Ordering::Relaxed) {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
            }
            if op_deadline.is_none() {
                op_deadline = self.timeout(dir).map(crate::timer::deadline_after);
            }
            let until = match (op_deadline, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            netpoll::wait(self.pd, self.fd, dir, until)?;
        }
    }

    /// The absolute deadline for `dir`, if one is set.
    pub(crate) fn deadline(&self, dir: Dir) -> Option<Instant> {
        match self.deadlines[dir as usize].load(Ordering::Relaxed) {
            0 => None,
            n => Some(crate::timer::from_ns(n - 1)),
        }
    }

    /// Sets (or clears) the absolute deadline for `dir` and wakes the Gs parked on it, which
    /// re-evaluate it (Go's `SetReadDeadline`/`SetWriteDeadline`).
    pub(crate) fn set_deadline(&self, dir: Dir, when: Option<Instant>) {
        let n = when.map_or(0, |w| crate::timer::to_ns(w).saturating_add(1));
        self.deadlines[dir as usize].store(n, Ordering::Relaxed);
        netpoll::kick(self.pd, dir);
    }

    /// Waits for `dir` readiness once (connect completion), until `deadline`.
    #[track_caller]
    pub(crate) fn wait(&self, dir: Dir, deadline: Option<Instant>) -> io::Result<()> {
        netpoll::wait(self.pd, self.fd, dir, deadline)
    }

    pub(crate) fn set_nonblocking(&self, nb: bool) {
        self.nonblocking.store(nb, Ordering::Relaxed);
    }

    pub(crate) fn timeout(&self, dir: Dir) -> Option<Duration> {
        match self.timeouts[dir as usize].load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// std's rule: `Some(0)` is an error.
    pub(crate) fn set_timeout(&self, dir: Dir, d: Option<Duration>) -> io::Result<()> {
        let ns = match d {
            None => 0,
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ))
            }
            Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1),
        };
        self.timeouts[dir as usize].store(ns, Ordering::Relaxed);
        Ok(())
    }

    /// Wakes every waiter of this socket and its clones with a close error; later operations
    /// on any of them fail (`close(&self)`).
    pub(crate) fn close(&self) {
        self.group.close();
    }

    /// Deregisters and hands back the socket in blocking mode.
    pub(crate) fn into_inner(mut self, set_blocking: impl FnOnce(&S) -> io::Result<()>) -> S {
        self.group.leave(self.pd);
        netpoll::close(self.pd, self.fd);
        let s = self.sock.take().expect("socket taken");
        if !self.nonblocking.load(Ordering::Relaxed) {
            let _ = set_blocking(&s);
        }
        s
    }
}

impl<S: AsRawFd> Drop for Io<S> {
    fn drop(&mut self) {
        if self.sock.is_some() {
            self.group.leave(self.pd);
            netpoll::close(self.pd, self.fd);
        }
    }
}

/// `Read` for `&$t` and `$t` through the type's `io: Io<S>` (S: `Read` by reference).
macro_rules! read_via_io {
    ($t:ty) => {
        impl std::io::Read for &$t {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.io
                    .read(buf.len(), |mut s| std::io::Read::read(&mut s, buf))
            }
            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.io.io($crate::netpoll::pd::Dir::Read, |mut s| {
                    std::io::Read::read_vectored(&mut s, bufs)
                })
            }
        }

        impl std::io::Read for $t {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }
            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }
    };
}
pub(crate) use read_via_io;

/// `Write` for `&$t` and `$t` through the type's `io: Io<S>` (S: `Write` by reference).
macro_rules! write_via_io {
    ($t:ty) => {
        impl std::io::Write for &$t {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.io.io($crate::netpoll::pd::Dir::Write, |mut s| {
                    std::io::Write::write(&mut s, buf)
                })
            }
            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.io.io($crate::netpoll::pd::Dir::Write, |mut s| {
                    std::io::Write::write_vectored(&mut s, bufs)
                })
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Write for $t {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }
            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use write_via_io;

impl<S: AsRawFd> std::fmt::Debug for Io<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fd={}", self.fd)
    }
}

/// The listen backlog `bind` uses, read once (Go's `net.listenerBacklog`, from
/// `src/net/sock_linux.go: maxListenerBacklog`).
///
/// On Linux: the first number in `/proc/sys/net/core/somaxconn` (the kernel silently caps any
/// larger backlog there), 128 (`SOMAXCONN`) if the file cannot be read or holds 0, and at most
/// 65,535. Elsewhere -1, which the BSD and macOS kernels read as their `kern.ipc.somaxconn`,
/// the value Go reads from that sysctl.
///
/// # Examples
///
/// ```
/// let n = gort::net::listen_backlog();
/// assert!(n == -1 || (1..=65_535).contains(&n));
/// ```
pub fn listen_backlog() -> i32 {
    static BACKLOG: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *BACKLOG.get_or_init(|| {
        if cfg!(target_os = "linux") {
            parse_somaxconn(std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok())
        } else {
            -1
        }
    })
}

/// Go's `maxListenerBacklog` on the file's text: `SOMAXCONN` (128) on a read error, a missing
/// or malformed first field, or 0; clamped to 65,535.
fn parse_somaxconn(text: Option<String>) -> i32 {
    const SOMAXCONN: i32 = 128;
    let n = text
        .as_deref()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0);
    match n {
        0 => SOMAXCONN,
        n => n.min(65_535) as i32,
    }
}

/// Re-sizes the accept queue of a socket that std has already put in the listening state
/// (std listens with 128 for TCP). Calling `listen(2)` again on a listening socket only updates
/// its backlog, on Linux (`inet_listen`, `unix_listen`), FreeBSD and macOS (`solisten`) alike,
/// so no connection is lost or refused in between.
pub(crate) fn set_backlog(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: `listen` takes a descriptor and an int and touches no memory of ours; `fd` is a
    // socket the caller owns and keeps open for the duration of the call.
    if unsafe { libc::listen(fd.as_raw_fd(), listen_backlog()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Resolves `addr` (a DNS lookup inside `gort::blocking`; see the module docs) and tries `f` on
/// each address in turn, returning the last error.
pub(crate) fn each_addr<A: std::net::ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(std::net::SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in resolve(addr)? {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// `addr.to_socket_addrs()` as a blocking call (Go resolves in a blocking syscall too, via cgo's
/// getaddrinfo, when its pure-Go resolver does not apply).
pub(crate) fn resolve<A: std::net::ToSocketAddrs>(
    addr: A,
) -> io::Result<std::vec::IntoIter<std::net::SocketAddr>> {
    crate::syscall::blocking(|| {
        addr.to_socket_addrs()
            .map(|i| i.collect::<Vec<_>>().into_iter())
    })
}

#[cfg(test)]
mod tests {
    use super::parse_somaxconn;

    #[test]
    fn somaxconn_like_go() {
        // Go's maxListenerBacklog: the first field, 128 on error or 0, clamped (here to 65535).
        assert_eq!(parse_somaxconn(Some("4096\n".into())), 4096);
        assert_eq!(parse_somaxconn(Some("  512 junk\n".into())), 512);
        assert_eq!(parse_somaxconn(Some("0\n".into())), 128);
        assert_eq!(parse_somaxconn(Some("x\n".into())), 128);
        assert_eq!(parse_somaxconn(Some(String::new())), 128);
        assert_eq!(parse_somaxconn(None), 128);
        assert_eq!(parse_somaxconn(Some("1000000".into())), 65_535);
        assert_eq!(parse_somaxconn(Some("99999999999999999999999".into())), 128);
    }
}
