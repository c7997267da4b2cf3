//! The seeded generator behind a bubble's schedule: which runnable G runs next, which ready
//! `select!` arm wins, whether a contended lock spins or hands off, and the order of timers due
//! at the same instant. Two strategies, as shuttle has them (wave2.md §7):
//!
//! * **Random**: every choice is uniform among its candidates (shuttle's `RandomScheduler`).
//! * **PCT** (probabilistic concurrency testing, Burckhardt et al., ASPLOS 2010): every G gets
//!   a distinct random priority when it is made, and the runnable G with the highest priority
//!   runs; `depth - 1` change points are drawn uniformly among the first `k` steps (a step is a
//!   choice with more than one candidate), and at the i-th the G that was running drops to
//!   priority `i`, below every initial priority. A G that yields drops below everything (else a
//!   spin-yield loop would never let the others run; shuttle does the same). A bug of depth `d`
//!   with `n` Gs and `k` steps is hit with probability at least `1 / (n * k^(d-1))` per run.
//!
//! # The seed says everything
//!
//! A run is replayed from one `u64`, so that `GORT_SEED=N` and `test_seeded(N, f)` need nothing
//! else. The top nibble names the strategy: `0` Random (the other 60 bits seed the generator),
//! `1` PCT (bits 56..60 the depth, 36..56 the step bound `k`, 0..36 the generator's seed). So a
//! small seed (`42`) is a Random schedule; `explore` makes PCT seeds itself.
//!
//! Everything drawn is folded into [`Chooser::hash`] (the schedule hash: the same seed and
//! program give the same sequence of choices, and so the same hash).

use std::fmt;

/// Top-nibble tag of a PCT seed.
const PCT_TAG: u64 = 1;
/// Bits of a PCT seed's generator part.
const PCT_RNG_BITS: u32 = 36;
/// The largest step bound a PCT seed carries (20 bits).
pub(crate) const PCT_MAX_K: u64 = (1 << 20) - 1;
/// The largest depth a PCT seed carries (4 bits).
pub(crate) const PCT_MAX_DEPTH: u64 = 15;

/// What a seed decodes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    Random { rng: u64 },
    Pct { depth: u32, k: u64, rng: u64 },
}

impl Plan {
    pub(crate) fn decode(seed: u64) -> Plan {
        match seed >> 60 {
            PCT_TAG => Plan::Pct {
                depth: ((seed >> 56) & 0xf).max(1) as u32,
                k: ((seed >> PCT_RNG_BITS) & PCT_MAX_K).max(1),
                rng: seed & ((1 << PCT_RNG_BITS) - 1),
            },
            _ => Plan::Random {
                rng: seed & ((1 << 60) - 1),
            },
        }
    }

    /// The seed of a PCT run of `depth` (1..=15) and step bound `k`, with generator seed `rng`.
    pub(crate) fn pct_seed(depth: u64, k: u64, rng: u64) -> u64 {
        PCT_TAG << 60
            | depth.clamp(1, PCT_MAX_DEPTH) << 56
            | k.clamp(1, PCT_MAX_K) << PCT_RNG_BITS
            | rng & ((1 << PCT_RNG_BITS) - 1)
    }

    /// The seed of a Random run with generator seed `rng`.
    pub(crate) fn random_seed(rng: u64) -> u64 {
        rng & ((1 << 60) - 1)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Random { .. } => write!(f, "random"),
            Plan::Pct { depth, k, .. } => write!(f, "PCT (depth {depth}, {k} steps)"),
        }
    }
}

/// splitmix64: a full-period 64-bit generator with good mixing; its output is also how seeds
/// are derived for `explore`'s iterations.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Pct {
    depth: u32,
    /// The steps at which the running G drops, ascending, with the priority it drops to.
    change_points: Vec<(u64, i64)>,
    /// Priorities by bubble index (higher runs first).
    prio: Vec<i64>,
    /// The next priority for a G that yields (below everything so far).
    low: i64,
}

/// The generator of one bubble run (under the bubble's lock).
pub(crate) struct Chooser {
    rng: u64,
    pct: Option<Pct>,
    /// The schedule hash so far.
    pub(crate) hash: u64,
    /// Choices with more than one candidate (PCT's steps).
    pub(crate) steps: u64,
}

impl Chooser {
    pub(crate) fn new(plan: Plan) -> Chooser {
        let rng = match plan {
            Plan::Random { rng } | Plan::Pct { rng, .. } => rng,
        };
        let mut c = Chooser {
            // Decorrelate nearby seeds (42 and 43 should not start alike).
            rng: rng ^ 0x6A09_E667_F3BC_C908,
            pct: None,
            hash: 0xcbf2_9ce4_8422_2325,
            steps: 0,
        };
        if let Plan::Pct { depth, k, .. } = plan {
            // d - 1 distinct change points uniform in [1, k] (fewer if k is smaller); the i-th
            // drawn (Burckhardt's k_i) lowers the running G to priority i.
            let want = (depth as u64 - 1).min(k) as usize;
            let mut points: Vec<u64> = Vec::with_capacity(want);
            while points.len() < want {
                let p = 1 + c.next() % k;
                if !points.contains(&p) {
                    points.push(p);
                }
            }
            let mut change_points: Vec<(u64, i64)> = points
                .iter()
                .enumerate()
                .map(|(i, &p)| (p, i as i64 + 1))
                .collect();
            change_points.sort_unstable();
            c.pct = Some(Pct {
                depth,
                change_points,
                prio: Vec::new(),
                low: 0,
            });
        }
        c
    }

