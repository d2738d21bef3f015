//! Anti-spoofing on container ports (issue 7, item 12), with real frames sent from inside a
//! container: gratuitous ARP and ARP requests/replies claiming a neighbour's or the gateway's
//! address, a neighbour's address added to `eth0`, a changed MAC, and the `--icc=false` case.
//! What is observed is independent of podnet: the neighbours' and the host's neighbour caches
//! (`ip -j neigh`), the bridge's forwarding database (`bridge -j fdb`) and real TCP.

mod common;

use common::*;
use podnet::testbed::Sandbox;
use serde_json::Value;
use std::time::Duration;

const HOST_PORT: u16 = 7000;

/// One container as the tests see it; `mac` is read from its `eth0` (not from podnet).
struct Ctr {
    name: String,
    ip: String,
    netns: String,
    veth: String,
    mac: String,
}

fn boxed(sb: &Sandbox, info: &Value) -> Ctr {
    let netns = s(info, "netns").to_string();
    let link = as_list(ip_json_in(sb, &netns, &["link", "show", "eth0"]));
    Ctr {
        name: s(info, "name").to_string(),
        ip: s(info, "ip").to_string(),
        veth: s(info, "host_veth").to_string(),
        mac: s(&link[0], "address").to_string(),
        netns,
    }
}

/// A network with three containers: `victim` and `witness` serve TCP 80 (replying their
/// names), `spoofer` idles; the host serves TCP 7000 on the gateway ("host").
struct World {
    sb: Sandbox,
    gw: String,
    bridge: String,
    bridge_mac: String,
    victim: Ctr,
    witness: Ctr,
    spoofer: Ctr,
}

fn world(net_args: &[&str]) -> World {
    let sb = sandbox();
    let mut create = vec!["network", "create", "n"];
    create.extend(net_args);
    podnet_ok(&sb, &create);
    let on_net = ["--network", "n"];
    let victim = run_server(&sb, "victim", &on_net, 80, "victim");
    let witness = run_server(&sb, "witness", &on_net, 80, "witness");
    let spoofer = run_server(&sb, "spoofer", &on_net, 80, "spoofer");
    let net = net_inspect(&sb, "n");
    let bridge = s(&net, "bridge").to_string();
    let gw = s(&net, "gateway").to_string();
    let ready = format!("{}/host.ready", sb.scratch());
    let mut host = nettool(&sb);
    host.args(["serve", "tcp", &HOST_PORT.to_string(), "--reply", "host"])
        .args(["--ready-file", &ready]);
    sb.spawn(host).unwrap();
    let file = sb.host_path(&ready);
    sb.wait_until("host server", Duration::from_secs(20), || file.exists())
        .unwrap();
    let br = as_list(ip_json(&sb, &["link", "show", &bridge]));
    World {
        bridge_mac: s(&br[0], "address").to_string(),
        victim: boxed(&sb, &victim),
        witness: boxed(&sb, &witness),
        spoofer: boxed(&sb, &spoofer),
        sb,
        gw,
        bridge,
    }
}

impl World {
    /// TCP from `from` (None: the host) to HOST:PORT, optionally from a given source address.
    fn tcp(
        &self,
        from: Option<&Ctr>,
        host: &str,
        port: u16,
        source: Option<&str>,
    ) -> Result<String, String> {
        let mut c = match from {
            Some(b) => nettool_in(&self.sb, &b.netns),
            None => nettool(&self.sb),
        };
        c.args(["connect", "tcp", host, &port.to_string(), "--timeout", "2"]);
        if let Some(src) = source {
            c.args(["--source", src]);
        }
        let out = output(c);
        let text = podnet::testbed::stdout(&out).trim().to_string();
        if out.status.success() {
            Ok(text)
        } else {
            Err(podnet::testbed::describe(&out))
        }
    }

    fn reply(&self, from: Option<&Ctr>, host: &str, port: u16) -> String {
        let who = from.map_or("host", |b| b.name.as_str());
        self.tcp(from, host, port, None)
            .unwrap_or_else(|e| panic!("tcp from {who} to {host}:{port}: {e}"))
    }

    /// The three containers and the host can all reach each other: this also fills the
    /// neighbour caches the attacks below try to poison.
    fn warm_up(&self) {
        for from in [&self.victim, &self.witness, &self.spoofer] {
            assert_eq!(self.reply(Some(from), &self.gw, HOST_PORT), "host");
        }
        assert_eq!(
            self.reply(Some(&self.witness), &self.victim.ip, 80),
            "victim"
        );
        assert_eq!(self.reply(None, &self.victim.ip, 80), "victim");
        assert_eq!(self.reply(None, &self.witness.ip, 80), "witness");
    }

