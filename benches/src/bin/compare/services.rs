//! The service benchmarks: gort's example services (`examples/services`) against the same
//! services in Go, in tokio (+ hyper, + tokio-tungstenite), and against real `redis-server`,
//! driven by real clients.
//!
//! * `http_server`: `wrk -t2 -c{1000,10000} -d{5,1}s --latency` on `/` and `/json` against gort's
//!   `http_server` example, Go's net/http (`gopeer http_service`) and tokio + hyper
//!   (`hyper_server`): req/s, p99 latency, socket errors.
//! * `redis_server`: `redis-benchmark -r 100000 -t set,get,incr -c {50,1000} -P {1,16}` against
//!   gort's `redis_server` example, the Go server (`gopeer redis_service`) and `redis-server`:
//!   ops/s per test.
//! * `ws_chat`: `ws_chat_load` (benches/src/bin/ws_chat_load.rs) with 1,000 and 5,000 clients
//!   against gort's `ws_chat` example, the same hub in Go (`gopeer ws_chat_service`) and tokio +
//!   tokio-tungstenite (`ws_chat_tokio`): broadcast deliveries/s, p99 send → delivery, errors
//!   (module `ws_chat`).
//!
//! Every program is started as it is judged: `PROGRAM --addr 127.0.0.1:PORT` (redis-server with
//! `--port`), on a fresh free port, and must accept connections within 20 s. Runs are
//! interleaved (cell by cell, peer by peer, round by round); each run gets a fresh server.

mod ws_chat;

use crate::proc::tail;
use crate::report::{median, ratio};
use crate::{Kind, Opts, Row, Workload, WorkloadResult};
use gort_benches::common::proc_cpu_ns;
use std::fmt::Write as _;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The service workloads, as `--only` names them.
pub const NAMES: &[&str] = &["http_server", "redis_server", "ws_chat"];

/// Peers of the service workloads, in column order.
const HTTP_PEERS: &[&str] = &["gort", "go", "tokio"];
const REDIS_PEERS: &[&str] = &["gort", "go", "redis"];

/// wrk cells: (path, connections).
const HTTP_CELLS: &[(&str, u32)] = &[
    ("/", 1_000),
    ("/json", 1_000),
    ("/", 10_000),
    ("/json", 10_000),
];
/// redis-benchmark cells: (clients, pipeline).
const REDIS_CELLS: &[(u32, u32)] = &[(50, 1), (50, 16), (1_000, 1), (1_000, 16)];
const REDIS_TESTS: &[&str] = &["SET", "GET", "INCR"];

/// Programs and tools the service runs need; `Err` says why a peer or workload is skipped.
pub struct Programs {
    /// Directory of the built examples (`target/release/examples`).
    pub gort: Result<PathBuf, String>,
    pub go: Result<PathBuf, String>,
    /// `hyper_server` of benches/peers/rust.
    pub hyper: Result<PathBuf, String>,
    pub redis_server: Result<PathBuf, String>,
    pub wrk: Result<PathBuf, String>,
    pub redis_benchmark: Result<PathBuf, String>,
    /// `ws_chat_load`, the ws_chat client (benches/src/bin/ws_chat_load.rs).
    pub ws_load: Result<PathBuf, String>,
    /// `ws_chat_tokio` of benches/peers/rust.
    pub ws_tokio: Result<PathBuf, String>,
}

/// One wrk run.
#[derive(Clone, Copy)]
struct HttpRun {
    rps: f64,
    p99_ms: f64,
    /// connect + read + write + timeout errors, plus non-2xx responses.
    errors: u64,
    /// The server's CPU time (user + system) per completed request, in µs: what a request
    /// costs the server, which the shared machine's load does not skew the way it skews req/s.
    cpu_us: f64,
}

/// One redis-benchmark run.
#[derive(Clone, Copy)]
struct RedisRun {
    /// ops/s of SET, GET, INCR.
    ops: [f64; 3],
    /// The server's CPU time per operation over the whole run, in µs.
    cpu_us: f64,
}

