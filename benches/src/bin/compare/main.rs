//! The comparison runner: builds the same workloads for gort, Go, may, tokio
//! and std::thread, runs them interleaved, writes a table and a chart.
//!
//! ```text
//! cargo run --release -p gort-benches --bin compare [-- --quick] [--workers N]
//!     [--rounds N] [--only w1,w2] [--peers p1,p2] [--timeout SECS]
//! ```
//! See benches/README.md. Exit status: 0 unless a peer program crashed, hung
//! or printed no result, or one of our programs failed to build. A missing
//! Go toolchain or wrk is a note in the report, not an error.

mod proc;
mod report;
mod services;
mod setup;

use proc::{outcome_of, run, Outcome, Server};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How a workload is driven.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    /// The program runs the workload and prints RESULT.
    Plain,
    /// The program serves echo; our Go client measures (sizes: conns, rounds).
    TcpEcho,
    /// The program serves HTTP; wrk measures (sizes: seconds).
    Http,
}

/// One table entry.
pub struct Workload {
    pub name: &'static str,
    /// Workload name passed to the programs.
    pub prog: &'static str,
    pub kind: Kind,
    /// Run with one worker whatever `--workers` says.
    pub one_worker: bool,
    pub unit: &'static str,
    pub higher_better: bool,
    pub what: &'static str,
    pub full: &'static [u64],
    pub quick: &'static [u64],
    /// Reduced sizes for std::thread where the full size makes no sense.
    pub thread_full: Option<&'static [u64]>,
    pub thread_quick: Option<&'static [u64]>,
    /// For a server workload: report the server's CPU time per round trip or request instead
    /// of the client's throughput.
    pub server_cpu: bool,
}

impl Workload {
    pub fn sizes(&self, peer: &str, quick: bool) -> &'static [u64] {
        let t = if quick {
            self.thread_quick
        } else {
            self.thread_full
        };
        match (peer, t) {
            ("thread", Some(t)) => t,
            _ if quick => self.quick,
            _ => self.full,
        }
    }
}

/// Defaults of a table entry (a plain, lower-is-better workload).
const BASE: Workload = Workload {
    name: "",
    prog: "",
    kind: Kind::Plain,
    one_worker: false,
    unit: "",
    higher_better: false,
    what: "",
    full: &[],
    quick: &[],
    thread_full: None,
    thread_quick: None,
    server_cpu: false,
};

