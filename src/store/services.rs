//! Service rows: the service, its ports, its explicit backends (or selector), and the backend
//! list as last programmed into the kernel (so an update sends only the difference, without
//! ever reading the kernel's tables back), per family.
//!
//! `vip` is the primary VIP (IPv4 unless the service is IPv6-only), `vip6` the IPv6 VIP of
//! every service that has one: IPv4 lookups and allocation use `vip_key`, IPv6 ones `vip6_key`.

use super::addr;
pub use super::api::ServiceRecord;
use super::Cached;
use crate::model::service::ServiceDef;
use crate::model::{BackendOf, Labels, Proto, Result, ServicePort};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// The bucket chain records of `ip podnet-svc` and `ip6 podnet-svc`.
pub const BUCKETS: &str = "service_buckets";
pub const BUCKETS6: &str = "service_buckets6";

fn proto(s: &str) -> Proto {
    match s {
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        _ => Proto::Tcp,
    }
}

pub fn encode_selector(sel: &Labels) -> String {
    sel.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_selector(s: &str) -> Labels {
    s.split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `ip:port|ip:|...` (an IPv6 address's own colons come before the last one).
pub fn encode_backends<A: std::fmt::Display>(b: &[BackendOf<A>]) -> String {
    b.iter()
        .map(|b| {
            format!(
                "{}:{}",
                b.ip,
                b.port.map(|p| p.to_string()).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn decode_backends<A: FromStr>(s: &str) -> Vec<BackendOf<A>> {
    s.split('|')
        .filter_map(|e| {
            let (ip, port) = e.rsplit_once(':')?;
            Some(BackendOf {
                ip: ip.parse().ok()?,
                port: port.parse().ok(),
            })
        })
        .collect()
}

fn port_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<ServicePort> {
    let p: String = r.get(at + 2)?;
    Ok(ServicePort {
        port: r.get(at)?,
        target_port: r.get(at + 1)?,
        proto: proto(&p),
        node_port: r.get(at + 3)?,
    })
}

fn load(conn: &Connection, row: Row) -> Result<ServiceRecord> {
    let mut st = conn.prepare_cached(
        "SELECT port, target_port, proto, node_port FROM service_ports WHERE service_id=?1 ORDER BY rowid",
    )?;
    let ports = st
        .query_map([row.0], |r| port_row(r, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut st = conn.prepare_cached(
        "SELECT container, port FROM service_backends WHERE service_id=?1 ORDER BY rowid",
    )?;
    let backends = st
        .query_map([row.0], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(record(row, ports, backends))
}

fn record(
    row: Row,
    ports: Vec<ServicePort>,
    backends: Vec<(String, Option<u16>)>,
) -> ServiceRecord {
    let (id, name, vip, aff, sel, prog, vip6, prog6) = row;
    ServiceRecord {
        id,
        service: ServiceDef {
            name,
            ports,
            affinity_timeout: aff,
            // An IPv6-only service's `vip` is its IPv6 one, which `vip6` holds too.
            vip: vip.parse().ok(),
            vip6: vip6.as_deref().and_then(|v| v.parse::<Ipv6Addr>().ok()),
        },
        selector: sel.as_deref().map(decode_selector),
        backends,
        programmed: decode_backends(&prog),
        programmed6: decode_backends(&prog6),
    }
}

const COLS: &str = "id, name, vip, affinity_timeout, selector, programmed, vip6, programmed6";

type Row = (
    i64,
    String,
    String,
    Option<u32>,
    Option<String>,
    String,
    Option<String>,
    String,
);

fn raw_rows(conn: &Connection, filter: &str, arg: Option<&str>) -> Result<Vec<Row>> {
    let mut st =
        conn.prepare_cached(&format!("SELECT {COLS} FROM services {filter} ORDER BY id"))?;
    let map = |r: &rusqlite::Row| -> rusqlite::Result<Row> {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        ))
    };
    let raw: Vec<Row> = match arg {
        Some(a) => st.query_map([a], map)?.collect::<rusqlite::Result<_>>()?,
        None => st.query_map([], map)?.collect::<rusqlite::Result<_>>()?,
    };
    Ok(raw)
}

fn rows(conn: &Connection, filter: &str, arg: Option<&str>) -> Result<Vec<ServiceRecord>> {
    raw_rows(conn, filter, arg)?
        .into_iter()
        .map(|r| load(conn, r))
        .collect()
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<ServiceRecord>> {
    Ok(rows(conn, "WHERE name=?1", Some(name))?.pop())
}

/// Every service, in three queries whatever their number (a full re-render reads all of
/// them; two queries per service were a fifth of `podnet gc`'s CPU at 10,000).
pub fn all(conn: &Connection) -> Result<Vec<ServiceRecord>> {
    let mut ports: HashMap<i64, Vec<ServicePort>> = HashMap::new();
    let mut st = conn.prepare_cached(
        "SELECT service_id, port, target_port, proto, node_port FROM service_ports ORDER BY rowid",
    )?;
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        ports.entry(r.get(0)?).or_default().push(port_row(r, 1)?);
    }
    let mut backends: HashMap<i64, Vec<(String, Option<u16>)>> = HashMap::new();
    let mut st = conn.prepare_cached(
        "SELECT service_id, container, port FROM service_backends ORDER BY rowid",
    )?;
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        backends
            .entry(r.get(0)?)
            .or_default()
            .push((r.get(1)?, r.get(2)?));
    }
    Ok(raw_rows(conn, "", None)?
        .into_iter()
        .map(|r| {
            let id = r.0;
            let p = ports.remove(&id).unwrap_or_default();
            record(r, p, backends.remove(&id).unwrap_or_default())
        })
        .collect())
}

/// Whether any service exists (the hot path asks this before doing any service work).
pub fn any(conn: &Connection) -> Result<bool> {
    Ok(conn
        .row("SELECT 1 FROM services LIMIT 1", [], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The columns holding a family's VIPs.
fn vip_cols(ip: IpAddr) -> (&'static str, &'static str) {
    match ip {
        IpAddr::V4(_) => ("vip", "vip_key"),
        IpAddr::V6(_) => ("vip6", "vip6_key"),
    }
}

/// Whether a service matching `filter` exists.
pub fn any_where(conn: &Connection, filter: &str) -> Result<bool> {
    Ok(conn
        .row(
            &format!("SELECT 1 FROM services WHERE {filter} LIMIT 1"),
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn vip_taken(conn: &Connection, vip: IpAddr) -> Result<Option<String>> {
    let (col, _) = vip_cols(vip);
    Ok(conn
        .row(
            &format!("SELECT name FROM services WHERE {col}=?1"),
            [vip.to_string()],
            |r| r.get(0),
        )
        .optional()?)
}

/// The address after the highest VIP in use within `[lo, hi]` (one family), if that is still
/// inside; `lo` when none is.
pub fn vip_after_highest(conn: &Connection, lo: IpAddr, hi: IpAddr) -> Result<Option<IpAddr>> {
    let (_, key) = vip_cols(lo);
    let max: Option<Vec<u8>> = conn.row(
        &format!("SELECT max({key}) FROM services WHERE {key} BETWEEN ?1 AND ?2"),
        params![addr::key(lo), addr::key(hi)],
        |r| r.get(0),
    )?;
    Ok(match max.as_deref().map(addr::from_key) {
        None => Some(lo),
        Some(Some(m)) if addr::key(m) < addr::key(hi) => addr::next(m),
        Some(_) => None,
    })
}

pub fn node_port_owner(conn: &Connection, port: u16, p: Proto) -> Result<Option<String>> {
    Ok(conn
        .row(
            "SELECT s.name FROM service_ports sp JOIN services s ON s.id = sp.service_id WHERE sp.node_port=?1 AND sp.proto=?2",
            params![port, p.to_string()],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn insert(
    tx: &Connection,
    s: &ServiceDef,
    selector: Option<&Labels>,
    backends: &[(String, Option<u16>)],
) -> Result<i64> {
    let vip = s.primary_vip();
    let vip6 = s.vip6.map(IpAddr::V6);
    tx.exec(
        "INSERT INTO services(name, vip, vip_key, affinity_timeout, selector, vip6, vip6_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            s.name,
            vip.to_string(),
            addr::key(vip),
            s.affinity_timeout,
            selector.map(encode_selector),
            vip6.map(|v| v.to_string()),
            vip6.map(addr::key),
        ],
    )?;
    let id = tx.last_insert_rowid();
    for p in &s.ports {
        tx.exec(
            "INSERT INTO service_ports(service_id, port, target_port, proto, node_port) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, p.port, p.target_port, p.proto.to_string(), p.node_port],
        )?;
    }
    for (k, v) in selector.into_iter().flatten() {
        tx.exec(
            "INSERT INTO service_selectors(service_id, key, value) VALUES (?1, ?2, ?3)",
            params![id, k, v],
        )?;
    }
    for (c, port) in backends {
        tx.exec(
            "INSERT INTO service_backends(service_id, container, port) VALUES (?1, ?2, ?3)",
            params![id, c, port],
        )?;
    }
    Ok(id)
}

pub fn set_programmed(tx: &Connection, id: i64, b: &[crate::model::Backend]) -> Result<()> {
    tx.exec(
        "UPDATE services SET programmed=?2, programmed_count=?3 WHERE id=?1",
        params![id, encode_backends(b), b.len() as i64],
    )?;
    Ok(())
}

pub fn set_programmed6(tx: &Connection, id: i64, b: &[crate::model::Backend6]) -> Result<()> {
    tx.exec(
        "UPDATE services SET programmed6=?2 WHERE id=?1",
        params![id, encode_backends(b)],
    )?;
    Ok(())
}

/// The backend counts whose `bucket_N` chains exist in the kernel (chains are only ever added
/// between two full re-renders, so this is what `plan::services` may skip re-creating — a
/// chain change makes the kernel re-validate every jump, ~13 ms at 10,000 services).
pub fn bucket_sizes(conn: &Connection, table: &str) -> Result<std::collections::BTreeSet<usize>> {
    let mut st = conn.prepare_cached(&format!("SELECT n FROM {table}"))?;
    let rows = st
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().map(|n| n as usize).collect())
}

/// Record bucket chains as made; `reset` first forgets all (after a full re-render).
pub fn record_buckets(
    tx: &Connection,
    table: &str,
    sizes: impl IntoIterator<Item = usize>,
    reset: bool,
) -> Result<()> {
    if reset {
        tx.exec(&format!("DELETE FROM {table}"), [])?;
    }
    let mut st = tx.prepare_cached(&format!("INSERT OR IGNORE INTO {table}(n) VALUES (?1)"))?;
    for n in sizes {
        st.execute([n as i64])?;
    }
    Ok(())
}

/// Services a container can be a backend of: named explicitly, or selecting one of its
/// labels (the caller checks the whole selector). Found through indexes, so a container
/// change costs the same with 10 or 10,000 services.
pub fn concerning(
    conn: &Connection,
    container: &str,
    labels: &Labels,
) -> Result<Vec<ServiceRecord>> {
    let mut ids = std::collections::BTreeSet::new();
    let mut st =
        conn.prepare_cached("SELECT service_id FROM service_backends WHERE container=?1")?;
    for id in st.query_map([container], |r| r.get::<_, i64>(0))? {
        ids.insert(id?);
    }
    let mut st =
        conn.prepare_cached("SELECT service_id FROM service_selectors WHERE key=?1 AND value=?2")?;
    for (k, v) in labels {
        for id in st.query_map(params![k, v], |r| r.get::<_, i64>(0))? {
            ids.insert(id?);
        }
    }
    let mut out = Vec::new();
    for id in ids {
        let name: String = conn.row("SELECT name FROM services WHERE id=?1", [id], |r| r.get(0))?;
        out.extend(get(conn, &name)?);
    }
    Ok(out)
}

pub fn delete(tx: &Connection, id: i64) -> Result<()> {
    tx.exec("DELETE FROM services WHERE id=?1", [id])?;
    Ok(())
}
