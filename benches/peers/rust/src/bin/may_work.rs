//! may peer: `may_work <workload> <size args>`; prints one RESULT line.
//! `may::config().set_workers(BENCH_WORKERS)`; every workload body runs inside
//! a coroutine (as Go's main runs in a goroutine).

use gort_peers::common::*;
use may::go;
use may::sync::{mpmc, mpsc, Mutex};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    raise_nofile();
    let workload = std::env::args()
        .nth(1)
        .expect("usage: may_work <workload> <args>");
    let iters_per_ms = (workload == "fanout_compute").then(calibrate_iters_per_ms);
    may::config().set_workers(workers());
    go!(move || match workload.as_str() {
        // may mmaps every coroutine stack with a guard page (two mappings):
        // with vm.max_map_count at its default, 100k+ live coroutines fail.
        "spawn_join" | "idle_memory" if !map_budget_ok(arg(1)) => skipped(
            &workload,
            "each may coroutine needs 2 memory mappings (stack + guard page): raise vm.max_map_count",
        ),
        "spawn_join" => spawn_join(arg(1)),
        "yield_switch" => yield_switch(arg(1)),
        "chan_pingpong" => chan_pingpong(arg(1)),
        "ring" => ring(arg(1) as usize, arg(2)),
        "idle_memory" => idle_memory(arg(1) as usize),
        "fanout_compute" => fanout_compute(arg(1), arg(2), iters_per_ms.unwrap()),
        "blocking_syscall" => blocking_syscall(arg(1), arg(2), arg(3)),
        "tcp_echo_server" => tcp_echo_server(),
        "http_server" => http_server(),
        "mutex_contended" => mutex_contended(arg(1), arg(2)),
        "sleep_wakeups" => sleep_wakeups(arg(1), arg(2), arg(3)),
        "errgroup" => errgroup(arg(1), arg(2)),
        w => unsupported(w),
    })
    .join()
    .expect("workload panicked");
    // Parked coroutines (ring, idle_memory) must not delay exit.
    std::process::exit(0);
}

/// Whether `n` live coroutines fit under vm.max_map_count.
fn map_budget_ok(n: u64) -> bool {
    let max: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    n.saturating_mul(2).saturating_add(4096) <= max
}

fn spawn_join(n: u64) {
    let t = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| go!(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, n * (n - 1) / 2);
    report(
        "spawn_join",
        t.elapsed().as_nanos() as f64 / n as f64,
        "ns/task",
    );
}

fn yield_switch(n: u64) {
    let per_task = n / 2;
    let t = Instant::now();
    let hs: Vec<_> = (0..2)
        .map(|_| {
            go!(move || {
                for _ in 0..per_task {
                    may::coroutine::yield_now();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    report(
        "yield_switch",
        t.elapsed().as_nanos() as f64 / (2 * per_task) as f64,
        "ns/switch",
    );
}

fn chan_pingpong(n: u64) {
    // may's channels are unbounded; ping-pong waits for each reply anyway.
    let (ping_tx, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = mpsc::channel::<u64>();
    let echo = go!(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v).unwrap();
        }
    });
    let t = Instant::now();
    for i in 0..n {
        ping_tx.send(i).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), i);
    }
    let el = t.elapsed();
    drop(ping_tx);
    echo.join().unwrap();
    report(
        "chan_pingpong",
        el.as_nanos() as f64 / n as f64,
        "ns/roundtrip",
    );
}

fn ring(tasks: usize, hops: u64) {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..tasks).map(|_| mpsc::channel::<u64>()).unzip();
    for (i, rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % tasks].clone();
        let done = done_tx.clone();
        go!(move || {
            while let Ok(left) = rx.recv() {
                if left == 0 {
                    done.send(()).unwrap();
                    return;
                }
                next.send(left - 1).unwrap();
            }
        });
    }
    let t = Instant::now();
    txs[0].send(hops).unwrap();
    done_rx.recv().unwrap();
    report(
        "ring",
        t.elapsed().as_nanos() as f64 / hops as f64,
        "ns/hop",
    );
}

