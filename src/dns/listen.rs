//! One gateway address: a UDP worker and a TCP acceptor, each on its own thread, and a thread
//! per TCP connection (capped per client by the TCP gate, closed when idle).

use super::answer::{answer, Asker, Verdict};
use super::forward::{forward_tcp, read_by, Job};
use super::{socket, wire, Shared};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The largest query accepted over UDP: a bigger datagram is cut by recv and then fails to
/// parse, which is what it deserves.
const UDP_BUF: usize = 4096;
/// Connection threads only parse and answer: a small stack is plenty.
const CONN_STACK: usize = 256 << 10;

/// Sockets and threads serving one address; dropping it stops them.
pub struct Listener {
    udp: Arc<UdpSocket>,
    tcp: Arc<TcpListener>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Listener {
    /// Binds `ip:port` (UDP and TCP, pinned to `device`) and starts serving.
    pub fn start(
        ip: IpAddr,
        device: Option<&str>,
        shared: &Arc<Shared>,
        udp_threads: usize,
    ) -> io::Result<Listener> {
        let port = shared.config.port;
        let udp = Arc::new(socket::udp(ip, port, device)?);
        let tcp = Arc::new(socket::tcp(ip, port, device)?);
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for i in 0..udp_threads.max(1) {
            let (u, sh, st) = (udp.clone(), shared.clone(), stop.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("dns-udp-{ip}-{i}"))
                    .spawn(move || udp_loop(&u, ip, &sh, &st))?,
            );
        }
        let (t, sh, st) = (tcp.clone(), shared.clone(), stop.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("dns-tcp-{ip}"))
                .spawn(move || tcp_loop(&t, ip, &sh, &st))?,
        );
        Ok(Listener {
            udp,
            tcp,
            stop,
            threads,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        socket::wake(self.udp.as_raw_fd());
        socket::wake(self.tcp.as_raw_fd());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn udp_loop(sock: &Arc<UdpSocket>, local: IpAddr, shared: &Arc<Shared>, stop: &AtomicBool) {
    let mut buf = [0u8; UDP_BUF];
    loop {
        let got = sock.recv_from(&mut buf);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok((n, src)) = got else {
            continue;
        };
        let packet = &buf[..n];
        let who = Asker {
            local,
            src: src.ip(),
            udp: true,
        };
        match answer(&shared.table(), packet, who) {
            Verdict::Reply(bytes) => {
                let _ = sock.send_to(&bytes, src);
            }
            Verdict::Forward => {
                // Over its cap the client's query is dropped: it will retry, and others
                // keep their places.
                if let Some(permit) = shared.udp_gate.enter(src.ip()) {
                    shared.forwarder.submit(Job {
                        query: packet.to_vec(),
                        client: src,
                        reply: sock.clone(),
                        permit: Some(permit),
                    });
                }
            }
            Verdict::Ignore => {}
        }
    }
}

fn tcp_loop(l: &TcpListener, local: IpAddr, shared: &Arc<Shared>, stop: &AtomicBool) {
    loop {
        let got = l.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let (stream, peer) = match got {
            Ok(c) => c,
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                // Out of descriptors: let connections finish rather than spin.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(_) => continue,
        };
        let Some(permit) = shared.tcp_gate.enter(peer.ip()) else {
            continue;
        };
        let sh = shared.clone();
        let _ = std::thread::Builder::new()
            .name("dns-tcp-conn".into())
            .stack_size(CONN_STACK)
            .spawn(move || {
                let _permit = permit;
                connection(stream, peer, local, &sh);
            });
    }
}

/// Serves queries on one connection, in order, until the client closes it, sends
/// something unparseable, or sends no complete query within the idle time.
fn connection(mut s: TcpStream, peer: SocketAddr, local: IpAddr, shared: &Shared) {
    let _ = s.set_nodelay(true);
    let idle = shared.config.limits.tcp_idle;
    let _ = s.set_write_timeout(Some(idle));
    let who = Asker {
        local,
        src: peer.ip(),
        udp: false,
    };
    loop {
        let deadline = Instant::now() + idle;
        let mut len = [0u8; 2];
        if read_by(&mut s, &mut len, deadline).is_err() {
            return;
        }
        let n = usize::from(u16::from_be_bytes(len));
        if n < wire::HEADER {
            return;
        }
        let mut query = vec![0u8; n];
        if read_by(&mut s, &mut query, deadline).is_err() {
            return;
        }
        let reply = match answer(&shared.table(), &query, who) {
            Verdict::Reply(bytes) => bytes,
            Verdict::Forward => {
                let ups = shared.upstreams();
                match forward_tcp(&query, &ups, &shared.config.timing) {
                    Some(r) => r,
                    None => match wire::servfail(&query) {
                        Some(sf) => sf,
                        None => return,
                    },
                }
            }
            Verdict::Ignore => return,
        };
        let mut out = Vec::with_capacity(reply.len() + 2);
        out.extend_from_slice(&(reply.len() as u16).to_be_bytes());
        out.extend_from_slice(&reply);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}
