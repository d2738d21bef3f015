//! The graph's types: what `podnet graph --format json` prints, field for field. The JSON is
//! a script's interface: fields are only ever added; a rename or removal bumps [`VERSION`].
//! Every node has a stable `id` (`host`, `network:NAME`, `container:NAME`, `service:NAME`,
//! `port:PROTO/HOSTIP:PORT`, `vxlan:DEV`, `node:SUBNET`, `link:NAME`); edges name them.
//! Field reference: `docs/graph-json.md`.

use serde::Serialize;

/// The JSON's schema version.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Graph {
    pub version: u32,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Where the store and the kernel disagree.
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub body: Body,
}

/// What a node is (`kind` in the JSON) and what is known of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// The host's own namespace; `routes` are those through podnet's devices.
    Host {
        routes: Vec<Route>,
    },
    Network(NetworkNode),
    Container(ContainerNode),
    Port(PortNode),
    Service(ServiceNode),
    /// The cluster overlay's VXLAN device (cluster mode).
    Vxlan {
        vni: u32,
        /// This node's share of the pod network.
        subnet: String,
        pod_cidr: String,
        present: bool,
    },
    /// Another cluster node, as this node's kernel routes to it.
    RemoteNode {
        subnet: String,
        /// Its VTEP address (the route's gateway on the VXLAN device).
        vtep: String,
        /// Its underlay address (the FDB entry's destination), when known.
        underlay: Option<String>,
    },
    /// A kernel link podnet's store does not explain (always carries a flag).
    Link {
        link_kind: Option<String>,
        master: Option<String>,
        up: bool,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NetworkNode {
    /// `bridge` or `macvlan`.
    pub driver: String,
    /// A bridge network's bridge; a macvlan network's host shim (`pnm<id>`), a link only
    /// with `host_access`.
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
    pub subnet6: Option<String>,
    pub gateway6: Option<String>,
    pub internal: bool,
    pub icc: bool,
    /// The bridge exists in the kernel (macvlan: the parent does).
    pub present: bool,
    /// macvlan: the host interface its containers' interfaces sit on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// macvlan: `bridge`, `private`, `vepa` or `passthru`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macvlan_mode: Option<String>,
    /// macvlan: where container addresses come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// macvlan: the host has a shim (`bridge`) with a route to `ip_range`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_access: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ContainerNode {
    /// `bridge`, `host`, `none`, `container`.
    pub mode: String,
    /// As `podnet ps` says it (`running`, `exited`, `dead`, ...).
    pub status: String,
    pub netns: Option<String>,
    pub pid: Option<i32>,
    /// Its namespace's interfaces as the kernel has them (none for host mode).
    pub interfaces: Vec<Interface>,
    /// Its namespace's IPv4 main-table routes.
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// `ADDR/PREFIX`, IPv4 then IPv6.
    pub addresses: Vec<String>,
    pub up: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// `default` or `ADDR/PREFIX`.
    pub dst: String,
    pub via: Option<String>,
    pub dev: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PortNode {
    /// `0.0.0.0` when published on every address.
    pub host_ip: String,
    pub host_port: u16,
    pub proto: String,
    pub container_port: u16,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceNode {
    pub vip: Option<String>,
    pub vip6: Option<String>,
    /// `PORT[:TARGET]/PROTO`.
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// The veth's host end (`veth` edges), or what a port or backend leads to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// host → network: the bridge in the host namespace, holding the gateway.
    Bridge,
    /// network → container: a veth pair (host end on the bridge, `ifname` inside).
    Veth,
    /// container → container: a `container:NAME` sharer to the namespace's owner.
    Shares,
    /// container → host: a host-mode process in the host's namespace.
    HostMode,
    /// port → container: a published port (host port → container port).
    Publishes,
    /// service → container: a backend (VIP → container address).
    Backend,
    /// host → vxlan device.
    Overlay,
    /// vxlan device → remote node.
    Tunnel,
    /// an unexplained link → the bridge it is enslaved to (or the host).
    Enslaved,
    /// host → macvlan network: the parent interface carrying it (detail: parent, mode, range).
    Parent,
    /// host → macvlan network: the host's shim on the parent (only with host access).
    Shim,
    /// macvlan network → container: a macvlan child of the parent inside the container's
    /// namespace (no host end).
    Macvlan,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flag {
    pub kind: FlagKind,
    /// The node id it concerns.
    pub subject: String,
    pub message: String,
    /// What repairs it (checked against what `podnet gc` does for each kind).
    pub fix: String,
}

impl Flag {
    pub fn new(kind: FlagKind, subject: String, message: String) -> Flag {
        let fix = kind.fix(&subject).to_string();
        Flag {
            kind,
            subject,
            message,
            fix,
        }
    }
}

impl FlagKind {
    /// What repairs a disagreement of this kind on `subject` (a node id).
    pub fn fix(self, subject: &str) -> &'static str {
        let container = subject.starts_with("container:");
        match self {
            FlagKind::OrphanLink => "`podnet gc` removes it if podnet made it (its name or mark says so); a link someone else put on podnet's bridge is theirs: `ip link set NAME nomaster` or `ip link del NAME`",
            FlagKind::MissingBridge => "`podnet gc` re-creates it",
            FlagKind::MissingVeth => "`podnet gc` re-creates it (or retires the container if its namespace is gone too)",
            FlagKind::VethOffBridge => "`podnet gc` puts it back on its bridge",
            FlagKind::LinkDown => "`podnet gc` brings it up",
            FlagKind::MissingNamespace => "`podnet gc` retires the container (its namespace is gone); run it again",
            FlagKind::MissingInterface => "`podnet gc` re-creates a bridge container's eth0; a macvlan container must be run again",
            FlagKind::MissingAddress if container => "only the container can change its own addresses back (`podnet exec NAME -- ip addr add ...`), or run it again",
            FlagKind::MissingAddress => "`podnet gc` re-adds it",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// A podnet-looking link (on a podnet bridge, podnet's name prefix or identity) that no
    /// record names: e.g. a veth with no owner.
    OrphanLink,
    /// A recorded bridge the kernel does not have.
    MissingBridge,
    /// A recorded veth host end the kernel does not have.
    MissingVeth,
    /// A veth not on its network's bridge.
    VethOffBridge,
    /// A recorded link that is down.
    LinkDown,
    /// A recorded namespace that cannot be opened.
    MissingNamespace,
    /// A container's recorded interface missing from its namespace.
    MissingInterface,
    /// A recorded address (gateway or container address) missing from its link.
    MissingAddress,
}
