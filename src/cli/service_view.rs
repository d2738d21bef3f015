//! What `service ls` and `service inspect` show: service records as rows for a table or JSON.

use crate::engine::Ctx;
use crate::model::Result;
use crate::store::ServiceRecord;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ServiceRow {
    pub name: String,
    pub vip: String,
    /// `PORT[:TARGET]/PROTO` with ` (node port N)` where exposed.
    pub ports: Vec<String>,
    pub selector: Option<String>,
    /// Explicit backends as given (`NAME[:PORT]`).
    pub backend_containers: Vec<String>,
    /// The backends programmed now: `IP:PORT`-less addresses (port overrides shown as IP:PORT).
    pub backends: Vec<String>,
    /// ClientIP affinity timeout in seconds, when on.
    pub affinity_timeout: Option<u32>,
}

pub fn row(r: &ServiceRecord) -> ServiceRow {
    ServiceRow {
        name: r.service.name.clone(),
        vip: r.service.vip.to_string(),
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
        affinity_timeout: r.service.affinity_timeout,
    }
}

pub fn rows(ctx: &Ctx) -> Result<Vec<ServiceRow>> {
    Ok(ctx.store.services()?.iter().map(row).collect())
}