/// The workloads, in table order. Sizes are the programs' arguments.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "spawn_join",
        prog: "spawn_join",
        unit: "ns/task",
        what: "spawn N tiny tasks, then join them all (args: N)",
        full: &[1_000_000],
        quick: &[100_000],
        // A million live OS threads is impossible; spawned/joined per 1,000.
        thread_full: Some(&[20_000]),
        thread_quick: Some(&[2_000]),
        ..BASE
    },
    Workload {
        name: "yield_switch",
        prog: "yield_switch",
        one_worker: true,
        unit: "ns/switch",
        what: "two tasks yielding to each other on ONE worker (args: switches)",
        full: &[1_000_000],
        quick: &[100_000],
        thread_full: Some(&[200_000]),
        thread_quick: Some(&[20_000]),
        ..BASE
    },
    Workload {
        name: "chan_pingpong_1w",
        prog: "chan_pingpong",
        one_worker: true,
        unit: "ns/roundtrip",
        what: "unbuffered channel ping-pong on ONE worker (args: round trips)",
        full: &[1_000_000],
        quick: &[100_000],
        thread_full: Some(&[50_000]),
        thread_quick: Some(&[5_000]),
        ..BASE
    },
    Workload {
        name: "chan_pingpong",
        prog: "chan_pingpong",
        unit: "ns/roundtrip",
        what: "unbuffered channel ping-pong on all workers (args: round trips)",
        full: &[1_000_000],
        quick: &[100_000],
        thread_full: Some(&[50_000]),
        thread_quick: Some(&[5_000]),
        ..BASE
    },
    Workload {
        name: "ring",
        prog: "ring",
        unit: "ns/hop",
        what: "a token passed round a ring of tasks (args: tasks, hops)",
        full: &[10_000, 1_000_000],
        quick: &[1_000, 100_000],
        thread_full: Some(&[10_000, 100_000]),
        thread_quick: Some(&[1_000, 10_000]),
        ..BASE
    },
    Workload {
        name: "ring_small",
        prog: "ring_small",
        unit: "ns/hop",
        what: "ring with gort's Gs on 16 KiB stacks (Builder::stack_size) instead of the default \
               256 KiB reservation: the stacks' spacing is what this row changes (docs/design.md \
               §7); Go as in ring; Go and gort only (args: tasks, hops)",
        full: &[10_000, 1_000_000],
        quick: &[1_000, 100_000],
        ..BASE
    },
    Workload {
        name: "idle_memory",
        prog: "idle_memory",
        unit: "bytes/task",
        what: "RSS growth per task parked on a channel receive (args: tasks)",
        full: &[100_000],
        quick: &[10_000],
        thread_full: Some(&[10_000]),
        thread_quick: Some(&[2_000]),
        ..BASE
    },
    Workload {
        name: "park_own_memory",
        prog: "park_own",
        unit: "bytes/task",
        what: "RSS growth per task, each parked on its own unbuffered channel, channels \
               excluded (args: tasks, 0); Go and gort only",
        full: &[1_000_000, 0],
        quick: &[100_000, 0],
        ..BASE
    },
    Workload {
        name: "deep_park",
        prog: "deep_park",
        unit: "bytes/task",
        what: "RSS growth per task, each on a 1 MiB stack (gort) recursing D frames of 1 KiB \
               then parked on its own channel, T ms after the last parked; Go runs 8 GCs and \
               debug.FreeOSMemory meanwhile (args: tasks, D, T); Go and gort only",
        full: &[10_000, 192, 1_000],
        quick: &[2_000, 192, 1_000],
        ..BASE
    },
    Workload {
        name: "park_own_time",
        prog: "park_own",
        unit: "ns/task",
        what: "time to spawn the tasks and see them all started, each then parking on its \
               own unbuffered channel (args: tasks, 1); Go and gort only",
        full: &[1_000_000, 1],
        quick: &[100_000, 1],
        ..BASE
    },
    Workload {
        name: "fanout_compute",
        prog: "fanout_compute",
        unit: "wall/ideal",
        what: "tasks of calibrated CPU work; wall time / (total CPU / workers) \
               (args: tasks, ms each)",
        full: &[1_000, 1],
        quick: &[200, 1],
        ..BASE
    },
    Workload {
        name: "blocking_syscall",
        prog: "blocking_syscall",
        unit: "ms",
        what: "latency of a task doing 1,000 yields while N tasks sit in a blocking \
               nanosleep(2) (args: N, ms, yields)",
        full: &[100, 50, 1_000],
        quick: &[50, 50, 1_000],
        ..BASE
    },
    Workload {
        name: "blocking_unwrapped_1w",
        prog: "blocking_unwrapped",
        one_worker: true,
        unit: "unwrapped/wrapped",
        what: "N tasks each in a std::thread::sleep of M ms, NOT wrapped in gort::blocking \
               (sysmon must see the sleeping thread) vs wrapped: median wall time unwrapped / \
               median wrapped, over P pairs of fresh processes alternating, on ONE worker \
               (args: N, M, P); gort only (goal <= 1.5)",
        full: &[200, 200, 3],
        quick: &[50, 50, 1],
        ..BASE
    },
    Workload {
        name: "blocking_unwrapped",
        prog: "blocking_unwrapped",
        unit: "unwrapped/wrapped",
        what: "as blocking_unwrapped_1w on all workers (args: N, M, P); gort only \
               (goal <= 1.5)",
        full: &[200, 200, 3],
        quick: &[50, 50, 1],
        ..BASE
    },
    Workload {
        name: "blockcheck_hogs",
        prog: "blockcheck_cost",
        unit: "on/off",
        what: "N tasks of M ms CPU with no scheduling point (sysmon's hog rule at work): \
               median process CPU time (all threads, sysmon's included) with sysmon's \
               unwrapped-blocking check on / off (GORT_DEBUG=blockcheck=0), P pairs of fresh \
               processes alternating (args: N, M, P); gort only (goal <= 1.01)",
        full: &[40, 50, 5],
        quick: &[8, 50, 1],
        ..BASE
    },
    Workload {
        name: "blockcheck_fanout",
        prog: "blockcheck_cost",
        unit: "on/off",
        what: "as blockcheck_hogs with short tasks (args: N, M, P); gort only (goal <= 1.01)",
        full: &[1_000, 1, 5],
        quick: &[200, 1, 1],
        ..BASE
    },
    Workload {
        name: "trace_ring",
        prog: "trace_cost",
        unit: "on/off",
        what: "ring (args: N tasks, H hops) with an execution trace recording to a file \
               (GORT_DEBUG=trace=FILE) / without: median ns/hop traced / median untraced, over \
               P pairs of fresh processes alternating (args: N, H, P); gort only (goal <= 1.25)",
        full: &[10_000, 300_000, 7],
        quick: &[1_000, 20_000, 1],
        ..BASE
    },
    Workload {
        name: "tcp_echo",
        prog: "tcp_echo_server",
        kind: Kind::TcpEcho,
        unit: "rt/s",
        higher_better: true,
        what: "64-byte echo round trips from our Go client in another process \
               (args: connections, round trips each)",
        full: &[1_000, 100],
        quick: &[100, 20],
        ..BASE
    },
    Workload {
        name: "http_hello",
        prog: "http_server",
        kind: Kind::Http,
        unit: "req/s",
        higher_better: true,
        what: "wrk -t1 -c256 against a minimal keep-alive HTTP/1.1 responder (args: seconds)",
        full: &[5],
        quick: &[1],
        ..BASE
    },
    Workload {
        name: "tcp_echo_cpu",
        prog: "tcp_echo_server",
        kind: Kind::TcpEcho,
        server_cpu: true,
        unit: "ns_cpu/rt",
        what: "as tcp_echo: the server process's CPU time (all threads, user + system, from \
               /proc/PID/stat) over the client's run, per round trip",
        full: &[1_000, 100],
        quick: &[100, 500],
        ..BASE
    },
    Workload {
        name: "http_hello_cpu",
        prog: "http_server",
        kind: Kind::Http,
        server_cpu: true,
        unit: "ns_cpu/req",
        what: "as http_hello: the server process's CPU time (all threads, user + system) over \
               wrk's run, per request wrk counted",
        full: &[5],
        quick: &[1],
        ..BASE
    },
    Workload {
        name: "mutex_contended",
        prog: "mutex_contended",
        unit: "ns/op",
        what: "tasks incrementing one counter under the peer's mutex \
               (args: tasks, increments each)",
        full: &[1_000, 1_000],
        quick: &[100, 1_000],
        // Fewer OS threads, same kind of contention.
        thread_full: Some(&[10, 100_000]),
        thread_quick: Some(&[10, 10_000]),
        ..BASE
    },
    Workload {
        name: "sleep_wakeups",
        prog: "sleep_wakeups",
        unit: "ns_cpu/wakeup",
        what: "tasks each sleeping 10 ms in a loop: process CPU time per wakeup over a window \
               that follows a warm-up of the same length (args: tasks, ms, window ms)",
        full: &[10_000, 10, 1_000],
        quick: &[2_000, 10, 300],
        thread_full: Some(&[1_000, 10, 1_000]),
        thread_quick: Some(&[500, 10, 300]),
        ..BASE
    },
    Workload {
        name: "context_chain",
        prog: "context_cancel",
        unit: "ns/context",
        what: "a chain of N contexts, each derived from the last (Go's BenchmarkCancelTree), \
               ended by one cancel of the root; build + cancel (+ free) per context \
               (args: N, 0, rounds); Go and gort only",
        full: &[100_000, 0, 10],
        quick: &[10_000, 0, 3],
        ..BASE
    },
    Workload {
        name: "context_tree",
        prog: "context_cancel",
        unit: "ns/context",
        what: "a tree of N contexts of fan-out 10 ended by one cancel of the root; build + \
               cancel (+ free) per context (args: N, 1, rounds); Go and gort only",
        full: &[100_000, 1, 10],
        quick: &[10_000, 1, 3],
        ..BASE
    },
    Workload {
        name: "pool",
        prog: "pool",
        unit: "ns/op",
        what: "Go's BenchmarkPool: one task per worker, each put(1) then get() on one shared \
               pool N times; wall time per pair (args: N); Go and gort only",
        full: &[10_000_000],
        quick: &[1_000_000],
        ..BASE
    },
    Workload {
        name: "errgroup",
        prog: "errgroup",
        unit: "ns/member",
        what: "an errgroup with a context, M members returning Ok, wait; per member \
               (args: M, rounds)",
        full: &[10_000, 20],
        quick: &[10_000, 3],
        thread_full: Some(&[1_000, 5]),
        thread_quick: Some(&[1_000, 2]),
        ..BASE
    },
    Workload {
        name: "select8",
        prog: "select8",
        unit: "ns/op",
        what: "8 tasks each fill their own channel (capacity 16); one task receives everything \
               through a select over the 8 channels: gort's select!, Go's select statement \
               (args: values); Go and gort only",
        full: &[1_000_000],
        quick: &[100_000],
        ..BASE
    },
    Workload {
        name: "select8_dyn",
        prog: "select8_dyn",
        unit: "ns/op",
        what: "select8 through a select over a runtime-built set: gort::chan::Select, Go's \
               reflect.Select (args: values); Go and gort only",
        full: &[1_000_000],
        quick: &[100_000],
        ..BASE
    },
    Workload {
        name: "timer_churn",
        prog: "timer_churn",
        unit: "ns/op",
        what: "a select loop receiving values from an unbuffered channel against a fresh \
               one-second timer per select (gort::time::after, Go's time.After) \
               (args: selects); Go and gort only",
        full: &[1_000_000],
        quick: &[100_000],
        ..BASE
    },
];

