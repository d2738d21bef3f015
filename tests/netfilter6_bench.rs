//! `cargo test --release --test netfilter6_bench -- --ignored --nocapture`: what a
//! dual-stack attach costs in the kernel next to an IPv4-only one. One container's
//! `add_endpoint` (its port, its sources, one published port) and `remove_endpoint`, 500
//! times each, with 0 and 1,000 containers loaded: on a host without IPv6 (the baseline),
//! and on a dual-stack host both for an IPv4-only container and a dual-stack one.

#[path = "common/timing.rs"]
mod timing;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use podnet::kernel::nft::NftSocket;
use podnet::model::{Mac, PortMapping, Proto};
use podnet::plan::netfilter::{self as nf, GuardFacts, NetFacts, PortFacts};
use podnet::testbed::thread_netns::ThreadLab as Lab;
use timing::{ms, pct};

fn facts(i: u32, v6: bool) -> (GuardFacts, PortFacts) {
    let ip = Ipv4Addr::from(0x0a58_0002 + i);
    let ip6 = v6.then(|| Ipv6Addr::from(0xfd00_0088_u128 << 96 | u128::from(i + 2)));
    let g = GuardFacts {
        port: format!("pnv{i}"),
        mac: Mac::for_container(ip),
        ip,
        ip6,
    };
    let p = PortFacts {
        container_ip: ip,
        container_ip6: ip6,
        mapping: PortMapping {
            host_ip: None,
            host_port: 10000 + (i % 50000) as u16,
            container_port: 80,
            proto: Proto::Tcp,
        },
    };
    (g, p)
}

fn net(v6: bool) -> NetFacts {
    NetFacts {
        bridge: "pn0".into(),
        subnet: "10.88.0.0/16".parse().unwrap(),
        internal: false,
        icc: true,
        subnet6: v6.then(|| "fd00:88::/64".parse().unwrap()),
        nat6: true,
    }
}

/// Add and remove one container 500 times; `v6` chooses its kind. Medians and p99s.
fn churn(s: &mut NftSocket, v6: bool) -> [(f64, f64); 2] {
    let mut t: [Vec<f64>; 2] = Default::default();
    for i in 0..500 {
        let (g, p) = facts(5000 + i, v6);
        let b = nf::add_endpoint(&g, &[p]);
        let t0 = Instant::now();
        s.apply(&b).unwrap();
        t[0].push(ms(t0));
        let b = nf::remove_endpoint(&g, &[p]);
        let t0 = Instant::now();
        s.apply(&b).unwrap();
        t[1].push(ms(t0));
    }
    t.map(|mut v| (pct(&mut v, 0.5), pct(&mut v, 0.99)))
}

#[test]
#[ignore]
fn dual_stack_endpoint_cost() {
    let lab = Lab::new(true);
    for existing in [0u32, 1000] {
        let rows = lab.run("host", move || {
            let mut s = NftSocket::open().unwrap();
            let mut rows = vec![];
            for (host, kinds) in [("IPv4-only host", &[false][..]), ("dual-stack host", &[false, true])] {
                let v6_host = kinds.contains(&true);
                let mut nets = vec![net(false)];
                if v6_host {
                    nets[0].bridge = "pn1".into();
                    nets[0].subnet = "10.99.0.0/16".parse().unwrap();
                    nets.push(net(true));
                }
                let loaded: Vec<(GuardFacts, PortFacts)> =
                    (0..existing).map(|i| facts(i, v6_host)).collect();
                let (g, p): (Vec<_>, Vec<_>) = loaded.into_iter().unzip();
                s.apply(&nf::full(&nets, &g, &p)).unwrap();
                for &v6 in kinds {
                    let [add, del] = churn(&mut s, v6);
                    let who = if v6 { "dual-stack" } else { "IPv4-only" };
                    rows.push(format!(
                        "containers {existing:>5}, {host}, {who} container: add_endpoint median {:.4} ms p99 {:.4}; remove_endpoint median {:.4} ms p99 {:.4}",
                        add.0, add.1, del.0, del.1
                    ));
                }
            }
            rows
        });
        rows.iter().for_each(|r| println!("{r}"));
    }
}
