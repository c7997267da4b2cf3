//! RESP2, the Redis protocol, for `examples/redis_server.rs`: requests parsed as Redis 7.0
//! parses them (`src/networking.c`: `processMultibulkBuffer`, `processInlineBuffer`; `src/sds.c`:
//! `sdssplitargs`; `src/util.c`: `string2ll`) and replies encoded byte for byte as Redis sends
//! them (`addReplyErrorFormat`, `processCommand`'s unknown-command text).

use std::io::{Read, Write};

/// Redis's `PROTO_IOBUF_LEN`: the first read buffer.
const IOBUF: usize = 16 * 1024;
/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest line without a newline.
pub const INLINE_MAX: usize = 64 * 1024;
/// Redis's `proto-max-bulk-len` default.
pub const MAX_BULK: i64 = 512 * 1024 * 1024;

/// Serves one client connection: reads, runs every complete command in what arrived (`exec`
/// appends each reply), writes all the replies in one write, and reads again; returns when the
/// client leaves, after a protocol error (its reply written), or when `exec` says `Close`.
pub fn serve<S: Read + Write>(mut c: S, mut exec: impl FnMut(&Args<'_>, &mut Vec<u8>) -> Next) {
    let mut buf = vec![0u8; IOBUF];
    let (mut start, mut end) = (0, 0);
    let mut out = Vec::with_capacity(IOBUF);
    let mut cmd = Command::default();
    loop {
        // Run every complete command in the buffer.
        let mut close = false;
        while start < end {
            match parse(&buf[start..end], &mut cmd) {
                Parse::Incomplete => break,
                Parse::Command(used) => {
                    let base = start;
                    start += used;
                    if cmd.is_empty() {
                        continue;
                    }
                    if exec(&cmd.view(&buf[base..]), &mut out) == Next::Close {
                        close = true;
                        break;
                    }
                }
                Parse::Error(msg) => {
                    error(&mut out, &msg);
                    close = true;
                    break;
                }
            }
        }
        // One write for the whole batch.
        if !out.is_empty() {
            if c.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
        // Make room: move the unparsed tail to the front, or grow for a big argument.
        if start == end {
            (start, end) = (0, 0);
        } else if start > 0 {
            buf.copy_within(start..end, 0);
            (start, end) = (0, end - start);
        }
        if end == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match c.read(&mut buf[end..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => end += n,
        }
    }
}

/// What the connection does after a command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    Continue,
    /// Close once the replies so far are written (QUIT).
    Close,
}

/// Redis's reply to a command it does not know (`server.c: processCommand`): the name cut at
/// 128 bytes, then each argument quoted and followed by a space while the list is shorter than
/// 128 bytes, each cut to what is left of the 128.
pub fn unknown_command(a: &Args<'_>, out: &mut Vec<u8>) {
    let c_str = |s: &[u8]| -> Vec<u8> {
        // printf's %s stops at a NUL byte, as in Redis.
        s.iter().copied().take_while(|&b| b != 0).collect()
    };
    let mut args: Vec<u8> = Vec::new();
    let mut i = 1;
    while i < a.len() && args.len() < 128 {
        let room = 128 - args.len();
        let s = c_str(a.get(i));
        args.push(b'\'');
        args.extend_from_slice(&s[..s.len().min(room)]);
        args.extend_from_slice(b"' ");
        i += 1;
    }
    let name = c_str(a.get(0));
    let mut msg = b"unknown command '".to_vec();
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&args);
    error(out, &msg);
}

/// `-ERR <msg>\r\n`, with CR and LF inside the message turned into spaces and leading/trailing
/// ones trimmed (`addReplyErrorFormat`).
pub fn error(out: &mut Vec<u8>, msg: &[u8]) {
    let is_nl = |b: &u8| *b == b'\r' || *b == b'\n';
    let first = msg.iter().position(|b| !is_nl(b)).unwrap_or(msg.len());
    let last = msg.iter().rposition(|b| !is_nl(b)).map_or(first, |i| i + 1);
    let msg = &msg[first..last];
    if msg.first() != Some(&b'-') {
        out.extend_from_slice(b"-ERR ");
    }
    out.extend(msg.iter().map(|&b| if is_nl(&b) { b' ' } else { b }));
    out.extend_from_slice(b"\r\n");
}

pub fn bulk(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'$');
    let _ = write!(out, "{}", v.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
}

pub fn integer(out: &mut Vec<u8>, n: i64) {
    out.push(b':');
    let _ = write!(out, "{n}");
    out.extend_from_slice(b"\r\n");
}

/// Redis's `string2ll`: an optional `-`, then `0` alone or a digit 1-9 and more digits, in
/// range, at most 20 bytes; nothing else (no `+`, no spaces, no leading zeros, no `-0`).
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// The arguments of the command just parsed: ranges into the read buffer (RESP) or into the
/// command's own scratch bytes (inline commands, which may unescape).
#[derive(Default)]
pub struct Command {
    args: Vec<(bool, usize, usize)>,
    scratch: Vec<u8>,
}

impl Command {
    /// True for a request with no command (`*0`, a blank line), which gets no reply.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The arguments, given the buffer `parse` was called with.
    pub fn view<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        Args { cmd: self, buf }
    }
}

