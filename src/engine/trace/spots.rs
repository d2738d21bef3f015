//! The namespaces a trace follows ("spots"): in each, the tracer's own owned table (gone with
//! this process, however it ends), a trace-event listener, and the names of its links.

use crate::engine::nft_error;
use crate::kernel::nft::query::{get_chain, list_rules};
use crate::kernel::nft::trace::{arm_batch, Match, TraceEvent, TraceListener, TABLE_PREFIX};
use crate::kernel::nft::Table;
use crate::kernel::nft::{Family, NftSocket, RuleInfo};
use crate::kernel::{link, netns, Rtnl};
use crate::model::{Error, Result};
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

pub struct Spot {
    /// `host` or `container NAME`.
    pub label: String,
    pub is_host: bool,
    /// Owns the table: the kernel deletes it when this socket closes.
    nft: NftSocket,
    pub listener: TraceListener,
    pub links: HashMap<u32, String>,
    rules: HashMap<(u8, String, String), Vec<RuleInfo>>,
    hooks: HashMap<(u8, String, String), Option<u32>>,
    pub events: Vec<TraceEvent>,
    /// Which of the namespace's trace events are this trace's probe's.
    mine: Attribution,
}

/// Every listener in a namespace hears every traced packet there, a concurrent tracer's
/// too (and a packet whose trace flag another tracer set crosses this tracer's chains as
/// well). An event is this probe's when its headers match the probe's flow, or when it
/// belongs to a chain walk (the kernel's per-packet trace id) whose headers did; events of
/// another tracer's table are never this trace's.
#[derive(Default)]
pub struct Attribution {
    own_table: String,
    flow: Match,
    ids: HashMap<u32, bool>,
}

impl Attribution {
    pub fn new(own_table: &str, flow: Match) -> Attribution {
        Attribution {
            own_table: own_table.to_string(),
            flow,
            ids: HashMap::new(),
        }
    }

    pub fn keep(&mut self, e: &TraceEvent) -> bool {
        if e.table.starts_with(TABLE_PREFIX) && e.table != self.own_table {
            return false;
        }
        let known = self.ids.entry(e.id).or_insert(false);
        if let Some(h) = &e.headers {
            // Sticky: a NAT later in the walk may rewrite what the flow matched on.
            *known |= self.flow.covers(h);
        }
        *known
    }
}

fn open_here(label: String, is_host: bool) -> Result<Spot> {
    let nft = NftSocket::open().map_err(|e| nft_error("trace: nftables socket", e))?;
    let listener = TraceListener::open().map_err(|e| {
        Error::kernel(
            "trace: listen for trace events",
            e.raw_os_error().unwrap_or(libc::EIO),
        )
    })?;
    let mut rtnl = Rtnl::open()?;
    let links = link::list(&mut rtnl)?
        .into_iter()
        .map(|l| (l.index, l.name))
        .collect();
    Ok(Spot {
        label,
        is_host,
        nft,
        listener,
        links,
        rules: HashMap::new(),
        hooks: HashMap::new(),
        events: vec![],
        mine: Attribution::default(),
    })
}

impl Spot {
    /// The host: the calling thread's namespace.
    pub fn host() -> Result<Spot> {
        open_here("host".into(), true)
    }

    /// A container's namespace, entered on the calling thread only while the sockets are made.
    pub fn container(name: &str, netns_path: &str) -> Result<(Spot, File)> {
        let ns = netns::open(Path::new(netns_path))?;
        let spot = {
            let _inside = netns::enter(&ns)?;
            open_here(format!("container {name}"), false)?
        };
        Ok((spot, ns))
    }

    /// Make the tracer's table `t` in this namespace (in the host, where the bridges are, in
    /// the bridge family too), arming on `m`; keep only the events of packets of `flow` (what
    /// every namespace's arming keeps of the probe).
    pub fn arm(&mut self, t: &Table, m: &Match, flow: Match) -> Result<()> {
        self.mine = Attribution::new(&t.name, flow);
        self.nft
            .apply(&arm_batch(t, m, self.is_host))
            .map_err(|e| nft_error(&format!("trace: arm in {}", self.label), e))
    }