/// One peer's runs of one cell.
struct PeerRuns<T> {
    runs: Vec<T>,
    note: Option<String>,
}

impl<T> Default for PeerRuns<T> {
    fn default() -> Self {
        PeerRuns {
            runs: Vec::new(),
            note: None,
        }
    }
}

struct HttpCellResult {
    path: &'static str,
    conns: u32,
    peers: Vec<(&'static str, PeerRuns<HttpRun>)>,
}

struct RedisCellResult {
    clients: u32,
    pipeline: u32,
    peers: Vec<(&'static str, PeerRuns<RedisRun>)>,
}

/// Everything the service benchmarks measured.
pub struct Services {
    http: Option<Result<Vec<HttpCellResult>, String>>,
    redis: Option<Result<Vec<RedisCellResult>, String>>,
    ws: Option<Result<Vec<ws_chat::WsCellResult>, String>>,
    rounds: usize,
    secs: u64,
    redis_n: [u64; 2],
    pub failures: usize,
}

/// Runs the selected service workloads.
pub fn run(
    opts: &Opts,
    progs: &Programs,
    wanted: &dyn Fn(&str) -> bool,
    fd_limit: u64,
) -> Services {
    let rounds = opts.rounds;
    let secs = if opts.quick { 1 } else { 5 };
    // Requests per redis-benchmark test, unpipelined and pipelined: about a second each.
    let redis_n = if opts.quick {
        [10_000, 50_000]
    } else {
        [100_000, 500_000]
    };
    let mut s = Services {
        http: None,
        redis: None,
        ws: None,
        rounds,
        secs,
        redis_n,
        failures: 0,
    };
    let workers = opts.workers.to_string();
    let selected = |n: &str| opts.only.as_ref().is_none_or(|o| o.iter().any(|x| x == n));

    if selected("http_server") {
        s.http = Some(match &progs.wrk {
            Err(e) => Err(format!("no wrk ({e})")),
            Ok(wrk) => {
                let mut cells: Vec<HttpCellResult> = HTTP_CELLS
                    .iter()
                    .map(|&(path, conns)| HttpCellResult {
                        path,
                        conns,
                        peers: HTTP_PEERS
                            .iter()
                            .map(|&p| (p, PeerRuns::default()))
                            .collect(),
                    })
                    .collect();
                for round in 0..rounds {
                    for cell in cells.iter_mut() {
                        for (peer, runs) in cell.peers.iter_mut() {
                            let fds_ok = u64::from(cell.conns) + 100 <= fd_limit;
                            let launch = http_command(peer, progs).and_then(|l| match fds_ok {
                                true => Ok(l),
                                false => Err(format!(
                                    "skipped: RLIMIT_NOFILE {fd_limit} is below {} connections",
                                    cell.conns
                                )),
                            });
                            let what = format!("http_server {:<5} c{:<5}", cell.path, cell.conns);
                            let r =
                                measure(runs, peer, wanted(peer), launch, &mut s.failures, |l| {
                                    http_run(l, &workers, wrk, cell.path, cell.conns, secs, opts)
                                });
                            if let Some(r) = r {
                                eprintln!(
                                    "[compare] {what} round {}/{rounds} {peer:<5} {:>9.0} req/s  \
                                     p99 {:>8.2} ms  errors {}  cpu {:.1} us/req",
                                    round + 1,
                                    r.rps,
                                    r.p99_ms,
                                    r.errors,
                                    r.cpu_us
                                );
                            }
                        }
                    }
                }
                Ok(cells)
            }
        });
    }

    if selected("redis_server") {
        s.redis = Some(match &progs.redis_benchmark {
            Err(e) => Err(format!("no redis-benchmark ({e})")),
            Ok(rb) => {
                let mut cells: Vec<RedisCellResult> = REDIS_CELLS
                    .iter()
                    .map(|&(clients, pipeline)| RedisCellResult {
                        clients,
                        pipeline,
                        peers: REDIS_PEERS
                            .iter()
                            .map(|&p| (p, PeerRuns::default()))
                            .collect(),
                    })
                    .collect();
                for round in 0..rounds {
                    for cell in cells.iter_mut() {
                        let n = redis_n[usize::from(cell.pipeline > 1)];
                        for (peer, runs) in cell.peers.iter_mut() {
                            let launch = redis_command(peer, progs);
                            let (c, p) = (cell.clients, cell.pipeline);
                            let r =
                                measure(runs, peer, wanted(peer), launch, &mut s.failures, |l| {
                                    redis_run(l, &workers, rb, c, p, n, opts)
                                });
                            if let Some(r) = r {
                                eprintln!(
                                    "[compare] redis_server c{c:<4} P{p:<2} round {}/{rounds} \
                                     {peer:<5} SET {:>9.0}  GET {:>9.0}  INCR {:>9.0} ops/s",
                                    round + 1,
                                    r.ops[0],
                                    r.ops[1],
                                    r.ops[2]
                                );
                            }
                        }
                    }
                }
                Ok(cells)
            }
        });
    }

    if selected("ws_chat") {
        s.ws = Some(ws_chat::run(opts, progs, wanted, fd_limit, &mut s.failures));
    }
    s
}

/// One run of one peer on one cell, unless the peer is out (not selected, not available, or
/// failed in an earlier round: a failure is counted and noted, and the peer is not run again).
fn measure<'r, T>(
    runs: &'r mut PeerRuns<T>,
    peer: &str,
    wanted: bool,
    launch: Result<Launch, String>,
    failures: &mut usize,
    run: impl FnOnce(Launch) -> Result<T, String>,
) -> Option<&'r T> {
    if runs.note.is_some() {
        return None;
    }
    if !wanted {
        runs.note = Some("not selected".into());
        return None;
    }
    let launch = match launch {
        Ok(l) => l,
        Err(e) => {
            runs.note = Some(e);
            return None;
        }
    };
    match run(launch) {
        Ok(r) => {
            runs.runs.push(r);
            runs.runs.last()
        }
        Err(e) => {
            *failures += 1;
            eprintln!("[compare] FAILED {peer}: {e}");
            runs.note = Some(format!("FAILED: {}", e.lines().next().unwrap_or("")));
            None
        }
    }
}

