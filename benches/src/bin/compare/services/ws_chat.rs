//! The `ws_chat` service benchmark: `ws_chat_load` (benches/src/bin/ws_chat_load.rs) against
//! gort's `ws_chat` example, the same hub in Go (`gopeer ws_chat_service`) and tokio +
//! tokio-tungstenite (`ws_chat_tokio`): broadcast deliveries per second, the p99 of the send →
//! delivery time, connection errors and the server's CPU time per delivery.

use super::{
    chart_group, measure, median_of, per_peer, rate_p99_cells, thousands, with_addr, Launch,
    PeerRuns, Programs, Running,
};
use crate::proc::tail;
use crate::{Opts, WorkloadResult};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// Peers, in column order.
pub const PEERS: &[&str] = &["gort", "go", "tokio"];

/// Clients that send, each keeping at most `WINDOW` of its messages in flight (a message is in
/// flight until every client has it): at most 40 messages queued per client on the server,
/// far from the 256 after which every hub drops a client.
const SENDERS: u32 = 10;
const WINDOW: u32 = 4;
/// Bytes per message.
const SIZE: u32 = 64;
/// Client threads of the load generator (its event loops). 4, not 2: measured side by side at
/// 5,000 clients, 2 → 4 threads raised every peer's deliveries/s by about a tenth while 4 → 8
/// moved them no consistent way, and the servers' CPU per delivery did not move in either step.
const THREADS: u32 = 4;

/// Cells: (clients, messages per sender); about 2 million deliveries each.
const CELLS: &[(u32, u32)] = &[(1_000, 200), (5_000, 40)];
/// `--quick`: one small cell, 40,000 deliveries.
const QUICK_CELLS: &[(u32, u32)] = &[(200, 20)];

/// One load-generator run.
#[derive(Clone, Copy)]
pub struct WsRun {
    /// Messages delivered to clients per second.
    dps: f64,
    p99_ms: f64,
    /// Connections that failed or that the server dropped.
    errors: u64,
    /// Deliveries that never came.
    missing: u64,
    /// The server's CPU time per delivery, in µs.
    cpu_us: f64,
    /// The load generator's own CPU time per delivery, in µs.
    client_cpu_us: f64,
}

