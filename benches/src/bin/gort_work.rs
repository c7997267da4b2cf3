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
    // `cpu_wall` takes its calibration from its parent (`blockcheck_cost`) when given one, so
    // that every child does the same work.
    let given = std::env::args().nth(4).and_then(|v| v.parse().ok());
    let iters_per_ms = match workload.as_str() {
        "fanout_compute" | "blockcheck_cost" => Some(calibrate_iters_per_ms()),
        "cpu_wall" => Some(given.unwrap_or_else(calibrate_iters_per_ms)),
        _ => None,
    };
    // The workload body runs as a gort task, as Go's main is a goroutine.
    gort::spawn(move || match workload.as_str() {
        "spawn_join" => spawn_join(arg(1)),
        "yield_switch" => yield_switch(arg(1)),
        "chan_pingpong" => chan_pingpong(arg(1)),
        "ring" => ring(arg(1) as usize, arg(2), "ring", None),
        "ring_small" => ring(arg(1) as usize, arg(2), "ring_small", Some(SMALL_STACK)),
        "idle_memory" => idle_memory(arg(1) as usize),
        "park_own" => park_own(arg(1) as usize, arg(2)),
        "deep_park" => deep_park(arg(1) as usize, arg(2), arg(3)),
        "fanout_compute" => fanout_compute(arg(1), arg(2), iters_per_ms.unwrap()),
        "blocking_syscall" => blocking_syscall(arg(1), arg(2), arg(3)),
        "tcp_echo_server" => tcp_echo_server(),
        "http_server" => http_server(),
        "mutex_contended" => mutex_contended(arg(1), arg(2)),
        "sleep_wakeups" => sleep_wakeups(arg(1), arg(2), arg(3)),
        "context_cancel" => context_cancel(arg(1) as usize, arg(2), arg(3)),
        "pool" => pool(arg(1)),
        "errgroup" => errgroup(arg(1), arg(2)),
        "blocking_unwrapped" => blocking_unwrapped(arg(1), arg(2), arg(3)),
        "blocking_once" => blocking_once(arg(1), arg(2), arg(3)),
        "blockcheck_cost" => blockcheck_cost(arg(1), arg(2), arg(3), iters_per_ms.unwrap()),
        "trace_cost" => trace_cost(arg(1), arg(2), arg(3)),
        "cpu_wall" => cpu_wall(arg(1), arg(2), iters_per_ms.unwrap()),
        "select8" => select8(arg(1), false),
        "select8_dyn" => select8(arg(1), true),
        "timer_churn" => timer_churn(arg(1)),
        "bubble_pingpong" => bubble_pingpong(arg(1)),
        "bubble_ticker" => bubble_ticker(arg(1)),
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
    let wall = compute_tasks(tasks, iters_per_ms * ms);
    let ideal = (tasks * ms) as f64 / 1e3 / gort::maxprocs() as f64;
    report("fanout_compute", wall.as_secs_f64() / ideal, "wall/ideal");
}

/// Spawns `tasks` tasks of `spin(iters)` each and joins them all; returns the wall time.
fn compute_tasks(tasks: u64, iters: u64) -> std::time::Duration {
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks)
        .map(|_| gort::spawn(move || spin(iters)))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    t.elapsed()
}

/// Workload 3: unbuffered ping-pong between this task and an echo task, `n` round trips.
fn chan_pingpong(n: u64) {
    pingpong(n, "chan_pingpong");
}

/// The ping-pong of [`chan_pingpong`], reported under `name`.
fn pingpong(n: u64, name: &str) {
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
    report(name, el.as_nanos() as f64 / n as f64, "ns/roundtrip");
}

/// The stack size of `ring_small`'s Gs: a reservation dense enough that the ring's page walks
/// stay cheap (docs/design.md §7, "What the reservation costs a ring of parked Gs").
const SMALL_STACK: usize = 16 * 1024;

