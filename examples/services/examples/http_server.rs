//! `http_server`: an HTTP/1.1 keep-alive server on gort, one green thread per connection.
//!
//! ```text
//! cargo run --release --example http_server -- --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/            # hello
//! curl http://127.0.0.1:8080/json        # {"message":"Hello, World!"}
//! curl --data-binary @file http://127.0.0.1:8080/echo
//! wrk -t2 -c1000 -d10s --latency http://127.0.0.1:8080/json
//! ```
//!
//! Written the way Go's `net/http` serves: the accept loop starts a G per connection, and that G
//! reads a request, answers it, and reads the next one with plain blocking calls; gort parks the
//! G (not its OS thread) whenever the socket has nothing to give.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` (or `HEAD`) | 200 `hello` (`text/plain; charset=utf-8`) |
//! | `GET /json` | 200 `{"message":"Hello, World!"}` (serde_json, `application/json`) |
//! | `POST /echo` | 200 with exactly the request body (Content-Length or chunked) |
//! | `GET /debug/vars` | 200 `{"goroutines":N,"connections":N,"requests":N}` (Go's expvar path) |
//! | another method on those paths | 405 with `Allow` |
//! | any other path | 404 `404 page not found` |
//! | a malformed request | 400 and the connection closes |
//!
//! HTTP/1.1 connections persist unless the request says `Connection: close`; HTTP/1.0 ones only
//! with `Connection: keep-alive` (RFC 9112 §9.3, Go's `shouldClose`). Pipelined requests are
//! answered in order, all the answers to one read in one write. `Expect: 100-continue` gets its
//! interim answer before the body is read. Limits, as Go's `http.Server` with the timeouts a
//! production server sets: 1 MiB of headers (431 past it, Go's `DefaultMaxHeaderBytes`), 10 MiB
//! of echo body (413), a request's headers must arrive within 10 s of its first byte
//! (`ReadHeaderTimeout`, which is what sends slowloris clients away), an idle keep-alive
//! connection is closed after 60 s (`IdleTimeout`), and a write stalls at most 60 s. Logs go to
//! stderr: the address at start, accept errors (the loop backs off and goes on).

use gort::net::TcpStream;
use gort_services::http::{
    parse_head, BodyKind, Date, Dechunk, Method, Reject, MAX_BODY_BYTES, MAX_HEADER_BYTES,
};
use serde::Serialize;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Open connections and answered requests, for `/debug/vars` (Relaxed: statistics only).
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
static REQUESTS: AtomicU64 = AtomicU64::new(0);

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Serialize)]
struct Vars {
    goroutines: usize,
    connections: u64,
    requests: u64,
}

fn main() {
    let addr = gort_services::addr_from_args("127.0.0.1:8080");
    gort_services::raise_fd_limit();
    // As Go's main is a goroutine, the accept loop runs in a G.
    gort::spawn(move || {
        let l = gort_services::listen("http_server", addr);
        gort_services::serve(&l, "http_server", serve_conn);
    })
    .join()
    .expect("accept loop panicked");
}

/// One connection, from accept to close.
fn serve_conn(c: TcpStream) {
    CONNECTIONS.fetch_add(1, Relaxed);
    let _ = c.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut conn = Conn {
        c,
        buf: vec![0; 4096],
        start: 0,
        end: 0,
        out: Vec::with_capacity(4096),
        date: Date::default(),
    };
    if let Ok(Close::Graceful) = conn.serve() {
        conn.linger_close();
    }
    CONNECTIONS.fetch_sub(1, Relaxed);
}

/// How a connection ends once `serve` returns normally.
enum Close {
    /// We answered and said `Connection: close` (or hit an error we answered): half-close and
    /// drain, so that the client reads the answer instead of a reset.
    Graceful,
    /// The peer went away.
    Gone,
}