    /// `nettool arp eth0 ...` inside `from`.
    fn arp(&self, from: &Ctr, args: &[&str]) {
        let mut c = nettool_in(&self.sb, &from.netns);
        c.args(["arp", "eth0", "--count", "2"]).args(args);
        ok(&format!("arp {args:?} from {}", from.name), output(c));
    }

    /// The MAC `at` (None: the host, on the bridge) has for `ip`, if any.
    fn neigh(&self, at: Option<&Ctr>, ip: &str) -> Option<String> {
        let (dev, list) = match at {
            Some(b) => (
                "eth0",
                ip_json_in(&self.sb, &b.netns, &["neigh", "show", ip, "dev", "eth0"]),
            ),
            None => (
                self.bridge.as_str(),
                ip_json(&self.sb, &["neigh", "show", ip, "dev", &self.bridge]),
            ),
        };
        let entries = as_list(list);
        assert!(entries.len() <= 1, "{ip} on {dev}: {entries:?}");
        entries
            .first()
            .and_then(|e| e["lladdr"].as_str())
            .map(str::to_string)
    }

    fn ip_in(&self, b: &Ctr, args: &[&str]) {
        let mut c = self.sb.in_netns(&b.netns, "ip");
        c.args(args);
        ok(&format!("ip {} in {}", args.join(" "), b.name), output(c));
    }

    /// Nobody's view of the victim or the gateway changed, and both still answer.
    fn assert_nothing_taken_over(&self, what: &str) {
        let (v, w) = (&self.victim, &self.witness);
        assert_eq!(
            self.neigh(Some(w), &v.ip).as_deref(),
            Some(v.mac.as_str()),
            "{what}: witness's entry for the victim"
        );
        assert_eq!(
            self.neigh(Some(w), &self.gw).as_deref(),
            Some(self.bridge_mac.as_str()),
            "{what}: witness's entry for the gateway"
        );
        assert_eq!(
            self.neigh(None, &v.ip).as_deref(),
            Some(v.mac.as_str()),
            "{what}: host's entry for the victim"
        );
        assert_eq!(
            self.neigh(None, &w.ip).as_deref(),
            Some(w.mac.as_str()),
            "{what}: host's entry for the witness"
        );
        assert_eq!(self.reply(Some(w), &v.ip, 80), "victim", "{what}");
        assert_eq!(self.reply(Some(w), &self.gw, HOST_PORT), "host", "{what}");
        assert_eq!(self.reply(None, &v.ip, 80), "victim", "{what}");
    }
}

/// ARP frames a spoofer sends to claim `claimed`: gratuitous (request and reply, broadcast),
/// a request to each cache holder (which a Linux host learns from at once, whatever its
/// locktime), and replies unicast to each.
fn claims(w: &World, claimed: &str) -> Vec<Vec<String>> {
    let mut frames = vec![
        vec!["--op", "request", "--target-ip", claimed],
        vec!["--op", "reply", "--target-ip", claimed],
    ];
    for (ip, mac) in [
        (&w.witness.ip, &w.witness.mac),
        (&w.gw, &w.bridge_mac),
        (&w.victim.ip, &w.victim.mac),
    ] {
        if ip != claimed {
            frames.push(vec!["--op", "request", "--target-ip", ip]);
            frames.push(vec!["--op", "reply", "--target-ip", ip, "--eth-dst", mac]);
        }
    }
    frames
        .into_iter()
        .map(|f| {
            let mut f: Vec<String> = f.into_iter().map(str::to_string).collect();
            f.extend(["--sender-ip".to_string(), claimed.to_string()]);
            f
        })
        .collect()
}

#[test]
fn gratuitous_arp_cannot_take_over_a_neighbours_or_the_gateways_address() {
    let w = world(&[]);
    w.warm_up();
    let s = &w.spoofer;
    for claimed in [w.victim.ip.clone(), w.gw.clone()] {
        for frame in claims(&w, &claimed) {
            let args: Vec<&str> = frame.iter().map(String::as_str).collect();
            w.arp(s, &args);
            // Also with the victim's MAC as the ARP sender (the frame still from the spoofer).
            let mut forged = args.clone();
            forged.extend(["--sender-mac", &w.victim.mac]);
            w.arp(s, &forged);
        }
    }
    w.assert_nothing_taken_over("after forged ARP");
}

