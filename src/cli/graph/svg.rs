//! The graph as SVG, laid out and drawn here (no Graphviz, no external asset): four layered
//! columns, left to right — host (and the overlay), bridges, containers' namespaces,
//! published ports and services — with containers stacked under their first network
//! (sharers right after their owner), each bridge centred on its containers and each
//! port or service on what it leads to. At 50 containers that is one readable column of
//! boxes ~2,800 px tall, every edge a curve between neighbouring columns.

use super::escape;
use crate::engine::graph::{Body, EdgeKind, Graph, Node};
use std::collections::HashMap;
use std::fmt::Write;

const COLS: [(f64, f64); 4] = [
    (20.0, 150.0),
    (220.0, 210.0),
    (490.0, 250.0),
    (800.0, 210.0),
];
const GAP: f64 = 12.0;
const LINE: f64 = 14.0;

#[derive(Clone, Copy)]
struct Boxed {
    col: usize,
    y: f64,
    h: f64,
}

impl Boxed {
    fn x(&self) -> f64 {
        COLS[self.col].0
    }
    fn w(&self) -> f64 {
        COLS[self.col].1
    }
    fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

fn col_of(n: &Node) -> usize {
    match n.body {
        Body::Host { .. } | Body::Vxlan { .. } | Body::RemoteNode { .. } => 0,
        Body::Network(_) | Body::Link { .. } => 1,
        Body::Container(_) => 2,
        Body::Port(_) | Body::Service(_) => 3,
    }
}

/// The lines a node's box shows: its name first.
fn lines(n: &Node) -> Vec<String> {
    let mut l = vec![n.name.clone()];
    match &n.body {
        Body::Host { .. } => l.push("host namespace".into()),
        Body::Network(net) if net.parent.is_some() => {
            let mode = net.macvlan_mode.as_deref().unwrap_or("?");
            l.push(format!(
                "macvlan on {} ({mode})",
                net.parent.as_deref().unwrap_or("?")
            ));
            l.push(format!(
                "range {}",
                net.ip_range.as_deref().unwrap_or(&net.subnet)
            ));
            if net.host_access == Some(true) {
                l.push(format!("host shim {}", net.bridge));
            }
        }
        Body::Network(net) => {
            l.push(format!("bridge {}", net.bridge));
            l.push(format!("{} gw {}", net.subnet, net.gateway));
            if net.internal {
                l.push("internal".into());
            }
        }
        Body::Container(c) => {
            let addrs: Vec<&str> = c
                .interfaces
                .iter()
                .filter(|i| i.name != "lo")
                .flat_map(|i| {
                    i.addresses
                        .iter()
                        .filter(|a| !a.starts_with("fe80"))
                        .map(|a| a.as_str())
                })
                .collect();
            if !addrs.is_empty() {
                l.push(addrs.join(" "));
            }
            let how = match c.mode.as_str() {
                "host" => "host-mode".to_string(),
                "container" => "shares a namespace".to_string(),
                "none" => "no network".to_string(),
                _ => format!("{} interface(s)", c.interfaces.len()),
            };
            l.push(format!("{} · {how}", c.status));
        }
        Body::Port(p) => l.push(format!("-> container port {}", p.container_port)),
        Body::Service(s) => {
            let vips: Vec<&str> = s
                .vip
                .iter()
                .chain(s.vip6.iter())
                .map(|v| v.as_str())
                .collect();
            l.push(format!("service {}", vips.join(" ")));
            l.push(s.ports.join(","));
        }
        Body::Vxlan { vni, subnet, .. } => l.push(format!("vxlan vni {vni} · {subnet}")),
        Body::RemoteNode { vtep, underlay, .. } => l.push(format!(
            "vtep {vtep} via {}",
            underlay.as_deref().unwrap_or("?")
        )),
        Body::Link { link_kind, .. } => l.push(format!(
            "{} with no owner",
            link_kind.as_deref().unwrap_or("link")
        )),
    }
    l
}

fn fill(n: &Node) -> &'static str {
    match n.body {
        Body::Host { .. } => "#e8eaf6",
        Body::Network(_) => "#dbe8f7",
        Body::Container(_) => "#e6f4e7",
        Body::Port(_) => "#fff1dc",
        Body::Service(_) => "#f2e4f5",
        Body::Vxlan { .. } | Body::RemoteNode { .. } => "#dff5f7",
        Body::Link { .. } => "#fde8ea",
    }
}

