//! Child processes whose waits and pipes park the G (Go's `os/exec`): [`Command`], [`Child`],
//! [`Stdio`], [`ChildStdin`], [`ChildStdout`], [`ChildStderr`], shaped like `std::process`.
//! Users name it `gort::process`.
//!
//! * **Spawning** is std's (`posix_spawn` or `fork`/`exec`, with std's error reporting) inside
//!   `gort::blocking`: a slow spawn hands the P to another M after a sysmon tick.
//! * **Waiting** on Linux ≥ 5.3: a pidfd (`pidfd_open`) registered with the netpoller becomes
//!   readable when the child exits; the waiting G parks on it (wait reason `IO wait`) and then
//!   reaps with std's `try_wait` (`waitpid(pid, WNOHANG)`), so no thread waits for a child. Go
//!   instead makes a blocking `waitid(P_PIDFD)` on the goroutine's M. Without pidfds (older
//!   kernels, other Unixes) the wait is std's blocking `wait` inside `gort::blocking` (one M per
//!   waiting child, bounded by `GORT_MAXBLOCKING`).
//! * **Pipes** (`Stdio::piped()`) are our end of each pipe switched to non-blocking and
//!   registered with the netpoller (`mio::unix::pipe`), so reads and writes park the G as
//!   sockets do. Only our end changes mode: the child's end is a different open file
//!   description and stays blocking. A pipe handed on to another child (`Stdio::from`) is made
//!   blocking again first.
//!
//! The pidfd is exact as long as nobody else reaps our children (SIGCHLD not set to `SIG_IGN`,
//! no foreign `waitpid(-1)`); std's own `Child::wait` has the same requirement.

use crate::net::{read_via_io, write_via_io, Io};
use crate::netpoll::pd::Dir;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::process;

pub use std::process::{ExitStatus, Output};

/// How a child's standard stream is set up (std's `Stdio`): [`piped`](Stdio::piped) gives a
/// gort pipe on the [`Child`], [`inherit`](Stdio::inherit) shares ours, [`null`](Stdio::null)
/// is `/dev/null`; or any file, std `Stdio`, or another child's pipe.
///
/// # Examples
///
/// ```
/// use gort::process::{Command, Stdio};
/// let out = Command::new("echo").arg("hi").stdout(Stdio::piped()).output().unwrap();
/// assert_eq!(out.stdout, b"hi\n");
/// ```
#[derive(Debug)]
pub struct Stdio(process::Stdio);

impl Stdio {
    /// A new pipe to the child; our end appears as `child.stdin`/`stdout`/`stderr`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = gort::process::Command::new("true").stdout(gort::process::Stdio::piped()).spawn();
    /// assert!(c.unwrap().stdout.is_some());
    /// ```
    pub fn piped() -> Stdio {
        Stdio(process::Stdio::piped())
    }

    /// The child shares this process's stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::process::Command::new("true").stdout(gort::process::Stdio::inherit()).status();
    /// assert!(s.unwrap().success());
    /// ```
    pub fn inherit() -> Stdio {
        Stdio(process::Stdio::inherit())
    }

    /// The child's stream is `/dev/null`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::process::Command::new("cat").stdin(gort::process::Stdio::null()).status();
    /// assert!(s.unwrap().success()); // cat reads EOF at once
    /// ```
    pub fn null() -> Stdio {
        Stdio(process::Stdio::null())
    }
}

impl From<process::Stdio> for Stdio {
    fn from(s: process::Stdio) -> Stdio {
        Stdio(s)
    }
}

impl From<std::fs::File> for Stdio {
    fn from(f: std::fs::File) -> Stdio {
        Stdio(f.into())
    }
}

impl From<OwnedFd> for Stdio {
    fn from(f: OwnedFd) -> Stdio {
        Stdio(f.into())
    }
}

/// A command to run, with std's builder (`std::process::Command`); [`spawn`](Command::spawn),
/// [`output`](Command::output) and [`status`](Command::status) park the calling G while the
/// child runs.
///
/// # Examples
///
/// ```
/// use gort::process::Command;
/// let h = gort::spawn(|| Command::new("sh").args(["-c", "exit 3"]).status().unwrap());
/// assert_eq!(h.join().unwrap().code(), Some(3));
/// ```
#[derive(Debug)]
pub struct Command {
    inner: process::Command,
    /// Whether stdin, stdout, stderr were set (std does not say; `output` needs to know).
    set: [bool; 3],
}

