//! TCP: `TcpListener` and `TcpStream` over the netpoller (see net/mod.rs).

use super::{each_addr, read_via_io, write_via_io, Io};
use crate::context::Context;
use crate::loom::unmodelled::Mutex;
use crate::netpoll::pd::Dir;
use std::io;
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A TCP listening socket whose `accept` parks the calling G (std's `TcpListener` API).
///
/// # Examples
///
/// ```
/// use gort::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// let srv = gort::spawn(move || {
///     let (mut s, _) = l.accept().unwrap();
///     let mut b = [0; 5];
///     s.read_exact(&mut b).unwrap();
///     s.write_all(&b).unwrap();
/// });
/// let mut c = TcpStream::connect(addr).unwrap();
/// c.write_all(b"hello").unwrap();
/// let mut b = [0; 5];
/// c.read_exact(&mut b).unwrap();
/// assert_eq!(&b, b"hello");
/// srv.join().unwrap();
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: Io<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens with Go's backlog: std's `bind` (`SO_REUSEADDR` on Unix),
    /// then the accept queue sized by [`listen_backlog`](super::listen_backlog)
    /// (`/proc/sys/net/core/somaxconn` on Linux) instead of std's 128. Host names resolve
    /// inside `gort::blocking`; each address is tried in turn, as std does.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.local_addr().unwrap().port() > 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let l = each_addr(addr, net::TcpListener::bind)?;
        super::set_backlog(&l)?;
        TcpListener::from_std(l)
    }

    /// Wraps a std listener (switching it to non-blocking mode and registering it).
    ///
    /// # Examples
    ///
    /// ```
    /// let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l = gort::net::TcpListener::from_std(std_l).unwrap();
    /// # drop(l);
    /// ```
    pub fn from_std(l: net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener { io: Io::new(l)? })
    }

    /// Unwraps into the std listener (blocking again unless `set_nonblocking(true)` was called).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std_l: std::net::TcpListener = l.into_std();
    /// # drop(std_l);
    /// ```
    pub fn into_std(self) -> net::TcpListener {
        self.io.into_inner(|s| s.set_nonblocking(false))
    }

    /// Accepts a connection, parking the G until one arrives. Resource errors such as `EMFILE`
    /// are returned as they are (see the module docs on backing off).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let a = l.local_addr().unwrap();
    /// let c = std::thread::spawn(move || std::net::TcpStream::connect(a).unwrap());
    /// let (_s, peer) = l.accept().unwrap();
    /// assert_eq!(peer, c.join().unwrap().local_addr().unwrap());
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, a) = self.io.io(Dir::Read, |l| l.accept())?;
        Ok((TcpStream::from_std(s)?, a))
    }

    /// An endless iterator of `accept` results.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let a = l.local_addr().unwrap();
    /// std::thread::spawn(move || std::net::TcpStream::connect(a).unwrap());
    /// let s = l.incoming().next().unwrap().unwrap();
    /// # drop(s);
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { l: self }
    }

    /// The bound address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().local_addr()
    }

    /// A second handle to the same socket (a dup'd fd with its own registration; closing
    /// either closes both).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// assert_eq!(l.local_addr().unwrap(), l2.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: self.io.clone_with(self.io.sock().try_clone()?)?,
        })
    }

    /// With `true`, `accept` returns `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_nonblocking(true).unwrap();
    /// assert_eq!(l.accept().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        self.io.set_nonblocking(nb);
        Ok(())
    }

    /// Sets `IP_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_ttl(64).unwrap();
    /// assert_eq!(l.ttl().unwrap(), 64);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.sock().set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.sock().ttl()
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.sock().take_error()
    }

    /// Closes the listener for every user at once (Go's `Listener.Close`): Gs parked in
    /// `accept` wake with `NotConnected`, and so do later calls. The fd is released on drop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let l = Arc::new(gort::net::TcpListener::bind("127.0.0.1:0").unwrap());
    /// let l2 = l.clone();
    /// let h = gort::spawn(move || l2.accept().map(|_| ()));
    /// gort::sleep(std::time::Duration::from_millis(10));
    /// l.close();
    /// assert_eq!(h.join().unwrap().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// ```
    pub fn close(&self) {
        self.io.close();
    }
}

