#[test]
fn spawn_join_many() {
    let hs: Vec<_> = (0..10_000u64).map(|i| gort::spawn(move || i)).collect();
    let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(s, 10_000 * 9_999 / 2);
}

#[test]
fn nested() {
    let h = gort::spawn(|| {
        let hs: Vec<_> = (0..100u64)
            .map(|i| {
                gort::spawn(move || {
                    gort::yield_now();
                    i
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(h.join().unwrap(), 4950);
}

#[test]
fn sleeps() {
    let t = std::time::Instant::now();
    let hs: Vec<_> = (0..1000)
        .map(|_| gort::spawn(|| gort::sleep(std::time::Duration::from_millis(50))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(t.elapsed() >= std::time::Duration::from_millis(50));
}