impl Command {
    /// A command for `program`, found in `PATH` if it has no `/` (std's rules).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = gort::process::Command::new("ls");
    /// assert_eq!(c.get_program(), "ls");
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command {
            inner: process::Command::new(program),
            set: [false; 3],
        }
    }

    /// Adds an argument.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = gort::process::Command::new("echo").arg("a").output().unwrap();
    /// assert_eq!(out.stdout, b"a\n");
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = gort::process::Command::new("echo").args(["a", "b"]).output().unwrap();
    /// assert_eq!(out.stdout, b"a b\n");
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = gort::process::Command::new("sh").args(["-c", "echo $X"]).env("X", "1")
    ///     .output().unwrap();
    /// assert_eq!(out.stdout, b"1\n");
    /// ```
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.inner.env(key, val);
        self
    }

    /// Sets several environment variables.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = gort::process::Command::new("sh").args(["-c", "echo $A$B"])
    ///     .envs([("A", "x"), ("B", "y")]).output().unwrap();
    /// assert_eq!(out.stdout, b"xy\n");
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = gort::process::Command::new("sh").args(["-c", "echo ${HOME:-none}"])
    ///     .env_remove("HOME").output().unwrap();
    /// assert_eq!(out.stdout, b"none\n");
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts the child with an empty environment.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = gort::process::Command::new("/usr/bin/env").env_clear().output().unwrap();
    /// assert!(out.stdout.is_empty());
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = gort::process::Command::new("pwd").current_dir("/").output().unwrap();
    /// assert_eq!(out.stdout, b"/\n");
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// The child's standard input (default: inherited for `spawn`/`status`, null for `output`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::process::{Command, Stdio};
    /// let mut c = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    /// assert!(c.stdin.is_some());
    /// drop(c.stdin.take());
    /// assert!(c.wait().unwrap().success());
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdin(cfg.into().0);
        self.set[0] = true;
        self
    }

    /// The child's standard output (default: inherited for `spawn`/`status`, piped for
    /// `output`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::process::{Command, Stdio};
    /// let s = Command::new("echo").stdout(Stdio::null()).status().unwrap();
    /// assert!(s.success());
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdout(cfg.into().0);
        self.set[1] = true;
        self
    }

    /// The child's standard error (default: inherited for `spawn`/`status`, piped for
    /// `output`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::process::{Command, Stdio};
    /// let out = Command::new("sh").args(["-c", "echo e >&2"]).stderr(Stdio::piped())
    ///     .output().unwrap();
    /// assert_eq!(out.stderr, b"e\n");
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stderr(cfg.into().0);
        self.set[2] = true;
        self
    }

    /// The program.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort::process::Command::new("true").get_program(), "true");
    /// ```
    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    /// The arguments (not the program).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = gort::process::Command::new("ls");
    /// c.arg("-l");
    /// assert_eq!(c.get_args().collect::<Vec<_>>(), ["-l"]);
    /// ```
    pub fn get_args(&self) -> process::CommandArgs<'_> {
        self.inner.get_args()
    }

    /// The environment changes made with `env`, `envs` and `env_remove` (`None`: removed).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = gort::process::Command::new("ls");
    /// c.env("A", "1");
    /// assert_eq!(c.get_envs().count(), 1);
    /// ```
    pub fn get_envs(&self) -> process::CommandEnvs<'_> {
        self.inner.get_envs()
    }

    /// The working directory set with `current_dir`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = gort::process::Command::new("ls");
    /// c.current_dir("/tmp");
    /// assert_eq!(c.get_current_dir(), Some(std::path::Path::new("/tmp")));
    /// ```
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.inner.get_current_dir()
    }

    /// The std command underneath, for what this type does not wrap (for example
    /// `std::os::unix::process::CommandExt`'s `uid`, `process_group`, `pre_exec`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// let mut c = gort::process::Command::new("true");
    /// c.as_std_mut().process_group(0);
    /// assert!(c.status().unwrap().success());
    /// ```
    pub fn as_std_mut(&mut self) -> &mut process::Command {
        &mut self.inner
    }

    /// Starts the child (std's spawn, inside `gort::blocking`). Standard streams not set are
    /// inherited.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut child = gort::process::Command::new("sleep").arg("0.01").spawn().unwrap();
    /// assert!(child.wait().unwrap().success());
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        let c = crate::syscall::blocking(|| self.inner.spawn())?;
        Child::from_std(c)
    }

    /// Runs the child to completion and collects its output: standard output and error are
    /// piped (unless set), standard input is null (unless set). The G parks while it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = gort::process::Command::new("sh").args(["-c", "echo out; echo err >&2; exit 1"])
    ///     .output().unwrap();
    /// assert_eq!(out.stdout, b"out\n");
    /// assert_eq!(out.stderr, b"err\n");
    /// assert_eq!(out.status.code(), Some(1));
    /// ```
    pub fn output(&mut self) -> io::Result<Output> {
        // std's defaults for `output` on the streams the user did not set; afterwards those go
        // back to `inherit`, which is what "not set" means for `spawn` and `status`.
        let [i, o, e] = self.set;
        if !i {
            self.inner.stdin(process::Stdio::null());
        }
        if !o {
            self.inner.stdout(process::Stdio::piped());
        }
        if !e {
            self.inner.stderr(process::Stdio::piped());
        }
        let c = crate::syscall::blocking(|| self.inner.spawn());
        for (set, which) in [(i, 0), (o, 1), (e, 2)] {
            if !set {
                let inherit = process::Stdio::inherit();
                match which {
                    0 => self.inner.stdin(inherit),
                    1 => self.inner.stdout(inherit),
                    _ => self.inner.stderr(inherit),
                };
            }
        }
        Child::from_std(c?)?.wait_with_output()
    }

    /// Runs the child to completion with inherited streams (unless set) and returns its exit
    /// status. The G parks while it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort::process::Command::new("false").status().unwrap();
    /// assert_eq!(s.code(), Some(1));
    /// ```
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        let mut c = self.spawn()?;
        drop(c.stdin.take());
        c.wait()
    }
}