pub struct WsCellResult {
    clients: u32,
    messages: u32,
    peers: Vec<(&'static str, PeerRuns<WsRun>)>,
}

/// Runs the cells, interleaved round by round, cell by cell, peer by peer.
pub fn run(
    opts: &Opts,
    progs: &Programs,
    wanted: &dyn Fn(&str) -> bool,
    fd_limit: u64,
    failures: &mut usize,
) -> Result<Vec<WsCellResult>, String> {
    let load = progs
        .ws_load
        .clone()
        .map_err(|e| format!("no ws_chat_load ({e})"))?;
    let workers = opts.workers.to_string();
    let rounds = opts.rounds;
    let mut cells: Vec<WsCellResult> = if opts.quick { QUICK_CELLS } else { CELLS }
        .iter()
        .map(|&(clients, messages)| WsCellResult {
            clients,
            messages,
            peers: PEERS.iter().map(|&p| (p, PeerRuns::default())).collect(),
        })
        .collect();
    for round in 0..rounds {
        for cell in cells.iter_mut() {
            for (peer, runs) in cell.peers.iter_mut() {
                // The server and the load generator each hold a descriptor per client.
                let fds_ok = u64::from(cell.clients) + 100 <= fd_limit;
                let launch = command(peer, progs).and_then(|l| match fds_ok {
                    true => Ok(l),
                    false => Err(format!(
                        "skipped: RLIMIT_NOFILE {fd_limit} is below {} clients",
                        cell.clients
                    )),
                });
                let (c, m) = (cell.clients, cell.messages);
                let r = measure(runs, peer, wanted(peer), launch, failures, |l| {
                    ws_run(l, &workers, &load, c, m, opts)
                });
                if let Some(r) = r {
                    eprintln!(
                        "[compare] ws_chat c{c:<5} round {}/{rounds} {peer:<5} {:>9.0} deliveries/s  \
                         p99 {:>8.2} ms  errors {}  missing {}  cpu {:.2} us/delivery \
                         (client {:.2})",
                        round + 1,
                        r.dps,
                        r.p99_ms,
                        r.errors,
                        r.missing,
                        r.cpu_us,
                        r.client_cpu_us
                    );
                }
            }
        }
    }
    Ok(cells)
}

fn command(peer: &str, progs: &Programs) -> Result<Launch, String> {
    match peer {
        "gort" => Ok(with_addr(progs.gort.clone()?.join("ws_chat"), &[])),
        "go" => Ok(with_addr(progs.go.clone()?, &["ws_chat_service"])),
        "tokio" => Ok(with_addr(progs.ws_tokio.clone()?, &[])),
        _ => Err("n/a".into()),
    }
}

/// The load generator's arguments for one cell, as the report quotes them.
fn load_args(clients: u32, messages: u32) -> Vec<String> {
    [
        ("--clients", clients),
        ("--senders", SENDERS),
        ("--messages", messages),
        ("--window", WINDOW),
        ("--size", SIZE),
        ("--threads", THREADS),
    ]
    .iter()
    .flat_map(|(k, v)| [k.to_string(), v.to_string()])
    .collect()
}

fn ws_run(
    launch: Launch,
    workers: &str,
    load: &Path,
    clients: u32,
    messages: u32,
    opts: &Opts,
) -> Result<WsRun, String> {
    let server = Running::start(&launch, workers)?;
    let mut c = Command::new(load);
    c.args(["--addr", &server.addr])
        .args(load_args(clients, messages))
        .args(["--server-pid", &server.child.id().to_string()]);
    let f = crate::proc::run(c, opts.timeout);
    server.stop()?;
    match parse_result(&f.stdout) {
        Some(r) if f.ok => Ok(r),
        _ => Err(format!(
            "ws_chat_load: {}\n--- output ---\n{}\n{}",
            f.status,
            tail(&f.stdout, 4),
            tail(&f.stderr, 6)
        )),
    }
}

/// The figures of `ws_chat_load`'s `RESULT k=v …` line.
fn parse_result(out: &str) -> Option<WsRun> {
    let line = out.lines().rev().find(|l| l.starts_with("RESULT "))?;
    let kv = |k: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|t| t.strip_prefix(k)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    Some(WsRun {
        dps: kv("deliveries_per_s")?,
        p99_ms: kv("p99_ms")?,
        errors: kv("errors")? as u64,
        missing: kv("missing")? as u64,
        cpu_us: kv("server_cpu_us")?,
        client_cpu_us: kv("client_cpu_us")?,
    })
}

/// The docs/benchmarks.md section.
pub fn markdown(md: &mut String, ws: &Result<Vec<WsCellResult>, String>, rounds: usize) {
    let _ = writeln!(
        md,
        "\n## ws_chat — deliveries/s (higher is better), p99 send → delivery (lower is better)\n\n\
         `ws_chat_load --addr 127.0.0.1:PORT --clients <clients> --senders {SENDERS} --messages \
         <messages> --window {WINDOW} --size {SIZE} --threads {THREADS}` \
         (`benches/src/bin/ws_chat_load.rs`: tungstenite clients on {THREADS} epoll threads) \
         against gort's `ws_chat` example (`examples/services`), the same hub in Go (`gopeer \
         ws_chat_service`: gorilla/websocket's chat example with RFC 6455 done by hand on \
         net/http) and tokio + tokio-tungstenite (`ws_chat_tokio`), the same limits, queues and \
         batching in each. Every client connects; once the hub has them all, {SENDERS} of them \
         send `<messages>` {SIZE}-byte messages each, every message going to every client, each \
         sender keeping at most {WINDOW} in flight (until every client has it). {rounds} \
         round(s) interleaved, a fresh server per run. Cells: median deliveries/s (messages \
         delivered to clients per second, first send to last delivery) and median p99 of the \
         send → delivery time over the rounds; **gort/go** is the median of the per-round \
         ratios (deliveries/s: > 1 is better for gort; p99: < 1 is better for gort); errors: \
         connections that failed or that the server dropped, summed over the rounds \
         (deliveries that never came in brackets); the server's CPU time (`/proc/PID/stat`, \
         first send to last delivery) per delivery.\n"
    );
    let cells = match ws {
        Err(e) => {
            let _ = writeln!(md, "Skipped: {e}.");
            return;
        }
        Ok(cells) => cells,
    };
    let _ = writeln!(
        md,
        "| clients | messages | gort deliveries/s | go deliveries/s | tokio deliveries/s | \
         gort/go deliveries/s | gort p99 | go p99 | tokio p99 | gort/go p99 | \
         errors gort / go / tokio | server CPU µs/delivery gort / go / tokio |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for c in cells {
        let p = &c.peers;
        let errs = per_peer(p, PEERS, |r| {
            let e: u64 = r.iter().map(|x| x.errors).sum();
            match r.iter().map(|x| x.missing).sum::<u64>() {
                0 => e.to_string(),
                m => format!("{e} ({m})"),
            }
        });
        let cpu = per_peer(p, PEERS, |r| format!("{:.2}", median_of(r, |x| x.cpu_us)));
        let _ = writeln!(
            md,
            "| {} | {SENDERS} × {} | {} | {errs} | {cpu} |",
            c.clients,
            c.messages,
            rate_p99_cells(p, |r| r.dps, |r| r.p99_ms),
        );
    }
}

/// Chart groups: deliveries/s and p99 per cell.
pub fn chart(cells: &[WsCellResult]) -> Vec<WorkloadResult> {
    cells
        .iter()
        .flat_map(|c| {
            let k = thousands(c.clients);
            [
                chart_group(
                    format!("ws c{k} deliv/s"),
                    "deliveries/s",
                    true,
                    &c.peers,
                    |r| r.dps,
                ),
                chart_group(format!("ws c{k} p99"), "ms", false, &c.peers, |r| r.p99_ms),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_output() {
        let out = "noise\nRESULT clients=1000 connected=1000 senders=10 messages=200 errors=2 \
                   delivered=1999000 missing=1000 secs=2.5 deliveries_per_s=799600 p50_ms=9.1 \
                   p99_ms=24.5 server_cpu_us=0.850 client_cpu_us=0.600 connect_secs=0.2 \
                   threads=2\n";
        let r = parse_result(out).unwrap();
        assert_eq!(r.dps, 799600.0);
        assert_eq!(r.p99_ms, 24.5);
        assert_eq!((r.errors, r.missing), (2, 1000));
        assert_eq!((r.cpu_us, r.client_cpu_us), (0.85, 0.6));
        // Without the server's CPU (no /proc) the line is not a result the table can use.
        assert!(parse_result(&out.replace("server_cpu_us=0.850", "server_cpu_us=-")).is_none());
        assert!(parse_result("RESULT clients=1\n").is_none());
    }

    #[test]
    fn arguments() {
        assert_eq!(
            load_args(1000, 200).join(" "),
            "--clients 1000 --senders 10 --messages 200 --window 4 --size 64 --threads 4"
        );
    }
}
