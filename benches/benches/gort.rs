//! Criterion benches of gort alone: spawn_join, yield_switch, fanout_compute.
//! (Cross-runtime numbers come from `--bin compare`, see benches/README.md.)

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gort_benches::common::{calibrate_iters_per_ms, spin};
use std::hint::black_box;

/// Spawns per iteration of the spawn_join group.
const SPAWNS: u64 = 100_000;

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    g.throughput(Throughput::Elements(SPAWNS));
    g.sample_size(10);
    g.bench_function(BenchmarkId::from_parameter(SPAWNS), |b| {
        b.iter(|| {
            let hs: Vec<_> = (0..SPAWNS)
                .map(|i| gort::spawn(move || black_box(i)))
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        })
    });
    g.finish();
}

fn yield_switch(c: &mut Criterion) {
    const SWITCHES: u64 = 10_000;
    let mut g = c.benchmark_group("yield_switch");
    g.throughput(Throughput::Elements(SWITCHES));
    g.bench_function(BenchmarkId::from_parameter(SWITCHES), |b| {
        b.iter(|| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    gort::spawn(|| {
                        for _ in 0..SWITCHES / 2 {
                            gort::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        })
    });
    g.finish();
}

fn fanout_compute(c: &mut Criterion) {
    const TASKS: u64 = 100;
    let iters = calibrate_iters_per_ms(); // 1 ms of CPU per task
    let mut g = c.benchmark_group("fanout_compute");
    g.throughput(Throughput::Elements(TASKS));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("tasks_x_1ms", TASKS), |b| {
        b.iter(|| {
            let hs: Vec<_> = (0..TASKS)
                .map(|_| gort::spawn(move || spin(iters)))
                .collect();
            for h in hs {
                black_box(h.join().unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, spawn_join, yield_switch, fanout_compute);
criterion_main!(benches);
