//! The tokio + tokio-tungstenite peer of `examples/services/examples/ws_chat.rs`: the same chat
//! hub (gorilla/websocket's chat example) written the way tokio-tungstenite's own examples
//! are. A tokio multi-thread runtime with `BENCH_WORKERS` workers; `TcpListener::bind`
//! (tokio's default backlog, 1024); a task per connection doing `accept_hdr_async` (the
//! handshake, `/ws` only), then the `WebSocketStream` split into its sink and stream halves;
//! a hub task owning the clients, reached through mpsc channels (`register`, `unregister`,
//! `broadcast`) chosen among with `tokio::select!`; a writer task per client draining its own
//! bounded channel into the sink; the connection task itself reading.
//!
//! The limits and the batching are gort's example's: a message is at most 64 KiB, a client
//! silent for 60 s is dropped, a write must finish within 60 s, the handshake must come within
//! 10 s, a client's queue holds 256
//! messages and a client whose queue is full is dropped by the hub (its sender dropped, so its
//! writer sends a close frame), the broadcast channel holds 256, every message is its own frame
//! and the writer flushes what is queued (up to 64 KiB) at once. Pings and close frames from
//! the client are answered by tokio-tungstenite itself, through the shared stream.
//!
//! `ws_chat_tokio --addr 127.0.0.1:PORT`; serves until killed, logs to stderr.

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{interval_at, timeout, Instant};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Messages queued per client before the hub drops it (gorilla's `send` buffer).
const SEND_BUFFER: usize = 256;
const PING_PERIOD: Duration = Duration::from_secs(54);
const PONG_WAIT: Duration = Duration::from_secs(60);
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_MESSAGE: usize = 64 << 10;
/// The most a writer puts in one flush.
const BATCH_BYTES: usize = 64 << 10;

/// The hub's three inputs.
struct Hub {
    register: mpsc::UnboundedSender<(u64, mpsc::Sender<Message>)>,
    unregister: mpsc::UnboundedSender<u64>,
    broadcast: mpsc::Sender<Message>,
}

/// Starts the hub task: it alone owns the client map (Go's `Hub.run`).
fn start_hub() -> Hub {
    let (register, mut reg_rx) = mpsc::unbounded_channel::<(u64, mpsc::Sender<Message>)>();
    let (unregister, mut unreg_rx) = mpsc::unbounded_channel::<u64>();
    let (broadcast, mut bcast_rx) = mpsc::channel::<Message>(SEND_BUFFER);
    tokio::spawn(async move {
        let mut clients: HashMap<u64, mpsc::Sender<Message>> = HashMap::new();
        loop {
            tokio::select! {
                Some((id, tx)) = reg_rx.recv() => {
                    clients.insert(id, tx);
                }
                // Dropping the client's sender closes its queue: its writer says goodbye.
                Some(id) = unreg_rx.recv() => {
                    clients.remove(&id);
                }
                // A client that cannot take the message is too slow: drop it.
                Some(m) = bcast_rx.recv() => {
                    clients.retain(|_, tx| tx.try_send(m.clone()).is_ok());
                }
                else => break,
            }
        }
    });
    Hub {
        register,
        unregister,
        broadcast,
    }
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// One connection: the handshake, then the chat.
async fn serve_conn(s: TcpStream, id: u64, hub: Arc<Hub>) {
    let only_ws = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        if req.uri().path() == "/ws" {
            Ok(resp)
        } else {
            let mut e = ErrorResponse::new(Some("404 page not found\n".into()));
            *e.status_mut() = StatusCode::NOT_FOUND;
            Err(e)
        }
    };
    let accept = tokio_tungstenite::accept_hdr_async_with_config(s, only_ws, Some(config()));
    let Ok(Ok(ws)) = timeout(HEAD_TIMEOUT, accept).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(SEND_BUFFER);
    if hub.register.send((id, tx)).is_err() {
        return;
    }
    // Go's writePump.
    tokio::spawn(async move {
        let mut ping = interval_at(Instant::now() + PING_PERIOD, PING_PERIOD);
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => {
                        // Take what is already queued before one flush, at most BATCH_BYTES.
                        let mut bytes = m.len();
                        if sink.feed(m).await.is_err() {
                            break;
                        }
                        while bytes < BATCH_BYTES {
                            let Ok(m) = rx.try_recv() else { break };
                            bytes += m.len();
                            if sink.feed(m).await.is_err() {
                                return;
                            }
                        }
                        // A write that cannot finish in 60 s ends the client, as the gort
                        // example's write timeout and Go's write deadline do.
                        if !matches!(timeout(PONG_WAIT, sink.flush()).await, Ok(Ok(()))) {
                            break;
                        }
                    }
                    // The hub dropped us: say goodbye properly.
                    None => {
                        let _ = sink.send(Message::Close(None)).await;
                        break;
                    }
                },
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    // Go's readPump.
    loop {
        match timeout(PONG_WAIT, stream.next()).await {
            Ok(Some(Ok(m))) if m.is_text() || m.is_binary() => {
                if hub.broadcast.send(m).await.is_err() {
                    break;
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    // The writer ends when the hub drops its sender.
    let _ = hub.unregister.send(id);
}

fn main() {
    gort_peers::serve_tokio("ws_chat_tokio", || {
        let hub = Arc::new(start_hub());
        let mut next_id = 0u64;
        move |s| {
            next_id += 1;
            serve_conn(s, next_id, hub.clone())
        }
    });
}
