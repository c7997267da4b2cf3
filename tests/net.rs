//! Behaviour of `gort::net` and the netpoller through the public API.

mod common;

use common::{child_ok, is_child};
use gort::net::{TcpListener, TcpStream, UdpSocket};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let _ = gort::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = gort::spawn(move || {
                let mut b = [0; 1024];
                while let Ok(n @ 1..) = s.read(&mut b) {
                    if s.write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    a
}

#[test]
fn echo_round_trips_from_many_gs() {
    let a = echo_server();
    let hs: Vec<_> = (0..200u32)
        .map(|i| {
            gort::spawn(move || {
                let mut c = TcpStream::connect(a).unwrap();
                for j in 0..20u32 {
                    let msg = format!("{i}:{j};");
                    c.write_all(msg.as_bytes()).unwrap();
                    let mut b = vec![0; msg.len()];
                    c.read_exact(&mut b).unwrap();
                    assert_eq!(b, msg.as_bytes());
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn plain_thread_sockets_block_like_std() {
    let a = echo_server();
    let mut c = TcpStream::connect(a).unwrap();
    c.write_all(b"from a thread").unwrap();
    let mut b = [0; 13];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"from a thread");
    c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let t = Instant::now();
    assert_eq!(c.read(&mut b).unwrap_err().kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() >= Duration::from_millis(20));
    // std round trip
    let s: std::net::TcpStream = c.into_std();
    assert_eq!(s.read_timeout().unwrap(), None);
}

/// A G parked on read is woken by a write from another G on the same (only) P.
#[test]
fn parked_reader_woken_by_writer_on_same_p() {
    if is_child() {
        assert_eq!(gort::maxprocs(), 1);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let srv = gort::spawn(move || l.accept().unwrap().0);
        let c = TcpStream::connect(a).unwrap();
        let s = srv.join().unwrap();
        let reader = gort::spawn(move || {
            let mut b = [0; 5];
            (&s).read_exact(&mut b).unwrap();
            b
        });
        let writer = gort::spawn(move || {
            gort::sleep(Duration::from_millis(10)); // let the reader park first
            (&c).write_all(b"wake!").unwrap();
            c
        });
        let _c = writer.join().unwrap();
        assert_eq!(&reader.join().unwrap(), b"wake!");
        return;
    }
    child_ok(
        "parked_reader_woken_by_writer_on_same_p",
        &[("GORT_MAXPROCS", "1")],
    );
}

#[test]
fn read_deadline_fires_and_socket_stays_usable() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let h = gort::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let t = Instant::now();
        let e = (&s).read(&mut [0; 4]).unwrap_err();
        let took = t.elapsed();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_millis(50 + 500), "{took:?}");
        // Still usable: the peer's data arrives after the timeout.
        s.set_read_timeout(None).unwrap();
        let mut b = [0; 4];
        (&s).read_exact(&mut b).unwrap();
        (&s).write_all(&b).unwrap();
    });
    let mut c = TcpStream::connect(a).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    c.write_all(b"late").unwrap();
    let mut b = [0; 4];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"late");
    h.join().unwrap();
}

#[test]
fn connect_timeout_and_refused() {
    // A port with no listener: refused, immediately, as std.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    let e = gort::spawn(move || TcpStream::connect(a).unwrap_err())
        .join()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(
        TcpStream::connect_timeout(&a, Duration::ZERO)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn close_while_parked_wakes_the_waiters() {
    let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let a = l.local_addr().unwrap();
    let l2 = l.clone();
    let acceptor = gort::spawn(move || l2.accept().map(|(s, _)| s));
    let c = Arc::new(TcpStream::connect(a).unwrap());
    let (c1, c2) = (c.clone(), c.clone());
    let readers: Vec<_> = [c1, c2]
        .into_iter()
        .map(|c| gort::spawn(move || (&*c).read(&mut [0; 8]).map(|_| ())))
        .collect();
    // The acceptor got the connection; accept again so a G parks in accept.
    let _server_side = acceptor.join().unwrap().unwrap();
    let l3 = l.clone();
    let acceptor = gort::spawn(move || l3.accept().map(|_| ()));
    gort::sleep(Duration::from_millis(30));
    let t = Instant::now();
    c.close();
    l.close();
    for r in readers {
        assert_eq!(
            r.join().unwrap().unwrap_err().kind(),
            ErrorKind::NotConnected
        );
    }
    assert_eq!(
        acceptor.join().unwrap().unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    // Later calls fail the same way; nobody is left parked on a dead fd.
    assert_eq!(
        (&*c).write(b"x").unwrap_err().kind(),
        ErrorKind::NotConnected
    );
}

#[test]
fn half_close_and_reset_surface_like_std() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let h = gort::spawn(move || {
        // Half-close: the client shuts its write side; we read EOF and can still answer.
        let (mut s, _) = l.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(&got).unwrap();
        drop(s);
        // Reset: close with unread data, so the kernel sends RST.
        let (s, _) = l.accept().unwrap();
        gort::sleep(Duration::from_millis(30));
        drop(s);
    });
    let mut c = TcpStream::connect(a).unwrap();
    c.write_all(b"half").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"half");

    let mut c = TcpStream::connect(a).unwrap();
    c.write_all(b"unread").unwrap();
    h.join().unwrap();
    let r = gort::spawn(move || c.read(&mut [0; 4])).join().unwrap();
    assert_eq!(r.unwrap_err().kind(), ErrorKind::ConnectionReset);
}

#[test]
fn udp_and_unix_round_trip() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ba = b.local_addr().unwrap();
    let h = gort::spawn(move || {
        let mut buf = [0; 8];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        b.send_to(&buf[..n], from).unwrap();
    });
    gort::sleep(Duration::from_millis(5));
    a.send_to(b"udp", ba).unwrap();
    let mut buf = [0; 8];
    let (n, _) = a.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"udp");
    h.join().unwrap();

    #[cfg(unix)]
    {
        let (x, y) = gort::net::UnixStream::pair().unwrap();
        let h = gort::spawn(move || {
            let mut b = [0; 4];
            (&y).read_exact(&mut b).unwrap();
            b
        });
        gort::sleep(Duration::from_millis(5));
        (&x).write_all(b"unix").unwrap();
        assert_eq!(&h.join().unwrap(), b"unix");
    }
}

/// An idle runtime (Gs asleep or parked on sockets) burns ~no CPU.
#[cfg(target_os = "linux")]
#[test]
fn idle_runtime_uses_no_cpu() {
    if is_child() {
        let a = echo_server();
        let conns: Vec<_> = (0..50)
            .map(|_| {
                gort::spawn(move || TcpStream::connect(a).unwrap())
                    .join()
                    .unwrap()
            })
            .collect();
        let readers: Vec<_> = conns
            .into_iter()
            .map(|c| gort::spawn(move || (&c).read(&mut [0; 1]).map(|_| ())))
            .collect();
        for _ in 0..100 {
            let _ = gort::spawn(|| gort::sleep(Duration::from_secs(30)));
        }
        std::thread::sleep(Duration::from_millis(200)); // settle
        let t0 = common::cpu_ticks("self");
        let w0 = Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        let used = (common::cpu_ticks("self") - t0) as f64 / 100.0;
        let frac = used / w0.elapsed().as_secs_f64();
        eprintln!("idle CPU: {:.1}% ({used:.2} s)", frac * 100.0);
        assert!(frac < 0.05, "idle runtime used {:.1}% CPU", frac * 100.0);
        drop(readers);
        return;
    }
    child_ok("idle_runtime_uses_no_cpu", &[]);
}

/// EMFILE during accept is returned to the caller; the listener works again once fds free up.
#[test]
fn accept_under_emfile() {
    if is_child() {
        common::set_nofile(128);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let clients: Vec<_> = (0..8)
            .map(|_| std::net::TcpStream::connect(a).unwrap())
            .collect();
        let t0 = common::cpu_ticks("self");
        // Fill the descriptor table.
        let mut hog = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hog.push(f);
        }
        let e = gort::spawn(move || {
            let e = l.accept().map(|_| ()).unwrap_err();
            (l, e)
        });
        let (l, e) = e.join().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
        hog.truncate(hog.len() - 4);
        let got = gort::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"ok").unwrap();
            l
        })
        .join()
        .unwrap();
        let mut c = clients.into_iter().next().unwrap();
        let mut b = [0; 2];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ok");
        assert!(
            common::cpu_ticks("self") - t0 < 50,
            "busy loop under EMFILE?"
        );
        drop(got);
        return;
    }
    child_ok("accept_under_emfile", &[]);
}

