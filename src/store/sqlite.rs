//! The SQLite store behind the engine's interface (`api.rs`): a connection answers reads,
//! and a write transaction (BEGIN IMMEDIATE) is a connection too, so the same calls serve
//! both. The SQL lives in the modules beside this one.

use super::api::{
    Member, NewEndpoint, NewNetwork, Owner, Reads, RuntimeRecord, RuntimeRow, ServiceRecord, State,
    Writes,
};
use super::{endpoints, labels, members, names, networks, ports, runtime, services, Store};
use crate::model::service::ServiceDef;
use crate::model::{
    Backend, Backend6, Endpoint, Labels, Mac, NameRecord, Network, NetworkState, PortMapping,
    Proto, Result,
};
use rusqlite::{Connection, TransactionBehavior};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

impl Reads for Connection {
    fn endpoint(&self, name: &str) -> Result<Option<Endpoint>> {
        endpoints::get(self, name)
    }
    fn endpoint_by_id(&self, id: i64) -> Result<Option<Endpoint>> {
        endpoints::get_by_id(self, id)
    }
    fn endpoints(&self) -> Result<Vec<Endpoint>> {
        endpoints::list(self)
    }
    fn endpoint_ids(&self) -> Result<Vec<i64>> {
        endpoints::ids(self)
    }
    fn joiners(&self, name: &str) -> Result<Vec<String>> {
        endpoints::joiners(self, name)
    }
    fn netns_identity(&self, id: i64) -> Result<Option<(u64, u64)>> {
        endpoints::netns_identity(self, id)
    }
    fn using_netns(&self, ns: (u64, u64)) -> Result<Option<String>> {
        endpoints::using_netns(self, ns)
    }
    fn is_draining(&self, id: i64) -> Result<bool> {
        endpoints::is_draining(self, id)
    }
    fn lease_taken(&self, network_id: i64, ip: IpAddr) -> Result<bool> {
        endpoints::lease_taken(self, network_id, ip)
    }
    fn network(&self, name: &str) -> Result<Option<Network>> {
        networks::get(self, name)
    }
    fn networks(&self) -> Result<Vec<Network>> {
        networks::list(self)
    }
    fn network_users(&self, id: i64) -> Result<Vec<String>> {
        networks::users(self, id)
    }
    fn network_owner(&self, id: i64) -> Result<Option<Owner>> {
        networks::owner(self, id)
    }
    fn next_network_id(&self) -> Result<i64> {
        networks::next_id(self)
    }
    fn next_ip(&self, network_id: i64) -> Result<Option<IpAddr>> {
        networks::next_ip(self, network_id)
    }
    fn next_ip6(&self, network_id: i64) -> Result<Option<std::net::Ipv6Addr>> {
        networks::next_ip6(self, network_id)
    }
    fn ula48(&self) -> Result<Option<ipnet::Ipv6Net>> {
        networks::ula48(self)
    }
    fn dns_names(&self) -> Result<Vec<crate::model::NetworkNames>> {
        names::dns_names(self)
    }
    fn container_dns_names(&self, container_id: i64) -> Result<Vec<(i64, NameRecord)>> {
        names::container_names(self, container_id)
    }
    fn ports_of(&self, endpoint_id: i64) -> Result<Vec<PortMapping>> {
        ports::of(self, endpoint_id)
    }
    fn all_ports(&self) -> Result<Vec<(Ipv4Addr, PortMapping)>> {
        ports::all(self)
    }
    fn port_holder(&self, m: &PortMapping) -> Result<Option<String>> {
        ports::conflict(self, m)
    }
    fn labels_of(&self, endpoint_id: i64) -> Result<Labels> {
        labels::of(self, endpoint_id)
    }
    fn matching(&self, selector: &Labels) -> Result<Vec<String>> {
        labels::matching(self, selector)
    }
    fn service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        services::get(self, name)
    }
    fn services(&self) -> Result<Vec<ServiceRecord>> {
        services::all(self)
    }
    fn any_service(&self) -> Result<bool> {
        services::any(self)
    }
    fn any_service4(&self) -> Result<bool> {
        services::any_where(self, "vip6 IS NULL OR vip <> vip6")
    }
    fn any_service6(&self) -> Result<bool> {
        services::any_where(self, "vip6_key IS NOT NULL")
    }
    fn vip_taken(&self, vip: IpAddr) -> Result<Option<String>> {
        services::vip_taken(self, vip)
    }
    fn vip_after_highest(&self, lo: IpAddr, hi: IpAddr) -> Result<Option<IpAddr>> {
        services::vip_after_highest(self, lo, hi)
    }
    fn node_port_owner(&self, port: u16, proto: Proto) -> Result<Option<String>> {
        services::node_port_owner(self, port, proto)
    }
    fn bucket_sizes(&self) -> Result<BTreeSet<usize>> {
        services::bucket_sizes(self, services::BUCKETS)
    }
    fn bucket_sizes6(&self) -> Result<BTreeSet<usize>> {
        services::bucket_sizes(self, services::BUCKETS6)
    }
    fn services_concerning(&self, container: &str, labels: &Labels) -> Result<Vec<ServiceRecord>> {
        services::concerning(self, container, labels)
    }
    fn runtime_of(&self, endpoint_id: i64) -> Result<Option<RuntimeRow>> {
        runtime::of_endpoint(self, endpoint_id)
    }
    fn runtime_attachments(&self, network_id: Option<i64>) -> Result<Vec<RuntimeRow>> {
        runtime::list(self, network_id)
    }
    fn runtime_attachment(
        &self,
        network_id: i64,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<RuntimeRow>> {
        runtime::find(self, network_id, container_id, ifname)
    }
    fn members_of(&self, container_id: i64) -> Result<Vec<Member>> {
        members::of_container(self, container_id)
    }
    fn member(&self, endpoint_id: i64) -> Result<Option<Member>> {
        members::of_endpoint(self, endpoint_id)
    }
    fn member_ids(&self) -> Result<Vec<i64>> {
        members::all_ids(self)
    }
    fn members(&self) -> Result<Vec<Member>> {
        members::all(self)
    }
    fn aliases_of(&self, endpoint_id: i64) -> Result<Vec<String>> {
        members::aliases(self, endpoint_id)
    }
}

