//! Benchmark, not a timed test (run explicitly, in release):
//!   cargo test --release --test nft_bench -- --ignored --nocapture
//! Inside a private netns: cost of one transaction that adds one published-port
//! element, and one that adds a service in the bucket-chain layout (a vmap goto
//! element + 2 slot elements), with 0 and 10,000 existing entries; and the
//! same element add through `nft -f -` for comparison, measured in the same run.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use podnet::kernel::nft::*;
use podnet::testbed::thread_netns::in_netns;
use DataType::{InetProto, InetService, Ipv4Addr};
use Sel::*;

fn addr(i: u32) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(0x0a60_0000 + i)
}

fn port_elem(i: u32) -> Element {
    Element::new(vec![
        Value::Ipv4(addr(i)),
        Value::Proto(TCP),
        Value::Port(80),
    ])
    .to_value(vec![Value::Ipv4(addr(i)), Value::Port(8080)])
}

fn svc_elems(i: u32) -> (Element, Vec<Element>) {
    let k = vec![Value::Ipv4(addr(i)), Value::Proto(TCP), Value::Port(443)];
    let vm = Element::new(k.clone()).to_verdict(Verdict::Goto("bucket_2".into()));
    let slots = (0..2)
        .map(|n| {
            let mut s = k.clone();
            s.push(Value::Mark(n));
            Element::new(s).to_value(vec![Value::Ipv4(addr(i + n)), Value::Port(8443)])
        })
        .collect();
    (vm, slots)
}

fn table() -> TableDef {
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
        Chain::base("prerouting", ChainType::Nat, Hook::Prerouting, -100),
        Chain::regular("services"),
        Chain::regular("bucket_2"),
    ];
    nat.rules = vec![
        Rule::new(
            "prerouting",
            vec![Stmt::NatMap {
                kind: NatKind::Dnat,
                key: vec![IpDaddr, L4Proto, ThDport],
                map: "ports".into(),
                with_port: true,
            }],
        ),
        Rule::new(
            "prerouting",
            vec![Stmt::Vmap {
                key: vec![IpDaddr, L4Proto, ThDport],
                map: "service_ips".into(),
            }],
        ),
        Rule::new(
            "bucket_2",
            vec![Stmt::NatMap {
                kind: NatKind::Dnat,
                key: vec![IpDaddr, L4Proto, ThDport, NumgenRandom(2)],
                map: "eps".into(),
                with_port: true,
            }],
        ),
    ];
    nat
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p99 = v[(v.len() * 99 / 100).min(v.len() - 1)];
    format!(
        "median {:.4} ms, p99 {:.4} ms (n={})",
        ms(v[v.len() / 2]),
        ms(p99),
        v.len()
    )
}

fn bench_at(n: u32, iters: u32) -> Vec<String> {
    let nat = table();
    let t = nat.table.clone();
    let (ports, vmap, eps) = (
        nat.set("ports").unwrap(),
        nat.set("service_ips").unwrap(),
        nat.set("eps").unwrap(),
    );
    let mut sock = NftSocket::open().unwrap();
    let mut load = Ruleset {
        tables: vec![nat.clone()],
    }
    .replace_batch();
    let preload: Vec<Element> = (0..n).map(port_elem).collect();
    load.add_elements(&t, ports, &preload);
    let (vms, slots): (Vec<_>, Vec<_>) = (0..n).map(|i| svc_elems(i * 2)).unzip();
    load.add_elements(&t, vmap, &vms);
    load.add_elements(&t, eps, &slots.concat());
    let start = Instant::now();
    sock.apply(&load).unwrap();
    let load_time = start.elapsed();
    let mut out = vec![format!(
        "N={n}: initial load ({} msgs, {n} ports + {n} services x 2 slots): {:.1} ms",
        load.len(),
        load_time.as_secs_f64() * 1e3
    )];

    let base = 1_000_000;
    let mut add_port = vec![];
    for i in 0..iters {
        let mut b = Batch::new();
        b.add_elements(&t, ports, &[port_elem(base + i)]);
        let s = Instant::now();
        sock.apply(&b).unwrap();
        add_port.push(s.elapsed());
    }
    out.push(format!("N={n}: add 1 port element: {}", stats(add_port)));

    let mut add_svc = vec![];
    for i in 0..iters {
        let (vm, sl) = svc_elems(base + 2 * i);
        let mut b = Batch::new();
        b.add_elements(&t, vmap, &[vm]);
        b.add_elements(&t, eps, &sl);
        let s = Instant::now();
        sock.apply(&b).unwrap();
        add_svc.push(s.elapsed());
    }
    out.push(format!(
        "N={n}: add 1 service (vmap goto + 2 slots): {}",
        stats(add_svc)
    ));

    if have_nft() {
        let mut nft = vec![];
        for i in 0..iters.min(30) {
            let a = addr(2_000_000 + i);
            let cmd =
                format!("add element ip podnet-nat ports {{ {a} . tcp . 80 : {a} . 8080 }}\n");
            let s = Instant::now();
            let mut c = Command::new("nft")
                .args(["-f", "-"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(cmd.as_bytes()).unwrap();
            assert!(c.wait().unwrap().success());
            nft.push(s.elapsed());
        }
        out.push(format!(
            "N={n}: same port element via `nft -f -`: {}",
            stats(nft)
        ));
    }
    out
}

/// The `nft -f -` comparison is optional in this benchmark (it is not a test).
fn have_nft() -> bool {
    Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[ignore = "benchmark; run with --ignored --nocapture in release"]
fn nft_txn_bench() {
    for n in [0, 10_000] {
        for line in in_netns(move || bench_at(n, 300)) {
            println!("{line}");
        }
    }
}
