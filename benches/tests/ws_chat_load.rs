//! `ws_chat_load`, the ws_chat benchmark's client, against a small broadcast hub written here
//! (a thread per client side and one for the hub, blocking tungstenite): every delivery is
//! counted and nothing is missing, however the clients are spread over the client's threads; a
//! client the hub drops is reported as an error with its missing deliveries, and the run ends
//! by the stall timeout instead of hanging; bad arguments and an absent server are clear
//! errors.

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::thread;
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

enum Event {
    Join(mpsc::Sender<Option<Message>>),
    Msg(Message),
}

/// Starts a hub on a free port: every text message goes to every client, its sender included.
/// With `drop_nth`, the hub drops its `drop_nth`-th client (a close frame, then the socket shut)
/// just before it broadcasts the first run message, as a hub drops a slow client.
fn hub(drop_nth: Option<usize>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel::<Event>();
    thread::spawn(move || {
        let mut clients: Vec<Option<mpsc::Sender<Option<Message>>>> = Vec::new();
        for ev in rx {
            match ev {
                Event::Join(c) => clients.push(Some(c)),
                Event::Msg(m) => {
                    let run_message = m.to_text().is_ok_and(|t| t.starts_with("m "));
                    if let Some(c) = drop_nth
                        .filter(|_| run_message)
                        .and_then(|n| clients.get_mut(n)?.take())
                    {
                        let _ = c.send(None);
                    }
                    for c in clients.iter().flatten() {
                        let _ = c.send(Some(m.clone()));
                    }
                }
            }
        }
    });
    thread::spawn(move || {
        for s in l.incoming() {
            let (s, hub) = (s.unwrap(), tx.clone());
            thread::spawn(move || serve(s, hub));
        }
    });
    addr
}

/// One client: the handshake, a writer thread fed by the hub, this thread reading.
fn serve(s: TcpStream, hub: mpsc::Sender<Event>) {
    let w = s.try_clone().unwrap();
    let Ok(mut ws) = tungstenite::accept(s) else {
        return;
    };
    let (out, out_rx) = mpsc::channel::<Option<Message>>();
    thread::spawn(move || {
        let mut ws = WebSocket::from_raw_socket(w, Role::Server, None);
        for m in out_rx {
            match m {
                Some(m) => {
                    if ws.send(m).is_err() {
                        break;
                    }
                }
                None => {
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    let _ = ws.get_ref().shutdown(Shutdown::Both);
                    break;
                }
            }
        }
    });
    let _ = hub.send(Event::Join(out));
    while let Ok(m) = ws.read() {
        if m.is_text() && hub.send(Event::Msg(m)).is_err() {
            break;
        }
    }
}

fn load(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ws_chat_load"))
        .args(args)
        .output()
        .expect("run ws_chat_load")
}

/// The `k=v` fields of the RESULT line.
fn result(o: &Output) -> HashMap<String, String> {
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "no RESULT line: {out}\n{}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn num(r: &HashMap<String, String>, k: &str) -> f64 {
    r[k].parse().unwrap_or_else(|_| panic!("{k}={}", r[k]))
}

#[test]
fn every_delivery_is_counted() {
    let addr = hub(None).to_string();
    // 50 clients on 1, 2 and 3 threads (the last spread unevenly), 3 senders × 20 messages.
    for threads in ["1", "2", "3"] {
        let o = load(&[
            "--addr",
            &addr,
            "--clients",
            "50",
            "--senders",
            "3",
            "--messages",
            "20",
            "--window",
            "2",
            "--threads",
            threads,
            "--server-pid",
            &std::process::id().to_string(),
        ]);
        assert!(o.status.success(), "{o:?}");
        let r = result(&o);
        assert_eq!(r["connected"], "50");
        assert_eq!(r["errors"], "0");
        assert_eq!(r["missing"], "0");
        assert_eq!(num(&r, "delivered"), (50 * 3 * 20) as f64);
        assert!(num(&r, "deliveries_per_s") > 0.0);
        assert!(num(&r, "p99_ms") >= num(&r, "p50_ms"));
        // The "server" here is this test process: its CPU time was read around the run.
        assert!(num(&r, "server_cpu_us") >= 0.0);
    }
}

#[test]
fn a_dropped_client_is_an_error_and_its_deliveries_are_missing() {
    let addr = hub(Some(7)).to_string();
    let o = load(&[
        "--addr",
        &addr,
        "--clients",
        "20",
        "--senders",
        "2",
        "--messages",
        "10",
        "--stall-secs",
        "1",
    ]);
    assert!(o.status.success(), "{o:?}");
    let r = result(&o);
    assert_eq!(r["errors"], "1");
    // The dropped client got none of the run's 20 messages; the others are held back by the
    // senders' windows (a message it never gets never leaves its sender's window).
    assert!(num(&r, "missing") >= 20.0, "{r:?}");
    assert!(num(&r, "delivered") > 0.0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("closed by the server"), "{err}");
    assert!(err.contains("deliveries stopped"), "{err}");
}

#[test]
fn bad_arguments_and_no_server_are_clear_errors() {
    let o = load(&["--clients", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--addr is required"));
    let o = load(&["--addr", "127.0.0.1:1", "--clients", "2", "--senders", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("more than --clients"));
    let o = load(&["--addr", "127.0.0.1:1", "--clients", "2", "--senders", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no client could connect"), "{err}");
}
