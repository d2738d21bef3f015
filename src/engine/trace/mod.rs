//! `podnet trace FROM TO:PORT[/tcp|udp]` (issue 12): a real probe followed with nftables
//! tracing in every namespace it crosses, each hit mapped back to the podnet object that
//! decided it. [`run`] is the engine's entry point (CLI and ui); [`TraceReport`] is
//! serializable. Files: `spots.rs` the namespaces (owned trace tables, listeners),
//! `probe.rs` the probe socket, `explain.rs` hits → objects (pure), `report.rs` the result.
//! Why this way: `docs/decisions/2026-12-02-trace.md`.

pub mod explain;
pub mod places;
pub mod probe;
pub mod report;
pub mod spots;

use crate::engine::Ctx;
use crate::kernel::nft::trace::{
    wait_any, Headers, Match, TraceEvent, TraceListener, TraceType, TraceVerdict,
};
use crate::kernel::{netns, route};
use crate::model::{Endpoint, Error, Proto, Result};
use explain::{explain, hostport, Facts, Hit};
pub use places::parse_target;
use places::{facts, gateway_of, is_v6, netns_of, place, unresolved_next_hop, Place};
pub use report::{Hop, Outcome, Rewrite, RouteStep, TraceReport};
use spots::{hook_name, Spot};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// What to trace. FROM/TO: a container or service name, `host`, or an IPv4 or IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRequest {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub proto: Proto,
    /// IPv6 (`-6`): names (containers, services, `host`) stand for their IPv6 addresses. An
    /// IPv6 address as FROM or TO implies it.
    pub ipv6: bool,
    /// How long to wait for the packet (for an outside sender: for it to send one).
    pub timeout: Duration,
}

