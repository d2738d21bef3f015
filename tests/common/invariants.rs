//! The invariant checker: what podnet's store says must exist, compared with what the kernel
//! has. The store is read straight from its SQLite file (not through podnet), the kernel
//! through `ip -j`, `nft -j` and `/proc` inside the sandbox, so neither view is podnet's
//! own account of itself. Run it when no podnet command is in flight (after a final `gc`).
//!
//! The invariants (docs/architecture.md lists them too):
//! 1. Every record is settled: networks and endpoints are `ready`; none is `creating` or
//!    `removing` with its process gone.
//! 2. Every network's bridge exists, is a bridge, is up and holds the gateway address.
//! 3. Every bridge endpoint's host veth exists on its network's bridge; its namespace exists;
//!    inside it `eth0` holds the leased address, has the MAC recorded for it, and the default
//!    route goes via the gateway; on a dual-stack network also its leased IPv6 address (with
//!    the IPv6 subnet's prefix) and the IPv6 default route via the IPv6 gateway.
//! 4. Nothing podnet-named exists without a record: no `pnv*` link, no namespace mount.
//! 5. Leases: every bridge endpoint has exactly its one lease per family its network has
//!    (one, two on a dual-stack network), each its recorded address; no other endpoint has one.
//! 6. Netfilter matches the store element for element: networks (bridges, subnets,
//!    masquerade, internal, icc), published ports (ports, ports_any), services (VIP dispatch
//!    to a bucket sized by the live backends, and those backends in `eps`), anti-spoofing
//!    (`container_ports`: every bridge endpoint's host veth; `port_sources`: `veth . MAC .
//!    address` of each; none for a row being removed); no service table without a service.
//!    A runtime attachment (CNI, netavark) is a bridge endpoint on its recorded network whose
//!    interface is the one recorded (`eth0` above is that interface).
//! 7. No leaked process: every process in the sandbox lives in the host namespace or in the
//!    namespace of a recorded container.

use super::*;
use podnet::testbed::{Sandbox, SANDBOX_STATE_DIR};
use rusqlite::Connection;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// podnet's records, read straight from the store.
#[derive(Debug, Default)]
pub struct StoreView {
    pub networks: Vec<NetRow>,
    pub endpoints: Vec<EpRow>,
    /// (network id, ip, endpoint id)
    pub leases: Vec<(i64, String, i64)>,
    /// (endpoint id, host ip or "", host port, container port, proto)
    pub ports: Vec<(i64, String, u16, u16, String)>,
    pub services: Vec<SvcRow>,
    /// Runtime attachments (CNI, netavark).
    pub runtime: Vec<RuntimeRow>,
}

