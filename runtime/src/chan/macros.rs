//! `select!` and `select_biased!`: crossbeam-channel's syntax over the engine's select (select.rs).
//!
//! The parser (`__select_parse!`) turns each arm into `(name, binding, arm constructor, pattern,
//! body)` and the emitter matches on a tuple of all bindings, so that every channel and value
//! expression is evaluated once, first, in source order (Go's rule), and temporaries in them
//! (`recv(gort::time::after(d))`, `send(c.tx(), v)`) live until the select is over: temporaries
//! in a `match` scrutinee are dropped only at the end of the `match`.

/// Waits on several channel operations and runs the arm of the one that completes
/// (Go's `select`, crossbeam-channel's syntax).
///
/// Arms: `recv(rx) -> v => body` (`v: Result<T, RecvError>`), `send(tx, value) -> res => body`
/// (`res: Result<(), SendError<T>>`), and at most one of `default => body` or `default() =>
/// body` (do not block) or `default(duration) => body` (give up after `duration`), last. The
/// channel may be a `Receiver`/`Sender`, a reference to one, or a temporary
/// (`recv(gort::time::after(d)) -> _`). Every channel and value expression is evaluated once,
/// first, in source order. A closed channel's arm is ready (with the error), and so is a due timer
/// channel's: `default` never wins over either. When several arms are ready one is chosen
/// uniformly at random; exactly one arm runs, and an arm that is not chosen consumes nothing
/// (a losing send arm's value is dropped, unsent). Runs on the caller's stack; works on plain
/// threads too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let (tx1, rx1) = gort::chan::bounded::<i32>(1);
/// let (tx2, rx2) = gort::chan::bounded::<&str>(1);
/// tx2.send("two").unwrap();
/// let got = gort::select! {
///     recv(rx1) -> v => format!("rx1 {:?}", v),
///     recv(rx2) -> v => format!("rx2 {}", v.unwrap()),
///     default(Duration::from_secs(1)) => "timeout".to_string(),
/// };
/// assert_eq!(got, "rx2 two");
/// let sent = gort::select! {
///     send(tx1, 5) -> r => r.is_ok(),
///     default => false,
/// };
/// assert!(sent);
/// // A temporary timer channel as an arm: it is ready as soon as it is due.
/// let late = gort::select! {
///     recv(rx1) -> _ => false,
///     recv(gort::time::after(Duration::from_millis(1))) -> _ => true,
/// };
/// assert!(!late); // rx1 held 5, ready at once
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(@fn [$crate::chan::__select] @arms [] @default [] $($tokens)*)
    };
}