/// Where each node goes: containers stacked in order, everything else centred on what it
/// is joined to, overlaps pushed down.
fn layout(g: &Graph, top: f64) -> HashMap<&str, Boxed> {
    let mut at: HashMap<&str, Boxed> = HashMap::new();
    let height = |n: &Node| 10.0 + LINE * lines(n).len() as f64;
    let by_id: HashMap<&str, &Node> = g.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let to = |from: &str, kind: EdgeKind| -> Vec<&str> {
        g.edges
            .iter()
            .filter(|e| e.from == from && e.kind == kind)
            .map(|e| e.to.as_str())
            .collect()
    };
    // Containers: by first network, sharers after their owner, then the rest.
    let mut order: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    fn place<'a>(
        id: &'a str,
        g: &'a Graph,
        order: &mut Vec<&'a str>,
        seen: &mut std::collections::HashSet<&'a str>,
    ) {
        if !seen.insert(id) {
            return;
        }
        order.push(id);
        for e in g
            .edges
            .iter()
            .filter(|e| e.to == id && e.kind == EdgeKind::Shares)
        {
            place(&e.from, g, order, seen);
        }
    }
    for n in g.nodes.iter().filter(|n| col_of(n) == 1) {
        for kind in [EdgeKind::Veth, EdgeKind::Macvlan] {
            for c in to(&n.id, kind) {
                place(c, g, &mut order, &mut seen);
            }
        }
    }
    for n in g.nodes.iter().filter(|n| col_of(n) == 2) {
        place(&n.id, g, &mut order, &mut seen);
    }
    let mut y = top;
    for id in order {
        let h = height(by_id[id]);
        at.insert(id, Boxed { col: 2, y, h });
        y += h + GAP;
    }
    // Every other column: centred on its neighbours' centres, in order, never overlapping.
    let neighbours = |id: &str, at: &HashMap<&str, Boxed>| -> Option<f64> {
        let ys: Vec<f64> = g
            .edges
            .iter()
            .filter_map(|e| match (e.from == id, e.to == id) {
                (true, _) => at.get(e.to.as_str()),
                (_, true) => at.get(e.from.as_str()),
                _ => None,
            })
            .map(|b| b.cy())
            .collect();
        (!ys.is_empty()).then(|| ys.iter().sum::<f64>() / ys.len() as f64)
    };
    for col in [1, 3, 0] {
        let mut want: Vec<(f64, &Node)> = g
            .nodes
            .iter()
            .filter(|n| col_of(n) == col)
            .enumerate()
            .map(|(i, n)| (neighbours(&n.id, &at).unwrap_or(top + 1e6 + i as f64), n))
            .collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut floor = top;
        for (cy, n) in want {
            let h = height(n);
            let wanted = if cy > top + 1e5 { floor } else { cy - h / 2.0 };
            let y = wanted.max(floor);
            at.insert(&n.id, Boxed { col, y, h });
            floor = y + h + GAP;
        }
    }
    at
}

pub fn render(g: &Graph) -> String {
    let top = 44.0 + LINE * g.flags.len() as f64;
    let at = layout(g, top);
    let width = COLS[3].0 + COLS[3].1 + 20.0;
    let height = at.values().map(|b| b.y + b.h).fold(top, f64::max) + 20.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#667"/></marker></defs>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="20" y="24" font-size="15" font-weight="bold">podnet: {} nodes, {} links, {} flags</text>
"##,
        g.nodes.len(),
        g.edges.len(),
        g.flags.len()
    );
    for (i, f) in g.flags.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text class="flag" x="20" y="{}" fill="#b00020">⚠ {}</text>"##,
            40.0 + LINE * i as f64,
            escape(&f.message)
        );
    }
    for e in &g.edges {
        let (Some(a), Some(b)) = (at.get(e.from.as_str()), at.get(e.to.as_str())) else {
            continue;
        };
        let d = if a.col == b.col {
            let x = a.x() + a.w();
            format!(
                "M{x},{} C{},{} {},{} {x},{}",
                a.cy(),
                x + 40.0,
                a.cy(),
                x + 40.0,
                b.cy(),
                b.cy()
            )
        } else {
            let (x1, x2) = match a.col < b.col {
                true => (a.x() + a.w(), b.x()),
                false => (a.x(), b.x() + b.w()),
            };
            let mid = (x1 + x2) / 2.0;
            format!(
                "M{x1},{} C{mid},{} {mid},{} {x2},{}",
                a.cy(),
                a.cy(),
                b.cy(),
                b.cy()
            )
        };
        let dash = match e.kind {
            EdgeKind::Shares | EdgeKind::HostMode | EdgeKind::Enslaved => {
                r#" stroke-dasharray="5,3""#
            }
            _ => "",
        };
        let title = format!(
            "{:?} {} -> {}{}",
            e.kind,
            e.from,
            e.to,
            e.detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            r##"<path class="edge" d="{d}" fill="none" stroke="#778" stroke-width="1.2"{dash} marker-end="url(#arrow)"><title>{}</title></path>"##,
            escape(&title)
        );
    }
    for n in &g.nodes {
        let Some(b) = at.get(n.id.as_str()) else {
            continue;
        };
        let flags: Vec<&str> = g
            .flags
            .iter()
            .filter(|f| f.subject == n.id)
            .map(|f| f.message.as_str())
            .collect();
        let stroke = if flags.is_empty() {
            "#8a94a6"
        } else {
            "#d32f2f"
        };
        let kind = match &n.body {
            Body::Host { .. } => "host",
            Body::Network(_) => "network",
            Body::Container(_) => "container",
            Body::Port(_) => "port",
            Body::Service(_) => "service",
            Body::Vxlan { .. } => "vxlan",
            Body::RemoteNode { .. } => "remote_node",
            Body::Link { .. } => "link",
        };
        let mut title = n.id.clone();
        for f in &flags {
            title.push_str(&format!("\n⚠ {f}"));
        }
        let _ = writeln!(
            out,
            r##"<g class="node {kind}" data-id="{}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="{}" stroke="{stroke}" stroke-width="{}"/>"##,
            escape(&n.id),
            escape(&title),
            b.x(),
            b.y,
            b.w(),
            b.h,
            fill(n),
            if flags.is_empty() { 1 } else { 2 }
        );
        for (i, line) in lines(n).iter().enumerate() {
            let weight = if i == 0 { r#" font-weight="bold""# } else { "" };
            let prefix = if i == 0 && !flags.is_empty() {
                "⚠ "
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r##"<text x="{}" y="{}"{weight}>{prefix}{}</text>"##,
                b.x() + 8.0,
                b.y + 16.0 + LINE * i as f64,
                escape(&fit(line, b.w()))
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

/// A line cut to what fits the box (about 6 px a character at 11 px).
fn fit(s: &str, w: f64) -> String {
    let max = ((w - 14.0) / 6.2) as usize;
    match s.chars().count() > max {
        true => s.chars().take(max.saturating_sub(1)).chain(['…']).collect(),
        false => s.to_string(),
    }
}
