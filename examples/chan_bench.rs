//! Channel and mutex micro-benchmarks, printed as ns/op (compare with the Go program in the
//! report). Run: `GORT_MAXPROCS=1 cargo run --release --example chan_bench` (and with 2).
//! Optional argument: one of `pingpong`, `ring`, `mutex`.
use std::sync::Arc;
use std::time::Instant;

fn pingpong(n: u64) -> f64 {
    let (tx1, rx1) = gort::chan::bounded::<u64>(0);
    let (tx2, rx2) = gort::chan::bounded::<u64>(0);
    let t = Instant::now();
    let h = gort::spawn(move || {
        for v in rx1.iter() {
            tx2.send(v + 1).unwrap();
        }
    });
    let d = gort::spawn(move || {
        for i in 0..n {
            tx1.send(i).unwrap();
            rx2.recv().unwrap();
        }
    });
    d.join().unwrap();
    h.join().unwrap();
    t.elapsed().as_nanos() as f64 / n as f64
}

fn ring(gs: usize, hops: u64) -> f64 {
    let chans: Vec<_> = (0..gs).map(|_| gort::chan::bounded::<u64>(0)).collect();
    let (txs, rxs): (Vec<_>, Vec<_>) = chans.into_iter().unzip();
    let first_tx = txs[0].clone();
    let mut hs = Vec::new();
    let t = Instant::now();
    for (i, rx) in rxs.into_iter().enumerate() {
        let next = txs[(i + 1) % gs].clone();
        hs.push(gort::spawn(move || {
            for v in rx.iter() {
                if v == 0 {
                    break;
                }
                if next.send(v - 1).is_err() {
                    break;
                }
            }
            drop(next);
        }));
    }
    drop(txs);
    first_tx.send(hops).unwrap();
    // The G that receives 0 stops and drops its receiver, which closes its channel; its
    // predecessor's send then fails, and so on around the ring.
    drop(first_tx);
    for h in hs {
        h.join().unwrap();
    }
    t.elapsed().as_nanos() as f64 / hops as f64
}

fn mutex_contended(gs: usize, per: u64) -> f64 {
    let m = Arc::new(gort::sync::Mutex::new(0u64));
    let t = Instant::now();
    let hs: Vec<_> = (0..gs)
        .map(|_| {
            let m = m.clone();
            gort::spawn(move || {
                for _ in 0..per {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(*m.lock(), gs as u64 * per);
    t.elapsed().as_nanos() as f64 / (gs as u64 * per) as f64
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let procs = gort::maxprocs();
    if which.is_empty() || which == "pingpong" {
        println!(
            "chan_pingpong P={procs} {:.1} ns/roundtrip",
            pingpong(1_000_000)
        );
    }
    if which.is_empty() || which == "ring" {
        println!("ring P={procs} {:.1} ns/hop", ring(10_000, 1_000_000));
    }
    if which.is_empty() || which == "mutex" {
        println!(
            "mutex_contended P={procs} {:.1} ns/op",
            mutex_contended(1_000, 1_000)
        );
    }
}
