//! The cost of `gort::dump` with a million parked Gs (docs/observability.md §7): how long the
//! dump takes, and how long it holds up scheduling, seen by a G that ticks every 1 ms during
//! the dump (its largest gap between ticks; a stop-the-world dump would show as one gap as
//! long as the dump).
//!
//! ```text
//! cargo run --release --example dump_million [N]      # default 1,000,000
//! ```
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (tx, rx) = gort::chan::bounded::<()>(0);
    let t = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let rx = rx.clone();
            gort::spawn(move || {
                let _ = rx.recv();
            })
        })
        .collect();
    drop(rx);
    while !gort::metrics::snapshot()
        .get("/sched/goroutines/waiting:goroutines")
        .is_some_and(|v| v == gort::metrics::Value::Uint64(n as u64))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("{n} Gs parked in {:?}", t.elapsed());

    // A ticker G: the longest gap between its 1 ms ticks while the dump runs.
    let stop = Arc::new(AtomicBool::new(false));
    let max_gap = Arc::new(AtomicU64::new(0));
    let (s2, m2) = (stop.clone(), max_gap.clone());
    let ticker = gort::spawn(move || {
        let mut last = Instant::now();
        while !s2.load(Ordering::Relaxed) {
            gort::sleep(Duration::from_millis(1));
            let now = Instant::now();
            m2.fetch_max((now - last).as_micros() as u64, Ordering::Relaxed);
            last = now;
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let before_gap = max_gap.swap(0, Ordering::Relaxed);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::sink());
    let t = Instant::now();
    gort::dump_to(&mut out).unwrap();
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(5));
    let during_gap = max_gap.load(Ordering::Relaxed);
    let text_len = gort::dump().len();
    println!(
        "dump of {n} parked Gs: {took:?} ({text_len} bytes); ticker's longest gap: {:.1} ms during the dump, {:.1} ms before it",
        during_gap as f64 / 1000.0,
        before_gap as f64 / 1000.0
    );
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    drop(tx);
    for h in hs {
        h.join().unwrap();
    }
}