/// Trace one probe. Prints nothing: an outside FROM is announced through `armed` (called
/// once the trace is armed, before waiting).
pub fn run(ctx: &mut Ctx, req: &TraceRequest, armed: &mut dyn FnMut(&str)) -> Result<TraceReport> {
    let v6 = is_v6(req)?;
    let from = place(ctx, "FROM", &req.from)?;
    let to = place(ctx, "TO", &req.to)?;
    let facts = facts(ctx)?;
    let proto = req.proto.number();
    let family = if v6 { "IPv6" } else { "IPv4" };

    // Where the packet goes, and which namespaces may see it last.
    let mut dests: Vec<Endpoint> = vec![];
    let daddr = match &to {
        Place::Container(e) => {
            if let Some(why) = places::unreachable_mode(e) {
                return Err(why);
            }
            dests.push(e.clone());
            let a = match v6 {
                false => e.ip.map(IpAddr::V4),
                true => e.ip6.map(IpAddr::V6),
            };
            a.ok_or_else(|| {
                Error::input(format!(
                    "trace: container {} has no {family} address{}",
                    e.name,
                    if v6 {
                        " (its network is not dual-stack: `network create --ipv6`)"
                    } else {
                        ""
                    }
                ))
            })?
        }
        Place::Service(s) => {
            let vip = match v6 {
                false => s.service.vip.map(IpAddr::V4),
                true => s.service.vip6.map(IpAddr::V6),
            };
            let vip = vip.ok_or_else(|| {
                Error::input(format!(
                    "trace: service {} has no {family} VIP",
                    s.service.name
                ))
            })?;
            if !s
                .service
                .ports
                .iter()
                .any(|p| p.port == req.port && p.proto == req.proto)
            {
                return Err(Error::input(format!(
                    "trace: service {} has no port {}/{}",
                    s.service.name, req.port, req.proto
                )));
            }
            let backends: Vec<IpAddr> = match v6 {
                false => s.programmed.iter().map(|b| IpAddr::V4(b.ip)).collect(),
                true => s.programmed6.iter().map(|b| IpAddr::V6(b.ip)).collect(),
            };
            let endpoints = ctx.store.endpoints()?;
            for b in backends {
                let at = |e: &&Endpoint| match b {
                    IpAddr::V4(b) => e.ip == Some(b),
                    IpAddr::V6(b) => e.ip6 == Some(b),
                };
                if let Some(e) = endpoints.iter().find(at) {
                    dests.push(e.clone());
                }
            }
            vip
        }
        Place::Host => {
            let lo = match v6 {
                false => IpAddr::V4(Ipv4Addr::LOCALHOST),
                true => IpAddr::V6(Ipv6Addr::LOCALHOST),
            };
            match &from {
                Place::Container(e) => gateway_of(&facts, e, v6).unwrap_or(lo),
                _ => lo,
            }
        }
        Place::Address(a) => *a,
    };
    if matches!(to, Place::Host | Place::Address(_)) {
        if let Some((ip, _)) = facts.published(proto, daddr, req.port) {
            if let Some(e) = ctx
                .store
                .endpoints()?
                .into_iter()
                .find(|e| e.ip == Some(*ip))
            {
                dests.push(e);
            }
        }
    }

    // The sender: a container's namespace, the host, or (an outside address) nobody we drive.
    let mut spots: Vec<Spot> = vec![];
    let mut from_ns = None;
    let outside = match &from {
        Place::Container(e) => {
            let (s, ns) = Spot::container(&e.name, netns_of(e)?)?;
            spots.push(s);
            from_ns = Some(ns);
            None
        }
        Place::Host => None,
        Place::Address(a) => Some(*a),
        Place::Service(s) => {
            return Err(Error::input(format!(
            "trace FROM '{}' is a service: a service sends nothing; trace from one of its backends",
            s.service.name
        )))
        }
    };
    let host_index = spots.len();
    spots.push(Spot::host()?);
    let mut seen_ns: Vec<String> = match &from {
        Place::Container(e) => e.netns.iter().cloned().collect(),
        _ => vec![],
    };
    for e in &dests {
        let Some(path) = &e.netns else { continue };
        if seen_ns.contains(path) {
            continue;
        }
        seen_ns.push(path.clone());
        spots.push(Spot::container(&e.name, path)?.0);
    }

    let probe = match (&from_ns, outside) {
        (_, Some(_)) => None,
        (Some(ns), None) => {
            let _inside = netns::enter(ns)?;
            Some(probe::Probe::open(req.proto, v6)?)
        }
        (None, None) => Some(probe::Probe::open(req.proto, v6)?),
    };

    // Arm: the first namespace on the exact 5-tuple, the others on what NAT keeps (the
    // protocol and the probe's source port; an outside sender's address).
    let sport = probe.as_ref().map(|p| p.sport);
    let first = Match {
        v6,
        proto,
        saddr: outside,
        daddr: Some(daddr),
        sport,
        dport: Some(req.port),
    };
    let later = Match {
        v6,
        proto,
        saddr: outside,
        sport,
        ..Match::default()
    };
    let table = crate::kernel::nft::trace::table();
    for (i, s) in spots.iter_mut().enumerate() {
        let m = if i == 0 || (i == host_index && from_ns.is_none()) {
            &first
        } else {
            &later
        };
        s.arm(&table, m, later)?;
    }
    let started = Instant::now();
    let mut send_error = None;
    match &probe {
        Some(p) => send_error = p.fire(daddr, req.port),
        None => armed(&format!(
            "armed: waiting up to {:?} for a {} packet from {} to {}",
            req.timeout,
            req.proto,
            req.from,
            hostport(daddr, req.port)
        )),
    }

    collect(&mut spots, host_index, &facts, started + req.timeout);

    let mut report = build(&mut spots, &facts, req, outside.is_some());
    report.route = route_step(ctx, &spots, host_index, &report)?;
    if let (Outcome::Lost, Some(r)) = (report.outcome, &report.route) {
        if r.kind == "unreachable" {
            report.outcome = Outcome::Dropped;
            report.summary = format!(
                "the host has no route to {}, so the kernel dropped the packet",
                r.destination
            );
            report.fix = Some("give the host a route there (e.g. a default route)".into());
        }
    }
    if let (Outcome::Lost, Place::Container(e), Some(ns)) = (report.outcome, &from, &from_ns) {
        if let Some((why, fix)) = unresolved_next_hop(&facts, e, ns, daddr) {
            report.outcome = Outcome::Dropped;
            report.summary = why;
            report.fix = fix;
        }
    }
    if let (Some(errno), true) = (send_error, report.hops.is_empty()) {
        report.outcome = Outcome::Dropped;
        report.summary = format!(
            "the kernel refused to send it: {}",
            std::io::Error::from_raw_os_error(errno)
        );
    }
    drop(probe);
    Ok(report)
}

