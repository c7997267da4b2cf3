//! Runtime configuration from the environment: `GORT_MAXPROCS`, `GORT_STACK_SIZE`,
//! `GORT_MAXTHREADS`, `GORT_MAXBLOCKING`, `GORT_DEBUG`.
//!
//! Read once, when the runtime starts. An invalid value never panics: it prints one warning on
//! stderr naming the variable, the value given and the value used instead, and the runtime goes
//! on with the default (Go ignores bad GOMAXPROCS silently; we say so).

use std::fmt::Write as _;

/// The default stack size of a G: 256 KiB.
///
/// Origin: a G's stack is reserved, not committed (slabs are `MAP_NORESERVE`), so the size costs
/// address space, and only the pages a G touches cost memory. 256 KiB runs ordinary Rust code
/// (formatting, std I/O, serde-sized frames, a few levels of recursion) with room to spare, where
/// may's 32 KiB default is a known source of overflows; a million Gs reserve 256 GiB of the
/// 128 TiB user address space. Raise it per G with `Builder::stack_size`.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;
/// The smallest stack a G may ask for (four pages: corosensei's minimum plus room for the
/// runtime's own frames on the G's stack).
pub const MIN_STACK_SIZE: usize = 16 * 1024;
/// The largest stack a G may ask for: 1 GiB, Go's limit for a goroutine's stack on 64-bit
/// systems (`maxstacksize`). Larger requests are errors (`Builder::spawn`) or warnings
/// (`GORT_STACK_SIZE`); sizes are rounded to a bounded set of classes (docs/stacks.md).
pub const MAX_STACK_SIZE: usize = 1 << 30;

/// What `GORT_DEBUG` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Debug {
    /// `schedtrace=MS`: print a `SCHED` line every MS milliseconds (0 = off).
    pub schedtrace_ms: u64,
    /// `scheddetail=1`: add per-P, per-M and per-G lines to each trace.
    pub scheddetail: bool,
    /// `scavenge=0`: do not return the memory freed after a burst of Gs to the OS
    /// (runtime/src/scavenge.rs; on by default).
    pub scavenge_off: bool,
    /// `blockcheck=0` turns off sysmon's detection of blocking calls made without
    /// `gort::blocking` (on by default; docs/blocking.md). For measuring what it costs.
    pub blockcheck: bool,
    /// `blocktrace=1`: one line on stderr each time sysmon hands off a P because its G blocked
    /// its thread without `gort::blocking`, naming the G, the syscall and the user-space pc.
    pub blocktrace: bool,
}

impl Default for Debug {
    fn default() -> Debug {
        Debug {
            schedtrace_ms: 0,
            scheddetail: false,
            scavenge_off: false,
            blockcheck: true,
            blocktrace: false,
        }
    }
}

/// The runtime's configuration, as read from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Number of Ps.
    pub maxprocs: usize,
    /// Default stack size for a G, in bytes.
    pub stack_size: usize,
    /// The most OS threads (Ms) the runtime may run; more is a fatal error (Go's 10,000).
    pub maxthreads: usize,
    /// The most Gs inside `gort::blocking`/`block_in_place` at once (each holds an M); more
    /// wait, parked, for one to return (`GORT_MAXBLOCKING`, tokio's `max_blocking_threads`).
    pub maxblocking: usize,
    /// Tracing knobs.
    pub debug: Debug,
}

/// Default `GORT_MAXTHREADS` (Go's `sched.maxmcount`).
pub const DEFAULT_MAXTHREADS: usize = 10_000;

/// Default `GORT_MAXBLOCKING`: tokio's `max_blocking_threads` (512). With the default
/// `GORT_MAXTHREADS` a burst of blocking calls then waits instead of reaching the thread limit.
pub const DEFAULT_MAXBLOCKING: usize = 512;

impl Config {
    /// Reads `GORT_*` from the process environment, warning on stderr about invalid values.
    pub fn from_env() -> Config {
        let (cfg, warnings) = Config::parse(|k| std::env::var(k).ok());
        for w in warnings {
            eprintln!("{w}");
        }
        cfg
    }

