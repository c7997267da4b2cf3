//! `http_server` driven as clients drive it: the built example on a free port, keep-alive and
//! its exceptions, pipelining, echo of exact bytes (Content-Length and chunked, with and without
//! `Expect: 100-continue`), the error answers, and wrk when installed.

mod common;

use common::{connect, start};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

/// One response: status code, headers (lower-case names), body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response framed by Content-Length (the server always sends it).
fn read_response(c: &mut TcpStream) -> Response {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut b).expect("response head"), 1, "EOF in the head");
        head.push(b[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let mut r = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = r.header("content-length").map_or(0, |v| v.parse().unwrap());
    r.body = vec![0; len];
    c.read_exact(&mut r.body).unwrap();
    r
}

fn request(c: &mut TcpStream, req: &[u8]) -> Response {
    c.write_all(req).unwrap();
    read_response(c)
}

fn assert_closed(c: &mut TcpStream) {
    let mut b = [0; 16];
    match c.read(&mut b) {
        Ok(0) => {}
        Ok(n) => panic!("expected EOF, got {:?}", String::from_utf8_lossy(&b[..n])),
        // A reset also means closed.
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn endpoints_and_keep_alive() {
    let s = start("http_server", &[]);
    let mut c = connect(s.addr);
    let r = request(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(r
        .header("date")
        .is_some_and(|d| d.ends_with(" GMT") && d.len() == 29));
    assert_eq!(r.header("connection"), None);
    // Same connection: the JSON endpoint.
    let r = request(&mut c, b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v, serde_json::json!({"message": "Hello, World!"}));
    // HEAD: the headers of GET, no body.
    c.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 200];
    let n = c.read(&mut head).unwrap();
    let text = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 5\r\n"), "{text}");
    assert!(!text.contains("hello"), "HEAD sent a body: {text}");
    // ... and the 404 that followed it in the pipeline (maybe in the same read).
    let rest = text.split_once("\r\n\r\n").unwrap().1.to_string();
    if rest.is_empty() {
        assert_eq!(read_response(&mut c).status, 404);
    } else {
        assert!(rest.starts_with("HTTP/1.1 404 Not Found"), "{rest}");
    }
}

#[test]
fn methods_and_errors() {
    let s = start("http_server", &[]);
    let mut c = connect(s.addr);
    let r = request(&mut c, b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    let r = request(&mut c, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    let r = request(&mut c, b"GET /missing?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, &r.body[..]), (404, &b"404 page not found\n"[..]));
    // Malformed: 400, then the connection closes.
    let r = request(&mut c, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    assert_eq!((r.status, r.header("connection")), (400, Some("close")));
    assert_closed(&mut c);
    // Conflicting lengths are malformed too.
    let mut c = connect(s.addr);
    let r = request(
        &mut c,
        b"POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    );
    assert_eq!(r.status, 400);
    // A body over 10 MiB: 413.
    let mut c = connect(s.addr);
    let r = request(
        &mut c,
        b"POST /echo HTTP/1.1\r\nContent-Length: 20000000\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    // Headers over 1 MiB: 431.
    let mut c = connect(s.addr);
    let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1 << 20));
    let _ = c.write_all(&big);
    assert_eq!(read_response(&mut c).status, 431);
}

#[test]
fn connection_close_and_http10() {
    let s = start("http_server", &[]);
    let mut c = connect(s.addr);
    let r = request(&mut c, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    assert_closed(&mut c);
    // HTTP/1.0 closes unless it asks to keep the connection.
    let mut c = connect(s.addr);
    let r = request(&mut c, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.header("connection"), Some("close"));
    assert_closed(&mut c);
    let mut c = connect(s.addr);
    let r = request(&mut c, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(r.header("connection"), Some("keep-alive"));
    let r = request(
        &mut c,
        b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn pipelined_requests_answered_in_order() {
    let s = start("http_server", &[]);
    let mut c = connect(s.addr);
    let mut req = Vec::new();
    for i in 0..50 {
        let body = format!("request {i}");
        req.extend_from_slice(
            format!(
                "POST /echo HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        req.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    }
    c.write_all(&req).unwrap();
    for i in 0..50 {
        assert_eq!(
            read_response(&mut c).body,
            format!("request {i}").as_bytes()
        );
        assert_eq!(read_response(&mut c).body, b"hello");
    }
}

/// Pseudo-random bytes (xorshift), so that the echo is checked on every byte value.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn echo_returns_exactly_the_bytes_sent() {
    let s = start("http_server", &[]);
    let mut c = connect(s.addr);
    for n in [0, 1, 4095, 4096, 65_537, 3 << 20] {
        let body = noise(n);
        let mut req = format!(
            "POST /echo HTTP/1.1\r\nContent-Type: application/x-test\r\nContent-Length: {n}\r\n\r\n"
        )
        .into_bytes();
        req.extend_from_slice(&body);
        let r = request(&mut c, &req);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/x-test"));
        assert!(r.body == body, "echo of {n} bytes differs");
    }
    // Chunked, in uneven chunks with an extension and a trailer.
    let body = noise(100_000);
    let mut req = b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in body.chunks(7_777) {
        req.extend_from_slice(format!("{:x};x=y\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
    let r = request(&mut c, &req);
    assert!(r.status == 200 && r.body == body, "chunked echo differs");
    // Expect: 100-continue gets its interim answer before we send the body.
    c.write_all(b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        .unwrap();
    let mut interim = [0; 25];
    c.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"abc").unwrap();
    assert_eq!(read_response(&mut c).body, b"abc");
}

/// wrk (when installed) at a few hundred connections sees only 200s and no socket errors.
#[test]
fn wrk_sees_no_errors() {
    if Command::new("wrk").arg("-v").output().is_err() {
        eprintln!("wrk not installed: skipped (apt-get install wrk)");
        return;
    }
    let s = start("http_server", &[]);
    for path in ["/", "/json"] {
        let out = Command::new("wrk")
            .args(["-t2", "-c200", "-d1s"])
            .arg(format!("http://{}{path}", s.addr))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        assert!(text.contains("Requests/sec:"), "{text}");
        assert!(
            !text.contains("Socket errors") && !text.contains("Non-2xx"),
            "{text}"
        );
    }
}
