//! Re-running the test binary as a child process (rayon's pattern): the runtime reads its
//! environment once per process, so a test that needs `GORT_MAXPROCS=1`, or a changed
//! `RLIMIT_NOFILE`, or quiet CPU accounting runs its body in a fresh process.
#![allow(dead_code)]

use std::process::{Command, Output, Stdio};

const CHILD: &str = "GORT_TEST_CHILD";

/// True in the child process started by [`run_child`] for `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(name)
}

/// The command re-running exactly the test `name` (in module `module`) with `envs`.
pub fn child_command(module_path: &str, name: &str, envs: &[(&str, &str)]) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    let full = match module_path.split_once("::") {
        Some((_, rest)) => format!("{rest}::{name}"),
        None => name.to_string(),
    };
    c.args(["--exact", &full, "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .envs(envs.iter().copied())
        .stdin(Stdio::null());
    c
}

/// Runs the test `name` in a child and asserts it passed.
pub fn run_child(module_path: &str, name: &str, envs: &[(&str, &str)]) -> Output {
    let out = child_command(module_path, name, envs).output().unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && so.contains("1 passed"),
        "child {name} failed: {:?}\nstdout:\n{so}\nstderr:\n{se}",
        out.status
    );
    out
}

/// Process CPU time (user + system) from /proc/self/stat, in clock ticks (1/100 s).
#[cfg(target_os = "linux")]
pub fn cpu_ticks(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat are utime, stime; `rest` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The `Threads:` line of /proc/<pid>/status.
#[cfg(target_os = "linux")]
pub fn threads(pid: &str) -> usize {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
