//! Sockets, the rest (issue 17): owned halves, deadlines, close across clones, UnixDatagram,
//! UdpSocket options, UnixListener::try_clone.

mod common;

use gort::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener};
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

// `into_split` halves used from two Gs at once: one G streams 1 MiB out through the write half
// while another reads the echo through the read half (the peer echoes), so both park in turn.
#[test]
fn into_split_halves_from_two_gs() {
    let (c, s) = pair();
    let echo = gort::spawn(move || {
        let (mut r, mut w) = s.into_split();
        std::io::copy(&mut r, &mut w).unwrap();
    });
    let (mut r, mut w) = c.into_split();
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let expect = data.clone();
    let writer = gort::spawn(move || {
        w.write_all(&data).unwrap();
        // Dropping the write half shuts down our side: the echo ends, and so does our read.
    });
    let reader = gort::spawn(move || {
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        got
    });
    writer.join().unwrap();
    assert!(reader.join().unwrap() == expect, "echoed data differs");
    echo.join().unwrap();
}

// A short read makes the next read wait for readiness before its call (net/mod.rs, "Short
// reads"), but an end of stream queued behind the data raises no further edge. Here the reader
// is parked when the peer sends a few bytes and shuts down at once, so one poller event often
// carries both, and the wait that wakes the reader consumes it: the read returns the bytes (a
// short read) and the next one must still see the end of stream instead of waiting for an
// edge that never comes (a read timeout turns such a hang into a failure).
#[test]
fn end_of_stream_behind_a_short_read_is_seen() {
    for round in 0..200 {
        let (c, s) = pair();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let reader = gort::spawn(move || {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return Ok(got),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => return Err(e),
                }
            }
        });
        // Give the reader time to park in its first read.
        std::thread::sleep(Duration::from_micros(200));
        (&c).write_all(b"last words").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        match reader.join().unwrap() {
            Ok(got) => assert_eq!(got, b"last words", "round {round}"),
            Err(e) => panic!("round {round}: the end of stream was missed: {e}"),
        }
    }
}

#[test]
fn reunite_only_matching_halves() {
    let (a, _pa) = pair();
    let (b, _pb) = pair();
    let (ar, aw) = a.into_split();
    let (br, bw) = b.into_split();
    let e = ar.reunite(bw).unwrap_err();
    assert!(e.to_string().contains("not from the same socket"));
    let a = e.0.reunite(aw).unwrap();
    let b = br.reunite(e.1).unwrap();
    assert_ne!(a.local_addr().unwrap(), b.local_addr().unwrap());
}

// The test: `close` on one handle wakes a G reading on a `try_clone` of it within one
// scheduling round. On one P: the closer readies the reader, then yields once; the reader runs
// before the closer is back (it was readied onto the P's queue, the yield goes to the global
// queue), so it has finished when the closer looks.
child_test!(fn close_wakes_a_clones_reader_within_one_round() ["GORT_MAXPROCS" => "1"] {
    let (c, _peer) = pair();
    let clone = c.try_clone().unwrap();
    let woke = Arc::new(AtomicBool::new(false));
    let w2 = woke.clone();
    gort::spawn(move || {
        let reader = gort::spawn(move || {
            let e = (&clone).read(&mut [0; 8]).unwrap_err();
            w2.store(true, Ordering::SeqCst);
            e.kind()
        });
        // Let the reader park on its clone.
        while gort::num_goroutine() < 2 {
            gort::yield_now();
        }
        gort::sleep(Duration::from_millis(20));
        assert!(!woke.load(Ordering::SeqCst));
        c.close();
        gort::yield_now();
        assert!(woke.load(Ordering::SeqCst), "the clone's reader was not woken within one round");
        assert_eq!(reader.join().unwrap(), ErrorKind::NotConnected);
        // Later operations on either handle fail the same way.
        assert_eq!((&c).write(b"x").unwrap_err().kind(), ErrorKind::NotConnected);
    })
    .join()
    .unwrap();
});

