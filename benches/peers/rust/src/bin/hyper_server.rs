//! The tokio + hyper peer of `examples/services/examples/http_server.rs`: the same endpoints
//! (`GET /` → `hello`, `GET /json` → `{"message":"Hello, World!"}`, `POST /echo` → the body),
//! written the way hyper 1.x's own server examples are: a tokio multi-thread runtime with
//! `BENCH_WORKERS` workers, `TcpListener::bind` (tokio's default backlog, 1024), a task per
//! connection running `http1::Builder::serve_connection` (keep-alive on, a 10 s header read
//! timeout like the others).
//!
//! `hyper_server --addr 127.0.0.1:PORT`; serves until killed, logs to stderr.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

type Resp = Response<Full<Bytes>>;

fn text(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

fn not_allowed(allow: &'static str) -> Resp {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        "text/plain; charset=utf-8",
        "Method Not Allowed\n",
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

async fn handle(req: Request<Incoming>) -> Result<Resp, Infallible> {
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    Ok(match req.uri().path() {
        "/" if get => text(StatusCode::OK, "text/plain; charset=utf-8", "hello"),
        "/json" if get => {
            let body = serde_json::to_vec(&Message {
                message: "Hello, World!",
            })
            .expect("serialises");
            text(StatusCode::OK, "application/json", body)
        }
        "/echo" if req.method() == Method::POST => {
            let ct = req
                .headers()
                .get(CONTENT_TYPE)
                .cloned()
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            match Limited::new(req.into_body(), 10 << 20).collect().await {
                Ok(b) => {
                    let mut r = Response::new(Full::new(b.to_bytes()));
                    r.headers_mut().insert(CONTENT_TYPE, ct);
                    r
                }
                Err(_) => text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain; charset=utf-8",
                    "413 Request Entity Too Large\n",
                ),
            }
        }
        "/" | "/json" => not_allowed("GET, HEAD"),
        "/echo" => not_allowed("POST"),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 page not found\n",
        ),
    })
}

fn main() {
    gort_peers::serve_tokio("hyper_server", || {
        |s| async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(s), service_fn(handle))
                .await;
        }
    });
}
