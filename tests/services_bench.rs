//! `cargo test --release --test services_bench -- --ignored --nocapture`:
//! the cost of `full()` with 10,000 services × 10 endpoints, and of one
//! add / remove / endpoint change / count change with 0, 1,000 and 10,000
//! services present (whole `apply()`, inside a private lab).

#[path = "common/timing.rs"]
mod timing;

#[path = "services_lab.rs"]
mod svclab;

use std::net::Ipv4Addr;
use std::time::Instant;

use podnet::kernel::nft::{Batch, NftSocket};
use podnet::model::{Backend, Proto, Service, ServicePort};
use podnet::plan::services as sv;
use timing::{ms, pct};

fn service(i: u32) -> Service {
    Service {
        name: format!("s{i}"),
        vip: Ipv4Addr::from(0x0a2b_0000 + 1 + i),
        ports: vec![ServicePort {
            port: 80,
            target_port: 8080,
            proto: Proto::Tcp,
            node_port: None,
        }],
        affinity_timeout: None,
    }
}

fn backends(i: u32, n: u32) -> Vec<Backend> {
    (0..n)
        .map(|k| Backend::new(Ipv4Addr::from(0x0a58_0000 + ((i * 10 + k) % 60000) + 2)))
        .collect()
}

fn timed(s: &mut NftSocket, b: &Batch) -> f64 {
    let t = Instant::now();
    s.apply(b).unwrap();
    ms(t)
}

#[test]
#[ignore]
fn service_transactions_at_0_1k_10k() {
    let lab = svclab::Lab::new(true);
    for existing in [0u32, 1000, 10000] {
        let out = lab.run("host", move || {
            let list: Vec<_> = (0..existing).map(|i| (service(i), backends(i, 10))).collect();
            let mut s = NftSocket::open().unwrap();
            let b = sv::full(&list);
            let t = Instant::now();
            s.apply(&b).unwrap();
            let full_ms = ms(t);
            // Make bucket_9 and bucket_10 exist, as after any 9- and
            // 10-backend service.
            let mut known = sv::bucket_sizes(list.iter().map(|(_, b)| &b[..]));
            for (id, n) in [(99999, 9), (99998, 10)] {
                s.apply(&sv::add_service(&service(id), &backends(id, n), &known))
                    .unwrap();
                known.insert(n as usize);
            }
            let sizes = known;
            let (mut add, mut rm, mut chg, mut resize) = (vec![], vec![], vec![], vec![]);
            for k in 0..200 {
                let svc = service(50000 + k);
                let be = backends(50000 + k, 10);
                add.push(timed(&mut s, &sv::add_service(&svc, &be, &sizes)));
                rm.push(timed(&mut s, &sv::remove_service(&svc, &be)));
                // One endpoint of an existing service changes (last slot).
                let target = service(k % existing.max(1));
                let old = if existing == 0 {
                    s.apply(&sv::add_service(&target, &backends(k, 10), &sizes)).unwrap();
                    backends(k, 10)
                } else {
                    backends(k % existing, 10)
                };
                let mut new = old.clone();
                new[9] = Backend::new(Ipv4Addr::new(10, 99, 0, 1));
                chg.push(timed(&mut s, &sv::set_backends(&target, &old, &new, &sizes)));
                s.apply(&sv::set_backends(&target, &new, &old, &sizes)).unwrap();
                // Its count changes: 10 -> 9 (the vmap element moves bucket).
                resize.push(timed(
                    &mut s,
                    &sv::set_backends(&target, &old, &old[..9], &sizes),
                ));
                s.apply(&sv::set_backends(&target, &old[..9], &old, &sizes)).unwrap();
                if existing == 0 {
                    s.apply(&sv::remove_service(&target, &old)).unwrap();
                }
            }
            let f = |v: &mut Vec<f64>| format!("{:.3} / {:.3}", pct(v, 0.5), pct(v, 0.9));
            format!(
                "services {existing:>6} x 10: full() {full_ms:.1} ms ({} messages); median / p90 ms: add {} | remove {} | change 1 endpoint {} | 10->9 backends {}",
                b.len(),
                f(&mut add),
                f(&mut rm),
                f(&mut chg),
                f(&mut resize)
            )
        });
        println!("{out}");
    }
    let slab = lab.sh("host", "nft list tables");
    println!("tables: {}", slab.trim().replace('\n', ", "));
}