// Closing a clone of a listener wakes a G in `accept` on the original; a clone made after the
// close is closed too.
#[test]
fn listener_clones_close_together() {
    let p = std::env::temp_dir().join(format!("gort-sock-lc-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    let l = UnixListener::bind(&p).unwrap();
    let l2 = l.try_clone().unwrap();
    assert!(l2.take_error().unwrap().is_none());
    let h = gort::spawn(move || l.accept().map(|_| ()).unwrap_err().kind());
    gort::sleep(Duration::from_millis(20));
    l2.close();
    assert_eq!(h.join().unwrap(), ErrorKind::NotConnected);
    let l3 = l2.try_clone().unwrap();
    assert_eq!(l3.accept().unwrap_err().kind(), ErrorKind::NotConnected);
    std::fs::remove_file(&p).unwrap();
}

// Deadlines: a timed-out read keeps returning TimedOut (even once data is there) until the
// deadline is moved; a deadline set while a G is parked interrupts it; None clears it.
#[test]
fn deadlines_are_absolute_and_sticky() {
    let (c, mut s) = pair();
    let c = Arc::new(c);
    let start = Instant::now();
    c.set_read_deadline(Some(start + Duration::from_millis(30)))
        .unwrap();
    let c2 = c.clone();
    let r = gort::spawn(move || (&*c2).read(&mut [0; 4]).unwrap_err().kind());
    assert_eq!(r.join().unwrap(), ErrorKind::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(30));
    s.write_all(b"late").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // Data is waiting, but the deadline has passed: still TimedOut (Go's rule).
    assert_eq!(
        (&*c).read(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    c.set_read_deadline(None).unwrap();
    let mut b = [0; 4];
    (&*c).read_exact(&mut b).unwrap();
    assert_eq!(&b, b"late");
    // A deadline moved into the past wakes a parked reader at once.
    let c3 = c.clone();
    let t = Instant::now();
    let r = gort::spawn(move || (&*c3).read(&mut [0; 4]).unwrap_err().kind());
    gort::sleep(Duration::from_millis(20));
    c.set_deadline(Some(Instant::now())).unwrap();
    assert_eq!(r.join().unwrap(), ErrorKind::TimedOut);
    assert!(t.elapsed() < Duration::from_secs(5));
    // Writes too.
    assert_eq!((&*c).write(b"x").unwrap_err().kind(), ErrorKind::TimedOut);
    c.set_deadline(None).unwrap();
    (&*c).write_all(b"x").unwrap();
}

// From a plain thread a deadline ends a blocked read too.
#[test]
fn deadline_from_a_plain_thread() {
    let (c, _s) = pair();
    c.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
        .unwrap();
    let t = Instant::now();
    assert_eq!(
        (&c).read(&mut [0; 1]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert!(t.elapsed() >= Duration::from_millis(20));
}

// The test: a UnixDatagram round trip between two Gs over a bound path.
#[test]
fn unix_datagram_round_trip() {
    let dir = std::env::temp_dir();
    let (ps, pc) = (
        dir.join(format!("gort-dg-s-{}.sock", std::process::id())),
        dir.join(format!("gort-dg-c-{}.sock", std::process::id())),
    );
    let _ = std::fs::remove_file(&ps);
    let _ = std::fs::remove_file(&pc);
    let server = UnixDatagram::bind(&ps).unwrap();
    let srv = gort::spawn(move || {
        let mut buf = [0; 64];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        let reply: Vec<u8> = buf[..n].iter().rev().copied().collect();
        server.send_to(&reply, from.as_pathname().unwrap()).unwrap();
    });
    let client = UnixDatagram::bind(&pc).unwrap();
    let ps2 = ps.clone();
    let got = gort::spawn(move || {
        client.send_to(b"datagram", &ps2).unwrap();
        let mut buf = [0; 64];
        let n = client.recv(&mut buf).unwrap();
        buf[..n].to_vec()
    })
    .join()
    .unwrap();
    assert_eq!(got, b"margatad");
    srv.join().unwrap();
    std::fs::remove_file(&ps).unwrap();
    std::fs::remove_file(&pc).unwrap();
}

#[test]
fn udp_peek_and_options() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    let h = gort::spawn(move || {
        let mut buf = [0; 8];
        let n = b.peek(&mut buf).unwrap(); // parks until the datagram comes
        let m = b.recv(&mut buf).unwrap();
        (n, m)
    });
    gort::sleep(Duration::from_millis(10));
    a.send(b"peek").unwrap();
    assert_eq!(h.join().unwrap(), (4, 4));
    a.set_ttl(7).unwrap();
    assert_eq!(a.ttl().unwrap(), 7);
    a.set_multicast_ttl_v4(3).unwrap();
    assert_eq!(a.multicast_ttl_v4().unwrap(), 3);
}
