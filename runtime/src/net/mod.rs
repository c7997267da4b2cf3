//! Sockets that park the G, not the M: `TcpListener`, `TcpStream`, `UdpSocket`, and on Unix
//! `UnixListener`, `UnixStream` (Go's `net` package over the netpoller).
//!
//! Each type wraps the std socket, put in non-blocking mode and registered with the netpoller
//! (netpoll/mod.rs). Every operation first tries the syscall; on `WouldBlock` the calling G parks
//! on the socket's poll descriptor until readiness, its timeout, or a close, then retries
//! (Go's `fd.Read` loop). From a plain OS thread the same calls block the thread in poll(2), so
//! the types behave like std's blocking sockets there.
//!
//! # Differences from std, on purpose
//!
//! * A timeout (`set_read_timeout`, `set_write_timeout`, `connect_timeout`) ends the wait with
//!   `io::ErrorKind::TimedOut` on every platform (std returns `WouldBlock` on Unix for
//!   `SO_RCVTIMEO` and `TimedOut` on Windows). The socket stays usable.
//! * `close(&self)` (Go's `Conn.Close` from another G) deregisters the socket and wakes every G
//!   parked on it with `io::ErrorKind::NotConnected` ("use of closed network connection");
//!   later operations fail the same way. The fd itself is closed when the value is dropped.
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
//! * `nonblocking` is the user's `set_nonblocking` flag; the fd itself is always non-blocking
//!   while wrapped, and gets its blocking mode back in `into_std`.

mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixIncoming, UnixListener, UnixStream};

use crate::netpoll::{self, pd::Dir, Pd};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A std socket registered with the netpoller. Dropping it deregisters (before the socket's
/// own drop closes the fd).
pub(crate) struct Io<S: AsRawFd> {
    pd: &'static Pd,
    fd: RawFd,
    /// The user's `set_nonblocking` (Relaxed: a per-call flag with no data to publish).
    nonblocking: AtomicBool,
    /// Read and write timeouts in ns; 0 = none (Relaxed, as above).
    timeouts: [AtomicU64; 2],
    sock: Option<S>,
}

impl<S: AsRawFd> Io<S> {
    /// Registers `sock`, which must already be non-blocking.
    pub(crate) fn new(sock: S) -> io::Result<Io<S>> {
        let fd = sock.as_raw_fd();
        let pd = netpoll::open(fd)?;
        Ok(Io {
            pd,
            fd,
            nonblocking: AtomicBool::new(false),
            timeouts: [AtomicU64::new(0), AtomicU64::new(0)],
            sock: Some(sock),
        })
    }

    pub(crate) fn sock(&self) -> &S {
        self.sock.as_ref().expect("socket taken")
    }

    /// Runs `f` until it does not return `WouldBlock`, parking on `dir` in between.
    pub(crate) fn io<R>(&self, dir: Dir, mut f: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        let mut deadline: Option<Instant> = None;
        loop {
            if self.pd.is_closed() {
                return Err(netpoll::closed_error());
            }
            match f(self.sock()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return r,
            }
            if self.nonblocking.load(Ordering::Relaxed) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if deadline.is_none() {
                deadline = self.timeout(dir).map(crate::timer::deadline_after);
            }
            netpoll::wait(self.pd, self.fd, dir, deadline)?;
        }
    }

    /// Waits for `dir` readiness once (connect completion), until `deadline`.
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

    /// Wakes every waiter with a close error; later operations fail (`close(&self)`).
    pub(crate) fn close(&self) {
        netpoll::shutdown(self.pd, self.fd);
    }

    /// Deregisters and hands back the socket in blocking mode.
    pub(crate) fn into_inner(mut self, set_blocking: impl FnOnce(&S) -> io::Result<()>) -> S {
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
            netpoll::close(self.pd, self.fd);
        }
    }
}

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