/// Peers, in column order; `gort` first.
pub const PEERS: &[&str] = &["gort", "go", "may", "tokio", "thread", "gort-base"];

/// Peers run when `--peers` is not given (`gort-base` only with `--gort-base`).
const DEFAULT_PEERS: &[&str] = &["gort", "go", "may", "tokio", "thread"];

/// Peers of the service workloads only: real `redis-server`, the reference for `redis_server`.
pub const SERVICE_ONLY_PEERS: &[&str] = &["redis"];

/// Command-line options.
pub struct Opts {
    pub quick: bool,
    pub workers: usize,
    pub rounds: usize,
    pub only: Option<Vec<String>>,
    pub peers: Vec<String>,
    pub timeout: Duration,
    pub args: Vec<String>,
    /// `--gort-base PATH`: another build of `gort_work` (say, main's), run as the peer
    /// `gort-base` beside `gort`, so a change's cost is a gort/gort-base ratio of interleaved
    /// runs.
    pub gort_base: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo run --release -p gort-benches --bin compare -- [--quick] [--workers N] \
         [--rounds N] [--only w1,w2] [--peers {},{}] [--timeout SECS] [--gort-base PATH]\n\
         workloads: {},{}",
        PEERS.join(","),
        SERVICE_ONLY_PEERS.join(","),
        WORKLOADS
            .iter()
            .map(|w| w.name)
            .collect::<Vec<_>>()
            .join(","),
        services::NAMES.join(",")
    );
    std::process::exit(2)
}

fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        quick: false,
        workers: 2,
        rounds: 0,
        only: None,
        peers: DEFAULT_PEERS
            .iter()
            .chain(SERVICE_ONLY_PEERS)
            .map(|s| s.to_string())
            .collect(),
        timeout: Duration::from_secs(120),
        args: args.clone(),
        gort_base: None,
    };
    let mut it = args.into_iter();
    let list = |v: Option<String>| -> Vec<String> {
        v.unwrap_or_else(|| usage())
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let num = |v: Option<String>| -> usize {
        v.and_then(|s| s.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| usage())
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--workers" => o.workers = num(it.next()),
            "--rounds" => o.rounds = num(it.next()),
            "--timeout" => o.timeout = Duration::from_secs(num(it.next()) as u64),
            "--only" => o.only = Some(list(it.next())),
            "--peers" => o.peers = list(it.next()),
            "--gort-base" => {
                o.gort_base = Some(PathBuf::from(it.next().unwrap_or_else(|| usage())))
            }
            _ => usage(),
        }
    }
    if o.rounds == 0 {
        o.rounds = if o.quick { 1 } else { 5 };
    }
    for w in o.only.iter().flatten() {
        if !WORKLOADS.iter().any(|x| x.name == w) && !services::NAMES.contains(&w.as_str()) {
            eprintln!("unknown workload {w}");
            usage();
        }
    }
    for p in &o.peers {
        if !PEERS.contains(&p.as_str()) && !SERVICE_ONLY_PEERS.contains(&p.as_str()) {
            eprintln!("unknown peer {p}");
            usage();
        }
    }
    if o.gort_base.is_some() && !o.peers.iter().any(|p| p == "gort-base") {
        o.peers.push("gort-base".into());
    }
    // Runs (and the report) follow PEERS' order.
    o.peers
        .sort_by_key(|p| PEERS.iter().chain(SERVICE_ONLY_PEERS).position(|x| x == p));
    o.peers.dedup();
    o
}