/// The arguments of one command.
pub struct Args<'a> {
    cmd: &'a Command,
    buf: &'a [u8],
}

impl Args<'_> {
    /// Number of arguments, the command name included.
    pub fn len(&self) -> usize {
        self.cmd.args.len()
    }

    /// True if there are no arguments (never, for a command `parse` returned).
    pub fn is_empty(&self) -> bool {
        self.cmd.args.is_empty()
    }

    /// Argument `i` (0 is the command name).
    pub fn get(&self, i: usize) -> &[u8] {
        let (scratch, s, e) = self.cmd.args[i];
        if scratch {
            &self.cmd.scratch[s..e]
        } else {
            &self.buf[s..e]
        }
    }
}

/// What `parse` found at the front of the buffer.
pub enum Parse {
    /// Need more bytes.
    Incomplete,
    /// A command (possibly empty: `*0`, a blank line) using this many bytes.
    Command(usize),
    /// A protocol error: reply with it, then close.
    Error(Vec<u8>),
}

/// Parses one request from the front of `b` into `cmd` (Redis's `processMultibulkBuffer` and
/// `processInlineBuffer`).
pub fn parse(b: &[u8], cmd: &mut Command) -> Parse {
    cmd.args.clear();
    cmd.scratch.clear();
    if b[0] == b'*' {
        parse_multibulk(b, cmd)
    } else {
        parse_inline(b, cmd)
    }
}

/// The position of the first `\r` that has a byte after it (Redis finds `\r` and assumes the
/// `\n`), or what to say if none is found in `limit` bytes.
fn line_end(b: &[u8], what: &str) -> Result<Option<usize>, Vec<u8>> {
    match b.iter().position(|&c| c == b'\r') {
        Some(i) if i + 1 < b.len() => Ok(Some(i)),
        Some(_) => Ok(None),
        None if b.len() > INLINE_MAX => {
            Err(format!("Protocol error: too big {what} string").into_bytes())
        }
        None => Ok(None),
    }
}

fn parse_multibulk(b: &[u8], cmd: &mut Command) -> Parse {
    let nl = match line_end(b, "mbulk count") {
        Ok(Some(i)) => i,
        Ok(None) => return Parse::Incomplete,
        Err(e) => return Parse::Error(e),
    };
    let n = match string2ll(&b[1..nl]) {
        Some(n) if n <= i64::from(i32::MAX) => n,
        _ => return Parse::Error(b"Protocol error: invalid multibulk length".to_vec()),
    };
    let mut pos = nl + 2;
    if n <= 0 {
        return Parse::Command(pos);
    }
    for _ in 0..n {
        let rest = &b[pos.min(b.len())..];
        let nl = match line_end(rest, "bulk count") {
            Ok(Some(i)) => i,
            Ok(None) => return Parse::Incomplete,
            Err(e) => return Parse::Error(e),
        };
        if rest[0] != b'$' {
            let mut e = b"Protocol error: expected '$', got '".to_vec();
            e.extend_from_slice(&[rest[0], b'\'']);
            return Parse::Error(e);
        }
        let len = match string2ll(&rest[1..nl]) {
            Some(l) if (0..=MAX_BULK).contains(&l) => l as usize,
            _ => return Parse::Error(b"Protocol error: invalid bulk length".to_vec()),
        };
        let data = pos + nl + 2;
        // The bulk and its (unchecked, as in Redis) trailing two bytes.
        if b.len() < data + len + 2 {
            return Parse::Incomplete;
        }
        cmd.args.push((false, data, data + len));
        pos = data + len + 2;
    }
    Parse::Command(pos)
}

fn parse_inline(b: &[u8], cmd: &mut Command) -> Parse {
    let Some(nl) = b.iter().position(|&c| c == b'\n') else {
        if b.len() > INLINE_MAX {
            return Parse::Error(b"Protocol error: too big inline request".to_vec());
        }
        return Parse::Incomplete;
    };
    let line = if nl > 0 && b[nl - 1] == b'\r' {
        &b[..nl - 1]
    } else {
        &b[..nl]
    };
    match split_args(line, cmd) {
        Ok(()) => Parse::Command(nl + 1),
        Err(()) => Parse::Error(b"Protocol error: unbalanced quotes in request".to_vec()),
    }
}

