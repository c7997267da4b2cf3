//! Helpers shared by every Rust benchmark program (gort's `gort_work` and the
//! may / tokio / std::thread peers in `benches/peers/rust`, which include this
//! file with `#[path]` so that there is exactly one copy of the CPU loop, the
//! RSS probe and the HTTP framing).
//!
//! Only `std` and `libc` may be used here.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

/// The fixed HTTP response of the `http_hello` workload (same bytes in Go).
pub const HTTP_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// Size of one `tcp_echo` message (the client sends and expects 64 bytes).
pub const ECHO_MSG: usize = 64;

/// Prints the single machine-readable result line the runner parses.
pub fn report(workload: &str, value: f64, unit: &str) {
    println!("RESULT workload={workload} value={value:.3} unit={unit}");
    let _ = std::io::stdout().flush();
}

/// Tells the runner that this peer has no implementation of `workload`.
pub fn unsupported(workload: &str) {
    println!("RESULT workload={workload} unsupported=1");
    let _ = std::io::stdout().flush();
}

/// Tells the runner this peer cannot run `workload` here, and why
/// (`reason` is the rest of the line).
pub fn skipped(workload: &str, reason: &str) {
    println!("RESULT workload={workload} skipped=1 reason={reason}");
    let _ = std::io::stdout().flush();
}

/// Server workloads print this once they accept connections.
pub fn listening(port: u16) {
    println!("LISTENING port={port}");
    let _ = std::io::stdout().flush();
}

/// Worker count chosen by the runner (`BENCH_WORKERS`, default 2).
pub fn workers() -> usize {
    std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2)
}

/// Positional argument `i` (0 = workload name) parsed as a number.
pub fn arg(i: usize) -> u64 {
    let a: Vec<String> = std::env::args().skip(1).collect();
    a.get(i)
        .unwrap_or_else(|| panic!("missing argument #{i} in {a:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("bad argument #{i} in {a:?}: {e}"))
}

/// Resident set size of this process in bytes (VmRSS of /proc/self/status).
pub fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kb * 1024
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit.
pub fn raise_nofile() {
    // SAFETY: plain getrlimit/setrlimit on a stack value.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// The fixed integer loop of `fanout_compute` (xorshift64; the Go peer runs
/// the very same loop). Returns the state so it cannot be optimised away.
#[inline(never)]
pub fn spin(iters: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..black_box(iters) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

/// Calibrates `spin` on the calling thread: iterations that take 1 ms.
/// Doubles the count until one run takes >= 20 ms, then keeps the fastest of
/// three runs at that size.
pub fn calibrate_iters_per_ms() -> u64 {
    let mut n: u64 = 1 << 12;
    loop {
        let t = Instant::now();
        spin(n);
        if t.elapsed() >= Duration::from_millis(20) {
            break;
        }
        n *= 2;
    }
    let best = (0..3)
        .map(|_| {
            let t = Instant::now();
            spin(n);
            t.elapsed()
        })
        .min()
        .unwrap();
    ((n as f64) / (best.as_secs_f64() * 1e3)).max(1.0) as u64
}

/// CPU time (user + system) this process has used so far, in nanoseconds (`getrusage`).
pub fn cpu_ns() -> u64 {
    // SAFETY: `rusage` is plain integers, so all zeros is a valid value; `&mut ru` is a valid,
    // exclusive pointer for the kernel to write into; RUSAGE_SELF is always a valid target.
    let (rc, ru) = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        let rc = libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        (rc, ru)
    };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time (user + system) process `pid` has used so far, in nanoseconds, from
/// `/proc/PID/stat` (Linux; `None` elsewhere or once the process is gone). The service
/// benchmarks read a server's CPU this way around a client run.
pub fn proc_cpu_ns(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces) follow its ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of proc_pid_stat(5), 11 and 12 after the ')'.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(ticks * 1_000_000_000 / hz)
}

/// The `sleep_wakeups` measurement, the same in every program: after a warm-up of `window_ms`,
/// CPU time per wakeup over the next `window_ms`, where `wakeups()` counts wakeups so far.
pub fn sleep_wakeups_window(window_ms: u64, wakeups: impl Fn() -> u64, sleep: impl Fn(Duration)) {
    let w = Duration::from_millis(window_ms);
    sleep(w);
    let (c0, n0) = (cpu_ns(), wakeups());
    sleep(w);
    let (c1, n1) = (cpu_ns(), wakeups());
    report(
        "sleep_wakeups",
        (c1 - c0) as f64 / (n1 - n0).max(1) as f64,
        "ns_cpu/wakeup",
    );
}

/// Sleeps the calling OS thread in a real blocking `nanosleep(2)`.
pub fn blocking_nanosleep(d: Duration) {
    let ts = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: valid timespec; a null `rem` is allowed.
    unsafe {
        libc::nanosleep(&ts, std::ptr::null_mut());
    }
}

/// Removes all complete HTTP requests (GET, no body) from `buf` and returns
/// how many there were; a partial request stays in `buf`.
pub fn take_http_requests(buf: &mut Vec<u8>) -> usize {
    let mut n = 0;
    let mut start = 0;
    while let Some(pos) = buf[start..].windows(4).position(|w| w == b"\r\n\r\n") {
        start += pos + 4;
        n += 1;
    }
    buf.drain(..start);
    n
}

/// Pins the calling process's threads created from now on (and this thread)
/// to the first `n` CPUs, so `std::thread` peers honour the worker count.
/// Linux only (the benchmarks run there); elsewhere a no-op, so the
/// workspace type-checks on every platform CI checks.
#[cfg(not(target_os = "linux"))]
pub fn pin_to_first_cpus(_n: usize) {}

/// Pins the calling process's threads created from now on (and this thread)
/// to the first `n` CPUs, so `std::thread` peers honour the worker count.
#[cfg(target_os = "linux")]
pub fn pin_to_first_cpus(n: usize) {
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    if n >= cpus {
        return;
    }
    // SAFETY: cpu_set_t is plain data; sched_setaffinity(0) targets this thread
    // and is inherited by threads spawned afterwards.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in 0..n {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// errgroup's shape for peers that have no errgroup: `rounds` times, `members` tasks started by
/// `start` (each returning `Ok`), all joined by `join`, the first error kept; reports ns per
/// member as workload `errgroup`.
pub fn errgroup_rounds<H>(
    members: u64,
    rounds: u64,
    start: impl Fn() -> H,
    join: impl Fn(H) -> Result<(), String>,
) {
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        let hs: Vec<H> = (0..members).map(|_| start()).collect();
        let mut first = None;
        for h in hs {
            if let Err(e) = join(h) {
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