    /// Parses a configuration from a lookup function; returns it and the warnings to print.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> (Config, Vec<String>) {
        let mut warnings = Vec::new();
        let default_procs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let maxprocs = match get("GORT_MAXPROCS") {
            None => default_procs,
            // Too large for any integer type reads as too large, not as malformed.
            Some(v) => match v.trim().parse::<u64>().or_else(|e| match e.kind() {
                std::num::IntErrorKind::PosOverflow => Ok(u64::MAX),
                _ => Err(e),
            }) {
                Ok(n) if n >= 1 && n <= MAX_PROCS as u64 => n as usize,
                Ok(0) => {
                    warnings.push(warning(
                        "GORT_MAXPROCS",
                        &v,
                        "must be at least 1",
                        default_procs,
                    ));
                    default_procs
                }
                Ok(_) => {
                    warnings.push(warning(
                        "GORT_MAXPROCS",
                        &v,
                        &format!("out of range (1 to {MAX_PROCS})"),
                        MAX_PROCS,
                    ));
                    MAX_PROCS
                }
                Err(_) => {
                    warnings.push(warning(
                        "GORT_MAXPROCS",
                        &v,
                        "not a positive integer",
                        default_procs,
                    ));
                    default_procs
                }
            },
        };
        let stack_size = match get("GORT_STACK_SIZE") {
            None => DEFAULT_STACK_SIZE,
            Some(v) => match parse_size(&v) {
                Some(n) if (MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&n) => n,
                Some(n) if n < MIN_STACK_SIZE => {
                    warnings.push(warning(
                        "GORT_STACK_SIZE",
                        &v,
                        "below the 16 KiB minimum",
                        MIN_STACK_SIZE,
                    ));
                    MIN_STACK_SIZE
                }
                Some(_) => {
                    warnings.push(warning(
                        "GORT_STACK_SIZE",
                        &v,
                        "above the 1 GiB maximum",
                        DEFAULT_STACK_SIZE,
                    ));
                    DEFAULT_STACK_SIZE
                }
                None => {
                    warnings.push(warning(
                        "GORT_STACK_SIZE",
                        &v,
                        "not a size in bytes (e.g. 262144, 256K, 1M)",
                        DEFAULT_STACK_SIZE,
                    ));
                    DEFAULT_STACK_SIZE
                }
            },
        };
        let mut positive = |var: &str, default: usize| match get(var) {
            None => default,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n >= min_threads(maxprocs) => n,
                Ok(n) if n >= 1 => {
                    warnings.push(warning(
                        "GORT_MAXTHREADS",
                        &v,
                        &format!(
                            "below what {maxprocs} Ps need (an M per P, plus one to hand a P to \
                             while an M blocks); raised"
                        ),
                        min_threads(maxprocs),
                    ));
                    min_threads(maxprocs)
                }
                Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => usize::MAX,
                _ => {
                    warnings.push(warning(var, &v, "not a positive integer", default));
                    default
                }
            },
        };
        let maxthreads = positive("GORT_MAXTHREADS", DEFAULT_MAXTHREADS);
        let maxblocking = positive("GORT_MAXBLOCKING", DEFAULT_MAXBLOCKING);
        let mut debug = Debug::default();
        if let Some(v) = get("GORT_DEBUG") {
            for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (key, val) = item.split_once('=').unwrap_or((item, ""));
                match key {
                    "schedtrace" => match val.parse::<u64>() {
                        Ok(ms) => debug.schedtrace_ms = ms,
                        Err(_) => warnings.push(format!(
                            "gort: ignoring GORT_DEBUG item {item:?}: schedtrace wants \
                             milliseconds (e.g. schedtrace=1000); using schedtrace=0 (off)"
                        )),
                    },
                    "scavenge" => {
                        debug.scavenge_off = !flag(item, key, val, true, &mut warnings);
                    }
                    "scheddetail" => debug.scheddetail = flag(item, key, val, false, &mut warnings),
                    "blockcheck" => debug.blockcheck = flag(item, key, val, true, &mut warnings),
                    "blocktrace" => debug.blocktrace = flag(item, key, val, false, &mut warnings),
                    _ => warnings.push(format!(
                        "gort: ignoring unknown GORT_DEBUG key {key:?} (known: schedtrace, \
                         scheddetail, scavenge, blockcheck, blocktrace)"
                    )),
                }
            }
        }
        (
            Config {
                maxprocs,
                stack_size,
                maxthreads,
                maxblocking,
                debug,
            },
            warnings,
        )
    }
}

/// The largest number of Ps (Go allows 2^31; beyond a few hundred the per-P arrays in traces are
/// useless and a typo like 10000000 would allocate for nothing).
pub const MAX_PROCS: usize = 1024;

/// A `GORT_DEBUG` switch: `key=1` or `key=0`; anything else warns and gives `default`.
fn flag(item: &str, key: &str, val: &str, default: bool, warnings: &mut Vec<String>) -> bool {
    match val {
        "1" => true,
        "0" => false,
        _ => {
            warnings.push(format!(
                "gort: ignoring GORT_DEBUG item {item:?}: {key} is 0 or 1; using {key}={}",
                u8::from(default)
            ));
            default
        }
    }
}

fn warning(var: &str, value: &str, why: &str, used: usize) -> String {
    let mut s = String::new();
    let _ = write!(s, "gort: ignoring {var}={value:?}: {why}; using {used}");
    s
}

/// The fewest Ms `GORT_MAXTHREADS` may allow with `maxprocs` Ps: one M per P, plus one so that a
/// P can be handed off while its M blocks or hogs (sysmon's retake needs a second M).
pub fn min_threads(maxprocs: usize) -> usize {
    maxprocs + 1
}

