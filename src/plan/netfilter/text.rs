//! A plain-text view of a planned ruleset for golden tests and debugging:
//! nft-like headers for tables, sets and chains, each rule as the kernel
//! expressions `nft --debug=netlink` prints, then the elements.

use std::fmt::Write;

use crate::kernel::nft::{
    render_debug_in, DataType, ElemData, Element, Hook, Policy, Ruleset, SetData, Value,
};

fn type_name(t: &DataType) -> &'static str {
    match t {
        DataType::Ipv4Addr => "ipv4_addr",
        DataType::Ipv6Addr => "ipv6_addr",
        DataType::InetProto => "inet_proto",
        DataType::InetService => "inet_service",
        DataType::Mark => "mark",
        DataType::IfName => "ifname",
        DataType::EtherAddr => "ether_addr",
    }
}

fn types(ts: &[DataType]) -> String {
    ts.iter().map(type_name).collect::<Vec<_>>().join(" . ")
}

fn value(v: &Value) -> String {
    match v {
        Value::Ipv4(a) => a.to_string(),
        Value::Ipv6(a) => a.to_string(),
        Value::Proto(6) => "tcp".into(),
        Value::Proto(17) => "udp".into(),
        Value::Proto(132) => "sctp".into(),
        Value::Proto(p) => p.to_string(),
        Value::Port(p) => p.to_string(),
        Value::Mark(m) => m.to_string(),
        Value::IfName(n) => format!("{n:?}"),
        Value::Ether(m) => crate::model::Mac(*m).to_string(),
    }
}

fn values(vs: &[Value]) -> String {
    vs.iter().map(value).collect::<Vec<_>>().join(" . ")
}

fn element(e: &Element) -> String {
    let mut s = values(&e.key);
    if let Some(end) = &e.key_end {
        s = format!("{s}-{}", values(end));
    }
    match &e.data {
        Some(ElemData::Value(v)) => s = format!("{s} : {}", values(v)),
        Some(ElemData::Verdict(v)) => s = format!("{s} : {v:?}"),
        None => {}
    }
    s
}

fn hook(h: Hook) -> &'static str {
    match h {
        Hook::Prerouting => "prerouting",
        Hook::Input => "input",
        Hook::Forward => "forward",
        Hook::Output => "output",
        Hook::Postrouting => "postrouting",
        Hook::Ingress => "ingress",
    }
}

/// Tables, sets, chains, rules (as kernel expressions) and elements.
pub fn describe(rs: &Ruleset) -> String {
    let mut out = String::new();
    for t in &rs.tables {
        let _ = writeln!(out, "table {} {}", t.table.family.name(), t.table.name);
        for s in &t.sets {
            let (kind, data) = match &s.data {
                None => ("set", String::new()),
                Some(SetData::Verdict) => ("map", " : verdict".into()),
                Some(SetData::Value(v)) => ("map", format!(" : {}", types(v))),
            };
            let flags = if s.interval { "; flags interval" } else { "" };
            let _ = writeln!(
                out,
                "  {kind} {} {{ type {}{data}{flags} }}",
                s.name,
                types(&s.key)
            );
        }
        for c in &t.chains {
            match &c.base {
                Some(b) => {
                    let policy = match b.policy {
                        Policy::Accept => "accept",
                        Policy::Drop => "drop",
                    };
                    let device = c
                        .device
                        .as_ref()
                        .map(|d| format!(" device {d:?}"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  chain {} {{ type {} hook {}{device} priority {}; policy {policy} }}",
                        c.name,
                        b.kind.name(),
                        hook(b.hook),
                        b.priority
                    );
                }
                None => {
                    let _ = writeln!(out, "  chain {}", c.name);
                }
            }
        }
        for r in &t.rules {
            let _ = writeln!(out, "  rule {}", r.chain);
            for line in render_debug_in(t.table.family, &r.stmts).lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        for (set, elems) in &t.elements {
            let list: Vec<String> = elems.iter().map(element).collect();
            let _ = writeln!(out, "  elements {set} = {{ {} }}", list.join(", "));
        }
    }
    out
}
