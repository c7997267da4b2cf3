//! A minimal keep-alive HTTP/1.1 server answering "Hello, World!": one green thread per
//! connection.
//!
//! `cargo run --release --example http_hello -- --port 8080` (or `PORT=8080`); listens on
//! 127.0.0.1 (override with `--host`/`HOST`). Try `curl http://127.0.0.1:8080/` or
//! `wrk -t1 -c256 -d5s http://127.0.0.1:8080/`.
//!
//! Requests are parsed only as far as a benchmark needs: the end of the header block, and
//! `Connection: close` (HTTP/1.0 closes unless it says keep-alive). Pipelined requests are
//! answered in order. Bodies are not supported (GET only).

use gort::net::TcpListener;
use std::io::{Read, Write};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn arg(name: &str, env: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(env).ok())
        .unwrap_or_else(|| default.to_string())
}

fn main() -> std::io::Result<()> {
    gort::spawn(serve).join().expect("server panicked")
}

fn serve() -> std::io::Result<()> {
    let host = arg("--host", "HOST", "127.0.0.1");
    let port = arg("--port", "PORT", "8080");
    let l = TcpListener::bind(format!("{host}:{port}"))?;
    eprintln!("http_hello: listening on http://{}/", l.local_addr()?);
    let mut backoff = std::time::Duration::from_millis(5);
    loop {
        match l.accept() {
            Ok((s, _)) => {
                backoff = std::time::Duration::from_millis(5);
                let _ = s.set_nodelay(true);
                // Detached: the connection's G runs on after its handle is dropped.
                let _ = gort::spawn(move || conn(s));
            }
            Err(e) => {
                eprintln!("http_hello: accept: {e}; retrying in {backoff:?}");
                gort::sleep(backoff);
                backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
            }
        }
    }
}

fn conn(mut s: gort::net::TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut have = 0;
    let mut out = Vec::with_capacity(RESPONSE.len() * 4);
    loop {
        match s.read(&mut buf[have..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
        // Answer every complete request in the buffer.
        let mut start = 0;
        let mut close = false;
        while let Some(end) = find(&buf[start..have], b"\r\n\r\n") {
            let head = &buf[start..start + end];
            close |= wants_close(head);
            out.extend_from_slice(RESPONSE);
            start += end + 4;
            if close {
                break;
            }
        }
        if !out.is_empty() && s.write_all(&out).is_err() {
            return;
        }
        out.clear();
        if close {
            return;
        }
        buf.copy_within(start..have, 0);
        have -= start;
        if have == buf.len() {
            return; // a header block larger than 8 KiB: not for this server
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn wants_close(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let http10 = text.lines().next().is_some_and(|l| l.ends_with("http/1.0"));
    if text.contains("\r\nconnection: close") {
        return true;
    }
    http10 && !text.contains("\r\nconnection: keep-alive")
}
