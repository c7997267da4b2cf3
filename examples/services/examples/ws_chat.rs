//! `ws_chat`: a WebSocket chat hub on gort, with `tungstenite` over `gort::net::TcpStream`.
//!
//! ```text
//! cargo run --release --example ws_chat -- --addr 127.0.0.1:8090
//! # then open http://127.0.0.1:8090/ in two browser tabs, or:
//! websocat ws://127.0.0.1:8090/ws
//! ```
//!
//! The shape is the chat example of Go's gorilla/websocket, line for line in spirit: a hub G owns
//! the set of clients and is reached only through channels (`register`, `unregister`,
//! `broadcast`), chosen among with `gort::select!`; each client has a reader G (frames in →
//! `broadcast`) and a writer G (its own bounded `send` channel → frames out, plus a ping every
//! 54 s). Every text or binary message a client sends goes to every client, itself included. A
//! client whose `send` channel is full (it reads too slowly) is dropped by the hub rather than
//! slowing everyone down: the hub closes its channel (Go's `close(client.send)`), its writer
//! sends a close frame and shuts the socket, and its reader ends.
//!
//! One writer per socket: tungstenite answers pings and close frames from inside `read`, so the
//! reader's WebSocket writes through [`Side`], which hands those bytes to the writer G instead of
//! the socket. The handshake is done here (httparse, `derive_accept_key`), so that `GET /` can
//! serve the browser page and `GET /debug/vars` the hub's numbers on the same port.
//!
//! | request | answer |
//! |---|---|
//! | `GET /ws` with `Upgrade: websocket` | 101, then the chat |
//! | `GET /` | a small HTML page with a chat client |
//! | `GET /debug/vars` | `{"clients":N,"goroutines":N}` |
//!
//! Limits: a message is at most 64 KiB; a client silent for 60 s (no message, no pong) is
//! dropped; the request head must arrive within 10 s. Logs go to stderr.

use gort::chan::{self, Receiver, Sender};
use gort::net::TcpStream;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// Messages queued per client before the hub drops it (gorilla's `send` buffer is 256).
const SEND_BUFFER: usize = 256;
const PING_PERIOD: Duration = Duration::from_secs(54);
const PONG_WAIT: Duration = Duration::from_secs(60);
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_MESSAGE: usize = 64 << 10;

/// The most a writer puts in one flush.
const BATCH_BYTES: usize = 64 << 10;

/// Registered clients, for `/debug/vars` (Relaxed: statistics only; the hub's map is the truth).
static CLIENTS: AtomicU64 = AtomicU64::new(0);

/// What a client's writer G sends.
enum Out {
    /// The reader has ended (after the client's close frame, which tungstenite answered through
    /// `Raw`, or an error): stop without a close frame of our own.
    ReaderDone,
    /// A chat message, framed by the writer.
    Msg(Message),
    /// Frames the reader's WebSocket produced (pong, close reply), already encoded.
    Raw(Vec<u8>),
}

impl Out {
    fn len(&self) -> usize {
        match self {
            Out::Msg(m) => m.len(),
            Out::Raw(b) => b.len(),
            Out::ReaderDone => 0,
        }
    }
}

/// A client as the hub sees it.
struct Client {
    id: u64,
    send: Sender<Out>,
}

/// The hub's three inputs.
#[derive(Clone)]
struct Hub {
    register: Sender<Client>,
    unregister: Sender<u64>,
    broadcast: Sender<Message>,
}

fn main() {
    let addr = gort_services::addr_from_args("127.0.0.1:8090");
    gort_services::raise_fd_limit();
    gort::spawn(move || {
        let hub = start_hub();
        let next_id = Arc::new(AtomicU64::new(1));
        let l = gort_services::listen("ws_chat", addr);
        gort_services::serve(&l, "ws_chat", move |c| {
            let id = next_id.fetch_add(1, Relaxed);
            if let Err(e) = serve_conn(c, id, &hub) {
                // Peers that go away mid-handshake are normal; anything else is worth a line.
                if !matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::TimedOut
                ) {
                    eprintln!("ws_chat: connection {id}: {e}");
                }
            }
        });
    })
    .join()
    .expect("accept loop panicked");
}

