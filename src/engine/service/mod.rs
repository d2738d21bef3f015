//! Services: a virtual IP on no interface, DNAT'ed by netfilter to backend containers (what
//! kube-proxy does). Every change holds the store's write lock while it programs the kernel,
//! so concurrent podnet processes apply service changes one after another and each sends only
//! the difference from what was last programmed — never a dump of the kernel's tables.
//!
//! Each family is a side ([`side::Side`]): IPv4 VIPs and backends' IPv4 addresses in
//! `ip podnet-svc`, IPv6 ones in `ip6 podnet-svc`, each table present while a service of its
//! family exists. A dual-stack service is programmed in both, each side in its own
//! transaction; a backend without an address of a family is left out of that side.

pub mod check;
pub mod route;
pub mod side;

use super::{owner, Ctx};
use crate::kernel::nft::{Batch, NftError, NftSocket};
use crate::model::service::ServiceRequest;
use crate::model::{BackendOf, Error, Labels, Result, ServiceOf};
use crate::plan::services as plan;
use crate::store::{Reads, ServiceRecord, Writes};
use side::Side;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A container's addresses when it is a usable backend (up, not draining).
type Live = Option<(Option<Ipv4Addr>, Option<Ipv6Addr>)>;

/// Whether each container is a usable backend (up, with an address), looked up once per
/// container however many services name it (a full re-render asks 100,000 times for 10).
/// Likewise the containers each selector picks (10,000 services selecting `app=be` are one
/// label query, not 20,000).
#[derive(Default)]
pub struct Backends {
    live: HashMap<String, Live>,
    selected: HashMap<Labels, Vec<String>>,
}

impl Backends {
    fn live(&mut self, conn: &dyn Reads, name: &str) -> Result<Live> {
        if let Some(l) = self.live.get(name) {
            return Ok(*l);
        }
        let live = match conn.endpoint(name)? {
            Some(ep)
                if ep.state == crate::model::EndpointState::Ready
                    && ep.pid.is_none_or(super::proc::alive)
                    && !conn.is_draining(ep.id)? =>
            {
                Some((ep.ip, <Ipv6Addr as Side>::addr(&ep)))
            }
            _ => None,
        };
        self.live.insert(name.to_string(), live);
        Ok(live)
    }

    /// The containers a service selects now (by selector or by name), with port overrides.
    fn wanted(
        &mut self,
        conn: &dyn Reads,
        rec: &ServiceRecord,
    ) -> Result<Vec<(String, Option<u16>)>> {
        let Some(sel) = &rec.selector else {
            return Ok(rec.backends.clone());
        };
        if !self.selected.contains_key(sel) {
            self.selected.insert(sel.clone(), conn.matching(sel)?);
        }
        Ok(self.selected[sel]
            .iter()
            .map(|n| (n.clone(), None))
            .collect())
    }

    /// The backends of family `A` a service has now: its selector's or its explicit
    /// containers that are up and have an address of that family.
    pub fn of<A: Side>(
        &mut self,
        conn: &dyn Reads,
        rec: &ServiceRecord,
    ) -> Result<Vec<BackendOf<A>>> {
        let mut out = Vec::new();
        for (name, port) in self.wanted(conn, rec)? {
            if let Some(ip) = self.live(conn, &name)?.and_then(|(v4, v6)| A::pick(v4, v6)) {
                out.push(BackendOf { ip, port });
            }
        }
        Ok(plan::canonical(&out))
    }

