//! The smallest HTTP/1.1 client etcd's JSON gateway needs: one `POST` per connection
//! (`Connection: close`), a body read by `Content-Length` or chunked encoding, and a
//! streaming reader for the watch (newline-separated JSON messages in chunks). Blocking
//! std sockets with timeouts: no runtime, no threads, nothing started before it is used.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a request failed: nothing accepted the connection (try another), the connection
/// broke or timed out (try another), or the endpoint answered with something else than
/// success.
#[derive(Debug)]
pub enum HttpError {
    /// No connection: nothing listens there, no route, or the connect timed out.
    Connect(String),
    Unreachable(String),
    Status(u16, String),
    Protocol(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Connect(m) | HttpError::Unreachable(m) => write!(f, "unreachable: {m}"),
            HttpError::Status(s, body) => write!(f, "HTTP {s}: {}", body.trim()),
            HttpError::Protocol(m) => write!(f, "bad answer: {m}"),
        }
    }
}

/// An endpoint `http://HOST:PORT` (no TLS: etcd's client port on a trusted underlay).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Parses `http://HOST:PORT[/]`; the port defaults to etcd's 2379.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL (e.g. http://10.0.0.1:2379)"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(format!("{url:?} must be http://HOST:PORT"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("{url:?} has a bad port {p:?}"))?;
                (h.to_string(), port)
            }
            _ => (rest.to_string(), 2379),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!("{url:?} has no host"));
        }
        Ok(Endpoint { host, port })
    }

    fn addrs(&self) -> Result<Vec<SocketAddr>, HttpError> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        (host, self.port)
            .to_socket_addrs()
            .map(|a| a.collect())
            .map_err(|e| HttpError::Connect(format!("{self}: {e}")))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}

/// Connects and sends `POST path` with a JSON body; returns the response reader positioned
/// at the body, once the status line says 200.
pub fn post(
    ep: &Endpoint,
    path: &str,
    body: &str,
    connect: Duration,
    io: Option<Duration>,
) -> Result<Body, HttpError> {
    let mut last = HttpError::Connect(format!("{ep}: no address"));
    let mut stream = None;
    for addr in ep.addrs()? {
        match TcpStream::connect_timeout(&addr, connect) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = HttpError::Connect(format!("{ep}: {e}")),
        }
    }
    let Some(mut s) = stream else {
        return Err(last);
    };
    let unreachable = |e: std::io::Error| HttpError::Unreachable(format!("{ep}: {e}"));
    s.set_read_timeout(io).map_err(unreachable)?;
    s.set_write_timeout(Some(connect.max(Duration::from_secs(1))))
        .map_err(unreachable)?;
    let _ = s.set_nodelay(true);
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        ep.host,
        ep.port,
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(unreachable)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).map_err(unreachable)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| HttpError::Unreachable(format!("{ep}: no HTTP answer ({line:?})")))?;
    let mut chunked = false;
    let mut length = None;
    loop {
        line.clear();
        r.read_line(&mut line).map_err(unreachable)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse::<usize>().ok();
            }
        }
    }
    let mut body = Body {
        r,
        chunked,
        left: length,
        chunk_left: 0,
        done: false,
    };
    if status != 200 {
        let text = body.read_all().unwrap_or_default();
        return Err(HttpError::Status(status, text));
    }
    Ok(body)
}

/// A response body: whole ([`Body::read_all`]) or line by line ([`Body::next_line`]).
pub struct Body {
    r: BufReader<TcpStream>,
    chunked: bool,
    /// Bytes left by Content-Length (None: until the connection closes).
    left: Option<usize>,
    chunk_left: usize,
    done: bool,
}

impl Body {
    /// The next bytes of the body (empty at its end).
    fn fill(&mut self, out: &mut Vec<u8>) -> Result<usize, HttpError> {
        if self.done {
            return Ok(0);
        }
        let io = |e: std::io::Error| HttpError::Unreachable(format!("reading the answer: {e}"));
        if self.chunked {
            if self.chunk_left == 0 {
                let mut line = String::new();
                if self.r.read_line(&mut line).map_err(io)? == 0 {
                    self.done = true;
                    return Ok(0);
                }
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| HttpError::Protocol(format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    self.done = true;
                    return Ok(0);
                }
                self.chunk_left = size + 2; // the chunk and its CRLF
            }
            let mut buf = vec![0u8; self.chunk_left.min(64 * 1024)];
            let n = self.r.read(&mut buf).map_err(io)?;
            if n == 0 {
                return Err(HttpError::Unreachable("connection closed mid-chunk".into()));
            }
            self.chunk_left -= n;
            // Strip the CRLF that ends the chunk (it may arrive split over reads).
            let keep = if self.chunk_left < 2 {
                n - (2 - self.chunk_left).min(n)
            } else {
                n
            };
            out.extend_from_slice(&buf[..keep]);
            Ok(n)
        } else {
            let want = self.left.unwrap_or(64 * 1024).min(64 * 1024);
            if want == 0 {
                self.done = true;
                return Ok(0);
            }
            let mut buf = vec![0u8; want];
            let n = self.r.read(&mut buf).map_err(io)?;
            if n == 0 {
                self.done = true;
                return Ok(0);
            }
            if let Some(l) = self.left.as_mut() {
                *l -= n;
            }
            out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
    }

    /// The whole body as text.
    pub fn read_all(&mut self) -> Result<String, HttpError> {
        let mut out = Vec::new();
        while self.fill(&mut out)? > 0 {}
        String::from_utf8(out).map_err(|_| HttpError::Protocol("not UTF-8".into()))
    }
}

/// Newline-separated messages of a streaming body (etcd's watch).
pub struct Lines {
    body: Body,
    pending: Vec<u8>,
}

impl Lines {
    pub fn new(body: Body) -> Lines {
        Lines {
            body,
            pending: Vec::new(),
        }
    }

    /// The next non-empty line; `Ok(None)` when the stream ended.
    pub fn next_line(&mut self) -> Result<Option<String>, HttpError> {
        loop {
            if let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line).trim().to_string();
                if !text.is_empty() {
                    return Ok(Some(text));
                }
                continue;
            }
            if self.body.fill(&mut self.pending)? == 0 {
                let text = String::from_utf8_lossy(&self.pending).trim().to_string();
                self.pending.clear();
                return Ok((!text.is_empty()).then_some(text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_good_and_bad() {
        let good: [(&str, &str, u16); 4] = [
            ("http://10.0.0.1:2379", "10.0.0.1", 2379),
            ("http://127.0.0.1:32371/", "127.0.0.1", 32371),
            ("http://etcd1", "etcd1", 2379),
            ("http://[fd00::1]:2379", "[fd00::1]", 2379),
        ];
        for (url, host, port) in good {
            let e = Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!((e.host.as_str(), e.port), (host, port), "{url}");
        }
        let bad = [
            "10.0.0.1:2379",
            "https://10.0.0.1:2379",
            "http://",
            "http://10.0.0.1:0",
            "http://10.0.0.1:99999",
            "http://10.0.0.1:2379/v3",
            "http://user@host:2379",
            "http://:2379",
        ];
        for url in bad {
            assert!(Endpoint::parse(url).is_err(), "{url} accepted");
        }
    }
}
