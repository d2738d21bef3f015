//! etcd v3 through its JSON gateway (`/v3/...` on the client port), on blocking sockets:
//! see docs/decisions/2026-12-02-etcd-client.md for why not the gRPC crate. Keys and values
//! are bytes in etcd and base64 on the wire; 64-bit numbers come back as JSON strings.
//!
//! Every call tries the endpoints in turn, starting with the last one that answered, so a
//! dead member costs one refused connect, and an unreachable cluster fails within
//! `endpoints × CONNECT` (a few seconds) with one error naming them all.

mod b64;
pub mod http;

use http::{Endpoint, HttpError, Lines};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Per endpoint: time to connect (a refused connect is immediate) and to get an answer.
const CONNECT: Duration = Duration::from_millis(1000);
const ANSWER: Duration = Duration::from_secs(3);

/// Why an etcd call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcdError {
    /// No endpoint answered (all down, wrong address, no quorum): retry later.
    Unreachable(String),
    /// etcd answered with an error or something this client does not understand.
    Failed(String),
}

impl EtcdError {
    /// Whether the same call may succeed later without anyone changing anything: no member
    /// answered (down, electing a leader, timing out, overloaded), or a lease expired
    /// between its grant and its use (a new grant fixes that).
    pub fn is_transient(&self) -> bool {
        match self {
            EtcdError::Unreachable(_) => true,
            EtcdError::Failed(m) => m.contains("lease not found"),
        }
    }
}

impl std::fmt::Display for EtcdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EtcdError::Unreachable(m) => write!(f, "etcd is unreachable ({m})"),
            EtcdError::Failed(m) => write!(f, "etcd failed: {m}"),
        }
    }
}

pub type Result<T> = std::result::Result<T, EtcdError>;

/// One key as etcd holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kv {
    pub key: String,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    /// The lease the key is bound to (0: none).
    pub lease: i64,
}

/// A condition of a transaction.
#[derive(Clone, Debug)]
pub enum Compare {
    /// The key does not exist.
    Absent(String),
    /// The key exists with exactly this value.
    ValueIs(String, Vec<u8>),
    /// The key is bound to this lease (0: it is not bound, or absent).
    LeaseIs(String, i64),
}

/// An operation of a transaction.
#[derive(Clone, Debug)]
pub enum Op {
    Put {
        key: String,
        value: Vec<u8>,
        lease: i64,
    },
    Get(String),
    Delete(String),
}

/// What a transaction did: whether the conditions held, the revision after it, and the
/// keys each `Op::Get` of the branch that ran found (in order).
#[derive(Clone, Debug)]
pub struct TxnResult {
    pub succeeded: bool,
    pub revision: i64,
    pub gets: Vec<Vec<Kv>>,
}

/// A client of one etcd cluster.
#[derive(Debug)]
pub struct Etcd {
    endpoints: Vec<Endpoint>,
    /// The endpoint that answered last: tried first.
    current: AtomicUsize,
    /// Some endpoint accepted a connection at least once: etcd is there (maybe busy), so
    /// the address is right.
    reached: AtomicBool,
}

impl Etcd {
    /// A client of the cluster at `urls` (`http://HOST:PORT`, at least one). Connects to
    /// nothing yet.
    pub fn new<S: AsRef<str>>(urls: &[S]) -> std::result::Result<Etcd, String> {
        if urls.is_empty() {
            return Err("no etcd endpoint given (e.g. http://10.0.0.1:2379)".into());
        }
        let endpoints = urls
            .iter()
            .map(|u| Endpoint::parse(u.as_ref().trim()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Etcd {
            endpoints,
            current: AtomicUsize::new(0),
            reached: AtomicBool::new(false),
        })
    }

    /// The endpoints, as URLs.
    pub fn urls(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.to_string()).collect()
    }

    /// Whether any endpoint ever accepted a connection from this client: `false` after an
    /// error means nothing listens at any of the URLs (a wrong `--etcd`, or all of etcd
    /// down), `true` that etcd is there but could not serve (no leader, overloaded).
    pub fn reached(&self) -> bool {
        self.reached.load(Ordering::Relaxed)
    }

