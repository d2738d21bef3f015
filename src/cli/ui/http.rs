//! A small HTTP/1.1 server on std: one thread per connection, one request per connection
//! (`Connection: close`). Requests must name this server in `Host` (`127.0.0.1:PORT`,
//! `localhost:PORT` or `[::1]:PORT`: a page of another site that rebinds a name to
//! 127.0.0.1 is refused), and a POST must be JSON (a cross-site form cannot send that
//! without the browser asking first), so no other page can start a trace.

use super::live::Shared;
use super::{page, trace};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long `/events` holds a request when nothing changes (the page asks again).
const LONG_POLL: Duration = Duration::from_secs(25);
/// Connections served at once; past it, 503.
const MAX_CONNS: usize = 64;
const MAX_BODY: usize = 64 * 1024;

pub struct Server {
    pub shared: Arc<Shared>,
    pub port: u16,
    pub root: PathBuf,
    pub run_dir: PathBuf,
}

struct Request {
    method: String,
    path: String,
    query: String,
    host: String,
    content_type: String,
    body: Vec<u8>,
}

impl Server {
    pub fn serve(self, listener: TcpListener) {
        let me = Arc::new(self);
        let busy = Arc::new(AtomicUsize::new(0));
        for stream in listener.incoming().flatten() {
            if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNS {
                busy.fetch_sub(1, Ordering::SeqCst);
                let _ = respond(&stream, 503, "text/plain", b"busy\n");
                continue;
            }
            let (me, busy) = (me.clone(), busy.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                if let Some(req) = read(&stream) {
                    me.handle(&stream, req);
                }
                busy.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }

    fn handle(&self, stream: &TcpStream, req: Request) {
        let hosts = [
            format!("127.0.0.1:{}", self.port),
            format!("localhost:{}", self.port),
            format!("[::1]:{}", self.port),
        ];
        if !hosts.contains(&req.host) {
            let _ = respond(stream, 403, "text/plain", b"unknown Host\n");
            return;
        }
        let r = match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/") => {
                let p = self.shared.current();
                respond(
                    stream,
                    200,
                    "text/html; charset=utf-8",
                    page::html(&p).as_bytes(),
                )
            }
            ("GET", "/graph.json") => {
                let p = self.shared.current();
                respond(stream, 200, "application/json", p.json.as_bytes())
            }
            ("GET", "/graph.svg") => {
                let p = self.shared.current();
                respond(stream, 200, "image/svg+xml", p.svg.as_bytes())
            }
            ("GET", "/events") => {
                let since = req
                    .query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("since="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let p = self.shared.after(since, LONG_POLL);
                respond(stream, 200, "application/json", page::event(&p).as_bytes())
            }
            ("POST", "/trace") if req.content_type.starts_with("application/json") => {
                let body = match serde_json::from_slice::<trace::Form>(&req.body) {
                    Err(e) => serde_json::json!({ "error": format!("bad form: {e}") }),
                    Ok(form) => match trace::run(&self.root, &self.run_dir, &form) {
                        Ok(report) => report,
                        Err(e) => serde_json::json!({ "error": e.to_string() }),
                    },
                };
                respond(stream, 200, "application/json", body.to_string().as_bytes())
            }
            ("POST", "/trace") => respond(stream, 415, "text/plain", b"send JSON\n"),
            _ => respond(stream, 404, "text/plain", b"not found\n"),
        };
        let _ = r;
    }
}

fn read(stream: &TcpStream) -> Option<Request> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let (mut host, mut content_type, mut len) = (String::new(), String::new(), 0usize);
    for _ in 0..100 {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        let Some((k, v)) = h.split_once(':') else {
            continue;
        };
        let v = v.trim().to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "host" => host = v,
            "content-type" => content_type = v.to_ascii_lowercase(),
            "content-length" => len = v.parse().ok()?,
            _ => {}
        }
    }
    if len > MAX_BODY {
        return None;
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        query,
        host,
        content_type,
        body,
    })
}

fn respond(mut stream: &TcpStream, code: u16, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        415 => "Unsupported Media Type",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}
