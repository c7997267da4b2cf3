//! gort's side of the comparison: `gort_work <workload> <size args>` prints
//! one `RESULT ...` line, exactly like the peer programs in `benches/peers/`.
//! Workers: `GORT_MAXPROCS` (set by the runner).
//!
//! Every workload has the same shape as in the peers (`benches/peers/rust/src/bin/
//! may_work.rs`, `benches/peers/go/main.go`). An unknown workload prints
//! `RESULT workload=X unsupported=1`.

use gort_benches::common::*;
use std::time::Instant;

fn main() {
    raise_nofile();
    let workload = std::env::args()
        .nth(1)
        .expect("usage: gort_work <workload> <args>");
    // Calibrate on the main OS thread before any task runs.
    let iters_per_ms = (workload == "fanout_compute").then(calibrate_iters_per_ms);
    // The workload body runs as a gort task, as Go's main is a goroutine.
    gort::spawn(move || match workload.as_str() {
        "spawn_join" => spawn_join(arg(1)),
        "yield_switch" => yield_switch(arg(1)),
        "chan_pingpong" => chan_pingpong(arg(1)),
        "ring" => ring(arg(1) as usize, arg(2)),
        "idle_memory" => idle_memory(arg(1) as usize),
        "park_own" => park_own(arg(1) as usize, arg(2)),
        "fanout_compute" => fanout_compute(arg(1), arg(2), iters_per_ms.unwrap()),
        "blocking_syscall" => blocking_syscall(arg(1), arg(2), arg(3)),
        "tcp_echo_server" => tcp_echo_server(),
        "http_server" => http_server(),
        "mutex_contended" => mutex_contended(arg(1), arg(2)),
        "sleep_wakeups" => sleep_wakeups(arg(1), arg(2), arg(3)),
        "select8" => select8(arg(1), false),
        "select8_dyn" => select8(arg(1), true),
        "timer_churn" => timer_churn(arg(1)),
        w => unsupported(w),
    })
    .join()
    .expect("workload panicked");
    // Parked tasks (ring, idle_memory) must not delay exit.
    std::process::exit(0);
}

// ---------------------------------------------------------------------------
// Implemented against the current API: spawn / JoinHandle::join / yield_now.
// ---------------------------------------------------------------------------

/// 1. n tiny tasks, join them all; ns per task.
fn spawn_join(n: u64) {
    let t = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| gort::spawn(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, n * (n - 1) / 2);
    report(
        "spawn_join",
        t.elapsed().as_nanos() as f64 / n as f64,
        "ns/task",
    );
}