/// A row of `runtime_attachments`.
#[derive(Debug, Clone)]
pub struct RuntimeRow {
    pub endpoint_id: i64,
    pub network_id: i64,
    pub container_id: String,
    pub ifname: String,
    pub runtime: String,
    pub k8s_namespace: Option<String>,
    pub k8s_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NetRow {
    pub id: i64,
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
    pub internal: bool,
    pub icc: bool,
    pub state: String,
    /// A dual-stack network's IPv6 subnet and gateway.
    pub subnet6: Option<String>,
    pub gateway6: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EpRow {
    pub id: i64,
    pub name: String,
    pub mode: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    /// The IPv6 address on a dual-stack network.
    pub ip6: Option<String>,
    pub host_veth: Option<String>,
    pub netns: Option<String>,
    pub netns_owned: bool,
    pub pid: Option<(i32, u64)>,
    pub state: String,
    pub draining: bool,
    pub labels: BTreeMap<String, String>,
    /// eth0's MAC (bridge endpoints; NULL for rows made before anti-spoofing).
    pub mac: Option<String>,
    /// The interface's name inside the namespace (`eth0` unless a runtime named it).
    pub ifname: String,
    /// A container's later network (`network connect`): no default route of its own.
    pub member: bool,
}

#[derive(Debug, Clone)]
pub struct SvcRow {
    pub name: String,
    pub vip: String,
    /// (port, target port, proto)
    pub ports: Vec<(u16, u16, String)>,
    pub selector: Option<BTreeMap<String, String>>,
    /// (container, port override)
    pub backends: Vec<(String, Option<u16>)>,
}

fn q<T, F: FnMut(&rusqlite::Row) -> rusqlite::Result<T>>(
    c: &Connection,
    sql: &str,
    f: F,
) -> Vec<T> {
    let mut st = c
        .prepare(sql)
        .unwrap_or_else(|e| panic!("store query {sql}: {e}"));
    let rows = st
        .query_map([], f)
        .unwrap_or_else(|e| panic!("store query {sql}: {e}"))
        .collect::<rusqlite::Result<Vec<T>>>()
        .unwrap_or_else(|e| panic!("store query {sql}: {e}"));
    rows
}

fn pairs(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Read the store of `sb` (at its default state dir) directly.
pub fn store_view(sb: &Sandbox) -> StoreView {
    let path = sb.host_path(format!("{SANDBOX_STATE_DIR}/podnet.db"));
    if !path.exists() {
        return StoreView::default();
    }
    // SQLite resolves the /proc/PID/root symlink to this process's own root, where the file is
    // not: read a copy (the caller has quiesced podnet; the WAL copy carries the last commits).
    let copy = std::env::temp_dir().join(format!(
        "podnet-invariants-{}-{}",
        std::process::id(),
        sb.holder_pid()
    ));
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["podnet.db", "podnet.db-wal"] {
        let from = path.with_file_name(f);
        if from.exists() {
            std::fs::copy(&from, copy.join(f))
                .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        } else {
            let _ = std::fs::remove_file(copy.join(f));
        }
    }
    let _ = std::fs::remove_file(copy.join("podnet.db-shm"));
    let c = Connection::open(copy.join("podnet.db"))
        .unwrap_or_else(|e| panic!("open a copy of {}: {e}", path.display()));
    let networks = q(
        &c,
        "SELECT id, name, bridge, subnet, gateway, internal, icc, state, subnet6, gateway6 FROM networks ORDER BY id",
        |r| {
            Ok(NetRow {
                id: r.get(0)?,
                name: r.get(1)?,
                bridge: r.get(2)?,
                subnet: r.get(3)?,
                gateway: r.get(4)?,
                internal: r.get(5)?,
                icc: r.get(6)?,
                state: r.get(7)?,
                subnet6: r.get(8)?,
                gateway6: r.get(9)?,
            })
        },
    );
    let labels: Vec<(i64, String, String)> =
        q(&c, "SELECT endpoint_id, key, value FROM labels", |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        });
    let mut endpoints = q(
        &c,
        "SELECT id, name, mode, target, ip, host_veth, netns, netns_owned, pid, pid_start, state, draining, mac,
           coalesce(ifname, 'eth0'), ip6,
           EXISTS(SELECT 1 FROM container_networks m WHERE m.endpoint_id = endpoints.id)
         FROM endpoints ORDER BY id",
        |r| {
            let pid: Option<i32> = r.get(8)?;
            let start: Option<i64> = r.get(9)?;
            Ok(EpRow {
                id: r.get(0)?,
                name: r.get(1)?,
                mode: r.get(2)?,
                target: r.get(3)?,
                ip: r.get(4)?,
                host_veth: r.get(5)?,
                netns: r.get(6)?,
                netns_owned: r.get(7)?,
                pid: pid.zip(start.map(|s| s as u64)),
                state: r.get(10)?,
                draining: r.get(11)?,
                labels: BTreeMap::new(),
                mac: r.get(12)?,
                ifname: r.get(13)?,
                ip6: r.get(14)?,
                member: r.get(15)?,
            })
        },
    );
    for (id, k, v) in labels {
        if let Some(e) = endpoints.iter_mut().find(|e| e.id == id) {
            e.labels.insert(k, v);
        }
    }
    let runtime = q(
        &c,
        "SELECT endpoint_id, network_id, container_id, ifname, runtime, k8s_namespace, k8s_name
         FROM runtime_attachments ORDER BY endpoint_id",
        |r| {
            Ok(RuntimeRow {
                endpoint_id: r.get(0)?,
                network_id: r.get(1)?,
                container_id: r.get(2)?,
                ifname: r.get(3)?,
                runtime: r.get(4)?,
                k8s_namespace: r.get(5)?,
                k8s_name: r.get(6)?,
            })
        },
    );
    let leases = q(&c, "SELECT network_id, ip, endpoint_id FROM leases", |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    });
    let ports = q(
        &c,
        "SELECT endpoint_id, host_ip, host_port, container_port, proto FROM ports",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    );
    let svc_rows: Vec<(i64, String, String, Option<String>)> = q(
        &c,
        "SELECT id, name, vip, selector FROM services ORDER BY id",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    );
    let svc_ports: Vec<(i64, u16, u16, String)> = q(
        &c,
        "SELECT service_id, port, target_port, proto FROM service_ports",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    );
    let svc_backends: Vec<(i64, String, Option<u16>)> = q(
        &c,
        "SELECT service_id, container, port FROM service_backends",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    let services = svc_rows
        .into_iter()
        .map(|(id, name, vip, sel)| SvcRow {
            name,
            vip,
            ports: svc_ports
                .iter()
                .filter(|p| p.0 == id)
                .map(|p| (p.1, p.2, p.3.clone()))
                .collect(),
            selector: sel.map(|s| pairs(&s)),
            backends: svc_backends
                .iter()
                .filter(|b| b.0 == id)
                .map(|b| (b.1.clone(), b.2))
                .collect(),
        })
        .collect();
    drop(c);
    let _ = std::fs::remove_dir_all(&copy);
    StoreView {
        networks,
        endpoints,
        leases,
        ports,
        services,
        runtime,
    }
}

/// Whether the process recorded as (pid, start time) still runs: the same check podnet
/// makes, done here from outside (PIDs inside the sandbox are its own PID namespace's).
fn alive_in(sb: &Sandbox, pid: (i32, u64)) -> bool {
    let stat = sb.host_path(format!("/proc/{}/stat", pid.0));
    let Ok(text) = std::fs::read_to_string(stat) else {
        return false;
    };
    let Some(rest) = text.rfind(')').map(|i| &text[i + 2..]) else {
        return false;
    };
    let f: Vec<&str> = rest.split(' ').collect();
    let state = f.first().copied().unwrap_or("X");
    f.get(19).and_then(|s| s.parse::<u64>().ok()) == Some(pid.1) && state != "Z" && state != "X"
}

/// The elements of every set and map of every podnet table, as normalised strings
/// (`family table set` → elements).
pub fn nft_elements(sb: &Sandbox) -> BTreeMap<String, BTreeSet<String>> {
    let mut c = sb.cmd("nft");
    c.args(["-j", "list", "ruleset"]);
    let v = parse("nft -j list ruleset", &ok("nft -j list ruleset", output(c)));
    let mut out = BTreeMap::new();
    for o in as_list(v["nftables"].clone()) {
        let Some(set) = o.get("set").or_else(|| o.get("map")) else {
            continue;
        };
        let table = s(set, "table");
        if !table.starts_with("podnet") {
            continue;
        }
        let key = format!("{} {} {}", s(set, "family"), table, s(set, "name"));
        let elems: BTreeSet<String> = set
            .get("elem")
            .and_then(|e| e.as_array())
            .map(|a| a.iter().map(norm).collect())
            .unwrap_or_default();
        out.insert(key, elems);
    }
    out
}

/// One nft JSON element (or part of one) as text: `a . b . c` for concatenations,
/// `key : value` for map entries, `addr/len` for prefixes, `@target` for verdicts.
fn norm(v: &Value) -> String {
    match v {
        Value::Array(kv) if kv.len() == 2 => format!("{} : {}", norm(&kv[0]), norm(&kv[1])),
        Value::Object(o) => {
            if let Some(c) = o.get("concat") {
                as_list(c.clone())
                    .iter()
                    .map(norm)
                    .collect::<Vec<_>>()
                    .join(" . ")
            } else if let Some(p) = o.get("prefix") {
                format!("{}/{}", norm(&p["addr"]), p["len"])
            } else if let Some(e) = o.get("elem") {
                norm(&e["val"])
            } else if let Some(g) = o.get("goto") {
                format!("goto {}", norm(&g["target"]))
            } else if let Some(j) = o.get("jump") {
                format!("jump {}", norm(&j["target"]))
            } else if let Some(r) = o.get("range") {
                format!("{}-{}", norm(&r[0]), norm(&r[1]))
            } else {
                Value::Object(o.clone()).to_string()
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn set_of<I: IntoIterator<Item = String>>(i: I) -> BTreeSet<String> {
    i.into_iter().collect()
}

/// Compare what the store says with what the kernel has; every difference, one line each.
pub fn violations(sb: &Sandbox) -> Vec<String> {
    let st = store_view(sb);
    let mut bad = Vec::new();
    let links = as_list(ip_json(sb, &["-d", "link"]));
    let link = |name: &str| links.iter().find(|l| l["ifname"] == name).cloned();
    let addrs = ip_json(sb, &["addr"]);

    // 1. settled records
    for n in st.networks.iter().filter(|n| n.state != "ready") {
        bad.push(format!("network {} is {}", n.name, n.state));
    }
    for e in st.endpoints.iter().filter(|e| e.state != "ready") {
        bad.push(format!("container {} is {}", e.name, e.state));
    }
    // A runtime attachment is a bridge endpoint on its recorded network, with its interface.
    for r in &st.runtime {
        let ep = st.endpoints.iter().find(|e| e.id == r.endpoint_id);
        let net = st.networks.iter().find(|n| n.id == r.network_id);
        match (ep, net) {
            (Some(e), Some(n))
                if e.mode == "bridge"
                    && e.target.as_deref() == Some(n.name.as_str())
                    && e.ifname == r.ifname => {}
            _ => bad.push(format!(
                "runtime attachment {} {} does not match its endpoint {ep:?} / network {net:?}",
                r.container_id, r.ifname
            )),
        }
    }

    // 2. bridges
    for n in &st.networks {
        match link(&n.bridge) {
            None => bad.push(format!("network {}: bridge {} missing", n.name, n.bridge)),
            Some(l) => {
                if l["linkinfo"]["info_kind"] != "bridge" {
                    bad.push(format!(
                        "network {}: {} is not a bridge: {l}",
                        n.name, n.bridge
                    ));
                }
                let flags = l["flags"].to_string();
                if !flags.contains("\"UP\"") {
                    bad.push(format!("network {}: bridge {} is down", n.name, n.bridge));
                }
                let prefix = n.subnet.split('/').nth(1).unwrap_or("?");
                let want = format!("{}/{prefix}", n.gateway);
                let have: Vec<String> = v4_addrs(&addrs, &n.bridge)
                    .iter()
                    .map(|a| a.to_string())
                    .collect();
                if !have.contains(&want) {
                    bad.push(format!(
                        "network {}: bridge {} has {have:?}, not {want}",
                        n.name, n.bridge
                    ));
                }
            }
        }
    }

    // 3. endpoints in the kernel
    let mounts = netns_leftovers(sb);
    let mut netns_inodes: BTreeMap<u64, String> = BTreeMap::new();
    for e in &st.endpoints {
        let Some(ns) = &e.netns else { continue };
        if e.mode == "container" {
            continue; // shares the namespace of the container it joined
        }
        let ino = sb
            .sh(&format!("stat -L -c %i '{ns}'"))
            .stdout
            .iter()
            .map(|b| *b as char)
            .collect::<String>()
            .trim()
            .parse::<u64>()
            .ok();
        let Some(ino) = ino else {
            bad.push(format!("container {}: namespace {ns} is gone", e.name));
            continue;
        };
        netns_inodes.insert(ino, e.name.clone());
        if e.netns_owned && !mounts.contains(&format!("mount {ns}")) {
            bad.push(format!(
                "container {}: namespace {ns} is not mounted",
                e.name
            ));
        }
        if e.mode != "bridge" {
            continue;
        }
        let Some(net) = st
            .networks
            .iter()
            .find(|n| Some(&n.name) == e.target.as_ref())
        else {
            bad.push(format!(
                "container {}: network {:?} has no record",
                e.name, e.target
            ));
            continue;
        };
        let veth = e.host_veth.clone().unwrap_or_default();
        match link(&veth) {
            None => bad.push(format!("container {}: host veth {veth} missing", e.name)),
            Some(l) => {
                if l["master"] != net.bridge.as_str() {
                    bad.push(format!(
                        "container {}: {veth} is on {}, not {}",
                        e.name, l["master"], net.bridge
                    ));
                }
            }
        }
        let inside = ip_json_in(sb, ns, &["addr"]);
        let prefix = net.subnet.split('/').nth(1).unwrap_or("?");
        let want = format!("{}/{prefix}", e.ip.clone().unwrap_or_default());
        let ifname = e.ifname.as_str();
        let have: Vec<String> = v4_addrs(&inside, ifname)
            .iter()
            .map(|a| a.to_string())
            .collect();
        if have != vec![want.clone()] {
            bad.push(format!(
                "container {}: {ifname} has {have:?}, not [{want}]",
                e.name
            ));
        }
        if let Some(mac) = &e.mac {
            let eth0 = as_list(ip_json_in(sb, ns, &["link", "show", ifname]));
            let have = eth0.first().and_then(|l| l["address"].as_str());
            if have != Some(mac.as_str()) {
                bad.push(format!(
                    "container {}: {ifname}'s MAC is {have:?}, not {mac}",
                    e.name
                ));
            }
        }
        if let (Some(s6), Some(g6)) = (&net.subnet6, &net.gateway6) {
            let len6 = s6.split('/').nth(1).unwrap_or("?");
            let want6 = e.ip6.as_ref().map(|a| format!("{a}/{len6}"));
            let have6: Vec<String> = super::v6::v6_addrs(&inside, ifname)
                .into_iter()
                .filter(|(a, _, _)| !a.starts_with("fe80:"))
                .map(|(a, l, _)| format!("{a}/{l}"))
                .collect();
            if want6.as_ref().is_none_or(|w| have6 != vec![w.clone()]) {
                bad.push(format!(
                    "container {}: {ifname} has IPv6 {have6:?}, not [{want6:?}]",
                    e.name
                ));
            }
            let routes6 = ip_json_in(sb, ns, &["-6", "route"]);
            let defaults = super::v6::v6_defaults(&routes6);
            let default6_here = defaults
                .iter()
                .any(|(gw, dev, _)| gw == g6 && dev == ifname);
            if e.member && default6_here {
                bad.push(format!(
                    "container {}: a later network with an IPv6 default route via {g6}: {defaults:?}",
                    e.name
                ));
            }
            if !e.member && !default6_here {
                bad.push(format!(
                    "container {}: no IPv6 default route via {g6}: {defaults:?}",
                    e.name
                ));
            }
        } else if let Some(ip6) = &e.ip6 {
            bad.push(format!(
                "container {}: IPv6 address {ip6} on network {}, which has no IPv6",
                e.name, net.name
            ));
        }
        let routes = as_list(ip_json_in(sb, ns, &["route"]));
        let default_here = routes
            .iter()
            .any(|r| r["dst"] == "default" && r["gateway"] == net.gateway.as_str());
        if e.member && default_here {
            bad.push(format!(
                "container {}: a later network with a default route via {}: {routes:?}",
                e.name, net.gateway
            ));
        }
        if !e.member && !default_here {
            bad.push(format!(
                "container {}: no default route via {}: {routes:?}",
                e.name, net.gateway
            ));
        }
    }

    // 4. nothing podnet-named without a record
    let veths: BTreeSet<&str> = st
        .endpoints
        .iter()
        .filter_map(|e| e.host_veth.as_deref())
        .collect();
    for l in &links {
        let name = s(l, "ifname");
        if name.starts_with("pnv") && !veths.contains(name) {
            bad.push(format!("link {name} has no record"));
        }
    }
    let owned: BTreeSet<String> = st
        .endpoints
        .iter()
        .filter(|e| e.netns_owned)
        .filter_map(|e| e.netns.clone())
        .collect();
    for m in &mounts {
        let path = m.split_once(' ').map(|x| x.1).unwrap_or(m);
        if !owned.contains(path) {
            bad.push(format!("{m} has no record"));
        }
    }

    // 5. leases
    for e in &st.endpoints {
        let mine: Vec<&(i64, String, i64)> = st.leases.iter().filter(|l| l.2 == e.id).collect();
        let dual = st
            .networks
            .iter()
            .any(|n| Some(&n.name) == e.target.as_ref() && n.subnet6.is_some());
        let want = if e.mode == "bridge" {
            1 + usize::from(dual)
        } else {
            0
        };
        if mine.len() != want {
            bad.push(format!(
                "container {} ({}) holds {} leases",
                e.name,
                e.mode,
                mine.len()
            ));
        }
        for l in mine {
            if Some(&l.1) != e.ip.as_ref() && Some(&l.1) != e.ip6.as_ref() {
                bad.push(format!(
                    "container {}: lease {} but addresses {:?} and {:?}",
                    e.name, l.1, e.ip, e.ip6
                ));
            }
        }
    }
    for l in &st.leases {
        if !st.endpoints.iter().any(|e| e.id == l.2) {
            bad.push(format!("lease {} of a container with no record", l.1));
        }
    }

    // 6. netfilter
    let nft = nft_elements(sb);
    let have = |key: &str| nft.get(key).cloned();
    if st.networks.is_empty() {
        for t in ["ip podnet", "bridge podnet"] {
            if nft.keys().any(|k| k.starts_with(&format!("{t} "))) {
                bad.push(format!("table {t} exists without a network"));
            }
        }
    } else {
        let canon = |c: &str| {
            c.parse::<ipnet::Ipv4Net>()
                .map(|n| n.trunc().to_string())
                .unwrap_or_else(|_| c.to_string())
        };
        let expect: [(&str, BTreeSet<String>); 5] = [
            (
                "ip podnet bridges",
                set_of(st.networks.iter().map(|n| n.bridge.clone())),
            ),
            (
                "ip podnet subnets",
                set_of(st.networks.iter().map(|n| canon(&n.subnet))),
            ),
            (
                "ip podnet masq_subnets",
                set_of(
                    st.networks
                        .iter()
                        .filter(|n| !n.internal)
                        .map(|n| canon(&n.subnet)),
                ),
            ),
            (
                "ip podnet internal_bridges",
                set_of(
                    st.networks
                        .iter()
                        .filter(|n| n.internal)
                        .map(|n| n.bridge.clone()),
                ),
            ),
            (
                "ip podnet same_bridge",
                set_of(
                    st.networks
                        .iter()
                        .filter(|n| n.icc)
                        .map(|n| format!("{0} . {0}", n.bridge)),
                ),
            ),
        ];
        for (key, want) in expect {
            match have(key) {
                None => bad.push(format!("nft {key} missing")),
                Some(got) if got != want => {
                    bad.push(format!("nft {key}: kernel {got:?}, store {want:?}"))
                }
                _ => {}
            }
        }
        let ep_of = |id: i64| st.endpoints.iter().find(|e| e.id == id);
        let (mut ports, mut ports_any) = (BTreeSet::new(), BTreeSet::new());
        let (mut ports6, mut ports_any6) = (BTreeSet::new(), BTreeSet::new());
        // As the planner: no host address → every family the container has; `0.0.0.0`/`::`
        // → every address of that family; an address → its family.
        for (ep, hip, hport, cport, proto) in &st.ports {
            let Some(ip) = ep_of(*ep).and_then(|e| e.ip.clone()) else {
                bad.push(format!(
                    "port {hport}/{proto} of a container with no address"
                ));
                continue;
            };
            let ip6 = ep_of(*ep).and_then(|e| e.ip6.clone());
            let v6 = hip.contains(':');
            match (hip.as_str(), &ip6) {
                ("", _) | ("0.0.0.0", _) => {
                    ports_any.insert(format!("{proto} . {hport} : {ip} . {cport}"));
                    if let (true, Some(ip6)) = (hip.is_empty(), &ip6) {
                        ports_any6.insert(format!("{proto} . {hport} : {ip6} . {cport}"));
                    }
                }
                ("::", Some(ip6)) => {
                    ports_any6.insert(format!("{proto} . {hport} : {ip6} . {cport}"));
                }
                (_, Some(ip6)) if v6 => {
                    ports6.insert(format!("{hip} . {proto} . {hport} : {ip6} . {cport}"));
                }
                (_, None) if v6 => bad.push(format!(
                    "port [{hip}]:{hport}/{proto} of a container with no IPv6 address"
                )),
                _ => {
                    ports.insert(format!("{hip} . {proto} . {hport} : {ip} . {cport}"));
                }
            }
        }
        let guarded = || {
            st.endpoints
                .iter()
                .filter(|e| e.state != "removing")
                .filter_map(|e| {
                    let (veth, ip, mac) = (e.host_veth.as_ref()?, e.ip.as_ref()?, e.mac.as_ref()?);
                    Some((e, veth, ip, mac))
                })
        };
        let container_ports = set_of(guarded().map(|(_, veth, _, _)| veth.clone()));
        let port_sources =
            set_of(guarded().map(|(_, veth, ip, mac)| format!("{veth} . {mac} . {ip}")));
        for (key, want) in [
            ("ip podnet ports", ports),
            ("ip podnet ports_any", ports_any),
            ("ip6 podnet ports", ports6),
            ("ip6 podnet ports_any", ports_any6),
            ("bridge podnet container_ports", container_ports),
            ("bridge podnet port_sources", port_sources),
        ] {
            let got = have(key).unwrap_or_default();
            if got != want {
                bad.push(format!("nft {key}: kernel {got:?}, store {want:?}"));
            }
        }
    }
    services(sb, &st, &nft, &mut bad);

    // 7. processes
    let procs = ok(
        "list processes",
        // A process may end between the glob and its readlink: skipped, and never the
        // loop's status (the last one ending made the listing itself "fail").
        sb.sh("for p in /proc/[0-9]*; do n=$(readlink $p/ns/net 2>/dev/null) && echo \"${p#/proc/} $n $(cat $p/comm 2>/dev/null)\"; done; true"),
    );
    let root_ns = ok("root netns", sb.sh("readlink /proc/1/ns/net"))
        .trim()
        .to_string();
    for line in procs.lines() {
        let mut f = line.splitn(3, ' ');
        let (pid, ns, comm) = (
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
        );
        if ns == root_ns {
            continue;
        }
        let ino = ns
            .trim_start_matches("net:[")
            .trim_end_matches(']')
            .parse::<u64>()
            .unwrap_or(0);
        if !netns_inodes.contains_key(&ino) {
            bad.push(format!(
                "process {pid} ({comm}) runs in {ns}, no container's namespace"
            ));
        }
    }
    bad
}

/// Invariant 6 for services: dispatch and backends.
fn services(
    sb: &Sandbox,
    st: &StoreView,
    nft: &BTreeMap<String, BTreeSet<String>>,
    bad: &mut Vec<String>,
) {
    let has_table = nft.keys().any(|k| k.starts_with("ip podnet-svc "));
    if st.services.is_empty() {
        if has_table {
            bad.push("table ip podnet-svc exists without a service".into());
        }
        return;
    }
    if !has_table {
        bad.push("table ip podnet-svc missing".into());
        return;
    }
    let live = |e: &EpRow| {
        e.state == "ready" && !e.draining && e.ip.is_some() && e.pid.is_none_or(|p| alive_in(sb, p))
    };
    let mut dispatch = BTreeSet::new();
    let mut eps = BTreeSet::new();
    for svc in &st.services {
        let members: Vec<(&EpRow, Option<u16>)> = match &svc.selector {
            Some(sel) => st
                .endpoints
                .iter()
                .filter(|e| sel.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
                .map(|e| (e, None))
                .collect(),
            None => svc
                .backends
                .iter()
                .filter_map(|(n, p)| st.endpoints.iter().find(|e| &e.name == n).map(|e| (e, *p)))
                .collect(),
        };
        let backends: Vec<(String, Option<u16>)> = members
            .into_iter()
            .filter(|(e, _)| live(e))
            .map(|(e, p)| (e.ip.clone().unwrap_or_default(), p))
            .collect();
        for (port, target, proto) in &svc.ports {
            let verdict = if backends.is_empty() {
                "goto no_endpoints".to_string()
            } else {
                format!("goto bucket_{}", backends.len())
            };
            dispatch.insert(format!("{} . {proto} . {port} : {verdict}", svc.vip));
            // Slots hold the backends in some order: compare them as a multiset per key.
            for (ip, over) in &backends {
                eps.insert(format!(
                    "{} . {proto} . {port} -> {ip} . {}",
                    svc.vip,
                    over.unwrap_or(*target)
                ));
            }
        }
    }
    match nft.get("ip podnet-svc service_ips") {
        Some(got) => {
            // Empty services may dispatch to a differently named reject chain: compare the
            // keys for those and the whole element otherwise.
            let got_keys: BTreeSet<String> = got
                .iter()
                .map(|e| e.split(" : ").next().unwrap_or("").to_string())
                .collect();
            let want_keys: BTreeSet<String> = dispatch
                .iter()
                .map(|e| e.split(" : ").next().unwrap_or("").to_string())
                .collect();
            if got_keys != want_keys {
                bad.push(format!(
                    "nft service_ips: kernel {got:?}, store {dispatch:?}"
                ));
            }
            for w in dispatch.iter().filter(|w| w.contains("bucket_")) {
                if !got.contains(w) {
                    bad.push(format!("nft service_ips lacks {w}: {got:?}"));
                }
            }
        }
        None => bad.push("nft service_ips missing".into()),
    }
    let got_eps: BTreeSet<String> = nft
        .get("ip podnet-svc eps")
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            // `vip . proto . port . slot : ip . port` → drop the slot.
            let (k, v) = e.split_once(" : ")?;
            let k = k.rsplit_once(" . ")?.0;
            Some(format!("{k} -> {v}"))
        })
        .collect();
    if got_eps != eps {
        bad.push(format!("nft eps: kernel {got_eps:?}, store {eps:?}"));
    }
}

/// [`assert_consistent`] after a removal: the kernel destroys a dropped namespace's veth
/// pairs asynchronously (docs/decisions/2026-12-01-cni-speed.md), so host ends with no record
/// may linger for a while; only that is waited out (60 s at most), then everything is checked.
pub fn assert_consistent_once_settled(sb: &Sandbox, what: &str) {
    let lingering = |v: &[String]| {
        v.iter()
            .all(|l| l.starts_with("link pnv") && l.ends_with("has no record"))
    };
    let _ = sb.wait_until(what, std::time::Duration::from_secs(60), || {
        let v = violations(sb);
        v.is_empty() || !lingering(&v)
    });
    assert_consistent(sb, what);
}

/// Panics listing every violation.
pub fn assert_consistent(sb: &Sandbox, what: &str) {
    let v = violations(sb);
    assert!(
        v.is_empty(),
        "{what}: store and kernel disagree:\n  {}",
        v.join("\n  ")
    );
}
