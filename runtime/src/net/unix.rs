//! Unix domain sockets: `UnixListener`, `UnixStream` and `UnixDatagram` over the netpoller
//! (see net/mod.rs).

use super::tcp::std_conversions;
use super::{read_via_io, write_via_io, Io};
use crate::netpoll::pd::Dir;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// A Unix listening socket whose `accept` parks the calling G.
///
/// # Examples
///
/// ```
/// use gort::net::{UnixListener, UnixStream};
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("gort-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let l = UnixListener::bind(&path).unwrap();
/// let h = gort::spawn(move || {
///     let (mut s, _) = l.accept().unwrap();
///     s.write_all(b"hi").unwrap();
/// });
/// let mut c = UnixStream::connect(&path).unwrap();
/// let mut b = [0; 2];
/// c.read_exact(&mut b).unwrap();
/// assert_eq!(&b, b"hi");
/// h.join().unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
pub struct UnixListener {
    io: Io<net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens with Go's backlog
    /// ([`listen_backlog`](super::listen_backlog)).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-b{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// assert!(l.local_addr().unwrap().as_pathname().is_some());
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let l = net::UnixListener::bind(path)?;
        super::set_backlog(&l)?;
        UnixListener::from_std(l)
    }

    /// Wraps a std listener.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-f{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
    /// let l = gort::net::UnixListener::from_std(l).unwrap();
    /// # drop(l);
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn from_std(l: net::UnixListener) -> io::Result<UnixListener> {
        l.set_nonblocking(true)?;
        Ok(UnixListener { io: Io::new(l)? })
    }

    /// Unwraps into the std listener (blocking again).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-i{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// let _l: std::os::unix::net::UnixListener = l.into_std();
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn into_std(self) -> net::UnixListener {
        self.io.into_inner(|s| s.set_nonblocking(false))
    }

    /// Accepts a connection, parking the G until one arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-a{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// let _c = std::os::unix::net::UnixStream::connect(&p).unwrap();
    /// let (_s, _addr) = l.accept().unwrap();
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.io.io(Dir::Read, |l| l.accept())?;
        Ok((UnixStream::from_std(s)?, a))
    }

    /// An endless iterator of `accept` results.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-n{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// let _c = std::os::unix::net::UnixStream::connect(&p).unwrap();
    /// assert!(l.incoming().next().unwrap().is_ok());
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { l: self }
    }

    /// The bound address.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-l{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// assert_eq!(l.local_addr().unwrap().as_pathname(), Some(p.as_path()));
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().local_addr()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-w{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// l.set_nonblocking(true).unwrap();
    /// assert_eq!(l.accept().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        self.io.set_nonblocking(nb);
        Ok(())
    }

    /// Closes the listener for every user at once: Gs parked in `accept` wake with
    /// `NotConnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-c{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// l.close();
    /// assert_eq!(l.accept().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn close(&self) {
        self.io.close();
    }

    /// A second handle to the same listening socket (a dup'd fd with its own registration;
    /// closing either closes both).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-tc{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// let _c = std::os::unix::net::UnixStream::connect(&p).unwrap();
    /// assert!(l2.accept().is_ok()); // either handle accepts
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: self.io.clone_with(self.io.sock().try_clone()?)?,
        })
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-te{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = gort::net::UnixListener::bind(&p).unwrap();
    /// assert!(l.take_error().unwrap().is_none());
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.sock().take_error()
    }
}

/// The iterator from [`UnixListener::incoming`]; never ends.
///
/// # Examples
///
/// ```
/// let p = std::env::temp_dir().join(format!("gort-doc-x{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&p);
/// let l = gort::net::UnixListener::bind(&p).unwrap();
/// let _it: gort::net::UnixIncoming<'_> = l.incoming();
/// std::fs::remove_file(&p).unwrap();
/// ```
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    l: &'a UnixListener,
}

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.l.accept().map(|(s, _)| s))
    }
}