impl From<process::Command> for Command {
    /// Wraps a std command. Its streams count as not set for `output` (std does not say).
    fn from(inner: process::Command) -> Command {
        Command {
            inner,
            set: [false; 3],
        }
    }
}

/// A running or exited child process (std's `Child`): [`wait`](Child::wait) parks the calling
/// G, and the piped streams are gort pipes that park it too.
///
/// # Examples
///
/// ```
/// use gort::process::{Command, Stdio};
/// use std::io::{Read, Write};
/// let mut c = Command::new("tr").arg("a-z").arg("A-Z")
///     .stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
/// let mut stdin = c.stdin.take().unwrap();
/// gort::spawn(move || stdin.write_all(b"shout").unwrap()); // closes stdin when done
/// let mut s = String::new();
/// c.stdout.take().unwrap().read_to_string(&mut s).unwrap();
/// assert_eq!(s, "SHOUT");
/// assert!(c.wait().unwrap().success());
/// ```
#[derive(Debug)]
pub struct Child {
    inner: process::Child,
    /// The child's pidfd in the netpoller (Linux ≥ 5.3); `None`: wait through `blocking`.
    pidfd: Option<Io<OwnedFd>>,
    /// Our end of the child's standard input, if piped.
    pub stdin: Option<ChildStdin>,
    /// Our end of the child's standard output, if piped.
    pub stdout: Option<ChildStdout>,
    /// Our end of the child's standard error, if piped.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    fn from_std(mut c: process::Child) -> io::Result<Child> {
        let stdin = c.stdin.take().map(ChildStdin::new).transpose()?;
        let stdout = c
            .stdout
            .take()
            .map(|s| ChildStdout::new(s.into()))
            .transpose()?;
        let stderr = c
            .stderr
            .take()
            .map(|s| ChildStderr::new(s.into()))
            .transpose()?;
        Ok(Child {
            pidfd: pidfd_open(c.id()),
            inner: c,
            stdin,
            stdout,
            stderr,
        })
    }

    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = gort::process::Command::new("true").spawn().unwrap();
    /// assert!(c.id() > 0);
    /// c.wait().unwrap();
    /// ```
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Sends SIGKILL to the child (std's `kill`; an exited, unreaped child is not an error).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// let mut c = gort::process::Command::new("sleep").arg("10").spawn().unwrap();
    /// c.kill().unwrap();
    /// assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// Waits for the child to exit, parking the G, and reaps it; closes our end of its
    /// standard input first (as std does), so a child reading it sees EOF. Calling it again
    /// returns the same status.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = gort::process::Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    /// assert_eq!(c.wait().unwrap().code(), Some(7));
    /// assert_eq!(c.wait().unwrap().code(), Some(7));
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(s) = self.inner.try_wait()? {
                return Ok(s);
            }
            match &self.pidfd {
                Some(pidfd) => pidfd.wait(Dir::Read, None)?,
                None => return crate::syscall::blocking(|| self.inner.wait()),
            }
        }
    }

    /// The exit status if the child has exited (reaping it), `None` if it still runs. Never
    /// parks.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = gort::process::Command::new("sleep").arg("10").spawn().unwrap();
    /// assert!(c.try_wait().unwrap().is_none());
    /// c.kill().unwrap();
    /// c.wait().unwrap();
    /// assert!(c.try_wait().unwrap().is_some());
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Waits for the child and collects what it writes to piped stdout and stderr (read at
    /// the same time, so neither pipe fills up and stalls the child).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::process::{Command, Stdio};
    /// let c = Command::new("echo").arg("x").stdout(Stdio::piped()).spawn().unwrap();
    /// let out = c.wait_with_output().unwrap();
    /// assert_eq!(out.stdout, b"x\n");
    /// assert!(out.stderr.is_empty()); // not piped
    /// ```
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let err = self.stderr.take().map(|mut e| {
            crate::join::spawn(move || {
                let mut v = Vec::new();
                e.read_to_end(&mut v).map(|_| v)
            })
        });
        let mut stdout = Vec::new();
        if let Some(mut o) = self.stdout.take() {
            o.read_to_end(&mut stdout)?;
        }
        let stderr = match err {
            Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?,
            None => Vec::new(),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Opens a pidfd for `pid` and registers it (Linux ≥ 5.3); `None` where that is not possible
/// (the caller then waits through `gort::blocking`).
#[cfg(target_os = "linux")]
fn pidfd_open(pid: u32) -> Option<Io<OwnedFd>> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned to us by pidfd_open and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // A pidfd is close-on-exec from birth; readiness is all we use (no read or write on it).
    Io::new(fd).ok()
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_pid: u32) -> Option<Io<OwnedFd>> {
    None
}

macro_rules! pipe_end {
    ($(#[$m:meta])* $name:ident, $mio:ty, $std:ty) => {
        $(#[$m])*
        #[derive(Debug)]
        pub struct $name {
            io: Io<$mio>,
        }

        impl $name {
            fn new(s: $std) -> io::Result<$name> {
                let p = <$mio>::from(s);
                p.set_nonblocking(true)?;
                Ok($name { io: Io::new(p)? })
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.io.sock().as_raw_fd()
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.sock().as_fd()
            }
        }

        impl From<$name> for OwnedFd {
            /// Our end of the pipe, in blocking mode again.
            fn from(p: $name) -> OwnedFd {
                p.io.into_inner(|s| s.set_nonblocking(false)).into()
            }
        }

        impl From<$name> for Stdio {
            /// Hands our end of the pipe to another child (blocking again, as children
            /// expect).
            fn from(p: $name) -> Stdio {
                Stdio::from(OwnedFd::from(p))
            }
        }
    };
}

pipe_end!(
    /// Our end of a child's standard input (`child.stdin`): writes park the G while the pipe
    /// is full. Dropping it closes the pipe (the child reads EOF).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::process::{Command, Stdio};
    /// use std::io::Write;
    /// let mut c = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    /// c.stdin.take().unwrap().write_all(&vec![b'x'; 1 << 20]).unwrap(); // 1 MiB: fills the pipe
    /// assert!(c.wait().unwrap().success());
    /// ```
    ChildStdin,
    mio::unix::pipe::Sender,
    process::ChildStdin
);

pipe_end!(
    /// Our end of a child's standard output (`child.stdout`): reads park the G until output
    /// arrives; `Ok(0)` once the child closed it (exited).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::process::{Command, Stdio};
    /// use std::io::Read;
    /// let mut c = Command::new("echo").arg("hey").stdout(Stdio::piped()).spawn().unwrap();
    /// let mut s = String::new();
    /// c.stdout.take().unwrap().read_to_string(&mut s).unwrap();
    /// assert_eq!(s, "hey\n");
    /// c.wait().unwrap();
    /// ```
    ChildStdout,
    mio::unix::pipe::Receiver,
    mio::unix::pipe::Receiver
);

pipe_end!(
    /// Our end of a child's standard error (`child.stderr`), as [`ChildStdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use gort::process::{Command, Stdio};
    /// use std::io::Read;
    /// let mut c = Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped())
    ///     .spawn().unwrap();
    /// let mut s = String::new();
    /// c.stderr.take().unwrap().read_to_string(&mut s).unwrap();
    /// assert_eq!(s, "oops\n");
    /// c.wait().unwrap();
    /// ```
    ChildStderr,
    mio::unix::pipe::Receiver,
    mio::unix::pipe::Receiver
);

write_via_io!(ChildStdin);
read_via_io!(ChildStdout);
read_via_io!(ChildStderr);
