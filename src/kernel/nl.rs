//! A synchronous rtnetlink socket bound to the network namespace it was opened in.
//!
//! Synchronous on purpose: podnet is a short-lived process doing a handful of requests, and a
//! socket belongs to the namespace that was current when it was opened, so one socket per
//! namespace, opened once, on the calling thread, is both the fastest and the safest shape.

use crate::model::{Error, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP,
    NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// How many times a dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is retried.
const DUMP_RETRIES: usize = 10;

pub struct Rtnl {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// A kernel refusal: the errno plus what we asked for, so callers can match on the errno
/// (EEXIST, ENODEV, ...) and users get a readable message.
#[derive(Debug)]
pub struct NlError {
    pub errno: i32,
}

impl NlError {
    pub fn describe(&self) -> String {
        std::io::Error::from_raw_os_error(self.errno).to_string()
    }
}

impl Rtnl {
    /// Open a socket in the calling thread's current network namespace.
    pub fn open() -> Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)
            .map_err(|e| Error::failed(format!("open rtnetlink socket: {e}")))?;
        sock.bind_auto()
            .map_err(|e| Error::failed(format!("bind rtnetlink socket: {e}")))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| Error::failed(format!("connect rtnetlink socket: {e}")))?;
        // Extended acks give the kernel's reason string; not essential, so ignore failure.
        let _ = sock.set_ext_ack(true);
        Ok(Rtnl {
            sock,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        nl.finalize();
        let mut out = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut out);
        self.sock
            .send(&out, 0)
            .map_err(|e| Error::failed(format!("rtnetlink send: {e}")))?;
        Ok(self.seq)
    }

    /// Receive messages for `seq`, calling `each` on every inner message, until the ack or the
    /// end of a dump. Returns whether the dump was interrupted.
    fn recv(
        &mut self,
        seq: u32,
        mut each: impl FnMut(RouteNetlinkMessage),
    ) -> Result<std::result::Result<bool, NlError>> {
        let mut interrupted = false;
        loop {
            let n = self
                .sock
                .recv(&mut &mut self.buf[..], 0)
                .map_err(|e| Error::failed(format!("rtnetlink recv: {e}")))?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..n])
                    .map_err(|e| Error::failed(format!("rtnetlink decode: {e}")))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue;
                }
                if msg.header.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(Ok(interrupted)),
                    NetlinkPayload::Error(e) => {
                        return Ok(match e.code {
                            None => Ok(interrupted),
                            Some(code) => Err(NlError { errno: -code.get() }),
                        })
                    }
                    NetlinkPayload::InnerMessage(m) => each(m),
                    _ => {}
                }
            }
        }
    }

    /// Send one request and wait for its ack. `flags` adds to REQUEST|ACK (e.g. CREATE|EXCL).
    pub fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<std::result::Result<(), NlError>> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        Ok(self.recv(seq, |_| {})?.map(|_| ()))
    }

    /// Send a non-dump query and pass each answer to `each` (e.g. RTM_GETLINK by name).
    pub fn get(
        &mut self,
        msg: RouteNetlinkMessage,
        each: impl FnMut(RouteNetlinkMessage),
    ) -> Result<std::result::Result<(), NlError>> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK)?;
        Ok(self.recv(seq, each)?.map(|_| ()))
    }

    /// Like [`request`](Self::request) but any refusal is an error described with `what`.
    pub fn call(&mut self, what: &str, msg: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.request(msg, flags)?
            .map_err(|e| Error::kernel(what, e.errno))
    }

    /// Like [`dump`](Self::dump), but each answer's message type and payload (the bytes
    /// after the netlink header) go to `parse` undecoded, which keeps what it returns. For
    /// dumps of hundreds of messages of which the caller reads a few attributes: decoding
    /// every attribute of a link message was a fifth of `podnet graph` at 1,000 containers
    /// (docs/decisions/2026-12-02-graph-speed.md).
    pub fn dump_raw<T>(
        &mut self,
        msg: RouteNetlinkMessage,
        mut parse: impl FnMut(u16, &[u8]) -> Option<T>,
    ) -> Result<Vec<T>> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.send(msg.clone(), NLM_F_REQUEST | NLM_F_DUMP)?;
            let mut out = Vec::new();
            match self.recv_raw(seq, |t, p| out.extend(parse(t, p)))? {
                Ok(false) => return Ok(out),
                Ok(true) => continue,
                Err(e) => return Err(Error::kernel("rtnetlink dump", e.errno)),
            }
        }
        Err(Error::failed(
            "rtnetlink dump kept being interrupted by concurrent changes",
        ))
    }

    /// [`recv`](Self::recv) without decoding: `each` gets (type, payload) of every answer.
    fn recv_raw(
        &mut self,
        seq: u32,
        mut each: impl FnMut(u16, &[u8]),
    ) -> Result<std::result::Result<bool, NlError>> {
        const HEADER: usize = 16;
        let mut interrupted = false;
        loop {
            let n = self
                .sock
                .recv(&mut &mut self.buf[..], 0)
                .map_err(|e| Error::failed(format!("rtnetlink recv: {e}")))?;
            let mut rest = &self.buf[..n.min(self.buf.len())];
            while rest.len() >= HEADER {
                let len = u32_at(rest, 0) as usize;
                if len < HEADER || len > rest.len() {
                    return Err(Error::failed("rtnetlink decode: a truncated message"));
                }
                let (kind, flags) = (u16_at(rest, 4), u16_at(rest, 6));
                let payload = &rest[HEADER..len];
                let for_us = u32_at(rest, 8) == seq;
                rest = rest.get(align(len)..).unwrap_or_default();
                if !for_us {
                    continue;
                }
                if flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                // The error (or the end of a dump) carries an errno: 0, or its negative.
                let code = || payload.get(..4).map_or(0, |_| u32_at(payload, 0) as i32);
                match kind {
                    NLMSG_DONE | NLMSG_ERROR => {
                        return Ok(match code() {
                            0 => Ok(interrupted),
                            c => Err(NlError { errno: -c }),
                        })
                    }
                    NLMSG_NOOP | NLMSG_OVERRUN => {}
                    _ => each(kind, payload),
                }
            }
        }
    }

    /// Dump a table (links, addresses, routes), retrying when a concurrent change interrupts it.
    pub fn dump(&mut self, msg: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.send(msg.clone(), NLM_F_REQUEST | NLM_F_DUMP)?;
            let mut out = Vec::new();
            match self.recv(seq, |m| out.push(m))? {
                Ok(false) => return Ok(out),
                Ok(true) => continue,
                Err(e) => return Err(Error::kernel("rtnetlink dump", e.errno)),
            }
        }
        Err(Error::failed(
            "rtnetlink dump kept being interrupted by concurrent changes",
        ))
    }
}

