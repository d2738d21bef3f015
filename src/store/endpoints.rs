//! Endpoint rows and their address leases.

use super::api::NewEndpoint;
use super::Cached;
use crate::model::{Endpoint, EndpointState, Mac, Mode, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::net::IpAddr;

const COLS: &str =
    "id, name, mode, target, ip, host_veth, netns, netns_owned, pid, pid_start, owner_pid, owner_start, state, mac, ifname, ip6";

fn row(r: &Row) -> rusqlite::Result<Endpoint> {
    let mode: String = r.get(2)?;
    let ip: Option<String> = r.get(4)?;
    let pid: Option<i32> = r.get(8)?;
    let pid_start: Option<i64> = r.get(9)?;
    let owner: Option<i32> = r.get(10)?;
    let owner_start: Option<i64> = r.get(11)?;
    let state: String = r.get(12)?;
    let mac: Option<String> = r.get(13)?;
    let ip6: Option<String> = r.get(15)?;
    Ok(Endpoint {
        id: r.get(0)?,
        name: r.get(1)?,
        mode: Mode::from_parts(&mode, r.get(3)?),
        ip: ip.and_then(|s| s.parse().ok()),
        ip6: ip6.and_then(|s| s.parse().ok()),
        host_veth: r.get(5)?,
        netns: r.get(6)?,
        netns_owned: r.get(7)?,
        pid: pid.zip(pid_start.map(|s| s as u64)),
        owner: owner.zip(owner_start.map(|s| s as u64)),
        state: EndpointState::parse(&state),
        mac: mac.and_then(|m| m.parse().ok()),
        ifname: r.get(14)?,
    })
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<Endpoint>> {
    // Cached: a full service re-render looks endpoints up 100,000 times.
    Ok(conn
        .prepare_cached(&format!("SELECT {COLS} FROM endpoints WHERE name=?1"))?
        .query_row([name], row)
        .optional()?)
}

/// Every endpoint, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<Endpoint>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM endpoints ORDER BY id"))?;
    let rows = st
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn get_by_id(conn: &Connection, id: i64) -> Result<Option<Endpoint>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLS} FROM endpoints WHERE id=?1"))?
        .query_row([id], row)
        .optional()?)
}