/// Workload 4: `tasks` tasks in a ring of unbuffered channels; the token carries the hops
/// left; the task that sees 0 signals done. `ring_small` runs it with its Gs on `stack`-byte
/// stacks and reports under `name`.
fn ring(tasks: usize, hops: u64, name: &str, stack: Option<usize>) {
    let (done_tx, done_rx) = gort::chan::bounded::<()>(1);
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..tasks).map(|_| gort::chan::bounded::<u64>(0)).unzip();
    for (i, rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % tasks].clone();
        let done = done_tx.clone();
        let b = match stack {
            Some(bytes) => gort::Builder::new().stack_size(bytes),
            None => gort::Builder::new(),
        };
        drop(b.spawn(move || {
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
    report(name, t.elapsed().as_nanos() as f64 / hops as f64, "ns/hop");
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

/// Recurses `n` frames of about 1 KiB each (the array is zeroed and read, so the frame is
/// written), as `deepFrame` in the Go peer.
#[inline(never)]
fn deep_frame(n: u64) -> u64 {
    let mut buf = [0u8; 1024];
    buf[(n % 1024) as usize] = n as u8;
    let buf = std::hint::black_box(&mut buf);
    if n == 0 {
        return u64::from(buf[0]);
    }
    deep_frame(n - 1) + u64::from(buf[((n * 7) % 1024) as usize])
}

/// `n` tasks on 1 MiB stacks, each recursing `depth` frames of about 1 KiB, then parking on its
/// own unbuffered channel (created before the measurement); RSS growth per task `ms` after the
/// last one parked (the stack shrinking of parked Gs at work, runtime/src/stack.rs).
fn deep_park(n: usize, depth: u64, ms: u64) {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;
    let chans: Vec<_> = (0..n).map(|_| gort::chan::bounded::<u64>(0)).collect();
    gort::sleep(std::time::Duration::from_millis(20));
    let before = rss_bytes();
    let parked = Arc::new(AtomicUsize::new(0));
    let sink = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::with_capacity(n);
    let mut hs = Vec::with_capacity(n);
    for (tx, rx) in chans {
        let (parked, sink) = (parked.clone(), sink.clone());
        hs.push(
            gort::Builder::new()
                .stack_size(1 << 20)
                .spawn(move || {
                    sink.fetch_add(deep_frame(depth), Ordering::Relaxed);
                    parked.fetch_add(1, Ordering::Relaxed);
                    let _ = rx.recv();
                })
                .expect("spawn"),
        );
        senders.push(tx);
    }
    while parked.load(Ordering::Relaxed) < n {
        gort::sleep(std::time::Duration::from_millis(1));
    }
    gort::sleep(std::time::Duration::from_millis(ms));
    let after = rss_bytes();
    report(
        "deep_park",
        after.saturating_sub(before) as f64 / n as f64,
        "bytes/task",
    );
    for tx in senders {
        tx.send(1).unwrap();
    }
    for h in hs {
        h.join().unwrap();
    }
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

/// `rounds` times: a cancellable root, `n` contexts derived from it (shape 0: a chain, each the
/// child of the last, Go's BenchmarkCancelTree shape; shape 1: a tree of fan-out 10), one
/// cancel of the root, and everything dropped. ns per context (build + cancel + free).
fn context_cancel(n: usize, shape: u64, rounds: u64) {
    use gort::context;
    let bg = context::background();
    let t = Instant::now();
    for _ in 0..rounds {
        let (root, cancel) = context::with_cancel(&bg);
        let mut handles = Vec::with_capacity(n);
        let mut leaves = Vec::new();
        if shape == 0 {
            let mut ctx = root;
            for _ in 0..n {
                let (c, h) = context::with_cancel(&ctx);
                handles.push(h);
                ctx = c;
            }
            leaves.push(ctx);
        } else {
            let mut level = vec![root];
            let mut made = 0;
            while made < n {
                let mut next = Vec::with_capacity(level.len() * 10);
                for p in &level {
                    for _ in 0..10.min(n - made) {
                        let (c, h) = context::with_cancel(p);
                        handles.push(h);
                        next.push(c);
                        made += 1;
                    }
                }
                level = next;
            }
            leaves = level;
        }
        cancel.cancel();
        assert!(leaves.iter().all(|c| c.err().is_some()));
        drop(handles);
        drop(leaves);
    }
    let name = if shape == 0 {
        "context_chain"
    } else {
        "context_tree"
    };
    report(
        name,
        t.elapsed().as_nanos() as f64 / (n as u64 * rounds) as f64,
        "ns/context",
    );
}

/// Go's BenchmarkPool: one task per worker, each `ops` times `put(1)` then `get()` on one
/// shared `gort::sync::Pool`; wall time per get/put pair over all workers (RunParallel's
/// ns/op).
fn pool(ops: u64) {
    static POOL: gort::sync::Pool<u64> = gort::sync::Pool::new(|| 0);
    let workers = gort::maxprocs() as u64;
    let (go_tx, go_rx) = gort::chan::bounded::<()>(0);
    let hs: Vec<_> = (0..workers)
        .map(|_| {
            let go_rx = go_rx.clone();
            gort::spawn(move || {
                let _ = go_rx.recv(); // all start together
                let mut sum = 0u64;
                for _ in 0..ops {
                    POOL.put(1);
                    sum += POOL.get();
                }
                sum
            })
        })
        .collect();
    let t = Instant::now();
    drop(go_tx);
    let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    let el = t.elapsed();
    assert!(sum <= workers * ops);
    report(
        "pool",
        el.as_nanos() as f64 / (workers * ops) as f64,
        "ns/op",
    );
}

/// `rounds` times: `errgroup::with_context`, `members` members that return `Ok(())`, `wait`.
/// ns per member.
fn errgroup(members: u64, rounds: u64) {
    use gort::{context, errgroup};
    let bg = context::background();
    let t = Instant::now();
    for _ in 0..rounds {
        let (g, _ctx) = errgroup::with_context::<String>(&bg);
        for _ in 0..members {
            g.go(|| Ok(()));
        }
        g.wait().unwrap();
    }
    report(
        "errgroup",
        t.elapsed().as_nanos() as f64 / (members * rounds) as f64,
        "ns/member",
    );
}

// ---------------------------------------------------------------------------
// gort-only workloads of issue 17: blocking calls nobody wrapped, and what sysmon's check for
// them costs. Each measurement is a fresh child process (`gort_work <child workload> ...`), the
// two variants alternating, so both see the same machine; the parent reports a ratio of medians
// and prints every value on stderr.
// ---------------------------------------------------------------------------

/// Runs this program as a child with `args` (and `envs`) and returns its RESULT value and the
/// rest of its RESULT line.
fn child_result(args: &[String], envs: &[(&str, &str)]) -> (f64, String) {
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("cannot run a child gort_work");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "child {args:?} printed no RESULT: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string();
    let v = line
        .split_whitespace()
        .find_map(|t| t.strip_prefix("value="))
        .and_then(|v| v.parse().ok())
        .expect("RESULT without value");
    (v, line)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `blocking_unwrapped tasks ms pairs`: `tasks` Gs each sleep `ms` in `std::thread::sleep`,
/// once wrapped in `gort::blocking` and once unwrapped (sysmon must notice the sleeping thread),
/// alternating for `pairs` pairs of fresh processes; reports median(unwrapped) / median(wrapped)
/// of the wall times (issue 17's goal: at most 1.5, on 1 and on 2 Ps).
fn blocking_unwrapped(tasks: u64, ms: u64, pairs: u64) {
    let (mut wrapped, mut unwrapped) = (Vec::new(), Vec::new());
    for _ in 0..pairs.max(1) {
        for (mode, out) in [(1u64, &mut wrapped), (0, &mut unwrapped)] {
            let args = [
                "blocking_once",
                &mode.to_string(),
                &tasks.to_string(),
                &ms.to_string(),
            ];
            let (v, _) = child_result(&args.map(String::from), &[]);
            out.push(v);
        }
    }
    let (w, u) = (median(wrapped.clone()), median(unwrapped.clone()));
    eprintln!(
        "blocking_unwrapped: {tasks} x {ms} ms on {} Ps: wrapped {wrapped:?} ms (median {w:.1}), \
         unwrapped {unwrapped:?} ms (median {u:.1})",
        gort::maxprocs()
    );
    report("blocking_unwrapped", u / w, "unwrapped/wrapped");
}

/// `blocking_once wrapped tasks ms`: the wall time (ms) of `tasks` Gs each sleeping `ms` in
/// `std::thread::sleep`, inside `gort::blocking` if `wrapped` is 1.
fn blocking_once(wrapped: u64, tasks: u64, ms: u64) {
    let d = std::time::Duration::from_millis(ms);
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks)
        .map(|_| {
            gort::spawn(move || {
                if wrapped == 1 {
                    gort::blocking(|| std::thread::sleep(d));
                } else {
                    std::thread::sleep(d);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    report("blocking_once", t.elapsed().as_secs_f64() * 1e3, "ms");
}

/// `blockcheck_cost tasks ms pairs`: `cpu_wall tasks ms` with sysmon's unwrapped-blocking
/// check off (`GORT_DEBUG=blockcheck=0`) and on (the default), for `pairs` pairs of fresh
/// processes, the order alternating from pair to pair, all doing the same work (calibrated once,
/// here, and passed on); reports median(on) / median(off) of the
/// process CPU time (user + system, every thread, sysmon's included: what the check costs in
/// work, and steadier than wall time on a shared machine; goal at most 1.01), and prints the
/// wall times and sysmon's own CPU time of every run on stderr.
fn blockcheck_cost(tasks: u64, ms: u64, pairs: u64, iters_per_ms: u64) {
    let field = |line: &str, key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|t| t.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    // Per variant (off, on): process CPU ms, wall ms, sysmon CPU us.
    let mut runs: [(Vec<f64>, Vec<f64>, Vec<f64>); 2] = Default::default();
    for pair in 0..pairs.max(1) {
        let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
        for check in order {
            let args = [
                "cpu_wall",
                &tasks.to_string(),
                &ms.to_string(),
                &iters_per_ms.to_string(),
            ];
            let env = format!("blockcheck={check}");
            let (wall, line) = child_result(&args.map(String::from), &[("GORT_DEBUG", &env)]);
            let r = &mut runs[check];
            r.0.push(field(&line, "cpu_ms="));
            r.1.push(wall);
            r.2.push(field(&line, "sysmon_cpu_us="));
        }
    }
    let [off, on] = runs;
    let (a, b) = (median(on.0.clone()), median(off.0.clone()));
    eprintln!(
        "blockcheck_cost: {tasks} x {ms} ms CPU on {} Ps, check off / on:\n  process CPU ms \
         {:?} / {:?} (medians {b:.1} / {a:.1})\n  wall ms {:?} / {:?} (medians {:.1} / {:.1})\n  \
         sysmon CPU us {:?} / {:?} (medians {:.0} / {:.0})",
        gort::maxprocs(),
        off.0,
        on.0,
        off.1,
        on.1,
        median(off.1.clone()),
        median(on.1.clone()),
        off.2,
        on.2,
        median(off.2.clone()),
        median(on.2.clone()),
    );
    report("blockcheck_cost", a / b, "on/off");
}

/// `trace_cost tasks hops pairs`: `ring tasks hops` without and with an execution trace
/// recording (`GORT_DEBUG=trace=FILE`, a file in the temporary directory, removed after), for
/// `pairs` pairs of fresh processes, the order alternating from pair to pair; reports
/// median(on) / median(off) of ring's ns/hop (issue 18's goal: at most 1.25) and prints every
/// value and the trace's size on stderr.
fn trace_cost(tasks: u64, hops: u64, pairs: u64) {
    let path = std::env::temp_dir().join(format!("gort-trace-cost-{}.json", std::process::id()));
    let env = format!("trace={}", path.display());
    let args = ["ring", &tasks.to_string(), &hops.to_string()].map(String::from);
    let (mut off, mut on, mut bytes) = (Vec::new(), Vec::new(), 0);
    for pair in 0..pairs.max(1) {
        let order = if pair % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for traced in order {
            if traced {
                let (v, _) = child_result(&args, &[("GORT_DEBUG", &env)]);
                on.push(v);
                bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                let _ = std::fs::remove_file(&path);
            } else {
                off.push(child_result(&args, &[]).0);
            }
        }
    }
    let (a, b) = (median(on.clone()), median(off.clone()));
    eprintln!(
        "trace_cost: ring {tasks} {hops} on {} Ps, ns/hop untraced {off:?} (median {b:.0}), \
         traced {on:?} (median {a:.0}); the last trace was {bytes} bytes",
        gort::maxprocs()
    );
    report("trace_cost", a / b, "on/off");
}

/// `cpu_wall tasks ms [iters_per_ms]`: wall time (ms) of `tasks` Gs of `ms` calibrated CPU each, with no
/// scheduling point inside (so Gs of 10 ms or more meet sysmon's hog rule); also prints the
/// process CPU time over the same span (`cpu_ms=`) and the CPU time sysmon's thread used
/// (`sysmon_cpu_us=`, from its /proc schedstat).
fn cpu_wall(tasks: u64, ms: u64, iters_per_ms: u64) {
    let cpu0 = cpu_ns();
    let wall = compute_tasks(tasks, iters_per_ms * ms).as_secs_f64() * 1e3;
    let cpu = (cpu_ns() - cpu0) as f64 / 1e6;
    println!(
        "RESULT workload=cpu_wall value={wall:.3} unit=ms cpu_ms={cpu:.3} sysmon_cpu_us={:.1}",
        sysmon_cpu_ns() as f64 / 1e3
    );
}

/// On-CPU nanoseconds of the `gort-sysmon` thread so far (Linux /proc), 0 if not found.
fn sysmon_cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for e in dir.flatten() {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() == "gort-sysmon" {
            let st = std::fs::read_to_string(e.path().join("schedstat")).unwrap_or_default();
            return st
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
    }
    0
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

/// `chan_pingpong` inside a synctest bubble (gort only): what a switch costs when the bubble's
/// seeded scheduler, not a P's runnext, picks the next green thread (each round trip is two
/// switches, each a decision of the generator and a hand-over through the bubble's run set).
fn bubble_pingpong(n: u64) {
    let r = gort::synctest::test_seeded(1, move || pingpong(n, "bubble_pingpong"));
    eprintln!("bubble_pingpong: {} switches", r.switches());
}

/// A ticker of 100 ms read for `ticks` ticks in a synctest bubble (36,000: one virtual hour);
/// the wall time it takes.
fn bubble_ticker(ticks: u64) {
    let t = Instant::now();
    gort::synctest::test_seeded(1, move || {
        let tk = gort::time::tick(std::time::Duration::from_millis(100));
        for _ in 0..ticks {
            tk.recv().unwrap();
        }
    });
    report("bubble_ticker", t.elapsed().as_secs_f64() * 1e3, "ms/run");
}
