//! The kube-proxy sandbox: the same services in kube-proxy's iptables-mode layout.

use crate::bench::{ms_since, podnet_json, sandbox_setup, Recorder};
use crate::common::netns_inode;
use crate::opts::Opts;
use crate::podnet_bin;
use crate::traffic::{backends_and_client, connects};
use serde_json::json;
use std::fs::{self, File};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ kube-proxy layout ---

/// A stable 16-hex-digit name part, as kube-proxy's base32 hashes.
pub(crate) fn hash16(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `iptables-restore` input for `vips` services, each with every backend as an endpoint, as
/// kube-proxy's iptables mode writes the nat table (proxier.go: KUBE-SERVICES → KUBE-SVC-* →
/// KUBE-SEP-* with `statistic --probability 1/(n-i)`, KUBE-MARK-MASQ, KUBE-POSTROUTING).
pub(crate) fn kube_rules(vips: &[Ipv4Addr], eps: &[Ipv4Addr], cluster_cidr: &str) -> String {
    use std::fmt::Write as _;
    let mut chains = String::new();
    let mut rules = String::new();
    let c = &mut chains;
    let r = &mut rules;
    for ch in [
        "KUBE-SERVICES",
        "KUBE-NODEPORTS",
        "KUBE-POSTROUTING",
        "KUBE-MARK-MASQ",
    ] {
        writeln!(c, ":{ch} - [0:0]").unwrap();
    }
    writeln!(
        r,
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
    )
    .unwrap();
    writeln!(
        r,
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
    )
    .unwrap();
    writeln!(
        r,
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
    )
    .unwrap();
    writeln!(r, "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000").unwrap();
    writeln!(
        r,
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
    )
    .unwrap();
    writeln!(r, "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000").unwrap();
    writeln!(r, "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully").unwrap();
    let n = eps.len();
    for (i, vip) in vips.iter().enumerate() {
        let sname = format!("default/s{i}:http");
        let svc = format!("KUBE-SVC-{}", hash16(&sname));
        writeln!(c, ":{svc} - [0:0]").unwrap();
        writeln!(r, "-A KUBE-SERVICES -d {vip}/32 -p tcp -m comment --comment \"{sname} cluster IP\" -m tcp --dport 80 -j {svc}").unwrap();
        writeln!(r, "-A {svc} ! -s {cluster_cidr} -d {vip}/32 -p tcp -m comment --comment \"{sname} cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ").unwrap();
        for (k, ep) in eps.iter().enumerate() {
            let sep = format!("KUBE-SEP-{}", hash16(&format!("{sname}{ep}")));
            writeln!(c, ":{sep} - [0:0]").unwrap();
            if k + 1 < n {
                writeln!(r, "-A {svc} -m comment --comment \"{sname} -> {ep}:8080\" -m statistic --mode random --probability {:.10} -j {sep}", 1.0 / (n - k) as f64).unwrap();
            } else {
                writeln!(
                    r,
                    "-A {svc} -m comment --comment \"{sname} -> {ep}:8080\" -j {sep}"
                )
                .unwrap();
            }
            writeln!(
                r,
                "-A {sep} -s {ep}/32 -m comment --comment \"{sname}\" -j KUBE-MARK-MASQ"
            )
            .unwrap();
            writeln!(r, "-A {sep} -p tcp -m comment --comment \"{sname}\" -m tcp -j DNAT --to-destination {ep}:8080").unwrap();
        }
    }
    writeln!(r, "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS").unwrap();
    format!(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n{chains}{rules}COMMIT\n"
    )
}

pub(crate) fn inner_kube(opts: &Opts) {
    let inside = sandbox_setup();
    let podnet: &'static str = Box::leak(podnet_bin(opts).into_boxed_str());
    eprintln!(
        "kube-proxy-layout sandbox ready (netns inode {}); containers by podnet, no podnet service",
        netns_inode()
    );
    let (backend_ips, client) = backends_and_client(podnet, opts.backends);
    let net = podnet_json(podnet, &["network", "inspect", "podnet0"]);
    let cidr = net["subnet"].as_str().expect("subnet").to_string();
    let mut rec = Recorder::new(&inside.records);
    // The same VIPs podnet allocates (10.43.0.1 is the probe service there; bulk from .2).
    let base = u32::from(Ipv4Addr::new(10, 43, 0, 2));
    let rules_file = PathBuf::from("/run/kube-rules.txt");
    for &n in &opts.levels {
        let vips: Vec<Ipv4Addr> = (0..n as u32 - 1)
            .map(|i| Ipv4Addr::from(base + i))
            .collect();
        fs::write(&rules_file, kube_rules(&vips, &backend_ips, &cidr)).expect("write rules");
        let t0 = Instant::now();
        let st = Command::new("iptables-restore")
            .arg("-w")
            .stdin(File::open(&rules_file).expect("open rules"))
            .status()
            .expect("run iptables-restore");
        assert!(st.success(), "iptables-restore failed: {st}");
        let load = ms_since(t0);
        eprintln!(
            "level n={n}: iptables-restore of {} services took {load:.0} ms",
            vips.len()
        );
        rec.record(
            "kube",
            "iptables_restore",
            n,
            "ms",
            &[load],
            json!({"rules_bytes": fs::metadata(&rules_file).map(|m| m.len()).unwrap_or(0)}),
        );
        std::thread::sleep(Duration::from_millis(300));
        let (v, d, fv, fd) = connects(&client, &vips, &backend_ips, opts.conns, 42);
        rec.record(
            "kube",
            "connect_vip",
            n,
            "µs",
            &v,
            json!({"failures": fv, "vips": vips.len()}),
        );
        rec.record(
            "kube",
            "connect_direct",
            n,
            "µs",
            &d,
            json!({"failures": fd}),
        );
    }
}