/// A Unix stream socket whose reads and writes park the calling G; `Read`/`Write` also for
/// `&UnixStream`.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// let (mut a, mut b) = gort::net::UnixStream::pair().unwrap();
/// let h = gort::spawn(move || {
///     let mut buf = [0; 3];
///     b.read_exact(&mut buf).unwrap();
///     buf
/// });
/// a.write_all(b"abc").unwrap();
/// assert_eq!(&h.join().unwrap(), b"abc");
/// ```
#[derive(Debug)]
pub struct UnixStream {
    io: Io<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`. A full backlog (`EAGAIN` on a non-blocking Unix
    /// connect) is retried after a 1 ms `gort::sleep`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-k{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let _l = std::os::unix::net::UnixListener::bind(&p).unwrap();
    /// let s = gort::net::UnixStream::connect(&p).unwrap();
    /// assert!(s.peer_addr().unwrap().as_pathname().is_some());
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    #[track_caller]
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let m = loop {
            match mio::net::UnixStream::connect(path.as_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    crate::timer::sleep(Duration::from_millis(1))
                }
                r => break r?,
            }
        };
        let s = UnixStream {
            io: Io::new(net::UnixStream::from(OwnedFd::from(m)))?,
        };
        loop {
            s.io.wait(Dir::Write, None)?;
            if let Some(e) = s.io.sock().take_error()? {
                return Err(e);
            }
            match s.io.sock().peer_addr() {
                Ok(_) => return Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// An unnamed connected pair.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = gort::net::UnixStream::pair().unwrap();
    /// # drop((a, b));
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a std stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let a = gort::net::UnixStream::from_std(a).unwrap();
    /// # drop(a);
    /// ```
    pub fn from_std(s: net::UnixStream) -> io::Result<UnixStream> {
        s.set_nonblocking(true)?;
        Ok(UnixStream { io: Io::new(s)? })
    }

    /// Unwraps into the std stream (blocking again).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// let _a: std::os::unix::net::UnixStream = a.into_std();
    /// ```
    pub fn into_std(self) -> net::UnixStream {
        self.io.into_inner(|s| s.set_nonblocking(false))
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().local_addr()
    }

    /// The peer's address.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().peer_addr()
    }

    /// Shuts down one or both halves.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// let (mut a, b) = gort::net::UnixStream::pair().unwrap();
    /// b.shutdown(std::net::Shutdown::Write).unwrap();
    /// assert_eq!(a.read(&mut [0; 1]).unwrap(), 0);
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.sock().shutdown(how)
    }

    /// A second handle (a dup'd fd with its own registration).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// let _a2 = a.try_clone().unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: self.io.clone_with(self.io.sock().try_clone()?)?,
        })
    }

    /// A timeout for each read that has to wait (`TimedOut`; see net/mod.rs).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let (mut a, _b) = gort::net::UnixStream::pair().unwrap();
    /// a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// assert_eq!(a.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Dir::Read, d)
    }

    /// A timeout for each write that has to wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// a.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), Some(Duration::from_secs(2)));
    /// ```
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Dir::Write, d)
    }

    /// The read timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert_eq!(a.read_timeout().unwrap(), None);
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.io.timeout(Dir::Read))
    }

    /// The write timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.io.timeout(Dir::Write))
    }

    /// With `true`, operations return `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// let (mut a, _b) = gort::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// assert_eq!(a.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        self.io.set_nonblocking(nb);
        Ok(())
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert!(a.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.sock().take_error()
    }

    /// Closes the stream for every user at once: parked Gs wake with `NotConnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// a.close();
    /// assert_eq!((&a).read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// ```
    pub fn close(&self) {
        self.io.close();
    }
}

read_via_io!(UnixStream);
write_via_io!(UnixStream);

