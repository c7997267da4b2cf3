//! A G that recurses without bound hits its guard page, and the handler in
//! `signal` reports it by name and aborts. Each case re-runs this test
//! binary as a child (rayon's `stack_overflow_crash.rs` pattern) with
//! `GORT_TEST_OVERFLOW_CHILD` set; the child test does the overflow, the
//! parent checks it died by SIGABRT with the message on stderr.

use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use corosensei::Coroutine;
use gort_runtime::signal::{self, RunningInfo};
use gort_runtime::stack;

const CHILD_ENV: &str = "GORT_TEST_OVERFLOW_CHILD";

#[allow(unconditional_recursion)] // the point: overflow the stack
fn recurse(n: u64) -> u64 {
    let buf = [n; 32];
    black_box(&buf);
    recurse(black_box(n + 1)) + black_box(buf[3])
}

/// The child's body: only does something under `CHILD_ENV`.
#[test]
fn overflow_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    signal::install().unwrap();
    signal::init_thread().unwrap();
    match mode.as_str() {
        // Faults that are not ours go to the previous handler (std's).
        "nullwrite" => {
            // SAFETY: deliberately invalid: the test wants the SIGSEGV.
            unsafe { std::ptr::write_volatile(black_box(16usize) as *mut u64, 1) };
            unreachable!();
        }
        "threadoverflow" => {
            std::thread::Builder::new()
                .name("plain".into())
                .stack_size(128 * 1024)
                .spawn(|| recurse(0))
                .unwrap()
                .join()
                .unwrap();
            unreachable!();
        }
        _ => {}
    }
    let gstack = stack::alloc(64 * 1024, None).unwrap();
    let forced = std::env::var("GORT_STACK_GUARD").is_ok_and(|v| v == "mprotect");
    let expect_mode = if forced || !madvise_guard_available() {
        stack::GuardMode::Mprotect
    } else {
        stack::GuardMode::Madvise
    };
    assert_eq!(stack::stats().guard_mode, expect_mode);
    let info = RunningInfo::new(7, (mode != "noname").then_some("worker"), &gstack);
    let mut co = Coroutine::<(), (), u64, _>::with_stack(gstack, |_, ()| recurse(0));
    if mode != "norunning" {
        signal::set_running(Some(&info));
    }
    let r = co.resume(());
    signal::set_running(None);
    panic!(
        "the coroutine returned {:?} instead of overflowing",
        r.as_return()
    );
}

fn run_child(mode: &str, guard_env: Option<&str>) -> (std::process::ExitStatus, String) {
    // Under an emulator (CI's aarch64 run in qemu-aarch64) the child needs it too:
    // GORT_TEST_RUNNER holds its command line (see tests/common::self_command).
    let runner = std::env::var("GORT_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(emulator) => {
            let mut c = Command::new(emulator);
            c.args(words).arg(std::env::current_exe().unwrap());
            c
        }
        None => Command::new(std::env::current_exe().unwrap()),
    };
    cmd.args([
        "--exact",
        "overflow_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, mode)
    .env_remove("GORT_STACK_GUARD");
    if let Some(g) = guard_env {
        cmd.env("GORT_STACK_GUARD", g);
    }
    let out = cmd.output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_overflow_report(mode: &str, guard_env: Option<&str>, line: &str) {
    let (status, stderr) = run_child(mode, guard_env);
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "child status {status:?}, stderr:\n{stderr}"
    );
    assert!(stderr.contains(line), "stderr lacks {line:?}:\n{stderr}");
}

const REPORT: &str = "green thread 7 'worker' has overflowed its stack (64 KiB); \
                      raise it with Builder::stack_size or GORT_STACK_SIZE\n";

#[test]
fn overflow_is_reported_madvise_guard() {
    // Auto picks madvise where the kernel has it (the child asserts which).
    if !madvise_guard_available() {
        return;
    }
    assert_overflow_report("madvise", None, REPORT);
}

#[test]
fn overflow_is_reported_mprotect_guard() {
    assert_overflow_report("mprotect", Some("mprotect"), REPORT);
}

#[test]
fn overflow_report_without_name() {
    assert_overflow_report(
        "noname",
        Some("mprotect"),
        "green thread 7 has overflowed its stack (64 KiB); raise it",
    );
}

#[test]
fn overflow_found_through_slab_table_without_running_info() {
    assert_overflow_report(
        "norunning",
        Some("mprotect"),
        "a green thread has overflowed its stack (64 KiB); raise it",
    );
}

#[test]
fn bad_guard_env_warns_and_uses_auto() {
    let (status, stderr) = run_child(
        if madvise_guard_available() {
            "madvise"
        } else {
            "mprotect"
        },
        Some("bogus"),
    );
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert_eq!(
        stderr.matches("GORT_STACK_GUARD=\"bogus\"").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("using \"auto\""), "{stderr}");
}

fn madvise_guard_available() -> bool {
    stack::Pool::with_config(Default::default()).guard_mode() == stack::GuardMode::Madvise
}

#[test]
fn other_faults_chain_to_the_previous_handler() {
    let (status, stderr) = run_child("nullwrite", None);
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{stderr}");
    assert!(!stderr.contains("overflowed"), "{stderr}");
}

#[test]
fn std_thread_overflow_still_reported_by_std() {
    let (status, stderr) = run_child("threadoverflow", None);
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{stderr}");
    // std's wording: "thread 'plain' (<tid>) has overflowed its stack".
    assert!(stderr.contains("thread 'plain'"), "{stderr}");
    assert!(stderr.contains("has overflowed its stack"), "{stderr}");
    assert!(!stderr.contains("green thread"), "{stderr}");
}