/// The iterator from [`TcpListener::incoming`]; never ends.
///
/// # Examples
///
/// ```
/// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let _it: gort::net::Incoming<'_> = l.incoming();
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    l: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.l.accept().map(|(s, _)| s))
    }
}

/// A TCP connection whose reads and writes park the calling G (std's `TcpStream` API).
/// `Read` and `Write` are implemented for `&TcpStream` too, so one G can read while another
/// writes.
///
/// # Examples
///
/// ```
/// use gort::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
/// use std::sync::Arc;
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let a = l.local_addr().unwrap();
/// gort::spawn(move || {
///     let (mut s, _) = l.accept().unwrap();
///     std::io::copy(&mut s.try_clone().unwrap(), &mut s).unwrap(); // echo
/// });
/// let c = Arc::new(TcpStream::connect(a).unwrap());
/// let c2 = c.clone();
/// let w = gort::spawn(move || (&*c2).write_all(b"ping").unwrap());
/// let mut b = [0; 4];
/// (&*c).read_exact(&mut b).unwrap();
/// assert_eq!(&b, b"ping");
/// w.join().unwrap();
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: Io<net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn; the G parks while the
    /// connection is in progress. Host names resolve through std (blocking: see net/mod.rs).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    #[track_caller]
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_deadline(a, None))
    }

    /// Connects with a timeout (`TimedOut` when it passes). std's rule: a zero timeout is an
    /// `InvalidInput` error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let a = l.local_addr().unwrap();
    /// let s = gort::net::TcpStream::connect_timeout(&a, Duration::from_secs(5)).unwrap();
    /// # drop(s);
    /// ```
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_deadline(*addr, Some(crate::timer::deadline_after(timeout)))
    }

    /// Connects like [`connect`](Self::connect), giving up when `ctx` ends (Go's
    /// `Dialer.DialContext`): the context's deadline bounds the wait, and a cancel interrupts
    /// it within one scheduling round. A context that ends while the connection completes
    /// still fails the call (the socket is closed), as in Go. The error of an ended context is
    /// `io::Error::from(ctx error)`: `TimedOut` for a deadline, `Other` for a cancel, with the
    /// [`context::Error`](crate::context::Error) inside.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::context;
    /// use gort::net::TcpStream;
    /// use std::time::Duration;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_secs(5));
    /// let s = TcpStream::connect_ctx(&ctx, l.local_addr().unwrap()).unwrap();
    /// # drop(s);
    /// let (done, cancel) = context::with_cancel(&context::background());
    /// cancel.cancel();
    /// let e = TcpStream::connect_ctx(&done, l.local_addr().unwrap()).unwrap_err();
    /// assert_eq!(e.get_ref().unwrap().downcast_ref(), Some(&context::Canceled));
    /// ```
    #[track_caller]
    pub fn connect_ctx<A: ToSocketAddrs>(ctx: &Context, addr: A) -> io::Result<TcpStream> {
        if let Some(e) = ctx.err() {
            return Err(e.into());
        }
        each_addr(addr, |a| TcpStream::connect_ctx_one(a, ctx))
    }

    #[track_caller]
    fn connect_ctx_one(addr: SocketAddr, ctx: &Context) -> io::Result<TcpStream> {
        if let Some(e) = ctx.err() {
            return Err(e.into());
        }
        let s = TcpStream::start_connect(addr)?;
        // The cancel hook shuts the poll descriptor (as `close(&self)` does), which ends the
        // wait; under `gate` so that it cannot touch the fd once we have finished with it.
        #[derive(Default)]
        struct Gate {
            finished: bool,
            interrupted: bool,
        }
        let gate = Arc::new(Mutex::new(Gate::default()));
        let (g2, pd, fd) = (gate.clone(), s.io.pd, s.io.fd);
        let hook = ctx.on_done(move |_| {
            let mut g = g2.lock();
            if !g.finished {
                g.interrupted = true;
                crate::netpoll::shutdown(pd, fd);
            }
        });
        let deadline = ctx.deadline();
        let r = s.finish_connect(deadline);
        let interrupted = {
            let mut g = gate.lock();
            g.finished = true;
            g.interrupted
        };
        crate::context::remove_hook(hook);
        match (r, ctx.err()) {
            (Ok(()), _) if !interrupted => Ok(s),
            (_, Some(e)) => Err(e.into()),
            // The deadline is the context's: report it as such.
            (Err(_), None) if deadline.is_some_and(|d| crate::timer::now() >= d) => {
                Err(crate::context::DeadlineExceeded.into())
            }
            (r, None) => r.map(|()| s),
        }
    }

    #[track_caller]
    fn connect_deadline(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let s = TcpStream::start_connect(addr)?;
        s.finish_connect(deadline)?;
        Ok(s)
    }

    /// Creates the socket and starts the connect (mio: non-blocking, EINPROGRESS is Ok).
    fn start_connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let m = mio::net::TcpStream::connect(addr)?;
        let s = net::TcpStream::from(OwnedFd::from(m));
        Ok(TcpStream { io: Io::new(s)? })
    }

    /// Waits for the connect started by `start_connect` to complete, until `deadline`.
    fn finish_connect(&self, deadline: Option<Instant>) -> io::Result<()> {
        loop {
            self.io.wait(Dir::Write, deadline)?;
            if let Some(e) = self.io.sock().take_error()? {
                return Err(e);
            }
            match self.io.sock().peer_addr() {
                Ok(_) => return Ok(()),
                // A spurious edge: still connecting.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Wraps a connected std stream (switching it to non-blocking mode and registering it).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std_s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let s = gort::net::TcpStream::from_std(std_s).unwrap();
    /// # drop(s);
    /// ```
    pub fn from_std(s: net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        Ok(TcpStream { io: Io::new(s)? })
    }

    /// Unwraps into the std stream (blocking again unless `set_nonblocking(true)` was called).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let std_s: std::net::TcpStream = s.into_std();
    /// # drop(std_s);
    /// ```
    pub fn into_std(self) -> net::TcpStream {
        self.io.into_inner(|s| s.set_nonblocking(false))
    }

    /// The remote address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().peer_addr()
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().local_addr()
    }

    /// Shuts down the read half, the write half, or both (the peer sees EOF on a write
    /// shutdown; a G parked in `read` on this stream wakes with `Ok(0)` on a read shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.shutdown(std::net::Shutdown::Read).unwrap();
    /// assert_eq!(s.read(&mut [0; 8]).unwrap(), 0);
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.sock().shutdown(how)
    }

    /// A second handle to the same connection (a dup'd fd with its own registration). The
    /// clones form one close group: [`close`](Self::close) on any of them wakes the Gs parked
    /// on every one (Go's single `Conn`).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let s2 = s.try_clone().unwrap();
    /// assert_eq!(s.local_addr().unwrap(), s2.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: self.io.clone_with(self.io.sock().try_clone()?)?,
        })
    }

    /// Splits the stream into an owned read half and an owned write half, to use from two Gs
    /// (tokio's `into_split`). Dropping the write half shuts down the write direction (the peer
    /// reads EOF), as tokio does; [`OwnedReadHalf::reunite`] puts them back together.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::net::{TcpListener, TcpStream};
    /// use std::io::{Read, Write};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let a = l.local_addr().unwrap();
    /// gort::spawn(move || {
    ///     let (s, _) = l.accept().unwrap();
    ///     let (mut r, mut w) = s.into_split();
    ///     std::io::copy(&mut r, &mut w).unwrap(); // echo until EOF
    /// });
    /// let (mut r, mut w) = TcpStream::connect(a).unwrap().into_split();
    /// let writer = gort::spawn(move || w.write_all(b"split").unwrap()); // then drops: EOF
    /// let mut got = String::new();
    /// r.read_to_string(&mut got).unwrap();
    /// assert_eq!(got, "split");
    /// writer.join().unwrap();
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let s = Arc::new(self);
        (
            OwnedReadHalf { s: s.clone() },
            OwnedWriteHalf {
                s,
                shutdown_on_drop: true,
            },
        )
    }

    /// Sets the read and write deadlines (Go's `SetDeadline`): past `when`, reads and writes
    /// fail with `TimedOut` instead of waiting, and keep failing until the deadline is moved
    /// or cleared (`None`). Gs parked on the stream re-evaluate it at once: a deadline now
    /// interrupts them. See the module docs on why `TimedOut` and not `WouldBlock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::{Duration, Instant};
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_deadline(Some(Instant::now() + Duration::from_millis(5))).unwrap();
    /// assert_eq!(s.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// assert_eq!(s.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// s.set_deadline(None).unwrap();
    /// ```
    pub fn set_deadline(&self, when: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Dir::Read, when);
        self.io.set_deadline(Dir::Write, when);
        Ok(())
    }

    /// Sets the read deadline only (Go's `SetReadDeadline`); see
    /// [`set_deadline`](Self::set_deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::sync::Arc;
    /// use std::time::Instant;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = Arc::new(gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap());
    /// let s2 = s.clone();
    /// let reader = gort::spawn(move || (&*s2).read(&mut [0; 1]));
    /// gort::sleep(std::time::Duration::from_millis(10));
    /// s.set_read_deadline(Some(Instant::now())).unwrap(); // interrupts the parked read
    /// assert_eq!(reader.join().unwrap().unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_deadline(&self, when: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Dir::Read, when);
        Ok(())
    }

    /// Sets the write deadline only (Go's `SetWriteDeadline`); see
    /// [`set_deadline`](Self::set_deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Instant;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_write_deadline(Some(Instant::now())).unwrap();
    /// assert_eq!(s.write(b"x").unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_write_deadline(&self, when: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Dir::Write, when);
        Ok(())
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_nodelay(true).unwrap();
    /// assert!(s.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.io.sock().set_nodelay(on)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(!s.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.sock().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_ttl(32).unwrap();
    /// assert_eq!(s.ttl().unwrap(), 32);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.sock().set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(s.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.sock().ttl()
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(s.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.sock().take_error()
    }

    /// A timeout for each read that has to wait: it then fails with `TimedOut` (on every
    /// platform; std gives `WouldBlock` on Unix) and the stream stays usable. `Some(0)` is an
    /// `InvalidInput` error, as in std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// assert_eq!(s.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Dir::Read, d)
    }

    /// As [`set_read_timeout`](Self::set_read_timeout), for writes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Dir::Write, d)
    }

    /// The read timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.read_timeout().unwrap(), None);
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.io.timeout(Dir::Read))
    }

    /// The write timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.io.timeout(Dir::Write))
    }

    /// With `true`, reads and writes return `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_nonblocking(true).unwrap();
    /// assert_eq!(s.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        self.io.set_nonblocking(nb);
        Ok(())
    }

    /// Reads without consuming (parks like `read`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// l.accept().unwrap().0.write_all(b"x").unwrap();
    /// let mut b = [0; 1];
    /// assert_eq!(s.peek(&mut b).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| s.peek(buf))
    }

    /// Closes the connection for every user at once (Go's `Conn.Close`): Gs parked on it wake
    /// with `NotConnected`, and so do later calls. The fd is released on drop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::sync::Arc;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = Arc::new(gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap());
    /// let s2 = s.clone();
    /// let h = gort::spawn(move || (&*s2).read(&mut [0; 1]));
    /// gort::sleep(std::time::Duration::from_millis(10));
    /// s.close();
    /// assert_eq!(h.join().unwrap().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// ```
    pub fn close(&self) {
        self.io.close();
    }
}