/// Redis's `sdssplitargs`: blanks separate arguments; `"..."` takes `\n \r \t \b \a \xHH` and
/// `\<c>` escapes, `'...'` only `\'`; a closing quote must be followed by a blank or the end.
/// The line ends at a NUL byte, as the C string does.
fn split_args(line: &[u8], cmd: &mut Command) -> Result<(), ()> {
    let line = &line[..line.iter().position(|&c| c == 0).unwrap_or(line.len())];
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let hex = |c: u8| char::from(c).to_digit(16);
    let mut p = 0;
    loop {
        while is_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Ok(());
        }
        let begin = cmd.scratch.len();
        // Inside "..." or '...': the opening quote.
        let mut quote: Option<u8> = None;
        loop {
            let c = at(p);
            match quote {
                Some(b'"') if c == b'\\' && at(p + 1) == b'x' => {
                    if let (Some(h), Some(l)) = (hex(at(p + 2)), hex(at(p + 3))) {
                        cmd.scratch.push((h * 16 + l) as u8);
                        p += 3;
                    } else {
                        p += 1;
                        cmd.scratch.push(b'x');
                    }
                }
                Some(b'"') if c == b'\\' && at(p + 1) != 0 => {
                    p += 1;
                    cmd.scratch.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        o => o,
                    });
                }
                Some(b'\'') if c == b'\\' && at(p + 1) == b'\'' => {
                    p += 1;
                    cmd.scratch.push(b'\'');
                }
                Some(q) if c == q => {
                    // A closing quote must be followed by a blank or the end.
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(());
                    }
                    p += 1;
                    break;
                }
                Some(_) if c == 0 => return Err(()),
                Some(_) => cmd.scratch.push(c),
                None => match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' | b'\'' => quote = Some(c),
                    _ => cmd.scratch.push(c),
                },
            }
            p += 1;
        }
        cmd.args.push((true, begin, cmd.scratch.len()));
    }
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Vec<String>, ()> {
        let mut c = Command::default();
        split_args(line.as_bytes(), &mut c)?;
        let a = c.view(&[]);
        Ok((0..a.len())
            .map(|i| String::from_utf8_lossy(a.get(i)).into_owned())
            .collect())
    }

    #[test]
    fn inline_splitting_like_sdssplitargs() {
        // Cases from Redis's own sdssplitargs behaviour (src/sds.c).
        assert_eq!(args("set k v").unwrap(), ["set", "k", "v"]);
        assert_eq!(args("  get   k  ").unwrap(), ["get", "k"]);
        assert_eq!(
            args(r#"set "a b" "\x41\n""#).unwrap(),
            ["set", "a b", "A\n"]
        );
        assert_eq!(args(r"set 'it\'s' x").unwrap(), ["set", "it's", "x"]);
        assert_eq!(args(r#"a"b c"d"#), Err(()));
        assert_eq!(args(r#"set "open"#), Err(()));
        assert_eq!(args("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-12"), Some(-12));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"9223372036854775808"[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"",
            b"-",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn multibulk_in_pieces() {
        let msg = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut c = Command::default();
        for cut in 1..msg.len() {
            assert!(
                matches!(parse(&msg[..cut], &mut c), Parse::Incomplete),
                "{cut}"
            );
        }
        assert!(matches!(parse(msg, &mut c), Parse::Command(n) if n == msg.len()));
        assert_eq!(c.view(msg).get(2), b"hello");
    }

    /// A stream that hands out `reads` one per call and records each write.
    struct Mock {
        reads: Vec<Vec<u8>>,
        writes: Vec<Vec<u8>>,
    }

    impl Read for Mock {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            if self.reads.is_empty() {
                return Ok(0);
            }
            let r = self.reads.remove(0);
            assert!(r.len() <= b.len());
            b[..r.len()].copy_from_slice(&r);
            Ok(r.len())
        }
    }

    impl Write for Mock {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.writes.push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn echo_name(a: &Args<'_>, out: &mut Vec<u8>) -> Next {
        bulk(out, a.get(0));
        Next::Continue
    }

    #[test]
    fn one_write_per_batch_in_order() {
        // 100 commands in one read, then 2 more split across reads: 2 writes.
        let batch = b"*1\r\n$1\r\na\r\nb\r\n".repeat(50);
        let mut m = Mock {
            reads: vec![batch, b"c\r\n*1\r\n$1".to_vec(), b"\r\nd\r\n".to_vec()],
            writes: Vec::new(),
        };
        serve(&mut m, echo_name);
        assert_eq!(m.writes.len(), 3);
        assert_eq!(m.writes[0], b"$1\r\na\r\n$1\r\nb\r\n".repeat(50));
        assert_eq!(m.writes[1], b"$1\r\nc\r\n");
        assert_eq!(m.writes[2], b"$1\r\nd\r\n");
    }

    #[test]
    fn protocol_error_flushes_then_closes() {
        let mut m = Mock {
            reads: vec![b"a\r\n*x\r\nb\r\n".to_vec(), b"c\r\n".to_vec()],
            writes: Vec::new(),
        };
        serve(&mut m, echo_name);
        assert_eq!(
            m.writes,
            [b"$1\r\na\r\n-ERR Protocol error: invalid multibulk length\r\n"]
        );
        assert_eq!(m.reads.len(), 1, "read on after a protocol error");
    }
}
