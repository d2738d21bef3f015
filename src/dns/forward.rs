//! Forwarding to the upstream resolvers.
//!
//! UDP queries go through one event-loop thread (poll over one fresh socket per attempt,
//! each on a random source port with a random id), so thousands can wait on a slow
//! upstream without a thread each. Upstreams are tried in order, staggered: the next one is
//! asked when the previous has been silent for its slot (the budget divided by the number of
//! upstreams, at most [`Timing::max_slot`]) or refused at once, while earlier attempts stay
//! open until the budget ends. A dead first resolver thus costs one slot, not the client's
//! whole timeout (aardvark-dns#482), and a slow but live one still gets its chance.
//!
//! TCP (a client that asked over TCP, or an upstream reply with TC set) is forwarded with
//! blocking I/O on the connection's own thread, upstream by upstream with the same slots.

use super::limits::Permit;
use super::socket::random_id;
use super::wire;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long forwarding may take.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// The whole budget of one forwarded query: under the client's own timeout (glibc's
    /// default is 5 s), so the client gets SERVFAIL rather than silence.
    pub budget: Duration,
    /// The longest an upstream is waited for before the next one is asked too.
    pub max_slot: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            budget: Duration::from_millis(4000),
            max_slot: Duration::from_millis(1000),
        }
    }
}

impl Timing {
    fn slot(&self, upstreams: usize) -> Duration {
        (self.budget / upstreams.max(1) as u32).min(self.max_slot)
    }
}

/// A UDP query to forward.
pub struct Job {
    pub query: Vec<u8>,
    pub client: SocketAddr,
    /// The listening socket the query came in on (the reply leaves from it).
    pub reply: Arc<UdpSocket>,
    /// The client's place in the UDP gate, held until the query is answered or given up.
    pub permit: Option<Permit>,
}

/// The handle other threads submit jobs through.
pub struct Forwarder {
    inbox: Mutex<Vec<Job>>,
    wake_tx: UnixDatagram,
    stop: AtomicBool,
}

/// Where the event loop gets upstreams from.
pub type UpstreamSource = Box<dyn Fn() -> Arc<Vec<SocketAddr>> + Send>;

impl Forwarder {
    /// Starts the event loop on a thread of its own (its sockets live in the calling
    /// thread's network namespace).
    pub fn start(
        timing: Timing,
        upstreams: UpstreamSource,
    ) -> io::Result<(Arc<Forwarder>, std::thread::JoinHandle<()>)> {
        let (wake_tx, wake_rx) = UnixDatagram::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        let fwd = Arc::new(Forwarder {
            inbox: Mutex::new(Vec::new()),
            wake_tx,
            stop: AtomicBool::new(false),
        });
        let me = fwd.clone();
        let h = std::thread::Builder::new()
            .name("dns-forward".into())
            .spawn(move || {
                Loop {
                    fwd: me,
                    wake_rx,
                    timing,
                    upstreams,
                    pending: Vec::new(),
                }
                .run()
            })?;
        Ok((fwd, h))
    }

    /// Queues a job (never blocks).
    pub fn submit(&self, job: Job) {
        self.inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job);
        // A full wake queue already holds a wake-up: nothing is lost.
        let _ = self.wake_tx.send(&[0]);
    }

    /// Ends the event loop; pending queries are dropped.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake_tx.send(&[1]);
    }
}

struct Attempt {
    sock: UdpSocket,
    id: u16,
    live: bool,
}

struct Pending {
    job: Job,
    question: Vec<u8>,
    upstreams: Arc<Vec<SocketAddr>>,
    attempts: Vec<Attempt>,
    next: usize,
    next_at: Instant,
    deadline: Instant,
    slot: Duration,
    done: bool,
}

struct Loop {
    fwd: Arc<Forwarder>,
    wake_rx: UnixDatagram,
    timing: Timing,
    upstreams: UpstreamSource,
    pending: Vec<Pending>,
}

impl Loop {
    fn run(mut self) {
        let mut buf = vec![0u8; 65535];
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut owners: Vec<(usize, usize)> = Vec::new();
        while !self.fwd.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            for p in &mut self.pending {
                p.advance(now);
            }
            self.pending.retain(|p| !p.done);
            fds.clear();
            owners.clear();
            fds.push(pollfd(self.wake_rx.as_raw_fd()));
            let mut wake_at: Option<Instant> = None;
            for (i, p) in self.pending.iter().enumerate() {
                for (j, a) in p.attempts.iter().enumerate().filter(|(_, a)| a.live) {
                    fds.push(pollfd(a.sock.as_raw_fd()));
                    owners.push((i, j));
                }
                let next = if p.next < p.upstreams.len() {
                    p.next_at.min(p.deadline)
                } else {
                    p.deadline
                };
                wake_at = Some(wake_at.map_or(next, |w| w.min(next)));
            }
            let timeout = wake_at.map_or(-1, |w| {
                let left = w.saturating_duration_since(Instant::now());
                // Round up: waking a millisecond early would spin.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            });
            // SAFETY: fds is a valid array of fds.len() pollfd structs.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n <= 0 {
                continue;
            }
            for (k, &(i, j)) in owners.iter().enumerate() {
                if fds[k + 1].revents != 0 {
                    self.pending[i].receive(j, &mut buf, &self.timing);
                }
            }
            if fds[0].revents != 0 {
                while self.wake_rx.recv(&mut buf).is_ok() {}
                let jobs =
                    std::mem::take(&mut *self.fwd.inbox.lock().unwrap_or_else(|p| p.into_inner()));
                for job in jobs {
                    self.admit(job);
                }
            }
        }
    }

