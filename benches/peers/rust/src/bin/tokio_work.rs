//! tokio peer: `tokio_work <workload> <size args>`; prints one RESULT line.
//! Runtime: multi-thread with `BENCH_WORKERS` worker threads (1 for the
//! single-worker workloads, chosen by the runner).

use gort_peers::common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Mutex};

fn main() {
    raise_nofile();
    let workload = std::env::args()
        .nth(1)
        .expect("usage: tokio_work <workload> <args>");
    // Calibrate before the runtime exists, single-threaded.
    let iters_per_ms = (workload == "fanout_compute").then(calibrate_iters_per_ms);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The workload body runs as a spawned task (as Go's main is a goroutine).
    let body = async move {
        match workload.as_str() {
            "spawn_join" => spawn_join(arg(1)).await,
            "yield_switch" => yield_switch(arg(1)).await,
            "chan_pingpong" => chan_pingpong(arg(1)).await,
            "ring" => ring(arg(1) as usize, arg(2)).await,
            "idle_memory" => idle_memory(arg(1) as usize).await,
            "fanout_compute" => fanout_compute(arg(1), arg(2), iters_per_ms.unwrap()).await,
            "blocking_syscall" => blocking_syscall(arg(1), arg(2), arg(3)).await,
            "tcp_echo_server" => tcp_echo_server().await,
            "http_server" => http_server().await,
            "mutex_contended" => mutex_contended(arg(1), arg(2)).await,
            "sleep_wakeups" => sleep_wakeups(arg(1), arg(2), arg(3)).await,
            "errgroup" => errgroup(arg(1), arg(2)).await,
            w => unsupported(w),
        }
    };
    rt.block_on(async move { tokio::spawn(body).await.expect("workload panicked") });
    // Parked tasks (ring, idle_memory) must not delay exit.
    std::process::exit(0);
}

async fn spawn_join(n: u64) {
    let t = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.unwrap();
    }
    assert_eq!(sum, n * (n - 1) / 2);
    report(
        "spawn_join",
        t.elapsed().as_nanos() as f64 / n as f64,
        "ns/task",
    );
}

async fn yield_switch(n: u64) {
    let per_task = n / 2;
    let t = Instant::now();
    let hs: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(async move {
                for _ in 0..per_task {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    report(
        "yield_switch",
        t.elapsed().as_nanos() as f64 / (2 * per_task) as f64,
        "ns/switch",
    );
}

async fn chan_pingpong(n: u64) {
    // tokio has no rendezvous channel; capacity 1 is the closest (each side
    // waits for the reply anyway).
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let echo = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.unwrap();
        }
    });
    let t = Instant::now();
    for i in 0..n {
        ping_tx.send(i).await.unwrap();
        assert_eq!(pong_rx.recv().await, Some(i));
    }
    let el = t.elapsed();
    drop(ping_tx);
    echo.await.unwrap();
    report(
        "chan_pingpong",
        el.as_nanos() as f64 / n as f64,
        "ns/roundtrip",
    );
}

async fn ring(tasks: usize, hops: u64) {
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut txs = Vec::with_capacity(tasks);
    let mut rxs = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let (tx, rx) = mpsc::channel::<u64>(1);
        txs.push(tx);
        rxs.push(rx);
    }
    for (i, mut rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % tasks].clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            while let Some(left) = rx.recv().await {
                if left == 0 {
                    done.send(()).await.unwrap();
                    return;
                }
                next.send(left - 1).await.unwrap();
            }
        });
    }
    let t = Instant::now();
    txs[0].send(hops).await.unwrap();
    done_rx.recv().await.unwrap();
    report(
        "ring",
        t.elapsed().as_nanos() as f64 / hops as f64,
        "ns/hop",
    );
}