    /// The live backends of a service that have no IPv6 address: left out of its IPv6 side.
    pub fn without_ipv6(&mut self, conn: &dyn Reads, rec: &ServiceRecord) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (name, _) in self.wanted(conn, rec)? {
            if let Some((_, None)) = self.live(conn, &name)? {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// What `service inspect`/`ls` add to a record: the live backends left out of the IPv6 side.
pub fn left_out6(ctx: &Ctx, rec: &ServiceRecord) -> Result<Vec<String>> {
    if rec.service.vip6.is_none() {
        return Ok(vec![]);
    }
    Backends::default().without_ipv6(&*ctx.store, rec)
}

fn nft_failed(e: NftError) -> Error {
    super::nft_error("program services", e)
}

/// Re-create family `A`'s services table from the store (or delete it when no service has
/// that family), and record what was programmed. Used by `gc` and whenever an element change
/// is refused. Only this store's table is touched (see `owner::tables::render`); returns false
/// when the table is another state's and was left alone.
fn full_in<A: Side>(tx: &dyn Writes, nft: &mut NftSocket, me: &owner::Identity) -> Result<bool> {
    let mut all: Vec<ServiceRecord> = tx
        .services()?
        .into_iter()
        .filter(|r| A::service(r).is_some())
        .collect();
    let mut live = Backends::default();
    let mut with_backends = Vec::new();
    // Only the services whose backends differ from their record are written back.
    let mut changed = Vec::new();
    for (i, r) in all.iter_mut().enumerate() {
        let now = live.of::<A>(tx, r)?;
        if *A::programmed(r) != now[..] {
            *A::programmed_mut(r) = now.clone();
            changed.push(i);
        }
        with_backends.push((A::service(r).expect("filtered"), now));
    }
    let managed = owner::tables::render(
        nft,
        me,
        &A::tables(),
        !all.is_empty(),
        || plan::full(&with_backends),
        plan::delete_all_of::<A>,
    )?;
    if !managed {
        return Ok(false);
    }
    for r in changed.iter().map(|&i| &all[i]) {
        A::store_programmed(tx, r.id, A::programmed(r))?;
    }
    A::record_buckets(
        tx,
        &plan::bucket_sizes(all.iter().map(|r| A::programmed(r)))
            .into_iter()
            .collect::<Vec<_>>(),
        true,
    )?;
    Ok(true)
}

/// Apply an element change to family `A`'s table; when refused, re-render it from the store.
fn apply_or_full<A: Side>(
    tx: &dyn Writes,
    nft: &mut NftSocket,
    me: &owner::Identity,
    batch: &Batch,
) -> Result<()> {
    match nft.apply(batch) {
        Ok(()) => Ok(()),
        Err(NftError::Rejected(_)) => full_in::<A>(tx, nft, me).map(|_| ()),
        Err(e) => Err(nft_failed(e)),
    }
}

/// Make the kernel's services match the store (gc).
pub fn sync(ctx: &mut Ctx) -> Result<()> {
    let me = owner::Identity::of(ctx);
    let (store, nft) = ctx.store_and_nft()?;
    let v4 = store.write(|tx| full_in::<Ipv4Addr>(tx, nft, &me))?;
    let v6 = store.write(|tx| full_in::<Ipv6Addr>(tx, nft, &me))?;
    if v4 {
        route::sync(ctx)?;
    }
    if v6 {
        route::sync6(ctx)?;
    }
    Ok(())
}

/// Program a new service's side of family `A` (it has one); true when it is the first
/// service of that family (the table was made, its route must be).
fn add_side<A: Side>(
    tx: &dyn Writes,
    nft: &mut NftSocket,
    me: &owner::Identity,
    rec: &mut ServiceRecord,
    first: bool,
) -> Result<()> {
    let Some(svc) = A::service(rec) else {
        return Ok(());
    };
    *A::programmed_mut(rec) = Backends::default().of::<A>(tx, rec)?;
    if first {
        full_in::<A>(tx, nft, me)?;
        return Ok(());
    }
    let sizes = A::bucket_sizes(tx)?;
    let now = A::programmed(rec);
    apply_or_full::<A>(tx, nft, me, &plan::add_service(&svc, now, &sizes))?;
    A::store_programmed(tx, rec.id, now)?;
    A::record_buckets(
        tx,
        &(!now.is_empty())
            .then_some(now.len())
            .into_iter()
            .collect::<Vec<_>>(),
        false,
    )
}

/// `podnet service create`.
pub fn create(ctx: &mut Ctx, req: &ServiceRequest) -> Result<ServiceRecord> {
    // The first service brings the services table and the default network: not on another
    // state's tables (one table dump, only then).
    if !ctx.store.any_service()? {
        owner::tables::check_usable(ctx)?;
    }
    let me = owner::Identity::of(ctx);
    let (store, nft) = ctx.store_and_nft()?;
    let rec = store.write(|tx| {
        if tx.service(&req.name)?.is_some() {
            return Err(Error::input(format!(
                "service '{}' already exists: choose another name or remove it",
                req.name
            )));
        }
        let (service, selector, explicit) = check::check(tx, req)?;
        let first4 = service.vip.is_some() && !tx.any_service4()?;
        let first6 = service.vip6.is_some() && !tx.any_service6()?;
        tx.insert_service(&service, selector.as_ref(), &explicit)?;
        let mut rec = tx.service(&service.name)?.expect("row just inserted");
        add_side::<Ipv4Addr>(tx, nft, &me, &mut rec, first4)?;
        add_side::<Ipv6Addr>(tx, nft, &me, &mut rec, first6)?;
        Ok((rec, first4, first6))
    })?;
    let (rec, first4, first6) = rec;
    // Flows that reached a node port before it existed follow it now (as for `-p`).
    let node_ports: Vec<crate::model::PortMapping> = rec
        .service
        .ports
        .iter()
        .filter_map(|p| {
            p.node_port.map(|np| crate::model::PortMapping {
                host_ip: None,
                host_port: np,
                container_port: np,
                proto: p.proto,
            })
        })
        .collect();
    super::flows::to_ports(
        &node_ports,
        rec.service.vip.is_some(),
        rec.service.vip6.is_some(),
    );
    // The route to a family's service range exists while a service of that family does.
    if first4 {
        route::sync(ctx)?;
    }
    if first6 {
        route::sync6(ctx)?;
    }
    if super::names::any_dns_network(ctx)? {
        super::names::changed(ctx);
    }
    Ok(rec)
}

/// Take a removed service's side of family `A` out of its table; true when that was the last
/// one of the family (the table went, so must the route).
fn remove_side<A: Side>(
    tx: &dyn Writes,
    nft: &mut NftSocket,
    me: &owner::Identity,
    rec: &ServiceRecord,
) -> Result<bool> {
    let Some(svc) = A::service(rec) else {
        return Ok(false);
    };
    if !A::any(tx)? {
        return full_in::<A>(tx, nft, me);
    }
    apply_or_full::<A>(tx, nft, me, &plan::remove_service(&svc, A::programmed(rec)))?;
    Ok(false)
}

/// `podnet service rm`.
pub fn remove(ctx: &mut Ctx, name: &str) -> Result<()> {
    let me = owner::Identity::of(ctx);
    let (store, nft) = ctx.store_and_nft()?;
    let (rec, drop4, drop6) = store.write(|tx| {
        let rec = tx.service(name)?.ok_or_else(|| {
            Error::input(format!(
                "no service named '{name}': see `podnet service ls`"
            ))
        })?;
        tx.delete_service(rec.id)?;
        // The last one of a family takes its table and route with it (if the table is this
        // store's).
        let drop4 = remove_side::<Ipv4Addr>(tx, nft, &me, &rec)?;
        let drop6 = remove_side::<Ipv6Addr>(tx, nft, &me, &rec)?;
        Ok((rec, drop4, drop6))
    })?;
    if let Some(s) = rec.service.v4() {
        forget_lost(&s, &rec.programmed, &[]);
    }
    if let Some(s) = rec.service.v6() {
        forget_lost(&s, &rec.programmed6, &[]);
    }
    if drop4 {
        route::sync(ctx)?;
    }
    if drop6 {
        route::sync6(ctx)?;
    }
    if super::names::any_dns_network(ctx)? {
        super::names::changed(ctx);
    }
    Ok(())
}

/// UDP/SCTP flows DNAT'ed to backends the service no longer has must not stick to them
/// (each family's side forgets its own backends' flows).
fn forget_lost<A: Side + Into<IpAddr>>(
    service: &ServiceOf<A>,
    before: &[BackendOf<A>],
    now: &[BackendOf<A>],
) {
    for b in before.iter().filter(|b| !now.contains(b)) {
        let ports = service.ports.iter().map(|p| (p.proto, Some(b.port_for(p))));
        super::flows::answered_by(b.ip.into(), ports);
    }
}

/// One family's backends of the services concerning a container, brought up to date in one
/// transaction; returns (service, before, now) of every changed one.
#[allow(clippy::type_complexity)]
fn update_side<A: Side>(
    tx: &dyn Writes,
    nft: &mut NftSocket,
    me: &owner::Identity,
    recs: &[ServiceRecord],
    live: &mut Backends,
) -> Result<Vec<(ServiceOf<A>, Vec<BackendOf<A>>, Vec<BackendOf<A>>)>> {
    let mut sizes = A::bucket_sizes(tx)?;
    let mut batch = Batch::new();
    let mut changed = Vec::new();
    let mut lost = Vec::new();
    for rec in recs {
        let Some(svc) = A::service(rec) else { continue };
        let now = live.of::<A>(tx, rec)?;
        let before = A::programmed(rec);
        if now != before {
            batch.append(plan::set_backends(&svc, before, &now, &sizes));
            if !now.is_empty() {
                sizes.insert(now.len());
            }
            lost.push((svc, before.to_vec(), now.clone()));
            changed.push((rec.id, now));
        }
    }
    if changed.is_empty() {
        return Ok(lost);
    }
    apply_or_full::<A>(tx, nft, me, &batch)?;
    for (id, now) in changed {
        A::store_programmed(tx, id, &now)?;
    }
    A::record_buckets(tx, &sizes.into_iter().collect::<Vec<_>>(), false)?;
    Ok(lost)
}

/// A container came up, went down or was removed: bring the services that select it (by label
/// or by name) up to date, one transaction per family. Cheap when there is no service at all.
pub fn container_changed(ctx: &mut Ctx, name: &str, labels: &Labels) -> Result<()> {
    // A cluster node publishes its containers as the cluster services' backends.
    super::names::backends_changed(ctx);
    if !ctx.store.any_service()? {
        return Ok(());
    }
    // Backends each changed service had and has, to forget flows to the ones it lost.
    let me = owner::Identity::of(ctx);
    let (store, nft) = ctx.store_and_nft()?;
    let lost = store.write(|tx| {
        let recs = tx.services_concerning(name, labels)?;
        let mut live = Backends::default();
        let lost = update_side::<Ipv4Addr>(tx, nft, &me, &recs, &mut live)?;
        let lost6 = update_side::<Ipv6Addr>(tx, nft, &me, &recs, &mut live)?;
        Ok((lost, lost6))
    })?;
    for (service, before, now) in &lost.0 {
        forget_lost(service, before, now);
    }
    for (service, before, now) in &lost.1 {
        forget_lost(service, before, now);
    }
    Ok(())
}

/// [`container_changed`] for the container lifecycle: the container's own operation has
/// succeeded by then, so a failure here is reported, not returned (`podnet gc` repairs it).
pub fn container_changed_or_warn(ctx: &mut Ctx, name: &str, labels: &Labels) {
    if let Err(e) = container_changed(ctx, name, labels) {
        eprintln!(
            "podnet: warning: services selecting '{name}' were not updated: {e}; podnet's garbage collection updates them"
        );
    }
}
