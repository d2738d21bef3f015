//! `cargo test --release --test services6_bench -- --ignored --nocapture`: the full load of
//! the services tables (what `podnet gc` and a repair send: plan built and applied, one
//! transaction per table) at 10,000 IPv4-only services beside 10,000 dual-stack ones
//! (`ip podnet-svc` + `ip6 podnet-svc`), 10 endpoints per family each, in one run inside a
//! private lab. A benchmark, not a test: it asserts nothing about time.

#[path = "services_lab.rs"]
mod svclab;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use podnet::kernel::nft::NftSocket;
use podnet::model::{BackendOf, Proto, ServiceOf, ServicePort};
use podnet::plan::services as sv;

fn ports() -> Vec<ServicePort> {
    vec![ServicePort {
        port: 80,
        target_port: 8080,
        proto: Proto::Tcp,
        node_port: None,
    }]
}

fn svc<A>(i: u32, vip: A) -> ServiceOf<A> {
    ServiceOf {
        name: format!("s{i}"),
        vip,
        ports: ports(),
        affinity_timeout: None,
    }
}

fn v4(n: u32) -> Vec<(ServiceOf<Ipv4Addr>, Vec<BackendOf<Ipv4Addr>>)> {
    (0..n)
        .map(|i| {
            let b = (0..10)
                .map(|k| BackendOf::new(Ipv4Addr::from(0x0a58_0000 + ((i * 10 + k) % 60000) + 2)))
                .collect();
            (svc(i, Ipv4Addr::from(0x0a2b_0000 + 1 + i)), b)
        })
        .collect()
}

fn v6(n: u32) -> Vec<(ServiceOf<Ipv6Addr>, Vec<BackendOf<Ipv6Addr>>)> {
    let base = u128::from(Ipv6Addr::new(0xfd00, 0x43, 0, 0, 0, 0, 0, 0));
    let be = u128::from(Ipv6Addr::new(0xfd00, 0x88, 0, 0, 0, 0, 0, 0));
    (0..n)
        .map(|i| {
            let b = (0..10)
                .map(|k| BackendOf::new(Ipv6Addr::from(be + u128::from((i * 10 + k) % 60000) + 2)))
                .collect();
            (svc(i, Ipv6Addr::from(base + 1 + u128::from(i))), b)
        })
        .collect()
}

fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[((v.len() - 1) as f64 * 0.9) as usize])
}

#[test]
#[ignore]
fn full_load_10k_ipv4_beside_10k_dual_stack() {
    const N: u32 = 10_000;
    const TRIALS: usize = 7;
    let lab = svclab::Lab::new(true);
    let out = lab.run("host", move || {
        let (l4, l6) = (v4(N), v6(N));
        let mut s = NftSocket::open().unwrap();
        let (mut only4, mut dual, mut only6) = (vec![], vec![], vec![]);
        for _ in 0..TRIALS {
            // IPv4-only: ip podnet-svc from nothing.
            s.apply(&sv::delete_all()).unwrap();
            s.apply(&sv::delete_all_of::<Ipv6Addr>()).unwrap();
            let t = Instant::now();
            s.apply(&sv::full(&l4)).unwrap();
            only4.push(t.elapsed().as_secs_f64() * 1e3);
            // Dual-stack: both tables from nothing, as `podnet gc` sends them.
            s.apply(&sv::delete_all()).unwrap();
            let t = Instant::now();
            s.apply(&sv::full(&l4)).unwrap();
            let t6 = Instant::now();
            s.apply(&sv::full(&l6)).unwrap();
            only6.push(t6.elapsed().as_secs_f64() * 1e3);
            dual.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (a, b, c) = (stats(&mut only4), stats(&mut dual), stats(&mut only6));
        format!(
            "full load, plan built and applied, median / p90 of {TRIALS}:\n\
             10,000 IPv4-only services x 10 endpoints: {:.0} / {:.0} ms\n\
             10,000 dual-stack services x 10 + 10 endpoints (both tables): {:.0} / {:.0} ms\n\
             of which ip6 podnet-svc: {:.0} / {:.0} ms",
            a.0, a.1, b.0, b.1, c.0, c.1
        )
    });
    println!("{out}");
}