/// Starts the hub G: it alone owns the client map (Go's `Hub.run`).
fn start_hub() -> Hub {
    let (register, reg_rx) = chan::unbounded::<Client>();
    let (unregister, unreg_rx) = chan::unbounded::<u64>();
    let (broadcast, bcast_rx) = chan::bounded::<Message>(SEND_BUFFER);
    drop(gort::spawn(move || {
        let mut clients: HashMap<u64, Sender<Out>> = HashMap::new();
        loop {
            gort::select! {
                recv(reg_rx) -> c => {
                    let c = c.expect("the hub holds a sender");
                    clients.insert(c.id, c.send);
                }
                recv(unreg_rx) -> id => {
                    if let Some(send) = clients.remove(&id.expect("the hub holds a sender")) {
                        send.close();
                    }
                }
                recv(bcast_rx) -> m => {
                    let m = m.expect("the hub holds a sender");
                    // A client that cannot take the message is too slow: drop it.
                    clients.retain(|_, send| {
                        let ok = send.try_send(Out::Msg(m.clone())).is_ok();
                        if !ok {
                            send.close();
                        }
                        ok
                    });
                }
            }
            CLIENTS.store(clients.len() as u64, Relaxed);
        }
    }));
    Hub {
        register,
        unregister,
        broadcast,
    }
}

/// One connection: the HTTP request head, then a page, the numbers, or the chat.
fn serve_conn(c: TcpStream, id: u64, hub: &Hub) -> io::Result<()> {
    let c = Arc::new(c);
    let _ = c.set_nodelay(true);
    let _ = c.set_read_timeout(Some(HEAD_TIMEOUT));
    let (head, rest) = read_head(&c)?;
    let Some(req) = parse_request(&head) else {
        return respond(&c, "400 Bad Request", "text/plain", b"bad request\n");
    };
    match (req.path.as_str(), req.ws_key) {
        ("/ws", Some(key)) if req.ws_version_13 => {
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            (&*c).write_all(resp.as_bytes())?;
            chat(c, rest, id, hub);
            Ok(())
        }
        ("/ws", Some(_)) => (&*c).write_all(
            b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        ),
        ("/", None) => respond(&c, "200 OK", "text/html; charset=utf-8", PAGE.as_bytes()),
        ("/debug/vars", None) => {
            let vars = format!(
                "{{\"clients\":{},\"goroutines\":{}}}",
                CLIENTS.load(Relaxed),
                gort::num_goroutine()
            );
            respond(&c, "200 OK", "application/json", vars.as_bytes())
        }
        _ => respond(&c, "404 Not Found", "text/plain", b"404 page not found\n"),
    }
}

/// A complete answer that closes the connection.
fn respond(c: &TcpStream, status: &str, ctype: &str, body: &[u8]) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    let mut c = c;
    c.write_all(&out)?;
    let _ = c.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// Reads up to the end of the request head; returns the head and whatever followed it.
fn read_head(c: &TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0; 1024];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return Ok((buf, rest));
        }
        if buf.len() > 16 << 10 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head over 16 KiB",
            ));
        }
        let n = (&*c).read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// What the handshake needs from the request (RFC 6455 §4.2.1).
struct Request {
    path: String,
    /// `Sec-WebSocket-Key`, when the request is a WebSocket upgrade.
    ws_key: Option<String>,
    ws_version_13: bool,
}

fn parse_request(head: &[u8]) -> Option<Request> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) || req.method != Some("GET") {
        return None;
    }
    let has_token = |v: &[u8], t: &[u8]| {
        v.split(|&b| b == b',')
            .any(|x| x.trim_ascii().eq_ignore_ascii_case(t))
    };
    let (mut upgrade, mut connection, mut key, mut v13) = (false, false, None, false);
    for h in req.headers.iter() {
        let n = h.name;
        if n.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(h.value, b"websocket");
        } else if n.eq_ignore_ascii_case("connection") {
            connection |= has_token(h.value, b"upgrade");
        } else if n.eq_ignore_ascii_case("sec-websocket-key") {
            key = std::str::from_utf8(h.value)
                .ok()
                .map(|k| k.trim().to_string());
        } else if n.eq_ignore_ascii_case("sec-websocket-version") {
            v13 = h.value.trim_ascii() == b"13";
        }
    }
    Some(Request {
        path: req.path?.split('?').next()?.to_string(),
        ws_key: key.filter(|_| upgrade && connection),
        ws_version_13: v13,
    })
}

/// The socket as one side of a client sees it. Reads go to the socket. Writes go to the socket,
/// or, for the reader's WebSocket (`to_writer` set), to the writer G, which owns all writing.
struct Side {
    c: Arc<TcpStream>,
    to_writer: Option<Sender<Out>>,
}

impl Read for Side {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        (&*self.c).read(b)
    }
}

