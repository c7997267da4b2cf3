//! UDP: `UdpSocket` over the netpoller (see net/mod.rs).

use super::tcp::std_conversions;
use super::Io;
use crate::netpoll::pd::Dir;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// A UDP socket whose receives (and full-buffer sends) park the calling G (std's API).
///
/// # Examples
///
/// ```
/// use gort::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let baddr = b.local_addr().unwrap();
/// let h = gort::spawn(move || {
///     let mut buf = [0; 16];
///     let (n, _) = b.recv_from(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send_to(b"dgram", baddr).unwrap();
/// assert_eq!(h.join().unwrap(), b"dgram");
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: Io<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.local_addr().unwrap().port() > 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        UdpSocket::from_std(net::UdpSocket::bind(addr)?)
    }

    /// Wraps a std socket (switching it to non-blocking mode and registering it).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let s = gort::net::UdpSocket::from_std(s).unwrap();
    /// # drop(s);
    /// ```
    pub fn from_std(s: net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Ok(UdpSocket { io: Io::new(s)? })
    }

    /// Unwraps into the std socket (blocking again unless `set_nonblocking(true)` was called).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let s: std::net::UdpSocket = s.into_std();
    /// # drop(s);
    /// ```
    pub fn into_std(self) -> net::UdpSocket {
        self.io.into_inner(|s| s.set_nonblocking(false))
    }

    /// Sends one datagram to `addr` (the first address it resolves to).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.send_to(b"x", s.local_addr().unwrap()).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let a = super::resolve(addr)?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.io.io(Dir::Write, |s| s.send_to(buf, a))
    }

    /// Receives one datagram, parking until one arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.send_to(b"me", s.local_addr().unwrap()).unwrap();
    /// let mut b = [0; 4];
    /// let (n, from) = s.recv_from(&mut b).unwrap();
    /// assert_eq!((&b[..n], from), (&b"me"[..], s.local_addr().unwrap()));
    /// ```
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.io(Dir::Read, |s| s.recv_from(buf))
    }

    /// Receives one datagram without consuming it.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.send_to(b"p", s.local_addr().unwrap()).unwrap();
    /// let mut b = [0; 4];
    /// assert_eq!(s.peek_from(&mut b).unwrap().0, 1);
    /// assert_eq!(s.recv_from(&mut b).unwrap().0, 1);
    /// ```
    #[track_caller]
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.io(Dir::Read, |s| s.peek_from(buf))
    }

    /// Sets the default peer for `send`/`recv` (and filters what `recv` receives).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// b.connect(a.local_addr().unwrap()).unwrap();
    /// a.send(b"c").unwrap();
    /// let mut buf = [0; 2];
    /// assert_eq!(b.recv(&mut buf).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        self.io.sock().connect(addr)
    }

    /// Sends to the connected peer.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(a.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.send(b"self").unwrap(), 4);
    /// ```
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(Dir::Write, |s| s.send(buf))
    }

    /// Receives from the connected peer, parking until a datagram arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(a.local_addr().unwrap()).unwrap();
    /// a.send(b"hi").unwrap();
    /// let mut b = [0; 2];
    /// assert_eq!(a.recv(&mut b).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| s.recv(buf))
    }

    /// The bound address.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().local_addr()
    }

    /// The connected peer.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.peer_addr().is_err());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.sock().peer_addr()
    }

    /// A second handle (a dup'd fd with its own registration).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let t = s.try_clone().unwrap();
    /// assert_eq!(s.local_addr().unwrap(), t.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: self.io.clone_with(self.io.sock().try_clone()?)?,
        })
    }

    /// Receives one datagram from the connected peer without consuming it (parks like
    /// `recv`).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.connect(s.local_addr().unwrap()).unwrap();
    /// s.send(b"pk").unwrap();
    /// let mut b = [0; 4];
    /// assert_eq!(s.peek(&mut b).unwrap(), 2);
    /// assert_eq!(s.recv(&mut b).unwrap(), 2); // still there
    /// ```
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(Dir::Read, |s| s.peek(buf))
    }

    /// Sets `IP_TTL` (the time-to-live of unicast datagrams sent).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_ttl(42).unwrap();
    /// assert_eq!(s.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.sock().set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.sock().ttl()
    }

    /// Joins IPv4 multicast group `group` on the interface with address `interface`
    /// (`Ipv4Addr::UNSPECIFIED`: the kernel picks one).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// let s = gort::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// let g = Ipv4Addr::new(239, 255, 0, 17);
    /// if s.join_multicast_v4(&g, &Ipv4Addr::LOCALHOST).is_ok() { // needs a multicast route
    ///     s.leave_multicast_v4(&g, &Ipv4Addr::LOCALHOST).unwrap();
    /// }
    /// ```
    pub fn join_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.io.sock().join_multicast_v4(group, interface)
    }

    /// Leaves an IPv4 multicast group (see [`join_multicast_v4`](Self::join_multicast_v4)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// let s = gort::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// // Leaving a group never joined is an error.
    /// assert!(s.leave_multicast_v4(&Ipv4Addr::new(239, 255, 0, 18), &Ipv4Addr::UNSPECIFIED).is_err());
    /// ```
    pub fn leave_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.io.sock().leave_multicast_v4(group, interface)
    }

    /// Joins IPv6 multicast group `group` on interface index `interface` (0: any).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// if let Ok(s) = gort::net::UdpSocket::bind("[::1]:0") { // IPv6 may be off
    ///     let g = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x123);
    ///     if s.join_multicast_v6(&g, 0).is_ok() {
    ///         s.leave_multicast_v6(&g, 0).unwrap();
    ///     }
    /// }
    /// ```
    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.sock().join_multicast_v6(group, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// if let Ok(s) = gort::net::UdpSocket::bind("[::1]:0") {
    ///     assert!(s.leave_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x124), 0).is_err());
    /// }
    /// ```
    pub fn leave_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.sock().leave_multicast_v6(group, interface)
    }

    /// Sets `IP_MULTICAST_LOOP` (whether our own IPv4 multicast comes back to us).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// s.set_multicast_loop_v4(false).unwrap();
    /// assert!(!s.multicast_loop_v4().unwrap());
    /// ```
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.sock().set_multicast_loop_v4(on)
    }

    /// Reads `IP_MULTICAST_LOOP`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// assert!(s.multicast_loop_v4().unwrap()); // on by default
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.sock().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL` (how many hops IPv4 multicast may go).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// s.set_multicast_ttl_v4(4).unwrap();
    /// assert_eq!(s.multicast_ttl_v4().unwrap(), 4);
    /// ```
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.sock().set_multicast_ttl_v4(ttl)
    }

    /// Reads `IP_MULTICAST_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// assert_eq!(s.multicast_ttl_v4().unwrap(), 1); // the default
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.sock().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Ok(s) = gort::net::UdpSocket::bind("[::1]:0") {
    ///     s.set_multicast_loop_v6(false).unwrap();
    ///     assert!(!s.multicast_loop_v6().unwrap());
    /// }
    /// ```
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.sock().set_multicast_loop_v6(on)
    }

    /// Reads `IPV6_MULTICAST_LOOP`.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Ok(s) = gort::net::UdpSocket::bind("[::1]:0") {
    ///     assert!(s.multicast_loop_v6().unwrap());
    /// }
    /// ```
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.sock().multicast_loop_v6()
    }

    /// A timeout for each receive that has to wait (`TimedOut`; see net/mod.rs).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// assert_eq!(s.recv(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.io.set_timeout(Dir::Read, d)
    }

    /// A timeout for each send that has to wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
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
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
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
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.io.timeout(Dir::Write))
    }

    /// With `true`, operations return `WouldBlock` instead of parking.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_nonblocking(true).unwrap();
    /// assert_eq!(s.recv(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        self.io.set_nonblocking(nb);
        Ok(())
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_broadcast(true).unwrap();
    /// assert!(s.broadcast().unwrap());
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.sock().set_broadcast(on)
    }

    /// Reads `SO_BROADCAST`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(!s.broadcast().unwrap());
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.sock().broadcast()
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.sock().take_error()
    }

    /// Closes the socket for every user at once: parked Gs wake with `NotConnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.close();
    /// assert_eq!(s.recv(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// ```
    pub fn close(&self) {
        self.io.close();
    }
}

std_conversions!(UdpSocket, net::UdpSocket);
