//! Schema, versioned with SQLite's `user_version`: migration K brings a store from version K
//! to K+1, in one write transaction. `state` columns carry the crash-repair protocol: rows are
//! written `creating` before kernel work and `ready` after (`removing` before teardown).

use crate::model::{Error, Result};
use rusqlite::Connection;

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

/// Migrations in order; a store at version K runs `MIGRATIONS[K..]`. Append only: never edit
/// one that has shipped. (Version 0 stores made before versioning have the base tables already;
/// the base script is idempotent, so they run it harmlessly.)
const MIGRATIONS: &[&str] = &[SCHEMA, META, NETNS_INDEX, ENDPOINT_MAC, RUNTIME_ATTACHMENTS];

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
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let applied = (|| -> Result<()> {
        // Another process may have migrated while this one waited for the lock.
        let v = version(conn)?;
        for m in MIGRATIONS.iter().skip(v.max(0) as usize) {
            conn.execute_batch(m)?;
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
}