read_via_io!(TcpStream);
write_via_io!(TcpStream);

/// The read half of a [`TcpStream`], from [`TcpStream::into_split`]; `Read` parks the G.
///
/// # Examples
///
/// ```
/// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let (r, _w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
/// assert_eq!(r.peer_addr().unwrap(), l.local_addr().unwrap());
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf {
    s: Arc<TcpStream>,
}

/// The write half of a [`TcpStream`], from [`TcpStream::into_split`]; `Write` parks the G.
/// Dropping it shuts down the stream's write direction.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let (_r, mut w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
/// w.write_all(b"hi").unwrap();
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    s: Arc<TcpStream>,
    shutdown_on_drop: bool,
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams; here they are
/// back.
///
/// # Examples
///
/// ```
/// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let a = l.local_addr().unwrap();
/// let (r1, _w1) = gort::net::TcpStream::connect(a).unwrap().into_split();
/// let (_r2, w2) = gort::net::TcpStream::connect(a).unwrap().into_split();
/// let err = r1.reunite(w2).unwrap_err();
/// let (_r1, _w2) = (err.0, err.1);
/// ```
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl std::fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl std::error::Error for ReuniteError {}

impl OwnedReadHalf {
    /// Puts the halves back into the stream; fails (returning them) if `w` came from another
    /// stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (r, w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// let s = r.reunite(w).unwrap();
    /// assert!(s.peer_addr().is_ok());
    /// ```
    pub fn reunite(self, mut w: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Arc::ptr_eq(&self.s, &w.s) {
            return Err(ReuniteError(self, w));
        }
        w.shutdown_on_drop = false;
        let s = w.s.clone();
        drop(w);
        drop(self);
        Ok(Arc::try_unwrap(s).expect("both halves were given back"))
    }

