//! `redis_server`: a Redis-protocol (RESP2) server on gort: GET, SET, INCR, DEL, PING, QUIT.
//!
//! ```text
//! cargo run --release --example redis_server -- --addr 127.0.0.1:6380
//! redis-cli -p 6380 set greeting hello
//! redis-benchmark -p 6380 -r 100000 -t set,get,incr -c 50 -P 16
//! ```
//!
//! One green thread per connection, each reading commands with plain blocking reads; the keys
//! live in a map split into 64 shards, each under a `gort::sync::Mutex` (a lock that parks the G,
//! never its OS thread). This is how the same server is written in Go (`benches/peers/go`).
//!
//! What a client sees is what real Redis 7.0 sends, byte for byte (tests/redis_server.rs checks
//! it against `redis-server` when one is installed):
//!
//! * Requests: RESP arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), or inline
//!   commands (`GET k\r\n`, split on blanks with Redis's quoting rules; empty lines ignored).
//!   Command names in any case.
//! * `GET k` → `$5\r\nhello\r\n`, or `$-1\r\n` when missing; `SET k v` → `+OK\r\n` (SET options
//!   such as `EX` are not supported: `-ERR syntax error`); `INCR k` → `:n\r\n`, or
//!   `-ERR value is not an integer or out of range`, `-ERR increment or decrement would
//!   overflow`; `DEL k1 k2 …` → `:<removed>`; `PING` → `+PONG`, `PING msg` → `$3\r\nmsg\r\n`;
//!   `QUIT` → `+OK` and the connection closes.
//! * Wrong argument counts: `-ERR wrong number of arguments for 'get' command`. Anything else
//!   (`CONFIG GET save`, which redis-benchmark sends first) gets
//!   `-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'save' ` and the
//!   connection stays open.
//! * Pipelining: every complete command in what one read returned runs in order, and all their
//!   replies go out in one write, before the connection's G waits for more (Redis writes its
//!   pending replies before its event loop sleeps).
//! * Protocol errors (`*x\r\n`, `$` missing, a bulk over 512 MB, an inline request over 64 KiB
//!   without a newline, unbalanced quotes) are answered with Redis's `-ERR Protocol error: …`
//!   and the connection closes after the replies before it.

use gort::sync::Mutex;
use gort_services::resp::{self, bulk, error, integer, string2ll, Args, Next};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

const SHARDS: usize = 64;

/// The keyspace: a hash map split into shards, each under its own lock.
struct Db {
    shards: Vec<Mutex<HashMap<Vec<u8>, Vec<u8>>>>,
    hasher: RandomState,
}

impl Db {
    fn new() -> Db {
        Db {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &[u8]) -> &Mutex<HashMap<Vec<u8>, Vec<u8>>> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }
}

fn main() {
    let addr = gort_services::addr_from_args("127.0.0.1:6379");
    gort_services::raise_fd_limit();
    let db = Arc::new(Db::new());
    gort::spawn(move || {
        let l = gort_services::listen("redis_server", addr);
        gort_services::serve(&l, "redis_server", move |c| {
            resp::serve(c, |args, out| run(&db, args, out))
        });
    })
    .join()
    .expect("accept loop panicked");
}

/// Runs one command, appending its reply.
fn run(db: &Db, a: &Args<'_>, out: &mut Vec<u8>) -> Next {
    let name = a.get(0);
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    // (name, arity): Redis's arity, negative meaning "at least".
    let (cmd, arity): (&str, i32) = if is("get") {
        ("get", 2)
    } else if is("set") {
        ("set", -3)
    } else if is("incr") {
        ("incr", 2)
    } else if is("del") {
        ("del", -2)
    } else if is("ping") {
        ("ping", -1)
    } else if is("quit") {
        out.extend_from_slice(b"+OK\r\n");
        return Next::Close;
    } else {
        resp::unknown_command(a, out);
        return Next::Continue;
    };
    let argc = a.len() as i32;
    if (arity > 0 && argc != arity) || argc < -arity {
        let msg = format!("wrong number of arguments for '{cmd}' command");
        error(out, msg.as_bytes());
        return Next::Continue;
    }
    match cmd {
        "get" => match db.shard(a.get(1)).lock().get(a.get(1)) {
            Some(v) => bulk(out, v),
            None => out.extend_from_slice(b"$-1\r\n"),
        },
        "set" if argc > 3 => error(out, b"syntax error"),
        "set" => {
            let (k, v) = (a.get(1), a.get(2));
            db.shard(k).lock().insert(k.to_vec(), v.to_vec());
            out.extend_from_slice(b"+OK\r\n");
        }
        "incr" => {
            let k = a.get(1);
            let mut shard = db.shard(k).lock();
            let old = match shard.get(k) {
                None => Some(0),
                Some(v) => string2ll(v),
            };
            match old.map(|o| o.checked_add(1)) {
                None => error(out, b"value is not an integer or out of range"),
                Some(None) => error(out, b"increment or decrement would overflow"),
                Some(Some(n)) => {
                    let s = n.to_string().into_bytes();
                    match shard.get_mut(k) {
                        Some(v) => *v = s,
                        None => {
                            shard.insert(k.to_vec(), s);
                        }
                    }
                    integer(out, n);
                }
            }
        }
        "del" => {
            let n = (1..a.len())
                .filter(|&i| db.shard(a.get(i)).lock().remove(a.get(i)).is_some())
                .count();
            integer(out, n as i64);
        }
        // PING checks its own upper bound (pingCommand).
        _ => match a.len() {
            1 => out.extend_from_slice(b"+PONG\r\n"),
            2 => bulk(out, a.get(1)),
            _ => error(out, b"wrong number of arguments for 'ping' command"),
        },
    }
    Next::Continue
}
