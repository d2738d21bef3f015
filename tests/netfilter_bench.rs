//! `cargo test --release --test netfilter_bench -- --ignored --nocapture`:
//! the cost of one attach (element-add transaction from `add_ports`) with 1
//! and 1,000 ports already loaded, inside a private lab.

#[path = "netfilter_lab.rs"]
mod lab;

use std::time::Instant;

use lab::Lab;
use podnet::kernel::nft::NftSocket;
use podnet::model::{PortMapping, Proto};
use podnet::plan::netfilter::{self as nf, NetFacts, PortFacts};

fn port(i: u32) -> PortFacts {
    PortFacts {
        container_ip: std::net::Ipv4Addr::from(0x0a58_0002 + (i % 250)),
        mapping: PortMapping {
            host_ip: None,
            host_port: 10000 + i as u16,
            container_port: 80,
            proto: Proto::Tcp,
        },
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p) as usize]
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
