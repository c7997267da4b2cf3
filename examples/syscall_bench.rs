//! Cost of `gort::blocking` around a short system call (issue: syscall-heavy loop), printed
//! beside the bare call: `cargo run --release --example syscall_bench`.
use std::time::Instant;

fn main() {
    let n = 1_000_000u32;
    gort::spawn(move || {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(std::os::unix::process::parent_id());
        }
        let raw = t.elapsed();
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(gort::blocking(std::os::unix::process::parent_id));
        }
        let wrapped = t.elapsed();
        println!(
            "gort: raw {:.1} ns/call, inside gort::blocking {:.1} ns/call, overhead {:.1} ns",
            raw.as_nanos() as f64 / n as f64,
            wrapped.as_nanos() as f64 / n as f64,
            (wrapped.as_nanos() as f64 - raw.as_nanos() as f64) / n as f64
        );
    })
    .join()
    .unwrap();
}
