//! `ws_chat_load`: the load generator of the `ws_chat` service benchmark.
//!
//! ```text
//! ws_chat_load --addr 127.0.0.1:PORT [--path /ws] [--clients 1000] [--senders 10]
//!     [--messages 200] [--window 2] [--size 64] [--threads 2] [--server-pid PID]
//!     [--stall-secs 10]
//! ```
//!
//! `--clients` WebSocket clients connect to a chat hub (gort's `ws_chat` example, the Go peer,
//! the tokio peer: anything that broadcasts every message to every client, its sender
//! included). Once the hub has registered every one of them, the first `--senders` clients
//! each send `--messages` text messages of `--size` bytes; every client counts what it
//! receives. A message carries its sender, its number and the time it was sent, so each
//! delivery gives a latency (send → that client's receipt). The run ends when every message
//! has reached every client (or when deliveries stop for `--stall-secs`). It prints one line:
//!
//! ```text
//! RESULT clients=1000 connected=1000 errors=0 delivered=2000000 missing=0 secs=1.93
//!     deliveries_per_s=1036000 p50_ms=4.1 p99_ms=9.8 server_cpu_us=0.95 client_cpu_us=0.61 ...
//! ```
//!
//! * `deliveries_per_s`: messages delivered to clients per second, from the first send to the
//!   last delivery (a message sent to N clients is N deliveries).
//! * `p50_ms`, `p99_ms`: of the send → delivery times of every delivery.
//! * `errors`: connections that failed (connect or handshake) plus connections the server
//!   closed or broke during the run (a hub drops a client that reads too slowly); `missing`:
//!   deliveries that never came.
//! * `server_cpu_us`: the server's CPU time (user + system, `/proc/PID/stat` with
//!   `--server-pid`, read when the first message is sent and after the last delivery) per
//!   delivery; `client_cpu_us` the same for this process (`getrusage`).
//!
//! **Closed loop.** Each sender keeps at most `--window` of its messages in flight, a message
//! being in flight until every client has it; so no client's queue on the server ever holds
//! more than `senders × window` messages (20 by default, well under the 256 of gorilla's
//! chat example and of every peer), and a correct hub never has a reason to drop a client.
//! The latency is then what a broadcast costs under a steady load of `senders × window`
//! broadcasts, not the depth of an unbounded queue.
//!
//! **How the client is built, and why.** Plain OS threads (`--threads`, default 2), each
//! running a `mio` (epoll) event loop over its share of the clients, every client a
//! `tungstenite::WebSocket` over a non-blocking `std::net::TcpStream` — the shape of wrk and
//! redis-benchmark. Not gort, so that the thing measured is not also the thing measuring (a
//! gort client would share gort's scheduler with one peer and not the others); not a thread per
//! client, which at 5,000 clients on 2 cores would cost the client more than the server; not
//! tokio, for the same reason as not gort. The sockets are edge-triggered, and a read that
//! comes back short of the buffer marks the socket drained until its next readiness event, so
//! a wakeup costs one `read(2)`, not one plus a failing one. Whether the client is the
//! bottleneck is checked by giving it more threads: the server's figures must not move (see
//! the README's ws_chat section).

use gort_benches::common::{cpu_ns, proc_cpu_ns, raise_nofile};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// Command-line options.
#[derive(Clone)]
struct Opts {
    addr: SocketAddr,
    path: String,
    clients: usize,
    senders: usize,
    messages: usize,
    window: usize,
    size: usize,
    threads: usize,
    server_pid: Option<u32>,
    stall: Duration,
}

const USAGE: &str = "usage: ws_chat_load --addr HOST:PORT [--path /ws] [--clients N] \
                     [--senders N] [--messages N] [--window N] [--size BYTES] [--threads N] \
                     [--server-pid PID] [--stall-secs S]";

