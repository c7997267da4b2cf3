//! The process's standard streams for green threads (Go's `os.Stdin`, `os.Stdout`,
//! `os.Stderr`): [`stdin`], [`stdout`], [`stderr`]. Users name it `gort::io`.
//!
//! A read of standard input can wait for a person for minutes, so it must park the G, not hold
//! an M. But the streams' file descriptors are shared with the shell and sibling processes:
//! switching fd 0 to non-blocking mode (`O_NONBLOCK` is a flag of the open file description,
//! shared by every process holding it) would break them. So, on first use, each stream is set
//! up once, by what its fd is (`fstat`):
//!
//! * **a pipe, FIFO or terminal** (Linux): reopened through `/proc/self/fd/N`, which gives this
//!   process a new open file description of the same pipe or terminal; that one is made
//!   non-blocking and registered with the netpoller, and reads and writes park the G as sockets
//!   do. Nobody else's descriptor changes.
//! * **anything else** (a regular file, `/dev/null`, a socket, or a reopen that failed, and
//!   every stream on other systems): std's own stream inside `gort::blocking` (a slow call
//!   hands the P to another M after a sysmon tick), as Go does for files.
//!
//! [`Stdin`] keeps one buffer for the process (behind a gort `Mutex`, which parks), so
//! `read_line` and `read` from several Gs share what was read ahead. [`Stdout`] and [`Stderr`]
//! are unbuffered, as Go's are: each `write` is one system call. Mixing them with std's
//! `print!`/`stdin()` works (they write to the same streams) but std's buffers are separate:
//! flush std's `stdout` before writing through ours, and do not read one input through both.

use crate::net::Io;
use crate::netpoll::pd::Dir;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;

/// Where a stream's bytes go: our own polled descriptor, or std's stream on the blocking pool.
enum Src<S: std::os::fd::AsRawFd> {
    Polled(Io<S>),
    Std,
}

/// Opens our own non-blocking descriptor of `fd`'s pipe or terminal (module docs), if `fd` is
/// one and this is Linux; `None` means "use std's stream".
fn reopen<S: std::os::fd::AsRawFd + From<OwnedFd>>(fd: impl AsFd, write: bool) -> Option<Io<S>> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let n = std::os::fd::AsRawFd::as_raw_fd(&fd.as_fd());
    let f = std::fs::File::from(fd.as_fd().try_clone_to_owned().ok()?);
    let t = f.metadata().ok()?.file_type();
    drop(f);
    if !(t.is_fifo() || t.is_char_device()) {
        return None;
    }
    let f = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_NONBLOCK)
        .open(format!("/proc/self/fd/{n}"))
        .ok()?;
    // Registration fails for devices that cannot be polled (/dev/null): std's stream then.
    Io::new(S::from(OwnedFd::from(f))).ok()
}

struct StdinState {
    src: Src<mio::unix::pipe::Receiver>,
    /// Read ahead and not yet consumed: `buf[pos..]`.
    buf: crate::sync::Mutex<(Vec<u8>, usize)>,
}

static STDIN: OnceLock<StdinState> = OnceLock::new();

/// How much `read_line` reads ahead at a time.
const READ_AHEAD: usize = 8 * 1024;

/// The process's standard input for green threads: reading parks the G until input arrives
/// (see the module docs for how). Cheap to create; every handle shares one buffer.
///
/// # Examples
///
/// ```no_run
/// let mut line = String::new();
/// gort::io::stdin().read_line(&mut line).unwrap();
/// println!("you said {line:?}");
/// ```
pub fn stdin() -> Stdin {
    Stdin {
        s: STDIN.get_or_init(|| StdinState {
            src: match reopen(io::stdin(), false) {
                Some(io) => Src::Polled(io),
                None => Src::Std,
            },
            buf: crate::sync::Mutex::new((Vec::new(), 0)),
        }),
    }
}

/// A handle to standard input, from [`stdin`]. `Read` (and `&Stdin: Read`) parks the G.
/// (The examples reading standard input are compiled, not run, under `cargo test`: a test
/// cannot know what its standard input is. tests/stdio.rs runs them against a pipe.)
///
/// # Examples
///
/// ```no_run
/// use std::io::Read;
/// // Copies standard input to standard output, parking while there is nothing to read.
/// gort::spawn(|| std::io::copy(&mut gort::io::stdin(), &mut gort::io::stdout()))
///     .join()
///     .unwrap()
///     .unwrap();
/// ```
#[derive(Clone, Copy)]
pub struct Stdin {
    s: &'static StdinState,
}

impl std::fmt::Debug for Stdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let polled = matches!(self.s.src, Src::Polled(_));
        f.debug_struct("Stdin").field("polled", &polled).finish()
    }
}

