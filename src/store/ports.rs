//! Published ports of endpoints. The primary key (host port, protocol, host address) and the
//! conflict query below make a host port belong to at most one container.

use super::Cached;
use crate::model::{PortMapping, Proto, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::net::{IpAddr, Ipv4Addr};

fn proto_str(p: Proto) -> String {
    p.to_string()
}

fn parse_proto(s: &str) -> Proto {
    match s {
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        _ => Proto::Tcp,
    }
}

fn host_ip_str(ip: Option<IpAddr>) -> String {
    ip.map(|i| i.to_string()).unwrap_or_default()
}

fn row(r: &Row, base: usize) -> rusqlite::Result<PortMapping> {
    let host_ip: String = r.get(base)?;
    let proto: String = r.get(base + 3)?;
    Ok(PortMapping {
        host_ip: host_ip.parse().ok(),
        host_port: r.get(base + 1)?,
        container_port: r.get(base + 2)?,
        proto: parse_proto(&proto),
    })
}

/// The container already publishing `m`'s host port: same protocol and port, and the same
/// address, or either side on every address ('') or on every address of the other's family
/// ('0.0.0.0', '::'; IPv6 text is the one with a ':').
pub fn conflict(tx: &Connection, m: &PortMapping) -> Result<Option<String>> {
    Ok(tx
        .row(
            "SELECT e.name FROM ports p JOIN endpoints e ON e.id = p.endpoint_id
             WHERE p.host_port=?1 AND p.proto=?2 AND (p.host_ip=?3 OR p.host_ip='' OR ?3=''
               OR ((p.host_ip='0.0.0.0' OR ?3='0.0.0.0') AND instr(p.host_ip, ':')=0 AND instr(?3, ':')=0)
               OR ((p.host_ip='::' OR ?3='::') AND instr(p.host_ip, ':')>0 AND instr(?3, ':')>0))
             LIMIT 1",
            params![m.host_port, proto_str(m.proto), host_ip_str(m.host_ip)],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn add(tx: &Connection, endpoint_id: i64, ports: &[PortMapping]) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO ports(endpoint_id, host_ip, host_port, container_port, proto) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for m in ports {
        st.execute(params![
            endpoint_id,
            host_ip_str(m.host_ip),
            m.host_port,
            m.container_port,
            proto_str(m.proto)
        ])?;
    }
    Ok(())
}

/// Ports one endpoint publishes.
pub fn of(conn: &Connection, endpoint_id: i64) -> Result<Vec<PortMapping>> {
    let mut st = conn.prepare_cached(
            "SELECT host_ip, host_port, container_port, proto FROM ports WHERE endpoint_id=?1 ORDER BY host_port, proto",
        )?;
    let rows = st
        .query_map([endpoint_id], |r| row(r, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Every published port with the address of the container it leads to, except those of
/// endpoints being removed: what podnet's tables must hold (a re-render from this never
/// brings back a port whose container is going away).
pub fn all(conn: &Connection) -> Result<Vec<(Ipv4Addr, PortMapping)>> {
    let mut st = conn.prepare_cached(
        "SELECT e.ip, p.host_ip, p.host_port, p.container_port, p.proto
         FROM ports p JOIN endpoints e ON e.id = p.endpoint_id
         WHERE e.ip IS NOT NULL AND e.state != 'removing'",
    )?;
    let rows = st
        .query_map([], |r| {
            let ip: String = r.get(0)?;
            Ok((ip, row(r, 1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(ip, m)| Some((ip.parse().ok()?, m)))
        .collect())
}
