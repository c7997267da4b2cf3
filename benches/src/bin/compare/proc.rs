//! Running one peer program: timeouts, output capture, server workloads.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What one run of one peer on one workload gave.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A measurement, in the workload's unit.
    Value(f64),
    /// The peer has no program for this workload (Go-only and gort-only rows, for example).
    Unsupported,
    /// The peer declined to run here, with its reason.
    Skipped(String),
    /// Crash, timeout or unparsable output: an error of the whole run.
    Failed(String),
}

/// Output of a finished (or killed) child process.
pub struct Finished {
    pub ok: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// Drains a pipe on a thread so that the child never blocks on a full pipe.
fn drain<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` up to `timeout`, killing it when the time is up.
fn wait_timeout(child: &mut Child, timeout: Duration) -> (Option<std::process::ExitStatus>, bool) {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return (Some(st), false),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                return (child.wait().ok(), true);
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(_) => return (None, false),
        }
    }
}

/// Runs `cmd` to completion (or kills it after `timeout`), capturing output.
pub fn run(mut cmd: Command, timeout: Duration) -> Finished {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Finished {
                ok: false,
                status: format!("cannot start {cmd:?}: {e}"),
                stdout: String::new(),
                stderr: String::new(),
            }
        }
    };
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let (status, timed_out) = wait_timeout(&mut child, timeout);
    Finished {
        ok: !timed_out && status.is_some_and(|s| s.success()),
        status: match (timed_out, status) {
            (true, _) => format!("killed after {} s (timeout)", timeout.as_secs()),
            (false, Some(s)) => s.to_string(),
            (false, None) => "unknown exit status".into(),
        },
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// The last `n` lines of `s`, for error messages.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Parses a `RESULT workload=.. value=..|unsupported=1|skipped=1 ...` line.
pub fn parse_result(stdout: &str) -> Option<Outcome> {
    let line = stdout.lines().rev().find(|l| l.starts_with("RESULT "))?;
    let kv = |k: &str| {
        line.split_whitespace()
            .find_map(|t| t.strip_prefix(k)?.strip_prefix('='))
    };
    if kv("unsupported").is_some() {
        return Some(Outcome::Unsupported);
    }
    if kv("skipped").is_some() {
        // The reason is the rest of the line (it may contain spaces).
        let reason = line.split_once(" reason=").map_or("", |x| x.1);
        return Some(Outcome::Skipped(reason.trim().to_string()));
    }
    kv("value")?.parse().ok().map(Outcome::Value)
}

/// Turns a finished client/program run into an outcome.
pub fn outcome_of(what: &str, f: &Finished) -> Outcome {
    if f.ok {
        if let Some(o) = parse_result(&f.stdout) {
            return o;
        }
    }
    Outcome::Failed(format!(
        "{what}: {}; no valid RESULT line.\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
        f.status,
        tail(&f.stdout, 5),
        tail(&f.stderr, 20)
    ))
}

/// A server peer started for a network workload; killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Server {
    /// Starts `cmd` and waits (up to `timeout`) for its `LISTENING port=N`.
    pub fn start(mut cmd: Command, timeout: Duration) -> Result<Server, String> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
        let stdout = child.stdout.take().unwrap();
        let stderr = Some(drain(child.stderr.take().unwrap()));
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + timeout;
        let mut server = Server {
            child,
            port: 0,
            stderr,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(p) = line.strip_prefix("LISTENING port=") {
                        server.port = p.trim().parse().map_err(|e| format!("bad port: {e}"))?;
                        return Ok(server);
                    }
                    if let Some(Outcome::Unsupported) = parse_result(&line) {
                        return Err("unsupported".into());
                    }
                }
                Err(_) => {
                    let _ = server.child.kill();
                    let _ = server.child.wait();
                    return Err(format!(
                        "server did not print LISTENING within {} s\n--- stderr (tail) ---\n{}",
                        timeout.as_secs(),
                        server.stderr_tail()
                    ));
                }
            }
        }
    }

    /// Stops the server; an error if it had already died (a crash).
    /// CPU time the server process has used so far, all threads, user and system; None
    /// where unreadable.
    pub fn cpu_time(&self) -> Option<Duration> {
        gort_benches::common::proc_cpu_ns(self.child.id()).map(Duration::from_nanos)
    }

    pub fn stop(mut self) -> Result<(), String> {
        let early = self.child.try_wait().ok().flatten();
        let _ = self.child.kill();
        let _ = self.child.wait();
        match early {
            Some(st) => Err(format!(
                "server exited during the run ({st})\n--- stderr (tail) ---\n{}",
                self.stderr_tail()
            )),
            None => Ok(()),
        }
    }

    fn stderr_tail(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .map(|s| tail(&s, 20))
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Looks `name` up in PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| is_executable(f))
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
