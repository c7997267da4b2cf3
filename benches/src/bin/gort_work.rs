//! gort's side of the comparison: `gort_work <workload> <size args>` prints
//! one `RESULT ...` line, exactly like the peer programs in `benches/peers/`.
//! Workers: `GORT_MAXPROCS` (set by the runner).
//!
//! Workloads whose gort API has not landed yet print
//! `RESULT workload=X unsupported=1` (shown as "n/a (not built yet)").
//! Each of them is one function below marked `TODO(gort-api)`: replace its
//! body with the implementation; the peers in `benches/peers/rust/src/bin/
//! may_work.rs` show the intended shape of every workload.

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
        "fanout_compute" => fanout_compute(arg(1), arg(2), iters_per_ms.unwrap()),
        "blocking_syscall" => blocking_syscall(arg(1), arg(2), arg(3)),
        "tcp_echo_server" => tcp_echo_server(),
        "http_server" => http_server(),
        "mutex_contended" => mutex_contended(arg(1), arg(2)),
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

// ---------------------------------------------------------------------------
// TODO(gort-api): arms waiting for later gort APIs. Each prints
// `unsupported`; fill in the body when the API lands (same semantics as the
// peers, see may_work.rs) and keep the RESULT line's workload name and unit.
// ---------------------------------------------------------------------------

/// Workload 3, waiting for gort API `chan::bounded(0)`: Unbuffered ping-pong, n round trips;
/// `report("chan_pingpong", ns_per_round_trip, "ns/roundtrip")`.
fn chan_pingpong(_n: u64) {
    unsupported("chan_pingpong");
}

/// Workload 4, waiting for gort API `chan::bounded`: `tasks` tasks in a ring of channels,
/// the token carries the hops left; the task that sees 0 signals done;
/// `report("ring", ns_per_hop, "ns/hop")`.
fn ring(_tasks: usize, _hops: u64) {
    unsupported("ring");
}

/// Workload 5, waiting for gort API `chan`: RSS before, spawn n tasks that each bump an
/// AtomicUsize then block on one shared channel's `recv`, wait until all are
/// counted, sleep 20 ms, RSS after; `report("idle_memory", (after - before)
/// / n, "bytes/task")`, then release them (send n values or drop the Sender).
fn idle_memory(_n: usize) {
    unsupported("idle_memory");
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

/// Workload 8, waiting for gort API `net::TcpListener`: Bind 127.0.0.1:0, call
/// `listening(port)`, then accept forever, one task per connection echoing
/// whatever it reads (4 KiB buffer, set_nodelay). The runner kills it.
fn tcp_echo_server() {
    unsupported("tcp_echo_server");
}

/// Workload 9, waiting for gort API `net::TcpListener`: Like `tcp_echo_server`, but each
/// connection accumulates input and, for every request found by
/// `take_http_requests`, writes `HTTP_RESPONSE` (keep-alive).
fn http_server() {
    unsupported("http_server");
}

/// Workload 10, waiting for gort API `sync::Mutex`: `tasks` tasks each lock an
/// `Arc<gort::sync::Mutex<u64>>` and increment `iters` times; assert the
/// total; `report("mutex_contended", ns_per_increment, "ns/op")`.
fn mutex_contended(_tasks: u64, _iters: u64) {
    unsupported("mutex_contended");
}
