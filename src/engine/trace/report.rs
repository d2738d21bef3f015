//! What `trace` returns: serializable (the CLI's `--format json`, the ui's form) and
//! rendered as text by [`TraceReport::text`].

use crate::kernel::nft::trace::Headers;
use serde::Serialize;

/// One step of the packet's path: a rule that matched, or a chain's policy, in one namespace.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hop {
    /// `host` or `container NAME`.
    pub namespace: String,
    /// `prerouting`, `input`, `forward`, `output`, `postrouting` (or `?`).
    pub hook: String,
    /// `FAMILY TABLE`, e.g. `ip podnet`.
    pub table: String,
    pub chain: String,
    /// The rule's handle (`nft -a list chain ...`); none for a policy.
    pub rule: Option<u64>,
    /// `accept`, `drop`, `goto bucket_2`, `policy accept`, ...
    pub verdict: String,
    /// The podnet object that decided it, in words ("published port 8080 of web").
    pub object: Option<String>,
    /// The packet as this chain saw it.
    pub packet: Option<Headers>,
    pub iif: Option<String>,
    pub oif: Option<String>,
}

/// A NAT rewrite seen between two hops.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rewrite {
    /// `dnat` or `snat` (masquerade).
    pub kind: String,
    pub namespace: String,
    pub before: String,
    pub after: String,
    pub by: Option<String>,
}

/// The kernel's routing decision for the packet in the host (RTM_GETROUTE).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RouteStep {
    pub destination: String,
    pub kind: String,
    pub dev: Option<String>,
    pub via: Option<String>,
}

/// How the trace ended.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Delivered to the destination's namespace (its `input` hook).
    Reached,
    /// Left the host through a non-podnet interface.
    Left,
    /// Dropped or rejected by a rule.
    Dropped,
    /// Delivered to the host itself though the destination was not the host (e.g. an
    /// unpublished port): nothing of podnet's forwards it.
    Unpublished,
    /// No (more) events before the timeout.
    Lost,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TraceReport {
    pub from: String,
    pub to: String,
    /// `tcp` or `udp`.
    pub proto: String,
    pub port: u16,
    /// FROM is outside the host: podnet armed the trace and followed the next matching packet.
    pub armed: bool,
    pub hops: Vec<Hop>,
    pub rewrites: Vec<Rewrite>,
    pub route: Option<RouteStep>,
    pub outcome: Outcome,
    /// One sentence: where the packet went or died, and why.
    pub summary: String,
    /// For a packet that died: what would let it through.
    pub fix: Option<String>,
}

impl TraceReport {
    /// The path hook by hook, then the rewrites, the route and the verdict.
    pub fn text(&self) -> String {
        let mut out = format!(
            "trace {} -> {}:{}/{}{}\n",
            self.from,
            self.to,
            self.port,
            self.proto,
            if self.armed {
                " (armed: followed the next matching packet)"
            } else {
                ""
            }
        );
        let mut last_ns = String::new();
        for h in &self.hops {
            if h.namespace != last_ns {
                out.push_str(&format!("  [{}]\n", h.namespace));
                last_ns = h.namespace.clone();
            }
            let pkt = h
                .packet
                .map(|p| format!("  {}", packet(&p)))
                .unwrap_or_default();
            let dev = match (&h.iif, &h.oif) {
                (Some(i), Some(o)) => format!("  {i} -> {o}"),
                (Some(i), None) => format!("  in {i}"),
                (None, Some(o)) => format!("  out {o}"),
                (None, None) => String::new(),
            };
            let rule = h.rule.map(|r| format!(" #{r}")).unwrap_or_default();
            out.push_str(&format!(
                "    {:<11} {} {}{}: {}{}{}\n",
                h.hook, h.table, h.chain, rule, h.verdict, pkt, dev
            ));
            if let Some(o) = &h.object {
                out.push_str(&format!("                -> {o}\n"));
            }
        }
        for r in &self.rewrites {
            let by = r.by.as_ref().map(|b| format!(" ({b})")).unwrap_or_default();
            out.push_str(&format!(
                "  {} in {}: {} -> {}{by}\n",
                r.kind, r.namespace, r.before, r.after
            ));
        }
        if let Some(r) = &self.route {
            out.push_str(&format!("  route: {} {}", r.destination, r.kind));
            if let Some(v) = &r.via {
                out.push_str(&format!(" via {v}"));
            }
            if let Some(d) = &r.dev {
                out.push_str(&format!(" dev {d}"));
            }
            out.push('\n');
        }
        let word = match self.outcome {
            Outcome::Reached => "REACHED",
            Outcome::Left => "LEFT THE HOST",
            Outcome::Dropped => "DROPPED",
            Outcome::Unpublished => "NOT FORWARDED",
            Outcome::Lost => "LOST",
        };
        out.push_str(&format!("{word}: {}\n", self.summary));
        if let Some(f) = &self.fix {
            out.push_str(&format!("fix: {f}\n"));
        }
        out
    }
}

/// `10.88.0.2:40000 -> 10.89.0.3:80`, `[fd00:90::2]:40000 -> [fd00:90::3]:80`.
pub fn packet(h: &Headers) -> String {
    use super::explain::hostport;
    format!(
        "{} -> {}",
        hostport(h.saddr, h.sport),
        hostport(h.daddr, h.dport)
    )
}
