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
    /// `shrinkstack=0` turns off the shrinking of parked Gs' stacks (stack.rs; on by default,
    /// Linux on x86_64 and aarch64; Go's `gcshrinkstackoff=1`).
    pub shrinkstack: bool,
    /// `blocktrace=1`: one line on stderr each time sysmon hands off a P because its G blocked
    /// its thread without `gort::blocking`, naming the G, the syscall and the user-space pc.
    pub blocktrace: bool,
    /// `hogreport=1`: one line on stderr each time sysmon takes a P from a G that ran a whole
    /// time slice without a scheduling point (naming the G, its spawn site and how long).
    pub hogreport: bool,
    /// `dumponquit=1`: on SIGQUIT, print every G (`gort::dump`) on stderr and exit with status
    /// 2, as Go does. Off by default: a library must not take a signal unasked.
    pub dumponquit: bool,
}

impl Default for Debug {
    fn default() -> Debug {
        Debug {
            schedtrace_ms: 0,
            scheddetail: false,
            scavenge_off: false,
            blockcheck: true,
            shrinkstack: true,
            blocktrace: false,
            hogreport: false,
            dumponquit: false,
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
    /// `GORT_DEBUG=trace=FILE`: record an execution trace into FILE from the start until exit.
    pub trace_file: Option<String>,
    /// Whether `GORT_MAXPROCS` set the number of Ps (otherwise sysmon follows the CPU limit:
    /// the affinity mask and the cgroup quota, re-read every second, as Go 1.25 does).
    pub maxprocs_explicit: bool,
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
        let default_procs = default_maxprocs();
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
        let mut trace_file = None;
        let maxprocs_explicit = get("GORT_MAXPROCS").is_some();
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
                    "shrinkstack" => debug.shrinkstack = flag(item, key, val, true, &mut warnings),
                    "blocktrace" => debug.blocktrace = flag(item, key, val, false, &mut warnings),
                    "hogreport" => debug.hogreport = flag(item, key, val, false, &mut warnings),
                    "dumponquit" => debug.dumponquit = flag(item, key, val, false, &mut warnings),
                    "trace" if !val.is_empty() => trace_file = Some(val.to_string()),
                    "trace" => warnings.push(format!(
                        "gort: ignoring GORT_DEBUG item {item:?}: trace wants a file name \
                         (e.g. trace=/tmp/gort-trace.json); no trace is recorded"
                    )),
                    _ => warnings.push(format!(
                        "gort: ignoring unknown GORT_DEBUG key {key:?} (known: schedtrace, \
                         scheddetail, scavenge, blockcheck, shrinkstack, blocktrace, hogreport, \
                         dumponquit, trace)"
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
                trace_file,
                maxprocs_explicit,
            },
            warnings,
        )
    }
}

/// The default number of Ps when `GORT_MAXPROCS` is not set (Go 1.25's `defaultGOMAXPROCS`):
/// the CPUs this thread may run on (the affinity mask), capped by the cgroup CPU quota
/// (`quota / period`, a fraction rounded up, at least 2; the smallest limit from the cgroup up
/// to the root), at least 1.
pub fn default_maxprocs() -> usize {
    let cpus = affinity_cpus()
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1);
    let procs = match cgroup_cpu_limit() {
        Some(limit) => cpus.min((limit.ceil() as usize).max(2)),
        None => cpus,
    };
    procs.clamp(1, MAX_PROCS)
}

/// CPUs in this thread's affinity mask (Linux `sched_getaffinity`).
fn affinity_cpus() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `cpu_set_t` is plain data; zeroed is a valid empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer to a set of the size given; 0 names the calling thread.
        let r =
            unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
        if r != 0 {
            return None;
        }
        // SAFETY: `set` was filled by the kernel.
        let n = unsafe { libc::CPU_COUNT(&set) };
        (n > 0).then_some(n as usize)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The cgroup CPU limit in CPUs (`quota / period`), if one is set: cgroup v2 `cpu.max`, or v1
/// `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the smallest along the path up to the root.
pub fn cgroup_cpu_limit() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut best: Option<f64> = None;
    let mut take = |v: Option<f64>| {
        if let Some(v) = v {
            best = Some(best.map_or(v, |b: f64| b.min(v)));
        }
    };
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let ancestors = |root: &str| -> Vec<String> {
            let mut out = Vec::new();
            let mut p = std::path::PathBuf::from(path);
            loop {
                out.push(format!("{root}{}", p.display()).replace("//", "/"));
                if !p.pop() {
                    break;
                }
            }
            out
        };
        if ctrls.is_empty() {
            // cgroup v2
            for dir in ancestors("/sys/fs/cgroup") {
                take(
                    std::fs::read_to_string(format!("{dir}/cpu.max"))
                        .ok()
                        .and_then(|s| parse_cpu_max(&s)),
                );
            }
        } else if ctrls.split(',').any(|c| c == "cpu") {
            for root in ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"] {
                for dir in ancestors(root) {
                    let q = std::fs::read_to_string(format!("{dir}/cpu.cfs_quota_us")).ok();
                    let p = std::fs::read_to_string(format!("{dir}/cpu.cfs_period_us")).ok();
                    if let (Some(q), Some(p)) = (q, p) {
                        take(parse_cfs(&q, &p));
                    }
                }
            }
        }
    }
    best
}

/// `cpu.max`: `max 100000` (no limit) or `QUOTA PERIOD`.
fn parse_cpu_max(s: &str) -> Option<f64> {
    let mut it = s.split_whitespace();
    let q = it.next()?;
    let p: f64 = it.next()?.parse().ok()?;
    if q == "max" || p <= 0.0 {
        return None;
    }
    let q: f64 = q.parse().ok()?;
    (q > 0.0).then(|| q / p)
}

/// v1: a quota of -1 means no limit.
fn parse_cfs(q: &str, p: &str) -> Option<f64> {
    let q: i64 = q.trim().parse().ok()?;
    let p: f64 = p.trim().parse().ok()?;
    (q > 0 && p > 0.0).then(|| q as f64 / p)
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
    fn cgroup_limits_parse() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cfs("-1", "100000"), None);
        assert_eq!(parse_cfs("50000\n", "100000\n"), Some(0.5));
        let n = default_maxprocs();
        assert!((1..=MAX_PROCS).contains(&n));
    }

    #[test]
    fn observability_keys() {
        let (c, w) = parse(&[("GORT_DEBUG", "hogreport=1,dumponquit=1,trace=/tmp/t.json")]);
        assert!(w.is_empty(), "{w:?}");
        assert!(c.debug.hogreport && c.debug.dumponquit);
        assert_eq!(c.trace_file.as_deref(), Some("/tmp/t.json"));
        let (c, w) = parse(&[("GORT_DEBUG", "trace=")]);
        assert_eq!(w.len(), 1);
        assert!(c.trace_file.is_none());
        assert!(!c.maxprocs_explicit);
        let (c, _) = parse(&[("GORT_MAXPROCS", "2")]);
        assert!(c.maxprocs_explicit);
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
