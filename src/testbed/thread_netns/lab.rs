//! [`ThreadLab`]: a throw-away lab for the netfilter and service kernel tests, made of
//! thread-held network namespaces only (no processes, never the machine's own).
//!
//! ```text
//!  out (192.168.50.2) ── lan ══ lan0 (192.168.50.1) ── host
//!  host: pn0 10.88.0.1/24 ── c1 10.88.0.2, c2 10.88.0.3
//!        pn1 10.89.0.1/24 ── c3 10.89.0.2, c4 10.89.0.3
//! ```
//! `ip_forward=1` in host, `route_localnet=1` on pn0/pn1 and hairpin mode on
//! the container ports, as the engine would set them. Each namespace is held by a parked thread; code runs in
//! one on a new thread that `setns`es into it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const HOST_LAN: &str = "192.168.50.1";
pub const OUT_LAN: &str = "192.168.50.2";

use super::lab6::{tcp_listener, udp_socket};

fn netns_of(path: &str) -> std::path::PathBuf {
    std::fs::read_link(path).expect("reading a netns link")
}

struct Holder {
    tid: i32,
    ns: File,
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

pub struct ThreadLab {
    ns: BTreeMap<String, Holder>,
    stop: Arc<AtomicBool>,
    servers: Vec<JoinHandle<()>>,
}

/// A namespace held by a parked thread until the lab is dropped.
fn hold() -> Holder {
    let (tx, rx) = mpsc::channel();
    let (stop, parked) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        super::unshare_net();
        let f = File::open("/proc/thread-self/ns/net").unwrap();
        tx.send((nix::unistd::gettid().as_raw(), f)).unwrap();
        let _ = parked.recv();
    });
    let (tid, ns) = rx.recv().expect("namespace holder died");
    Holder {
        tid,
        ns,
        stop,
        thread: Some(thread),
    }
}

impl Drop for ThreadLab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for s in self.servers.drain(..) {
            let _ = s.join();
        }
        for h in self.ns.values_mut() {
            let _ = h.stop.send(());
            if let Some(t) = h.thread.take() {
                let _ = t.join();
            }
        }
    }
}

