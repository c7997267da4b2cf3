//! Quick spawn/join and yield micro-benchmarks (the criterion suite lives in benches/).
use std::time::Instant;
fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "spawn".into());
    let n = 1_000_000u64;
    match what.as_str() {
        "spawn" => {
            let t = Instant::now();
            let total = gort::spawn(move || {
                let hs: Vec<_> = (0..n).map(|i| gort::spawn(move || i)).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            })
            .join()
            .unwrap();
            assert_eq!(total, n * (n - 1) / 2);
            println!(
                "spawn_join {:.1} ns/g",
                t.elapsed().as_nanos() as f64 / n as f64
            );
        }
        "yield" => {
            let t = Instant::now();
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    gort::spawn(move || {
                        for _ in 0..n {
                            gort::yield_now()
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            println!(
                "yield_switch {:.1} ns/switch",
                t.elapsed().as_nanos() as f64 / (2 * n) as f64
            );
        }
        _ => panic!("spawn|yield"),
    }
}
