//! `redis_server` driven the way clients drive it: the built example binary on a free port,
//! byte-exact replies, inline and RESP requests, pipelining answered in one write per batch,
//! errors that keep or close the connection, the same bytes as a real `redis-server` when one is
//! installed, and `redis-benchmark` running against it without an error.

mod common;

use common::{connect, start};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Requests and the exact bytes Redis 7.0 answers (checked against redis-server 7.0.15).
const EXCHANGES: &[(&[u8], &[u8])] = &[
    (b"PING\r\n", b"+PONG\r\n"),
    (b"ping hello\r\n", b"$5\r\nhello\r\n"),
    (
        b"PING a b\r\n",
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    ),
    (b"*1\r\n$4\r\nPiNg\r\n", b"+PONG\r\n"),
    (b"GET missing\r\n", b"$-1\r\n"),
    (b"SET k v\r\n", b"+OK\r\n"),
    (b"*2\r\n$3\r\nget\r\n$1\r\nk\r\n", b"$1\r\nv\r\n"),
    (
        b"SET k\r\n",
        b"-ERR wrong number of arguments for 'set' command\r\n",
    ),
    (
        b"INCR k\r\n",
        b"-ERR value is not an integer or out of range\r\n",
    ),
    (b"INCR counter\r\nincr counter\r\n", b":1\r\n:2\r\n"),
    (
        b"SET big 9223372036854775807\r\nINCR big\r\n",
        b"+OK\r\n-ERR increment or decrement would overflow\r\n",
    ),
    (
        b"SET z 01\r\nINCR z\r\n",
        b"+OK\r\n-ERR value is not an integer or out of range\r\n",
    ),
    (
        b"SET neg -5\r\nINCR neg\r\nGET neg\r\n",
        b"+OK\r\n:-4\r\n$2\r\n-4\r\n",
    ),
    (b"DEL k counter nothere\r\n", b":2\r\n"),
    (
        b"DEL\r\n",
        b"-ERR wrong number of arguments for 'del' command\r\n",
    ),
    (
        b"SET 'a b' \"c\\x41\\n\"\r\nGET \"a b\"\r\n",
        b"+OK\r\n$3\r\ncA\n\r\n",
    ),
    (
        b"*3\r\n$3\r\nSET\r\n$5\r\nempty\r\n$0\r\n\r\nGET empty\r\n",
        b"+OK\r\n$0\r\n\r\n",
    ),
    (b"\r\n\r\n*0\r\n*-1\r\nPING\r\n", b"+PONG\r\n"),
    (b"ping\nping\n", b"+PONG\r\n+PONG\r\n"),
    (
        b"FOO a b\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
    ),
    (
        b"CONFIG GET save\r\nPING\r\n",
        b"-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'save' \r\n+PONG\r\n",
    ),
    (
        b"FOO \"a\\r\\nb\"\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: 'a  b' \r\n",
    ),
];

/// Protocol errors: Redis's reply, then the connection closes.
const FATAL: &[(&[u8], &[u8])] = &[
    (
        b"PING \"open\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    ),
    (
        b"PING\r\n*x\r\n",
        b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
    ),
    (
        b"*2\r\n+GET\r\n",
        b"-ERR Protocol error: expected '$', got '+'\r\n",
    ),
    (
        b"*1\r\n$-3\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"*1\r\n$600000000\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
];

fn read_n(c: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0; n];
    c.read_exact(&mut b).expect("the reply");
    b
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn replies_byte_for_byte() {
    let s = start("redis_server", &[]);
    let mut c = connect(s.addr);
    for (req, want) in EXCHANGES {
        c.write_all(req).unwrap();
        let got = read_n(&mut c, want.len());
        assert_eq!(show(&got), show(want), "request {:?}", show(req));
    }
    // The connection is still open after all those errors.
    c.write_all(b"PING\r\n").unwrap();
    assert_eq!(read_n(&mut c, 7), b"+PONG\r\n");
    for (req, want) in FATAL {
        let mut c = connect(s.addr);
        c.write_all(req).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).expect("reply, then close");
        assert_eq!(show(&got), show(want), "request {:?}", show(req));
    }
}

#[test]
fn too_big_inline_request_closes() {
    let s = start("redis_server", &[]);
    let mut c = connect(s.addr);
    // 64 KiB + 1 with no newline: Redis gives up on the line.
    let _ = c.write_all(&vec![b'a'; 64 * 1024 + 1]);
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert_eq!(
        show(&got),
        "-ERR Protocol error: too big inline request\r\n"
    );
}

/// Many clients incrementing one key through the sharded map lose no update.
#[test]
fn concurrent_incr_loses_nothing() {
    let s = start("redis_server", &[]);
    let addr = s.addr;
    let clients: Vec<_> = (0..50)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = connect(addr);
                for _ in 0..20 {
                    c.write_all(&b"INCR shared\r\n".repeat(10)).unwrap();
                    let mut left = 10;
                    let mut buf = Vec::new();
                    while left > 0 {
                        let mut b = [0; 256];
                        let n = c.read(&mut b).unwrap();
                        assert!(n > 0, "closed");
                        buf.extend_from_slice(&b[..n]);
                        left = 10 - buf.iter().filter(|&&x| x == b'\n').count();
                    }
                }
            })
        })
        .collect();
    for h in clients {
        h.join().unwrap();
    }
    let mut c = connect(addr);
    c.write_all(b"GET shared\r\n").unwrap();
    assert_eq!(read_n(&mut c, 11), b"$5\r\n10000\r\n");
}