/// Read events until the packet's fate is known (a drop, a delivery, leaving the host) or
/// the deadline passes; then a short settle for events still in flight.
fn collect(spots: &mut [Spot], host: usize, facts: &Facts, deadline: Instant) {
    let mut settle: Option<Instant> = None;
    loop {
        let until = settle.unwrap_or(deadline).min(deadline);
        let listeners: Vec<&TraceListener> = spots.iter().map(|s| &s.listener).collect();
        let ready = wait_any(&listeners, until);
        for s in spots.iter_mut() {
            s.drain();
        }
        if !ready {
            return;
        }
        if settle.is_none() && finished(spots, host, facts) {
            settle = Some(Instant::now() + Duration::from_millis(15));
        }
    }
}

/// The tracer's own table (a concurrent tracer's events were dropped as they arrived).
fn ours(table: &str) -> bool {
    table.starts_with(crate::kernel::nft::trace::TABLE_PREFIX)
}

fn finished(spots: &[Spot], host: usize, facts: &Facts) -> bool {
    spots.iter().enumerate().any(|(i, s)| {
        s.events.iter().any(|e| {
            let dropped = matches!(e.verdict, Some(TraceVerdict::Drop))
                || (e.kind == TraceType::Policy && matches!(e.policy, Some(TraceVerdict::Drop)));
            let delivered = ours(&e.table) && e.chain == "seen_input";
            let left = i == host
                && ours(&e.table)
                && e.chain == "seen_postrouting"
                && s.ifname(e.oif)
                    .is_none_or(|o| facts.network_of_bridge(&o).is_none());
            dropped || delivered || left
        })
    })
}

fn verdict_text(e: &TraceEvent) -> String {
    let v = match e.kind {
        TraceType::Policy => e.policy.as_ref().or(e.verdict.as_ref()),
        _ => e.verdict.as_ref(),
    };
    let word = match v {
        Some(TraceVerdict::Jump(c)) => format!("jump {c}"),
        Some(TraceVerdict::Goto(c)) => format!("goto {c}"),
        Some(TraceVerdict::Other(c)) => format!("verdict {c}"),
        Some(v) => format!("{v:?}").to_lowercase(),
        None => "?".into(),
    };
    match e.kind {
        TraceType::Policy => format!("policy {word}"),
        _ => word,
    }
}

/// This kernel opens each chain's trace with a rule-less event carrying the packet (and
/// sends the headers only there): fold it into the chain's next event, and keep one hop per
/// chain of the tracer's own table.
fn merge_chain_entries(events: Vec<TraceEvent>) -> Vec<TraceEvent> {
    let mut out: Vec<TraceEvent> = vec![];
    let mut carry: Option<TraceEvent> = None;
    for mut e in events {
        let entry = e.kind == TraceType::Rule
            && e.rule_handle.is_none()
            && matches!(e.verdict, None | Some(TraceVerdict::Continue));
        if entry && !ours(&e.table) {
            carry = Some(e);
            continue;
        }
        if let Some(c) = carry
            .take()
            .filter(|c| (&c.table, &c.chain) == (&e.table, &e.chain))
        {
            e.headers = e.headers.or(c.headers);
            e.iif = e.iif.or(c.iif);
            e.oif = e.oif.or(c.oif);
        }
        if ours(&e.table) {
            if let Some(last) = out.last_mut() {
                if (&last.table, &last.chain) == (&e.table, &e.chain) {
                    last.headers = last.headers.or(e.headers);
                    last.iif = last.iif.or(e.iif);
                    last.oif = last.oif.or(e.oif);
                    continue;
                }
            }
        }
        out.push(e);
    }
    out
}

