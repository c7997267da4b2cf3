//! A TCP echo server: one green thread per connection.
//!
//! `cargo run --release --example echo -- --port 7000` (or `PORT=7000`); listens on
//! 127.0.0.1 (override the host with `--host` or `HOST`). Try it with `nc 127.0.0.1 7000`.

use gort::net::TcpListener;
use std::io::{Read, Write};

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
    let port = arg("--port", "PORT", "7000");
    let l = TcpListener::bind(format!("{host}:{port}"))?;
    eprintln!("echo: listening on {}", l.local_addr()?);
    let mut backoff = std::time::Duration::from_millis(5);
    loop {
        match l.accept() {
            Ok((mut s, _)) => {
                backoff = std::time::Duration::from_millis(5);
                let _ = s.set_nodelay(true);
                // Detached: the handle is dropped, the connection's G runs on.
                let _ = gort::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning (Go's http.Server does too).
                eprintln!("echo: accept: {e}; retrying in {backoff:?}");
                gort::sleep(backoff);
                backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
            }
        }
    }
}