fn sh_out(cmd: &str) -> Result<String, String> {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl ThreadLab {
    /// A lab without namespaces: [`ThreadLab::add_netns`] adds them (other topologies, e.g.
    /// [`super::NodesLab`], are built on it).
    pub fn empty() -> ThreadLab {
        ThreadLab {
            ns: BTreeMap::new(),
            stop: Arc::new(AtomicBool::new(false)),
            servers: vec![],
        }
    }

    /// Adds a fresh network namespace named `name` (with only `lo`, down).
    pub fn add_netns(&mut self, name: &str) {
        self.ns.insert(name.to_string(), hold());
    }

    /// The thread id holding namespace `name`: `ip link … netns TID` moves a link there.
    pub fn tid(&self, name: &str) -> i32 {
        self.ns[name].tid
    }

    /// Builds the topology above. `br_netfilter`: whether bridged IPv4 frames
    /// pass the ip family hooks (`bridge-nf-call-iptables` in the lab).
    pub fn new(br_netfilter: bool) -> ThreadLab {
        let mut lab = ThreadLab::empty();
        for name in ["host", "out", "c1", "c2", "c3", "c4"] {
            lab.add_netns(name);
        }
        let tid = |n: &str| lab.ns[n].tid;
        let mut host = vec![
            "ip link set lo up".to_string(),
            "sysctl -qw net.ipv4.ip_forward=1".into(),
            format!(
                "sysctl -qw net.bridge.bridge-nf-call-iptables={}",
                u8::from(br_netfilter)
            ),
        ];
        for (br, gw) in [("pn0", "10.88.0.1/24"), ("pn1", "10.89.0.1/24")] {
            host.push(format!("ip link add {br} type bridge"));
            host.push(format!("ip addr add {gw} dev {br}"));
            host.push(format!("ip link set {br} up"));
            host.push(format!("sysctl -qw net.ipv4.conf.{br}.route_localnet=1"));
        }
        for (c, br) in [("c1", "pn0"), ("c2", "pn0"), ("c3", "pn1"), ("c4", "pn1")] {
            host.push(format!(
                "ip link add v{c} type veth peer name eth0 netns {}",
                tid(c)
            ));
            host.push(format!("ip link set v{c} master {br} up"));
            // As the engine must: with br_netfilter, a container reaching
            // its own published port is bridged back out its own port.
            host.push(format!("ip link set v{c} type bridge_slave hairpin on"));
        }
        host.push(format!(
            "ip link add lan0 type veth peer name lan netns {}",
            tid("out")
        ));
        host.push(format!("ip addr add {HOST_LAN}/24 dev lan0"));
        host.push("ip link set lan0 up".into());
        lab.sh("host", &host.join(" && "));
        for (c, addr, gw) in [
            ("c1", "10.88.0.2", "10.88.0.1"),
            ("c2", "10.88.0.3", "10.88.0.1"),
            ("c3", "10.89.0.2", "10.89.0.1"),
            ("c4", "10.89.0.3", "10.89.0.1"),
        ] {
            lab.sh(
                c,
                &format!(
                    "ip link set lo up && ip addr add {addr}/24 dev eth0 && ip link set eth0 up \
                     && ip route add default via {gw}"
                ),
            );
        }
        lab.sh(
            "out",
            &format!("ip link set lo up && ip addr add {OUT_LAN}/24 dev lan && ip link set lan up"),
        );
        lab
    }

    /// Runs `f` on a new thread inside namespace `name`.
    pub fn run<T: Send + 'static>(&self, name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let ns = self.ns[name].ns.try_clone().unwrap();
        std::thread::spawn(move || {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            assert_ne!(
                netns_of("/proc/thread-self/ns/net"),
                netns_of("/proc/self/ns/net"),
                "lab code must not run in the machine's netns"
            );
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// A shell command in namespace `name`; panics on failure.
    pub fn sh(&self, name: &str, cmd: &str) -> String {
        let cmd = cmd.to_string();
        self.run(name, move || sh_out(&cmd))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Applies an nft batch in the lab's host namespace.
    pub fn apply(&self, b: crate::kernel::nft::Batch) -> Result<(), String> {
        self.run("host", move || {
            crate::kernel::nft::NftSocket::open()
                .and_then(|mut s| s.apply(&b))
                .map_err(|e| e.to_string())
        })
    }

    /// TCP server on `port` in `name`: answers every connection with
    /// "<label> <peer ip>" and closes it.
    pub fn tcp_server(&mut self, name: &str, port: u16, label: &'static str) {
        self.tcp_server_on(name, port, label, false)
    }

    /// [`ThreadLab::tcp_server`] on IPv6 (`[::]`, IPv6 only).
    pub fn tcp_server6(&mut self, name: &str, port: u16, label: &'static str) {
        self.tcp_server_on(name, port, label, true)
    }

    fn tcp_server_on(&mut self, name: &str, port: u16, label: &'static str, v6: bool) {
        let stop = self.stop.clone();
        let (tx, rx) = mpsc::channel();
        let ns = self.ns[name].ns.try_clone().unwrap();
        self.servers.push(std::thread::spawn(move || {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let l = tcp_listener(v6, port);
            l.set_nonblocking(true).unwrap();
            tx.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match l.accept() {
                    Ok((mut c, peer)) => {
                        let _ = c.write_all(format!("{label} {}", peer.ip()).as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        }));
        rx.recv().unwrap();
    }

    /// UDP server on `port` in `name`: answers each datagram like `tcp_server`.
    pub fn udp_server(&mut self, name: &str, port: u16, label: &'static str) {
        self.udp_server_on(name, port, label, false)
    }

    /// [`ThreadLab::udp_server`] on IPv6 (`[::]`, IPv6 only).
    pub fn udp_server6(&mut self, name: &str, port: u16, label: &'static str) {
        self.udp_server_on(name, port, label, true)
    }

    fn udp_server_on(&mut self, name: &str, port: u16, label: &'static str, v6: bool) {
        let stop = self.stop.clone();
        let (tx, rx) = mpsc::channel();
        let ns = self.ns[name].ns.try_clone().unwrap();
        self.servers.push(std::thread::spawn(move || {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let s = udp_socket(v6, port);
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            tx.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut buf = [0u8; 512];
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok((_, peer)) = s.recv_from(&mut buf) {
                    let _ = s.send_to(format!("{label} {}", peer.ip()).as_bytes(), peer);
                }
            }
        }));
        rx.recv().unwrap();
    }

    /// TCP from namespace `from` to `to`: the server's answer, or why not.
    pub fn tcp(&self, from: &str, to: &str) -> Result<String, String> {
        let to: SocketAddr = to.parse().unwrap();
        self.run(from, move || {
            let mut c = TcpStream::connect_timeout(&to, Duration::from_millis(1500))
                .map_err(|e| format!("connect {to}: {e}"))?;
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).map_err(|e| e.to_string())?;
            Ok(s)
        })
    }

    /// One UDP request from `from` to `to`: the answer, or why not.
    pub fn udp(&self, from: &str, to: &str) -> Result<String, String> {
        let to: SocketAddr = to.parse().unwrap();
        self.run(from, move || {
            let s = udp_socket(to.is_ipv6(), 0);
            s.set_read_timeout(Some(Duration::from_millis(700)))
                .unwrap();
            let mut buf = [0u8; 512];
            for _ in 0..3 {
                s.send_to(b"hi", to).map_err(|e| e.to_string())?;
                if let Ok((n, _)) = s.recv_from(&mut buf) {
                    return Ok(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
            }
            Err(format!("no UDP answer from {to}"))
        })
    }

    pub fn nft(&self, args: &str) -> String {
        self.sh("host", &format!("nft {args}"))
    }
}
