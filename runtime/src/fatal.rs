//! `fatal!`: Go's `throw`. An impossible state in the engine prints one line naming it and aborts
//! the process: unwinding out of the scheduler would leave Gs, Ps and Ms in states nobody owns.

/// Prints `gort: fatal error: <message>` on stderr and aborts.
macro_rules! fatal {
    ($($arg:tt)*) => {{
        $crate::fatal::die(format_args!($($arg)*))
    }};
}
pub(crate) use fatal;

#[cold]
#[inline(never)]
pub(crate) fn die(args: std::fmt::Arguments<'_>) -> ! {
    eprintln!("gort: fatal error: {args}");
    std::process::abort()
}