    fn admit(&mut self, job: Job) {
        let Some(question) = wire::question(&job.query).map(<[u8]>::to_vec) else {
            return;
        };
        let upstreams = (self.upstreams)();
        if upstreams.is_empty() {
            fail(&job);
            return;
        }
        let now = Instant::now();
        let slot = self.timing.slot(upstreams.len());
        let mut p = Pending {
            job,
            question,
            upstreams,
            attempts: Vec::new(),
            next: 0,
            next_at: now,
            deadline: now + self.timing.budget,
            slot,
            done: false,
        };
        p.advance(now);
        if !p.done {
            self.pending.push(p);
        }
    }
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn fail(job: &Job) {
    if let Some(sf) = wire::servfail(&job.query) {
        let _ = job.reply.send_to(&sf, job.client);
    }
}

fn unspecified(like: &SocketAddr) -> SocketAddr {
    match like {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

fn send_attempt(up: SocketAddr, query: &[u8]) -> io::Result<Attempt> {
    let sock = UdpSocket::bind(unspecified(&up))?;
    sock.connect(up)?;
    sock.set_nonblocking(true)?;
    let id = random_id();
    let mut msg = query.to_vec();
    wire::set_id(&mut msg, id);
    sock.send(&msg)?;
    Ok(Attempt {
        sock,
        id,
        live: true,
    })
}

impl Pending {
    /// Starts attempts that are due and gives up when nothing is left to wait for.
    fn advance(&mut self, now: Instant) {
        while !self.done && self.next < self.upstreams.len() && now >= self.next_at {
            let up = self.upstreams[self.next];
            self.next += 1;
            match send_attempt(up, &self.job.query) {
                Ok(a) => {
                    self.attempts.push(a);
                    self.next_at = now + self.slot;
                }
                // Unreachable right away: the next upstream now.
                Err(_) => self.next_at = now,
            }
        }
        let waiting = self.attempts.iter().any(|a| a.live);
        if !self.done && (now >= self.deadline || (!waiting && self.next >= self.upstreams.len())) {
            fail(&self.job);
            self.done = true;
        }
    }

    fn receive(&mut self, j: usize, buf: &mut [u8], timing: &Timing) {
        if self.done {
            return;
        }
        loop {
            let a = &mut self.attempts[j];
            match a.sock.recv(buf) {
                Ok(n) => {
                    let reply = &mut buf[..n];
                    if wire::id(reply) != Some(a.id) || !wire::answers(reply, &self.question) {
                        continue;
                    }
                    let client_id = wire::id(&self.job.query).unwrap_or(0);
                    wire::set_id(reply, client_id);
                    self.relay(reply.to_vec(), timing);
                    self.done = true;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // ICMP unreachable (ECONNREFUSED): this one is dead, ask the next now.
                    a.live = false;
                    if self.attempts.iter().all(|a| !a.live) {
                        self.next_at = Instant::now();
                    }
                    return;
                }
            }
        }
    }

    fn relay(&mut self, reply: Vec<u8>, timing: &Timing) {
        if !wire::truncated(&reply) {
            let _ = self.job.reply.send_to(&reply, self.job.client);
            return;
        }
        // The upstream cut its reply: fetch it whole over TCP, off this loop; send it when
        // it fits the client's buffer, else the cut one (the client then uses TCP).
        let job = Job {
            query: std::mem::take(&mut self.job.query),
            client: self.job.client,
            reply: self.job.reply.clone(),
            permit: self.job.permit.take(),
        };
        let upstreams = self.upstreams.clone();
        let left = self.deadline.saturating_duration_since(Instant::now());
        let timing = Timing {
            budget: left,
            ..*timing
        };
        let _ = std::thread::Builder::new()
            .name("dns-tc".into())
            .stack_size(256 << 10)
            .spawn(move || {
                let full = forward_tcp(&job.query, &upstreams, &timing);
                let out = match full {
                    Some(f) if f.len() <= wire::udp_limit(&job.query) => f,
                    _ => reply,
                };
                let _ = job.reply.send_to(&out, job.client);
            });
    }
}

/// Reads exactly `buf.len()` bytes unless `deadline` passes first (so a peer dripping one
/// byte at a time cannot hold the reader past it).
pub fn read_by(s: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf[got..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Forwards `query` over TCP: upstream by upstream, each for its slot (the last one for
/// whatever is left of the budget). The reply carries the query's id.
pub fn forward_tcp(query: &[u8], upstreams: &[SocketAddr], timing: &Timing) -> Option<Vec<u8>> {
    let question = wire::question(query)?;
    let end = Instant::now() + timing.budget;
    let slot = timing.slot(upstreams.len());
    for (i, up) in upstreams.iter().enumerate() {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let until = if i + 1 == upstreams.len() {
            end
        } else {
            (now + slot).min(end)
        };
        if let Ok(mut reply) = tcp_once(*up, query, question, until) {
            wire::set_id(&mut reply, wire::id(query)?);
            return Some(reply);
        }
    }
    None
}

fn tcp_once(up: SocketAddr, query: &[u8], question: &[u8], until: Instant) -> io::Result<Vec<u8>> {
    let left = until.saturating_duration_since(Instant::now());
    let mut s = TcpStream::connect_timeout(&up, left.max(Duration::from_millis(1)))?;
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
    let id = random_id();
    let mut msg = Vec::with_capacity(query.len() + 2);
    msg.extend_from_slice(&(query.len() as u16).to_be_bytes());
    msg.extend_from_slice(query);
    wire::set_id(&mut msg[2..], id);
    s.write_all(&msg)?;
    let mut len = [0u8; 2];
    read_by(&mut s, &mut len, until)?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    read_by(&mut s, &mut reply, until)?;
    if wire::id(&reply) != Some(id) || !wire::answers(&reply, question) {
        return Err(io::ErrorKind::InvalidData.into());
    }
    Ok(reply)
}
