//! `--icc=false` over IPv6 link-local: two containers of an `--icc=false` dual-stack network
//! must not reach each other at all, fe80:: addresses included. Link-local frames are
//! bridged between the two ports, never routed, so without br_netfilter no inet hook sees
//! them: only the bridge table can stop them. Real traffic both ways (TCP and ping over
//! `fe80::…%eth0`), with an `--icc=true` network beside it as the control that the same
//! exchange works when allowed.

mod common;

use common::publish::*;
use common::*;
use podnet::testbed::Lab;
use serde_json::Value;

const PORT: u16 = 80;

/// Gives container `name` its EUI-64 link-local address (podnet leaves `eth0` without one;
/// it is the one link-local source anti-spoofing lets through) and a permanent neighbour
/// entry for `peer`, so what is tested is the data frames, not neighbour discovery.
fn link_local_to(lab: &Lab, name: &str, own: &Value, peer: &Value) -> String {
    let ll = |c: &Value| {
        let mac: podnet::model::Mac = s(c, "mac").parse().unwrap();
        podnet::plan::netfilter::rules::link_local(mac.0).to_string()
    };
    let (mine, theirs) = (ll(own), ll(peer));
    let script = format!(
        "ip -6 addr add {mine}/64 dev eth0 nodad && \
         ip -6 neigh replace {theirs} lladdr {} dev eth0 nud permanent",
        s(peer, "mac")
    );
    ok(
        &format!("link-local in {name}"),
        lab.host.podnet(["exec", name, "--", "sh", "-c", &script]),
    );
    format!("{theirs}%eth0")
}

fn ping(lab: &Lab, from: &str, to: &str) -> bool {
    lab.host
        .podnet([
            "exec", from, "--", "ping", "-6", "-n", "-c", "1", "-W", "2", to,
        ])
        .status
        .success()
}

#[test]
fn icc_false_blocks_ipv6_link_local_between_containers() {
    let lab = lab();
    podnet_ok(&lab.host, &["network", "create", "open", "--ipv6"]);
    podnet_ok(
        &lab.host,
        &["network", "create", "quiet", "--ipv6", "--icc=false"],
    );
    let tcp = [("tcp", PORT)];
    let mut pairs = vec![];
    for (net, allowed) in [("open", true), ("quiet", false)] {
        let (a, b) = (format!("{net}1"), format!("{net}2"));
        let extra = ["--network", net];
        let ia = run_servers_on(&lab.host, &a, &extra, &tcp, "::");
        let ib = run_servers_on(&lab.host, &b, &extra, &tcp, "::");
        let to_b = link_local_to(&lab, &a, &ia, &ib);
        let to_a = link_local_to(&lab, &b, &ib, &ia);
        pairs.push((allowed, [(a.clone(), to_b, b.clone()), (b, to_a, a)]));
    }
    // With br_netfilter the ip6 forward chain also sees bridged frames; without it (hosts
    // that never load it) only the bridge table does. Both must hold.
    for br_nf in [1, 0] {
        ok(
            "bridge-nf-call-ip6tables",
            lab.host.sh(&format!(
                "sysctl -qw net.bridge.bridge-nf-call-ip6tables={br_nf}"
            )),
        );
        for (allowed, ways) in &pairs {
            for (from, to, server) in ways {
                let what = format!("{from} -> {to} (bridge-nf-call-ip6tables={br_nf})");
                let got = try_connect(&lab, At::Container(from), "tcp", to, PORT, 2.0);
                let pinged = ping(&lab, from, to);
                if *allowed {
                    let reply = got.unwrap_or_else(|e| panic!("{what}: tcp failed: {e}"));
                    assert!(
                        reply.starts_with(&reply_of(server, "tcp", PORT)),
                        "{what}: {reply}"
                    );
                    assert!(pinged, "{what}: ping failed");
                } else {
                    assert!(got.is_err(), "{what}: tcp answered {got:?}");
                    assert!(!pinged, "{what}: ping answered");
                }
            }
        }
        // The quiet containers still reach their gateway over IPv6 (what a blanket drop of
        // the network's IPv6 would break).
        let gw6 = s(&inspect(&lab.host, "quiet1"), "gateway6").to_string();
        assert!(ping(&lab, "quiet1", &gw6), "quiet1 -> gateway {gw6}");
    }
}