/// How to start a server peer, given the address: program and arguments.
type Launch = Box<dyn Fn(&str) -> Command>;

/// `EXE PRE… --addr ADDR`.
fn with_addr(exe: PathBuf, pre: &'static [&'static str]) -> Launch {
    Box::new(move |addr: &str| {
        let mut c = Command::new(&exe);
        c.args(pre).args(["--addr", addr]);
        c
    })
}

fn http_command(peer: &str, progs: &Programs) -> Result<Launch, String> {
    match peer {
        "gort" => Ok(with_addr(progs.gort.clone()?.join("http_server"), &[])),
        "go" => Ok(with_addr(progs.go.clone()?, &["http_service"])),
        "tokio" => Ok(with_addr(progs.hyper.clone()?, &[])),
        _ => Err("n/a".into()),
    }
}

fn redis_command(peer: &str, progs: &Programs) -> Result<Launch, String> {
    match peer {
        "gort" => Ok(with_addr(progs.gort.clone()?.join("redis_server"), &[])),
        "go" => Ok(with_addr(progs.go.clone()?, &["redis_service"])),
        "redis" => {
            let exe = progs.redis_server.clone()?;
            Ok(Box::new(move |addr: &str| {
                let port = addr.rsplit(':').next().unwrap_or("0");
                let mut c = Command::new(&exe);
                c.args(["--port", port, "--bind", "127.0.0.1", "--save", ""])
                    .args(["--appendonly", "no", "--protected-mode", "no"])
                    .args(["--maxclients", "20000", "--loglevel", "warning"]);
                c
            }))
        }
        _ => Err("n/a".into()),
    }
}