/// Only ever called on a transaction: [`Store`] hands out no other `Writes`.
impl Writes for Connection {
    fn insert_endpoint(&self, e: &NewEndpoint) -> Result<Endpoint> {
        endpoints::insert(self, e)
    }
    fn set_netns_identity(&self, id: i64, ns: (u64, u64)) -> Result<()> {
        endpoints::set_netns_identity(self, id, ns)
    }
    fn add_lease(&self, network_id: i64, endpoint_id: i64, ip: IpAddr) -> Result<()> {
        endpoints::add_lease(self, network_id, endpoint_id, ip)
    }
    fn set_mac(&self, endpoint_id: i64, mac: Mac) -> Result<()> {
        endpoints::set_mac(self, endpoint_id, mac)
    }
    fn set_endpoint_ready(&self, id: i64, keep_owner: bool, me: Owner) -> Result<bool> {
        endpoints::set_ready(self, id, keep_owner, me)
    }
    fn set_pid(&self, id: i64, pid: Owner, me: Owner) -> Result<bool> {
        endpoints::set_pid(self, id, pid, me)
    }
    fn claim_endpoint(&self, seen: &Endpoint, me: Owner) -> Result<bool> {
        endpoints::claim(self, seen, me)
    }
    fn delete_endpoint(&self, id: i64, me: Owner) -> Result<bool> {
        endpoints::delete(self, id, me)
    }
    fn set_draining(&self, id: i64) -> Result<()> {
        endpoints::set_draining(self, id)
    }
    fn insert_network(&self, n: &NewNetwork) -> Result<i64> {
        networks::insert(self, n)
    }
    fn set_network_delegated(&self, id: i64) -> Result<()> {
        networks::set_delegated(self, id)
    }
    fn set_network_ready(&self, name: &str) -> Result<()> {
        networks::set_ready(self, name)
    }
    fn delete_network(&self, name: &str) -> Result<()> {
        networks::delete(self, name)
    }
    fn claim_network(
        &self,
        id: i64,
        state: NetworkState,
        seen_owner: Option<Owner>,
        me: Owner,
    ) -> Result<bool> {
        networks::claim(self, id, state, seen_owner, me)
    }
    fn adopt_network(&self, id: i64, dead: Owner, me: Owner) -> Result<bool> {
        networks::adopt(self, id, dead, me)
    }
    fn set_next_ip(&self, network_id: i64, ip: IpAddr) -> Result<()> {
        networks::set_next_ip(self, network_id, ip)
    }
    fn add_ports(&self, endpoint_id: i64, p: &[PortMapping]) -> Result<()> {
        ports::add(self, endpoint_id, p)
    }
    fn add_labels(&self, endpoint_id: i64, l: &Labels) -> Result<()> {
        labels::add(self, endpoint_id, l)
    }
    fn replace_labels(&self, endpoint_id: i64, l: &Labels) -> Result<()> {
        labels::replace(self, endpoint_id, l)
    }
    fn insert_service(
        &self,
        s: &ServiceDef,
        selector: Option<&Labels>,
        backends: &[(String, Option<u16>)],
    ) -> Result<i64> {
        services::insert(self, s, selector, backends)
    }
    fn set_programmed(&self, id: i64, b: &[Backend]) -> Result<()> {
        services::set_programmed(self, id, b)
    }
    fn set_programmed6(&self, id: i64, b: &[Backend6]) -> Result<()> {
        services::set_programmed6(self, id, b)
    }
    fn record_buckets(&self, sizes: &[usize], reset: bool) -> Result<()> {
        services::record_buckets(self, services::BUCKETS, sizes.iter().copied(), reset)
    }
    fn record_buckets6(&self, sizes: &[usize], reset: bool) -> Result<()> {
        services::record_buckets(self, services::BUCKETS6, sizes.iter().copied(), reset)
    }
    fn delete_service(&self, id: i64) -> Result<()> {
        services::delete(self, id)
    }
    fn insert_runtime(&self, endpoint_id: i64, network_id: i64, rec: &RuntimeRecord) -> Result<()> {
        runtime::insert(self, endpoint_id, network_id, rec)
    }
    fn insert_member(&self, m: &Member) -> Result<()> {
        members::insert(self, m)
    }
    fn free_ifname(&self, container_id: i64) -> Result<String> {
        members::free_ifname(self, container_id)
    }
    fn add_aliases(&self, endpoint_id: i64, aliases: &[String]) -> Result<()> {
        members::add_aliases(self, endpoint_id, aliases)
    }
}

impl State for Store {
    fn id(&self) -> &str {
        &self.id
    }
    fn reads(&self) -> &(dyn Reads + 'static) {
        &self.conn
    }
    /// One transaction, taken at once (BEGIN IMMEDIATE) so that a read-then-write (address
    /// allocation, a compare-and-set) cannot race another process; rolled back on error.
    fn write_dyn(&mut self, f: &mut dyn FnMut(&dyn Writes) -> Result<()>) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        f(&*tx)?;
        tx.commit()?;
        Ok(())
    }
    fn tidy(&self) -> Result<()> {
        Store::tidy(self)
    }
}