/// Parses `262144`, `256K`, `256KiB`, `1M`, `1MiB` (binary units; case-insensitive). A size
/// too large for `usize` reads as `usize::MAX` (callers call it too large, not malformed).
pub fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let lower = v.to_ascii_lowercase();
    let (num, mult) = if let Some(n) = lower
        .strip_suffix("kib")
        .or_else(|| lower.strip_suffix("kb"))
        .or_else(|| lower.strip_suffix('k'))
    {
        (n, 1024)
    } else if let Some(n) = lower
        .strip_suffix("mib")
        .or_else(|| lower.strip_suffix("mb"))
        .or_else(|| lower.strip_suffix('m'))
    {
        (n, 1024 * 1024)
    } else {
        (lower.as_str(), 1)
    };
    match num.trim().parse::<usize>() {
        Ok(n) => Some(n.saturating_mul(mult)),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => Some(usize::MAX),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> (Config, Vec<String>) {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_without_env() {
        let (c, w) = parse(&[]);
        assert!(w.is_empty());
        assert!(c.maxprocs >= 1);
        assert_eq!(c.stack_size, DEFAULT_STACK_SIZE);
        assert_eq!(c.debug, Debug::default());
    }

    #[test]
    fn bad_maxprocs_warns_and_uses_default() {
        for bad in ["0", "-3", "four", ""] {
            let (c, w) = parse(&[("GORT_MAXPROCS", bad)]);
            assert_eq!(w.len(), 1, "{bad}");
            assert!(w[0].contains("GORT_MAXPROCS"), "{}", w[0]);
            assert!(w[0].contains("using"), "{}", w[0]);
            assert!(c.maxprocs >= 1);
        }
        let (c, w) = parse(&[("GORT_MAXPROCS", "3")]);
        assert!(w.is_empty());
        assert_eq!(c.maxprocs, 3);
    }

    #[test]
    fn stack_sizes() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64K"), Some(65536));
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("x"), None);
        let (c, w) = parse(&[("GORT_STACK_SIZE", "4096")]);
        assert_eq!(c.stack_size, MIN_STACK_SIZE);
        assert!(w[0].contains("GORT_STACK_SIZE"));
        let (c, w) = parse(&[("GORT_STACK_SIZE", "lots")]);
        assert_eq!(c.stack_size, DEFAULT_STACK_SIZE);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn out_of_range_values_say_so() {
        let (c, w) = parse(&[("GORT_MAXPROCS", "99999999999999999999")]);
        assert_eq!(c.maxprocs, MAX_PROCS);
        assert!(w[0].contains("out of range"), "{}", w[0]);
        let (c, w) = parse(&[("GORT_MAXPROCS", "5000")]);
        assert_eq!(c.maxprocs, MAX_PROCS);
        assert!(w[0].contains("out of range"), "{}", w[0]);
        let (c, w) = parse(&[("GORT_STACK_SIZE", "18446744073709551615")]);
        assert_eq!(c.stack_size, DEFAULT_STACK_SIZE);
        assert!(w[0].contains("maximum"), "{}", w[0]);
        let (c, w) = parse(&[("GORT_STACK_SIZE", "99999999999999999999999K")]);
        assert_eq!(c.stack_size, DEFAULT_STACK_SIZE);
        assert!(w[0].contains("maximum"), "{}", w[0]);
        let (c, w) = parse(&[("GORT_MAXTHREADS", "1"), ("GORT_MAXPROCS", "4")]);
        assert_eq!(c.maxthreads, 5);
        assert!(w[0].contains("raised"), "{}", w[0]);
        let (c, w) = parse(&[("GORT_MAXTHREADS", "5"), ("GORT_MAXPROCS", "4")]);
        assert_eq!(c.maxthreads, 5);
        assert!(w.is_empty());
    }

    #[test]
    fn debug_keys() {
        let (c, w) = parse(&[("GORT_DEBUG", "schedtrace=100,scheddetail=1")]);
        assert!(w.is_empty());
        assert_eq!(c.debug.schedtrace_ms, 100);
        assert!(c.debug.scheddetail);
        let (_, w) = parse(&[("GORT_DEBUG", "schedtrace=abc,gctrace=1")]);
        assert_eq!(w.len(), 2);
        assert!(w[1].contains("gctrace"));
        let (c, w) = parse(&[("GORT_DEBUG", "blockcheck=0,blocktrace=1")]);
        assert!(w.is_empty());
        assert!(!c.debug.blockcheck && c.debug.blocktrace);
        let (c, w) = parse(&[("GORT_DEBUG", "blockcheck=off")]);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("blockcheck=1"), "{}", w[0]);
        assert!(c.debug.blockcheck);
    }

    #[test]
    fn maxblocking() {
        let (c, w) = parse(&[]);
        assert!(w.is_empty());
        assert_eq!(c.maxblocking, DEFAULT_MAXBLOCKING);
        let (c, w) = parse(&[("GORT_MAXBLOCKING", "8")]);
        assert!(w.is_empty());
        assert_eq!(c.maxblocking, 8);
        let (c, w) = parse(&[("GORT_MAXBLOCKING", "0")]);
        assert_eq!(c.maxblocking, DEFAULT_MAXBLOCKING);
        assert!(w[0].contains("GORT_MAXBLOCKING"), "{}", w[0]);
    }
}