/// Control: the spoofer's ARP for its own address passes (the witness learns it from a
/// request addressed to it), and its traffic from its own address and MAC flows.
#[test]
fn a_containers_own_arp_and_traffic_pass() {
    let w = world(&[]);
    let (s, wit) = (&w.spoofer, &w.witness);
    assert_eq!(
        w.neigh(Some(wit), &s.ip),
        None,
        "witness has not met the spoofer yet"
    );
    w.arp(
        s,
        &[
            "--op",
            "request",
            "--sender-ip",
            &s.ip,
            "--target-ip",
            &wit.ip,
        ],
    );
    assert_eq!(w.neigh(Some(wit), &s.ip).as_deref(), Some(s.mac.as_str()));
    assert_eq!(w.reply(Some(s), &wit.ip, 80), "witness");
    assert_eq!(w.reply(Some(wit), &s.ip, 80), "spoofer");
    assert_eq!(w.reply(Some(s), &w.gw, HOST_PORT), "host");
}

#[test]
fn a_neighbours_address_on_eth0_is_not_accepted_anywhere() {
    let w = world(&[]);
    w.warm_up();
    let (s, v) = (&w.spoofer, &w.victim);
    w.ip_in(s, &["addr", "add", &format!("{}/24", v.ip), "dev", "eth0"]);
    for (host, port) in [(w.gw.as_str(), HOST_PORT), (w.witness.ip.as_str(), 80)] {
        let got = w.tcp(Some(s), host, port, Some(&v.ip));
        assert!(
            got.is_err(),
            "tcp from the victim's address to {host}:{port} was accepted: {got:?}"
        );
    }
    w.assert_nothing_taken_over("after a connect from the victim's address");
    // Its own address still works, the neighbour's on its eth0 notwithstanding.
    assert_eq!(
        w.tcp(Some(s), &w.gw, HOST_PORT, Some(&s.ip)).unwrap(),
        "host"
    );
}

#[test]
fn a_changed_mac_on_eth0_cuts_the_container_off() {
    let w = world(&[]);
    w.warm_up();
    let (s, v) = (&w.spoofer, &w.victim);
    for mac in [v.mac.as_str(), "02:50:de:ad:be:ef"] {
        w.ip_in(s, &["link", "set", "dev", "eth0", "address", mac]);
        for (host, port) in [(w.gw.as_str(), HOST_PORT), (w.witness.ip.as_str(), 80)] {
            let got = w.tcp(Some(s), host, port, None);
            assert!(
                got.is_err(),
                "tcp from MAC {mac} to {host}:{port} was accepted: {got:?}"
            );
        }
        // The bridge never learned the victim's MAC on the spoofer's port.
        let fdb = as_list(fdb(&w.sb, &w.bridge));
        let ports: Vec<&str> = fdb
            .iter()
            .filter(|e| e["mac"] == v.mac.as_str())
            .filter_map(|e| e["ifname"].as_str())
            .collect();
        assert_eq!(
            ports,
            [v.veth.as_str()],
            "fdb entries for the victim's MAC: {fdb:?}"
        );
        w.assert_nothing_taken_over(&format!("with MAC {mac} on the spoofer"));
    }
    // Its own MAC back: it is let through again.
    w.ip_in(s, &["link", "set", "dev", "eth0", "address", &s.mac]);
    assert_eq!(w.reply(Some(s), &w.gw, HOST_PORT), "host");
}

/// `bridge -j fdb show br BRIDGE`.
fn fdb(sb: &Sandbox, bridge: &str) -> Value {
    let mut c = sb.cmd("bridge");
    c.args(["-j", "fdb", "show", "br", bridge]);
    parse("bridge -j fdb", &ok("bridge -j fdb", output(c)))
}

/// On an `--icc=false` network containers cannot talk to each other, but a spoofer that
/// claims the gateway's address in its neighbour's cache would still cut the neighbour off
/// from the gateway (its frames would go to the spoofer and be dropped there).
#[test]
fn on_an_icc_false_network_a_spoofer_cannot_cut_a_neighbour_off_from_the_gateway() {
    let w = world(&["--icc=false"]);
    let (s, v) = (&w.spoofer, &w.victim);
    assert_eq!(w.reply(Some(v), &w.gw, HOST_PORT), "host");
    assert_eq!(w.reply(None, &v.ip, 80), "victim");
    let got = w.tcp(Some(s), &v.ip, 80, None);
    assert!(
        got.is_err(),
        "icc=false: spoofer reached the victim: {got:?}"
    );
    for claimed in [w.gw.clone(), v.ip.clone()] {
        for frame in claims(&w, &claimed) {
            let args: Vec<&str> = frame.iter().map(String::as_str).collect();
            w.arp(s, &args);
        }
    }
    assert_eq!(
        w.neigh(Some(v), &w.gw).as_deref(),
        Some(w.bridge_mac.as_str())
    );
    assert_eq!(w.neigh(None, &v.ip).as_deref(), Some(v.mac.as_str()));
    assert_eq!(w.reply(Some(v), &w.gw, HOST_PORT), "host");
    assert_eq!(w.reply(None, &v.ip, 80), "victim");
}
