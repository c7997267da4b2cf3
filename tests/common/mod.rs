//! Shared helpers for the behavioural tests.
#![allow(dead_code)]

pub mod stress;

use std::process::{Command, Output, Stdio};

/// The environment variable that marks a re-run of the test binary as the child.
pub const CHILD: &str = "GORT_TEST_CHILD";

/// True in the child process started by [`run_child`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Re-runs this test binary for exactly `test` in a child process with `envs` set (the runtime
/// reads `GORT_*` once per process, so tests that need their own settings, an exact
/// `num_goroutine()`, or that crash on purpose run this way — rayon's stack_overflow_crash.rs
/// pattern). Returns the child's output.
pub fn run_child(test: &str, envs: &[(&str, &str)]) -> Output {
    child_command(test, envs)
        .output()
        .expect("failed to run the child test process")
}

/// The command [`run_child`] runs, for a test that must watch its child while it runs (read its
/// stdout, sample its /proc entries).
pub fn child_command(test: &str, envs: &[(&str, &str)]) -> Command {
    let mut cmd = self_command();
    cmd.args([
        test,
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--include-ignored",
    ])
    .env(CHILD, "1")
    .stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// A command that runs this test binary again. Under an emulator (CI runs the aarch64 tests in
/// `qemu-aarch64`, which cannot exec a foreign binary by itself), `GORT_TEST_RUNNER` holds the
/// emulator's command line, as cargo's `target.<triple>.runner` does for the first run.
pub fn self_command() -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let runner = std::env::var("GORT_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut cmd = Command::new(emulator);
            cmd.args(words).arg(exe);
            cmd
        }
        None => Command::new(exe),
    }
}

/// Runs the child and asserts it passed (and really ran its one test: a misspelt filter would
/// otherwise pass with none), showing its output otherwise.
pub fn child_ok(test: &str, envs: &[(&str, &str)]) -> Output {
    let out = run_child(test, envs);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "child {test} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Resident set size of this process in bytes (Linux /proc).
pub fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// RSS after asking the allocator to return what it caches: glibc keeps freed heap memory
/// cached and fragmented (RSS wanders by ~100 MiB between rounds with nothing leaked), so
/// `malloc_trim` first; other allocators have no such call.
pub fn rss_trimmed() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
    rss_bytes()
}

/// Sets the soft open-file limit to `soft` (at most the hard limit); returns it.
pub fn set_nofile(soft: u64) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a valid, initialised rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        // rlim_t is u64 on Linux and macOS, i64 on FreeBSD (where RLIM_INFINITY is i64::MAX).
        #[allow(clippy::useless_conversion)]
        let max = u64::try_from(r.rlim_max).unwrap_or(u64::MAX);
        r.rlim_cur = libc::rlim_t::try_from(soft.min(max)).unwrap_or(r.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0);
    }
    #[allow(clippy::useless_conversion)]
    u64::try_from(r.rlim_cur).unwrap_or(u64::MAX)
}

/// Number of OS threads in this process.
pub fn threads() -> usize {
    threads_of("self")
}

/// Number of OS threads of process `pid` ("self" for this one), from /proc/<pid>/status.
pub fn threads_of(pid: &str) -> usize {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("Threads:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of process `pid` ("self" for this one) from /proc/<pid>/stat, in
/// clock ticks (1/100 s).
pub fn cpu_ticks(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat are utime, stime; `rest` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Defines a test whose body runs in a child process with the given environment.
#[macro_export]
macro_rules! child_test {
    ($(#[$m:meta])* fn $name:ident() [$($k:expr => $v:expr),* $(,)?] $body:block) => {
        $(#[$m])*
        #[test]
        fn $name() {
            if $crate::common::is_child() {
                $body
            } else {
                $crate::common::child_ok(stringify!($name), &[$(($k, $v)),*]);
            }
        }
    };
}

/// A lost update as an ordinary gort program (two green threads: read, yield, write), the
/// classic bug of the synctest suites (tests/synctest.rs, tests/synctest_bugs.rs).
pub fn lost_update() {
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    let n = std::sync::Arc::new(AtomicU32::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            gort::spawn(move || {
                let v = n.load(SeqCst);
                gort::yield_now();
                n.store(v + 1, SeqCst);
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(n.load(SeqCst), 2, "lost update");
}

/// Threads of this process that are inside `read(fd, …)` right now, from
/// `/proc/self/task/TID/syscall` (its first two fields are the syscall number and the first
/// argument, in hex). A thread blocked reading `fd` shows there for as long as it waits; a
/// thread that runs or waits elsewhere does not. Linux only (0 elsewhere: no such files).
#[cfg(not(target_os = "linux"))]
pub fn threads_reading(_fd: i32) -> usize {
    0
}

/// See the other `threads_reading`.
#[cfg(target_os = "linux")]
pub fn threads_reading(fd: i32) -> usize {
    let want = format!("{} {:#x} ", libc::SYS_read, fd);
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("syscall")).ok())
                .filter(|s| s.starts_with(&want))
                .count()
        })
        .unwrap_or(0)
}
