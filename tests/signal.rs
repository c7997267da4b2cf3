//! `gort::signal` (Go's os/signal): delivery to channels through the netpoller, stop, ignore,
//! reset, ctrl_c. Each test runs in a child process: dispositions are process-wide.

mod common;

use gort::signal::{self, Signal};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn raise(s: Signal) {
    // SAFETY: raise has no preconditions.
    assert_eq!(unsafe { libc::raise(s.as_raw()) }, 0);
}

fn kill_self(s: Signal) {
    // SAFETY: kill to our own pid has no preconditions.
    assert_eq!(unsafe { libc::kill(libc::getpid(), s.as_raw()) }, 0);
}

// The test: SIGUSR1 sent to the process arrives on a `notify` channel received in a G,
// while 10,000 other Gs keep every P busy (computing and yielding).
child_test!(fn sigusr1_arrives_while_10k_gs_run() ["GORT_MAXPROCS" => "2"] {
    let rx = signal::notify(&[Signal::SIGUSR1]);
    let stop = Arc::new(AtomicBool::new(false));
    let work = Arc::new(AtomicU64::new(0));
    let busy: Vec<_> = (0..10_000)
        .map(|i| {
            let (stop, work) = (stop.clone(), work.clone());
            gort::spawn(move || {
                let mut x = i as u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1000 {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                    work.fetch_add(1, Ordering::Relaxed);
                    gort::yield_now();
                }
                x
            })
        })
        .collect();
    let receiver = gort::spawn(move || {
        let timeout = gort::time::after(Duration::from_secs(20));
        gort::select! {
            recv(rx) -> s => Some(s.unwrap()),
            recv(timeout) -> _ => None,
        }
    });
    // Let the busy Gs get going, then signal the process (any thread may take it).
    while work.load(Ordering::Relaxed) < 20_000 {
        std::thread::sleep(Duration::from_millis(1));
    }
    kill_self(Signal::SIGUSR1);
    assert_eq!(receiver.join().unwrap(), Some(Signal::SIGUSR1));
    stop.store(true, Ordering::Relaxed);
    for h in busy {
        h.join().unwrap();
    }
});

// Every channel that asked for a signal gets its own copy; one that did not gets nothing.
child_test!(fn each_channel_gets_a_copy() [] {
    let a = signal::notify(&[Signal::SIGUSR1, Signal::SIGUSR2]);
    let b = signal::notify(&[Signal::SIGUSR2]);
    raise(Signal::SIGUSR2);
    assert_eq!(a.recv_timeout(Duration::from_secs(10)), Ok(Signal::SIGUSR2));
    assert_eq!(b.recv_timeout(Duration::from_secs(10)), Ok(Signal::SIGUSR2));
    raise(Signal::SIGUSR1);
    assert_eq!(a.recv_timeout(Duration::from_secs(10)), Ok(Signal::SIGUSR1));
    std::thread::sleep(Duration::from_millis(50));
    assert!(b.try_recv().is_err(), "b got a signal it did not ask for");
    signal::stop(&a);
    signal::stop(&b);
});

// After `stop`, a signal nobody wants has its default action again: SIGUSR1 ends the process.
#[test]
fn stop_restores_the_default_action() {
    if common::is_child() {
        let rx = signal::notify(&[Signal::SIGUSR1]);
        raise(Signal::SIGUSR1);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(Signal::SIGUSR1)
        );
        signal::stop(&rx);
        raise(Signal::SIGUSR1);
        std::thread::sleep(Duration::from_secs(5));
        return; // not reached: SIGUSR1's default action ends the process
    }
    let out = common::run_child("stop_restores_the_default_action", &[]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGUSR1), "{out:?}");
}

// `ignore` discards the signal (the process survives SIGTERM); `reset` brings back the
// default (SIGTERM then ends it).
#[test]
fn ignore_then_reset() {
    if common::is_child() {
        let rx = signal::notify(&[Signal::SIGTERM]);
        signal::ignore(&[Signal::SIGTERM]).unwrap();
        raise(Signal::SIGTERM);
        std::thread::sleep(Duration::from_millis(50));
        assert!(rx.try_recv().is_err(), "an ignored signal was delivered");
        signal::reset(&[Signal::SIGTERM]).unwrap();
        raise(Signal::SIGTERM);
        std::thread::sleep(Duration::from_secs(5));
        return; // not reached
    }
    let out = common::run_child("ignore_then_reset", &[]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{out:?}");
}

// A handler installed before gort's still runs (chained), and gets the signal first.
child_test!(fn chains_to_a_previous_handler() [] {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    extern "C" fn prev(_: libc::c_int) {
        SEEN.fetch_add(1, Ordering::SeqCst);
    }
    // SAFETY: a plain handler that only bumps an atomic.
    unsafe { libc::signal(libc::SIGUSR2, prev as *const () as libc::sighandler_t) };
    let rx = signal::notify(&[Signal::SIGUSR2]);
    raise(Signal::SIGUSR2);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(Signal::SIGUSR2));
    assert_eq!(SEEN.load(Ordering::SeqCst), 1);
    signal::stop(&rx);
    // The previous handler is back in place alone.
    raise(Signal::SIGUSR2);
    assert_eq!(SEEN.load(Ordering::SeqCst), 2);
});

// ctrl_c() parks until SIGINT, and the process survives it.
child_test!(fn ctrl_c_waits_for_sigint() [] {
    let caught = signal::notify(&[Signal::SIGINT]);
    let h = gort::spawn(signal::ctrl_c);
    while !h.is_finished() {
        raise(Signal::SIGINT);
        std::thread::sleep(Duration::from_millis(5));
    }
    h.join().unwrap().unwrap();
    signal::stop(&caught);
});
