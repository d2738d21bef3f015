//! `cargo test --release --test netfilter_bench -- --ignored --nocapture`:
//! the cost of one attach (element-add transaction from `add_ports`) with 1
//! and 1,000 ports already loaded, and of a container's whole element batches
//! (anti-spoofing elements with its port) with 0 and 1,000 containers loaded,
//! inside a private lab.

#[path = "common/timing.rs"]
mod timing;

use std::time::Instant;

use podnet::kernel::nft::NftSocket;
use podnet::model::{Mac, PortMapping, Proto};
use podnet::plan::netfilter::{self as nf, GuardFacts, NetFacts, PortFacts};
use podnet::testbed::thread_netns::ThreadLab as Lab;
use timing::{ms, pct};

fn port(i: u32) -> PortFacts {
    PortFacts {
        container_ip: std::net::Ipv4Addr::from(0x0a58_0002 + (i % 250)),
        container_ip6: None,
        mapping: PortMapping {
            host_ip: None,
            host_port: 10000 + i as u16,
            container_port: 80,
            proto: Proto::Tcp,
        },
    }
}

fn guard(i: u32) -> GuardFacts {
    let ip = std::net::Ipv4Addr::from(0x0a58_0002 + i);
    GuardFacts {
        port: format!("pnv{i}"),
        mac: Mac::for_container(ip),
        ip,
        ip6: None,
    }
}

#[test]
#[ignore]
fn attach_cost_at_1_and_1000_ports() {
    let lab = Lab::new(true);
    let nets = [NetFacts {
        bridge: "pn0".into(),
        subnet: "10.88.0.0/24".parse().unwrap(),
        internal: false,
        icc: true,
        subnet6: None,
        nat6: true,
    }];
    for existing in [1u32, 1000] {
        let nets = nets.clone();
        let (add, del) = lab.run("host", move || {
            let loaded: Vec<PortFacts> = (0..existing).map(port).collect();
            let mut s = NftSocket::open().unwrap();
            let t = Instant::now();
            s.apply(&nf::full(&nets, &[], &loaded)).unwrap();
            println!(
                "full() with {existing} ports: {:.3} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
            let (mut add, mut del) = (vec![], vec![]);
            for i in 0..500 {
                let p = [port(20000 + i)];
                let b = nf::add_ports(&p);
                let t = Instant::now();
                s.apply(&b).unwrap();
                add.push(t.elapsed().as_secs_f64() * 1e3);
                let b = nf::remove_ports(&p);
                let t = Instant::now();
                s.apply(&b).unwrap();
                del.push(t.elapsed().as_secs_f64() * 1e3);
            }
            (add, del)
        });
        let (mut add, mut del) = (add, del);
        println!(
            "existing ports {existing:>5}: add_ports(1) median {:.4} ms p99 {:.4} ms; remove_ports(1) median {:.4} ms p99 {:.4} ms",
            pct(&mut add, 0.5),
            pct(&mut add, 0.99),
            pct(&mut del, 0.5),
            pct(&mut del, 0.99)
        );
    }
}

/// One container's batches as attach and rm send them, next to the port-only batches they
/// replace: `add_endpoint` (port + source + 1 published port) against `add_ports`, and
/// `remove_endpoint` against `remove_ports`.
#[test]
#[ignore]
fn endpoint_cost_at_0_and_1000_containers() {
    let lab = Lab::new(true);
    let nets = [NetFacts {
        bridge: "pn0".into(),
        subnet: "10.88.0.0/16".parse().unwrap(),
        internal: false,
        icc: true,
        subnet6: None,
        nat6: true,
    }];
    for existing in [0u32, 1000] {
        let nets = nets.clone();
        let mut t = lab.run("host", move || {
            let guards: Vec<GuardFacts> = (0..existing).map(guard).collect();
            let loaded: Vec<PortFacts> = (0..existing).map(port).collect();
            let mut s = NftSocket::open().unwrap();
            s.apply(&nf::full(&nets, &guards, &loaded)).unwrap();
            let mut t: [Vec<f64>; 4] = Default::default();
            for i in 0..500 {
                let (g, p) = (guard(5000 + i), [port(20000 + i)]);
                let b = nf::add_ports(&p);
                let t0 = Instant::now();
                s.apply(&b).unwrap();
                t[0].push(ms(t0));
                let b = nf::remove_ports(&p);
                let t0 = Instant::now();
                s.apply(&b).unwrap();
                t[1].push(ms(t0));
                let b = nf::add_endpoint(&g, &p);
                let t0 = Instant::now();
                s.apply(&b).unwrap();
                t[2].push(ms(t0));
                let b = nf::remove_endpoint(&g, &p);
                let t0 = Instant::now();
                s.apply(&b).unwrap();
                t[3].push(ms(t0));
            }
            t
        });
        let names = [
            "add_ports(1)",
            "remove_ports(1)",
            "add_endpoint(1 port)",
            "remove_endpoint(1 port)",
        ];
        for (name, v) in names.iter().zip(t.iter_mut()) {
            println!(
                "containers {existing:>5}: {name:<24} median {:.4} ms p99 {:.4} ms",
                pct(v, 0.5),
                pct(v, 0.99)
            );
        }
    }
}