impl Stdin {
    /// Reads from the source itself (no buffer).
    fn raw_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.s.src {
            Src::Polled(io) => io.io(Dir::Read, |mut s| s.read(buf)),
            Src::Std => crate::syscall::blocking(|| io::stdin().read(buf)),
        }
    }

    /// Reads one line, including its `\n` if there is one, appending it to `buf`; returns the
    /// bytes read (0 at end of input). As std's `read_line`, invalid UTF-8 is an
    /// `InvalidData` error and nothing is appended.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let h = gort::spawn(|| {
    ///     let mut line = String::new();
    ///     gort::io::stdin().read_line(&mut line).map(|_| line)
    /// });
    /// println!("read {:?}", h.join().unwrap().unwrap());
    /// ```
    pub fn read_line(&self, buf: &mut String) -> io::Result<usize> {
        let mut g = self.s.buf.lock();
        let mut line = Vec::new();
        loop {
            let (data, pos) = &mut *g;
            let avail = &data[*pos..];
            if let Some(i) = avail.iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&avail[..=i]);
                *pos += i + 1;
                break;
            }
            line.extend_from_slice(avail);
            data.clear();
            *pos = 0;
            data.resize(READ_AHEAD, 0);
            let n = match self.raw_read(data) {
                Ok(n) => n,
                Err(e) => {
                    data.clear();
                    // Keep what was read of the line for the next call.
                    *data = line;
                    return Err(e);
                }
            };
            data.truncate(n);
            if n == 0 {
                break;
            }
        }
        drop(g);
        let n = line.len();
        match String::from_utf8(line) {
            Ok(s) => {
                buf.push_str(&s);
                Ok(n)
            }
            Err(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )),
        }
    }

    /// The remaining lines, without their `\n` (or `\r\n`), as std's `lines`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// gort::spawn(|| {
    ///     for line in gort::io::stdin().lines() {
    ///         println!("> {}", line.unwrap());
    ///     }
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn lines(self) -> impl Iterator<Item = io::Result<String>> {
        std::iter::from_fn(move || {
            let mut s = String::new();
            match self.read_line(&mut s) {
                Ok(0) => None,
                Ok(_) => {
                    if s.ends_with('\n') {
                        s.pop();
                        if s.ends_with('\r') {
                            s.pop();
                        }
                    }
                    Some(Ok(s))
                }
                Err(e) => Some(Err(e)),
            }
        })
    }
}

impl Read for &Stdin {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut g = self.s.buf.lock();
        let (data, pos) = &mut *g;
        if *pos < data.len() {
            let n = out.len().min(data.len() - *pos);
            out[..n].copy_from_slice(&data[*pos..*pos + n]);
            *pos += n;
            return Ok(n);
        }
        // Nothing read ahead: straight from the source (holding the lock keeps concurrent
        // readers in order).
        self.raw_read(out)
    }
}

impl Read for Stdin {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        (&*self).read(out)
    }
}

/// An unbuffered output stream: standard output or standard error.
struct OutState {
    src: Src<mio::unix::pipe::Sender>,
    err: bool,
}

impl OutState {
    fn new(err: bool) -> OutState {
        let io = if err {
            reopen(io::stderr(), true)
        } else {
            reopen(io::stdout(), true)
        };
        OutState {
            src: io.map_or(Src::Std, Src::Polled),
            err,
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.src {
            Src::Polled(io) => io.io(Dir::Write, |mut s| s.write(buf)),
            Src::Std if self.err => crate::syscall::blocking(|| io::stderr().write(buf)),
            Src::Std => crate::syscall::blocking(|| {
                let mut o = io::stdout();
                let n = o.write(buf)?;
                o.flush()?;
                Ok(n)
            }),
        }
    }
}

static STDOUT: OnceLock<OutState> = OnceLock::new();
static STDERR: OnceLock<OutState> = OnceLock::new();

macro_rules! out_stream {
    ($(#[$m:meta])* $name:ident, $ctor:ident, $cell:ident, $err:expr, $(#[$cm:meta])*) => {
        $(#[$m])*
        #[derive(Clone, Copy)]
        pub struct $name {
            s: &'static OutState,
        }

        $(#[$cm])*
        pub fn $ctor() -> $name {
            $name {
                s: $cell.get_or_init(|| OutState::new($err)),
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let polled = matches!(self.s.src, Src::Polled(_));
                f.debug_struct(stringify!($name)).field("polled", &polled).finish()
            }
        }

        impl Write for &$name {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.s.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        impl Write for $name {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.s.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
    };
}

out_stream!(
    /// A handle to standard output, from [`stdout`]: unbuffered (each `write` is one system
    /// call, as Go's `os.Stdout`), and a write to a full pipe or a stopped terminal parks the G.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// gort::spawn(|| writeln!(gort::io::stdout(), "hello from a G").unwrap()).join().unwrap();
    /// ```
    Stdout,
    stdout,
    STDOUT,
    false,
    /// The process's standard output for green threads (see [`Stdout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// gort::io::stdout().write_all(b"hi\n").unwrap();
    /// ```
);

out_stream!(
    /// A handle to standard error, from [`stderr`]: as [`Stdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// gort::spawn(|| writeln!(gort::io::stderr(), "a warning").unwrap()).join().unwrap();
    /// ```
    Stderr,
    stderr,
    STDERR,
    true,
    /// The process's standard error for green threads (see [`Stderr`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// gort::io::stderr().write_all(b"oops\n").unwrap();
    /// ```
);