async fn idle_memory(n: usize) {
    let (tx, rx) = watch::channel(0u8);
    let parked = Arc::new(AtomicUsize::new(0));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = rss_bytes();
    let mut hs = Vec::with_capacity(n);
    for _ in 0..n {
        let mut rx = rx.clone();
        let parked = parked.clone();
        hs.push(tokio::spawn(async move {
            parked.fetch_add(1, Ordering::Relaxed);
            let _ = rx.changed().await;
        }));
    }
    while parked.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = rss_bytes();
    report(
        "idle_memory",
        after.saturating_sub(before) as f64 / n as f64,
        "bytes/task",
    );
    tx.send(1).unwrap();
    for h in hs {
        h.await.unwrap();
    }
}

async fn fanout_compute(tasks: u64, ms: u64, iters_per_ms: u64) {
    let iters = iters_per_ms * ms;
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks)
        .map(|_| tokio::spawn(async move { spin(iters) }))
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    let ideal = (tasks * ms) as f64 / 1e3 / workers() as f64;
    report(
        "fanout_compute",
        t.elapsed().as_secs_f64() / ideal,
        "wall/ideal",
    );
}

async fn blocking_syscall(tasks: u64, ms: u64, yields: u64) {
    // The blocking call runs directly inside a task (no spawn_blocking): the
    // workload measures what a runtime does when a task blocks its worker.
    let sleepers: Vec<_> = (0..tasks)
        .map(|_| tokio::spawn(async move { blocking_nanosleep(Duration::from_millis(ms)) }))
        .collect();
    let t = Instant::now();
    let latency = tokio::spawn(async move {
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        t.elapsed()
    })
    .await
    .unwrap();
    for h in sleepers {
        h.await.unwrap();
    }
    report("blocking_syscall", latency.as_secs_f64() * 1e3, "ms");
}

async fn tcp_echo_server() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listening(l.local_addr().unwrap().port());
    loop {
        let (mut s, _) = l.accept().await.unwrap();
        tokio::spawn(async move {
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

async fn http_server() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listening(l.local_addr().unwrap().port());
    loop {
        let (mut s, _) = l.accept().await.unwrap();
        tokio::spawn(async move {
            s.set_nodelay(true).unwrap();
            let mut pending = Vec::with_capacity(4096);
            let mut buf = [0u8; 4096];
            let mut out = Vec::with_capacity(4096);
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
                out.clear();
                for _ in 0..take_http_requests(&mut pending) {
                    out.extend_from_slice(HTTP_RESPONSE);
                }
                if s.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn mutex_contended(tasks: u64, iters: u64) {
    let m = Arc::new(Mutex::new(0u64));
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move {
                for _ in 0..iters {
                    *m.lock().await += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    let el = t.elapsed();
    assert_eq!(*m.lock().await, tasks * iters);
    report(
        "mutex_contended",
        el.as_nanos() as f64 / (tasks * iters) as f64,
        "ns/op",
    );
}

async fn sleep_wakeups(tasks: u64, ms: u64, window_ms: u64) {
    use std::sync::atomic::AtomicU64;
    let count = Arc::new(AtomicU64::new(0));
    let d = Duration::from_millis(ms);
    for _ in 0..tasks {
        let count = count.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(d).await;
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    // The window is measured from a blocking thread so the workers only run the sleepers.
    tokio::task::spawn_blocking(move || {
        sleep_wakeups_window(
            window_ms,
            || count.load(Ordering::Relaxed),
            std::thread::sleep,
        )
    })
    .await
    .unwrap();
}

/// errgroup's shape on tokio: a `JoinSet` of `members` tasks returning `Result`, all joined,
/// the first error kept; `rounds` times. ns per member.
async fn errgroup(members: u64, rounds: u64) {
    let t = Instant::now();
    for _ in 0..rounds {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..members {
            set.spawn(async { Ok::<(), String>(()) });
        }
        let mut first = None;
        while let Some(r) = set.join_next().await {
            if let Err(e) = r.expect("member panicked") {
                first.get_or_insert(e);
            }
        }
        assert!(first.is_none());
    }
    report(
        "errgroup",
        t.elapsed().as_nanos() as f64 / (members * rounds) as f64,
        "ns/member",
    );
}