/// A Unix datagram socket whose receives (and full-buffer sends) park the calling G (std's
/// `UnixDatagram` API).
///
/// # Examples
///
/// ```
/// let (a, b) = gort::net::UnixDatagram::pair().unwrap();
/// let h = gort::spawn(move || {
///     let mut buf = [0; 16];
///     let n = b.recv(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send(b"dgram").unwrap();
/// assert_eq!(h.join().unwrap(), b"dgram");
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    io: Io<net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to `path`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-db{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let s = gort::net::UnixDatagram::bind(&p).unwrap();
    /// assert_eq!(s.local_addr().unwrap().as_pathname(), Some(p.as_path()));
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address (it can send, and receive replies once connected).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UnixDatagram::unbound().unwrap();
    /// assert!(s.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(net::UnixDatagram::unbound()?)
    }

    /// An unnamed connected pair.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = gort::net::UnixDatagram::pair().unwrap();
    /// a.send(b"1").unwrap();
    /// assert_eq!(b.recv(&mut [0; 4]).unwrap(), 1);
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a std socket (switching it to non-blocking mode and registering it).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
    /// let s = gort::net::UnixDatagram::from_std(s).unwrap();
    /// # drop(s);
    /// ```
    pub fn from_std(s: net::UnixDatagram) -> io::Result<UnixDatagram> {
        s.set_nonblocking(true)?;
        Ok(UnixDatagram { io: Io::new(s)? })
    }

    /// Unwraps into the std socket (blocking again unless `set_nonblocking(true)` was called).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UnixDatagram::unbound().unwrap();
    /// let _s: std::os::unix::net::UnixDatagram = s.into_std();
    /// ```
    pub fn into_std(self) -> net::UnixDatagram {
        self.io.into_inner(|s| s.set_nonblocking(false))
    }

    /// Sets the default peer for `send` and filters what `recv` receives.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-dc{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let server = gort::net::UnixDatagram::bind(&p).unwrap();
    /// let client = gort::net::UnixDatagram::unbound().unwrap();
    /// client.connect(&p).unwrap();
    /// client.send(b"hi").unwrap();
    /// assert_eq!(server.recv(&mut [0; 4]).unwrap(), 2);
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    #[track_caller]
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.sock().connect(path)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// assert_eq!(a.send(b"abc").unwrap(), 3);
    /// ```
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(Dir::Write, |s| s.send(buf))
    }

    /// Sends one datagram to the socket at `path`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gort-doc-ds{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let server = gort::net::UnixDatagram::bind(&p).unwrap();
    /// gort::net::UnixDatagram::unbound().unwrap().send_to(b"x", &p).unwrap();
    /// assert_eq!(server.recv(&mut [0; 4]).unwrap(), 1);
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    #[track_caller]
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.io(Dir::Write, |s| s.send_to(buf, path))
    }

    /// Receives one datagram, parking until one arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = gort::net::UnixDatagram::pair().unwrap();
    /// gort::spawn(move || a.send(b"late").unwrap());
    /// let mut buf = [0; 8];
    /// let n = b.recv(&mut buf).unwrap();
    /// assert_eq!(&buf[..n], b"late");
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| s.recv(buf))
    }

    /// Receives one datagram and its sender's address, parking until one arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = gort::net::UnixDatagram::pair().unwrap();
    /// a.send(b"q").unwrap();
    /// let (n, from) = b.recv_from(&mut [0; 4]).unwrap();
    /// assert_eq!(n, 1);
    /// assert!(from.is_unnamed());
    /// ```
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.io(Dir::Read, |s| s.recv_from(buf))
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().peer_addr()
    }

    /// A second handle to the same socket (closing either closes both).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = gort::net::UnixDatagram::pair().unwrap();
    /// let a2 = a.try_clone().unwrap();
    /// a2.send(b"c").unwrap();
    /// assert_eq!(b.recv(&mut [0; 2]).unwrap(), 1);
    /// # drop(a);
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: self.io.clone_with(self.io.sock().try_clone()?)?,
        })
    }

    /// A timeout for each receive that has to wait (`TimedOut` when it passes; see net's
    /// module docs). `Some(0)` is an `InvalidInput` error, as in std.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// a.set_read_timeout(Some(std::time::Duration::from_millis(5))).unwrap();
    /// assert_eq!(a.recv(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Dir::Read, d)
    }

    /// A timeout for each send that has to wait.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// a.set_write_timeout(Some(std::time::Duration::from_secs(1))).unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), Some(std::time::Duration::from_secs(1)));
    /// ```
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Dir::Write, d)
    }

    /// The receive timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// assert_eq!(a.read_timeout().unwrap(), None);
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.io.timeout(Dir::Read))
    }

    /// The send timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.io.timeout(Dir::Write))
    }

    /// With `true`, receives and sends return `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// assert_eq!(a.recv(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        self.io.set_nonblocking(nb);
        Ok(())
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// assert!(a.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.sock().take_error()
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// a.shutdown(std::net::Shutdown::Write).unwrap();
    /// assert!(a.send(b"x").is_err());
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.sock().shutdown(how)
    }

    /// Closes the socket for every user at once (and its clones): Gs parked on it wake with
    /// `NotConnected`, and so do later calls. The fd is released on drop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let (a, _b) = gort::net::UnixDatagram::pair().unwrap();
    /// let a = Arc::new(a);
    /// let a2 = a.clone();
    /// let h = gort::spawn(move || a2.recv(&mut [0; 1]));
    /// gort::sleep(std::time::Duration::from_millis(10));
    /// a.close();
    /// assert_eq!(h.join().unwrap().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// ```
    pub fn close(&self) {
        self.io.close();
    }
}

std_conversions!(UnixListener, net::UnixListener);
std_conversions!(UnixStream, net::UnixStream);
std_conversions!(UnixDatagram, net::UnixDatagram);
