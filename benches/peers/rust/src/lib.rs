//! Shared helpers of the peer programs: `common`, the very same file gort's `gort_work` uses
//! (included by path so there is one copy), and `serve_tokio`, the frame of the tokio service
//! peers (`hyper_server`, `ws_chat_tokio`).
#[path = "../../../src/common.rs"]
pub mod common;

use std::future::Future;
use std::time::Duration;

/// The frame of a tokio service peer, started as `PROGRAM --addr HOST:PORT`: a multi-thread
/// runtime with `BENCH_WORKERS` workers, `TcpListener::bind` (tokio's default backlog, 1024),
/// and a task per accepted connection running `conn(stream)`; serves until killed, logs to
/// stderr. `setup` runs inside the runtime once, before the first accept, and returns `conn`.
pub fn serve_tokio<C, Fut>(program: &str, setup: impl FnOnce() -> C)
where
    C: FnMut(tokio::net::TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    common::raise_nofile();
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) if i + 1 < args.len() => args[i + 1].clone(),
        _ => {
            eprintln!("usage: {program} --addr HOST:PORT");
            std::process::exit(2)
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(common::workers())
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind(&addr)
            .await
            .unwrap_or_else(|e| {
                eprintln!("{program}: cannot listen on {addr}: {e}");
                std::process::exit(1)
            });
        eprintln!("{program}: listening on {}", l.local_addr().unwrap());
        let mut conn = setup();
        loop {
            match l.accept().await {
                Ok((s, _)) => {
                    let _ = s.set_nodelay(true);
                    tokio::spawn(conn(s));
                }
                Err(e) => {
                    eprintln!("{program}: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    });
}