/// Sends `req` then a sentinel PING and reads until its answer (or EOF after a protocol error).
fn script(addr: SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut c = connect(addr);
    c.write_all(req).unwrap();
    let _ = c.write_all(b"PING __end__\r\n");
    let mut got = Vec::new();
    let mut b = [0; 4096];
    while !got.ends_with(b"$7\r\n__end__\r\n") {
        match c.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
    got
}

/// The same requests to a real redis-server (when installed) and to ours give the same bytes.
#[test]
fn same_bytes_as_redis_server() {
    let Some(port) = start_redis() else {
        eprintln!("redis-server not installed: comparison skipped (apt-get install redis-server)");
        return;
    };
    let redis: SocketAddr = ([127, 0, 0, 1], port.0).into();
    let s = start("redis_server", &[]);
    let mut long_name = b"f".repeat(200);
    long_name.extend_from_slice(b" arg\r\n");
    let mut long_args = b"nosuch ".to_vec();
    long_args.extend_from_slice(&b"x".repeat(100));
    long_args.extend_from_slice(b" yy zz\r\n");
    let extra: Vec<&[u8]> = vec![&long_name, &long_args];
    let reqs = EXCHANGES.iter().chain(FATAL).map(|(r, _)| *r).chain(extra);
    // CONFIG is a command real Redis has and we do not.
    for req in reqs.filter(|r| !r.starts_with(b"CONFIG")) {
        // A fresh keyspace view per request: delete what the cases touch first.
        let reset = b"DEL k counter big z neg empty pipe shared \"a b\"\r\n";
        script(redis, reset);
        script(s.addr, reset);
        let (a, b) = (script(s.addr, req), script(redis, req));
        assert_eq!(show(&a), show(&b), "request {:?}", show(req));
    }
}

/// A real redis-server on a free port, or None if there is none installed.
struct Redis(u16, std::process::Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.1.kill();
        let _ = self.1.wait();
    }
}

fn start_redis() -> Option<Redis> {
    let port = common::free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let r = Redis(port, child);
    for _ in 0..500 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(r);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("redis-server did not start on port {port}");
}

/// redis-benchmark (which exits 1 on any error reply) runs its SET/GET/INCR tests against us,
/// pipelined and not.
#[test]
fn redis_benchmark_runs_clean() {
    if Command::new("redis-benchmark")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("redis-benchmark not installed: skipped (apt-get install redis-tools)");
        return;
    }
    let s = start("redis_server", &[]);
    for pipeline in ["1", "16"] {
        let out = Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &s.addr.port().to_string()])
            .args(["-r", "1000", "-t", "set,get,incr", "-n", "2000", "-c", "20"])
            .args(["-P", pipeline, "-q"])
            .output()
            .expect("run redis-benchmark");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "redis-benchmark -P {pipeline}: {text}"
        );
        for t in ["SET", "GET", "INCR"] {
            assert!(text.contains(&format!("{t}: ")), "no {t} line in {text}");
        }
    }
}