/// A server under test: killed on drop; its stderr kept for error messages.
struct Running {
    child: Child,
    addr: String,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Running {
    /// Starts the peer on a free port with `workers` Ps / threads and waits (20 s at most)
    /// until it accepts a connection.
    fn start(launch: &Launch, workers: &str) -> Result<Running, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut c = launch(&addr);
        c.env("GOMAXPROCS", workers)
            .env("GORT_MAXPROCS", workers)
            .env("BENCH_WORKERS", workers)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| format!("cannot start {c:?}: {e}"))?;
        let mut err = child.stderr.take().expect("piped");
        let stderr = Some(thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }));
        let mut r = Running {
            child,
            addr,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(&r.addr).is_ok() {
                return Ok(r);
            }
            if let Ok(Some(st)) = r.child.try_wait() {
                return Err(format!(
                    "{c:?} exited ({st}) before listening\n{}",
                    r.stderr_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{c:?} did not listen within 20 s\n{}",
                    r.stderr_tail()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// CPU time (user + system) the server has used so far, in seconds.
    fn cpu_secs(&self) -> f64 {
        proc_cpu_ns(self.child.id()).unwrap_or(0) as f64 / 1e9
    }

    /// Stops the server; an error if it had died during the run.
    fn stop(mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(st)) => Err(format!(
                "server died during the run ({st})\n{}",
                self.stderr_tail()
            )),
            _ => Ok(()),
        }
    }

    fn stderr_tail(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let s = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        format!("--- server stderr (tail) ---\n{}", tail(&s, 10))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_run(
    launch: Launch,
    workers: &str,
    wrk: &Path,
    path: &str,
    conns: u32,
    secs: u64,
    opts: &Opts,
) -> Result<HttpRun, String> {
    let server = Running::start(&launch, workers)?;
    let mut c = Command::new(wrk);
    c.args([
        "-t2",
        &format!("-c{conns}"),
        &format!("-d{secs}s"),
        "--latency",
    ])
    .arg(format!("http://{}{path}", server.addr));
    let cpu0 = server.cpu_secs();
    let f = crate::proc::run(c, opts.timeout);
    let cpu = server.cpu_secs() - cpu0;
    server.stop()?;
    match parse_wrk(&f.stdout) {
        Some((mut r, requests)) if f.ok && requests > 0 => {
            r.cpu_us = cpu * 1e6 / requests as f64;
            Ok(r)
        }
        _ => Err(format!(
            "wrk: {}\n--- wrk output ---\n{}\n{}",
            f.status,
            tail(&f.stdout, 14),
            tail(&f.stderr, 4)
        )),
    }
}

/// req/s, p99 and errors from `wrk --latency` output, and the count of requests completed.
fn parse_wrk(out: &str) -> Option<(HttpRun, u64)> {
    let rps = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()?;
    let p99 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))?
        .trim();
    let p99_ms = if let Some(v) = p99.strip_suffix("us") {
        v.parse::<f64>().ok()? / 1e3
    } else if let Some(v) = p99.strip_suffix("ms") {
        v.parse::<f64>().ok()?
    } else if let Some(v) = p99.strip_suffix('s') {
        v.parse::<f64>().ok()? * 1e3
    } else if let Some(v) = p99.strip_suffix('m') {
        v.parse::<f64>().ok()? * 60e3
    } else {
        return None;
    };
    let count = |prefix: &str| -> u64 {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map_or(0, |rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .filter_map(|t| t.parse::<u64>().ok())
                    .sum()
            })
    };
    let requests = out
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())?;
    let errors = count("Socket errors:") + count("Non-2xx or 3xx responses:");
    let r = HttpRun {
        rps,
        p99_ms,
        errors,
        cpu_us: 0.0,
    };
    Some((r, requests))
}