/// Netlink messages and attributes are 4-byte aligned.
fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The messages (type, payload) of a datagram received undecoded (e.g. multicast events).
pub fn messages(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    const HEADER: usize = 16;
    std::iter::from_fn(move || {
        if b.len() < HEADER {
            return None;
        }
        let len = u32_at(b, 0) as usize;
        if len < HEADER || len > b.len() {
            return None;
        }
        let item = (u16_at(b, 4), &b[HEADER..len]);
        b = b.get(align(len)..).unwrap_or_default();
        Some(item)
    })
}

/// The attributes (type, value) of an undecoded payload, from `b` on: what a
/// [`Rtnl::dump_raw`] parser walks. The type's nested and byte-order bits are cleared.
pub fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16_at(b, 0) as usize;
        if len < 4 || len > b.len() {
            return None;
        }
        let item = (u16_at(b, 2) & 0x3fff, &b[4..len]);
        b = b.get(align(len)..).unwrap_or_default();
        Some(item)
    })
}

/// A u32 attribute's value (host byte order, as rtnetlink sends them).
pub fn attr_u32(v: &[u8]) -> Option<u32> {
    Some(u32_at(v.get(..4)?, 0))
}

/// A string attribute's value, up to its NUL.
pub fn attr_str(v: &[u8]) -> String {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// A fixed-layout header field of an undecoded payload (`ifinfomsg`, `rtmsg`, ...).
pub fn field_u32(payload: &[u8], at: usize) -> Option<u32> {
    Some(u32_at(payload.get(at..at + 4)?, 0))
}
