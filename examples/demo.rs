//! The gort demo: a million green threads, then a CPU fan-out over all Ps.
//!
//! ```text
//! cargo run --release --example demo
//! GORT_DEBUG=schedtrace=100 cargo run --release --example demo
//! ```
use std::time::{Duration, Instant};

fn spin_for(d: Duration) -> u64 {
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < d {
        for i in 0..1000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
    }
    x
}

fn main() {
    println!("gort demo: {} Ps", gort::maxprocs());

    let n = 1_000_000u64;
    let t = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| gort::spawn(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let el = t.elapsed();
    assert_eq!(sum, n * (n - 1) / 2);
    println!(
        "spawned and joined {n} green threads from the main thread in {:?} ({:.0} ns each)",
        el,
        el.as_nanos() as f64 / n as f64
    );

    let t = Instant::now();
    let total = gort::spawn(move || {
        let hs: Vec<_> = (0..n).map(|i| gort::spawn(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    })
    .join()
    .unwrap();
    let el = t.elapsed();
    assert_eq!(total, sum);
    println!(
        "spawned and joined {n} green threads from inside a green thread in {:?} ({:.0} ns each)",
        el,
        el.as_nanos() as f64 / n as f64
    );

    let tasks = 1000;
    let work = Duration::from_millis(1);
    let t = Instant::now();
    let hs: Vec<_> = (0..tasks)
        .map(|_| gort::spawn(move || spin_for(work)))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let el = t.elapsed();
    let ideal = work * tasks / gort::maxprocs() as u32;
    println!(
        "fan-out: {tasks} tasks of {work:?} CPU on {} Ps took {el:?} (ideal {ideal:?}, {:.3}x)",
        gort::maxprocs(),
        el.as_secs_f64() / ideal.as_secs_f64()
    );
    println!("live green threads at exit: {}", gort::num_goroutine());
}