struct Conn {
    c: TcpStream,
    /// Received bytes; `buf[start..end]` is not consumed yet.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Answers not written yet (one write per batch of pipelined requests).
    out: Vec<u8>,
    date: Date,
}

/// A parsed request head, routed.
type Head = gort_services::http::Head<Route>;

/// Where a request goes.
#[derive(Clone, Copy, Debug)]
enum Route {
    Root,
    Json,
    Echo,
    Vars,
    NotFound,
}

impl Conn {
    fn serve(&mut self) -> io::Result<Close> {
        loop {
            let head = match self.read_head()? {
                Ok(Some(h)) => h,
                Ok(None) => return Ok(Close::Gone),
                Err(r) => {
                    self.reject(r)?;
                    return Ok(Close::Graceful);
                }
            };
            self.start += head.len;
            let body = match self.read_body(&head)? {
                Ok(b) => b,
                Err(r) => {
                    self.reject(r)?;
                    return Ok(Close::Graceful);
                }
            };
            self.respond(&head, &body);
            REQUESTS.fetch_add(1, Relaxed);
            if !head.keep_alive {
                self.flush()?;
                return Ok(Close::Graceful);
            }
        }
    }

    /// The next request head: parses what is buffered, and only when no complete head is
    /// there writes the pending answers and reads more. `Ok(None)`: clean EOF between requests.
    fn read_head(&mut self) -> io::Result<Result<Option<Head>, Reject>> {
        let mut deadline: Option<Instant> = None;
        loop {
            if self.start < self.end {
                match parse_head(&self.buf[self.start..self.end], route) {
                    Ok(Some(h)) => return Ok(Ok(Some(h))),
                    Ok(None) if self.end - self.start >= MAX_HEADER_BYTES => {
                        return Ok(Err(Reject::HeadersTooLarge))
                    }
                    Ok(None) => {}
                    Err(r) => return Ok(Err(r)),
                }
            }
            // Nothing complete: answer what we have before we wait.
            self.flush()?;
            let timeout = if self.start == self.end {
                IDLE_TIMEOUT
            } else {
                // A request has begun: its headers have READ_HEADER_TIMEOUT to arrive.
                let d = *deadline.get_or_insert_with(|| Instant::now() + READ_HEADER_TIMEOUT);
                d.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1))
            };
            let _ = self.c.set_read_timeout(Some(timeout));
            if self.fill()? == 0 {
                if self.start == self.end {
                    return Ok(Ok(None));
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The request body, read to its end.
    fn read_body(&mut self, head: &Head) -> io::Result<Result<Vec<u8>, Reject>> {
        let want_continue = head.expect_continue && !head.http10;
        match head.body {
            BodyKind::None => Ok(Ok(Vec::new())),
            BodyKind::Length(n) if n > MAX_BODY_BYTES => Ok(Err(Reject::BodyTooLarge)),
            BodyKind::Length(n) => {
                if want_continue && self.end - self.start < n {
                    self.continue_100()?;
                }
                let _ = self.c.set_read_timeout(Some(IDLE_TIMEOUT));
                while self.end - self.start < n {
                    if self.fill()? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
                let body = self.buf[self.start..self.start + n].to_vec();
                self.start += n;
                Ok(Ok(body))
            }
            BodyKind::Chunked => {
                if want_continue && self.start == self.end {
                    self.continue_100()?;
                }
                let _ = self.c.set_read_timeout(Some(IDLE_TIMEOUT));
                let mut d = Dechunk::default();
                let mut body = Vec::new();
                loop {
                    match d.feed(&self.buf[self.start..self.end], &mut body) {
                        Ok((used, done)) => {
                            self.start += used;
                            if done {
                                return Ok(Ok(body));
                            }
                        }
                        Err(r) => return Ok(Err(r)),
                    }
                    if body.len() > MAX_BODY_BYTES {
                        return Ok(Err(Reject::BodyTooLarge));
                    }
                    if self.fill()? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
        }
    }

    fn continue_100(&mut self) -> io::Result<()> {
        self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        self.flush()
    }

    /// Reads more into the buffer (compacting or growing it first); returns the count.
    fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
        }
        let n = self.c.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.c.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Appends the answer to one request.
    fn respond(&mut self, head: &Head, body: &[u8]) {
        let get = matches!(head.method, Method::Get | Method::Head);
        match head.route {
            Route::Root if get => self.answer(head, "200 OK", TEXT, b"hello", None),
            Route::Json if get => {
                let json = serde_json::to_vec(&Message {
                    message: "Hello, World!",
                })
                .expect("a struct of strings serialises");
                self.answer(head, "200 OK", "application/json", &json, None)
            }
            Route::Echo if head.method == Method::Post => {
                let ct = head
                    .content_type
                    .as_deref()
                    .unwrap_or(b"application/octet-stream");
                let ct = String::from_utf8_lossy(ct).into_owned();
                self.answer(head, "200 OK", &ct, body, None)
            }
            Route::Vars if get => {
                let vars = Vars {
                    goroutines: gort::num_goroutine(),
                    connections: CONNECTIONS.load(Relaxed),
                    requests: REQUESTS.load(Relaxed),
                };
                let json = serde_json::to_vec(&vars).expect("numbers serialise");
                self.answer(head, "200 OK", "application/json", &json, None)
            }
            Route::Root | Route::Json | Route::Vars | Route::Echo => {
                let allow = match head.route {
                    Route::Echo => "Allow: POST\r\n",
                    _ => "Allow: GET, HEAD\r\n",
                };
                let (status, body) = ("405 Method Not Allowed", b"Method Not Allowed\n");
                self.answer(head, status, TEXT, body, Some(allow))
            }
            Route::NotFound => {
                self.answer(head, "404 Not Found", TEXT, b"404 page not found\n", None)
            }
        }
    }

    fn answer(&mut self, head: &Head, status: &str, ctype: &str, body: &[u8], extra: Option<&str>) {
        let out = &mut self.out;
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(ctype.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        // Formats straight into the buffer: no allocation per response.
        let _ = write!(out, "{}", body.len());
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(self.date.now());
        out.extend_from_slice(b"\r\n");
        if let Some(e) = extra {
            out.extend_from_slice(e.as_bytes());
        }
        if !head.keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if head.http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if head.method != Method::Head {
            out.extend_from_slice(body);
        }
    }

    /// A 4xx for a request we will not serve; the connection closes after it.
    fn reject(&mut self, r: Reject) -> io::Result<()> {
        let head = Head {
            len: 0,
            method: Method::Get,
            route: Route::NotFound,
            http10: false,
            keep_alive: false,
            body: BodyKind::None,
            expect_continue: false,
            content_type: None,
        };
        let body = format!("{}\n", r.status());
        self.answer(&head, r.status(), TEXT, body.as_bytes(), None);
        self.flush()
    }

    /// Go's `closeWriteAndWait`: send FIN, then read and drop what the client still sends for
    /// up to 500 ms, so that closing with unread data does not reset the connection under the
    /// answer the client has not read yet.
    fn linger_close(&mut self) {
        let _ = self.c.shutdown(Shutdown::Write);
        let _ = self.c.set_read_timeout(Some(Duration::from_millis(500)));
        let mut sink = [0; 4096];
        let mut left = 256 << 10;
        while left > 0 {
            match self.c.read(&mut sink) {
                Ok(n @ 1..) => left -= n.min(left),
                _ => break,
            }
        }
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

/// The router: a request target (with its query string) to a route.
fn route(target: &str) -> Route {
    match target.split('?').next().unwrap_or("") {
        "/" => Route::Root,
        "/json" => Route::Json,
        "/echo" => Route::Echo,
        "/debug/vars" => Route::Vars,
        _ => Route::NotFound,
    }
}
