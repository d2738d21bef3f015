//! IPv6 anti-spoofing on container ports, with a malicious container (c1) sending real
//! frames in the dual-stack lab: a forged source address, a Neighbor Advertisement claiming
//! a neighbour's address, and Duplicate Address Detection probes for a neighbour's address.
//! What is observed is independent of podnet: real TCP, the host's neighbour cache
//! (`ip -j -6 neigh`) and an nft counter inside the neighbour. Every attack is first shown to
//! work without the rule that stops it, so the test cannot pass by accident.

#[path = "common/nf_facts.rs"]
mod facts;

use facts::{nettool, probe_packets};
use podnet::kernel::nft::Ruleset;
use podnet::model::Mac;
use podnet::plan::netfilter::rules::link_local;
use podnet::plan::netfilter::{self as nf, GuardFacts, NetFacts};
use podnet::testbed::thread_netns::ThreadLab as Lab;

fn nets() -> [NetFacts; 1] {
    [NetFacts {
        bridge: "pn0".into(),
        subnet: "10.88.0.0/24".parse().unwrap(),
        internal: false,
        icc: true,
        subnet6: Some("fd00:88::/64".parse().unwrap()),
        nat6: true,
    }]
}

fn mac_of(lab: &Lab, ns: &str, dev: &str) -> Mac {
    let out = lab.sh(ns, &format!("ip -j link show {dev}"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["address"].as_str().unwrap().parse().unwrap()
}

/// c1 and c2 on pn0, guarded with the MACs their eth0 really has.
fn guards(lab: &Lab) -> Vec<GuardFacts> {
    [
        ("c1", "10.88.0.2", "fd00:88::2"),
        ("c2", "10.88.0.3", "fd00:88::3"),
    ]
    .iter()
    .map(|(c, ip, ip6)| GuardFacts {
        port: format!("v{c}"),
        mac: mac_of(lab, c, "eth0"),
        ip: ip.parse().unwrap(),
        ip6: Some(ip6.parse().unwrap()),
    })
    .collect()
}

/// The bridge prerouting chain without the rules whose text contains `what` (a control).
fn without(rs: &mut Ruleset, what: &str) -> Ruleset {
    let t = rs
        .tables
        .iter_mut()
        .find(|t| t.table.family == podnet::kernel::nft::Family::Bridge)
        .unwrap();
    let before = t.rules.len();
    t.rules.retain(|r| !format!("{:?}", r.stmts).contains(what));
    assert!(t.rules.len() < before, "no rule contains {what}");
    rs.clone()
}

fn host_neigh_mac(lab: &Lab, ip: &str) -> String {
    let out = lab.sh("host", &format!("ip -j -6 neigh show {ip} dev pn0"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["lladdr"].as_str().unwrap_or_default().to_string()
}

/// `dev`'s link-local address as the kernel lists it.
fn kernel_link_local(lab: &Lab, ns: &str, dev: &str) -> String {
    let out = lab.sh(ns, &format!("ip -j -6 addr show dev {dev} scope link"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a["local"].as_str())
        .unwrap_or_else(|| panic!("{ns}: {dev} has no link-local address: {out}"))
        .to_string()
}

/// The link-local address the plan allows is the one the kernel gave eth0 (EUI-64 of its MAC).
#[test]
fn the_kernel_gives_eth0_the_eui64_link_local_address() {
    let lab = Lab::new(true).with_ipv6(true);
    for c in ["c1", "c2"] {
        assert_eq!(
            kernel_link_local(&lab, c, "eth0"),
            link_local(mac_of(&lab, c, "eth0").0).to_string(),
            "{c}"
        );
    }
}

/// Own addresses work (global, link-local, IPv4); a forged source does not get through.
#[test]
fn a_container_sends_only_from_its_own_addresses() {
    for br_netfilter in [true, false] {
        let mut lab = Lab::new(br_netfilter).with_ipv6(br_netfilter);
        lab.tcp_server6("c2", 80, "c2");
        lab.tcp_server("c2", 80, "c2");
        let g = guards(&lab);
        lab.apply(nf::full(&nets(), &g, &[])).unwrap();
        let what = |w: &str| format!("{w} (br_netfilter {br_netfilter})");
        assert_eq!(lab.tcp("c1", "[fd00:88::3]:80").unwrap(), "c2 fd00:88::2");
        assert_eq!(lab.tcp("c1", "10.88.0.3:80").unwrap(), "c2 10.88.0.2");
        // Link-local, to the gateway's link-local address.
        let gw_ll = kernel_link_local(&lab, "host", "pn0");
        lab.sh(
            "c1",
            &format!(
                "python3 {} reach {gw_ll}%eth0 --port 9 --timeout 2",
                nettool()
            ),
        );
        // A neighbour's address as the source (added to eth0 so the kernel uses it).
        lab.sh("c1", "ip addr add fd00:88::3/128 dev eth0 nodad");
        let forged = format!(
            "python3 {} connect tcp fd00:88::1 7000 --source fd00:88::3 --timeout 1.5",
            nettool()
        );
        lab.tcp_server6("host", 7000, "host");
        let attempt = |lab: &Lab| {
            lab.run("c1", {
                let cmd = forged.clone();
                move || {
                    std::process::Command::new("sh")
                        .args(["-c", &cmd])
                        .status()
                        .unwrap()
                        .success()
                }
            })
        };
        assert!(!attempt(&lab), "{}", what("forged source reached the host"));
        // Control: the same attempt with the spoofer's port unguarded gets through.
        let rs = nf::ruleset(&nets(), &g[1..], &[]);
        lab.apply(rs.replace_batch()).unwrap();
        assert!(attempt(&lab), "{}", what("control"));
    }
}

/// An unsolicited Neighbor Advertisement (Override set) from c1 claiming c2's address, from
/// c1's own global and link-local address: the host keeps c2's MAC for it. Control: without
/// the NA rule the same frames move the host's entry to c1's MAC.
#[test]
fn a_forged_neighbor_advertisement_is_dropped() {
    let lab = Lab::new(true).with_ipv6(true);
    let g = guards(&lab);
    let (c1_mac, c2_mac) = (g[0].mac.to_string(), g[1].mac.to_string());
    let c1_ll = link_local(g[0].mac.0).to_string();
    let attack = |lab: &Lab| {
        lab.sh(
            "host",
            &format!(
                "python3 {} reach fd00:88::3 --port 9 --timeout 2",
                nettool()
            ),
        );
        assert_eq!(
            host_neigh_mac(lab, "fd00:88::3"),
            c2_mac,
            "before the attack"
        );
        for src in ["fd00:88::2", c1_ll.as_str()] {
            lab.sh(
                "c1",
                &format!(
                    "python3 {} raw6 eth0 --kind na --src {src} --dst ff02::1 --target fd00:88::3",
                    nettool()
                ),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        host_neigh_mac(lab, "fd00:88::3")
    };
    let mut rs = nf::ruleset(&nets(), &g, &[]);
    lab.apply(rs.replace_batch()).unwrap();
    assert_eq!(attack(&lab), c2_mac, "the host's entry for c2 was poisoned");
    // Control.
    lab.apply(without(&mut rs, "NdTarget], set: \"port_sources6\", invert: true").replace_batch())
        .unwrap();
    assert_eq!(attack(&lab), c1_mac, "control: the forged NA did not land");
}

/// Duplicate Address Detection from `::`: for its own address it passes (c2's counter sees
/// it); for c2's address, which would make c2 give up a tentative address, it does not.
/// Control: from an unguarded port the forged probe arrives.
#[test]
fn dad_probes_only_for_own_addresses() {
    let lab = Lab::new(true).with_ipv6(true);
    lab.sh(
        "c2",
        "nft add table ip6 probe && nft add chain ip6 probe in '{ type filter hook input priority 0; }' \
         && nft add rule ip6 probe in ip6 saddr :: icmpv6 type nd-neighbor-solicit counter",
    );
    let g = guards(&lab);
    let probe = |target: &str| {
        let before = probe_packets(&lab, "c2");
        // To c2's solicited-node group, which c2 has joined.
        lab.sh(
            "c1",
            &format!(
                "python3 {} raw6 eth0 --kind ns --src :: --dst ff02::1:ff00:3 --target {target}",
                nettool()
            ),
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        probe_packets(&lab, "c2") - before
    };
    lab.apply(nf::full(&nets(), &g, &[])).unwrap();
    assert!(probe("fd00:88::2") > 0, "DAD for its own address");
    assert_eq!(probe("fd00:88::3"), 0, "DAD for c2's address got through");
    lab.apply(nf::full(&nets(), &g[1..], &[])).unwrap();
    assert!(probe("fd00:88::3") > 0, "control: unguarded");
}
