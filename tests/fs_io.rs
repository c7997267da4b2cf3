//! `gort::fs` (std::fs on the blocking pool) and `gort::io::{stdin, stdout}` (park the G).

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

fn scratch(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("gort-fsio-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

// The common surface from Gs: a tree made, listed (`read_dir` yields io::Result<DirEntry>),
// read, appended, seeked, renamed and removed, with std's results.
#[test]
fn fs_surface_from_gs() {
    let d = scratch("surface");
    let d2 = d.clone();
    gort::spawn(move || {
        let d = d2;
        gort::fs::create_dir_all(d.join("sub")).unwrap();
        for i in 0..10 {
            gort::fs::write(d.join(format!("f{i}")), format!("{i}")).unwrap();
        }
        let mut names: Vec<String> = gort::fs::read_dir(&d)
            .unwrap()
            .map(|e: std::io::Result<gort::fs::DirEntry>| {
                e.unwrap().file_name().into_string().unwrap()
            })
            .collect();
        names.sort();
        assert_eq!(names.len(), 11);
        assert_eq!(names[10], "sub");
        let sub = gort::fs::read_dir(&d)
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.file_name() == "sub")
            .unwrap();
        assert!(sub.file_type().unwrap().is_dir());
        assert!(sub.metadata().unwrap().is_dir());
        let mut f = gort::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(d.join("f1"))
            .unwrap();
        f.write_all(b"23").unwrap();
        f.seek(SeekFrom::Start(1)).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "23");
        gort::fs::rename(d.join("f1"), d.join("sub/g")).unwrap();
        assert_eq!(gort::fs::read_to_string(d.join("sub/g")).unwrap(), "123");
        assert_eq!(gort::fs::metadata(d.join("sub/g")).unwrap().len(), 3);
        let e = gort::fs::read(d.join("f1")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        gort::fs::remove_dir_all(&d).unwrap();
        assert!(!gort::fs::exists(&d).unwrap());
    })
    .join()
    .unwrap();
}

// Many Gs reading files at once all get their contents (each read on the blocking pool).
child_test!(fn many_gs_read_files() ["GORT_MAXPROCS" => "2"] {
    let d = scratch("many");
    std::fs::create_dir_all(&d).unwrap();
    for i in 0..64 {
        std::fs::write(d.join(format!("{i}")), vec![i as u8; 64 * 1024]).unwrap();
    }
    let hs: Vec<_> = (0..64)
        .map(|i| {
            let p = d.join(format!("{i}"));
            gort::spawn(move || {
                let v = gort::fs::read(&p).unwrap();
                v.len() == 64 * 1024 && v.iter().all(|&b| b == i as u8)
            })
        })
        .collect();
    for h in hs {
        assert!(h.join().unwrap());
    }
    std::fs::remove_dir_all(&d).unwrap();
});

/// The child side of `stdin_and_stdout_park`: echoes input lines upper-cased through
/// gort::io, with a ticking G to show the P stays free while the reader waits.
#[test]
fn stdio_child() {
    if !common::is_child() {
        return;
    }
    let stdin = gort::io::stdin();
    assert!(format!("{stdin:?}").contains("polled: true"), "{stdin:?}");
    assert!(format!("{:?}", gort::io::stdout()).contains("polled: true"));
    let ticks = gort::spawn(|| {
        let mut n = 0;
        let mut reading = 0;
        for _ in 0..20 {
            gort::sleep(Duration::from_millis(5));
            n += 1;
            reading = reading.max(common::threads_reading(0));
        }
        (n, reading)
    });
    let echo = gort::spawn(move || {
        let mut out = gort::io::stdout();
        for line in stdin.lines() {
            writeln!(out, "{}", line.unwrap().to_uppercase()).unwrap();
        }
    });
    // The reader has been waiting all along (the parent writes after 300 ms): the ticker ran
    // on the only P meanwhile, and no thread sat in read(0) while it did. (Counting threads
    // instead flaked on a loaded machine: sysmon may hand the P to a new M when the OS
    // deschedules the M of a running G for a tick, which says nothing about stdin.)
    let (n, reading) = ticks.join().unwrap();
    assert_eq!(n, 20);
    assert_eq!(
        reading, 0,
        "a thread was blocked in read(0) while stdin was waited for"
    );
    echo.join().unwrap();
}

// Reading a pipe on standard input parks the G (one P, blockcheck off so that only parking can
// keep the P free), and what it writes to a piped standard output arrives in order.
#[test]
fn stdin_and_stdout_park() {
    if common::is_child() {
        return;
    }
    let mut cmd = common::child_command(
        "stdio_child",
        &[("GORT_MAXPROCS", "1"), ("GORT_DEBUG", "blockcheck=0")],
    );
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    input.write_all(b"one\ntwo\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    input.write_all(b"three\n").unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ONE\nTWO\nTHREE\n"), "{stdout}");
}