    /// Reads without consuming (parks like `read`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (r, _w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// l.accept().unwrap().0.write_all(b"x").unwrap();
    /// assert_eq!(r.peek(&mut [0; 1]).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.s.peek(buf)
    }

    /// The remote address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (r, _w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// assert_eq!(r.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.s.peer_addr()
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (r, _w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// assert!(r.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.s.local_addr()
    }

    /// The read deadline (Go's `SetReadDeadline`; see [`TcpStream::set_deadline`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (mut r, _w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// r.set_read_deadline(Some(std::time::Instant::now())).unwrap();
    /// assert_eq!(r.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_deadline(&self, when: Option<Instant>) -> io::Result<()> {
        self.s.set_read_deadline(when)
    }
}

impl OwnedWriteHalf {
    /// Shuts down the write direction now (the peer reads EOF).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (_r, w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// w.shutdown().unwrap();
    /// ```
    pub fn shutdown(&self) -> io::Result<()> {
        self.s.shutdown(Shutdown::Write)
    }

    /// The remote address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (_r, w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// assert_eq!(w.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.s.peer_addr()
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (_r, w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// assert!(w.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.s.local_addr()
    }

    /// The write deadline (Go's `SetWriteDeadline`; see [`TcpStream::set_deadline`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let (_r, mut w) = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap().into_split();
    /// w.set_write_deadline(Some(std::time::Instant::now())).unwrap();
    /// assert_eq!(w.write(b"x").unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_write_deadline(&self, when: Option<Instant>) -> io::Result<()> {
        self.s.set_write_deadline(when)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.s.shutdown(Shutdown::Write);
        }
    }
}

