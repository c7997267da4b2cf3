//! The ring's memory floor without any runtime: what it costs to resume a parked stack that
//! went cold, as a function of how far apart the stacks are.
//!
//! `stack_stride [nodes] [hops] [stride KiB ...]` maps `nodes` regions of `stride` bytes each
//! (one anonymous mapping, as gort's stack slabs are), then walks them in a ring as the `ring`
//! workload resumes its Gs: at each hop it reads and writes the 640 bytes below the region's
//! top (the frames a parked G in `ring` keeps there: it parks ~620 bytes below its stack top,
//! docs/channels.md §2) and moves to the next region. No scheduler, no channel, no G record:
//! only the stack lines and the page walks to reach them. Prints one `RESULT` line per stride
//! (ns per hop, the median of 5 passes).
//!
//! Go's goroutines start on 8 KiB stacks carved from its heap (two per 16 KiB span page
//! run), gort's default is a 256 KiB reservation per G (GORT_STACK_SIZE): the same hop
//! touches the same number of lines, but one page table line per G instead of one per four
//! Gs, and a page walk whose upper levels span 2.5 GiB instead of 80 MiB for 10,000 Gs.

use std::time::Instant;

/// Bytes below a region's top that each hop reads and writes (a parked ring G's frames).
const HOT: usize = 640;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("usage: stack_stride [nodes] [hops] [stride KiB ...]")
        })
        .collect();
    let nodes = args.first().copied().unwrap_or(10_000);
    let hops = args.get(1).copied().unwrap_or(3_000_000);
    let strides: Vec<usize> = match args.get(2..) {
        Some(s) if !s.is_empty() => s.to_vec(),
        _ => vec![8, 16, 64, 256],
    };
    for kib in strides {
        let ns = median_pass(nodes, hops, kib << 10);
        println!(
            "RESULT workload=stack_stride stride_kib={kib} nodes={nodes} value={ns:.1} unit=ns/hop"
        );
    }
}

/// Median ns per hop of five passes over a fresh mapping.
fn median_pass(nodes: usize, hops: usize, stride: usize) -> f64 {
    assert!(
        stride >= 4096 && stride.is_multiple_of(4096),
        "stride must be whole pages"
    );
    let len = nodes * stride;
    // SAFETY: a fresh private anonymous mapping; checked for failure below.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(base != libc::MAP_FAILED, "mmap of {len} bytes failed");
    let top = |i: usize| base as usize + (i + 1) * stride - HOT;
    // Each region's first hot word names the next region, as a parked G's waiter is what the
    // previous G finds it by: the next address is known only once this hop's line is loaded
    // (a dependent chain, like the ring's, so the hops cannot overlap).
    for i in 0..nodes {
        // SAFETY: `top(i)` lies within the mapping, 8-byte aligned.
        unsafe { (top(i) as *mut usize).write(top((i + 1) % nodes)) };
    }
    let mut passes = Vec::new();
    let mut sink = 0usize;
    for _ in 0..6 {
        let t = Instant::now();
        let mut p = top(0) as *mut usize;
        for _ in 0..hops {
            // SAFETY: `p` is some region's top, inside the mapping (written above).
            let next = unsafe { p.read_volatile() };
            // The rest of the frames, a word read and written per line (a resume pops saved
            // registers, a return path reloads and spills locals); each line's address
            // depends on `next`'s load only through `p`, as the frames depend on the stack
            // pointer.
            for line in 1..HOT / 64 {
                // SAFETY: `p + line * 8` words lies within the same region's last HOT bytes.
                unsafe {
                    let w = p.add(line * 8 + 1);
                    let v = w.read_volatile();
                    w.write_volatile(v.wrapping_add(1));
                    sink = sink.wrapping_add(v);
                }
            }
            p = next as *mut usize;
        }
        passes.push(t.elapsed().as_nanos() as f64 / hops as f64);
    }
    // SAFETY: unmapping exactly the mapping made above; nothing points into it any more.
    unsafe { libc::munmap(base, len) };
    std::hint::black_box(sink);
    passes.remove(0); // the first pass faults the pages in
    passes.sort_by(f64::total_cmp);
    passes[passes.len() / 2]
}
