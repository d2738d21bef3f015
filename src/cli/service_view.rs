//! What `service ls` and `service inspect` show: service records as rows for a table or JSON.

use crate::engine::Ctx;
use crate::model::Result;
use crate::store::ServiceRecord;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ServiceRow {
    pub name: String,
    /// The primary VIP (Kubernetes' `clusterIP`): the IPv4 one unless the service is IPv6-only.
    pub vip: String,
    /// The IPv6 VIP, when the service has an IPv6 side.
    pub vip6: Option<String>,
    /// `ipv4`, `ipv6` or `dual`.
    pub ip_family: String,
    /// `PORT[:TARGET]/PROTO` with ` (node port N)` where exposed.
    pub ports: Vec<String>,
    pub selector: Option<String>,
    /// Explicit backends as given (`NAME[:PORT]`).
    pub backend_containers: Vec<String>,
    /// The IPv4 backends programmed now: `IP:PORT`-less addresses (port overrides shown as IP:PORT).
    pub backends: Vec<String>,
    /// The IPv6 backends programmed now (`[IP]:PORT` for port overrides).
    pub backends6: Vec<String>,
    /// Live backends of a service with an IPv6 side that have no IPv6 address, so serve only
    /// its IPv4 side.
    pub without_ipv6: Vec<String>,
    /// ClientIP affinity timeout in seconds, when on.
    pub affinity_timeout: Option<u32>,
}

pub fn row(r: &ServiceRecord, without_ipv6: Vec<String>) -> ServiceRow {
    ServiceRow {
        name: r.service.name.clone(),
        vip: r.service.primary_vip().to_string(),
        vip6: r.service.vip6.map(|v| v.to_string()),
        ip_family: r.service.family().to_string(),
        ports: r.service.ports.iter().map(|p| p.to_string()).collect(),
        selector: r.selector.as_ref().map(crate::store::encode_selector),
        backend_containers: r
            .backends
            .iter()
            .map(|(n, p)| p.map(|p| format!("{n}:{p}")).unwrap_or_else(|| n.clone()))
            .collect(),
        backends: r
            .programmed
            .iter()
            .map(|b| {
                b.port
                    .map(|p| format!("{}:{p}", b.ip))
                    .unwrap_or_else(|| b.ip.to_string())
            })
            .collect(),
        backends6: r
            .programmed6
            .iter()
            .map(|b| {
                b.port
                    .map(|p| format!("[{}]:{p}", b.ip))
                    .unwrap_or_else(|| b.ip.to_string())
            })
            .collect(),
        without_ipv6,
        affinity_timeout: r.service.affinity_timeout,
    }
}

/// The row of a record, with the backends it leaves out of its IPv6 side.
pub fn row_of(ctx: &Ctx, r: &ServiceRecord) -> Result<ServiceRow> {
    Ok(row(r, crate::engine::service::left_out6(ctx, r)?))
}

pub fn rows(ctx: &Ctx) -> Result<Vec<ServiceRow>> {
    ctx.store
        .services()?
        .iter()
        .map(|r| row_of(ctx, r))
        .collect()
}