    /// POSTs `body` to `path` on the first endpoint that answers; with `stream`, returns
    /// the open body (no read timeout) instead of reading it.
    fn send(&self, path: &str, body: &Value, stream: bool) -> Result<http::Body> {
        let text = body.to_string();
        let n = self.endpoints.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut errors = Vec::new();
        for i in 0..n {
            let idx = (start + i) % n;
            let ep = &self.endpoints[idx];
            let io = if stream { None } else { Some(ANSWER) };
            let r = http::post(ep, path, &text, CONNECT, io);
            if !matches!(r, Err(HttpError::Connect(_))) {
                self.reached.store(true, Ordering::Relaxed);
            }
            match r {
                Ok(b) => {
                    self.current.store(idx, Ordering::Relaxed);
                    return Ok(b);
                }
                Err(HttpError::Connect(m) | HttpError::Unreachable(m)) => errors.push(m),
                // A member without a leader or out of the quorum answers 503 ("no leader",
                // "leader changed", "request timed out"), an overloaded one 429, a timed
                // out one 504/408 (the gateway's codes for gRPC's Unavailable,
                // ResourceExhausted, DeadlineExceeded, Canceled): ask another.
                Err(HttpError::Status(s, m)) if s >= 500 || s == 429 || s == 408 => {
                    errors.push(format!("{ep}: HTTP {s} {}", one_line(&m)))
                }
                Err(e) => return Err(EtcdError::Failed(format!("{ep}: {e}"))),
            }
        }
        Err(EtcdError::Unreachable(errors.join("; ")))
    }

    fn call(&self, path: &str, body: Value) -> Result<Value> {
        let mut b = self.send(path, &body, false)?;
        let text = b
            .read_all()
            .map_err(|e| EtcdError::Unreachable(e.to_string()))?;
        serde_json::from_str(&text)
            .map_err(|e| EtcdError::Failed(format!("{path}: {e}: {}", one_line(&text))))
    }

    /// The key, if it exists, and the store's revision.
    pub fn get(&self, key: &str) -> Result<(Option<Kv>, i64)> {
        let v = self.call(
            "/v3/kv/range",
            json!({ "key": b64::encode(key.as_bytes()) }),
        )?;
        Ok((kvs(&v).into_iter().next(), revision(&v)))
    }

    /// Every key under `prefix`, and the revision they were read at.
    pub fn list(&self, prefix: &str) -> Result<(Vec<Kv>, i64)> {
        let v = self.call(
            "/v3/kv/range",
            json!({
                "key": b64::encode(prefix.as_bytes()),
                "range_end": b64::encode(&prefix_end(prefix)),
            }),
        )?;
        Ok((kvs(&v), revision(&v)))
    }

    /// Puts unconditionally.
    pub fn put(&self, key: &str, value: &[u8], lease: i64) -> Result<i64> {
        let v = self.call("/v3/kv/put", op_put(key, value, lease))?;
        Ok(revision(&v))
    }

    /// Deletes one key.
    pub fn delete(&self, key: &str) -> Result<i64> {
        let v = self.call(
            "/v3/kv/deleterange",
            json!({ "key": b64::encode(key.as_bytes()) }),
        )?;
        Ok(revision(&v))
    }

