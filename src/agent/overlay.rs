//! The agent's overlay loop (issue 11's data path joined to its control plane): the watch's
//! sink hands over the remote nodes, and one thread brings the node's VXLAN device and its
//! FDB/neighbour/route entries to them (`engine::overlay::reconcile`), then makes the
//! default network the node's cluster network. Level-triggered: it runs after every change
//! and every [`TICK`] anyway, so a failure (logged once, never fatal) is retried, and
//! whatever someone changed in the kernel meanwhile is put right.

use crate::cluster::local;
use crate::cluster::member;
use crate::cluster::watch::{NodeChange, NodeSink};
use crate::engine::overlay::{self, network, OverlayConfig};
use crate::kernel::nl::Rtnl;
use crate::model::NodeLease;
use ipnet::Ipv4Net;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often the overlay is reconciled without a change (repair and retry).
pub const TICK: Duration = Duration::from_secs(5);

/// The remote nodes last heard of, and a counter of changes.
#[derive(Default)]
pub struct Latest {
    state: Mutex<(u64, Vec<NodeLease>)>,
    changed: Condvar,
}

impl Latest {
    fn wait(&self, seen: u64) -> (u64, Vec<NodeLease>) {
        let g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = self
            .changed
            .wait_timeout_while(g, TICK, |s| s.0 == seen)
            .unwrap_or_else(|e| e.into_inner());
        g.clone()
    }
}

/// The watch's sink: tells the overlay thread, then whoever else listens (the peers file).
pub struct Sink<S> {
    pub latest: Arc<Latest>,
    pub next: S,
}

impl<S: NodeSink> NodeSink for Sink<S> {
    fn nodes_changed(&mut self, change: &NodeChange) {
        {
            let mut g = self.latest.state.lock().unwrap_or_else(|e| e.into_inner());
            g.0 += 1;
            g.1 = change.all.clone();
        }
        self.latest.changed.notify_all();
        self.next.nodes_changed(change);
    }
}

/// What the loop needs.
pub struct Loop {
    pub root: PathBuf,
    pub run_dir: PathBuf,
    pub cfg: OverlayConfig,
    pub current: member::Current,
    pub latest: Arc<Latest>,
    pub log: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Loop {
    /// Runs forever on its own thread (the agent's process is in the node's namespace, so
    /// its netlink socket is too).
    pub fn run(self) {
        let mut rtnl = None;
        let mut seen = u64::MAX;
        let mut last_errors = String::new();
        let mut network_for: Option<Ipv4Net> = None;
        let mut mtu_saved = None;
        loop {
            let (gen, remotes) = self.latest.wait(seen);
            seen = gen;
            let subnet = self
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .node
                .subnet;
            let r = match rtnl.as_mut() {
                Some(r) => r,
                None => match Rtnl::open() {
                    Ok(r) => rtnl.insert(r),
                    Err(e) => {
                        self.once(&mut last_errors, format!("overlay: netlink: {e}"));
                        continue;
                    }
                },
            };
            let out = overlay::reconcile(r, &self.cfg, subnet, &remotes);
            let errors: Vec<String> = out.errors.iter().map(|e| e.to_string()).collect();
            self.once(&mut last_errors, errors.join("; "));
            let Some(dev) = out.device else { continue };
            if mtu_saved != Some(dev.mtu) && self.save_mtu(dev.mtu) {
                mtu_saved = Some(dev.mtu);
            }
            if network_for != Some(subnet) && self.cluster_network() {
                network_for = Some(subnet);
            }
        }
    }

    /// Logs `msg` unless it is what was logged last (a failure retried every tick says so
    /// once); an empty one after errors says they cleared.
    fn once(&self, last: &mut String, msg: String) {
        if msg == *last {
            return;
        }
        if msg.is_empty() {
            (self.log)("overlay: in sync again");
        } else {
            (self.log)(&format!(
                "overlay: {msg} (retried on the next change or in {TICK:?})"
            ));
        }
        *last = msg;
    }

    fn save_mtu(&self, mtu: u32) -> bool {
        let r = local::load(&self.root).and_then(|l| {
            let mut l = l.unwrap_or_default();
            if l.mtu == Some(mtu) {
                return Ok(());
            }
            l.mtu = Some(mtu);
            local::save(&self.root, &l)
        });
        r.map_err(|e| (self.log)(&format!("overlay: cannot record the MTU: {e}")))
            .is_ok()
    }

    /// The default network on the node's subnet, and the firewall with the overlay's part.
    fn cluster_network(&self) -> bool {
        let Some(j) = network::joined(&self.root) else {
            return false;
        };
        let r = crate::engine::open(&self.root, &self.run_dir, crate::engine::Access::Create)
            .and_then(|(mut ctx, _)| {
                // No forked closer: it would inherit (and hold) the agent's lock.
                ctx.close_here();
                network::ensure(&mut ctx, &j)
            });
        match r {
            Ok((on_subnet, note)) => {
                if let Some(n) = note {
                    (self.log)(&n);
                }
                if !on_subnet {
                    return true; // said once; the containers decide when it can move
                }
                (self.log)(&format!(
                    "cluster network {} on {} (gateway on its bridge)",
                    crate::engine::DEFAULT_NETWORK,
                    j.subnet
                ));
                true
            }
            Err(e) => {
                (self.log)(&format!("cluster network: {e} (retried in {TICK:?})"));
                false
            }
        }
    }
}
