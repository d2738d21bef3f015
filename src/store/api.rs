//! The engine's interface to its state: what it reads and writes, in its own types (model
//! types, `IpAddr`), with no database type in sight. SQLite implements it (`sqlite.rs`); a
//! second store (the cluster issue's) implements the same traits.
//!
//! Atomicity is the implementation's promise: everything done through one [`Writes`] handle
//! is one transaction, taken at once (a read-then-write cannot race another process), and
//! either all of it happens or none. The crash-repair protocol rests on this: the
//! compare-and-set transitions below (`claim_endpoint`, `set_endpoint_ready`, `set_pid`,
//! `delete_endpoint`, `claim_network`, `adopt_network`) say whether they changed the record,
//! judged on the record as it is inside that transaction.

use crate::model::service::ServiceDef;
use crate::model::{
    Backend, Backend6, Endpoint, Labels, Mac, Mode, NameRecord, Network, NetworkNames,
    NetworkState, PortMapping, Proto, Result,
};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A process identity: (pid, start time in clock ticks since boot).
pub type Owner = (i32, u64);

pub struct NewEndpoint<'a> {
    pub name: &'a str,
    pub mode: &'a Mode,
    pub netns: Option<&'a str>,
    pub netns_owned: bool,
    pub netns_id: Option<(u64, u64)>,
    pub owner: Owner,
    /// The interface's name inside the namespace; None: `eth0`.
    pub ifname: Option<&'a str>,
    /// A bridge endpoint has a host veth end (`pnv<id>`); a macvlan one has nothing on the host.
    pub veth: bool,
}

pub struct NewNetwork<'a> {
    pub name: &'a str,
    pub bridge: &'a str,
    pub subnet: ipnet::Ipv4Net,
    pub gateway: Ipv4Addr,
    pub subnet6: Option<ipnet::Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
    pub nat6: bool,
    pub mtu: u32,
    pub internal: bool,
    pub icc: bool,
    /// The agent serves names on the network's gateways.
    pub dns: bool,
    /// A macvlan network's own fields (None: a bridge network).
    pub macvlan: Option<&'a crate::model::Macvlan>,
    pub owner: Owner,
}

/// A service as recorded, with how its backends are chosen.
#[derive(Debug, Clone)]
pub struct ServiceRecord {
    pub id: i64,
    /// Both families' VIPs, ports, affinity.
    pub service: ServiceDef,
    pub selector: Option<Labels>,
    /// Explicit backends: (container name, port override).
    pub backends: Vec<(String, Option<u16>)>,
    /// IPv4 backends as last programmed into `ip podnet-svc`.
    pub programmed: Vec<Backend>,
    /// IPv6 backends as last programmed into `ip6 podnet-svc`.
    pub programmed6: Vec<Backend6>,
}

/// What a runtime attachment (CNI, netavark) records besides its endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeRecord {
    /// The runtime's container id (CNI_CONTAINERID, netavark's container_id).
    pub container_id: String,
    /// The interface's name inside the namespace.
    pub ifname: String,
    /// Who asked: `cni`, `netavark`.
    pub runtime: String,
    pub k8s_namespace: Option<String>,
    pub k8s_name: Option<String>,
}

/// A recorded runtime attachment: its endpoint's id and name, its network's, and the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeRow {
    pub endpoint_id: i64,
    pub endpoint: String,
    pub network_id: i64,
    pub record: RuntimeRecord,
}

/// A container's network after its first: endpoint `endpoint_id` (its own lease, veth, MAC)
/// is `ifname` (`eth1`, ...) in container `container_id`'s namespace, on network `network_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub endpoint_id: i64,
    pub container_id: i64,
    pub network_id: i64,
    pub ifname: String,
}

