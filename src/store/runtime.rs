//! Rows of `runtime_attachments`: the endpoints a container runtime asked for (CNI,
//! netavark), found by the runtime's own key (network, container id, interface name).

use super::api::{RuntimeRecord, RuntimeRow};
use super::Cached;
use crate::model::Result;
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT: &str =
    "SELECT r.endpoint_id, e.name, r.network_id, r.container_id, r.ifname, r.runtime,
  r.k8s_namespace, r.k8s_name FROM runtime_attachments r JOIN endpoints e ON e.id = r.endpoint_id";

fn row(r: &Row) -> rusqlite::Result<RuntimeRow> {
    Ok(RuntimeRow {
        endpoint_id: r.get(0)?,
        endpoint: r.get(1)?,
        network_id: r.get(2)?,
        record: RuntimeRecord {
            container_id: r.get(3)?,
            ifname: r.get(4)?,
            runtime: r.get(5)?,
            k8s_namespace: r.get(6)?,
            k8s_name: r.get(7)?,
        },
    })
}

/// Record `rec` for endpoint `endpoint_id` on network `network_id` (in the transaction that
/// inserts the endpoint: the unique key refuses a second attachment of the same key).
pub fn insert(
    tx: &Connection,
    endpoint_id: i64,
    network_id: i64,
    rec: &RuntimeRecord,
) -> Result<()> {
    tx.exec(
        "INSERT INTO runtime_attachments(endpoint_id, network_id, container_id, ifname, runtime, k8s_namespace, k8s_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            endpoint_id,
            network_id,
            rec.container_id,
            rec.ifname,
            rec.runtime,
            rec.k8s_namespace,
            rec.k8s_name
        ],
    )?;
    Ok(())
}

/// The attachment of (container id, ifname) on a network, if any.
pub fn find(
    conn: &Connection,
    network_id: i64,
    container_id: &str,
    ifname: &str,
) -> Result<Option<RuntimeRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "{SELECT} WHERE r.network_id=?1 AND r.container_id=?2 AND r.ifname=?3"
        ))?
        .query_row(params![network_id, container_id, ifname], row)
        .optional()?)
}

/// The runtime record of an endpoint, if a runtime made it.
pub fn of_endpoint(conn: &Connection, endpoint_id: i64) -> Result<Option<RuntimeRow>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE r.endpoint_id=?1"))?
        .query_row([endpoint_id], row)
        .optional()?)
}

/// Every runtime attachment, of one network or of all, oldest first.
pub fn list(conn: &Connection, network_id: Option<i64>) -> Result<Vec<RuntimeRow>> {
    let mut st = conn.prepare_cached(&format!(
        "{SELECT} WHERE ?1 IS NULL OR r.network_id=?1 ORDER BY r.endpoint_id"
    ))?;
    let rows = st
        .query_map([network_id], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
