//! The DNS server the agent hosts (DESIGN.md §6, issue 10): container names, aliases and
//! service names on each DNS-enabled network's gateway, scoped by the asker, everything else
//! forwarded to the host's resolvers.
//!
//! The host of the server (the agent; tests and the benchmark meanwhile) does three things:
//! - [`Server::start`] once, with a [`Config`] (port, resolv.conf paths, timing, caps);
//! - [`Server::update`] with the whole [`Names`] whenever the store changes: the compiled
//!   table is swapped in one step, so answering never waits for an update and a name answers
//!   from the moment `update` returns;
//! - [`Server::set_listen`] with the gateway addresses (and their bridges) to serve: new
//!   ones are bound, gone ones closed.
//!
//! Sockets belong to the network namespace of the thread that creates them: call `start`
//! (upstream sockets) and `set_listen` (listening sockets) from the namespace to serve.
//!
//! Wire format: hickory-proto decodes queries and encodes our answers; forwarded messages
//! are relayed as bytes (docs/decisions/2026-12-01-dns-server.md).

pub mod answer;
mod forward;
mod limits;
mod listen;
mod socket;
pub mod table;
pub mod upstream;
pub mod wire;

pub use forward::Timing;
pub use limits::Limits;
pub use table::{NameRecord, Names, NetworkNames, Table};

use forward::Forwarder;
use limits::Gate;
use listen::Listener;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use upstream::Upstreams;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The port served on every listen address (53).
    pub port: u16,
    /// The host's resolver configuration, read for upstreams (`/etc/resolv.conf`).
    pub resolv_conf: PathBuf,
    /// Where systemd-resolved lists its real upstreams, read when `resolv_conf` names only
    /// a loopback stub (`/run/systemd/resolve/resolv.conf`).
    pub stub_resolv_conf: PathBuf,
    /// The port upstreams are asked on (53).
    pub upstream_port: u16,
    /// Forwarding budget and per-upstream slot.
    pub timing: Timing,
    /// Fairness caps.
    pub limits: Limits,
    /// UDP worker threads per listen address. Two: while one is in a syscall the other
    /// answers (benches/dns: 41 k → 81 k queries/s from 1 to 2 on this 2-core machine).
    pub udp_threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 53,
            resolv_conf: "/etc/resolv.conf".into(),
            stub_resolv_conf: "/run/systemd/resolve/resolv.conf".into(),
            upstream_port: 53,
            timing: Timing::default(),
            limits: Limits::default(),
            udp_threads: 2,
        }
    }
}

/// An address to serve, and the bridge its queries must arrive on (`None` accepts any
/// interface: only for tests and benchmarks).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Listen {
    pub addr: IpAddr,
    pub device: Option<String>,
}

type TableCell = Arc<RwLock<Arc<Table>>>;

/// What every server thread shares.
struct Shared {
    config: Config,
    table: TableCell,
    upstreams: Arc<Upstreams>,
    forwarder: Arc<Forwarder>,
    udp_gate: Arc<Gate>,
    tcp_gate: Arc<Gate>,
}

impl Shared {
    /// The current table. The lock is held only to clone one pointer; an update builds its
    /// table before taking it.
    fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn upstreams(&self) -> Arc<Vec<SocketAddr>> {
        current_upstreams(&self.upstreams, &self.table)
    }
}

fn current_upstreams(u: &Upstreams, table: &TableCell) -> Arc<Vec<SocketAddr>> {
    let t = table.read().unwrap_or_else(|p| p.into_inner()).clone();
    u.current(&|a| t.is_gateway(a))
}

/// A running DNS server. Dropping it closes every listener and the forwarder.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Mutex<HashMap<Listen, Listener>>,
    forward_thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts the forwarder; no address is served until [`Server::set_listen`].
    pub fn start(config: Config) -> io::Result<Server> {
        let table: TableCell = Arc::new(RwLock::new(Arc::new(Table::default())));
        let upstreams = Arc::new(Upstreams::new(
            config.resolv_conf.clone(),
            config.stub_resolv_conf.clone(),
            config.upstream_port,
        ));
        let (u, t) = (upstreams.clone(), table.clone());
        let (forwarder, forward_thread) =
            Forwarder::start(config.timing, Box::new(move || current_upstreams(&u, &t)))?;
        let limits = &config.limits;
        let shared = Arc::new(Shared {
            udp_gate: Gate::new(limits.udp_per_client, limits.udp_total),
            tcp_gate: Gate::new(limits.tcp_per_client, limits.tcp_total),
            config,
            table,
            upstreams,
            forwarder,
        });
        Ok(Server {
            shared,
            listeners: Mutex::new(HashMap::new()),
            forward_thread: Some(forward_thread),
        })
    }

    /// Replaces every name. Queries answered after this returns see the new names.
    pub fn update(&self, names: &Names) {
        let table = Arc::new(Table::build(names));
        *self.shared.table.write().unwrap_or_else(|p| p.into_inner()) = table;
    }

    /// Serves exactly `want`: binds the new addresses, closes the ones not listed. Returns
    /// the addresses that could not be bound, with why (the others are served).
    pub fn set_listen(&self, want: &[Listen]) -> Vec<(Listen, io::Error)> {
        let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        listeners.retain(|l, _| want.contains(l));
        let mut failed = Vec::new();
        for l in want {
            if listeners.contains_key(l) {
                continue;
            }
            let threads = self.shared.config.udp_threads;
            match Listener::start(l.addr, l.device.as_deref(), &self.shared, threads) {
                Ok(h) => {
                    listeners.insert(l.clone(), h);
                }
                Err(e) => failed.push((l.clone(), e)),
            }
        }
        failed
    }

    /// The addresses being served.
    pub fn listening(&self) -> Vec<Listen> {
        let listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        listeners.keys().cloned().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.shared.forwarder.stop();
        if let Some(t) = self.forward_thread.take() {
            let _ = t.join();
        }
    }
}
