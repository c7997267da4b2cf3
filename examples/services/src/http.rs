//! HTTP/1.1 request framing for `examples/http_server.rs`, the part of Go's `net/http` a
//! server gets from its library: the request head (parsed by `httparse`), the rules that decide
//! whether the connection persists (RFC 9112 §9.3, Go's `shouldClose`) and how the body is
//! framed (§6.3), an incremental chunked-body decoder (§7.1), and the `Date` header.

use std::time::{SystemTime, UNIX_EPOCH};

/// Go's `http.DefaultMaxHeaderBytes`: a longer head is answered 431.
pub const MAX_HEADER_BYTES: usize = 1 << 20;
/// The largest body the echo endpoint takes (413 beyond).
pub const MAX_BODY_BYTES: usize = 10 << 20;
/// Header fields per request (431 beyond).
pub const MAX_HEADERS: usize = 100;

/// What the request line and headers say, copied out of the read buffer.
#[derive(Debug)]
pub struct Head<R> {
    /// Bytes of the head, up to and including the empty line.
    pub len: usize,
    pub method: Method,
    /// What the caller's router made of the path (query string included).
    pub route: R,
    pub http10: bool,
    /// The connection persists after this request.
    pub keep_alive: bool,
    pub body: BodyKind,
    pub expect_continue: bool,
    pub content_type: Option<Vec<u8>>,
}

/// The methods the example serves; the rest are `Other` (and get a 405).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    Get,
    Head,
    Post,
    Other,
}

/// How the request body is framed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BodyKind {
    None,
    Length(usize),
    Chunked,
}

/// Requests a server answers with a 4xx and then closes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reject {
    BadRequest,
    HeadersTooLarge,
    BodyTooLarge,
}

impl Reject {
    /// The status line text.
    pub fn status(self) -> &'static str {
        match self {
            Reject::BadRequest => "400 Bad Request",
            Reject::HeadersTooLarge => "431 Request Header Fields Too Large",
            Reject::BodyTooLarge => "413 Request Entity Too Large",
        }
    }
}

/// Parses a request head from the front of `buf`; `Ok(None)` if it is not complete yet. `route`
/// maps the request target to the caller's route type.
pub fn parse_head<R>(buf: &[u8], route: impl FnOnce(&str) -> R) -> Result<Option<Head<R>>, Reject> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::HeadersTooLarge),
        Err(_) => return Err(Reject::BadRequest),
    };
    let http10 = req.version == Some(0);
    let method = match req.method.unwrap_or("") {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    let route = route(req.path.unwrap_or(""));
    let is_post = method == Method::Post;
    let (mut close, mut keep) = (false, false);
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut has_te = false;
    let mut expect_continue = false;
    let mut content_type = None;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(Reject::BadRequest)?;
            // Repeated Content-Length headers must agree (RFC 9112 §6.3).
            if length.is_some_and(|l| l != n) {
                return Err(Reject::BadRequest);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            has_te = true;
            // The last coding must be chunked (RFC 9112 §6.3); we know no other.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let t = token.trim_ascii();
                close |= t.eq_ignore_ascii_case(b"close");
                keep |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue = h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case("content-type") && is_post {
            content_type = Some(h.value.to_vec());
        }
    }
    if has_te && !chunked {
        return Err(Reject::BadRequest);
    }
    let body = match (chunked, length) {
        (true, _) => BodyKind::Chunked,
        (false, Some(0) | None) => BodyKind::None,
        (false, Some(n)) => BodyKind::Length(n),
    };
    // A message with both framings is answered, then the connection closes (RFC 9112 §6.3).
    let both = chunked && length.is_some();
    let keep_alive = !both && if http10 { keep && !close } else { !close };
    Ok(Some(Head {
        len,
        method,
        route,
        http10,
        keep_alive,
        body,
        expect_continue,
        content_type,
    }))
}

/// An incremental decoder of a chunked body (RFC 9112 §7.1), fed whatever has arrived.
#[derive(Default)]
pub struct Dechunk {
    /// Bytes of chunk data still expected, then its CRLF.
    data_left: u64,
    in_data: bool,
    /// Inside the trailer section (after the 0-size chunk).
    trailer: bool,
}

impl Dechunk {
    /// Consumes a prefix of `input`, appending data to `body`; returns (bytes used, finished).
    pub fn feed(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<(usize, bool), Reject> {
        let mut i = 0;
        loop {
            let rest = &input[i..];
            if self.trailer {
                // Trailer fields are ignored; an empty line ends the message.
                let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                    return Ok((i, false));
                };
                i += nl + 1;
                if nl == 0 || (nl == 1 && rest[0] == b'\r') {
                    return Ok((i, true));
                }
            } else if self.in_data {
                if self.data_left > 0 {
                    let take = (self.data_left as usize).min(rest.len());
                    if take == 0 {
                        return Ok((i, false));
                    }
                    body.extend_from_slice(&rest[..take]);
                    self.data_left -= take as u64;
                    i += take;
                    continue;
                }
                match rest {
                    [b'\r', b'\n', ..] => i += 2,
                    [b'\n', ..] => i += 1,
                    [] | [b'\r'] => return Ok((i, false)),
                    _ => return Err(Reject::BadRequest),
                }
                self.in_data = false;
            } else {
                match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        i += used;
                        if size == 0 {
                            self.trailer = true;
                        } else if size > MAX_BODY_BYTES as u64 {
                            return Err(Reject::BodyTooLarge);
                        } else {
                            self.data_left = size;
                            self.in_data = true;
                        }
                    }
                    Ok(httparse::Status::Partial) => return Ok((i, false)),
                    Err(_) => return Err(Reject::BadRequest),
                }
            }
        }
    }
}

/// The `Date` header (RFC 9110 §5.6.7, IMF-fixdate), formatted once per second per connection.
#[derive(Default)]
pub struct Date {
    secs: u64,
    text: [u8; 29],
}

impl Date {
    pub fn now(&mut self) -> &[u8] {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if secs != self.secs || self.text[0] == 0 {
            self.secs = secs;
            self.text = imf_fixdate(secs);
        }
        &self.text
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for a Unix time.
pub fn imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let sod = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let s = format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    let mut out = [b' '; 29];
    out.copy_from_slice(&s.as_bytes()[..29]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_format() {
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn dechunk_in_pieces() {
        let msg = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        // Every split point gives the same body and stops right before NEXT.
        for cut in 0..msg.len() {
            let mut d = Dechunk::default();
            let mut body = Vec::new();
            let (a, done) = d.feed(&msg[..cut], &mut body).ok().unwrap();
            assert!(!done || cut >= msg.len() - 4);
            let mut rest = msg[a..].to_vec();
            if !done {
                let (b, done) = d.feed(&rest, &mut body).ok().unwrap();
                assert!(done);
                rest.drain(..b);
            }
            assert_eq!(body, b"Wikipedia");
            assert_eq!(rest, b"NEXT");
        }
    }

    #[test]
    fn keep_alive_rules() {
        let h = |r: &[u8]| parse_head(r, |_| ()).ok().unwrap().unwrap();
        assert!(h(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").keep_alive);
        assert!(!h(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!h(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(h(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(parse_head(b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", |_| ()).is_err());
        assert!(parse_head(
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            |_| ()
        )
        .is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost", |_| ())
            .ok()
            .unwrap()
            .is_none());
    }
}