impl Write for Side {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match &self.to_writer {
            None => (&*self.c).write(b),
            Some(tx) => match tx.send(Out::Raw(b.to_vec())) {
                Ok(()) => Ok(b.len()),
                Err(_) => Err(io::ErrorKind::BrokenPipe.into()),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// The chat part of a connection: register, start the writer, be the reader.
fn chat(c: Arc<TcpStream>, rest: Vec<u8>, id: u64, hub: &Hub) {
    let (send, send_rx) = chan::bounded::<Out>(SEND_BUFFER);
    let writer = {
        let c = c.clone();
        gort::spawn(move || write_pump(c, send_rx))
    };
    if hub
        .register
        .send(Client {
            id,
            send: send.clone(),
        })
        .is_err()
    {
        return;
    }
    let _ = c.set_read_timeout(Some(PONG_WAIT));
    let side = Side {
        c: c.clone(),
        to_writer: Some(send.clone()),
    };
    let mut ws = WebSocket::from_partially_read(side, rest, Role::Server, Some(ws_config()));
    // Go's readPump.
    loop {
        match ws.read() {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if hub.broadcast.send(m).is_err() {
                    break;
                }
            }
            // Pings are answered (through the writer) inside `read`; pongs only prove life.
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = hub.unregister.send(id);
    // The writer ends on this (or at once if the hub already closed `send`).
    let _ = send.send(Out::ReaderDone);
    let _ = writer.join();
}

/// Go's writePump: frames out of the `send` channel, a ping every `PING_PERIOD`, and a close
/// frame and a shut socket when the channel closes.
fn write_pump(c: Arc<TcpStream>, send: Receiver<Out>) {
    let _ = c.set_write_timeout(Some(PONG_WAIT));
    let side = Side {
        c: c.clone(),
        to_writer: None,
    };
    let mut ws = WebSocket::from_raw_socket(side, Role::Server, Some(ws_config()));
    let ticker = gort::time::tick(PING_PERIOD);
    let ok = loop {
        gort::select! {
            recv(send) -> out => match out {
                Ok(Out::ReaderDone) => break false,
                Ok(out) => {
                    // Take what is already queued before one flush, as gorilla does, but at
                    // most BATCH_BYTES: a client that does not read must see its queue fill (and
                    // be dropped), not our memory grow.
                    let mut next = Some(out);
                    let (mut done, mut bytes) = (false, 0);
                    while let Some(o) = next.take() {
                        bytes += o.len();
                        if matches!(o, Out::ReaderDone) {
                            done = true;
                        } else if put(&mut ws, o).is_err() {
                            break;
                        }
                        if bytes < BATCH_BYTES {
                            next = send.try_recv().ok();
                        }
                    }
                    if ws.flush().is_err() || done {
                        break false;
                    }
                }
                // The hub dropped us: say goodbye properly.
                Err(_) => break true,
            },
            recv(ticker) -> _ => {
                if ws.send(Message::Ping(Default::default())).is_err() {
                    break false;
                }
            }
        }
    };
    if ok {
        let _ = ws.close(None);
        let _ = ws.flush();
    }
    // Wake the reader, whatever it is waiting for.
    let _ = c.shutdown(std::net::Shutdown::Both);
}

/// Queues one outgoing item on the writer's WebSocket.
fn put(ws: &mut WebSocket<Side>, o: Out) -> io::Result<()> {
    match o {
        Out::Msg(m) => ws.write(m).map_err(io::Error::other),
        Out::Raw(bytes) => {
            ws.flush().map_err(io::Error::other)?;
            ws.get_mut().write_all(&bytes)
        }
        Out::ReaderDone => Ok(()),
    }
}

/// The browser client served at `/` (gorilla's home.html, trimmed).
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gort chat</title></head>
<body>
<div id="log" style="height:20em;overflow:auto;border:1px solid #ccc;padding:.5em"></div>
<form id="form"><input id="msg" size="64" autofocus> <input type="submit" value="Send"></form>
<script>
const log = document.getElementById("log"), msg = document.getElementById("msg");
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
const line = t => { const d = document.createElement("div"); d.textContent = t; log.appendChild(d);
  log.scrollTop = log.scrollHeight; };
ws.onmessage = e => line(e.data);
ws.onclose = () => line("(connection closed)");
document.getElementById("form").onsubmit = e => { e.preventDefault();
  if (msg.value) { ws.send(msg.value); msg.value = ""; } };
</script>
</body></html>
"#;
