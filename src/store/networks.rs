//! Network rows.

use super::api::NewNetwork;
use super::Cached;
use crate::model::{Macvlan, MacvlanMode, Network, NetworkState, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const COLS: &str =
    "id, name, bridge, subnet, gateway, mtu, state, internal, icc, subnet6, gateway6, nat6, dns, delegated, driver, parent, macvlan_mode, ip_range, host_access";

fn row(r: &Row) -> rusqlite::Result<Network> {
    let subnet: String = r.get(3)?;
    let gateway: String = r.get(4)?;
    let state: String = r.get(6)?;
    let subnet6: Option<String> = r.get(9)?;
    let gateway6: Option<String> = r.get(10)?;
    let driver: String = r.get(14)?;
    let macvlan = match driver.as_str() {
        "macvlan" => {
            let mode: Option<String> = r.get(16)?;
            let range: Option<String> = r.get(17)?;
            Some(Macvlan {
                parent: r.get::<_, Option<String>>(15)?.unwrap_or_default(),
                mode: mode
                    .and_then(|m| MacvlanMode::parse("", &m).ok())
                    .unwrap_or_default(),
                range: range
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| subnet.parse().unwrap_or_default()),
                host_access: r.get(18)?,
            })
        }
        _ => None,
    };
    Ok(Network {
        id: r.get(0)?,
        name: r.get(1)?,
        bridge: r.get(2)?,
        subnet: subnet.parse().unwrap_or_default(),
        gateway: gateway.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
        subnet6: subnet6.and_then(|s| s.parse().ok()),
        gateway6: gateway6.and_then(|s| s.parse().ok()),
        nat6: r.get(11)?,
        delegated: r.get(13)?,
        mtu: r.get(5)?,
        internal: r.get(7)?,
        icc: r.get(8)?,
        dns: r.get(12)?,
        macvlan,
        state: match state.as_str() {
            "ready" => NetworkState::Ready,
            "removing" => NetworkState::Removing,
            _ => NetworkState::Creating,
        },
    })
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<Network>> {
    Ok(conn
        .row(
            &format!("SELECT {COLS} FROM networks WHERE name=?1"),
            [name],
            row,
        )
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<Network>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM networks ORDER BY id"))?;
    let rows = st
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Containers attached to a network.
pub fn users(conn: &Connection, id: i64) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT e.name, e.id FROM leases l JOIN endpoints e ON e.id = l.endpoint_id WHERE l.network_id=?1 ORDER BY e.id",
    )?;
    let rows = st
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

pub fn insert(tx: &Connection, n: &NewNetwork) -> Result<i64> {
    tx.exec(
        "INSERT INTO networks(name, bridge, subnet, gateway, mtu, internal, icc, state, owner_pid, owner_start, subnet6, gateway6, nat6, dns,
                              driver, parent, macvlan_mode, ip_range, host_access)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'creating', ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            n.name,
            n.bridge,
            n.subnet.to_string(),
            n.gateway.to_string(),
            n.mtu,
            n.internal,
            n.icc,
            n.owner.0,
            n.owner.1 as i64,
            n.subnet6.map(|s| s.to_string()),
            n.gateway6.map(|g| g.to_string()),
            n.nat6,
            n.dns,
            if n.macvlan.is_some() { "macvlan" } else { "bridge" },
            n.macvlan.map(|m| m.parent.as_str()),
            n.macvlan.map(|m| m.mode.as_str()),
            n.macvlan.map(|m| m.range.to_string()),
            n.macvlan.is_some_and(|m| m.host_access)
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Mark a network as taking its addresses from a runtime's IPAM plugin.
pub fn set_delegated(tx: &Connection, id: i64) -> Result<()> {
    tx.exec("UPDATE networks SET delegated=1 WHERE id=?1", [id])?;
    Ok(())
}

pub fn set_ready(tx: &Connection, name: &str) -> Result<()> {
    tx.exec(
        "UPDATE networks SET state='ready', owner_pid=NULL, owner_start=NULL WHERE name=?1",
        [name],
    )?;
    Ok(())
}

pub fn delete(tx: &Connection, name: &str) -> Result<()> {
    tx.exec("DELETE FROM networks WHERE name=?1", [name])?;
    Ok(())
}

/// Owner of a network still being created or being removed.
pub fn owner(conn: &Connection, id: i64) -> Result<Option<(i32, u64)>> {
    Ok(conn
        .row(
            "SELECT owner_pid, owner_start FROM networks WHERE id=?1 AND owner_pid IS NOT NULL",
            [id],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
        )
        .optional()?)
}

/// Take a network over for removal (`removing`, owned by `me`) if it is still in `state` with
/// owner `seen_owner` and no container uses it (compare-and-set). False otherwise.
pub fn claim(
    tx: &Connection,
    id: i64,
    state: NetworkState,
    seen_owner: Option<(i32, u64)>,
    me: (i32, u64),
) -> Result<bool> {
    Ok(tx.exec(
        "UPDATE networks SET state='removing', owner_pid=?2, owner_start=?3
         WHERE id=?1 AND state=?4 AND owner_pid IS ?5 AND owner_start IS ?6
           AND NOT EXISTS (SELECT 1 FROM leases WHERE network_id=?1)",
        params![
            id,
            me.0,
            me.1 as i64,
            state_str(state),
            seen_owner.map(|o| o.0),
            seen_owner.map(|o| o.1 as i64)
        ],
    )? == 1)
}

/// Take over a network whose creator died, to finish it (still `creating`, owned by `me`).
pub fn adopt(tx: &Connection, id: i64, dead: (i32, u64), me: (i32, u64)) -> Result<bool> {
    Ok(tx.exec(
        "UPDATE networks SET owner_pid=?2, owner_start=?3
         WHERE id=?1 AND state='creating' AND owner_pid=?4 AND owner_start=?5",
        params![id, me.0, me.1 as i64, dead.0, dead.1 as i64],
    )? == 1)
}

fn state_str(s: NetworkState) -> &'static str {
    match s {
        NetworkState::Creating => "creating",
        NetworkState::Ready => "ready",
        NetworkState::Removing => "removing",
    }
}

/// The id the next network will get.
pub fn next_id(conn: &Connection) -> Result<i64> {
    Ok(
        conn.row("SELECT coalesce(max(id),0)+1 FROM networks", [], |r| {
            r.get(0)
        })?,
    )
}

/// The round-robin allocation hint of a network (IPv4).
pub fn next_ip(tx: &Connection, id: i64) -> Result<Option<IpAddr>> {
    let v: Option<String> = tx.row("SELECT next_addr FROM networks WHERE id=?1", [id], |r| {
        r.get(0)
    })?;
    Ok(v.and_then(|v| v.parse().ok()))
}

/// The round-robin allocation hint of a network's IPv6 subnet.
pub fn next_ip6(tx: &Connection, id: i64) -> Result<Option<Ipv6Addr>> {
    let v: Option<String> = tx.row("SELECT next_addr6 FROM networks WHERE id=?1", [id], |r| {
        r.get(0)
    })?;
    Ok(v.and_then(|v| v.parse().ok()))
}

/// Set the hint of `ip`'s family.
pub fn set_next_ip(tx: &Connection, id: i64, ip: IpAddr) -> Result<()> {
    let sql = match ip {
        IpAddr::V4(_) => "UPDATE networks SET next_addr=?2 WHERE id=?1",
        IpAddr::V6(_) => "UPDATE networks SET next_addr6=?2 WHERE id=?1",
    };
    tx.exec(sql, params![id, ip.to_string()])?;
    Ok(())
}

/// This host's unique local /48 (RFC 4193: fd00::/8 and 40 random bits chosen once, when the
/// store got IPv6).
pub fn ula48(conn: &Connection) -> Result<Option<ipnet::Ipv6Net>> {
    let hex: Option<String> = conn
        .row("SELECT value FROM meta WHERE key='ula48'", [], |r| r.get(0))
        .optional()?;
    Ok(hex.and_then(|h| crate::ipam::ula48_from_hex(&h)))
}