    /// If every `compare` holds run `success`, else `failure`; atomically.
    pub fn txn(&self, compare: &[Compare], success: &[Op], failure: &[Op]) -> Result<TxnResult> {
        let cmp: Vec<Value> = compare.iter().map(compare_json).collect();
        let ops = |ops: &[Op]| ops.iter().map(op_json).collect::<Vec<Value>>();
        let v = self.call(
            "/v3/kv/txn",
            json!({ "compare": cmp, "success": ops(success), "failure": ops(failure) }),
        )?;
        let gets = v["responses"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| r.get("response_range").is_some())
                    .map(|r| kvs(&r["response_range"]))
                    .collect()
            })
            .unwrap_or_default();
        Ok(TxnResult {
            succeeded: v["succeeded"].as_bool().unwrap_or(false),
            revision: revision(&v),
            gets,
        })
    }

    /// A new lease of `ttl` seconds; its ID.
    pub fn grant(&self, ttl: u64) -> Result<i64> {
        let v = self.call("/v3/lease/grant", json!({ "TTL": ttl.to_string() }))?;
        let id = num(&v["ID"]);
        if id == 0 {
            return Err(EtcdError::Failed(format!(
                "lease grant: {}",
                v["error"].as_str().unwrap_or("no ID")
            )));
        }
        Ok(id)
    }

    /// Renews the lease; the TTL it has again, 0 when it is gone (expired or revoked).
    pub fn keepalive(&self, lease: i64) -> Result<i64> {
        let v = self.call("/v3/lease/keepalive", json!({ "ID": lease.to_string() }))?;
        // A streamed answer: its HTTP status is 200 before the server knows the outcome, so
        // a failure ("no leader") comes as an `error` message in the stream. Read as "TTL
        // 0", it would look like a lost lease and make the node join again.
        if let Some(err) = v.get("error") {
            return Err(stream_error("lease keepalive", err));
        }
        if v.get("result").is_none() {
            return Err(EtcdError::Failed(format!(
                "lease keepalive: no result in {}",
                one_line(&v.to_string())
            )));
        }
        // proto3's JSON leaves out zero values: no TTL is TTL 0, the lease is gone.
        Ok(num(&v["result"]["TTL"]))
    }

    /// Seconds left on the lease (-1 when it is gone).
    pub fn time_to_live(&self, lease: i64) -> Result<i64> {
        let v = self.call("/v3/lease/timetolive", json!({ "ID": lease.to_string() }))?;
        Ok(v.get("TTL").map_or(0, num))
    }

    /// Ends the lease now; its keys go with it.
    pub fn revoke(&self, lease: i64) -> Result<()> {
        self.call("/v3/lease/revoke", json!({ "ID": lease.to_string() }))
            .map(|_| ())
    }

    /// Compacts the history up to `revision` (tests: forces a watch out of the window).
    pub fn compact(&self, revision: i64) -> Result<()> {
        self.call(
            "/v3/kv/compaction",
            json!({ "revision": revision.to_string(), "physical": true }),
        )
        .map(|_| ())
    }

    /// Watches every key under `prefix` from `start_revision` on.
    pub fn watch(&self, prefix: &str, start_revision: i64) -> Result<Watch> {
        let body = json!({ "create_request": {
            "key": b64::encode(prefix.as_bytes()),
            "range_end": b64::encode(&prefix_end(prefix)),
            "start_revision": start_revision.to_string(),
        }});
        let b = self.send("/v3/watch", &body, true)?;
        Ok(Watch {
            lines: Lines::new(b),
        })
    }
}

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Put(Kv),
    Delete(String),
}

/// What a watch delivers next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchMsg {
    /// Changes up to `revision`.
    Events { revision: i64, events: Vec<Event> },
    /// The watch's start fell out of etcd's history window (compacted up to
    /// `compact_revision`): the caller must list again, never read it as deletions.
    Compacted { compact_revision: i64 },
    /// etcd ended the watch for another reason.
    Canceled(String),
}

/// A streaming watch; ends with the connection.
pub struct Watch {
    lines: Lines,
}

impl Watch {
    /// The next message; `Unreachable` when the stream broke (member gone).
    pub fn next_msg(&mut self) -> Result<WatchMsg> {
        loop {
            let line = self
                .lines
                .next_line()
                .map_err(|e| EtcdError::Unreachable(e.to_string()))?
                .ok_or_else(|| EtcdError::Unreachable("the watch stream ended".into()))?;
            let v: Value = serde_json::from_str(&line)
                .map_err(|e| EtcdError::Failed(format!("watch: {e}: {}", one_line(&line))))?;
            if let Some(err) = v.get("error") {
                return Err(EtcdError::Unreachable(format!("watch: {err}")));
            }
            let r = &v["result"];
            let compact = num(&r["compact_revision"]);
            if compact > 0 {
                return Ok(WatchMsg::Compacted {
                    compact_revision: compact,
                });
            }
            if r["canceled"].as_bool().unwrap_or(false) {
                return Ok(WatchMsg::Canceled(
                    r["cancel_reason"]
                        .as_str()
                        .unwrap_or("canceled")
                        .to_string(),
                ));
            }
            let Some(evs) = r["events"].as_array() else {
                continue; // `created`, progress notifications
            };
            let events = evs
                .iter()
                .filter_map(|e| {
                    let kv = parse_kv(&e["kv"])?;
                    Some(if e["type"].as_str() == Some("DELETE") {
                        Event::Delete(kv.key)
                    } else {
                        Event::Put(kv)
                    })
                })
                .collect();
            return Ok(WatchMsg::Events {
                revision: revision(r),
                events,
            });
        }
    }
}