fn parse_opts() -> Result<Opts, String> {
    let mut addr = None;
    let mut o = Opts {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        path: "/ws".into(),
        clients: 1_000,
        senders: 10,
        messages: 200,
        window: 2,
        size: 64,
        threads: 2,
        server_pid: None,
        stall: Duration::from_secs(10),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String| -> Result<usize, String> {
            v.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag}: {v:?} is not a positive number"))
        };
        match flag.as_str() {
            "--addr" => {
                let v = value()?;
                addr = Some(
                    v.to_socket_addrs()
                        .ok()
                        .and_then(|mut a| a.next())
                        .ok_or_else(|| format!("--addr: cannot resolve {v:?}"))?,
                );
            }
            "--path" => o.path = value()?,
            "--clients" => o.clients = num(value()?)?,
            "--senders" => o.senders = num(value()?)?,
            "--messages" => o.messages = num(value()?)?,
            "--window" => o.window = num(value()?)?,
            "--size" => o.size = num(value()?)?,
            "--threads" => o.threads = num(value()?)?,
            "--server-pid" => o.server_pid = Some(num(value()?)? as u32),
            "--stall-secs" => o.stall = Duration::from_secs(num(value()?)? as u64),
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    o.addr = addr.ok_or("--addr is required")?;
    if o.senders > o.clients {
        return Err(format!(
            "--senders {} is more than --clients {}",
            o.senders, o.clients
        ));
    }
    if !o.path.starts_with('/') {
        return Err(format!("--path {:?} must start with '/'", o.path));
    }
    o.threads = o.threads.min(o.clients);
    Ok(o)
}

/// Where the run is; only ever moves forward (main thread stores, client threads load).
const SYNC: u8 = 0;
const RUN: u8 = 1;
const STOP: u8 = 2;

/// The event loops' wakeup token (connections use their index in the thread's list).
const WAKE: Token = Token(usize::MAX);

/// What the client threads and the main thread share. Counters are `Relaxed`: they count, and
/// publish no other data. What the main thread fixes before the event loops start (`expect`,
/// `total_msgs`, `sync_thread`) is published by the start barrier; `phase` is only a signal.
struct Shared {
    o: Opts,
    epoch: Instant,
    phase: AtomicU8,
    /// Threads with a client connected: a message all of them have counted has reached every
    /// client (fixed before the sync phase).
    expect: AtomicU32,
    /// Messages the run sends in all: senders connected × `messages`.
    total_msgs: AtomicUsize,
    /// The thread whose first client sends the sync messages.
    sync_thread: AtomicUsize,
    /// Clients that have seen a sync message, i.e. that the hub has registered.
    synced: AtomicUsize,
    /// Per message (`sender × messages + seq`): threads all of whose clients have it.
    counts: Vec<AtomicU32>,
    /// Per sender: its messages every client has (its window's left edge).
    done: Vec<AtomicU32>,
    /// Messages every client has.
    completed: AtomicUsize,
    /// Per thread: deliveries so far (published once per event-loop pass, for stall detection).
    delivered: Vec<AtomicU64>,
    /// Per thread: clients connected.
    connected: Vec<AtomicUsize>,
    /// Senders connected.
    senders_up: AtomicUsize,
    wakers: Vec<OnceLock<Waker>>,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn wake(&self, t: usize) {
        if let Some(w) = self.wakers[t].get() {
            let _ = w.wake();
        }
    }

    fn owner(&self, client: usize) -> usize {
        client % self.o.threads
    }
}

/// A non-blocking socket as tungstenite sees it. `drained` is set when a read comes back
/// short (the socket had nothing more at that moment) and cleared by the next readiness event;
/// while it is set, reads fail with `WouldBlock` without a system call. With edge-triggered
/// epoll this is exact: data that arrives after the short read raises a new event.
struct Conn {
    s: TcpStream,
    drained: bool,
    /// Off during the (blocking) handshake.
    nonblocking: bool,
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        if self.drained {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match self.s.read(b) {
            Ok(n) => {
                self.drained = self.nonblocking && n > 0 && n < b.len();
                Ok(n)
            }
            Err(e) => {
                self.drained = e.kind() == io::ErrorKind::WouldBlock;
                Err(e)
            }
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.s.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Client {
    ws: WebSocket<Conn>,
    alive: bool,
    synced: bool,
    /// Run-phase messages received.
    got: u64,
}

/// A sender among this thread's clients.
struct SenderState {
    sender: usize,
    /// Index in the thread's client list.
    local: usize,
    sent: usize,
}

/// What one client thread measured.
#[derive(Default)]
struct ThreadOut {
    /// Send → delivery, µs, one per run-phase delivery.
    lat_us: Vec<u32>,
    /// Latest run-phase delivery, ns since `epoch`.
    last_ns: u64,
    delivered: u64,
    /// Deliveries that never came: per connected client, run messages not received.
    missing: u64,
    connect_errors: usize,
    /// Connections the server closed, or that broke, after the handshake.
    lost: usize,
    first_error: Option<String>,
}

fn config() -> WebSocketConfig {
    // 4 KiB of read buffer per client, not tungstenite's 128 KiB: 5,000 clients would otherwise
    // hold 640 MB, and every read zero-fills the buffer's free part.
    WebSocketConfig::default()
        .read_buffer_size(4 << 10)
        .max_message_size(Some(1 << 20))
}

/// Connects one client: TCP, then the WebSocket handshake (blocking), then non-blocking.
fn connect(o: &Opts) -> Result<WebSocket<Conn>, String> {
    let s = TcpStream::connect_timeout(&o.addr, Duration::from_secs(10))
        .map_err(|e| format!("connect {}: {e}", o.addr))?;
    let _ = s.set_nodelay(true);
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .and_then(|_| s.set_write_timeout(Some(Duration::from_secs(10))))
        .map_err(|e| e.to_string())?;
    let conn = Conn {
        s,
        drained: false,
        nonblocking: false,
    };
    let url = format!("ws://{}{}", o.addr, o.path);
    let (mut ws, resp) = tungstenite::client::client_with_config(url, conn, Some(config()))
        .map_err(|e| format!("handshake: {e}"))?;
    if resp.status() != 101 {
        return Err(format!("handshake: status {}", resp.status()));
    }
    let c = ws.get_mut();
    c.s.set_nonblocking(true).map_err(|e| e.to_string())?;
    c.nonblocking = true;
    Ok(ws)
}

/// The text of run message `seq` of `sender`, sent at `ts` ns: `m SENDER SEQ TS` padded with
/// `x` to `size` bytes.
fn message(sender: usize, seq: usize, ts: u64, size: usize) -> String {
    let mut m = format!("m {sender} {seq} {ts} ");
    if m.len() < size {
        m.extend(std::iter::repeat_n('x', size - m.len()));
    }
    m
}

/// `(sender, seq, ts)` of a run message.
fn parse_message(m: &str) -> Option<(usize, usize, u64)> {
    let mut f = m.strip_prefix("m ")?.split(' ');
    Some((
        f.next()?.parse().ok()?,
        f.next()?.parse().ok()?,
        f.next()?.parse().ok()?,
    ))
}

/// One client thread: connects its share (clients `t`, `t + threads`, …), then runs its event
/// loop until the main thread says stop.
fn client_thread(
    t: usize,
    sh: Arc<Shared>,
    start: Arc<Barrier>,
    finished: mpsc::Sender<()>,
) -> ThreadOut {
    let o = &sh.o;
    let mut out = ThreadOut::default();
    let mut poll = Poll::new().expect("epoll");
    let waker = Waker::new(poll.registry(), WAKE).expect("eventfd");
    let _ = sh.wakers[t].set(waker);

    // ---- connect -----------------------------------------------------------------------
    let mut clients: Vec<Client> = Vec::new();
    let mut senders: Vec<SenderState> = Vec::new();
    for c in (t..o.clients).step_by(o.threads) {
        match connect(o) {
            Ok(ws) => {
                let fd = ws.get_ref().s.as_raw_fd();
                let token = Token(clients.len());
                poll.registry()
                    .register(
                        &mut SourceFd(&fd),
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    )
                    .expect("epoll_ctl");
                if c < o.senders {
                    senders.push(SenderState {
                        sender: c,
                        local: clients.len(),
                        sent: 0,
                    });
                }
                clients.push(Client {
                    ws,
                    alive: true,
                    synced: false,
                    got: 0,
                });
            }
            Err(e) => {
                out.connect_errors += 1;
                out.first_error.get_or_insert(e);
            }
        }
    }
    sh.connected[t].store(clients.len(), Ordering::Relaxed);
    sh.senders_up.fetch_add(senders.len(), Ordering::Relaxed);
    start.wait(); // everyone connected: the main thread sets `expect` and `total_msgs` ...
    start.wait(); // ... and lets us go
    let expect = sh.expect.load(Ordering::Relaxed);
    let total = sh.total_msgs.load(Ordering::Relaxed);
    // Per message: this thread's clients that have it; `mine` of them means all of them.
    let mut local = vec![0u32; o.senders * o.messages];
    let mine = clients.len() as u32;
    let syncer = sh.sync_thread.load(Ordering::Relaxed) == t;
    out.lat_us.reserve(clients.len() * total);

    // ---- event loop --------------------------------------------------------------------
    let mut events = Events::with_capacity(1024);
    let mut last_sync: Option<Instant> = None;
    let mut phase = sh.phase.load(Ordering::Relaxed);
    while phase != STOP {
        let timeout = if phase == RUN { 100 } else { 10 };
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(timeout))) {
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "epoll_wait: {e}");
        }
        phase = sh.phase.load(Ordering::Relaxed);
        for ev in events.iter() {
            if ev.token() == WAKE {
                continue;
            }
            let i = ev.token().0;
            let c = &mut clients[i];
            if !c.alive {
                continue;
            }
            c.ws.get_mut().drained = false;
            let mut err = None;
            loop {
                match c.ws.read() {
                    Ok(Message::Text(m)) => {
                        if m.starts_with('s') {
                            if !c.synced {
                                c.synced = true;
                                sh.synced.fetch_add(1, Ordering::Relaxed);
                            }
                            continue;
                        }
                        let Some((s, seq, ts)) = parse_message(&m)
                            .filter(|&(s, seq, _)| s < o.senders && seq < o.messages)
                        else {
                            err = Some(format!("unexpected message {:?}", &m[..m.len().min(40)]));
                            break;
                        };
                        let now = sh.now_ns();
                        c.got += 1;
                        out.delivered += 1;
                        out.last_ns = out.last_ns.max(now);
                        out.lat_us
                            .push((now.saturating_sub(ts) / 1_000).min(u32::MAX as u64) as u32);
                        // Counted here per thread, and once per thread in `sh.counts`: the
                        // threads do not bounce a cache line per delivery.
                        let idx = s * o.messages + seq;
                        local[idx] += 1;
                        if local[idx] == mine
                            && sh.counts[idx].fetch_add(1, Ordering::Relaxed) + 1 == expect
                        {
                            // Every client has it: it leaves its sender's window.
                            sh.done[s].fetch_add(1, Ordering::Relaxed);
                            if sh.owner(s) != t {
                                sh.wake(sh.owner(s));
                            }
                            if sh.completed.fetch_add(1, Ordering::Relaxed) + 1 == total {
                                let _ = finished.send(());
                            }
                        }
                    }
                    Ok(Message::Close(f)) => {
                        err = Some(format!("closed by the server ({f:?})"));
                        break;
                    }
                    Ok(_) => {}
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        break
                    }
                    Err(e) => {
                        err = Some(format!("read: {e}"));
                        break;
                    }
                }
            }
            if err.is_none() && ev.is_writable() {
                match c.ws.flush() {
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => err = Some(format!("write: {e}")),
                    Ok(()) => {}
                }
            }
            if let Some(e) = err {
                c.alive = false;
                out.lost += 1;
                out.first_error.get_or_insert(e);
                let fd = c.ws.get_ref().s.as_raw_fd();
                let _ = poll.registry().deregister(&mut SourceFd(&fd));
            }
        }
        match phase {
            // Until every client has seen one, a sync message every 10 ms from our first
            // client: a client that has one is registered with the hub.
            SYNC if syncer
                && last_sync.is_none_or(|l| l.elapsed() >= Duration::from_millis(10)) =>
            {
                if let Some(c) = clients.iter_mut().find(|c| c.alive) {
                    send(c, "s".into(), &mut out);
                }
                last_sync = Some(Instant::now());
            }
            RUN => {
                for s in senders.iter_mut() {
                    let c = &mut clients[s.local];
                    while c.alive
                        && s.sent < o.messages
                        && s.sent - (sh.done[s.sender].load(Ordering::Relaxed) as usize) < o.window
                    {
                        let m = message(s.sender, s.sent, sh.now_ns(), o.size);
                        send(c, m, &mut out);
                        s.sent += 1;
                    }
                }
            }
            _ => {}
        }
        sh.delivered[t].store(out.delivered, Ordering::Relaxed);
    }
    out.missing = clients
        .iter()
        .map(|c| (total as u64).saturating_sub(c.got))
        .sum();
    out
}