/// [`select!`] that prefers the earlier arm: among ready arms, the first in source order runs
/// (crossbeam's `select_biased!`). Go has no such form; use it where a priority is wanted, such
/// as draining a control channel before a data channel.
///
/// # Examples
///
/// ```
/// let (tx1, rx1) = gort::chan::unbounded::<u8>();
/// let (tx2, rx2) = gort::chan::unbounded::<u8>();
/// tx1.send(1).unwrap();
/// tx2.send(2).unwrap();
/// let first = gort::select_biased! {
///     recv(rx1) -> v => v.unwrap(),
///     recv(rx2) -> v => v.unwrap(),
/// };
/// assert_eq!(first, 1);
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(@fn [$crate::chan::__select_biased] @arms [] @default [] $($tokens)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // recv arms: `recv(rx) -> pat => body`, with an optional trailing comma inside the parens.
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] recv($rx:expr $(,)?) -> $p:pat => $b:block, $($rest:tt)*) => {
        $crate::__select_parse!(@fn $f @arms [$($a)* (__arm, &$rx, $crate::chan::RecvArm::new(__arm), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] recv($rx:expr $(,)?) -> $p:pat => $b:block $($rest:tt)*) => {
        $crate::__select_parse!(@fn $f @arms [$($a)* (__arm, &$rx, $crate::chan::RecvArm::new(__arm), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] recv($rx:expr $(,)?) -> $p:pat => $b:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@fn $f @arms [$($a)* (__arm, &$rx, $crate::chan::RecvArm::new(__arm), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] recv($rx:expr $(,)?) -> $p:pat => $b:expr) => {
        $crate::__select_parse!(@fn $f @arms [$($a)* (__arm, &$rx, $crate::chan::RecvArm::new(__arm), $p, $b)] @default [$($d)*])
    };
    // send arms: `send(tx, value) -> pat => body`.
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] send($tx:expr, $v:expr $(,)?) -> $p:pat => $b:block, $($rest:tt)*) => {
        $crate::__select_parse!(@fn $f @arms [$($a)* (__arm, (&$tx, $v), $crate::chan::SendArm::new(__arm.0, __arm.1), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] send($tx:expr, $v:expr $(,)?) -> $p:pat => $b:block $($rest:tt)*) => {
        $crate::__select_parse!(@fn $f @arms [$($a)* (__arm, (&$tx, $v), $crate::chan::SendArm::new(__arm.0, __arm.1), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] send($tx:expr, $v:expr $(,)?) -> $p:pat => $b:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@fn $f @arms [$($a)* (__arm, (&$tx, $v), $crate::chan::SendArm::new(__arm.0, __arm.1), $p, $b)] @default [$($d)*] $($rest)*)
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] send($tx:expr, $v:expr $(,)?) -> $p:pat => $b:expr) => {
        $crate::__select_parse!(@fn $f @arms [$($a)* (__arm, (&$tx, $v), $crate::chan::SendArm::new(__arm.0, __arm.1), $p, $b)] @default [$($d)*])
    };
    // default arms: `default`, `default()`, `default(duration)`; last.
    (@fn $f:tt @arms [$($a:tt)*] @default [] default $(())? => $b:block $(,)?) => {
        $crate::__select_parse!(@fn $f @arms [$($a)*] @default [$crate::chan::__Mode::NonBlock, $b])
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [] default $(())? => $b:expr $(,)?) => {
        $crate::__select_parse!(@fn $f @arms [$($a)*] @default [$crate::chan::__Mode::NonBlock, $b])
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [] default($t:expr $(,)?) => $b:block $(,)?) => {
        $crate::__select_parse!(@fn $f @arms [$($a)*] @default [$crate::chan::__Mode::Timeout($t), $b])
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [] default($t:expr $(,)?) => $b:expr $(,)?) => {
        $crate::__select_parse!(@fn $f @arms [$($a)*] @default [$crate::chan::__Mode::Timeout($t), $b])
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] default $($rest:tt)*) => {
        ::core::compile_error!("select!: only one `default` arm, and it must be the last arm")
    };
    // done
    (@fn $f:tt @arms [$(($name:ident, $bind:expr, $ctor:expr, $p:pat, $b:expr))*] @default []) => {
        $crate::__select_parse!(@emit $f [$(($name, $bind, $ctor, $p, $b))*] $crate::chan::__Mode::Block, ::core::unreachable!("select!: no arm chosen"))
    };
    (@fn $f:tt @arms [$(($name:ident, $bind:expr, $ctor:expr, $p:pat, $b:expr))*] @default [$m:expr, $db:expr]) => {
        $crate::__select_parse!(@emit $f [$(($name, $bind, $ctor, $p, $b))*] $m, $db)
    };
    (@emit [$f:path] [$(($name:ident, $bind:expr, $ctor:expr, $p:pat, $b:expr))*] $m:expr, $db:expr) => {
        // The scrutinee evaluates every channel and value, in source order; its temporaries
        // live to the end of the `match`.
        match ($($bind,)*) {
            #[allow(unused_parens, clippy::let_unit_value, clippy::unused_unit)]
            ($($name,)*) => {
                #[allow(unused_parens, clippy::let_unit_value, clippy::unused_unit)]
                let ($($name,)*) = {
                    $( let $name = $ctor; )*
                    let __arms: &[&dyn $crate::chan::__SelectArm] = &[$(&$name),*];
                    $f(__arms, $m);
                    ($($name.into_result(),)*)
                };
                $(
                    if let ::core::option::Option::Some(__res) = $name {
                        let $p = __res;
                        $b
                    } else
                )* { $db }
            }
        }
    };
    (@fn $f:tt @arms [$($a:tt)*] @default [$($d:tt)*] $($rest:tt)+) => {
        ::core::compile_error!("select!: expected `recv(rx) -> v => ...`, `send(tx, value) -> r => ...`, `default => ...` or `default(duration) => ...`")
    };
}