    /// Read what the listener has, keeping this probe's events.
    pub fn drain(&mut self) {
        if let Ok(ev) = self.listener.drain() {
            let mine = &mut self.mine;
            self.events.extend(ev.into_iter().filter(|e| mine.keep(e)));
        }
    }

    /// The container whose namespace this is (None: the host).
    pub fn container_name(&self) -> Option<&str> {
        match self.is_host {
            true => None,
            false => self.label.strip_prefix("container "),
        }
    }

    pub fn ifname(&self, index: Option<u32>) -> Option<String> {
        let i = index?;
        Some(
            self.links
                .get(&i)
                .cloned()
                .unwrap_or_else(|| format!("if{i}")),
        )
    }

    /// The rules of one chain (listed once per trace), for the handles the events name.
    pub fn rules(&mut self, family: u8, table: &str, chain: &str) -> &[RuleInfo] {
        let key = (family, table.to_string(), chain.to_string());
        if !self.rules.contains_key(&key) {
            let rules = match family_of(family) {
                Some(f) => list_rules(&mut self.nft, f, table, chain).unwrap_or_default(),
                None => vec![],
            };
            self.rules.insert(key.clone(), rules);
        }
        &self.rules[&key]
    }

    /// The hook number of a base chain (None for a regular chain, or when unknown).
    pub fn hook_of(&mut self, family: u8, table: &str, chain: &str) -> Option<u32> {
        let key = (family, table.to_string(), chain.to_string());
        if let Some(h) = self.hooks.get(&key) {
            return *h;
        }
        let h = family_of(family)
            .and_then(|f| get_chain(&mut self.nft, f, table, chain).ok().flatten())
            .and_then(|c| c.hook.map(|(n, _)| n));
        self.hooks.insert(key, h);
        h
    }
}

pub fn family_of(nfproto: u8) -> Option<Family> {
    Some(match nfproto {
        1 => Family::Inet,
        2 => Family::Ip,
        5 => Family::Netdev,
        7 => Family::Bridge,
        10 => Family::Ip6,
        _ => return None,
    })
}

pub fn hook_name(n: Option<u32>) -> &'static str {
    match n {
        Some(0) => "prerouting",
        Some(1) => "input",
        Some(2) => "forward",
        Some(3) => "output",
        Some(4) => "postrouting",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::nft::trace::{Headers, TraceType};
    use std::net::Ipv4Addr;

    fn event(table: &str, id: u32, sport: Option<u16>) -> TraceEvent {
        TraceEvent {
            family: 2,
            table: table.into(),
            chain: "forward".into(),
            rule_handle: None,
            kind: TraceType::Rule,
            verdict: None,
            policy: None,
            id,
            iif: None,
            oif: None,
            headers: sport.map(|sport| Headers {
                proto: 6,
                saddr: Ipv4Addr::new(10, 88, 0, 2).into(),
                daddr: Ipv4Addr::new(10, 88, 0, 3).into(),
                sport,
                dport: 80,
            }),
        }
    }

    #[test]
    fn a_concurrent_probes_events_are_not_this_traces() {
        let flow = Match {
            proto: 6,
            sport: Some(40000),
            ..Match::default()
        };
        let mut mine = Attribution::new("podnet-trace-7-0", flow);
        let stream = [
            (event("podnet-trace-7-0", 1, Some(40000)), true),
            (event("podnet-trace-9-0", 1, Some(40000)), false),
            (event("podnet", 2, Some(50000)), false),
            (event("podnet", 1, None), true),
            (event("podnet", 2, None), false),
            (event("podnet-trace-7-0", 2, None), false),
            (event("podnet", 3, None), false),
        ];
        for (i, (e, want)) in stream.iter().enumerate() {
            assert_eq!(mine.keep(e), *want, "event {i}: {e:?}");
        }
    }
}
