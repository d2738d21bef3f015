//! The agent's socket protocol: length-prefixed JSON frames on a unix stream socket, one
//! request then one response, as many as the client likes on one connection.
//!
//! A frame is a 4-byte big-endian length then that many bytes of JSON (at most
//! [`MAX_FRAME`]). A request is an object whose `op` names its kind; a response says `ok`,
//! and otherwise `error`. New kinds (e.g. a CNI ADD handed to the agent) are new `op`
//! values with their own fields and a `body` in the response: an agent that does not know
//! an `op` answers `ok: false` with an error saying so, and the connection stays usable, so
//! a newer client can fall back to doing the work itself.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// The largest frame either side accepts (a request carrying a CNI config fits easily).
pub const MAX_FRAME: usize = 1 << 20;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Are you there? (answers with the agent's pid)
    Ping,
    /// The store changed: serve what it says now; the response comes once it is served.
    /// `container`: only that container's names changed (its id; the agent reads only its
    /// rows); absent: anything may have (networks, services), the agent reads everything.
    Sync {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<i64>,
    },
    /// A container of this node may have changed as a service backend (ready, removed,
    /// stopped, relabelled): publish the node's containers to the cluster. Answered at once
    /// (the publishing follows, asynchronously); a single-host agent ignores it.
    Publish,
    /// Serve this CNI call (the plugin hands it over; see `cni::handoff`). The response's
    /// `body` is a [`CniReply`]; `ok: false` means the agent declined and the plugin does
    /// the call itself.
    Cni(CniCall),
}

/// A CNI call as the plugin received it, and the directories it would use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniCall {
    /// The plugin's [`build`]: an agent of another build declines (after an upgrade, the old
    /// agent must not serve the new plugin's calls with its own code and schema).
    pub build: String,
    /// The CNI_* variables.
    pub env: std::collections::BTreeMap<String, String>,
    /// The network configuration.
    pub stdin: String,
    pub root: std::path::PathBuf,
    pub run_dir: std::path::PathBuf,
}

/// This binary's version and store schema, as plugin and agent compare them.
pub fn build() -> String {
    format!(
        "{} schema {}",
        env!("CARGO_PKG_VERSION"),
        crate::store::SCHEMA_VERSION
    )
}

/// What the plugin prints and its exit code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniReply {
    pub stdout: String,
    pub code: i32,
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Response {
    pub ok: bool,
    /// Why not, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The agent's process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// A request kind's own result (none of today's kinds has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl Response {
    pub fn ok() -> Response {
        Response {
            ok: true,
            pid: Some(std::process::id()),
            ..Response::default()
        }
    }
    pub fn error(why: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(why.into()),
            pid: Some(std::process::id()),
            ..Response::default()
        }
    }
}

/// Write one frame holding `msg`.
pub fn send<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "frame too large",
        ));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame)
}

/// Read one frame's bytes; `Ok(None)` when the peer closed cleanly before a new frame.
pub fn recv_bytes(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {n} bytes is over the {MAX_FRAME}-byte limit"),
        ));
    }
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

/// The pid and uid of the process at the other end of `conn`.
pub fn peer(conn: &std::os::unix::net::UnixStream) -> std::io::Result<(i32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes a ucred of at most `len` bytes into `cred`, which lives
    // across the call; the fd is the open socket `conn` borrows.
    let r = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(conn),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((cred.pid, cred.uid))
}

/// Read one response frame.
pub fn recv_response(r: &mut impl Read) -> io::Result<Response> {
    let body = recv_bytes(r)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the agent closed the connection",
        )
    })?;
    serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Decode a request frame; an error names what was wrong (sent back as the response).
pub fn parse_request(body: &[u8]) -> Result<Request, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad request: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_back_to_back() {
        let mut buf = Vec::new();
        send(&mut buf, &Request::Sync { container: None }).unwrap();
        send(&mut buf, &Request::Ping).unwrap();
        assert_eq!(&buf[..4], &(br#"{"op":"sync"}"#.len() as u32).to_be_bytes());
        let mut r = &buf[..];
        let a = parse_request(&recv_bytes(&mut r).unwrap().unwrap()).unwrap();
        let b = parse_request(&recv_bytes(&mut r).unwrap().unwrap()).unwrap();
        assert_eq!((a, b), (Request::Sync { container: None }, Request::Ping));
        assert!(recv_bytes(&mut r).unwrap().is_none(), "clean end");
    }

    #[test]
    fn bad_frames_are_refused() {
        let table: [(&[u8], &str); 4] = [
            (br#"{"op":"cni_add"}"#, "unknown variant"),
            (br#"{"nop":1}"#, "missing field"),
            (b"not json", "expected"),
            (b"", "EOF"),
        ];
        for (body, want) in table {
            let e = parse_request(body).unwrap_err();
            assert!(e.contains(want), "{body:?}: {e}");
        }
        let mut huge = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        let e = recv_bytes(&mut &huge[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let cut = [0u8, 0, 0, 9, b'{'];
        assert!(recv_bytes(&mut &cut[..]).is_err(), "a frame cut short");
    }

    #[test]
    fn responses_carry_errors_and_future_bodies() {
        let mut buf = Vec::new();
        send(&mut buf, &Response::error("unknown request")).unwrap();
        let r = recv_response(&mut &buf[..]).unwrap();
        assert!(!r.ok);
        assert_eq!(r.error.as_deref(), Some("unknown request"));
        let later = br#"{"ok":true,"pid":7,"body":{"cniVersion":"1.1.0"}}"#;
        let mut framed = (later.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(later);
        let r = recv_response(&mut &framed[..]).unwrap();
        assert!(r.ok && r.body.is_some() && r.pid == Some(7));
    }
}
