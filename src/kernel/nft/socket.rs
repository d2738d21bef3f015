//! The NETLINK_NETFILTER socket that sends batches and collects the kernel's
//! answer to every message. It lives in the network namespace of the thread
//! that opened it; there is no global state.

use std::io;
use std::os::fd::AsRawFd;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use super::batch::Batch;

/// The kernel's answer to one message of a failed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgError {
    /// Index of the message in the batch (`Batch::len()` for BEGIN/END).
    pub index: usize,
    pub what: String,
    /// Positive errno.
    pub errno: i32,
    /// Extended-ack text, when the kernel gave one.
    pub message: Option<String>,
}

impl std::fmt::Display for MsgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let err = io::Error::from_raw_os_error(self.errno);
        write!(f, "message {} ({}): {err}", self.index, self.what)?;
        if let Some(m) = &self.message {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("opening a NETLINK_NETFILTER socket: {0}")]
    Open(#[source] io::Error),
    #[error("sending a {len}-byte nftables batch: {source}")]
    Send { len: usize, source: io::Error },
    #[error("reading the kernel's acks: {0}")]
    Recv(#[source] io::Error),
    #[error("the kernel rejected the transaction, nothing was applied: {}", list(.0))]
    Rejected(Vec<MsgError>),
    #[error("no answer from the kernel for {missing} of {total} messages")]
    MissingAcks { missing: usize, total: usize },
    /// A read request (`GET...`, see [`super::query`]) failed.
    #[error("nftables query ({what}): {source}")]
    Query {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl NftError {
    /// The errno behind the failure, when there is one (the first refused message's).
    pub fn errno(&self) -> Option<i32> {
        match self {
            NftError::Open(e) | NftError::Recv(e) => e.raw_os_error(),
            NftError::Send { source, .. } | NftError::Query { source, .. } => source.raw_os_error(),
            NftError::Rejected(errs) => errs.first().map(|e| e.errno),
            NftError::MissingAcks { .. } => None,
        }
    }
}

fn list(errs: &[MsgError]) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

const NLMSG_ERROR: u16 = 2;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;

/// One NLMSG_ERROR (ack when `errno == 0`) found in a reply buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub seq: u32,
    pub errno: i32,
    pub message: Option<String>,
}

/// Parses the acks in a datagram from the kernel. Pure, for tests.
pub fn parse_acks(mut buf: &[u8]) -> Vec<Ack> {
    let mut out = vec![];
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        let flags = u16::from_ne_bytes([buf[6], buf[7]]);
        let seq = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
        let body = &buf[16..len];
        if ty == NLMSG_ERROR && body.len() >= 4 {
            let code = i32::from_ne_bytes(body[0..4].try_into().unwrap());
            let message = if flags & NLM_F_ACK_TLVS != 0 && body.len() >= 20 {
                // With NETLINK_CAP_ACK only the request's 16-byte header is echoed.
                ext_ack_message(&body[20..])
            } else {
                None
            };
            out.push(Ack {
                seq,
                errno: -code,
                message,
            });
        }
        buf = &buf[((len + 3) & !3).min(buf.len())..];
    }
    out
}

fn ext_ack_message(tlvs: &[u8]) -> Option<String> {
    super::query::attr(tlvs, NLMSGERR_ATTR_MSG).map(super::query::string)
}

/// An nftables control socket in the caller's current network namespace.
pub struct NftSocket {
    sock: Socket,
    seq: u32,
    buf_size: usize,
    /// A committed batch freed objects: the final close will wait for their destruction.
    released: bool,
}

fn set_buf(fd: i32, force: libc::c_int, plain: libc::c_int, size: usize) -> io::Result<()> {
    let v = size.min(i32::MAX as usize) as libc::c_int;
    for opt in [force, plain] {
        // SAFETY: fd is a valid socket owned by the caller for the whole call;
        // the option value points to a live c_int of the size passed.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return Ok(());
        }
    }
    Err(io::Error::last_os_error())
}

