//! Deadlock detection (Go's "all goroutines are asleep - deadlock!"), end to end.
//!
//! A custom harness (`harness = false`): each scenario must run as the *main thread* of its own
//! process, because the check counts every thread of the process (see runtime/src/deadlock.rs),
//! and libtest's worker threads would rightly prevent any report. `main` re-runs this binary once
//! per scenario and checks its exit status and stderr.

use std::process::Command;
use std::time::Duration;

/// Parks the calling G forever on a channel nobody else holds (its sender is leaked, so the
/// channel never closes and nothing can ever wake the G).
fn park_forever() {
    let (tx, rx) = gort::chan::bounded::<()>(0);
    std::mem::forget(tx);
    let _ = rx.recv();
}

fn scenario(name: &str) {
    match name {
        // The main thread joins a G that waits on something nobody else holds: a deadlock.
        "deadlock" => {
            let h = gort::Builder::new()
                .name("stuck")
                .spawn(park_forever)
                .unwrap();
            let _ = h.join();
            unreachable!("join returned");
        }
        // Looks stuck, but a timer will wake it.
        "sleeping" => {
            gort::spawn(|| gort::sleep(Duration::from_millis(100)))
                .join()
                .unwrap();
        }
        // Looks stuck, but the G is in a blocking call.
        "blocking" => {
            gort::spawn(|| gort::blocking(|| std::thread::sleep(Duration::from_millis(100))))
                .join()
                .unwrap();
        }
        // A plain thread (not blocked on gort) will wake the parked G later: never reported.
        "plain_thread_wakes" => {
            let (tx, rx) = gort::chan::bounded::<u32>(0);
            let h = gort::spawn(move || rx.recv().unwrap());
            let waker = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                // A plain thread is not blocked on gort while it sleeps; its send wakes the G.
                tx.send(7).unwrap();
            });
            assert_eq!(h.join().unwrap(), 7);
            waker.join().unwrap();
        }
        // Many Gs all parked for good while main waits on one of them.
        "many_stuck" => {
            let hs: Vec<_> = (0..100).map(|_| gort::spawn(park_forever)).collect();
            for h in hs {
                let _ = h.join();
            }
        }
        // Looks stuck: the only G waits in accept, and the main thread joins it. But the network
        // may wake it (here: another process connects after 300 ms), so it is never reported.
        "socket_waiter" => {
            let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args(["--scenario", "connect_later", &port.to_string()])
                .spawn()
                .unwrap();
            gort::spawn(move || {
                let (_s, _) = l.accept().unwrap();
            })
            .join()
            .unwrap();
            child.wait().unwrap();
        }
        _ => panic!("unknown scenario {name}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        if args[i + 1] == "connect_later" {
            std::thread::sleep(Duration::from_millis(300));
            let port: u16 = args[i + 2].parse().unwrap();
            let _s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            return;
        }
        scenario(&args[i + 1]);
        return;
    }
    // Under `cargo test -- <filter>` libtest flags arrive here; they are ignored.
    let exe = std::env::current_exe().unwrap();
    let cases: [(&str, Option<i32>, &[&str]); 6] = [
        (
            "deadlock",
            Some(2),
            &[
                "fatal error: all goroutines are asleep - deadlock!",
                "goroutine ",
                "'stuck' [chan receive]",
            ],
        ),
        ("sleeping", Some(0), &[]),
        ("blocking", Some(0), &[]),
        ("plain_thread_wakes", Some(0), &[]),
        ("socket_waiter", Some(0), &[]),
        (
            "many_stuck",
            Some(2),
            &["all goroutines are asleep", "100 green thread(s) parked"],
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, code, needles) in cases {
        let out = Command::new(&exe)
            .args(["--scenario", name])
            .output()
            .expect("run scenario");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut ok = out.status.code() == code;
        for n in needles {
            ok &= stderr.contains(n);
        }
        if code == Some(0) {
            ok &= !stderr.contains("deadlock");
        }
        if ok {
            passed += 1;
            println!("test deadlock::{name} ... ok");
        } else {
            failed += 1;
            println!(
                "test deadlock::{name} ... FAILED (status {:?}, want {code:?})\n{stderr}",
                out.status
            );
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