/// Sends one text message; a full socket keeps it queued in tungstenite until writable.
fn send(c: &mut Client, m: String, out: &mut ThreadOut) {
    match c.ws.send(Message::text(m)) {
        Ok(()) => {}
        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => {
            c.alive = false;
            out.lost += 1;
            out.first_error.get_or_insert(format!("send: {e}"));
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1e3
}

fn main() {
    raise_nofile();
    let o = parse_opts().unwrap_or_else(|e| {
        eprintln!("ws_chat_load: {e}\n{USAGE}");
        std::process::exit(2)
    });
    let t0 = Instant::now();
    let sh = Arc::new(Shared {
        epoch: Instant::now(),
        phase: AtomicU8::new(SYNC),
        expect: AtomicU32::new(0),
        total_msgs: AtomicUsize::new(0),
        sync_thread: AtomicUsize::new(0),
        synced: AtomicUsize::new(0),
        counts: (0..o.senders * o.messages)
            .map(|_| AtomicU32::new(0))
            .collect(),
        done: (0..o.senders).map(|_| AtomicU32::new(0)).collect(),
        completed: AtomicUsize::new(0),
        delivered: (0..o.threads).map(|_| AtomicU64::new(0)).collect(),
        connected: (0..o.threads).map(|_| AtomicUsize::new(0)).collect(),
        senders_up: AtomicUsize::new(0),
        wakers: (0..o.threads).map(|_| OnceLock::new()).collect(),
        o: o.clone(),
    });
    let start = Arc::new(Barrier::new(o.threads + 1));
    let (fin_tx, fin_rx) = mpsc::channel();
    let threads: Vec<_> = (0..o.threads)
        .map(|t| {
            let (sh, start, fin) = (sh.clone(), start.clone(), fin_tx.clone());
            std::thread::Builder::new()
                .name(format!("ws-load-{t}"))
                .spawn(move || client_thread(t, sh, start, fin))
                .expect("spawn a client thread")
        })
        .collect();
    drop(fin_tx);

    // ---- connected: fix the expectations, then sync --------------------------------------
    start.wait();
    let connected: Vec<usize> = sh
        .connected
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    let n: usize = connected.iter().sum();
    let senders_up = sh.senders_up.load(Ordering::Relaxed);
    let connect_secs = t0.elapsed().as_secs_f64();
    let active = connected.iter().filter(|&&c| c > 0).count();
    sh.expect.store(active as u32, Ordering::Relaxed);
    sh.total_msgs
        .store(senders_up * o.messages, Ordering::Relaxed);
    sh.sync_thread.store(
        connected.iter().position(|&c| c > 0).unwrap_or(0),
        Ordering::Relaxed,
    );
    start.wait();
    if n == 0 || senders_up == 0 {
        sh.phase.store(STOP, Ordering::Relaxed);
        let outs: Vec<ThreadOut> = threads.into_iter().map(|h| h.join().unwrap()).collect();
        let e = outs.iter().find_map(|o| o.first_error.clone());
        eprintln!(
            "ws_chat_load: no {} could connect: {}",
            if n == 0 { "client" } else { "sender" },
            e.unwrap_or_default()
        );
        std::process::exit(1);
    }
    let sync_deadline = Instant::now() + Duration::from_secs(30);
    while sh.synced.load(Ordering::Relaxed) < n {
        if Instant::now() > sync_deadline {
            eprintln!(
                "ws_chat_load: only {} of {n} clients received a broadcast within 30 s",
                sh.synced.load(Ordering::Relaxed)
            );
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(2));
    }

    // ---- the run -----------------------------------------------------------------------
    let pid = o.server_pid;
    let server0 = pid.and_then(proc_cpu_ns);
    let client0 = cpu_ns();
    let start_ns = sh.now_ns();
    sh.phase.store(RUN, Ordering::Relaxed);
    (0..o.threads).for_each(|t| sh.wake(t));
    let mut stalled = false;
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        match fin_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let d: u64 = sh.delivered.iter().map(|d| d.load(Ordering::Relaxed)).sum();
                if d != seen {
                    (seen, since) = (d, Instant::now());
                } else if since.elapsed() >= o.stall {
                    stalled = true;
                    break;
                }
            }
        }
    }
    let server1 = pid.and_then(proc_cpu_ns);
    let client1 = cpu_ns();
    sh.phase.store(STOP, Ordering::Relaxed);
    (0..o.threads).for_each(|t| sh.wake(t));
    let outs: Vec<ThreadOut> = threads.into_iter().map(|h| h.join().unwrap()).collect();

    // ---- report ------------------------------------------------------------------------
    let mut lat: Vec<u32> = Vec::with_capacity(outs.iter().map(|o| o.lat_us.len()).sum());
    outs.iter().for_each(|o| lat.extend_from_slice(&o.lat_us));
    lat.sort_unstable();
    let delivered: u64 = outs.iter().map(|o| o.delivered).sum();
    let missing: u64 = outs.iter().map(|o| o.missing).sum();
    let errors: usize = outs.iter().map(|o| o.connect_errors + o.lost).sum();
    let last = outs.iter().map(|o| o.last_ns).max().unwrap_or(start_ns);
    let secs = last.saturating_sub(start_ns) as f64 / 1e9;
    let per = |ns: u64| ns as f64 / 1e3 / delivered.max(1) as f64;
    let server_cpu = match (server0, server1) {
        (Some(a), Some(b)) => format!("{:.3}", per(b.saturating_sub(a))),
        _ => "-".into(),
    };
    if let Some(e) = outs.iter().find_map(|o| o.first_error.clone()) {
        eprintln!("ws_chat_load: {errors} error(s); first: {e}");
    }
    if stalled {
        eprintln!(
            "ws_chat_load: deliveries stopped for {} s with {missing} still missing",
            o.stall.as_secs()
        );
    }
    println!(
        "RESULT clients={} connected={n} senders={} messages={} errors={errors} \
         delivered={delivered} missing={missing} secs={secs:.3} deliveries_per_s={:.0} \
         p50_ms={:.3} p99_ms={:.3} server_cpu_us={server_cpu} client_cpu_us={:.3} \
         connect_secs={connect_secs:.2} threads={}",
        o.clients,
        senders_up,
        o.messages,
        if secs > 0.0 {
            delivered as f64 / secs
        } else {
            0.0
        },
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        per(client1.saturating_sub(client0)),
        o.threads,
    );
    if delivered == 0 {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let m = message(7, 123, 456_789, 64);
        assert_eq!(m.len(), 64);
        assert_eq!(parse_message(&m), Some((7, 123, 456_789)));
        // A size below the header is not padded and still parses.
        assert_eq!(parse_message(&message(1, 2, 3, 1)), Some((1, 2, 3)));
        assert_eq!(parse_message("s"), None);
        assert_eq!(parse_message("m 1 x 3 "), None);
    }

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 0.50), 50.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
    }
}
