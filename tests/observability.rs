//! Seeing inside a running program (issue 18): the goroutine dump (wait sites, spawn sites, lock
//! owners, wait-for cycles), SIGQUIT, metrics and their Prometheus text, hog reports, the
//! execution trace, and `set_maxprocs` under load.

mod common;

use common::{child_command, child_ok, is_child, run_child};
use gort::metrics::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits (generously: a loaded machine) until `pred(dump)` holds; returns that dump.
fn dump_until(what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = gort::dump();
        if pred(&d) {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {what} in the dump:\n{d}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The dump's entry (header to blank line) of G `id`.
fn entry(d: &str, id: u64) -> String {
    try_entry(d, id).unwrap_or_else(|| panic!("no goroutine {id} in:\n{d}"))
}

/// [`entry`], or `None` if the dump does not list G `id`. A dump is a snapshot in progress (as
/// Go's): a G spawned from a plain thread is missing for the moment between leaving the global
/// queue and getting its record, so waits on a dump look with this.
fn try_entry(d: &str, id: u64) -> Option<String> {
    let head = format!("\ngoroutine {id} ");
    let start = format!("\n{d}").find(&head)?;
    let rest = &d[start..];
    Some(rest[..rest.find("\n\n").unwrap_or(rest.len())].to_string())
}

fn site(line: u32) -> String {
    format!("{}:{line}:", file!())
}

/// Each kind of blocking call is named by its source line, each G by the line that spawned
/// it, a lock waiter by the G holding the lock, and a channel waiter by its channel.
#[test]
fn dump_names_wait_sites_spawn_sites_and_lock_owners() {
    let (tx, rx) = gort::chan::bounded::<u8>(2);
    let (stx, srx) = gort::chan::bounded::<u8>(0);
    let (gtx, grx) = gort::chan::bounded::<()>(0);
    let m = Arc::new(gort::sync::Mutex::new(0u32));
    let wg = Arc::new(gort::sync::WaitGroup::new());
    wg.add(1);
    let mut lines = Vec::new();

    // The wait on its own line, below the spawn: the site must be the user's `recv`, not a line
    // of the engine's blocking path (`#[track_caller]` all the way down).
    let recv_line = line!() + 2;
    let recv = gort::spawn(move || {
        rx.recv() // parks
    });
    let send_line = line!() + 2;
    let sender = gort::spawn(move || {
        stx.send(1).unwrap(); // bounded(0), nobody receives yet
    });
    let (s1, s2) = (gort::chan::bounded::<u8>(1), gort::chan::bounded::<u8>(1));
    let (s1tx, s1rx, s2tx, s2rx) = (s1.0, s1.1, s2.0, s2.1);
    let select_line = line!() + 2;
    let sel = gort::spawn(move || {
        gort::select! { recv(s1rx) -> _v => {}, recv(s2rx) -> _v => {} }
    });
    let m2 = m.clone();
    let holder = gort::spawn(move || {
        let _g = m2.lock();
        let _ = grx.recv(); // holds the lock while parked
    });
    // Wait for the holder to have the lock before the waiter comes.
    dump_until("the holder parked", |d| {
        try_entry(d, holder.id()).is_some_and(|e| e.contains("[chan receive"))
    });
    let m3 = m.clone();
    let lock_line = line!() + 2;
    let locker = gort::spawn(move || {
        *m3.lock() += 1;
    });
    let wg2 = wg.clone();
    let wg_line = line!() + 1;
    let waiter = gort::spawn(move || wg2.wait());
    let sleep_line = line!() + 1;
    let sleeper = gort::spawn(|| gort::sleep(Duration::from_secs(600)));
    let target = gort::spawn(move || {
        let _ = srx.recv(); // the sender's partner: released at the end
    });
    // `target` receives from the sender at once; give the joiner something that waits.
    let (jtx, jrx) = gort::chan::bounded::<()>(0);
    let long = gort::spawn(move || {
        let _ = jrx.recv();
    });
    let long_id = long.id();
    let join_line = line!() + 1;
    let joiner = gort::spawn(move || long.join().unwrap());
    let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let accept_line = line!() + 1;
    let acceptor = gort::spawn(move || l.accept().map(|_| ()));
    lines.extend([
        ("recv", recv.id(), recv_line, "[chan receive"),
        ("select", sel.id(), select_line, "[select"),
        ("lock", locker.id(), lock_line, "[sync.Mutex.Lock"),
        ("wg", waiter.id(), wg_line, "[sync.WaitGroup.Wait"),
        ("sleep", sleeper.id(), sleep_line, "[sleep"),
        ("join", joiner.id(), join_line, "[join"),
        ("accept", acceptor.id(), accept_line, "[IO wait"),
    ]);
    let d = dump_until("every G parked", |d| {
        lines
            .iter()
            .all(|(_, id, _, state)| d.contains(&format!("goroutine {id} {state}")))
    });
    let _ = send_line;
    for (what, id, line, _) in &lines {
        let e = entry(&d, *id);
        assert!(
            e.contains(&format!("\t{}", site(*line))),
            "{what}: no wait site {} in:\n{e}",
            site(*line)
        );
        // Each spawn is on the wait's line, or (a closure over several lines) the one above.
        let spawned_at =
            |l: u32| format!("created by gort::spawn in a plain thread\n\t{}", site(l));
        assert!(
            e.contains(&spawned_at(*line)) || e.contains(&spawned_at(*line - 1)),
            "{what}: no spawn site in:\n{e}"
        );
    }
    assert!(entry(&d, recv.id()).contains("gort::chan::Receiver::recv(chan 0x"));
    assert!(entry(&d, recv.id()).contains("len 0, cap 2"));
    assert!(entry(&d, sel.id()).contains("gort::select(2 cases"));
    let le = entry(&d, locker.id());
    assert!(
        le.contains(&format!("held by goroutine {}", holder.id())),
        "no owner in:\n{le}"
    );
    assert!(entry(&d, joiner.id()).contains(&format!("goroutine {long_id}")));
    assert!(entry(&d, sleeper.id()).contains("gort::sleep("));
    // The send on bounded(0) was taken by `target`; its G finished. Release the rest.
    gtx.send(()).unwrap();
    locker.join().unwrap();
    wg.done();
    waiter.join().unwrap();
    s1tx.send(1).unwrap();
    drop(s2tx);
    sel.join().unwrap();
    tx.send(1).unwrap();
    recv.join().unwrap().unwrap();
    jtx.send(()).unwrap();
    joiner.join().unwrap();
    std::net::TcpStream::connect(addr).unwrap();
    acceptor.join().unwrap().unwrap();
    sender.join().unwrap();
    target.join().unwrap();
    holder.join().unwrap();
    drop(sleeper); // detached; it sleeps on
}

/// G1 waits for a lock G2 holds while G2 joins G1: a partial deadlock the whole-program
/// detector cannot see (other Gs run). The dump marks both and names the cycle.
#[test]
fn dump_marks_a_lock_join_cycle() {
    let m = Arc::new(gort::sync::Mutex::new(()));
    let (htx, hrx) = gort::chan::bounded::<gort::JoinHandle<()>>(1);
    let (go_tx, go_rx) = gort::chan::bounded::<()>(0);
    let (held_tx, held_rx) = gort::chan::bounded::<()>(0);
    let m1 = m.clone();
    let g1 = gort::spawn(move || {
        go_rx.recv().unwrap();
        drop(m1.lock()); // G2 holds it
    });
    let g1_id = g1.id();
    let m2 = m.clone();
    let g2 = gort::spawn(move || {
        let _g = m2.lock();
        held_tx.send(()).unwrap();
        let h1 = hrx.recv().unwrap();
        h1.join().unwrap(); // G1 waits for our lock: a cycle
    });
    held_rx.recv().unwrap();
    htx.send(g1).unwrap();
    go_tx.send(()).unwrap();
    let g2_id = g2.id();
    let d = dump_until("the cycle", |d| d.contains("wait-for cycle"));
    let (a, b) = (g1_id.min(g2_id), g1_id.max(g2_id));
    assert!(
        d.contains(&format!(
            "wait-for cycle (these goroutines wait for each other): goroutine {a}"
        )),
        "{d}"
    );
    let cyc = d.lines().find(|l| l.starts_with("wait-for cycle")).unwrap();
    assert!(cyc.contains(&format!("goroutine {b}")), "{cyc}");
    for id in [g1_id, g2_id] {
        assert!(
            entry(&d, id).contains("in a wait-for cycle"),
            "{}",
            entry(&d, id)
        );
    }
    std::mem::forget(g2); // both stay stuck for the rest of this process
}

/// SIGQUIT with `GORT_DEBUG=dumponquit=1`: the dump on stderr, exit status 2 (Go's).
#[test]
fn sigquit_prints_the_dump_and_exits_2() {
    if is_child() {
        let (_tx, rx) = gort::chan::bounded::<u8>(0);
        let _h = gort::Builder::new()
            .name("quitter")
            .spawn(move || rx.recv())
            .unwrap();
        dump_until("the G parked", |d| d.contains("'quitter' [chan receive"));
        println!("READY");
        std::thread::sleep(Duration::from_secs(60));
        unreachable!("SIGQUIT did not end the process");
    }
    use std::io::BufRead;
    let mut child = child_command(
        "sigquit_prints_the_dump_and_exits_2",
        &[("GORT_DEBUG", "dumponquit=1")],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("READY") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child ended early");
    }
    // SAFETY: kill(2) with a pid we own and a valid signal.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGQUIT) }, 0);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr:\n{err}");
    assert!(err.starts_with("SIGQUIT: quit\n"), "{err}");
    assert!(err.contains("'quitter' [chan receive]:"), "{err}");
    assert!(err.contains("tests/observability.rs:"), "{err}");
}

/// Without the opt-in, SIGQUIT keeps its default action (core dump, not exit 2): a library
/// takes no signal unasked.
#[test]
fn sigquit_is_left_alone_by_default() {
    if is_child() {
        gort::spawn(|| ()).join().unwrap();
        // SAFETY: raise has no preconditions.
        unsafe { libc::raise(libc::SIGQUIT) };
        std::thread::sleep(Duration::from_secs(5));
        return;
    }
    use std::os::unix::process::ExitStatusExt;
    let o = run_child("sigquit_is_left_alone_by_default", &[]);
    assert_eq!(o.status.signal(), Some(libc::SIGQUIT), "{:?}", o.status);
}

fn uint(s: &gort::metrics::Snapshot, name: &str) -> u64 {
    match s.get(name) {
        Some(Value::Uint64(n)) => n,
        v => panic!("{name}: {v:?}"),
    }
}

/// N spawns and M parks (each G parks exactly once on an empty channel) move the counters by
/// exactly N and M. In a child: alone in its process, nothing else spawns or parks.
#[test]
fn metrics_count_a_known_workload_exactly() {
    if !is_child() {
        child_ok("metrics_count_a_known_workload_exactly", &[]);
        return;
    }
    const N: usize = 300;
    const M: usize = 120;
    gort::spawn(|| ()).join().unwrap(); // the runtime is up
    let before = gort::metrics::snapshot();
    let mut txs = Vec::new();
    let mut hs = Vec::new();
    for i in 0..N {
        if i < M {
            let (tx, rx) = gort::chan::bounded::<u32>(0);
            txs.push(tx);
            hs.push(gort::spawn(move || rx.recv().unwrap()));
        } else {
            hs.push(gort::spawn(move || i as u32));
        }
    }
    // Every receiver parked before anything is sent (so each parks exactly once).
    let deadline = Instant::now() + Duration::from_secs(30);
    while uint(&gort::metrics::snapshot(), "/gort/sched/parks:events")
        < uint(&before, "/gort/sched/parks:events") + M as u64
    {
        assert!(Instant::now() < deadline, "the receivers never parked");
        std::thread::sleep(Duration::from_millis(2));
    }
    for tx in &txs {
        tx.send(1).unwrap();
    }
    for h in hs {
        h.join().unwrap();
    }
    let after = gort::metrics::snapshot();
    let d = |n: &str| uint(&after, n) - uint(&before, n);
    assert_eq!(d("/sched/goroutines-created:goroutines"), N as u64);
    assert_eq!(d("/gort/sched/parks:events"), M as u64);
    assert_eq!(uint(&after, "/sched/goroutines:goroutines"), 0);
    assert_eq!(
        uint(&after, "/sched/gomaxprocs:threads"),
        gort::maxprocs() as u64
    );
    match after.get("/sched/latencies:seconds") {
        Some(Value::Float64Histogram { counts, buckets }) => {
            assert_eq!(counts.len(), 162);
            assert_eq!(buckets.len(), 163);
            assert!(counts.iter().sum::<u64>() > 0, "no latency was sampled");
        }
        v => panic!("{v:?}"),
    }
}

/// The Prometheus text is well-formed 0.0.4: HELP and TYPE once per family, before its samples,
/// names and values valid, histogram buckets cumulative with `le` increasing up to `+Inf`,
/// which equals `_count`.
#[test]
fn prometheus_text_parses() {
    gort::spawn(|| gort::sleep(Duration::from_millis(1)))
        .join()
        .unwrap();
    let text = gort::metrics::prometheus();
    assert!(text.ends_with('\n'));
    let name_ok = |n: &str| {
        let mut c = n.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    };
    let mut types = std::collections::HashMap::new();
    let mut helped = std::collections::HashSet::new();
    let mut families = 0;
    let mut last_le = f64::NEG_INFINITY;
    let mut last_cum = 0.0f64;
    let mut inf_count = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(helped.insert(name.to_string()), "HELP twice: {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let (name, kind) = (it.next().unwrap(), it.next().unwrap());
            assert!(name_ok(name), "{name}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{kind}"
            );
            assert!(types.insert(name.to_string(), kind.to_string()).is_none());
            families += 1;
            last_le = f64::NEG_INFINITY;
            last_cum = 0.0;
        } else {
            let (lhs, value) = line.rsplit_once(' ').expect(line);
            let v: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
            };
            let (name, labels) = match lhs.split_once('{') {
                Some((n, l)) => (n, Some(l.strip_suffix('}').expect(line))),
                None => (lhs, None),
            };
            assert!(name_ok(name), "{line}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(name);
            assert!(types.contains_key(family), "sample before TYPE: {line}");
            if name.ends_with("_bucket") {
                let le = labels.unwrap().strip_prefix("le=\"").unwrap();
                let le = le.strip_suffix('"').unwrap();
                let le: f64 = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                assert!(le > last_le, "le not increasing: {line}");
                assert!(v >= last_cum, "buckets not cumulative: {line}");
                last_le = le;
                last_cum = v;
                if le == f64::INFINITY {
                    inf_count = Some(v);
                }
            } else if name.ends_with("_count") && family != name {
                assert_eq!(Some(v), inf_count, "+Inf bucket != _count");
            }
        }
    }
    assert_eq!(families, gort::metrics::all().len());
    assert!(types
        .get("go_sched_latencies_seconds")
        .is_some_and(|k| k == "histogram"));
    assert_eq!(
        types
            .get("go_sched_goroutines_created_goroutines_total")
            .map(String::as_str),
        Some("counter")
    );
    assert_eq!(
        types
            .get("go_sched_goroutines_goroutines")
            .map(String::as_str),
        Some("gauge")
    );
}

/// A G that computes for 200 ms without a scheduling point while others wait for its P is
/// reported: the stderr line (`hogreport=1`) and `metrics::hogs()` name it and its spawn site.
#[test]
fn a_hog_is_reported_with_its_spawn_site() {
    if is_child() {
        // Dead G records to reuse: the hog's record is then most likely one made for another
        // id, in a registry shard its own id does not point to (the report must find it).
        (0..100)
            .map(|i| gort::spawn(move || i))
            .collect::<Vec<_>>()
            .into_iter()
            .for_each(|h| drop(h.join()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let hog_line = line!() + 1;
        let hog = gort::Builder::new().name("hog").spawn(move || {
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(200) {
                std::hint::spin_loop();
            }
            s2.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let hog = hog.unwrap();
        // Work queued behind the hog on the one P.
        let others: Vec<_> = (0..4).map(|_| gort::spawn(|| ())).collect();
        hog.join().unwrap();
        others.into_iter().for_each(|h| h.join().unwrap());
        let hogs = gort::metrics::hogs();
        let h = hogs
            .iter()
            .find(|h| h.name.as_deref() == Some("hog"))
            .unwrap_or_else(|| panic!("no hog report: {hogs:?}"));
        assert_eq!(h.cause, gort::metrics::HogCause::Computing);
        assert!(h.held >= Duration::from_millis(10), "{h:?}");
        let site = h.spawn_site.as_deref().unwrap();
        assert!(
            site.starts_with(&format!("{}:{}:", file!(), hog_line)),
            "{site}"
        );
        match gort::metrics::snapshot().get("/gort/sched/handoffs/hog:events") {
            Some(Value::Uint64(n)) => assert!(n >= 1),
            v => panic!("{v:?}"),
        }
        return;
    }
    let o = child_ok(
        "a_hog_is_reported_with_its_spawn_site",
        &[("GORT_MAXPROCS", "1"), ("GORT_DEBUG", "hogreport=1")],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("gort: hogreport: G") && l.contains("'hog'"))
        .unwrap_or_else(|| panic!("no hogreport line in:\n{err}"));
    assert!(
        line.contains("(created at tests/observability.rs:"),
        "{line}"
    );
    assert!(
        line.contains("ran without a scheduling point for"),
        "{line}"
    );
    assert!(line.contains("P0 handed off"), "{line}");
}

/// A recorded trace is one JSON object in Chrome's trace-event schema (what Perfetto and
/// chrome://tracing read) and holds the events of the workload: each G's creation, run
/// slices on P tracks that end in a park with its reason, readies, and the GOMAXPROCS change.
#[test]
fn a_trace_is_valid_trace_event_json_with_the_expected_events() {
    if !is_child() {
        child_ok(
            "a_trace_is_valid_trace_event_json_with_the_expected_events",
            &[("GORT_MAXPROCS", "2")],
        );
        return;
    }
    let path = std::env::temp_dir().join(format!("gort-trace-test-{}.json", std::process::id()));
    gort::trace::start(std::fs::File::create(&path).unwrap()).unwrap();
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    let consumer = gort::Builder::new()
        .name("consumer")
        .spawn(move || rx.iter().sum::<u32>())
        .unwrap();
    let producer = gort::spawn(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    });
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), 4950);
    gort::set_maxprocs(1);
    gort::spawn(|| gort::blocking(|| std::thread::sleep(Duration::from_millis(5))))
        .join()
        .unwrap();
    gort::trace::stop().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("not JSON");
    let evs = v["traceEvents"].as_array().expect("traceEvents");
    let mut names = std::collections::HashSet::new();
    let mut slices_of_consumer = 0;
    let mut park_reason = false;
    for e in evs {
        let ph = e["ph"].as_str().expect("ph");
        assert!(
            ["X", "i", "M", "C"].contains(&ph),
            "unexpected phase {ph} in {e}"
        );
        assert!(e["pid"].is_u64(), "{e}");
        if ph != "M" {
            assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
        }
        if ph == "X" {
            assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
            assert!(e["tid"].is_u64(), "{e}");
        }
        if ph == "i" {
            assert!(
                ["t", "p", "g"].contains(&e["s"].as_str().unwrap_or("t")),
                "{e}"
            );
        }
        let name = e["name"].as_str().expect("name").to_string();
        if ph == "X" && name.contains("'consumer'") {
            slices_of_consumer += 1;
            assert!(e["tid"].as_u64().unwrap() >= 1 && e["tid"].as_u64().unwrap() <= 2);
            if e["args"]["end"] == "park: chan receive" {
                park_reason = true;
            }
        }
        names.insert(name);
    }
    assert!(
        slices_of_consumer >= 2,
        "consumer ran {slices_of_consumer} slices"
    );
    assert!(park_reason, "no slice ended in a channel-receive park");
    let has = |p: &str| names.iter().any(|n| n.starts_with(p));
    assert!(has("create G"), "no create events");
    assert!(has("ready G"), "no ready events");
    assert!(has("GOMAXPROCS 2 -> 1"), "no GOMAXPROCS event");
    assert!(has("syscall G"), "no syscall event");
    assert!(names.contains("thread_name"), "no track names");
}

/// `set_maxprocs` up and down while Gs keep yielding and exchanging values: every G keeps
/// running (all finish), the totals are exact, `maxprocs()` and the metric follow, and the old
/// value comes back.
#[test]
fn set_maxprocs_up_and_down_under_load() {
    if !is_child() {
        child_ok(
            "set_maxprocs_up_and_down_under_load",
            &[("GORT_MAXPROCS", "2")],
        );
        return;
    }
    const G: usize = 200;
    const ROUNDS: usize = 2000;
    let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (tx, rx) = gort::chan::bounded::<u64>(64);
    let mut hs = Vec::new();
    for g in 0..G {
        let tx = tx.clone();
        let total = total.clone();
        hs.push(gort::spawn(move || {
            for r in 0..ROUNDS {
                if r % 7 == 0 {
                    gort::yield_now();
                }
                if r % 50 == 0 {
                    tx.send(1).unwrap();
                }
                total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            g
        }));
    }
    drop(tx);
    let sink = gort::spawn(move || rx.iter().sum::<u64>());
    let sizes = [4, 1, 3, 2, 8, 1, 2];
    let mut prev = 2;
    for &n in &sizes {
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(gort::set_maxprocs(n), prev);
        assert_eq!(gort::maxprocs(), n);
        assert_eq!(
            uint(&gort::metrics::snapshot(), "/sched/gomaxprocs:threads"),
            n as u64
        );
        prev = n;
    }
    let ids: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(ids, G * (G - 1) / 2);
    assert_eq!(
        total.load(std::sync::atomic::Ordering::Relaxed),
        (G * ROUNDS) as u64
    );
    assert_eq!(sink.join().unwrap(), (G * ROUNDS.div_ceil(50)) as u64);
    assert_eq!(gort::set_maxprocs(0), 2, "0 reads without changing");
    // Spawns after shrinking to 1 still run, including from plain threads.
    gort::set_maxprocs(1);
    let n: u32 = (0..100u32)
        .map(|i| gort::spawn(move || i))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(n, 4950);
    assert_eq!(gort::num_goroutine(), 0);
}