fn idle_memory(n: usize) {
    let (tx, rx) = mpmc::channel::<()>();
    let parked = Arc::new(AtomicUsize::new(0));
    may::coroutine::sleep(Duration::from_millis(20));
    let before = rss_bytes();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let rx = rx.clone();
            let parked = parked.clone();
            go!(move || {
                parked.fetch_add(1, Ordering::Relaxed);
                let _ = rx.recv();
            })
        })
        .collect();
    while parked.load(Ordering::Relaxed) < n {
        may::coroutine::sleep(Duration::from_millis(1));
    }
    may::coroutine::sleep(Duration::from_millis(20));
    let after = rss_bytes();
    report(
        "idle_memory",
        after.saturating_sub(before) as f64 / n as f64,
        "bytes/task",
    );
    for _ in 0..n {
        tx.send(()).unwrap();
    }
    for h in hs {
        h.join().unwrap();
    }
}

fn fanout_compute(tasks: u64, ms: u64, iters_per_ms: u64) {
    let iters = iters_per_ms * ms;
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks).map(|_| go!(move || spin(iters))).collect();
    for h in hs {
        h.join().unwrap();
    }
    let ideal = (tasks * ms) as f64 / 1e3 / workers() as f64;
    report(
        "fanout_compute",
        t.elapsed().as_secs_f64() / ideal,
        "wall/ideal",
    );
}

fn blocking_syscall(tasks: u64, ms: u64, yields: u64) {
    // A raw blocking nanosleep inside the coroutine: it blocks its worker.
    let sleepers: Vec<_> = (0..tasks)
        .map(|_| go!(move || blocking_nanosleep(Duration::from_millis(ms))))
        .collect();
    let t = Instant::now();
    let latency = go!(move || {
        for _ in 0..yields {
            may::coroutine::yield_now();
        }
        t.elapsed()
    })
    .join()
    .unwrap();
    for h in sleepers {
        h.join().unwrap();
    }
    report("blocking_syscall", latency.as_secs_f64() * 1e3, "ms");
}

fn tcp_echo_server() {
    let l = may::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listening(l.local_addr().unwrap().port());
    loop {
        let (mut s, _) = l.accept().unwrap();
        go!(move || {
            s.set_nodelay(true).unwrap();
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
}

fn http_server() {
    let l = may::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listening(l.local_addr().unwrap().port());
    loop {
        let (mut s, _) = l.accept().unwrap();
        go!(move || {
            s.set_nodelay(true).unwrap();
            let mut pending = Vec::with_capacity(4096);
            let mut buf = [0u8; 4096];
            let mut out = Vec::with_capacity(4096);
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
                out.clear();
                for _ in 0..take_http_requests(&mut pending) {
                    out.extend_from_slice(HTTP_RESPONSE);
                }
                if s.write_all(&out).is_err() {
                    return;
                }
            }
        });
    }
}

fn mutex_contended(tasks: u64, iters: u64) {
    let m = Arc::new(Mutex::new(0u64));
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks)
        .map(|_| {
            let m = m.clone();
            go!(move || {
                for _ in 0..iters {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let el = t.elapsed();
    assert_eq!(*m.lock().unwrap(), tasks * iters);
    report(
        "mutex_contended",
        el.as_nanos() as f64 / (tasks * iters) as f64,
        "ns/op",
    );
}

fn sleep_wakeups(tasks: u64, ms: u64, window_ms: u64) {
    use std::sync::atomic::AtomicU64;
    let count = Arc::new(AtomicU64::new(0));
    let d = Duration::from_millis(ms);
    for _ in 0..tasks {
        let count = count.clone();
        drop(go!(move || loop {
            may::coroutine::sleep(d);
            count.fetch_add(1, Ordering::Relaxed);
        }));
    }
    sleep_wakeups_window(
        window_ms,
        || count.load(Ordering::Relaxed),
        may::coroutine::sleep,
    );
}

/// errgroup's shape: `members` tasks returning `Result`, all joined, the first error kept;
/// `rounds` times. ns per member.
fn errgroup(members: u64, rounds: u64) {
    errgroup_rounds(
        members,
        rounds,
        || go!(|| Ok::<(), String>(())),
        |h| h.join().expect("member panicked"),
    );
}
