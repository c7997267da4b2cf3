//! TCP: `TcpListener` and `TcpStream` over the netpoller (see net/mod.rs).

use super::{each_addr, Io};
use crate::netpoll::pd::Dir;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
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

    /// A second handle to the same socket (a dup'd fd with its own registration).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// assert_eq!(l.local_addr().unwrap(), l2.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        TcpListener::from_std(self.io.sock().try_clone()?)
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
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_deadline(*addr, Some(crate::timer::deadline_after(timeout)))
    }

    fn connect_deadline(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        // mio creates the socket non-blocking and starts the connect (EINPROGRESS is Ok).
        let m = mio::net::TcpStream::connect(addr)?;
        let s = net::TcpStream::from(OwnedFd::from(m));
        let s = TcpStream { io: Io::new(s)? };
        loop {
            s.io.wait(Dir::Write, deadline)?;
            if let Some(e) = s.io.sock().take_error()? {
                return Err(e);
            }
            match s.io.sock().peer_addr() {
                Ok(_) => return Ok(s),
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

    /// A second handle to the same connection (a dup'd fd with its own registration).
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
        let s = TcpStream::from_std(self.io.sock().try_clone()?)?;
        s.io.set_nonblocking(
            self.io
                .nonblocking
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        Ok(s)
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

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |mut s| s.read(buf))
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.io.io(Dir::Read, |mut s| s.read_vectored(bufs))
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(Dir::Write, |mut s| s.write(buf))
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.io.io(Dir::Write, |mut s| s.write_vectored(bufs))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