/// Containers sharing `name`'s namespace (`--network container:NAME`).
pub fn joiners(conn: &Connection, name: &str) -> Result<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT name FROM endpoints WHERE mode='container' AND target=?1")?;
    let rows = st
        .query_map([name], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Recorded identity (dev, inode) of an endpoint's namespace.
pub fn netns_identity(conn: &Connection, id: i64) -> Result<Option<(u64, u64)>> {
    Ok(conn
        .prepare_cached("SELECT netns_dev, netns_ino FROM endpoints WHERE id=?1")?
        .query_row([id], |r| {
            let d: Option<i64> = r.get(0)?;
            let i: Option<i64> = r.get(1)?;
            Ok(d.zip(i).map(|(d, i)| (d as u64, i as u64)))
        })
        .optional()?
        .flatten())
}

/// Ids of every endpoint, oldest first.
pub fn ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut st = conn.prepare_cached("SELECT id FROM endpoints ORDER BY id")?;
    let rows = st
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

/// Insert an endpoint in state `creating`; its host veth name derives from its id (ids are never
/// reused, so a name never collides with a veth the kernel is still destroying).
pub fn insert(tx: &Connection, e: &NewEndpoint) -> Result<Endpoint> {
    tx.exec(
        "INSERT INTO endpoints(name, mode, target, netns, netns_owned, netns_dev, netns_ino, owner_pid, owner_start, state, ifname)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'creating', ?10)",
        params![
            e.name,
            e.mode.kind(),
            e.mode.target(),
            e.netns,
            e.netns_owned,
            e.netns_id.map(|i| i.0 as i64),
            e.netns_id.map(|i| i.1 as i64),
            e.owner.0,
            e.owner.1 as i64,
            e.ifname
        ],
    )?;
    let id = tx.last_insert_rowid();
    if matches!(e.mode, Mode::Bridge(_)) && e.veth {
        tx.exec(
            "UPDATE endpoints SET host_veth=?2 WHERE id=?1",
            params![id, format!("pnv{id}")],
        )?;
    }
    Ok(get(tx, e.name)?.expect("row just inserted"))
}

/// The endpoint whose namespace has this identity (dev, inode), if any.
pub fn using_netns(tx: &Connection, id: (u64, u64)) -> Result<Option<String>> {
    Ok(tx
        .prepare_cached("SELECT name FROM endpoints WHERE netns_dev=?1 AND netns_ino=?2 LIMIT 1")?
        .query_row(params![id.0 as i64, id.1 as i64], |r| r.get(0))
        .optional()?)
}

/// Record the identity of a namespace podnet created for the endpoint (known once it exists).
pub fn set_netns_identity(tx: &Connection, id: i64, ns: (u64, u64)) -> Result<()> {
    tx.exec(
        "UPDATE endpoints SET netns_dev=?2, netns_ino=?3 WHERE id=?1",
        params![id, ns.0 as i64, ns.1 as i64],
    )?;
    Ok(())
}

pub fn lease_taken(tx: &Connection, network_id: i64, ip: IpAddr) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM leases WHERE network_id=?1 AND ip=?2")?
        .query_row(params![network_id, ip.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Lease `ip` to an endpoint and record it as the endpoint's address of that family. An
/// endpoint's leases go with it (cascade): every teardown that deletes the row frees both.
pub fn add_lease(tx: &Connection, network_id: i64, endpoint_id: i64, ip: IpAddr) -> Result<()> {
    let set = match ip {
        IpAddr::V4(_) => "UPDATE endpoints SET ip=?2 WHERE id=?1",
        IpAddr::V6(_) => "UPDATE endpoints SET ip6=?2 WHERE id=?1",
    };
    let ip = ip.to_string();
    tx.exec(
        "INSERT INTO leases(network_id, ip, endpoint_id) VALUES (?1, ?2, ?3)",
        params![network_id, ip, endpoint_id],
    )?;
    tx.exec(set, params![endpoint_id, ip])?;
    Ok(())
}

/// Record the MAC given to the endpoint's eth0 (before the veth is made).
pub fn set_mac(tx: &Connection, endpoint_id: i64, mac: Mac) -> Result<()> {
    tx.exec(
        "UPDATE endpoints SET mac=?2 WHERE id=?1",
        params![endpoint_id, mac.to_string()],
    )?;
    Ok(())
}

/// The owner columns' values for a compare-and-set (NULLs when there is no owner).
fn owner_cols(owner: Option<(i32, u64)>) -> (Option<i32>, Option<i64>) {
    (owner.map(|o| o.0), owner.map(|o| o.1 as i64))
}

/// Mark ready, if the row is still `creating` and owned by `me` (compare-and-set: a `rm -f` or
/// `gc` may have taken it over meanwhile; false then). `keep_owner` keeps the owning podnet
/// process (a foreground run) as the reason the endpoint lives, otherwise the endpoint
/// outlives the process that made it.
pub fn set_ready(tx: &Connection, id: i64, keep_owner: bool, me: (i32, u64)) -> Result<bool> {
    let sql = if keep_owner {
        "UPDATE endpoints SET state='ready'
         WHERE id=?1 AND state='creating' AND owner_pid=?2 AND owner_start=?3"
    } else {
        "UPDATE endpoints SET state='ready', owner_pid=NULL, owner_start=NULL
         WHERE id=?1 AND state='creating' AND owner_pid=?2 AND owner_start=?3"
    };
    Ok(tx.exec(sql, params![id, me.0, me.1 as i64])? == 1)
}

/// Record the container's process, if the row is still `creating` and owned by `me`
/// (compare-and-set, as for [`set_ready`]).
pub fn set_pid(tx: &Connection, id: i64, pid: (i32, u64), me: (i32, u64)) -> Result<bool> {
    Ok(tx.exec(
        "UPDATE endpoints SET pid=?2, pid_start=?3
         WHERE id=?1 AND state='creating' AND owner_pid=?4 AND owner_start=?5",
        params![id, pid.0, pid.1 as i64, me.0, me.1 as i64],
    )? == 1)
}

/// Take an endpoint over for teardown (`removing`, owned by `me`), if its row is still as
/// `seen` left it: same state and same owner (compare-and-set). False: someone else changed
/// it since, and the caller's judgement no longer holds.
pub fn claim(tx: &Connection, seen: &Endpoint, me: (i32, u64)) -> Result<bool> {
    let (opid, ostart) = owner_cols(seen.owner);
    Ok(tx.exec(
        "UPDATE endpoints SET state='removing', owner_pid=?2, owner_start=?3
         WHERE id=?1 AND state=?4 AND owner_pid IS ?5 AND owner_start IS ?6",
        params![
            seen.id,
            me.0,
            me.1 as i64,
            seen.state.as_str(),
            opid,
            ostart
        ],
    )? == 1)
}

/// Delete an endpoint that `me` is removing, and (by cascade) its lease, ports and labels.
/// False when the row is not (or no longer) ours to delete.
pub fn delete(tx: &Connection, id: i64, me: (i32, u64)) -> Result<bool> {
    Ok(tx.exec(
        "DELETE FROM endpoints WHERE id=?1 AND state='removing' AND owner_pid=?2 AND owner_start=?3",
        params![id, me.0, me.1 as i64],
    )? == 1)
}

/// Take an endpoint out of every service while its process stops (Kubernetes removes the
/// endpoint before it sends SIGTERM, so no new connection arrives during the grace period).
pub fn set_draining(tx: &Connection, id: i64) -> Result<()> {
    tx.exec("UPDATE endpoints SET draining=1 WHERE id=?1", [id])?;
    Ok(())
}

pub fn is_draining(conn: &Connection, id: i64) -> Result<bool> {
    Ok(
        conn.row("SELECT draining FROM endpoints WHERE id=?1", [id], |r| {
            r.get(0)
        })?,
    )
}