fn build(spots: &mut [Spot], facts: &Facts, req: &TraceRequest, armed: bool) -> TraceReport {
    let mut hops = vec![];
    let mut rewrites = vec![];
    let mut death: Option<(String, Option<String>)> = None;
    let mut reached: Option<String> = None;
    let mut unpublished = false;
    let mut left: Option<(String, Headers)> = None;
    for s in spots.iter_mut() {
        let events = merge_chain_entries(std::mem::take(&mut s.events));
        let mut last_hook: Option<u32> = None;
        let mut prev: Option<(Headers, Option<String>)> = None;
        for (k, e) in events.iter().enumerate() {
            // Headers come once per hook: a regular chain reached by a goto sees the last ones.
            let packet = e.headers.or(prev.as_ref().map(|p| p.0));
            let family = spots::family_of(e.family).map_or("?", |f| f.name());
            let hook = s.hook_of(e.family, &e.table, &e.chain).or(last_hook);
            last_hook = hook;
            let (sets, index) = match (e.kind, e.rule_handle) {
                (TraceType::Rule, Some(h)) if !ours(&e.table) => {
                    let rules = s.rules(e.family, &e.table, &e.chain);
                    let i = rules.iter().position(|r| r.handle == h);
                    (i.map(|i| rules[i].sets.clone()).unwrap_or_default(), i)
                }
                _ => (vec![], None),
            };
            let after = events[k + 1..].iter().find_map(|n| n.headers);
            let (iif, oif) = (s.ifname(e.iif), s.ifname(e.oif));
            let null = TraceVerdict::Continue;
            let verdict = match e.kind {
                TraceType::Policy => e.policy.as_ref().unwrap_or(&null),
                _ => e.verdict.as_ref().unwrap_or(&null),
            };
            let mut object = None;
            if ours(&e.table) {
                object = Some(match e.chain.as_str() {
                    "seen_input" => {
                        match s.is_host {
                            true => {
                                let to_host = req.to == "host"
                                    || e.headers.is_some_and(|h| {
                                        facts.published(h.proto, h.daddr, h.dport).is_none()
                                    });
                                unpublished = to_host && req.to != "host";
                                if !unpublished {
                                    reached.get_or_insert("the host".into());
                                }
                            }
                            false => {
                                reached.get_or_insert(s.label.clone());
                            }
                        }
                        "delivered to this namespace".to_string()
                    }
                    "seen_forward" => "forwarded".to_string(),
                    "seen_postrouting" => {
                        if s.is_host {
                            if let (Some(o), Some(h)) = (&oif, e.headers) {
                                if facts.network_of_bridge(o).is_none() {
                                    left = Some((o.clone(), h));
                                }
                            }
                        }
                        format!(
                            "leaves through {}",
                            oif.clone().unwrap_or_else(|| "?".into())
                        )
                    }
                    _ if family == "bridge" => {
                        "enters its bridge port (trace armed here)".to_string()
                    }
                    // Marked at its bridge port already: now in the inet hooks.
                    _ if hops.iter().any(|h: &Hop| {
                        h.namespace == s.label && h.table.starts_with("bridge podnet-trace")
                    }) =>
                    {
                        "reaches the inet hooks (trace armed here too)".to_string()
                    }
                    _ => "enters this namespace (trace armed here)".to_string(),
                });
            } else {
                let hit = Hit {
                    family,
                    table: &e.table,
                    chain: &e.chain,
                    sets: &sets,
                    index,
                    is_rule: e.kind == TraceType::Rule,
                    verdict,
                    packet,
                    after,
                    iif: iif.as_deref(),
                    oif: oif.as_deref(),
                    container: s.container_name(),
                };
                let m = explain(&hit, facts);
                object = m.object.clone().or(object);
                if matches!(verdict, TraceVerdict::Drop) && death.is_none() {
                    let why = m.why.unwrap_or_else(|| {
                        format!(
                            "dropped in {} by {family} {} chain {}",
                            s.label, e.table, e.chain
                        )
                    });
                    death = Some((why, m.fix));
                }
            }
            if let (Some(h), Some((p, by))) = (e.headers, &prev) {
                if (h.daddr, h.dport) != (p.daddr, p.dport) {
                    rewrites.push(Rewrite {
                        kind: "dnat".into(),
                        namespace: s.label.clone(),
                        before: hostport(p.daddr, p.dport),
                        after: hostport(h.daddr, h.dport),
                        by: by.clone(),
                    });
                }
                if (h.saddr, h.sport) != (p.saddr, p.sport) {
                    rewrites.push(Rewrite {
                        kind: "snat".into(),
                        namespace: s.label.clone(),
                        before: hostport(p.saddr, p.sport),
                        after: hostport(h.saddr, h.sport),
                        by: by.clone(),
                    });
                }
            }
            if let Some(h) = e.headers {
                prev = Some((h, object.clone()));
            }
            hops.push(Hop {
                namespace: s.label.clone(),
                hook: hook_name(hook).into(),
                table: format!(
                    "{family} {}",
                    if ours(&e.table) {
                        "podnet-trace"
                    } else {
                        &e.table
                    }
                ),
                chain: e.chain.clone(),
                rule: if ours(&e.table) { None } else { e.rule_handle },
                verdict: if ours(&e.table) && e.chain.starts_with("arm_") {
                    "trace".into()
                } else if ours(&e.table) {
                    "seen".into()
                } else {
                    verdict_text(e)
                },
                object,
                packet: e.headers,
                iif,
                oif,
            });
        }
    }
    let (outcome, summary, fix) = if let Some((why, fix)) = death {
        (Outcome::Dropped, why, fix)
    } else if let Some(r) = reached {
        (Outcome::Reached, format!("the packet reached {r}"), None)
    } else if unpublished {
        (
            Outcome::Unpublished,
            format!(
                "no container publishes port {}/{}, so the host itself got the packet (and answers or resets it)",
                req.port, req.proto
            ),
            Some(format!(
                "publish it: `podnet run -p {}:PORT/{} ...`",
                req.port, req.proto
            )),
        )
    } else if let Some((dev, h)) = left {
        let snat = rewrites
            .iter()
            .rev()
            .find(|r| r.kind == "snat")
            .and_then(|r| r.by.clone())
            .map(|b| format!(" ({b})"))
            .unwrap_or_default();
        (
            Outcome::Left,
            format!(
                "the packet left the host through {dev} as {}{snat}",
                report::packet(&h)
            ),
            None,
        )
    } else {
        (
            Outcome::Lost,
            format!(
                "no trace event after {}; the packet went where podnet does not look (or was not sent within {:?})",
                hops.last().map_or("arming".to_string(), |h: &Hop| format!("{} {}", h.namespace, h.hook)),
                req.timeout
            ),
            None,
        )
    };
    TraceReport {
        from: req.from.clone(),
        to: req.to.clone(),
        proto: req.proto.to_string(),
        port: req.port,
        armed,
        hops,
        rewrites,
        route: None,
        outcome,
        summary,
        fix,
    }
}

