//! Real packets: a "node" namespace and a "backend" namespace joined by a
//! veth pair. Connections from the node to a published port and to a service
//! VIP must reach the backends chosen by the concatenated maps.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use podnet::kernel::nft::*;
use podnet::testbed::thread_netns::{run, unshare_net};
use DataType::{InetProto, InetService, Ipv4Addr};
use Sel::*;

fn ip(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

/// Serves `name` on each port until `stop`; bounded by a deadline.
fn serve(ports: &[(u16, &'static str)], stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    ports
        .iter()
        .map(|&(port, name)| {
            let l = TcpListener::bind(("10.99.0.2", port)).expect("bind backend");
            l.set_nonblocking(true).unwrap();
            let stop = stop.clone();
            // Spawned from the backend thread, so it lives in the backend netns.
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match l.accept() {
                        Ok((mut c, _)) => {
                            let _ = c.write_all(name.as_bytes());
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        })
        .collect()
}

fn fetch(addr: &str) -> String {
    let addr: SocketAddr = addr.parse().unwrap();
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    s
}

fn nat_table() -> TableDef {
    let mut nat = TableDef::new(Table::new(Family::Ip, "podnet-nat"));
    let key = vec![Ipv4Addr, InetProto, InetService];
    let backend = vec![Ipv4Addr, InetService];
    nat.sets = vec![
        Set::map("ports", key.clone(), backend.clone()),
        Set::vmap("service_ips", key.clone()),
        Set::map(
            "eps",
            vec![Ipv4Addr, InetProto, InetService, DataType::Mark],
            backend,
        ),
    ];
    nat.chains = vec![
        Chain::base("output", ChainType::Nat, Hook::Output, -100),
        Chain::regular("services"),
        Chain::regular("bucket_2"),
    ];
    let dnat = |key: Vec<Sel>, map: &str| Stmt::NatMap {
        kind: NatKind::Dnat,
        key,
        map: map.into(),
        with_port: true,
    };
    nat.rules = vec![
        Rule::new(
            "output",
            vec![dnat(vec![IpDaddr, L4Proto, ThDport], "ports")],
        ),
        Rule::new(
            "output",
            vec![Stmt::Verdict(Verdict::Jump("services".into()))],
        ),
        Rule::new(
            "services",
            vec![Stmt::Vmap {
                key: vec![IpDaddr, L4Proto, ThDport],
                map: "service_ips".into(),
            }],
        ),
        Rule::new(
            "bucket_2",
            vec![dnat(
                vec![IpDaddr, L4Proto, ThDport, NumgenRandom(2)],
                "eps",
            )],
        ),
    ];
    nat
}

fn vip(a: &str, port: u16) -> Vec<Value> {
    vec![Value::Ipv4(ip(a)), Value::Proto(TCP), Value::Port(port)]
}

fn backend(port: u16) -> Vec<Value> {
    vec![Value::Ipv4(ip("10.99.0.2")), Value::Port(port)]
}

#[test]
fn dnat_through_concat_maps_carries_tcp() {
    let (tid_tx, tid_rx) = mpsc::channel::<i32>();
    let (up_tx, up_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_be = stop.clone();
    let backend_ns = std::thread::spawn(move || {
        unshare_net();
        tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
        up_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("node never moved the veth");
        run("ip", &["link", "set", "lo", "up"]);
        run("ip", &["addr", "add", "10.99.0.2/24", "dev", "v-be"]);
        run("ip", &["link", "set", "v-be", "up"]);
        let servers = serve(&[(8080, "a"), (8081, "b")], stop_be);
        ready_tx.send(()).unwrap();
        for s in servers {
            s.join().unwrap();
        }
    });

    let node = std::thread::spawn(move || {
        unshare_net();
        let be_tid = tid_rx.recv().unwrap().to_string();
        run("ip", &["link", "set", "lo", "up"]);
        run(
            "ip",
            &[
                "link", "add", "v-node", "type", "veth", "peer", "name", "v-be",
            ],
        );
        run("ip", &["link", "set", "v-be", "netns", &be_tid]);
        run("ip", &["addr", "add", "10.99.0.1/24", "dev", "v-node"]);
        run("ip", &["link", "set", "v-node", "up"]);
        // Locally originated packets are routed before the output DNAT.
        run("ip", &["route", "add", "10.96.0.0/24", "dev", "v-node"]);
        up_tx.send(()).unwrap();
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("backend not ready");

        let nat = nat_table();
        let t = nat.table.clone();
        let mut sock = NftSocket::open().unwrap();
        let mut b = Ruleset {
            tables: vec![nat.clone()],
        }
        .replace_batch();
        b.add_elements(
            &t,
            nat.set("ports").unwrap(),
            &[Element::new(vip("10.96.0.5", 80)).to_value(backend(8081))],
        );
        b.add_elements(
            &t,
            nat.set("service_ips").unwrap(),
            &[Element::new(vip("10.96.0.10", 80)).to_verdict(Verdict::Goto("bucket_2".into()))],
        );
        let slot = |n: u32, port| {
            let mut k = vip("10.96.0.10", 80);
            k.push(Value::Mark(n));
            Element::new(k).to_value(backend(port))
        };
        b.add_elements(&t, nat.set("eps").unwrap(), &[slot(0, 8080), slot(1, 8081)]);
        sock.apply(&b).unwrap();

        let published = fetch("10.96.0.5:80");
        let spread: Vec<String> = (0..40).map(|_| fetch("10.96.0.10:80")).collect();

        // Endpoint change in one transaction: slot 1 now points at "a" too.
        let eps = nat.set("eps").unwrap();
        let mut change = Batch::new();
        change.delete_elements(&t, eps, &[slot(1, 8081)]);
        change.add_elements(&t, eps, &[slot(1, 8080)]);
        sock.apply(&change).unwrap();
        let after: Vec<String> = (0..20).map(|_| fetch("10.96.0.10:80")).collect();
        (published, spread, after)
    });
    let result = node.join();
    stop.store(true, Ordering::Relaxed);
    backend_ns.join().unwrap();
    let (published, spread, after) = result.unwrap_or_else(|e| std::panic::resume_unwind(e));

    assert_eq!(
        published, "b",
        "published port 10.96.0.5:80 -> 10.99.0.2:8081"
    );
    let a = spread.iter().filter(|s| *s == "a").count();
    let b = spread.iter().filter(|s| *s == "b").count();
    assert_eq!(a + b, 40, "{spread:?}");
    // numgen random mod 2 over 40 connections: both backends must be used
    // (all on one side has probability 2^-39).
    assert!(a > 0 && b > 0, "a={a} b={b}");
    assert!(after.iter().all(|s| s == "a"), "{after:?}");
}
