//! Starting an example service the way it is judged: the built binary, `--addr 127.0.0.1:PORT`,
//! listening within 20 s, killed at the end.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running example binary; killed on drop.
pub struct Service {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example binary `name`, built by `cargo test` beside the test binaries
/// (`target/<profile>/examples/NAME`).
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let p = dir.join("examples").join(name);
    assert!(
        p.exists(),
        "{} not built: run the tests with `cargo test -p gort-services`, which builds the examples",
        p.display()
    );
    p
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Starts example `name` on a free port and waits (up to 20 s) until it accepts connections.
pub fn start(name: &str, env: &[(&str, &str)]) -> Service {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut cmd = Command::new(example_path(name));
    cmd.arg("--addr")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start the example");
    let mut s = Service { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(addr).is_ok() {
            return s;
        }
        if let Ok(Some(st)) = s.child.try_wait() {
            panic!("{name} exited before listening: {st}");
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not listen on {addr} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client with a read timeout, so a server that stops answering fails the test instead of
/// hanging it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c
}

/// Open descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