impl io::Read for OwnedReadHalf {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self.s, buf)
    }
    #[track_caller]
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        io::Read::read_vectored(&mut &*self.s, bufs)
    }
}

impl io::Write for OwnedWriteHalf {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self.s, buf)
    }
    #[track_caller]
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        io::Write::write_vectored(&mut &*self.s, bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for OwnedReadHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.s.as_raw_fd()
    }
}

impl AsRawFd for OwnedWriteHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.s.as_raw_fd()
    }
}

macro_rules! std_conversions {
    ($ours:ty, $std:ty) => {
        impl TryFrom<$std> for $ours {
            type Error = io::Error;
            /// Same as `from_std`.
            fn try_from(s: $std) -> io::Result<$ours> {
                <$ours>::from_std(s)
            }
        }
        impl From<$ours> for $std {
            /// Same as `into_std`.
            fn from(s: $ours) -> $std {
                s.into_std()
            }
        }
        impl AsRawFd for $ours {
            fn as_raw_fd(&self) -> RawFd {
                self.io.sock().as_raw_fd()
            }
        }
        impl AsFd for $ours {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.sock().as_fd()
            }
        }
    };
}
pub(crate) use std_conversions;

std_conversions!(TcpListener, net::TcpListener);
std_conversions!(TcpStream, net::TcpStream);
