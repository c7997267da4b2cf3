//! The demo (examples/demo.rs), smaller, recorded as an execution trace: spawns from a plain
//! thread and from a G, a ping-pong pair, a fan-out of CPU work over all Ps, a blocking call,
//! and a GOMAXPROCS change. Writes Chrome trace-event JSON, which chrome://tracing and
//! Perfetto (ui.perfetto.dev) open.
//!
//! ```text
//! cargo run --release --example trace_demo [FILE]     # default target/gort-trace-demo.json
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

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/gort-trace-demo.json".into());
    let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    gort::trace::start(file)?;

    // 1. Spawn and join from the main thread, then from inside a G.
    let n = 2000u64;
    let hs: Vec<_> = (0..n).map(|i| gort::spawn(move || i)).collect();
    let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    let inner = gort::Builder::new()
        .name("spawner")
        .spawn(move || {
            let hs: Vec<_> = (0..n).map(|i| gort::spawn(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })?
        .join()
        .unwrap();
    assert_eq!(sum, inner);

    // 2. A ping-pong pair on unbuffered channels.
    let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
    let echo = gort::Builder::new().name("echo").spawn(move || {
        for v in ping_rx {
            let _ = pong_tx.send(v);
        }
    })?;
    let pinger = gort::Builder::new().name("pinger").spawn(move || {
        for i in 0..500 {
            ping_tx.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
    })?;
    pinger.join().unwrap();
    echo.join().unwrap();

    // 3. A fan-out of CPU work over all Ps, with sleepers in between.
    let work: Vec<_> = (0..8)
        .map(|i| {
            gort::Builder::new()
                .name(format!("cpu-{i}"))
                .spawn(move || spin_for(Duration::from_millis(3)))
                .unwrap()
        })
        .collect();
    let sleepers: Vec<_> = (0..4)
        .map(|i| gort::spawn(move || gort::sleep(Duration::from_millis(2 + i))))
        .collect();
    let spun: u64 = work.into_iter().map(|h| h.join().unwrap()).sum();
    std::hint::black_box(spun);
    sleepers.into_iter().for_each(|h| h.join().unwrap());

    // 4. A blocking call (its P is handed off while it sleeps) and a GOMAXPROCS change.
    gort::Builder::new()
        .name("blocker")
        .spawn(|| gort::blocking(|| std::thread::sleep(Duration::from_millis(5))))?
        .join()
        .unwrap();
    let before = gort::set_maxprocs(1);
    let hs: Vec<_> = (0..4)
        .map(|_| gort::spawn(|| spin_for(Duration::from_millis(1))))
        .collect();
    let spun: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    std::hint::black_box(spun);
    gort::set_maxprocs(before);

    gort::trace::stop()?;
    println!("wrote {path}");
    Ok(())
}
