//! The graph as an indented tree: host → bridges → containers (their interfaces, the ports
//! that lead to them, their sharers), then host-mode and namespace-only containers,
//! services, the overlay, and the flags.

use crate::engine::graph::{Body, EdgeKind, Graph, Node};
use std::fmt::Write;

pub fn render(g: &Graph) -> String {
    let mut out = String::new();
    let node = |id: &str| g.nodes.iter().find(|n| n.id == id);
    let from = |to: &str, kind: EdgeKind| -> Vec<&str> {
        g.edges
            .iter()
            .filter(|e| e.to == to && e.kind == kind)
            .map(|e| e.from.as_str())
            .collect()
    };
    let _ = writeln!(out, "host");
    if let Some(Node {
        body: Body::Host { routes },
        ..
    }) = node("host")
    {
        for r in routes {
            let via = r
                .via
                .as_ref()
                .map(|v| format!(" via {v}"))
                .unwrap_or_default();
            let dev = r
                .dev
                .as_ref()
                .map(|d| format!(" dev {d}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  route {}{via}{dev}", r.dst);
        }
    }
    let mut placed = std::collections::HashSet::new();
    for n in &g.nodes {
        let Body::Network(net) = &n.body else {
            continue;
        };
        if let (Some(parent), Some(mode), Some(range)) =
            (&net.parent, &net.macvlan_mode, &net.ip_range)
        {
            let missing = if net.present { "" } else { " (parent missing)" };
            let shim = match net.host_access {
                Some(true) => format!("host shim {}", net.bridge),
                _ => "no host access".into(),
            };
            let _ = writeln!(
                out,
                "  network {}: macvlan on {parent} ({mode} mode) {} range {range} gw {}, {shim}{missing}",
                n.name, net.subnet, net.gateway
            );
        } else {
            let missing = if net.present { "" } else { " (bridge missing)" };
            let _ = writeln!(
                out,
                "  network {}: bridge {} {} gw {}{}{missing}",
                n.name,
                net.bridge,
                net.subnet,
                net.gateway,
                if net.internal { " internal" } else { "" }
            );
        }
        for e in g
            .edges
            .iter()
            .filter(|e| e.from == n.id && matches!(e.kind, EdgeKind::Veth | EdgeKind::Macvlan))
        {
            let Some(c) = node(&e.to) else { continue };
            let how = match (e.kind, e.detail.as_deref()) {
                (EdgeKind::Macvlan, d) => format!("macvlan {}", d.unwrap_or("")),
                (_, d) => format!("veth {}", d.unwrap_or("no veth")),
            };
            container(&mut out, g, c, &how, "    ");
            placed.insert(c.id.clone());
        }
        for l in from(&n.id, EdgeKind::Enslaved) {
            let _ = writeln!(out, "    link {} (no owner)", l.trim_start_matches("link:"));
        }
    }
    for n in &g.nodes {
        let Body::Container(c) = &n.body else {
            continue;
        };
        if placed.contains(&n.id) || c.mode == "container" {
            continue;
        }
        let how = match c.mode.as_str() {
            "host" => "host-mode process",
            _ => "namespace, no network",
        };
        container(&mut out, g, n, how, "  ");
    }
    for n in &g.nodes {
        match &n.body {
            Body::Service(s) => {
                let vips: Vec<&str> = s
                    .vip
                    .iter()
                    .chain(s.vip6.iter())
                    .map(|s| s.as_str())
                    .collect();
                let backends: Vec<String> = g
                    .edges
                    .iter()
                    .filter(|e| e.from == n.id && e.kind == EdgeKind::Backend)
                    .map(|e| {
                        format!(
                            "{} ({})",
                            e.to.trim_start_matches("container:"),
                            e.detail.as_deref().unwrap_or("")
                        )
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "  service {} {} {} -> {}",
                    n.name,
                    vips.join(" "),
                    s.ports.join(","),
                    if backends.is_empty() {
                        "no backend".into()
                    } else {
                        backends.join(", ")
                    }
                );
            }
            Body::Vxlan {
                vni,
                subnet,
                pod_cidr,
                present,
            } => {
                let missing = if *present { "" } else { " (device missing)" };
                let _ = writeln!(
                    out,
                    "  overlay {} vni {vni} subnet {subnet} of {pod_cidr}{missing}",
                    n.name
                );
            }
            Body::RemoteNode { vtep, underlay, .. } => {
                let u = underlay.as_deref().unwrap_or("?");
                let _ = writeln!(out, "    node {} vtep {vtep} underlay {u}", n.name);
            }
            Body::Link { master: None, .. } => {
                let _ = writeln!(out, "  link {} (no owner)", n.name);
            }
            _ => {}
        }
    }
    if !g.flags.is_empty() {
        let _ = writeln!(out, "flags:");
        for f in &g.flags {
            let _ = writeln!(out, "  ! {}: {}", f.message, f.fix);
        }
    }
    out
}

fn container(out: &mut String, g: &Graph, n: &Node, how: &str, indent: &str) {
    let Body::Container(c) = &n.body else { return };
    let _ = writeln!(out, "{indent}container {} ({}) {how}", n.name, c.status);
    for i in &c.interfaces {
        if i.name == "lo" {
            continue;
        }
        let _ = writeln!(out, "{indent}  {} {}", i.name, i.addresses.join(" "));
    }
    for r in c.routes.iter().filter(|r| r.dst == "default") {
        let _ = writeln!(
            out,
            "{indent}  default via {}",
            r.via.as_deref().unwrap_or("-")
        );
    }
    for e in g.edges.iter().filter(|e| e.to == n.id) {
        let other = g.nodes.iter().find(|x| x.id == e.from);
        match (e.kind, other) {
            (EdgeKind::Publishes, Some(p)) => {
                let to = e.detail.as_deref().unwrap_or("");
                let _ = writeln!(out, "{indent}  published {} -> {to}", p.name);
            }
            (EdgeKind::Shares, Some(s)) => {
                let status = match &s.body {
                    Body::Container(c) => c.status.as_str(),
                    _ => "",
                };
                let _ = writeln!(out, "{indent}  shared by container {} ({status})", s.name);
            }
            _ => {}
        }
    }
}
