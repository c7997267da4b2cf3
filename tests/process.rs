//! `gort::process` (Go's os/exec): waits park the G on a pidfd in the netpoller, pipes park it.

mod common;

use gort::process::{Command, Stdio};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// The test: 100 children spawned and waited from 100 Gs, with only the Ps' Ms busy.
// GORT_MAXBLOCKING=1 allows one blocking call at a time: the spawns (std's, inside
// `gort::blocking`) take turns, and a wait that needed an M per child would take turns too
// (100 × 300 ms = 30 s). Parked on pidfds, the 100 waits overlap: all children are running
// together at some moment, the whole takes about one child's lifetime, and no thread is
// added while they run.
child_test!(fn hundred_children_waited_without_threads() [
    "GORT_MAXPROCS" => "2", "GORT_MAXBLOCKING" => "1"
] {
    let base = common::threads();
    let spawned = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let t = Instant::now();
    let sampler = {
        let (spawned, done) = (spawned.clone(), done.clone());
        std::thread::spawn(move || {
            // Threads while all 100 children exist and are being waited for.
            let mut peak = 0;
            while !done.load(Ordering::SeqCst) {
                if spawned.load(Ordering::SeqCst) == 100 {
                    peak = peak.max(common::threads());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        })
    };
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let spawned = spawned.clone();
            gort::spawn(move || {
                let mut c = Command::new("sleep").arg("0.3").spawn().unwrap();
                spawned.fetch_add(1, Ordering::SeqCst);
                c.wait().unwrap()
            })
        })
        .collect();
    for h in hs {
        assert!(h.join().unwrap().success());
    }
    let took = t.elapsed();
    done.store(true, Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    eprintln!("100 children: {took:?}, threads base {base}, peak while waiting {peak}");
    assert!(took < Duration::from_secs(10), "100 overlapping 0.3 s children took {took:?}");
    // A thread per waiting child would be 100 more. What may be there besides the base: the
    // sampler, sysmon, the Ps' Ms, an idle M parked in the netpoller, the one pool M, and Ms
    // that sysmon's retakes start on a loaded machine (a CI run saw 11 with base 2).
    assert!(peak <= base + 20, "{peak} threads (base {base}): a thread per child?");
});

// A child's stdin and stdout used from two Gs at once: 4 MiB through `cat` (far more than a
// pipe holds, so both sides park on full and empty pipes).
child_test!(fn pipes_park_both_ways() ["GORT_MAXPROCS" => "2"] {
    let mut c = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let mut stdout = c.stdout.take().unwrap();
    let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    let expect = data.clone();
    let w = gort::spawn(move || stdin.write_all(&data).unwrap());
    let r = gort::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });
    w.join().unwrap();
    assert!(r.join().unwrap() == expect, "cat changed the data");
    assert!(c.wait().unwrap().success());
});

// From a plain thread the same calls block the thread, as std's do.
#[test]
fn works_from_a_plain_thread() {
    let out = Command::new("sh")
        .args(["-c", "cat; echo done >&2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(out.stderr, b"done\n");
    let mut c = Command::new("sleep").arg("0.05").spawn().unwrap();
    assert!(c.try_wait().unwrap().is_none());
    assert!(c.wait().unwrap().success());
}

// A spawn error is std's (not found), and a child piped into another works through Stdio::from.
#[test]
fn errors_and_chaining() {
    let e = Command::new("/nonexistent/gort-test").spawn().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    gort::spawn(|| {
        let mut a = Command::new("echo")
            .arg("chained")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let b = Command::new("tr")
            .args(["a-z", "A-Z"])
            .stdin(Stdio::from(a.stdout.take().unwrap()))
            .output()
            .unwrap();
        assert_eq!(b.stdout, b"CHAINED\n");
        assert!(a.wait().unwrap().success());
    })
    .join()
    .unwrap();
}
