//! Support code of gort's benchmarks (see `benches/README.md`).
pub mod common;
