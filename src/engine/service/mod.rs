//! Services: a virtual IP on no interface, DNAT'ed by netfilter to backend containers (what
//! kube-proxy does). Every change holds the store's write lock while it programs the kernel,
//! so concurrent podnet processes apply service changes one after another and each sends only
//! the difference from what was last programmed — never a dump of the kernel's tables.

pub mod check;
pub mod route;

use super::{owner, Ctx};
use crate::kernel::nft::{Batch, NftError, NftSocket};
use crate::model::service::ServiceRequest;
use crate::model::{Backend, Error, Labels, Result, Service};
use crate::plan::services as plan;
use crate::store::{Reads, ServiceRecord, Writes};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Whether each container is a usable backend (up, with an address), looked up once per
/// container however many services name it (a full re-render asks 100,000 times for 10).
#[derive(Default)]
pub struct Backends(HashMap<String, Option<Ipv4Addr>>);

impl Backends {
    fn ip(&mut self, conn: &dyn Reads, name: &str) -> Result<Option<Ipv4Addr>> {
        if let Some(ip) = self.0.get(name) {
            return Ok(*ip);
        }
        let ip = match conn.endpoint(name)? {
            Some(ep)
                if ep.state == crate::model::EndpointState::Ready
                    && ep.pid.is_none_or(super::proc::alive)
                    && !conn.is_draining(ep.id)? =>
            {
                ep.ip
            }
            _ => None,
        };
        self.0.insert(name.to_string(), ip);
        Ok(ip)
    }

    /// The backends a service has now: its selector's or its explicit containers that are up.
    pub fn of(&mut self, conn: &dyn Reads, rec: &ServiceRecord) -> Result<Vec<Backend>> {
        let wanted: Vec<(String, Option<u16>)> = match &rec.selector {
            Some(sel) => conn.matching(sel)?.into_iter().map(|n| (n, None)).collect(),
            None => rec.backends.clone(),
        };
        let mut out = Vec::new();
        for (name, port) in wanted {
            if let Some(ip) = self.ip(conn, &name)? {
                out.push(Backend { ip, port });
            }
        }
        Ok(plan::canonical(&out))
    }
}

fn nft_failed(e: NftError) -> Error {
    super::nft_error("program services", e)
}

/// Re-create the services table from the store (or delete it when there is no service), and
/// record what was programmed. Used by `gc` and whenever an element change is refused. Only
/// this store's table is touched (see `owner::tables::render`); returns false when the table
/// is another state's and was left alone.
fn full_in(tx: &dyn Writes, nft: &mut NftSocket, me: &owner::Identity) -> Result<bool> {
    let mut all = tx.services()?;
    let mut live = Backends::default();
    let mut with_backends = Vec::new();
    for r in &mut all {
        r.programmed = live.of(tx, r)?;
        with_backends.push((r.service.clone(), r.programmed.clone()));
    }
    let managed = owner::tables::render(
        nft,
        me,
        &plan::tables(),
        !all.is_empty(),
        || plan::full(&with_backends),
        plan::delete_all,
    )?;
    if !managed {
        return Ok(false);
    }
    for r in &all {
        tx.set_programmed(r.id, &r.programmed)?;
    }
    tx.record_buckets(
        &plan::bucket_sizes(all.iter().map(|r| r.programmed.as_slice()))
            .into_iter()
            .collect::<Vec<_>>(),
        true,
    )?;
    Ok(true)
}

/// Apply an element change; when refused, re-render everything from the store instead.
fn apply_or_full(
    tx: &dyn Writes,
    nft: &mut NftSocket,
    me: &owner::Identity,
    batch: &Batch,
) -> Result<()> {
    match nft.apply(batch) {
        Ok(()) => Ok(()),
        Err(NftError::Rejected(_)) => full_in(tx, nft, me).map(|_| ()),
        Err(e) => Err(nft_failed(e)),
    }
}