impl NftSocket {
    /// Opens the socket in the calling thread's network namespace.
    pub fn open() -> Result<Self, NftError> {
        let mut sock = Socket::new(NETLINK_NETFILTER).map_err(NftError::Open)?;
        sock.bind(&SocketAddr::new(0, 0)).map_err(NftError::Open)?;
        sock.set_cap_ack(true).map_err(NftError::Open)?;
        sock.set_ext_ack(true).map_err(NftError::Open)?;
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() as u32);
        Ok(NftSocket {
            sock,
            seq,
            buf_size: 0,
            released: false,
        })
    }

    /// The port id the kernel gave this socket: nf_tables notifications of its transactions
    /// carry it (see [`super::watch`]).
    pub fn portid(&self) -> u32 {
        // SAFETY: getsockname into a zeroed sockaddr_nl with its size.
        unsafe {
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            if libc::getsockname(
                self.sock.as_raw_fd(),
                (&mut sa as *mut libc::sockaddr_nl).cast(),
                &mut len,
            ) != 0
            {
                return 0;
            }
            sa.nl_pid
        }
    }

    /// The raw socket and `n` fresh sequence numbers (the first is returned),
    /// for the read requests in [`super::query`].
    pub(super) fn raw(&mut self, n: u32) -> (&mut Socket, u32) {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(n);
        (&mut self.sock, seq)
    }

    /// Makes sure one batch of `len` bytes fits the send buffer and the acks of
    /// `msgs` messages fit the receive buffer (each ack is its own skb, ~1 KiB
    /// of accounting); a dropped ack would leave the outcome unknown.
    fn size_buffers(&mut self, len: usize, msgs: usize) -> io::Result<()> {
        let want = (len + 4096).max(msgs * 1024 + 65536).max(256 * 1024);
        if want > self.buf_size {
            let fd = self.sock.as_raw_fd();
            set_buf(fd, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, want)?;
            set_buf(fd, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, want)?;
            self.buf_size = want;
        }
        Ok(())
    }

    /// Sends `batch` as one transaction and waits for the kernel's verdict on
    /// every message. `Ok` means everything was committed; any `Err` from the
    /// kernel means nothing was.
    /// Close the socket without waiting. When this process committed deletions, the kernel
    /// makes the final release of a netfilter socket wait for their RCU-deferred destruction
    /// (`nft_rcv_nl_event` flushes the destroy work): 3.6-13 ms measured here, most of a
    /// `podnet rm` — and the release holds the nf_tables commit mutex meanwhile, stalling the
    /// next process's transaction. A forked child takes over the final release and makes it
    /// ~50-100 ms after this process exits, when the destroy work has long run: nobody waits.
    pub fn close_detached(self) {
        if self.released {
            // SAFETY: the child makes only async-signal-safe calls (close, nanosleep, getppid,
            // _exit), so forking a process with other threads is sound.
            unsafe {
                let parent = libc::getpid();
                if libc::fork() == 0 {
                    // Hold the last reference until the parent has exited and the kernel's
                    // destroy work (started at commit, one RCU grace period) has run, then
                    // exit: the release then finds nothing pending and waits for nothing —
                    // and, above all, does not hold the nf_tables commit mutex through a grace
                    // period, which would stall the next podnet's transaction. Standard streams
                    // go at once, so nobody reading the command's output waits for the child.
                    for fd in 0..=2 {
                        libc::close(fd);
                    }
                    let tick = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 50_000_000,
                    };
                    loop {
                        libc::nanosleep(&tick, std::ptr::null_mut());
                        if libc::getppid() != parent {
                            libc::nanosleep(&tick, std::ptr::null_mut());
                            libc::_exit(0);
                        }
                    }
                }
            }
        }
        drop(self);
    }

    pub fn apply(&mut self, batch: &Batch) -> Result<(), NftError> {
        if batch.is_empty() {
            return Ok(());
        }
        let base = self.seq;
        self.seq = self.seq.wrapping_add(batch.len() as u32 + 2);
        let bytes = batch.encode(base);
        self.size_buffers(bytes.len(), batch.len())
            .map_err(NftError::Recv)?;
        let sent = self.sock.send(&bytes, 0).map_err(|source| NftError::Send {
            len: bytes.len(),
            source,
        })?;
        if sent != bytes.len() {
            let source = io::Error::new(io::ErrorKind::WriteZero, "short send");
            return Err(NftError::Send {
                len: bytes.len(),
                source,
            });
        }
        let mut answered = vec![false; batch.len()];
        let mut errors = vec![];
        let mut pending = batch.len();
        let mut buf = vec![0u8; 256 * 1024];
        // The kernel runs the whole batch inside sendmsg, so every answer is
        // already queued; read until we have one per message.
        while pending > 0 {
            let n = match self.sock.recv(&mut &mut buf[..], libc::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NftError::Recv(e)),
            };
            for ack in parse_acks(&buf[..n]) {
                let i = ack.seq.wrapping_sub(base).wrapping_sub(1) as usize;
                if i >= answered.len() {
                    // An error on BEGIN/END (e.g. EPERM without CAP_NET_ADMIN)
                    // means the kernel skipped the whole batch.
                    if ack.errno != 0 {
                        errors.push(MsgError {
                            index: batch.len(),
                            what: "batch begin/end".into(),
                            errno: ack.errno,
                            message: ack.message,
                        });
                        pending = 0;
                    }
                    continue;
                }
                if answered[i] {
                    continue;
                }
                answered[i] = true;
                pending -= 1;
                if ack.errno != 0 {
                    let what = batch.describe(i).to_string();
                    errors.push(MsgError {
                        index: i,
                        what,
                        errno: ack.errno,
                        message: ack.message,
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(NftError::Rejected(errors));
        }
        if pending > 0 {
            return Err(NftError::MissingAcks {
                missing: pending,
                total: batch.len(),
            });
        }
        self.released |= batch.releases_objects();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlmsgerr(seq: u32, code: i32, ext: Option<&str>) -> Vec<u8> {
        let mut body = code.to_ne_bytes().to_vec();
        body.extend_from_slice(&[0u8; 16]); // echoed request header (NETLINK_CAP_ACK)
        let mut flags = 0x100u16; // NLM_F_CAPPED
        if let Some(m) = ext {
            flags |= NLM_F_ACK_TLVS;
            let mut v = m.as_bytes().to_vec();
            v.push(0);
            body.extend_from_slice(&((v.len() + 4) as u16).to_ne_bytes());
            body.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
            body.extend_from_slice(&v);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        let mut m = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn parses_acks_errors_and_ext_ack_text() {
        let mut buf = nlmsgerr(7, 0, None);
        buf.extend(nlmsgerr(8, -libc::ENOENT, Some("no such chain")));
        buf.extend(nlmsgerr(9, -libc::EEXIST, None));
        let acks = parse_acks(&buf);
        assert_eq!(
            acks,
            vec![
                Ack {
                    seq: 7,
                    errno: 0,
                    message: None
                },
                Ack {
                    seq: 8,
                    errno: libc::ENOENT,
                    message: Some("no such chain".into())
                },
                Ack {
                    seq: 9,
                    errno: libc::EEXIST,
                    message: None
                },
            ]
        );
    }

    #[test]
    fn truncated_input_stops_cleanly() {
        let buf = nlmsgerr(1, 0, None);
        assert!(parse_acks(&buf[..10]).is_empty());
        assert_eq!(parse_acks(&buf).len(), 1);
    }
}
