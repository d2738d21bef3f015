//! Service rows: the service, its ports, its explicit backends (or selector), and the backend
//! list as last programmed into the kernel (so an update sends only the difference, without
//! ever reading the kernel's tables back).

use super::addr;
pub use super::api::ServiceRecord;
use crate::model::{Backend, Labels, Proto, Result, Service, ServicePort};
use rusqlite::{params, Connection, OptionalExtension};
use std::net::{IpAddr, Ipv4Addr};

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

pub fn encode_backends(b: &[Backend]) -> String {
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

fn decode_backends(s: &str) -> Vec<Backend> {
    s.split('|')
        .filter_map(|e| {
            let (ip, port) = e.split_once(':')?;
            Some(Backend {
                ip: ip.parse().ok()?,
                port: port.parse().ok(),
            })
        })
        .collect()
}

fn load(
    conn: &Connection,
    id: i64,
    name: String,
    vip: String,
    aff: Option<u32>,
    sel: Option<String>,
    prog: String,
) -> Result<ServiceRecord> {
    let mut st = conn.prepare_cached(
        "SELECT port, target_port, proto, node_port FROM service_ports WHERE service_id=?1 ORDER BY rowid",
    )?;
    let ports = st
        .query_map([id], |r| {
            let p: String = r.get(2)?;
            Ok(ServicePort {
                port: r.get(0)?,
                target_port: r.get(1)?,
                proto: proto(&p),
                node_port: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut st = conn.prepare_cached(
        "SELECT container, port FROM service_backends WHERE service_id=?1 ORDER BY rowid",
    )?;
    let backends = st
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ServiceRecord {
        id,
        service: Service {
            name,
            vip: vip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
            ports,
            affinity_timeout: aff,
        },
        selector: sel.as_deref().map(decode_selector),
        backends,
        programmed: decode_backends(&prog),
    })
}

const COLS: &str = "id, name, vip, affinity_timeout, selector, programmed";

type Row = (i64, String, String, Option<u32>, Option<String>, String);

fn rows(conn: &Connection, filter: &str, arg: Option<&str>) -> Result<Vec<ServiceRecord>> {
    let mut st = conn.prepare(&format!("SELECT {COLS} FROM services {filter} ORDER BY id"))?;
    let map = |r: &rusqlite::Row| -> rusqlite::Result<Row> {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    };
    let raw: Vec<Row> = match arg {
        Some(a) => st.query_map([a], map)?.collect::<rusqlite::Result<_>>()?,
        None => st.query_map([], map)?.collect::<rusqlite::Result<_>>()?,
    };
    raw.into_iter()
        .map(|(id, n, v, a, s, p)| load(conn, id, n, v, a, s, p))
        .collect()
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<ServiceRecord>> {
    Ok(rows(conn, "WHERE name=?1", Some(name))?.pop())
}

pub fn all(conn: &Connection) -> Result<Vec<ServiceRecord>> {
    rows(conn, "", None)
}

/// Whether any service exists (the hot path asks this before doing any service work).
pub fn any(conn: &Connection) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM services LIMIT 1", [], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn vip_taken(conn: &Connection, vip: IpAddr) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT name FROM services WHERE vip=?1",
            [vip.to_string()],
            |r| r.get(0),
        )
        .optional()?)
}

/// The address after the highest VIP in use within `[lo, hi]` (one family), if that is still
/// inside; `lo` when none is.
pub fn vip_after_highest(conn: &Connection, lo: IpAddr, hi: IpAddr) -> Result<Option<IpAddr>> {
    let max: Option<Vec<u8>> = conn.query_row(
        "SELECT max(vip_key) FROM services WHERE vip_key BETWEEN ?1 AND ?2",
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
        .query_row(
            "SELECT s.name FROM service_ports sp JOIN services s ON s.id = sp.service_id WHERE sp.node_port=?1 AND sp.proto=?2",
            params![port, p.to_string()],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn insert(
    tx: &Connection,
    s: &Service,
    selector: Option<&Labels>,
    backends: &[(String, Option<u16>)],
) -> Result<i64> {
    tx.execute(
        "INSERT INTO services(name, vip, vip_key, affinity_timeout, selector) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![s.name, s.vip.to_string(), addr::key(s.vip.into()), s.affinity_timeout, selector.map(encode_selector)],
    )?;
    let id = tx.last_insert_rowid();
    for p in &s.ports {
        tx.execute(
            "INSERT INTO service_ports(service_id, port, target_port, proto, node_port) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, p.port, p.target_port, p.proto.to_string(), p.node_port],
        )?;
    }
    for (k, v) in selector.into_iter().flatten() {
        tx.execute(
            "INSERT INTO service_selectors(service_id, key, value) VALUES (?1, ?2, ?3)",
            params![id, k, v],
        )?;
    }
    for (c, port) in backends {
        tx.execute(
            "INSERT INTO service_backends(service_id, container, port) VALUES (?1, ?2, ?3)",
            params![id, c, port],
        )?;
    }
    Ok(id)
}

pub fn set_programmed(tx: &Connection, id: i64, b: &[Backend]) -> Result<()> {
    tx.execute(
        "UPDATE services SET programmed=?2, programmed_count=?3 WHERE id=?1",
        params![id, encode_backends(b), b.len() as i64],
    )?;
    Ok(())
}

/// The backend counts whose `bucket_N` chains exist in the kernel (chains are only ever added
/// between two full re-renders, so this is what `plan::services` may skip re-creating — a
/// chain change makes the kernel re-validate every jump, ~13 ms at 10,000 services).
pub fn bucket_sizes(conn: &Connection) -> Result<std::collections::BTreeSet<usize>> {
    let mut st = conn.prepare_cached("SELECT n FROM service_buckets")?;
    let rows = st
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().map(|n| n as usize).collect())
}

/// Record bucket chains as made; `reset` first forgets all (after a full re-render).
pub fn record_buckets(
    tx: &Connection,
    sizes: impl IntoIterator<Item = usize>,
    reset: bool,
) -> Result<()> {
    if reset {
        tx.execute("DELETE FROM service_buckets", [])?;
    }
    let mut st = tx.prepare_cached("INSERT OR IGNORE INTO service_buckets(n) VALUES (?1)")?;
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
        let name: String =
            conn.query_row("SELECT name FROM services WHERE id=?1", [id], |r| r.get(0))?;
        out.extend(get(conn, &name)?);
    }
    Ok(out)
}

pub fn delete(tx: &Connection, id: i64) -> Result<()> {
    tx.execute("DELETE FROM services WHERE id=?1", [id])?;
    Ok(())
}