/// 2. Two tasks yielding to each other (runner sets GORT_MAXPROCS=1).
fn yield_switch(n: u64) {
    let per_task = n / 2;
    let t = Instant::now();
    let hs: Vec<_> = (0..2)
        .map(|_| {
            gort::spawn(move || {
                for _ in 0..per_task {
                    gort::yield_now();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let ns = t.elapsed().as_nanos() as f64 / (2 * per_task) as f64;
    report("yield_switch", ns, "ns/switch");
}

/// 6. `tasks` tasks of `ms` ms of calibrated CPU each; wall / ideal.
fn fanout_compute(tasks: u64, ms: u64, iters_per_ms: u64) {
    let iters = iters_per_ms * ms;
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks)
        .map(|_| gort::spawn(move || spin(iters)))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let ideal = (tasks * ms) as f64 / 1e3 / gort::maxprocs() as f64;
    report(
        "fanout_compute",
        t.elapsed().as_secs_f64() / ideal,
        "wall/ideal",
    );
}

/// Workload 3: unbuffered ping-pong between this task and an echo task, `n` round trips.
fn chan_pingpong(n: u64) {
    let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
    let echo = gort::spawn(move || {
        for v in ping_rx {
            if pong_tx.send(v).is_err() {
                break;
            }
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

/// Workload 4: `tasks` tasks in a ring of unbuffered channels; the token carries the hops
/// left; the task that sees 0 signals done.
fn ring(tasks: usize, hops: u64) {
    let (done_tx, done_rx) = gort::chan::bounded::<()>(1);
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..tasks).map(|_| gort::chan::bounded::<u64>(0)).unzip();
    for (i, rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % tasks].clone();
        let done = done_tx.clone();
        drop(gort::spawn(move || {
            while let Ok(left) = rx.recv() {
                if left == 0 {
                    let _ = done.send(());
                    return;
                }
                if next.send(left - 1).is_err() {
                    return;
                }
            }
        }));
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

/// Workload 5: RSS per task with `n` tasks parked on one shared channel's `recv`.
fn idle_memory(n: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let (tx, rx) = gort::chan::unbounded::<()>();
    let parked = Arc::new(AtomicUsize::new(0));
    gort::sleep(std::time::Duration::from_millis(20));
    let before = rss_bytes();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let rx = rx.clone();
            let parked = parked.clone();
            gort::spawn(move || {
                parked.fetch_add(1, Ordering::Relaxed);
                let _ = rx.recv();
            })
        })
        .collect();
    while parked.load(Ordering::Relaxed) < n {
        gort::sleep(std::time::Duration::from_millis(1));
    }
    gort::sleep(std::time::Duration::from_millis(20));
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

/// Workload 7: `tasks` tasks each make a raw nanosleep(2) of `ms` (a call that really blocks the
/// thread), wrapped in `gort::blocking` as gort's API asks (Go's runtime wraps its syscalls
/// itself); one task does `yields` yields; its latency from before it was spawned is reported.
fn blocking_syscall(tasks: u64, ms: u64, yields: u64) {
    let d = std::time::Duration::from_millis(ms);
    let sleepers: Vec<_> = (0..tasks)
        .map(|_| gort::spawn(move || gort::blocking(|| blocking_nanosleep(d))))
        .collect();
    let t = Instant::now();
    let quick = gort::spawn(move || {
        for _ in 0..yields {
            gort::yield_now();
        }
        t.elapsed()
    });
    let latency = quick.join().unwrap();
    for h in sleepers {
        h.join().unwrap();
    }
    report("blocking_syscall", latency.as_secs_f64() * 1e3, "ms");
}

/// Workload 8: bind 127.0.0.1:0, print the port, accept forever; one G per connection
/// echoes whatever it reads (4 KiB buffer, nodelay). The runner kills the process.
fn tcp_echo_server() {
    use std::io::{Read, Write};
    let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listening(l.local_addr().unwrap().port());
    loop {
        let (mut s, _) = match l.accept() {
            Ok(c) => c,
            Err(_) => {
                gort::sleep(std::time::Duration::from_millis(5));
                continue;
            }
        };
        drop(gort::spawn(move || {
            let _ = s.set_nodelay(true);
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
        }));
    }
}

/// Workload 9: like `tcp_echo_server`, but each connection answers every complete HTTP/1.1
/// request it has read with `HTTP_RESPONSE` (keep-alive).
fn http_server() {
    use std::io::{Read, Write};
    let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listening(l.local_addr().unwrap().port());
    loop {
        let (mut s, _) = match l.accept() {
            Ok(c) => c,
            Err(_) => {
                gort::sleep(std::time::Duration::from_millis(5));
                continue;
            }
        };
        drop(gort::spawn(move || {
            let _ = s.set_nodelay(true);
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
        }));
    }
}

/// Workload 10: `tasks` tasks each increment one counter `iters` times under a
/// `gort::sync::Mutex`.
fn mutex_contended(tasks: u64, iters: u64) {
    let m = std::sync::Arc::new(gort::sync::Mutex::new(0u64));
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks)
        .map(|_| {
            let m = m.clone();
            gort::spawn(move || {
                for _ in 0..iters {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let el = t.elapsed();
    assert_eq!(*m.lock(), tasks * iters);
    report(
        "mutex_contended",
        el.as_nanos() as f64 / (tasks * iters) as f64,
        "ns/op",
    );
}

/// `n` tasks, each parked on its own unbuffered channel (created before the measurement, so
/// their cost is excluded). Mode 0 reports RSS growth per task, mode 1 the time to spawn all of
/// them and see them all started (about to park), per task.
fn park_own(n: usize, mode: u64) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let chans: Vec<_> = (0..n).map(|_| gort::chan::bounded::<u64>(0)).collect();
    gort::sleep(std::time::Duration::from_millis(20));
    let before = rss_bytes();
    let started = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut senders = Vec::with_capacity(n);
    let mut hs = Vec::with_capacity(n);
    for (tx, rx) in chans {
        let started = started.clone();
        hs.push(gort::spawn(move || {
            started.fetch_add(1, Ordering::Relaxed);
            let _ = rx.recv();
        }));
        senders.push(tx);
    }
    while started.load(Ordering::Relaxed) < n {
        gort::yield_now();
    }
    let el = t.elapsed();
    gort::sleep(std::time::Duration::from_millis(20));
    let after = rss_bytes();
    if mode == 0 {
        report(
            "park_own_memory",
            after.saturating_sub(before) as f64 / n as f64,
            "bytes/task",
        );
    } else {
        report("park_own_time", el.as_nanos() as f64 / n as f64, "ns/task");
    }
    for tx in senders {
        tx.send(1).unwrap();
    }
    for h in hs {
        h.join().unwrap();
    }
}

/// `tasks` tasks each sleeping `ms` in a loop (timers firing all the time); CPU per wakeup over
/// a window of `window_ms` after a warm-up of the same length.
fn sleep_wakeups(tasks: u64, ms: u64, window_ms: u64) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let count = Arc::new(AtomicU64::new(0));
    let d = std::time::Duration::from_millis(ms);
    for _ in 0..tasks {
        let count = count.clone();
        drop(gort::spawn(move || loop {
            gort::sleep(d);
            count.fetch_add(1, Ordering::Relaxed);
        }));
    }
    sleep_wakeups_window(window_ms, || count.load(Ordering::Relaxed), gort::sleep);
}

/// 8 tasks each send `n / 8` values into their own channel (capacity 16); this task receives
/// all `n` through a select over the 8 channels: `select!` (Go's `select` statement) or, with
/// `dynamic`, a `gort::chan::Select` built once (Go's `reflect.Select`). ns per received value.
fn select8(n: u64, dynamic: bool) {
    const K: usize = 8;
    let per = n / K as u64;
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..K).map(|_| gort::chan::bounded::<u64>(16)).unzip();
    let t = Instant::now();
    // `txs` stays alive to the end, as Go's channels stay open: a closed channel's arm would be
    // ready (with an error).
    let producers: Vec<_> = txs
        .iter()
        .map(|tx| {
            let tx = tx.clone();
            gort::spawn(move || (0..per).for_each(|i| tx.send(i).unwrap()))
        })
        .collect();
    let total = per * K as u64;
    let mut sum = 0u64;
    if dynamic {
        let mut sel = gort::chan::Select::new();
        for rx in &rxs {
            sel.recv(rx);
        }
        for _ in 0..total {
            let op = sel.select();
            let i = op.index();
            sum += op.recv(&rxs[i]).unwrap();
        }
    } else {
        let [r0, r1, r2, r3, r4, r5, r6, r7] = &rxs[..] else {
            unreachable!()
        };
        for _ in 0..total {
            sum += gort::select! {
                recv(r0) -> v => v.unwrap(),
                recv(r1) -> v => v.unwrap(),
                recv(r2) -> v => v.unwrap(),
                recv(r3) -> v => v.unwrap(),
                recv(r4) -> v => v.unwrap(),
                recv(r5) -> v => v.unwrap(),
                recv(r6) -> v => v.unwrap(),
                recv(r7) -> v => v.unwrap(),
            };
        }
    }
    let el = t.elapsed();
    assert_eq!(sum, K as u64 * per * (per - 1) / 2);
    for p in producers {
        p.join().unwrap();
    }
    drop(txs);
    let name = if dynamic { "select8_dyn" } else { "select8" };
    report(name, el.as_nanos() as f64 / total as f64, "ns/op");
}

/// A select loop with a fresh one-second timer in every select (Go's `case <-time.After(d)`):
/// another task sends `n` values on an unbuffered channel, this task receives each in a select
/// against `after(1 s)`, which never fires. ns per select.
fn timer_churn(n: u64) {
    let (tx, rx) = gort::chan::bounded::<u64>(0);
    let t = Instant::now();
    let producer = gort::spawn(move || (0..n).for_each(|i| tx.send(i).unwrap()));
    for i in 0..n {
        gort::select! {
            recv(rx) -> v => assert_eq!(v, Ok(i)),
            recv(gort::time::after(std::time::Duration::from_secs(1))) -> _ => {
                panic!("timer_churn: a one-second timer fired")
            }
        }
    }
    let el = t.elapsed();
    producer.join().unwrap();
    report("timer_churn", el.as_nanos() as f64 / n as f64, "ns/op");
}