/// A listener queues connections up to Go's backlog (`/proc/sys/net/core/somaxconn`), not
/// std's 128: 1,000 clients connect while nobody accepts, and every handshake completes at once.
/// With a backlog of 128 the 130th SYN is dropped and its connect waits for the 1 s SYN retry,
/// so the 500 ms connect timeout below fails it.
#[cfg(target_os = "linux")]
#[test]
fn listen_backlog_holds_a_burst() {
    let backlog = gort::net::listen_backlog();
    let somaxconn: i32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(backlog, somaxconn.clamp(1, 65_535));
    let limit = common::set_nofile(u64::MAX) as usize;
    // Linux queues backlog + 1 connections; keep well inside both it and the fd limit.
    let n = 1_000.min(backlog as usize).min(limit.saturating_sub(100));
    if n < 1_000 {
        eprintln!("somaxconn {somaxconn}, fd limit {limit}: testing {n} connections");
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let conns: Vec<_> = (0..n)
        .map(|i| {
            std::net::TcpStream::connect_timeout(&a, Duration::from_millis(500))
                .unwrap_or_else(|e| panic!("connection {i} of {n} while nobody accepts: {e}"))
        })
        .collect();
    // All of them are really queued: accept takes each one.
    for _ in 0..n {
        l.accept().unwrap();
    }
    drop(conns);
}

/// 10,000 concurrent connections to one server process, served with a thread count near
/// GORT_MAXPROCS. The server runs in a child (its own fd table); the clients are Gs here.
#[cfg(target_os = "linux")]
#[test]
fn ten_thousand_connections() {
    const WANT: usize = 10_000;
    if is_child() {
        common::set_nofile(u64::MAX);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        println!("PORT {}", l.local_addr().unwrap().port());
        let mut backoff = Duration::from_millis(1);
        loop {
            match l.accept() {
                Ok((mut s, _)) => {
                    let _ = gort::spawn(move || {
                        let mut b = [0; 64];
                        while let Ok(n @ 1..) = s.read(&mut b) {
                            if s.write_all(&b[..n]).is_err() {
                                return;
                            }
                        }
                    });
                }
                Err(e) => {
                    eprintln!("server accept: {e}");
                    gort::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                }
            }
        }
    }
    use std::io::BufRead;
    let limit = common::set_nofile(u64::MAX) as usize;
    // The client side (this process) needs one fd per connection plus slack; so does the server.
    let n = WANT.min(limit.saturating_sub(200));
    if n < WANT {
        eprintln!("RLIMIT_NOFILE hard limit {limit}: testing {n} connections instead of {WANT}");
    }
    let mut child = common::child_command("ten_thousand_connections", &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let port: u16 = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "server child died");
        // The harness prints "test <name> ... " on the same line.
        if let Some((_, p)) = line.trim().split_once("PORT ") {
            break p.parse().unwrap();
        }
    };
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let result = std::panic::catch_unwind(|| {
        let mut conns = Vec::with_capacity(n);
        for chunk in 0..n.div_ceil(100) {
            let m = 100.min(n - chunk * 100);
            let hs: Vec<_> = (0..m)
                .map(|_| gort::spawn(move || TcpStream::connect(addr).unwrap()))
                .collect();
            conns.extend(hs.into_iter().map(|h| h.join().unwrap()));
        }
        // All connected at once: one round trip on each, from a G per connection.
        let conns: Vec<_> = conns.into_iter().map(Arc::new).collect();
        let hs: Vec<_> = conns
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, c)| {
                gort::spawn(move || {
                    let msg = (i as u64).to_le_bytes();
                    (&*c).write_all(&msg).unwrap();
                    let mut b = [0; 8];
                    (&*c).read_exact(&mut b).unwrap();
                    assert_eq!(b, msg);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let threads = common::threads_of(&pid);
        eprintln!("{n} connections served; server threads = {threads}");
        // 0 would mean the child is gone (its /proc entry unreadable): that is a failure too.
        // 2 Ps by default: their Ms, main, sysmon, the scavenger (stack shrink passes), an M
        // in the poller, and Ms started for hand-offs on a loaded machine; a thread per
        // connection would be 10,000.
        assert!(
            (1..=2 + 10).contains(&threads),
            "server has {threads} threads"
        );
        drop(conns);
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
