//! What the agent's DNS server answers, read in one snapshot: the only query that decides
//! which names resolve (aliases and containers on several networks belong here too).

use super::networks;
use crate::model::{NameRecord, NetworkNames, NetworkState, Result};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Every ready DNS-enabled network with its ready containers (name and aliases → their
/// addresses on that network) and every service (name → its VIPs; services are host-wide,
/// like Kubernetes', so each DNS network sees them). A container being created or removed is
/// not served: it answers once `run` has marked it ready and is gone the moment `rm` claims
/// it. A container's later networks (`container_networks`: endpoints of their own) are named
/// by the container (its name, the member's aliases) under the container's identity, so the
/// DNS server knows it as one asker on all of them; each is served while both it and the
/// container are ready (gone the moment `disconnect` claims it).
pub fn dns_names(conn: &Connection) -> Result<Vec<NetworkNames>> {
    // One read transaction: the networks, leases and services seen belong together.
    let tx = match conn.is_autocommit() {
        true => Some(conn.unchecked_transaction()?),
        false => None,
    };
    let mut out: Vec<NetworkNames> = networks::list(conn)?
        .into_iter()
        .filter(|n| n.dns && n.state == NetworkState::Ready)
        .map(|network| NetworkNames {
            network,
            records: Vec::new(),
        })
        .collect();
    let index: BTreeMap<i64, usize> = out
        .iter()
        .enumerate()
        .map(|(i, n)| (n.network.id, i))
        .collect();
    for (net, record) in records(conn, None)? {
        if let Some(&i) = index.get(&net) {
            out[i].records.push(record);
        }
    }
    if !out.is_empty() {
        let services = services(conn)?;
        for n in &mut out {
            n.records.extend(services.iter().cloned());
        }
    }
    drop(tx);
    Ok(out)
}

/// One container's records as [`dns_names`] has them, each with its network's id: what the
/// agent patches into its last read when a command tells it that this container changed
/// (empty once the container is gone or not ready). `container` is a container's id, never a
/// member endpoint's (its records are its container's).
pub fn container_names(conn: &Connection, container: i64) -> Result<Vec<(i64, NameRecord)>> {
    records(conn, Some(container))
}

/// The (network id, record) of ready containers on DNS networks (of one container with
/// `only`), by network, then container. One row per lease: (network, the container's id,
/// its name, the endpoint's aliases, the address). Aliases are DNS names (no spaces), so a
/// space joins them.
fn records(conn: &Connection, only: Option<i64>) -> Result<Vec<(i64, NameRecord)>> {
    const SELECT: &str = "SELECT l.network_id, c.id, c.name,
                (SELECT group_concat(a.alias, ' ') FROM endpoint_aliases a
                  WHERE a.endpoint_id = e.id),
                l.ip";
    const READY: &str = "n.dns = 1 AND e.state = 'ready' AND c.state = 'ready'";
    const ORDER: &str = "ORDER BY l.network_id, c.id, l.ip";
    let all = format!(
        "{SELECT}
           FROM leases l
           JOIN endpoints e ON e.id = l.endpoint_id
           JOIN networks n ON n.id = l.network_id
           LEFT JOIN container_networks m ON m.endpoint_id = e.id
           JOIN endpoints c ON c.id = coalesce(m.container_id, e.id)
         WHERE {READY} {ORDER}"
    );
    // One container: its own endpoint and its members', found by key (no scan of every
    // lease); a member endpoint's id names no container.
    let one = format!(
        "{SELECT}
           FROM endpoints c
           JOIN endpoints e ON e.id = c.id
             OR e.id IN (SELECT endpoint_id FROM container_networks WHERE container_id = c.id)
           JOIN leases l ON l.endpoint_id = e.id
           JOIN networks n ON n.id = l.network_id
         WHERE c.id = ?1
           AND NOT EXISTS (SELECT 1 FROM container_networks WHERE endpoint_id = c.id)
           AND {READY} {ORDER}"
    );
    let mut st = conn.prepare_cached(if only.is_some() { &one } else { &all })?;
    let params: Vec<i64> = only.into_iter().collect();
    let rows = st.query_map(rusqlite::params_from_iter(params), |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out: Vec<(i64, NameRecord)> = Vec::new();
    for row in rows {
        let (net, container, name, aliases, ip) = row?;
        let Ok(ip) = ip.parse::<IpAddr>() else {
            continue;
        };
        let owner = container.to_string();
        match out.last_mut() {
            Some((n, r)) if *n == net && r.owner == owner => r.addrs.push(ip),
            _ => {
                let aliases = aliases.iter().flat_map(|a| a.split(' '));
                let names = std::iter::once(name.as_str())
                    .chain(aliases.filter(|a| !a.is_empty() && *a != name))
                    .map(str::to_string)
                    .collect();
                out.push((
                    net,
                    NameRecord {
                        owner,
                        names,
                        addrs: vec![ip],
                    },
                ))
            }
        }
    }
    Ok(out)
}

/// Every service's name and VIPs (the primary one and the IPv6 one, once each).
fn services(conn: &Connection) -> Result<Vec<NameRecord>> {
    let mut st = conn.prepare_cached("SELECT name, vip, vip6 FROM services ORDER BY id")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, vip, vip6) = row?;
        let mut addrs: Vec<IpAddr> = Vec::new();
        for a in std::iter::once(vip).chain(vip6) {
            if let Ok(a) = a.parse::<IpAddr>() {
                if !addrs.contains(&a) {
                    addrs.push(a);
                }
            }
        }
        out.push(NameRecord {
            owner: String::new(),
            names: vec![name],
            addrs,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::api::NewNetwork;

    fn network(conn: &Connection, name: &str, dns: bool, third: u8) -> i64 {
        let id = networks::insert(
            conn,
            &NewNetwork {
                name,
                bridge: &format!("pn-{name}"),
                subnet: format!("10.90.{third}.0/24").parse().unwrap(),
                gateway: format!("10.90.{third}.1").parse().unwrap(),
                subnet6: None,
                gateway6: None,
                nat6: true,
                mtu: 1500,
                internal: false,
                icc: true,
                dns,
                macvlan: None,
                owner: (1, 1),
            },
        )
        .unwrap();
        networks::set_ready(conn, name).unwrap();
        id
    }

    fn endpoint(conn: &Connection, id: i64, name: &str, state: &str, leases: &[(i64, &str)]) {
        conn.execute(
            "INSERT INTO endpoints(id, name, mode, target, netns_owned, state) VALUES (?1, ?2, 'bridge', 'x', 1, ?3)",
            rusqlite::params![id, name, state],
        )
        .unwrap();
        for (net, ip) in leases {
            conn.execute(
                "INSERT INTO leases(network_id, ip, endpoint_id) VALUES (?1, ?2, ?3)",
                rusqlite::params![net, ip, id],
            )
            .unwrap();
        }
    }

    #[test]
    fn ready_containers_of_dns_networks_and_every_service() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&conn).unwrap();
        let app = network(&conn, "app", true, 0);
        let plain = network(&conn, "plain", false, 1);
        let db6 = "fd00:90::5";
        endpoint(&conn, 1, "db", "ready", &[(app, "10.90.0.5"), (app, db6)]);
        endpoint(&conn, 2, "making", "creating", &[(app, "10.90.0.6")]);
        endpoint(&conn, 3, "going", "removing", &[(app, "10.90.0.7")]);
        endpoint(&conn, 4, "quiet", "ready", &[(plain, "10.90.1.5")]);
        conn.execute_batch(
            "INSERT INTO services(name, vip, vip_key, vip6) VALUES ('web', '10.43.0.1', x'00', 'fd00:43::1')",
        )
        .unwrap();
        let got = dns_names(&conn).unwrap();
        assert_eq!(got.len(), 1, "only the DNS network: {got:?}");
        assert_eq!(got[0].network.name, "app");
        assert_eq!(
            got[0].records,
            vec![
                NameRecord {
                    owner: "1".into(),
                    names: vec!["db".into()],
                    addrs: vec!["10.90.0.5".parse().unwrap(), db6.parse().unwrap()],
                },
                NameRecord {
                    owner: String::new(),
                    names: vec!["web".into()],
                    addrs: vec!["10.43.0.1".parse().unwrap(), "fd00:43::1".parse().unwrap()],
                },
            ]
        );
    }

    fn member(conn: &Connection, endpoint: i64, container: i64, net: i64, ifname: &str) {
        conn.execute(
            "INSERT INTO container_networks(endpoint_id, container_id, network_id, ifname) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![endpoint, container, net, ifname],
        )
        .unwrap();
    }

    fn alias(conn: &Connection, endpoint: i64, alias: &str) {
        conn.execute(
            "INSERT INTO endpoint_aliases(endpoint_id, alias) VALUES (?1, ?2)",
            rusqlite::params![endpoint, alias],
        )
        .unwrap();
    }

    fn rec(owner: &str, names: &[&str], addrs: &[&str]) -> NameRecord {
        NameRecord {
            owner: owner.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn a_container_is_named_on_each_of_its_networks_with_that_network_s_aliases() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&conn).unwrap();
        let app = network(&conn, "app", true, 0);
        let back = network(&conn, "back", true, 1);
        let plain = network(&conn, "plain", false, 2);
        // web: on app (alias www), on back as a member (alias api), on plain (no DNS).
        endpoint(&conn, 1, "web", "ready", &[(app, "10.90.0.5")]);
        alias(&conn, 1, "www");
        endpoint(&conn, 2, "web:back", "ready", &[(back, "10.90.1.5")]);
        member(&conn, 2, 1, back, "eth1");
        alias(&conn, 2, "api");
        alias(&conn, 2, "web");
        endpoint(&conn, 3, "web:plain", "ready", &[(plain, "10.90.2.5")]);
        member(&conn, 3, 1, plain, "eth2");
        // db: its member on app is still being connected, or its container is going away.
        endpoint(&conn, 4, "db", "ready", &[(back, "10.90.1.6")]);
        endpoint(&conn, 5, "db:app", "creating", &[(app, "10.90.0.6")]);
        member(&conn, 5, 4, app, "eth1");
        endpoint(&conn, 6, "old", "removing", &[(back, "10.90.1.7")]);
        endpoint(&conn, 7, "old:app", "ready", &[(app, "10.90.0.7")]);
        member(&conn, 7, 6, app, "eth1");
        let got: Vec<(String, Vec<NameRecord>)> = dns_names(&conn)
            .unwrap()
            .into_iter()
            .map(|n| (n.network.name, n.records))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "app".into(),
                    vec![rec("1", &["web", "www"], &["10.90.0.5"])]
                ),
                (
                    "back".into(),
                    vec![
                        rec("1", &["web", "api"], &["10.90.1.5"]),
                        rec("4", &["db"], &["10.90.1.6"]),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn one_container_s_records_are_those_of_the_full_read() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&conn).unwrap();
        let app = network(&conn, "app", true, 0);
        let back = network(&conn, "back", true, 1);
        endpoint(&conn, 1, "web", "ready", &[(app, "10.90.0.5")]);
        alias(&conn, 1, "www");
        endpoint(&conn, 2, "web:back", "ready", &[(back, "10.90.1.5")]);
        member(&conn, 2, 1, back, "eth1");
        alias(&conn, 2, "api");
        endpoint(&conn, 3, "db", "ready", &[(back, "10.90.1.6")]);
        endpoint(&conn, 4, "old", "removing", &[(back, "10.90.1.7")]);
        let full: Vec<(i64, NameRecord)> = dns_names(&conn)
            .unwrap()
            .into_iter()
            .flat_map(|n| {
                let id = n.network.id;
                n.records.into_iter().map(move |r| (id, r))
            })
            .collect();
        // (container, its records in the full read)
        let cases: [(i64, Vec<(i64, NameRecord)>); 4] = [
            (
                1,
                vec![
                    (app, rec("1", &["web", "www"], &["10.90.0.5"])),
                    (back, rec("1", &["web", "api"], &["10.90.1.5"])),
                ],
            ),
            (3, vec![(back, rec("3", &["db"], &["10.90.1.6"]))]),
            // A member's id names no container; a container going away has no records.
            (2, vec![]),
            (4, vec![]),
        ];
        for (id, want) in cases {
            let owner = id.to_string();
            let in_full: Vec<_> = full
                .iter()
                .filter(|(_, r)| r.owner == owner)
                .cloned()
                .collect();
            assert_eq!(in_full, want, "the full read of {id}");
            assert_eq!(container_names(&conn, id).unwrap(), want, "container {id}");
        }
    }

    #[test]
    fn no_dns_network_no_names() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&conn).unwrap();
        let plain = network(&conn, "plain", false, 1);
        endpoint(&conn, 4, "quiet", "ready", &[(plain, "10.90.1.5")]);
        assert!(dns_names(&conn).unwrap().is_empty());
    }
}