/// A peer ready to run, or why it is not.
pub struct Peer {
    pub name: &'static str,
    pub exe: Result<PathBuf, String>,
}

/// Results of one workload: per peer, one entry per round.
pub struct Row {
    pub peer: &'static str,
    pub values: Vec<Option<f64>>,
    /// Why there are no values (n/a, skipped, failed, not selected).
    pub note: Option<String>,
}

pub struct WorkloadResult {
    pub w: &'static Workload,
    pub rows: Vec<Row>,
    /// Why the whole workload was skipped.
    pub skipped: Option<String>,
}

/// Tools found (or not) for the network workloads.
pub struct Tools {
    pub go_client: Result<PathBuf, String>,
    pub wrk: Result<PathBuf, String>,
}

fn main() {
    let opts = parse_opts();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf();
    let selected: Vec<&'static Workload> = WORKLOADS
        .iter()
        .filter(|w| {
            opts.only
                .as_ref()
                .is_none_or(|o| o.iter().any(|n| n == w.name))
        })
        .collect();
    let wants = |p: &str| opts.peers.iter().any(|x| x == p);
    let mut notes: Vec<String> = Vec::new();
    let service_wanted = |n: &str| opts.only.as_ref().is_none_or(|o| o.iter().any(|x| x == n));
    let services_selected = services::NAMES.iter().any(|n| service_wanted(n));
    // Every program started below inherits this limit (wrk and the servers at 10,000
    // connections need more than 10,000 descriptors each).
    let fd_limit = setup::raise_fd_limit();
    notes.push(format!(
        "RLIMIT_NOFILE {fd_limit}: the runner raises its soft and (as root) hard open-file limit \
         with setrlimit before starting anything; every program inherits it"
    ));

    // ---- build everything first ------------------------------------------
    let fatal = |e: String| -> ! {
        eprintln!("[compare] ERROR: {e}");
        std::process::exit(1)
    };
    let gort = if wants("gort") {
        Ok(setup::build_gort(&root).unwrap_or_else(|e| fatal(e)))
    } else {
        Err("not selected".into())
    };
    let rust_dir = if ["may", "tokio", "thread"].iter().any(|p| wants(p)) {
        Some(setup::build_rust_peers(&root).unwrap_or_else(|e| fatal(e)))
    } else {
        None
    };
    let needs_go = wants("go") || selected.iter().any(|w| w.kind == Kind::TcpEcho);
    let go_tool = if needs_go {
        setup::ensure_go(&root)
    } else {
        Err("not needed".into())
    };
    let gopeer: Result<PathBuf, String> = match &go_tool {
        Ok(go) => Ok(setup::build_go(&root, go).unwrap_or_else(|e| fatal(e))),
        Err(e) => {
            if needs_go {
                notes.push(format!("Go unavailable, Go skipped: {e}"));
            }
            Err(format!("Go unavailable: {e}"))
        }
    };
    let wrk = if selected.iter().any(|w| w.kind == Kind::Http) {
        setup::ensure_wrk().inspect_err(|e| notes.push(format!("http_hello skipped: {e}")))
    } else {
        Err("not needed".into())
    };
    let service_progs = services_selected.then(|| {
        let note = |what: &str, r: Result<PathBuf, String>, notes: &mut Vec<String>| {
            if let Err(e) = &r {
                notes.push(format!("{what} unavailable: {e}"));
            }
            r
        };
        services::Programs {
            gort: if wants("gort") {
                Ok(setup::build_services(&root).unwrap_or_else(|e| fatal(e)))
            } else {
                Err("not selected".into())
            },
            go: gopeer.clone(),
            hyper: match &rust_dir {
                Some(d) => Ok(d.join("hyper_server")),
                None => Err("not selected".into()),
            },
            redis_server: if wants("redis") {
                note(
                    "redis-server",
                    setup::ensure_tool("redis-server", "redis-server"),
                    &mut notes,
                )
            } else {
                Err("not selected".into())
            },
            wrk: match &wrk {
                Ok(w) => Ok(w.clone()),
                Err(_) => note("wrk", setup::ensure_wrk(), &mut notes),
            },
            redis_benchmark: note(
                "redis-benchmark",
                setup::ensure_tool("redis-benchmark", "redis-tools"),
                &mut notes,
            ),
            ws_load: if service_wanted("ws_chat") {
                Ok(setup::build_ws_load(&root).unwrap_or_else(|e| fatal(e)))
            } else {
                Err("not selected".into())
            },
            ws_tokio: match &rust_dir {
                Some(d) => Ok(d.join("ws_chat_tokio")),
                None => Err("not selected".into()),
            },
        }
    });
    let tools = Tools {
        go_client: gopeer.clone(),
        wrk,
    };
    let peers: Vec<Peer> = PEERS
        .iter()
        .map(|&name| Peer {
            name,
            exe: if !wants(name) {
                Err("not selected".into())
            } else {
                match name {
                    "gort" => gort.clone(),
                    "gort-base" => opts
                        .gort_base
                        .clone()
                        .filter(|p| p.exists())
                        .ok_or_else(|| "no --gort-base binary".to_string()),
                    "go" => gopeer.clone(),
                    _ => Ok(rust_dir.as_ref().unwrap().join(format!("{name}_work"))),
                }
            },
        })
        .collect();

    // ---- run, interleaved ------------------------------------------------
    let mut failures = 0;
    let mut results = Vec::new();
    for w in &selected {
        let skipped = match w.kind {
            Kind::TcpEcho => tools
                .go_client
                .as_ref()
                .err()
                .map(|e| format!("no Go client ({e})")),
            Kind::Http => tools.wrk.as_ref().err().map(|e| format!("no wrk ({e})")),
            Kind::Plain => None,
        };
        let mut rows: Vec<Row> = peers
            .iter()
            .map(|p| Row {
                peer: p.name,
                values: Vec::new(),
                note: p.exe.as_ref().err().cloned(),
            })
            .collect();
        if skipped.is_none() {
            for round in 0..opts.rounds {
                for (p, row) in peers.iter().zip(rows.iter_mut()) {
                    let Ok(exe) = &p.exe else { continue };
                    if row.note.is_some() {
                        continue;
                    }
                    let o = run_one(w, p.name, exe, &opts, &tools);
                    match &o {
                        Outcome::Value(v) => {
                            eprintln!(
                                "[compare] {:<17} round {}/{} {:<6} {v:>14.1} {}",
                                w.name,
                                round + 1,
                                opts.rounds,
                                p.name,
                                w.unit
                            );
                            row.values.push(Some(*v));
                        }
                        Outcome::Unsupported => {
                            row.note = Some("n/a (this peer has no such program)".into())
                        }
                        Outcome::Skipped(r) => row.note = Some(format!("skipped: {r}")),
                        Outcome::Failed(msg) => {
                            failures += 1;
                            eprintln!("[compare] FAILED {} on {}: {msg}", p.name, w.name);
                            row.note =
                                Some(format!("FAILED: {}", msg.lines().next().unwrap_or("")));
                        }
                    }
                }
            }
        } else {
            eprintln!(
                "[compare] {} skipped: {}",
                w.name,
                skipped.as_deref().unwrap()
            );
        }
        results.push(WorkloadResult { w, rows, skipped });
    }

    // ---- the services -------------------------------------------------------
    let svc = service_progs
        .as_ref()
        .map(|progs| services::run(&opts, progs, &wants, fd_limit));
    if let Some(s) = &svc {
        failures += s.failures;
    }

    // ---- report ------------------------------------------------------------
    let out_dir = if opts.quick {
        setup::target_dir(&root).join("compare")
    } else {
        root.join("docs")
    };
    let info = report::RunInfo::collect(
        &root,
        &opts,
        go_tool.as_ref().ok(),
        tools.wrk.as_ref().ok(),
        notes,
    );
    let (svc_md, svc_chart) = svc.as_ref().map_or((String::new(), Vec::new()), |s| {
        (s.markdown(), s.chart_results())
    });
    match report::write(&out_dir, &info, &opts, &results, &svc_md, &svc_chart) {
        Ok((md, svg)) => {
            println!("{}", std::fs::read_to_string(&md).unwrap_or_default());
            eprintln!("[compare] wrote {} and {}", md.display(), svg.display());
        }
        Err(e) => {
            eprintln!("[compare] ERROR writing the report: {e}");
            failures += 1;
        }
    }
    if failures > 0 {
        eprintln!("[compare] {failures} run(s) failed");
        std::process::exit(1);
    }
}