    fn next(&mut self) -> u64 {
        splitmix(&mut self.rng)
    }

    fn fold(&mut self, v: u64) {
        self.hash = (self.hash ^ v).wrapping_mul(0x0000_0100_0000_01B3);
        self.hash ^= self.hash >> 29;
    }

    /// A uniform draw in `0..n` (n >= 1), folded into the hash.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let x = (((self.next() >> 32) * n as u64) >> 32) as usize;
        self.fold(0x5e1ec7 ^ (x as u64) << 8);
        x
    }

    /// A fair coin, folded into the hash.
    pub(crate) fn coin(&mut self) -> bool {
        self.below(2) == 1
    }

    /// A raw draw (timer tie-breaks), folded into the hash.
    pub(crate) fn draw(&mut self) -> u64 {
        let x = self.next();
        self.fold(x);
        x
    }

    /// A new G with bubble index `idx` (PCT: its random initial priority, above every change
    /// point's).
    pub(crate) fn new_g(&mut self, idx: u32) {
        let r = self.next();
        if let Some(p) = &mut self.pct {
            let base = p.depth as i64 + 1;
            let v = base + (r >> 24) as i64;
            if p.prio.len() <= idx as usize {
                p.prio.resize(idx as usize + 1, base);
            }
            p.prio[idx as usize] = v;
        }
    }

    /// The G `idx` yielded: PCT drops it below everything.
    pub(crate) fn yielded(&mut self, idx: u32) {
        if let Some(p) = &mut self.pct {
            p.low -= 1;
            if let Some(v) = p.prio.get_mut(idx as usize) {
                *v = p.low;
            }
        }
    }

    /// Picks one of `cands` (bubble indices, in a deterministic order); `running` is the G that
    /// ran last (PCT lowers it at a change point). Returns the position in `cands`.
    pub(crate) fn pick(&mut self, cands: &[u32], running: Option<u32>) -> usize {
        debug_assert!(!cands.is_empty());
        if cands.len() > 1 {
            self.steps += 1;
        }
        let i = match &mut self.pct {
            None => {
                if cands.len() == 1 {
                    0
                } else {
                    (((self.next() >> 32) * cands.len() as u64) >> 32) as usize
                }
            }
            Some(p) => {
                if cands.len() > 1 {
                    let step = self.steps;
                    if let Some(&(_, to)) = p.change_points.iter().find(|(s, _)| *s == step) {
                        if let Some(v) = running.and_then(|r| p.prio.get_mut(r as usize)) {
                            *v = to;
                        }
                    }
                }
                let prio = |g: u32| p.prio.get(g as usize).copied().unwrap_or(0);
                let mut best = 0;
                for (j, &g) in cands.iter().enumerate() {
                    let (a, b) = (prio(g), prio(cands[best]));
                    if a > b || (a == b && g < cands[best]) {
                        best = j;
                    }
                }
                best
            }
        };
        self.fold(cands[i] as u64 + 1);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_round_trip() {
        assert_eq!(Plan::decode(42), Plan::Random { rng: 42 });
        let s = Plan::pct_seed(3, 500, 0xabcdef);
        assert_eq!(
            Plan::decode(s),
            Plan::Pct {
                depth: 3,
                k: 500,
                rng: 0xabcdef
            }
        );
        assert_eq!(
            Plan::decode(Plan::random_seed(u64::MAX)),
            Plan::Random { rng: (1 << 60) - 1 }
        );
    }

    #[test]
    fn same_seed_same_choices() {
        let run = |seed| {
            let mut c = Chooser::new(Plan::decode(seed));
            (0..100)
                .map(|i| c.pick(&[0, 1, 2, 3], Some(i % 4)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    /// PCT runs the highest priority: without change points (depth 1) the same G every time;
    /// with one (depth 2), the running G is demoted at it and another runs.
    #[test]
    fn pct_runs_the_highest_priority_until_a_change_point() {
        let switched = |depth: u64, seed: u64| {
            let mut c = Chooser::new(Plan::decode(Plan::pct_seed(depth, 4, seed)));
            for g in 0..3 {
                c.new_g(g);
            }
            let first = c.pick(&[0, 1, 2], None) as u32;
            (0..5).any(|_| c.pick(&[0, 1, 2], Some(first)) as u32 != first)
        };
        assert!((0..50).all(|s| !switched(1, s)));
        assert!((0..50).any(|s| switched(2, s)));
    }
}
