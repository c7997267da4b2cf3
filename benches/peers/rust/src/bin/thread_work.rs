//! std::thread peer: `thread_work <workload> <size args>`; one OS thread per
//! task, pinned to the first `BENCH_WORKERS` CPUs. Sizes are reduced by the
//! runner where a million OS threads make no sense; results are per-op.

use gort_peers::common::*;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Stack size of every benchmark thread (small tasks; keeps 10k threads cheap).
const STACK: usize = 64 * 1024;

fn th<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn thread")
}

fn main() {
    raise_nofile();
    let workload = std::env::args()
        .nth(1)
        .expect("usage: thread_work <workload> <args>");
    let iters_per_ms = (workload == "fanout_compute").then(calibrate_iters_per_ms);
    pin_to_first_cpus(workers());
    match workload.as_str() {
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
    }
    std::process::exit(0);
}

fn spawn_join(n: u64) {
    // Spawn and join in batches of 1,000: a million live OS threads is not
    // possible here (pid_max), and "wait for all" is kept per batch.
    let t = Instant::now();
    let mut sum = 0;
    let mut i = 0;
    while i < n {
        let hs: Vec<_> = (i..(i + 1000).min(n)).map(|k| th(move || k)).collect();
        sum += hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
        i += 1000;
    }
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
            th(move || {
                for _ in 0..per_task {
                    std::thread::yield_now();
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
    let (ping_tx, ping_rx) = sync_channel::<u64>(0);
    let (pong_tx, pong_rx) = sync_channel::<u64>(0);
    let echo = th(move || {
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
    let (done_tx, done_rx) = sync_channel::<()>(1);
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..tasks).map(|_| sync_channel::<u64>(1)).unzip();
    for (i, rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % tasks].clone();
        let done = done_tx.clone();
        th(move || {
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
    // Threads park on a condition variable (std's channels cannot be shared
    // by many receivers).
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let parked = Arc::new(AtomicUsize::new(0));
    std::thread::sleep(Duration::from_millis(20));
    let before = rss_bytes();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let gate = gate.clone();
            let parked = parked.clone();
            th(move || {
                let mut open = gate.0.lock().unwrap();
                parked.fetch_add(1, Ordering::Relaxed);
                while !*open {
                    open = gate.1.wait(open).unwrap();
                }
            })
        })
        .collect();
    while parked.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    let after = rss_bytes();
    report(
        "idle_memory",
        after.saturating_sub(before) as f64 / n as f64,
        "bytes/task",
    );
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    for h in hs {
        h.join().unwrap();
    }
}

fn fanout_compute(tasks: u64, ms: u64, iters_per_ms: u64) {
    let iters = iters_per_ms * ms;
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks).map(|_| th(move || spin(iters))).collect();
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
    let sleepers: Vec<_> = (0..tasks)
        .map(|_| th(move || blocking_nanosleep(Duration::from_millis(ms))))
        .collect();
    let t = Instant::now();
    let latency = th(move || {
        for _ in 0..yields {
            std::thread::yield_now();
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
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listening(l.local_addr().unwrap().port());
    loop {
        let (mut s, _) = l.accept().unwrap();
        th(move || {
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
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listening(l.local_addr().unwrap().port());
    loop {
        let (mut s, _) = l.accept().unwrap();
        th(move || {
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

fn mutex_contended(threads: u64, iters: u64) {
    let m = Arc::new(Mutex::new(0u64));
    let t = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let m = m.clone();
            th(move || {
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
    assert_eq!(*m.lock().unwrap(), threads * iters);
    report(
        "mutex_contended",
        el.as_nanos() as f64 / (threads * iters) as f64,
        "ns/op",
    );
}

fn sleep_wakeups(threads: u64, ms: u64, window_ms: u64) {
    use std::sync::atomic::AtomicU64;
    let count = Arc::new(AtomicU64::new(0));
    let d = std::time::Duration::from_millis(ms);
    for _ in 0..threads {
        let count = count.clone();
        drop(th(move || loop {
            std::thread::sleep(d);
            count.fetch_add(1, Ordering::Relaxed);
        }));
    }
    sleep_wakeups_window(
        window_ms,
        || count.load(Ordering::Relaxed),
        std::thread::sleep,
    );
}

/// errgroup's shape: `members` tasks returning `Result`, all joined, the first error kept;
/// `rounds` times. ns per member.
fn errgroup(members: u64, rounds: u64) {
    errgroup_rounds(
        members,
        rounds,
        || th(|| Ok::<(), String>(())),
        |h| h.join().expect("member panicked"),
    );
}