fn redis_run(
    launch: Launch,
    workers: &str,
    rb: &Path,
    clients: u32,
    pipeline: u32,
    n: u64,
    opts: &Opts,
) -> Result<RedisRun, String> {
    let server = Running::start(&launch, workers)?;
    let port = server.addr.rsplit(':').next().unwrap_or("0").to_string();
    let mut c = Command::new(rb);
    c.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-r",
        "100000",
        "-t",
        "set,get,incr",
    ])
    .args(["-c", &clients.to_string(), "-P", &pipeline.to_string()])
    .args(["-n", &n.to_string(), "--csv"]);
    let cpu0 = server.cpu_secs();
    let f = crate::proc::run(c, opts.timeout);
    let cpu = server.cpu_secs() - cpu0;
    server.stop()?;
    match parse_redis_csv(&f.stdout) {
        Some(ops) if f.ok => Ok(RedisRun {
            ops,
            cpu_us: cpu * 1e6 / (3 * n) as f64,
        }),
        _ => Err(format!(
            "redis-benchmark: {}\n--- output ---\n{}\n{}",
            f.status,
            tail(&f.stdout, 6),
            tail(&f.stderr, 4)
        )),
    }
}

/// ops/s of SET, GET, INCR from `redis-benchmark --csv` (`"SET","98039.22",...`).
fn parse_redis_csv(out: &str) -> Option<[f64; 3]> {
    let mut r = [0.0; 3];
    for (i, t) in REDIS_TESTS.iter().enumerate() {
        let line = out.lines().find(|l| l.starts_with(&format!("\"{t}\",")))?;
        r[i] = line.split(',').nth(1)?.trim_matches('"').parse().ok()?;
    }
    Some(r)
}

fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// A peer's runs of one cell, by name.
fn runs_of<'a, T>(peers: &'a [(&'static str, PeerRuns<T>)], p: &str) -> Option<&'a PeerRuns<T>> {
    peers.iter().find(|x| x.0 == p).map(|x| &x.1)
}

/// A table cell: the median of `f` over a peer's runs, or why it has none.
fn median_cell<T>(
    peers: &[(&'static str, PeerRuns<T>)],
    p: &str,
    f: impl Fn(&T) -> f64,
    show: impl Fn(f64) -> String,
) -> String {
    match runs_of(peers, p) {
        Some(r) if !r.runs.is_empty() => show(median(&r.runs.iter().map(f).collect::<Vec<_>>())),
        Some(r) => r.note.clone().unwrap_or_else(|| "–".into()),
        None => "–".into(),
    }
}

/// A table cell: the median of the per-round ratios `f(a) / f(b)`.
fn ratio_cell<T>(
    peers: &[(&'static str, PeerRuns<T>)],
    a: &str,
    b: &str,
    f: impl Fn(&T) -> f64,
) -> String {
    let values = |r: &PeerRuns<T>| r.runs.iter().map(|t| Some(f(t))).collect::<Vec<_>>();
    match (runs_of(peers, a), runs_of(peers, b)) {
        (Some(x), Some(y)) => {
            ratio(&values(x), &values(y)).map_or("–".into(), |v| format!("{v:.2}"))
        }
        _ => "–".into(),
    }
}

/// A table cell of one figure per peer, `a / b / c`: `show` of the peer's runs, or "–".
fn per_peer<T>(
    peers: &[(&'static str, PeerRuns<T>)],
    names: &[&str],
    show: impl Fn(&[T]) -> String,
) -> String {
    names
        .iter()
        .map(|p| {
            runs_of(peers, p)
                .filter(|r| !r.runs.is_empty())
                .map_or("–".into(), |r| show(&r.runs))
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The median of `f` over some runs.
fn median_of<T>(runs: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(&runs.iter().map(f).collect::<Vec<_>>())
}

/// The eight cells of a rate + p99 row of gort, Go and tokio, joined by ` | `: the three
/// median rates, gort/go, the three median p99s, gort/go.
fn rate_p99_cells<T>(
    peers: &[(&'static str, PeerRuns<T>)],
    rate: fn(&T) -> f64,
    p99: fn(&T) -> f64,
) -> String {
    [(rate, fmt_rate as fn(f64) -> String), (p99, fmt_ms)]
        .into_iter()
        .flat_map(|(f, show)| {
            ["gort", "go", "tokio"]
                .into_iter()
                .map(move |q| median_cell(peers, q, f, show))
                .chain([ratio_cell(peers, "gort", "go", f)])
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A chart group of one cell: per peer, `f` of each round.
fn chart_group<T>(
    name: String,
    unit: &'static str,
    higher_better: bool,
    peers: &[(&'static str, PeerRuns<T>)],
    f: impl Fn(&T) -> f64,
) -> WorkloadResult {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let w: &'static Workload = Box::leak(Box::new(Workload {
        name: leak(name),
        prog: "",
        kind: Kind::Plain,
        one_worker: false,
        unit,
        higher_better,
        ..crate::BASE
    }));
    WorkloadResult {
        w,
        rows: peers
            .iter()
            .map(|(p, r)| Row {
                peer: p,
                values: r.runs.iter().map(|x| Some(f(x))).collect(),
                note: r.note.clone(),
            })
            .collect(),
        skipped: None,
    }
}

/// `1000` → `1k`, for chart labels.
fn thousands(n: u32) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

impl Services {
    /// The Markdown section of docs/benchmarks.md.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        if let Some(h) = &self.http {
            let _ = writeln!(
                md,
                "\n## http_server — req/s (higher is better), p99 latency (lower is better)\n\n\
                 `wrk -t2 -c<conns> -d{}s --latency http://127.0.0.1:PORT<path>` against gort's \
                 `http_server` example (`examples/services`), Go's net/http (`gopeer \
                 http_service`) and tokio + hyper (`hyper_server`), the same endpoints and \
                 timeouts in each; {} round(s) interleaved, a fresh server per run. Cells: median \
                 req/s and median p99 over the rounds; **gort/go** is the median of the \
                 per-round ratios (req/s: > 1 is better for gort; p99: < 1 is better for \
                 gort); errors: wrk's socket errors (connect, read, write, timeout) plus non-2xx \
                 responses, summed over the rounds.\n",
                self.secs, self.rounds
            );
            match h {
                Err(e) => {
                    let _ = writeln!(md, "Skipped: {e}.");
                }
                Ok(cells) => {
                    let _ = writeln!(
                        md,
                        "| path | conns | gort req/s | go req/s | tokio req/s | gort/go req/s | \
                         gort p99 | go p99 | tokio p99 | gort/go p99 | errors gort / go / tokio | \
                         server CPU µs/req gort / go / tokio |"
                    );
                    let _ = writeln!(
                        md,
                        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
                    );
                    for c in cells {
                        let p = &c.peers;
                        let errs = per_peer(p, HTTP_PEERS, |r| {
                            r.iter().map(|x| x.errors).sum::<u64>().to_string()
                        });
                        let cpu = per_peer(p, HTTP_PEERS, |r| {
                            format!("{:.1}", median_of(r, |x| x.cpu_us))
                        });
                        let _ = writeln!(
                            md,
                            "| `{}` | {} | {} | {errs} | {cpu} |",
                            c.path,
                            c.conns,
                            rate_p99_cells(p, |r| r.rps, |r| r.p99_ms),
                        );
                    }
                }
            }
        }
        if let Some(r) = &self.redis {
            let _ = writeln!(
                md,
                "\n## redis_server — ops/s (higher is better)\n\n\
                 `redis-benchmark -r 100000 -t set,get,incr -c <clients> -P <pipeline> -n \
                 {}|{}` (unpipelined|pipelined) against gort's `redis_server` example, the same \
                 server in Go (`gopeer redis_service`) and real `redis-server` (single-threaded, \
                 the reference point); {} round(s) interleaved, a fresh server per run. Cells: \
                 median ops/s; **gort/go** and **gort/redis** are medians of the per-round \
                 ratios (> 1 is better for gort).\n",
                self.redis_n[0], self.redis_n[1], self.rounds
            );
            match r {
                Err(e) => {
                    let _ = writeln!(md, "Skipped: {e}.");
                }
                Ok(cells) => {
                    let _ = writeln!(
                        md,
                        "| test | clients | pipeline | gort | go | redis-server | gort/go | gort/redis | \
                         server CPU µs/op gort / go / redis |"
                    );
                    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
                    for c in cells {
                        let p = &c.peers;
                        let cpu = per_peer(p, REDIS_PEERS, |r| {
                            format!("{:.2}", median_of(r, |x| x.cpu_us))
                        });
                        for (t, name) in REDIS_TESTS.iter().enumerate() {
                            let ops = |x: &RedisRun| x.ops[t];
                            let _ = writeln!(
                                md,
                                "| {name} | {} | {} | {} | {} | {} | {} | {} | {} |",
                                c.clients,
                                c.pipeline,
                                median_cell(p, "gort", ops, fmt_rate),
                                median_cell(p, "go", ops, fmt_rate),
                                median_cell(p, "redis", ops, fmt_rate),
                                ratio_cell(p, "gort", "go", ops),
                                ratio_cell(p, "gort", "redis", ops),
                                // The CPU figure covers the three tests of a run: shown once.
                                if t == 0 { cpu.as_str() } else { "″" }
                            );
                        }
                    }
                }
            }
        }
        if let Some(w) = &self.ws {
            ws_chat::markdown(&mut md, w, self.rounds);
        }
        md
    }

    /// The service figures as chart groups: req/s and p99 per wrk cell, per redis cell the
    /// mean ops/s of SET, GET and INCR, and deliveries/s and p99 per ws_chat cell.
    pub fn chart_results(&self) -> Vec<WorkloadResult> {
        let mut out = Vec::new();
        if let Some(Ok(cells)) = &self.http {
            for c in cells {
                let k = thousands(c.conns);
                out.push(chart_group(
                    format!("{} c{k} req/s", c.path),
                    "req/s",
                    true,
                    &c.peers,
                    |r| r.rps,
                ));
                out.push(chart_group(
                    format!("{} c{k} p99", c.path),
                    "ms",
                    false,
                    &c.peers,
                    |r| r.p99_ms,
                ));
            }
        }
        if let Some(Ok(cells)) = &self.redis {
            for c in cells {
                out.push(chart_group(
                    format!("redis c{} P{}", c.clients, c.pipeline),
                    "ops/s",
                    true,
                    &c.peers,
                    |x| x.ops.iter().sum::<f64>() / 3.0,
                ));
            }
        }
        if let Some(Ok(cells)) = &self.ws {
            out.extend(ws_chat::chart(cells));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output() {
        let out = "Running 1s test @ http://127.0.0.1:1/\n  2 threads and 1000 connections\n\
                   \x20 Latency Distribution\n     50%    1.00ms\n     99%  850.00us\n\
                   \x20 100 requests in 1.00s, 1.00KB read\n\
                   \x20 Socket errors: connect 0, read 3, write 0, timeout 12\n\
                   \x20 Non-2xx or 3xx responses: 2\nRequests/sec:  96000.50\n";
        let (r, n) = parse_wrk(out).unwrap();
        assert_eq!(n, 100);
        assert_eq!(r.rps, 96000.5);
        assert!((r.p99_ms - 0.85).abs() < 1e-9);
        assert_eq!(r.errors, 17);
        let out = "  7 requests in 1.00s, 1KB read\nRequests/sec: 1\n     99%    1.20s\n";
        assert!(parse_wrk(out).is_some_and(|(r, n)| r.p99_ms == 1200.0 && n == 7));
    }

    #[test]
    fn redis_csv() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\"\n\"SET\",\"98039.22\",\"0.3\"\n\
                   \"GET\",\"100000.00\",\"0.3\"\n\"INCR\",\"90000.50\",\"0.3\"\n";
        assert_eq!(parse_redis_csv(out), Some([98039.22, 100000.0, 90000.5]));
        assert_eq!(parse_redis_csv("\"SET\",\"1\"\n"), None);
    }
}
