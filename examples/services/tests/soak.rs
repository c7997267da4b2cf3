//! The soak test of `http_server` (release stress suite; about 55 s):
//!
//! ```text
//! cargo test --release -p gort-services --test soak -- --ignored --nocapture
//! ```
//!
//! For 40 s the built example serves, at once:
//! * wrk with keep-alive connections on `/` and `/json` (200 connections);
//! * wrk sending `Connection: close`, so every request opens and closes a connection;
//! * clients that check every answer: POSTs to `/echo` of varying sizes, each compared byte for
//!   byte, on connections that are kept for a few requests and then closed;
//! * slowloris clients: 100 connections that send half a request head and then stall (the
//!   server must close them after its 10 s header timeout), replaced as they are closed;
//! * peers that reset: connections closed with `SO_LINGER` 0 (an RST) mid-request, right after
//!   a complete request, and right after connecting.
//!
//! Checked: every well-formed request is answered (wrk sees no socket error and no non-2xx, the
//! checking clients get every echo right), the slowloris connections are closed by the server,
//! resident memory is flat after the warm-up, and once the clients are gone the server's open
//! descriptors and Gs (from `/debug/vars`) come back to what they were before the load.

mod common;

use common::{connect, fd_count, rss_kib, start};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const LOAD: Duration = Duration::from_secs(40);
const WARM_UP: Duration = Duration::from_secs(10);