/// The host's routing decision for the packet as it was after prerouting (RTM_GETROUTE).
fn route_step(
    ctx: &mut Ctx,
    spots: &[Spot],
    host: usize,
    report: &TraceReport,
) -> Result<Option<RouteStep>> {
    let host_hops: Vec<&Hop> = report
        .hops
        .iter()
        .filter(|h| h.namespace == "host")
        .collect();
    let Some(first) = host_hops.first() else {
        return Ok(None);
    };
    let routed = host_hops
        .iter()
        .find(|h| matches!(h.hook.as_str(), "forward" | "input" | "postrouting"))
        .or(host_hops.last());
    let (Some(p0), Some(p)) = (first.packet, routed.and_then(|h| h.packet)) else {
        return Ok(None);
    };
    let s = &spots[host];
    let iif = first
        .iif
        .as_ref()
        .and_then(|n| s.links.iter().find(|(_, v)| *v == n).map(|(k, _)| *k));
    // RTM_GETROUTE is asked for IPv4 only (`kernel::route::get`); an IPv6 trace has no
    // route step.
    let (IpAddr::V4(dst), IpAddr::V4(saddr)) = (p.daddr, p0.saddr) else {
        return Ok(None);
    };
    let src = iif.map(|_| saddr);
    let Some(d) = route::get(ctx.host()?, dst, src, iif)? else {
        return Ok(Some(RouteStep {
            destination: p.daddr.to_string(),
            kind: "unreachable".into(),
            dev: None,
            via: None,
        }));
    };
    Ok(Some(RouteStep {
        destination: p.daddr.to_string(),
        kind: d.kind,
        dev: s.ifname(d.oif),
        via: d.gateway.map(|g| g.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse_target("web:80").unwrap(),
            ("web".into(), 80, Proto::Tcp)
        );
        assert_eq!(
            parse_target("10.88.0.2:53/udp").unwrap(),
            ("10.88.0.2".into(), 53, Proto::Udp)
        );
        assert_eq!(
            parse_target("[fd00:90::2]:8080/udp").unwrap(),
            ("fd00:90::2".into(), 8080, Proto::Udp)
        );
        for bad in [
            "web",
            "web:0",
            "web:70000",
            "web:80/icmp",
            ":80",
            "web:x",
            "[::1:80",
            "[]:80",
        ] {
            let e = parse_target(bad).unwrap_err().to_string();
            assert!(e.contains("TO:PORT"), "{bad}: {e}");
        }
    }
}
