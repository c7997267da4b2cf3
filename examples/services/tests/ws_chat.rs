//! `ws_chat` driven by real WebSocket clients (tungstenite, from green threads over
//! `gort::net::TcpStream`, as a Go test would use goroutines): a broadcast reaches every one of
//! a thousand clients, pings are answered, a close is answered and leaves nothing behind, a
//! client too slow to read is dropped without holding the others back, and plain HTTP requests
//! get the page, the numbers or a 404.

mod common;

use common::start;
use gort::net::TcpStream;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

fn client(addr: SocketAddr) -> Ws {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let (ws, resp) = tungstenite::client(format!("ws://{addr}/ws"), s).expect("handshake");
    assert_eq!(resp.status(), 101);
    ws
}

/// A plain HTTP GET; returns (status line, body).
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    let (head, body) = r.split_once("\r\n\r\n").unwrap_or((&r, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The hub's client count and the server's G count.
fn vars(addr: SocketAddr) -> (u64, u64) {
    let (_, body) = get(addr, "/debug/vars");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    (
        v["clients"].as_u64().unwrap(),
        v["goroutines"].as_u64().unwrap(),
    )
}

/// Waits (up to 20 s) until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn broadcast_reaches_a_thousand_clients() {
    const CLIENTS: usize = 1_000;
    const SENDERS: usize = 10;
    let s = start("ws_chat", &[]);
    let addr = s.addr;
    let (_, idle_gs) = vars(addr);
    // Connect everyone first (from Gs, a hundred at a time), then let ten of them speak.
    let mut conns: Vec<Ws> = Vec::new();
    for _ in 0..CLIENTS / 100 {
        let hs: Vec<_> = (0..100)
            .map(|_| gort::spawn(move || client(addr)))
            .collect();
        conns.extend(hs.into_iter().map(|h| h.join().unwrap()));
    }
    eventually("the hub has every client", || {
        vars(addr).0 == CLIENTS as u64
    });
    let readers: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            gort::spawn(move || {
                if i < SENDERS {
                    ws.send(Message::text(format!("hello from {i}"))).unwrap();
                }
                let mut got = BTreeSet::new();
                while got.len() < SENDERS {
                    match ws.read().expect("a message") {
                        Message::Text(t) => assert!(got.insert(t.to_string()), "duplicate {t}"),
                        Message::Ping(_) | Message::Pong(_) => {}
                        m => panic!("unexpected {m:?}"),
                    }
                }
                ws.close(None).unwrap();
                // Read until the server's close answer ends the connection.
                while ws.read().is_ok() {}
                got
            })
        })
        .collect();
    let want: BTreeSet<String> = (0..SENDERS).map(|i| format!("hello from {i}")).collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), want);
    }
    // Everyone left: the hub forgot them and their Gs are gone.
    eventually("every client is unregistered and its Gs ended", || {
        let (clients, gs) = vars(addr);
        clients == 0 && gs <= idle_gs
    });
}

#[test]
fn ping_is_answered_and_close_is_clean() {
    let s = start("ws_chat", &[]);
    let mut ws = client(s.addr);
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .unwrap();
    match ws.read().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
        m => panic!("unexpected {m:?}"),
    }
    ws.close(None).unwrap();
    let mut closed = false;
    loop {
        match ws.read() {
            Ok(Message::Close(_)) => closed = true,
            Ok(m) => panic!("unexpected {m:?}"),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(closed, "the server answered the close frame");
    eventually("the hub is empty", || vars(s.addr).0 == 0);
}

/// A client that never reads fills its queue and is dropped; the others keep getting every
/// message and are not dropped.
#[test]
fn slow_client_is_dropped_not_waited_for() {
    let s = start("ws_chat", &[]);
    let addr = s.addr;
    let slow = client(addr);
    let mut talker = client(addr);
    let listener = client(addr);
    eventually("three clients", || vars(addr).0 == 3);
    const N: usize = 1_000;
    let payload = "x".repeat(60 << 10);
    // The listener reads everything, from its own G.
    let l = gort::spawn(move || {
        let mut ws = listener;
        let mut n = 0;
        while n < N {
            if let Message::Text(_) = ws.read().expect("listener reads") {
                n += 1;
            }
        }
        (n, ws)
    });
    // The talker writes from one G and reads its own echoes from another (a second handle on
    // the socket), so that only `slow` lags.
    let mut talker_w = WebSocket::from_raw_socket(
        talker.get_ref().try_clone().unwrap(),
        tungstenite::protocol::Role::Client,
        None,
    );
    let w = gort::spawn(move || {
        for _ in 0..N {
            talker_w.send(Message::text(payload.clone())).unwrap();
        }
    });
    let t = gort::spawn(move || {
        let mut n = 0;
        while n < N {
            if let Message::Text(_) = talker.read().expect("talker reads") {
                n += 1;
            }
        }
        talker
    });
    w.join().unwrap();
    let (n, listener) = l.join().unwrap();
    assert_eq!(n, N);
    let talker = t.join().unwrap();
    // 1,000 × 60 KiB is far more than the slow client's socket buffers and 256 queued messages.
    eventually("the slow client is dropped", || vars(addr).0 == 2);
    drop((slow, talker, listener));
}

#[test]
fn plain_http_requests() {
    let s = start("ws_chat", &[]);
    let (status, body) = get(s.addr, "/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("new WebSocket("), "{body}");
    assert_eq!(get(s.addr, "/nope").0, "HTTP/1.1 404 Not Found");
    let mut c = std::net::TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .unwrap();
    let mut r = String::new();
    c.read_to_string(&mut r).unwrap();
    assert!(r.starts_with("HTTP/1.1 426"), "{r}");
    assert!(r.contains("Sec-WebSocket-Version: 13"), "{r}");
}