/// Goroutines the server reports.
fn goroutines(addr: SocketAddr) -> u64 {
    let mut c = connect(addr);
    c.write_all(b"GET /debug/vars HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut r = String::new();
    c.read_to_string(&mut r).unwrap();
    let body = r.split_once("\r\n\r\n").expect("a response").1;
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    v["goroutines"].as_u64().expect("goroutines")
}

fn wrk(addr: SocketAddr, conns: u32, path: &str, extra: &[&str]) -> thread::JoinHandle<String> {
    let url = format!("http://{addr}{path}");
    let mut c = Command::new("wrk");
    c.args([
        "-t1",
        &format!("-c{conns}"),
        &format!("-d{}s", LOAD.as_secs()),
    ])
    .args(extra)
    .arg(url);
    thread::spawn(move || {
        let out = c.output().expect("run wrk (apt-get install wrk)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "wrk failed: {text}");
        text
    })
}

/// Closes `s` with an RST instead of a FIN (`SO_LINGER` with a zero timeout).
fn reset(s: TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `size_of::<linger>()` bytes from `l`, a valid linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

/// Reads one response with a Content-Length body; returns (status, body).
fn read_response(c: &mut TcpStream) -> std::io::Result<(u16, Vec<u8>)> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = text[9..12].parse().unwrap_or(0);
    let len: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap_or(0));
    let mut body = vec![0; len];
    c.read_exact(&mut body)?;
    Ok((status, body))
}

#[test]
#[ignore = "soak (about 55 s): run with --release -- --ignored"]
fn soak_http_server() {
    assert!(
        Command::new("wrk").arg("-v").output().is_ok(),
        "the soak needs wrk: apt-get install wrk (.ci/run installs it)"
    );
    let s = start("http_server", &[("GORT_MAXPROCS", "2")]);
    let (addr, pid) = (s.addr, s.child.id());
    thread::sleep(Duration::from_millis(200));
    let (g0, f0) = (goroutines(addr), fd_count(pid));
    eprintln!("before: {g0} goroutines, {f0} fds, {} KiB", rss_kib(pid));

    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let wrks = vec![
        wrk(addr, 100, "/", &[]),
        wrk(addr, 100, "/json", &[]),
        wrk(addr, 50, "/", &["-H", "Connection: close"]),
    ];

    // Checking clients: echo of varying sizes, a few requests per connection.
    let echoed = Arc::new(AtomicU64::new(0));
    let checkers: Vec<_> = (0..4u64)
        .map(|k| {
            let (stop, echoed) = (stop.clone(), echoed.clone());
            thread::spawn(move || {
                let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ k;
                while !stop.load(Relaxed) {
                    let mut c = connect(addr);
                    for _ in 0..5 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let body: Vec<u8> = (0..(x % 20_000) as usize)
                            .map(|i| (i as u64 ^ x) as u8)
                            .collect();
                        let mut req = format!(
                            "POST /echo HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        req.extend_from_slice(&body);
                        c.write_all(&req).expect("send a request");
                        let (status, got) = read_response(&mut c).expect("every request answered");
                        assert_eq!(status, 200);
                        assert!(got == body, "echo of {} bytes differs", body.len());
                        echoed.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();

    // Slowloris: 100 stalled half-heads, each replaced when the server closes it.
    let closed_slow = Arc::new(AtomicU64::new(0));
    let slow = {
        let (stop, closed_slow) = (stop.clone(), closed_slow.clone());
        thread::spawn(move || {
            let open = |n: usize| -> Vec<TcpStream> {
                (0..n)
                    .map(|_| {
                        let mut c = TcpStream::connect(addr).unwrap();
                        c.set_nonblocking(true).unwrap();
                        c.write_all(b"GET / HTTP/1.1\r\nHost: slow\r\nX-Wait:")
                            .unwrap();
                        c
                    })
                    .collect()
            };
            let mut conns = open(100);
            while !stop.load(Relaxed) {
                thread::sleep(Duration::from_millis(250));
                let before = conns.len();
                conns.retain_mut(|c| {
                    let mut b = [0; 512];
                    // Still open means WouldBlock; EOF or an answer means the server gave up.
                    matches!(c.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
                });
                let gone = before - conns.len();
                closed_slow.fetch_add(gone as u64, Relaxed);
                conns.extend(open(gone));
            }
            drop(conns);
        })
    };

    // Peers that reset: mid-request, after a full request, right after connecting.
    let resets = Arc::new(AtomicU64::new(0));
    let resetters: Vec<_> = (0..2)
        .map(|_| {
            let (stop, resets) = (stop.clone(), resets.clone());
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Relaxed) {
                    let Ok(mut c) = TcpStream::connect(addr) else {
                        continue;
                    };
                    match i % 3 {
                        0 => {
                            let _ = c.write_all(
                                b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nhalf",
                            );
                        }
                        1 => {
                            let _ = c.write_all(b"GET /json HTTP/1.1\r\n\r\n");
                        }
                        _ => {}
                    }
                    reset(c);
                    resets.fetch_add(1, Relaxed);
                    i += 1;
                    thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();

    // Memory after the warm-up, sampled every 2 s.
    let mut rss = Vec::new();
    while t0.elapsed() < LOAD {
        thread::sleep(Duration::from_secs(2));
        if t0.elapsed() >= WARM_UP {
            rss.push(rss_kib(pid));
        }
    }
    let reports: Vec<String> = wrks.into_iter().map(|h| h.join().unwrap()).collect();
    stop.store(true, Relaxed);
    for h in checkers.into_iter().chain(resetters).chain([slow]) {
        h.join().unwrap();
    }
    let load_fds = fd_count(pid);

    for r in &reports {
        eprintln!(
            "{}",
            r.lines()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(r.contains("Requests/sec:"), "{r}");
        assert!(!r.contains("Socket errors"), "wrk saw socket errors:\n{r}");
        assert!(!r.contains("Non-2xx"), "wrk saw failed responses:\n{r}");
    }
    eprintln!(
        "checked echoes {}, slowloris connections closed by the server {}, resets {}, \
         fds under load {load_fds}",
        echoed.load(Relaxed),
        closed_slow.load(Relaxed),
        resets.load(Relaxed)
    );
    assert!(
        echoed.load(Relaxed) > 100,
        "the checking clients made no progress"
    );
    // 40 s of load with a 10 s header timeout: every slowloris connection is closed at least
    // once (the first hundred after ~10 s, their replacements after ~20 s, ...).
    assert!(
        closed_slow.load(Relaxed) >= 200,
        "the server did not close stalled requests"
    );
    assert!(resets.load(Relaxed) > 100);

    // Memory flat after the warm-up: the last samples are not above the early ones plus a
    // margin for the allocator (a leak of one buffer per request would be hundreds of MiB).
    eprintln!("RSS after warm-up (KiB): {rss:?}");
    let half = rss.len() / 2;
    let early = *rss[..half.max(1)].iter().max().unwrap();
    let late = *rss[half..].iter().max().unwrap();
    assert!(
        late <= early + early / 4 + 16 * 1024,
        "RSS grew from {early} KiB to {late} KiB after the warm-up"
    );

    // Back to the baseline once every client is gone (lingering closes end within 500 ms).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (g, f) = (goroutines(addr), fd_count(pid));
        if g <= g0 && f <= f0 {
            eprintln!("after: {g} goroutines, {f} fds, {} KiB", rss_kib(pid));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "leak: {g} goroutines (baseline {g0}), {f} fds (baseline {f0}) 15 s after the load"
        );
        thread::sleep(Duration::from_millis(200));
    }
}
