//! Schema, versioned with SQLite's `user_version`: migration K brings a store from version K
//! to K+1, in one write transaction. `state` columns carry the crash-repair protocol: rows are
//! written `creating` before kernel work and `ready` after (`removing` before teardown).

use crate::model::{Error, Result};
use rusqlite::{Connection, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS networks(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE NOT NULL,
  bridge TEXT UNIQUE NOT NULL,
  subnet TEXT NOT NULL,
  gateway TEXT NOT NULL,
  mtu INTEGER NOT NULL,
  internal INTEGER NOT NULL DEFAULT 0,
  icc INTEGER NOT NULL DEFAULT 1,
  state TEXT NOT NULL,
  next_ip INTEGER,
  owner_pid INTEGER,
  owner_start INTEGER
);
CREATE TABLE IF NOT EXISTS endpoints(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE NOT NULL,
  mode TEXT NOT NULL,
  target TEXT,
  ip TEXT,
  host_veth TEXT,
  netns TEXT,
  netns_owned INTEGER NOT NULL,
  netns_dev INTEGER,
  netns_ino INTEGER,
  pid INTEGER,
  pid_start INTEGER,
  owner_pid INTEGER,
  owner_start INTEGER,
  state TEXT NOT NULL,
  draining INTEGER NOT NULL DEFAULT 0  -- being stopped: no longer a service backend
);
CREATE TABLE IF NOT EXISTS leases(
  network_id INTEGER NOT NULL REFERENCES networks(id),
  ip INTEGER NOT NULL,
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  PRIMARY KEY(network_id, ip)
);
CREATE INDEX IF NOT EXISTS leases_by_endpoint ON leases(endpoint_id);
CREATE TABLE IF NOT EXISTS ports(
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  host_ip TEXT NOT NULL,          -- '' = every host address
  host_port INTEGER NOT NULL,
  container_port INTEGER NOT NULL,
  proto TEXT NOT NULL,
  PRIMARY KEY(host_port, proto, host_ip)
);
CREATE INDEX IF NOT EXISTS ports_by_endpoint ON ports(endpoint_id);
CREATE TABLE IF NOT EXISTS labels(
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(endpoint_id, key)
);
CREATE INDEX IF NOT EXISTS labels_by_pair ON labels(key, value);
CREATE TABLE IF NOT EXISTS services(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE NOT NULL,
  vip TEXT UNIQUE NOT NULL,
  vip_num INTEGER UNIQUE NOT NULL,  -- the VIP as a number: next-free allocation by index
  affinity_timeout INTEGER,
  selector TEXT,                  -- 'k=v,k2=v2'; NULL: explicit backends
  programmed TEXT NOT NULL DEFAULT '', -- backends as last programmed: 'ip:port|ip:|...'
  programmed_count INTEGER NOT NULL DEFAULT 0 -- their number: which bucket chains exist
);
CREATE INDEX IF NOT EXISTS services_by_count ON services(programmed_count);
CREATE TABLE IF NOT EXISTS service_selectors(
  service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(service_id, key)
);
CREATE INDEX IF NOT EXISTS selectors_by_pair ON service_selectors(key, value);
CREATE TABLE IF NOT EXISTS service_ports(
  service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
  port INTEGER NOT NULL,
  target_port INTEGER NOT NULL,
  proto TEXT NOT NULL,
  node_port INTEGER,
  PRIMARY KEY(service_id, port, proto)
);
CREATE UNIQUE INDEX IF NOT EXISTS node_ports ON service_ports(node_port, proto) WHERE node_port IS NOT NULL;
CREATE TABLE IF NOT EXISTS service_backends(
  service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
  container TEXT NOT NULL,
  port INTEGER,
  PRIMARY KEY(service_id, container)
);
CREATE INDEX IF NOT EXISTS backends_by_container ON service_backends(container);
CREATE TABLE IF NOT EXISTS service_buckets(
  n INTEGER PRIMARY KEY            -- a bucket_N chain exists in ip podnet-svc
);
";

/// Store identity: a random id made once, when the store is created. Every kernel object podnet
/// makes is marked with it, so that a command touches only what its own store made.
const META: &str = "
CREATE TABLE IF NOT EXISTS meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', lower(hex(randomblob(16))));
";

/// Endpoints by namespace identity: `attach --netns` refuses a namespace another endpoint uses.
const NETNS_INDEX: &str = "
CREATE INDEX IF NOT EXISTS endpoints_by_netns ON endpoints(netns_dev, netns_ino);
";

/// The MAC podnet gave a bridge endpoint's `eth0` (anti-spoofing lets only it through its
/// port). NULL for endpoints made before anti-spoofing: their eth0 has a random MAC, so their
/// ports stay unguarded rather than cut off.
const ENDPOINT_MAC: &str = "
ALTER TABLE endpoints ADD COLUMN mac TEXT;
";

/// Addresses in a form that also holds IPv6 (`store/addr.rs`): leases and the allocation
/// hint as canonical text (IPv4 numbers before), the VIP's ordered key as a 16-byte BLOB
/// (`vip_num`, an IPv4 number, before). `services` is rebuilt (SQLite cannot drop a UNIQUE
/// column): the runner turns foreign keys off around migrations, so dropping the old table
/// cascades to nothing; its AUTOINCREMENT high-water mark is carried over.
const ADDRESSES_ANY_FAMILY: &str = "
CREATE TABLE leases_v2(
  network_id INTEGER NOT NULL REFERENCES networks(id),
  ip TEXT NOT NULL,               -- canonical text
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  PRIMARY KEY(network_id, ip)
);
INSERT INTO leases_v2(network_id, ip, endpoint_id)
  SELECT network_id,
         ((ip >> 24) & 255) || '.' || ((ip >> 16) & 255) || '.' || ((ip >> 8) & 255) || '.' || (ip & 255),
         endpoint_id
  FROM leases;
DROP TABLE leases;
ALTER TABLE leases_v2 RENAME TO leases;
CREATE INDEX leases_by_endpoint ON leases(endpoint_id);

ALTER TABLE networks ADD COLUMN next_addr TEXT;  -- canonical text
UPDATE networks SET next_addr =
  ((next_ip >> 24) & 255) || '.' || ((next_ip >> 16) & 255) || '.' || ((next_ip >> 8) & 255) || '.' || (next_ip & 255)
  WHERE next_ip IS NOT NULL;
ALTER TABLE networks DROP COLUMN next_ip;

CREATE TABLE services_v2(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE NOT NULL,
  vip TEXT UNIQUE NOT NULL,        -- canonical text
  vip_key BLOB UNIQUE NOT NULL,    -- 16 bytes, big-endian, IPv4 mapped: ordered like addresses
  affinity_timeout INTEGER,
  selector TEXT,
  programmed TEXT NOT NULL DEFAULT '',
  programmed_count INTEGER NOT NULL DEFAULT 0
);
INSERT INTO services_v2(id, name, vip, vip_key, affinity_timeout, selector, programmed, programmed_count)
  SELECT id, name, vip, unhex('00000000000000000000FFFF' || printf('%08X', vip_num)),
         affinity_timeout, selector, programmed, programmed_count
  FROM services;
DELETE FROM sqlite_sequence WHERE name = 'services_v2';
INSERT INTO sqlite_sequence(name, seq) SELECT 'services_v2', seq FROM sqlite_sequence WHERE name = 'services';
DROP TABLE services;
ALTER TABLE services_v2 RENAME TO services;
CREATE INDEX services_by_count ON services(programmed_count);
";

/// Attachments made for a container runtime (CNI, netavark): who asked (`runtime`), the
/// runtime's own key for it (container id + interface name, unique per network), and the
/// Kubernetes pod it belongs to when the runtime said. `endpoints.ifname` is the interface's
/// name inside the namespace (NULL: `eth0`, what `run` and `attach` make).
const RUNTIME_ATTACHMENTS: &str = "
ALTER TABLE endpoints ADD COLUMN ifname TEXT;
CREATE TABLE IF NOT EXISTS runtime_attachments(
  endpoint_id INTEGER PRIMARY KEY REFERENCES endpoints(id) ON DELETE CASCADE,
  network_id INTEGER NOT NULL REFERENCES networks(id),
  container_id TEXT NOT NULL,
  ifname TEXT NOT NULL,
  runtime TEXT NOT NULL,
  k8s_namespace TEXT,
  k8s_name TEXT,
  UNIQUE(network_id, container_id, ifname)
);
";

/// Dual-stack networks (docs/decisions/2026-12-01-ipv6-networks.md): a network's IPv6
/// subnet, gateway, NAT66 switch and IPv6 allocation hint; an endpoint's IPv6 address (its
/// lease is a second row of `leases`, canonical text as for IPv4). `ula48`: the 40 random
/// bits of this host's unique local /48 (RFC 4193), chosen once, here.
const IPV6_NETWORKS: &str = "
ALTER TABLE networks ADD COLUMN subnet6 TEXT;
ALTER TABLE networks ADD COLUMN gateway6 TEXT;
ALTER TABLE networks ADD COLUMN nat6 INTEGER NOT NULL DEFAULT 1;
ALTER TABLE networks ADD COLUMN next_addr6 TEXT;
ALTER TABLE endpoints ADD COLUMN ip6 TEXT;
INSERT OR IGNORE INTO meta(key, value) VALUES ('ula48', lower(hex(randomblob(5))));
";

/// IPv6 services (issue 9): `vip`/`vip_key` become the primary VIP (Kubernetes' `clusterIP`:
/// the IPv4 one of an IPv4 or dual-stack service, the IPv6 one of an IPv6 service), `vip6` and
/// its ordered key hold the IPv6 VIP of every service that has one (so IPv6 allocation and
/// lookups use one column), `programmed6` the IPv6 backends as last programmed into
/// `ip6 podnet-svc`, whose bucket chains `service_buckets6` records. Existing rows are IPv4
/// services and stay as they are.
const SERVICES_IPV6: &str = "
ALTER TABLE services ADD COLUMN vip6 TEXT;      -- canonical text; NULL: no IPv6 side
ALTER TABLE services ADD COLUMN vip6_key BLOB;  -- 16 bytes, big-endian (store/addr.rs)
ALTER TABLE services ADD COLUMN programmed6 TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX services_by_vip6 ON services(vip6_key) WHERE vip6_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS service_buckets6(
  n INTEGER PRIMARY KEY            -- a bucket_N chain exists in ip6 podnet-svc
);
";

/// Embedded DNS (issue 10): the agent serves names on a network's gateways when `dns` is
/// set. Networks made before stay without (what they did); `network create` sets it unless
/// `--dns=false`.
const NETWORK_DNS: &str = "
ALTER TABLE networks ADD COLUMN dns INTEGER NOT NULL DEFAULT 0;
";

/// Networks whose addresses a runtime's IPAM plugin gives (a CNI configuration that
/// delegates `ipam`): marked at the first such attachment, in its allocation transaction.
/// podnet allocates no address on a marked network (docs/decisions/2026-12-01-delegated-networks.md).
const NETWORK_DELEGATED: &str = "
ALTER TABLE networks ADD COLUMN delegated INTEGER NOT NULL DEFAULT 0;
";

/// Containers on several networks (issue 10): each network after a container's first is an
/// endpoint of its own (lease, veth, MAC, anti-spoofing elements, like a runtime's second
/// interface in `runtime_attachments`), joined to the container's endpoint here with its
/// interface name in the container (`eth1`, ...). A container's endpoint cannot be deleted
/// while a member points at it (no cascade): teardown removes the members first. Aliases
/// (`--network-alias`) are names of one endpoint, i.e. of one (container, network).
const CONTAINER_NETWORKS: &str = "
CREATE TABLE IF NOT EXISTS container_networks(
  endpoint_id INTEGER PRIMARY KEY REFERENCES endpoints(id) ON DELETE CASCADE,
  container_id INTEGER NOT NULL REFERENCES endpoints(id),
  network_id INTEGER NOT NULL REFERENCES networks(id),
  ifname TEXT NOT NULL,
  UNIQUE(container_id, network_id),
  UNIQUE(container_id, ifname)
);
CREATE TABLE IF NOT EXISTS endpoint_aliases(
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  alias TEXT NOT NULL,
  PRIMARY KEY(endpoint_id, alias)
);
";

/// macvlan networks (issue 13): the driver, the parent interface, the kernel's mode, the
/// range container addresses come from and whether the host has a shim to reach them. A
/// bridge network has driver 'bridge' and NULLs. (The `bridge` column of a macvlan network
/// names its host shim, `pnm<id>`, made only with host access.)
const NETWORK_MACVLAN: &str = "
ALTER TABLE networks ADD COLUMN driver TEXT NOT NULL DEFAULT 'bridge';
ALTER TABLE networks ADD COLUMN parent TEXT;
ALTER TABLE networks ADD COLUMN macvlan_mode TEXT;
ALTER TABLE networks ADD COLUMN ip_range TEXT;  -- canonical text
ALTER TABLE networks ADD COLUMN host_access INTEGER NOT NULL DEFAULT 0;
";

/// Migrations in order; a store at version K runs `MIGRATIONS[K..]`. Append only: never edit
/// one that has shipped. (Version 0 stores made before versioning have the base tables already;
/// the base script is idempotent, so they run it harmlessly.)
const MIGRATIONS: &[&str] = &[
    SCHEMA,
    META,
    NETNS_INDEX,
    ENDPOINT_MAC,
    RUNTIME_ATTACHMENTS,
    ADDRESSES_ANY_FAMILY,
    IPV6_NETWORKS,
    SERVICES_IPV6,
    NETWORK_DNS,
    NETWORK_DELEGATED,
    CONTAINER_NETWORKS,
    NETWORK_MACVLAN,
];

/// The schema version this binary writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

pub fn migrate(conn: &Connection) -> Result<()> {
    // A read first: the DDL takes the write lock, which would serialise every concurrent
    // podnet start behind whichever process holds it.
    let v = version(conn)?;
    if v == VERSION {
        return Ok(());
    }
    if v > VERSION {
        return Err(Error::failed(format!(
            "the state store has schema version {v}, newer than this podnet understands ({VERSION}): use a newer podnet"
        )));
    }
    // A migration that rebuilds a table drops the old one: with foreign keys on, that would
    // delete (by cascade) every row pointing at it. Off for the migration (outside the
    // transaction: SQLite ignores the switch inside one), checked before the commit.
    let fk: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let done = migrate_locked(conn);
    conn.pragma_update(None, "foreign_keys", fk)?;
    done
}

fn migrate_locked(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let applied = (|| -> Result<()> {
        // Another process may have migrated while this one waited for the lock.
        let v = version(conn)?;
        for m in MIGRATIONS.iter().skip(v.max(0) as usize) {
            conn.execute_batch(m)?;
        }
        let broken: Option<String> = conn
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(Error::failed(format!(
                "state store: migrating left a row of {table} pointing at nothing; the store is unchanged"
            )));
        }
        conn.pragma_update(None, "user_version", VERSION)?;
        Ok(())
    })();
    match applied {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_keeps_the_store_id() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        let id: String = conn
            .query_row("SELECT value FROM meta WHERE key='store_id'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(id.len(), 32);
        migrate(&conn).unwrap();
        let again: String = conn
            .query_row("SELECT value FROM meta WHERE key='store_id'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(id, again);
        assert_eq!(version(&conn).unwrap(), VERSION);
    }

    #[test]
    fn a_pre_versioning_store_is_brought_up_to_date() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch("INSERT INTO networks(name, bridge, subnet, gateway, mtu, state) VALUES ('n','b','10.1.0.0/24','10.1.0.1',1500,'ready')").unwrap();
        migrate(&conn).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM networks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(version(&conn).unwrap(), VERSION);
    }

    #[test]
    fn a_newer_store_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        let e = migrate(&conn).unwrap_err().to_string();
        assert!(e.contains("newer"), "{e}");
    }

    /// A store as podnet wrote it before addresses could be IPv6 (version 4: leases, the
    /// allocation hint and the VIP as IPv4 numbers) keeps every row, and what it holds reads
    /// back through the store's functions as before.
    #[test]
    fn an_ipv4_number_store_migrates_with_its_data() {
        // Version 4: before runtime attachments; version 5: main's stores with them, which
        // must not run the address migration's predecessor again (order is append-only).
        for from in [4, 5] {
            ipv4_number_store_from(from);
        }
    }

    fn ipv4_number_store_from(from: usize) {
        use crate::store::{endpoints, networks, services};
        use std::net::IpAddr;
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        for m in &MIGRATIONS[..from] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", from as i64)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO networks(id, name, bridge, subnet, gateway, mtu, state, next_ip)
               VALUES (1, 'web', 'pn-web', '10.88.0.0/24', '10.88.0.1', 1500, 'ready', 173539339);
             INSERT INTO endpoints(id, name, mode, target, ip, netns_owned, state)
               VALUES (7, 'a', 'bridge', 'web', '10.88.0.10', 1, 'ready');
             INSERT INTO leases(network_id, ip, endpoint_id) VALUES (1, 173539338, 7);
             INSERT INTO services(id, name, vip, vip_num, selector) VALUES (3, 's3', '10.43.0.9', 170590217, NULL);
             INSERT INTO services(id, name, vip, vip_num, selector) VALUES (5, 's5', '10.43.0.10', 170590218, 'app=web');
             INSERT INTO service_ports(service_id, port, target_port, proto) VALUES (3, 80, 8080, 'tcp'), (5, 53, 53, 'udp');
             INSERT INTO service_selectors(service_id, key, value) VALUES (5, 'app', 'web');
             INSERT INTO service_backends(service_id, container, port) VALUES (3, 'a', NULL);
             ",
        )
        .unwrap();
        // Service 6 existed once: AUTOINCREMENT must not hand its id out again.
        conn.execute_batch("UPDATE sqlite_sequence SET seq=6 WHERE name='services'")
            .unwrap();
        migrate(&conn).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        let fk: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are on again after the migration");
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert!(endpoints::lease_taken(&conn, 1, ip("10.88.0.10")).unwrap());
        assert!(!endpoints::lease_taken(&conn, 1, ip("10.88.0.11")).unwrap());
        assert_eq!(networks::next_ip(&conn, 1).unwrap(), Some(ip("10.88.0.11")));
        let all = services::all(&conn).unwrap();
        let names: Vec<&str> = all.iter().map(|r| r.service.name.as_str()).collect();
        assert_eq!(names, ["s3", "s5"]);
        assert_eq!(
            all[0].service.ports.len(),
            1,
            "service ports survive the rebuild"
        );
        assert_eq!(all[0].backends, [("a".to_string(), None)]);
        assert_eq!(all[1].selector.as_ref().unwrap()["app"], "web");
        assert_eq!(
            services::vip_taken(&conn, ip("10.43.0.10"))
                .unwrap()
                .as_deref(),
            Some("s5")
        );
        // The ordered key: "after the highest" is numeric (.10 after .9), not textual.
        assert_eq!(
            services::vip_after_highest(&conn, ip("10.43.0.1"), ip("10.43.255.254")).unwrap(),
            Some(ip("10.43.0.11"))
        );
        let id = services::insert(
            &conn,
            &crate::model::Service {
                name: "s-new".into(),
                vip: "10.43.0.11".parse().unwrap(),
                ports: vec![],
                affinity_timeout: None,
            }
            .into(),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(id, 7);
        // Cascades still work on the rebuilt table.
        services::delete(&conn, 3).unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM service_ports", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }

    /// A dual-stack network and endpoint read back as written; the IPv6 lease is a lease like
    /// the IPv4 one (taken, and freed with the endpoint's row); the host's ULA /48 is chosen
    /// once and kept.
    #[test]
    fn dual_stack_records_and_leases() {
        use crate::store::api::NewNetwork;
        use crate::store::{endpoints, networks};
        use std::net::IpAddr;
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        migrate(&conn).unwrap();
        let ula = networks::ula48(&conn)
            .unwrap()
            .expect("a ULA /48 chosen at migration");
        assert_eq!(ula.prefix_len(), 48);
        assert_eq!(ula.addr().octets()[0], 0xfd);
        migrate(&conn).unwrap();
        assert_eq!(networks::ula48(&conn).unwrap(), Some(ula), "kept");
        let id = networks::insert(
            &conn,
            &NewNetwork {
                name: "web",
                bridge: "pn-web",
                subnet: "10.90.0.0/24".parse().unwrap(),
                gateway: "10.90.0.1".parse().unwrap(),
                subnet6: Some("fd00:90::/64".parse().unwrap()),
                gateway6: Some("fd00:90::1".parse().unwrap()),
                nat6: false,
                mtu: 1500,
                internal: false,
                icc: true,
                dns: false,
                macvlan: None,
                owner: (1, 1),
            },
        )
        .unwrap();
        let net = networks::get(&conn, "web").unwrap().unwrap();
        assert_eq!(net.subnet6.unwrap().to_string(), "fd00:90::/64");
        assert_eq!(net.gateway6.unwrap().to_string(), "fd00:90::1");
        assert!(!net.nat6);
        conn.execute_batch(
            "INSERT INTO endpoints(id, name, mode, target, netns_owned, state, owner_pid, owner_start)
               VALUES (7, 'a', 'bridge', 'web', 1, 'removing', 1, 1)",
        )
        .unwrap();
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        endpoints::add_lease(&conn, id, 7, ip("10.90.0.2")).unwrap();
        endpoints::add_lease(&conn, id, 7, ip("fd00:90::2")).unwrap();
        let ep = endpoints::get(&conn, "a").unwrap().unwrap();
        assert_eq!(ep.ip.unwrap().to_string(), "10.90.0.2");
        assert_eq!(ep.ip6.unwrap().to_string(), "fd00:90::2");
        assert!(endpoints::lease_taken(&conn, id, ip("fd00:90::2")).unwrap());
        assert_eq!(networks::users(&conn, id).unwrap(), ["a"], "listed once");
        networks::set_next_ip(&conn, id, ip("fd00:90::3")).unwrap();
        networks::set_next_ip(&conn, id, ip("10.90.0.3")).unwrap();
        assert_eq!(
            networks::next_ip6(&conn, id).unwrap(),
            Some("fd00:90::3".parse().unwrap())
        );
        assert_eq!(networks::next_ip(&conn, id).unwrap(), Some(ip("10.90.0.3")));
        assert!(endpoints::delete(&conn, 7, (1, 1)).unwrap());
        assert!(!endpoints::lease_taken(&conn, id, ip("fd00:90::2")).unwrap());
        assert!(!endpoints::lease_taken(&conn, id, ip("10.90.0.2")).unwrap());
    }
}