/// Runs workload `w` once on one peer.
fn run_one(w: &Workload, peer: &str, exe: &Path, opts: &Opts, tools: &Tools) -> Outcome {
    let workers = if w.one_worker { 1 } else { opts.workers };
    let sizes: Vec<String> = w
        .sizes(peer, opts.quick)
        .iter()
        .map(|s| s.to_string())
        .collect();
    let env_cmd = |exe: &Path| {
        let mut c = Command::new(exe);
        // One argv[0] for every peer and build: its length moves the first heap allocations
        // (std copies the arguments), and with them the cache-line placement of every record
        // allocated after; the same gort_work binary ran the ring 1.25x apart when started
        // from two paths (benches/README.md, "Layout luck"). Equal argv, equal start.
        std::os::unix::process::CommandExt::arg0(&mut c, "bench");
        c.env("GOMAXPROCS", workers.to_string())
            .env("GORT_MAXPROCS", workers.to_string())
            .env("BENCH_WORKERS", workers.to_string());
        c
    };
    match w.kind {
        Kind::Plain => {
            let mut c = env_cmd(exe);
            c.arg(w.prog).args(&sizes);
            outcome_of(&format!("{peer} {}", w.prog), &run(c, opts.timeout))
        }
        Kind::TcpEcho | Kind::Http => {
            let mut c = env_cmd(exe);
            c.arg(w.prog);
            let server = match Server::start(c, Duration::from_secs(30)) {
                Ok(s) => s,
                Err(e) if e == "unsupported" => return Outcome::Unsupported,
                Err(e) => return Outcome::Failed(format!("{peer} {}: {e}", w.prog)),
            };
            let addr = format!("127.0.0.1:{}", server.port);
            let cpu0 = server.cpu_time();
            let mut requests = None;
            let client = if w.kind == Kind::TcpEcho {
                let mut c = Command::new(tools.go_client.as_ref().unwrap());
                c.env("GOMAXPROCS", opts.workers.to_string())
                    .arg("tcp_echo_client")
                    .arg(&addr)
                    .args(&sizes);
                outcome_of("Go tcp_echo_client", &run(c, opts.timeout))
            } else {
                let mut c = Command::new(tools.wrk.as_ref().unwrap());
                c.args(["-t1", "-c256", &format!("-d{}s", sizes[0])])
                    .arg(format!("http://{addr}/"));
                let f = run(c, opts.timeout);
                // wrk's summary line: "  123456 requests in 5.00s, 9.87MB read".
                requests = f.stdout.lines().find_map(|l| {
                    let (n, rest) = l.trim().split_once(' ')?;
                    rest.starts_with("requests in")
                        .then(|| n.parse::<f64>().ok())?
                });
                wrk_outcome(&f)
            };
            let client = match (w.server_cpu, client, cpu0, server.cpu_time()) {
                (false, o, ..) => o,
                (true, Outcome::Value(_), Some(a), Some(b)) => {
                    // Round trips: connections × rounds; requests: wrk's count.
                    let sz = w.sizes(peer, opts.quick);
                    let n = if w.kind == Kind::TcpEcho {
                        Some((sz[0] * sz[1]) as f64)
                    } else {
                        requests
                    };
                    match n {
                        Some(n) if n > 0.0 => Outcome::Value((b - a).as_nanos() as f64 / n),
                        _ => Outcome::Failed(format!("{peer} {}: no request count", w.prog)),
                    }
                }
                (true, Outcome::Value(_), ..) => Outcome::Failed(format!(
                    "{peer} {}: cannot read the server's CPU time",
                    w.prog
                )),
                (true, o, ..) => o,
            };
            match (server.stop(), client) {
                (Err(e), _) => Outcome::Failed(format!("{peer} {}: {e}", w.prog)),
                (Ok(()), o) => o,
            }
        }
    }
}

/// Requests/sec from wrk's output; an error if wrk saw failing responses.
fn wrk_outcome(f: &proc::Finished) -> Outcome {
    let rps = f
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok());
    let bad = f.stdout.contains("Non-2xx") || f.stdout.contains("Socket errors");
    match rps {
        Some(v) if f.ok && !bad && v > 0.0 => Outcome::Value(v),
        _ => Outcome::Failed(format!(
            "wrk: {}{}\n--- wrk output ---\n{}\n{}",
            f.status,
            if bad {
                " (socket errors / non-2xx responses)"
            } else {
                ""
            },
            proc::tail(&f.stdout, 12),
            proc::tail(&f.stderr, 5)
        )),
    }
}
