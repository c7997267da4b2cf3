//! What the three example services share: the command line, the fd limit, and the accept loop.
//!
//! Each service is one file under `examples/` written the way a Go programmer writes a server:
//! `net.Listen`, then `for { conn := ln.Accept(); go handle(conn) }`, one green thread (G) per
//! connection doing plain blocking reads and writes. This crate holds only the parts a Go
//! program gets from its standard library:
//!
//! * [`addr_from_args`]: `--addr HOST:PORT` (Go's `flag.String("addr", …)`).
//! * [`raise_fd_limit`]: the soft `RLIMIT_NOFILE` raised to the hard limit, as the Go runtime
//!   does at start-up since Go 1.19 (`os/rlimit.go`), so 10,000 connections need no `ulimit`.
//! * [`serve`]: the accept loop of Go's `http.Server.Serve`, backing off 5 ms doubling to 1 s on
//!   accept errors such as `EMFILE` instead of spinning or exiting, with `TCP_NODELAY` on every
//!   connection (Go's default).
//!
//! ```no_run
//! use std::io::{Read, Write};
//! let addr = gort_services::addr_from_args("127.0.0.1:7000");
//! gort_services::raise_fd_limit();
//! let l = gort::net::TcpListener::bind(addr).expect("listen");
//! gort_services::serve(&l, "echo", |mut c| {
//!     let mut b = [0; 4096];
//!     while let Ok(n @ 1..) = c.read(&mut b) {
//!         if c.write_all(&b[..n]).is_err() {
//!             break;
//!         }
//!     }
//! });
//! ```
#![deny(unsafe_code)]

pub mod http;
pub mod resp;

use gort::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::time::Duration;

/// The address from `--addr HOST:PORT` (or `--addr=HOST:PORT`), else `default`. A bad command
/// line prints the usage and exits with status 2, as Go's `flag` package does.
///
/// ```
/// assert_eq!(
///     gort_services::parse_addr(&["--addr".into(), "127.0.0.1:80".into()], "0.0.0.0:1"),
///     Ok("127.0.0.1:80".parse().unwrap())
/// );
/// ```
pub fn addr_from_args(default: &str) -> SocketAddr {
    let args: Vec<String> = std::env::args().skip(1).collect();
    parse_addr(&args, default).unwrap_or_else(|e| {
        let prog = std::env::args().next().unwrap_or_default();
        eprintln!("{e}\nusage: {prog} [--addr HOST:PORT]   (default {default})");
        std::process::exit(2)
    })
}

/// [`addr_from_args`] on a given argument list (without the program name).
pub fn parse_addr(args: &[String], default: &str) -> Result<SocketAddr, String> {
    let mut addr = default.to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--addr=") {
            addr = v.to_string();
        } else if a == "--addr" || a == "-addr" {
            addr = it
                .next()
                .ok_or("--addr needs a value, e.g. 127.0.0.1:8080")?
                .clone();
        } else {
            return Err(format!("unknown argument {a:?}"));
        }
    }
    addr.parse()
        .map_err(|e| format!("--addr {addr:?} is not HOST:PORT with a numeric IP ({e})"))
}

/// Raises the soft open-file limit to the hard limit (what the Go runtime does at start-up);
/// returns the new soft limit. A failure is logged and the old limit kept.
pub fn raise_fd_limit() -> u64 {
    match raise_nofile() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("cannot raise RLIMIT_NOFILE: {e}");
            0
        }
    }
}

/// Go's accept loop: accepts forever, handing each connection to `handle` in its own G. Accept
/// errors (`EMFILE`, `ENFILE`, `ECONNABORTED`, …) are logged and retried after a back-off of
/// 5 ms doubling to 1 s, reset by the next success (Go's `http.Server.Serve`); a closed listener
/// ends the loop.
pub fn serve<F>(l: &TcpListener, name: &str, handle: F)
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    let mut delay = Duration::ZERO;
    loop {
        match l.accept() {
            Ok((c, _)) => {
                delay = Duration::ZERO;
                // Go turns Nagle off on every TCP connection.
                let _ = c.set_nodelay(true);
                let h = handle.clone();
                drop(gort::spawn(move || h(c)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return,
            Err(e) => {
                delay = (delay * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                eprintln!("{name}: accept error: {e}; retrying in {delay:?}");
                gort::sleep(delay);
            }
        }
    }
}

/// Binds `addr` and logs the address to stderr (`{name}: listening on …`); exits with status 1
/// and the reason if it cannot.
pub fn listen(name: &str, addr: SocketAddr) -> TcpListener {
    match TcpListener::bind(addr) {
        Ok(l) => {
            let a = l.local_addr().map_or(addr, |a| a);
            eprintln!(
                "{name}: listening on {a} (GORT_MAXPROCS={}, backlog {})",
                gort::maxprocs(),
                gort::net::listen_backlog()
            );
            l
        }
        Err(e) => {
            eprintln!("{name}: cannot listen on {addr}: {e}");
            std::process::exit(1)
        }
    }
}

/// soft := hard for `RLIMIT_NOFILE`.
#[allow(unsafe_code)]
fn raise_nofile() -> std::io::Result<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write only the rlimit struct we pass, which is valid
    // and initialised for the duration of each call.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if r.rlim_cur != r.rlim_max {
            r.rlim_cur = r.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    // rlim_t is u64 on Linux and macOS, i64 on FreeBSD.
    #[allow(clippy::useless_conversion)]
    Ok(u64::try_from(r.rlim_cur).unwrap_or(u64::MAX))
}
