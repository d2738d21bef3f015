//! A container's networks after its first (`container_networks`): each is an endpoint of its
//! own, joined to the container's endpoint with its interface name; and the aliases of an
//! endpoint (`endpoint_aliases`).

use super::api::Member;
use super::Cached;
use crate::model::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// The members (networks after the first) of a container, in the order they were added.
pub fn of_container(conn: &Connection, container_id: i64) -> Result<Vec<Member>> {
    let mut st = conn.prepare_cached(
        "SELECT endpoint_id, container_id, network_id, ifname FROM container_networks
         WHERE container_id=?1 ORDER BY endpoint_id",
    )?;
    let rows = st
        .query_map([container_id], member)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The membership row of an endpoint that is a container's later network, if it is one.
pub fn of_endpoint(conn: &Connection, endpoint_id: i64) -> Result<Option<Member>> {
    Ok(conn
        .prepare_cached(
            "SELECT endpoint_id, container_id, network_id, ifname FROM container_networks
             WHERE endpoint_id=?1",
        )?
        .query_row([endpoint_id], member)
        .optional()?)
}

/// Every membership row, in one query (the graph folds each container's later networks into
/// it; a query per row cost a round trip each).
pub fn all(conn: &Connection) -> Result<Vec<Member>> {
    let mut st = conn.prepare_cached(
        "SELECT endpoint_id, container_id, network_id, ifname FROM container_networks
         ORDER BY endpoint_id",
    )?;
    let rows = st
        .query_map([], member)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Every endpoint that is some container's later network (listings leave them out).
pub fn all_ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut st = conn.prepare_cached("SELECT endpoint_id FROM container_networks")?;
    let rows = st
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

fn member(r: &rusqlite::Row) -> rusqlite::Result<Member> {
    Ok(Member {
        endpoint_id: r.get(0)?,
        container_id: r.get(1)?,
        network_id: r.get(2)?,
        ifname: r.get(3)?,
    })
}

pub fn insert(tx: &Connection, m: &Member) -> Result<()> {
    tx.exec(
        "INSERT INTO container_networks(endpoint_id, container_id, network_id, ifname)
         VALUES (?1, ?2, ?3, ?4)",
        params![m.endpoint_id, m.container_id, m.network_id, m.ifname],
    )?;
    Ok(())
}

/// The first `ethN` (N ≥ 1) no member of the container uses (eth0 is its first network's).
pub fn free_ifname(tx: &Connection, container_id: i64) -> Result<String> {
    let used: Vec<String> = tx
        .prepare_cached("SELECT ifname FROM container_networks WHERE container_id=?1")?
        .query_map([container_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let n = (1..)
        .find(|n| !used.iter().any(|u| *u == format!("eth{n}")))
        .expect("some ethN is free");
    Ok(format!("eth{n}"))
}

pub fn aliases(conn: &Connection, endpoint_id: i64) -> Result<Vec<String>> {
    let mut st = conn
        .prepare_cached("SELECT alias FROM endpoint_aliases WHERE endpoint_id=?1 ORDER BY rowid")?;
    let rows = st
        .query_map([endpoint_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

pub fn add_aliases(tx: &Connection, endpoint_id: i64, aliases: &[String]) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT OR IGNORE INTO endpoint_aliases(endpoint_id, alias) VALUES (?1, ?2)",
    )?;
    for a in aliases {
        st.execute(params![endpoint_id, a])?;
    }
    Ok(())
}