/// What the engine reads. Outside a transaction each call sees the latest committed state;
/// inside one ([`Writes`]), the transaction's.
pub trait Reads {
    // Endpoints.
    fn endpoint(&self, name: &str) -> Result<Option<Endpoint>>;
    fn endpoint_by_id(&self, id: i64) -> Result<Option<Endpoint>>;
    /// Every endpoint, oldest first.
    fn endpoints(&self) -> Result<Vec<Endpoint>>;
    /// Ids of every endpoint, oldest first.
    fn endpoint_ids(&self) -> Result<Vec<i64>>;
    /// Containers sharing `name`'s namespace (`container:NAME`).
    fn joiners(&self, name: &str) -> Result<Vec<String>>;
    /// Recorded identity (dev, inode) of an endpoint's namespace.
    fn netns_identity(&self, id: i64) -> Result<Option<(u64, u64)>>;
    /// The endpoint whose namespace has this identity (dev, inode), if any.
    fn using_netns(&self, ns: (u64, u64)) -> Result<Option<String>>;
    fn is_draining(&self, id: i64) -> Result<bool>;
    fn lease_taken(&self, network_id: i64, ip: IpAddr) -> Result<bool>;
    // Networks.
    fn network(&self, name: &str) -> Result<Option<Network>>;
    fn networks(&self) -> Result<Vec<Network>>;
    /// Containers attached to a network.
    fn network_users(&self, id: i64) -> Result<Vec<String>>;
    /// Owner of a network still being created or being removed.
    fn network_owner(&self, id: i64) -> Result<Option<Owner>>;
    /// The id the next network will get (bridge names of long network names use it).
    fn next_network_id(&self) -> Result<i64>;
    /// The round-robin allocation hint of a network.
    fn next_ip(&self, network_id: i64) -> Result<Option<IpAddr>>;
    /// The round-robin allocation hint of a network's IPv6 subnet.
    fn next_ip6(&self, network_id: i64) -> Result<Option<Ipv6Addr>>;
    /// This host's unique local /48 (chosen at random once, kept in the store).
    fn ula48(&self) -> Result<Option<ipnet::Ipv6Net>>;
    /// Every name the agent serves: each ready DNS-enabled network with its ready
    /// containers' names and addresses, and every service's name and VIPs. The one place
    /// that decides what resolves (aliases and containers on several networks go here).
    fn dns_names(&self) -> Result<Vec<NetworkNames>>;
    /// One container's records of [`Reads::dns_names`], each with its network's id (none
    /// when it is gone or not ready): what changed when a command names the container.
    fn container_dns_names(&self, container_id: i64) -> Result<Vec<(i64, NameRecord)>>;
    // Published ports and labels.
    fn ports_of(&self, endpoint_id: i64) -> Result<Vec<PortMapping>>;
    /// Every published port with the address it leads to, except those of endpoints being
    /// removed (a re-render from this never brings back a port whose container is going).
    fn all_ports(&self) -> Result<Vec<(Ipv4Addr, PortMapping)>>;
    /// The container already publishing `m`'s host port.
    fn port_holder(&self, m: &PortMapping) -> Result<Option<String>>;
    fn labels_of(&self, endpoint_id: i64) -> Result<Labels>;
    /// Names of containers carrying every label of `selector`, in creation order.
    fn matching(&self, selector: &Labels) -> Result<Vec<String>>;
    // Services.
    fn service(&self, name: &str) -> Result<Option<ServiceRecord>>;
    fn services(&self) -> Result<Vec<ServiceRecord>>;
    /// Whether any service exists (the hot path asks this before any service work).
    fn any_service(&self) -> Result<bool>;
    /// Whether any service has an IPv4 side (`ip podnet-svc` and its route exist).
    fn any_service4(&self) -> Result<bool>;
    /// Whether any service has an IPv6 side (`ip6 podnet-svc` and its route exist).
    fn any_service6(&self) -> Result<bool>;
    /// The service holding `vip` (of either family).
    fn vip_taken(&self, vip: IpAddr) -> Result<Option<String>>;
    /// The address after the highest VIP in use within `[lo, hi]`, if still inside.
    fn vip_after_highest(&self, lo: IpAddr, hi: IpAddr) -> Result<Option<IpAddr>>;
    fn node_port_owner(&self, port: u16, proto: Proto) -> Result<Option<String>>;
    /// The backend counts whose bucket chains exist in the kernel.
    fn bucket_sizes(&self) -> Result<BTreeSet<usize>>;
    /// The same for `ip6 podnet-svc`.
    fn bucket_sizes6(&self) -> Result<BTreeSet<usize>>;
    /// Services a container can be a backend of (by name, or by one of its labels).
    fn services_concerning(&self, container: &str, labels: &Labels) -> Result<Vec<ServiceRecord>>;
    // Runtime attachments (CNI, netavark).
    /// The runtime record of an endpoint, if a runtime made it.
    fn runtime_of(&self, endpoint_id: i64) -> Result<Option<RuntimeRow>>;
    /// Every runtime attachment, of one network or of all, oldest first.
    fn runtime_attachments(&self, network_id: Option<i64>) -> Result<Vec<RuntimeRow>>;
    /// The attachment of (container id, ifname) on a network, if any.
    fn runtime_attachment(
        &self,
        network_id: i64,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<RuntimeRow>>;
    // Containers on several networks.
    /// A container's networks after its first, oldest first.
    fn members_of(&self, container_id: i64) -> Result<Vec<Member>>;
    /// The membership of an endpoint that is a container's later network (None: it is a
    /// container of its own).
    fn member(&self, endpoint_id: i64) -> Result<Option<Member>>;
    /// Ids of every endpoint that is a container's later network.
    fn member_ids(&self) -> Result<Vec<i64>>;
    /// Every membership row (all containers' later networks), oldest first.
    fn members(&self) -> Result<Vec<Member>>;
    /// The names (`--network-alias`) of an endpoint on its network.
    fn aliases_of(&self, endpoint_id: i64) -> Result<Vec<String>>;
}

/// What the engine changes, inside one transaction.
pub trait Writes: Reads {
    /// Insert an endpoint in state `creating`, owned by `e.owner`.
    fn insert_endpoint(&self, e: &NewEndpoint) -> Result<Endpoint>;
    fn set_netns_identity(&self, id: i64, ns: (u64, u64)) -> Result<()>;
    /// Lease `ip` on a network to an endpoint (the endpoint's address of `ip`'s family; a
    /// dual-stack endpoint has two leases).
    fn add_lease(&self, network_id: i64, endpoint_id: i64, ip: IpAddr) -> Result<()>;
    fn set_mac(&self, endpoint_id: i64, mac: Mac) -> Result<()>;
    /// `creating` → `ready` if still owned by `me` (compare-and-set). `keep_owner` keeps the
    /// owner (a foreground run).
    fn set_endpoint_ready(&self, id: i64, keep_owner: bool, me: Owner) -> Result<bool>;
    /// Record the container's process if still `creating` and owned by `me`.
    fn set_pid(&self, id: i64, pid: Owner, me: Owner) -> Result<bool>;
    /// Take an endpoint over for teardown (`removing`, owned by `me`) if its row is still as
    /// `seen` left it (same state, same owner).
    fn claim_endpoint(&self, seen: &Endpoint, me: Owner) -> Result<bool>;
    /// Delete an endpoint `me` is removing, with its lease, ports and labels.
    fn delete_endpoint(&self, id: i64, me: Owner) -> Result<bool>;
    fn set_draining(&self, id: i64) -> Result<()>;
    fn insert_network(&self, n: &NewNetwork) -> Result<i64>;
    fn set_network_ready(&self, name: &str) -> Result<()>;
    /// Mark the network as one whose addresses a runtime's IPAM plugin gives.
    fn set_network_delegated(&self, id: i64) -> Result<()>;
    fn delete_network(&self, name: &str) -> Result<()>;
    /// Take a network over for removal if still in `state` with owner `seen_owner` and no
    /// container uses it.
    fn claim_network(
        &self,
        id: i64,
        state: NetworkState,
        seen_owner: Option<Owner>,
        me: Owner,
    ) -> Result<bool>;
    /// Take over a `creating` network whose creator `dead` died.
    fn adopt_network(&self, id: i64, dead: Owner, me: Owner) -> Result<bool>;
    /// Set the allocation hint of `ip`'s family.
    fn set_next_ip(&self, network_id: i64, ip: IpAddr) -> Result<()>;
    /// Set the IPv6 allocation hint.
    fn set_next_ip6(&self, network_id: i64, ip: Ipv6Addr) -> Result<()> {
        self.set_next_ip(network_id, IpAddr::V6(ip))
    }
    fn add_ports(&self, endpoint_id: i64, ports: &[PortMapping]) -> Result<()>;
    fn add_labels(&self, endpoint_id: i64, labels: &Labels) -> Result<()>;
    fn replace_labels(&self, endpoint_id: i64, labels: &Labels) -> Result<()>;
    fn insert_service(
        &self,
        s: &ServiceDef,
        selector: Option<&Labels>,
        backends: &[(String, Option<u16>)],
    ) -> Result<i64>;
    fn set_programmed(&self, id: i64, backends: &[Backend]) -> Result<()>;
    fn set_programmed6(&self, id: i64, backends: &[Backend6]) -> Result<()>;
    /// Record bucket chains as made; `reset` first forgets all (after a full re-render).
    fn record_buckets(&self, sizes: &[usize], reset: bool) -> Result<()>;
    /// The same for `ip6 podnet-svc`.
    fn record_buckets6(&self, sizes: &[usize], reset: bool) -> Result<()>;
    fn delete_service(&self, id: i64) -> Result<()>;
    /// Record a runtime attachment of an endpoint (in the transaction that inserts the
    /// endpoint: a second attachment of the same key is refused).
    fn insert_runtime(&self, endpoint_id: i64, network_id: i64, rec: &RuntimeRecord) -> Result<()>;
    /// Record an endpoint as a container's later network (in the transaction that inserts it:
    /// a second one on the same network, or a taken interface name, is refused).
    fn insert_member(&self, m: &Member) -> Result<()>;
    /// The first `ethN` (N ≥ 1) none of the container's members uses.
    fn free_ifname(&self, container_id: i64) -> Result<String>;
    fn add_aliases(&self, endpoint_id: i64, aliases: &[String]) -> Result<()>;
}

/// A store: its identity, reads, and write transactions.
/// `Send`: the agent lends contexts kept open to whichever connection thread serves a call.
pub trait State: Send {
    /// The store's identity, made once; kernel objects carry it (see `engine::owner`).
    fn id(&self) -> &str;
    fn reads(&self) -> &(dyn Reads + 'static);
    /// Run `f` in one write transaction (see [`write`](trait.State.html#method.write)).
    fn write_dyn(&mut self, f: &mut dyn FnMut(&dyn Writes) -> Result<()>) -> Result<()>;
    /// Between requests of a process that keeps the store open: the housekeeping opening it
    /// afresh would do.
    fn tidy(&self) -> Result<()>;
}

impl dyn State + '_ {
    /// Run `f` in one write transaction, taken at once: committed when `f` succeeds, rolled
    /// back when it fails.
    pub fn write<T>(&mut self, f: impl FnOnce(&dyn Writes) -> Result<T>) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.write_dyn(&mut |tx| {
            let f = f.take().expect("a transaction runs its closure once");
            out = Some(f(tx)?);
            Ok(())
        })?;
        Ok(out.expect("the closure ran"))
    }
}

/// Reads straight on the store, outside any transaction.
impl std::ops::Deref for dyn State + '_ {
    type Target = dyn Reads;
    fn deref(&self) -> &(dyn Reads + 'static) {
        self.reads()
    }
}