/// An error a streamed answer carried (`{"error": {"grpc_code": 14, "http_code": 503,
/// "message": ...}}`): transient for the same codes as a plain answer's status.
fn stream_error(what: &str, err: &Value) -> EtcdError {
    let http = num(&err["http_code"]);
    let grpc = num(&err["grpc_code"]);
    let msg = err["message"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| one_line(&err.to_string()));
    // gRPC Unavailable 14, DeadlineExceeded 4, ResourceExhausted 8, Canceled 1.
    if http >= 500 || http == 429 || http == 408 || matches!(grpc, 1 | 4 | 8 | 14) {
        EtcdError::Unreachable(format!("{what}: {msg}"))
    } else {
        EtcdError::Failed(format!("{what}: {msg}"))
    }
}

/// The end of the range holding every key that starts with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn num(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn revision(v: &Value) -> i64 {
    num(&v["header"]["revision"])
}

fn parse_kv(v: &Value) -> Option<Kv> {
    let key = String::from_utf8(b64::decode(v["key"].as_str()?)?).ok()?;
    let value = b64::decode(v["value"].as_str().unwrap_or(""))?;
    Some(Kv {
        key,
        value,
        create_revision: num(&v["create_revision"]),
        mod_revision: num(&v["mod_revision"]),
        lease: num(&v["lease"]),
    })
}

fn kvs(v: &Value) -> Vec<Kv> {
    v["kvs"]
        .as_array()
        .map(|a| a.iter().filter_map(parse_kv).collect())
        .unwrap_or_default()
}

fn op_put(key: &str, value: &[u8], lease: i64) -> Value {
    let mut put = json!({ "key": b64::encode(key.as_bytes()), "value": b64::encode(value) });
    if lease != 0 {
        put["lease"] = json!(lease.to_string());
    }
    put
}

fn op_json(op: &Op) -> Value {
    match op {
        Op::Put { key, value, lease } => json!({ "request_put": op_put(key, value, *lease) }),
        Op::Get(key) => json!({ "request_range": { "key": b64::encode(key.as_bytes()) } }),
        Op::Delete(key) => {
            json!({ "request_delete_range": { "key": b64::encode(key.as_bytes()) } })
        }
    }
}

fn compare_json(c: &Compare) -> Value {
    match c {
        Compare::Absent(key) => json!({
            "key": b64::encode(key.as_bytes()), "result": "EQUAL", "target": "CREATE",
            "create_revision": "0",
        }),
        Compare::ValueIs(key, value) => json!({
            "key": b64::encode(key.as_bytes()), "result": "EQUAL", "target": "VALUE",
            "value": b64::encode(value),
        }),
        Compare::LeaseIs(key, lease) => json!({
            "key": b64::encode(key.as_bytes()), "result": "EQUAL", "target": "LEASE",
            "lease": lease.to_string(),
        }),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_key_after_every_key_with_the_prefix() {
        assert_eq!(prefix_end("/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
    }

    #[test]
    fn streamed_errors_are_transient_when_etcd_could_not_serve() {
        let e = |v: Value| stream_error("keepalive", &v);
        let no_leader =
            json!({"grpc_code": 14, "http_code": 503, "message": "etcdserver: no leader"});
        assert!(e(no_leader).is_transient());
        assert!(e(json!({"grpc_code": 4, "message": "context deadline exceeded"})).is_transient());
        let bad = e(json!({"grpc_code": 3, "http_code": 400, "message": "bad ID"}));
        assert!(!bad.is_transient(), "{bad}");
        assert!(!EtcdError::Failed("x".into()).is_transient());
        assert!(EtcdError::Unreachable("x".into()).is_transient());
    }

    #[test]
    fn numbers_come_as_strings_or_numbers_and_default_to_zero() {
        assert_eq!(num(&json!("42")), 42);
        assert_eq!(num(&json!(7)), 7);
        assert_eq!(num(&Value::Null), 0);
    }
}
