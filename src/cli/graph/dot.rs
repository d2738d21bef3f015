//! The graph in Graphviz's language (`podnet graph --format dot | dot -Tsvg`).

use super::escape;
use crate::engine::graph::{Body, EdgeKind, Graph};
use std::fmt::Write;

pub fn render(g: &Graph) -> String {
    let mut out = String::from(
        "digraph podnet {\n  rankdir=LR;\n  node [fontname=\"sans-serif\" fontsize=10];\n",
    );
    let flagged = |id: &str| g.flags.iter().any(|f| f.subject == id);
    for n in &g.nodes {
        let (shape, detail) = match &n.body {
            Body::Host { .. } => ("box3d", String::new()),
            Body::Network(net) => match (&net.parent, &net.ip_range) {
                (Some(p), Some(r)) => ("box", format!("macvlan on {p} {r}")),
                _ => ("box", format!("{} {}", net.bridge, net.subnet)),
            },
            Body::Container(c) => {
                let addrs: Vec<&str> = c
                    .interfaces
                    .iter()
                    .filter(|i| i.name != "lo")
                    .flat_map(|i| i.addresses.iter().map(|a| a.as_str()))
                    .collect();
                ("component", format!("{} {}", c.status, addrs.join(" ")))
            }
            Body::Port(p) => ("cds", format!("-> {}", p.container_port)),
            Body::Service(s) => ("hexagon", s.vip.clone().unwrap_or_default()),
            Body::Vxlan { vni, .. } => ("box", format!("vni {vni}")),
            Body::RemoteNode { vtep, .. } => ("box3d", vtep.clone()),
            Body::Link { .. } => ("octagon", "no owner".into()),
        };
        let color = if flagged(&n.id) { " color=red" } else { "" };
        let _ = writeln!(
            out,
            "  \"{}\" [shape={shape} label=\"{}\\n{}\"{color}];",
            escape(&n.id),
            escape(&n.name),
            escape(&detail)
        );
    }
    for e in &g.edges {
        let style = match e.kind {
            EdgeKind::Shares | EdgeKind::HostMode => " style=dashed",
            _ => "",
        };
        let label = e.detail.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"{style}];",
            escape(&e.from),
            escape(&e.to),
            escape(label)
        );
    }
    out.push_str("}\n");
    out
}