/// Make the kernel's services match the store (gc).
pub fn sync(ctx: &mut Ctx) -> Result<()> {
    let me = owner::Identity::of(ctx);
    let (store, nft) = ctx.store_and_nft()?;
    if store.write(|tx| full_in(tx, nft, &me))? {
        route::sync(ctx)?;
    }
    Ok(())
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
        let first = !tx.any_service()?;
        let id = tx.insert_service(&service, selector.as_ref(), &explicit)?;
        let mut rec = tx.service(&service.name)?.expect("row just inserted");
        rec.programmed = Backends::default().of(tx, &rec)?;
        if first {
            full_in(tx, nft, &me)?;
        } else {
            let sizes = tx.bucket_sizes()?;
            apply_or_full(
                tx,
                nft,
                &me,
                &plan::add_service(&rec.service, &rec.programmed, &sizes),
            )?;
            tx.set_programmed(id, &rec.programmed)?;
            tx.record_buckets(
                &(!rec.programmed.is_empty())
                    .then_some(rec.programmed.len())
                    .into_iter()
                    .collect::<Vec<_>>(),
                false,
            )?;
        }
        Ok((rec, first))
    })?;
    let (rec, first) = rec;
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
    super::flows::to_ports(&node_ports);
    if first {
        // The route to the service range exists while any service does.
        route::sync(ctx)?;
    }
    Ok(rec)
}

/// `podnet service rm`.
pub fn remove(ctx: &mut Ctx, name: &str) -> Result<()> {
    let me = owner::Identity::of(ctx);
    let (store, nft) = ctx.store_and_nft()?;
    let (rec, drop_route) = store.write(|tx| {
        let rec = tx.service(name)?.ok_or_else(|| {
            Error::input(format!(
                "no service named '{name}': see `podnet service ls`"
            ))
        })?;
        tx.delete_service(rec.id)?;
        // The last one takes the table and the route with it (if the table is this store's).
        let last = !tx.any_service()?;
        let route = if last {
            full_in(tx, nft, &me)?
        } else {
            apply_or_full(
                tx,
                nft,
                &me,
                &plan::remove_service(&rec.service, &rec.programmed),
            )?;
            false
        };
        Ok((rec, route))
    })?;
    forget_lost(&rec.service, &rec.programmed, &[]);
    if drop_route {
        route::sync(ctx)?;
    }
    Ok(())
}

/// UDP/SCTP flows DNAT'ed to backends the service no longer has must not stick to them.
fn forget_lost(service: &Service, before: &[Backend], now: &[Backend]) {
    for b in before.iter().filter(|b| !now.contains(b)) {
        let ports = service.ports.iter().map(|p| (p.proto, Some(b.port_for(p))));
        super::flows::answered_by(b.ip, ports);
    }
}

/// A container came up, went down or was removed: bring the services that select it (by label
/// or by name) up to date, in one transaction. Cheap when there is no service at all.
pub fn container_changed(ctx: &mut Ctx, name: &str, labels: &Labels) -> Result<()> {
    if !ctx.store.any_service()? {
        return Ok(());
    }
    // Backends each changed service had and has, to forget flows to the ones it lost.
    let me = owner::Identity::of(ctx);
    let (store, nft) = ctx.store_and_nft()?;
    let lost = store.write(|tx| {
        let mut sizes = tx.bucket_sizes()?;
        let mut live = Backends::default();
        let mut batch = Batch::new();
        let mut changed = Vec::new();
        let mut lost = Vec::new();
        for rec in tx.services_concerning(name, labels)? {
            let now = live.of(tx, &rec)?;
            if now != rec.programmed {
                batch.append(plan::set_backends(
                    &rec.service,
                    &rec.programmed,
                    &now,
                    &sizes,
                ));
                if !now.is_empty() {
                    sizes.insert(now.len());
                }
                lost.push((rec.service.clone(), rec.programmed.clone(), now.clone()));
                changed.push((rec.id, now));
            }
        }
        if changed.is_empty() {
            return Ok(lost);
        }
        apply_or_full(tx, nft, &me, &batch)?;
        for (id, now) in changed {
            tx.set_programmed(id, &now)?;
        }
        tx.record_buckets(&sizes.into_iter().collect::<Vec<_>>(), false)?;
        Ok(lost)
    })?;
    for (service, before, now) in &lost {
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
