//! Backends, the client container and TCP connects from it (first-packet latency).

use crate::bench::{ip_of, timed};
use podnet::kernel::netns;
use podnet::testbed::thread_netns::in_netns_at;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A small deterministic PRNG (xorshift64*): which VIP each connection goes to.
pub(crate) struct Rng(u64);
impl Rng {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Wait until every backend accepts a connection from the client's namespace.
pub(crate) fn wait_backends(client_ns: &Path, backends: &[Ipv4Addr]) {
    let bs = backends.to_vec();
    in_netns_at(client_ns, move || {
        for ip in bs {
            let deadline = Instant::now() + Duration::from_secs(10);
            let a = SocketAddr::from((ip, 8080));
            while TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_err() {
                assert!(Instant::now() < deadline, "backend {ip}:8080 not up");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
}

/// `conns` TCP connects from the client namespace: each to a random VIP (port 80) and, right
/// after, one direct to a random backend (8080). Returns (vip µs, direct µs, failures each).
pub(crate) fn connects(
    client_ns: &Path,
    vips: &[Ipv4Addr],
    backends: &[Ipv4Addr],
    conns: usize,
    seed: u64,
) -> (Vec<f64>, Vec<f64>, usize, usize) {
    let (vips, bs) = (vips.to_vec(), backends.to_vec());
    in_netns_at(client_ns, move || {
        let mut rng = Rng(seed | 1);
        let (mut v, mut d, mut fv, mut fd) = (Vec::new(), Vec::new(), 0, 0);
        let one = |a: SocketAddr, out: &mut Vec<f64>, fails: &mut usize| {
            let t0 = Instant::now();
            match TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
                Ok(s) => {
                    out.push(t0.elapsed().as_secs_f64() * 1e6);
                    drop(s);
                }
                Err(_) => *fails += 1,
            }
        };
        // Warm-up (ARP, caches), not recorded.
        for i in 0..20 {
            let _ = TcpStream::connect_timeout(
                &SocketAddr::from((vips[i % vips.len()], 80)),
                Duration::from_secs(3),
            );
            let _ = TcpStream::connect_timeout(
                &SocketAddr::from((bs[i % bs.len()], 8080)),
                Duration::from_secs(3),
            );
        }
        for _ in 0..conns {
            let vip = vips[rng.below(vips.len())];
            one(SocketAddr::from((vip, 80)), &mut v, &mut fv);
            let b = bs[rng.below(bs.len())];
            one(SocketAddr::from((b, 8080)), &mut d, &mut fd);
        }
        (v, d, fv, fd)
    })
}

/// Start the backends (`podnet run -d` of this binary in `--serve 8080` mode) and a client
/// container (attach of a pre-made namespace); returns (backend IPs, client netns path).
pub(crate) fn backends_and_client(podnet: &str, n: usize) -> (Vec<Ipv4Addr>, PathBuf) {
    let exe = std::env::current_exe().expect("current_exe");
    let exe = exe.to_string_lossy().into_owned();
    let mut ips = Vec::new();
    for k in 0..n {
        let name = format!("b{k}");
        timed(&[
            podnet,
            "run",
            "-d",
            "--name",
            &name,
            "-l",
            "role=backend",
            "--",
            &exe,
            "--serve",
            "8080",
        ]);
        ips.push(ip_of(podnet, &name));
    }
    let client = PathBuf::from("/run/netns/client");
    netns::create(&client).expect("create client netns");
    timed(&[
        podnet,
        "attach",
        "--netns",
        "/run/netns/client",
        "--name",
        "client",
    ]);
    wait_backends(&client, &ips);
    (ips, client)
}
