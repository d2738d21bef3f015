//! Schema, created idempotently. `state` columns carry the crash-repair protocol: rows are
//! written `creating` before kernel work and `ready` after (`removing` before teardown).

use crate::model::Result;
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

pub fn migrate(conn: &Connection) -> Result<()> {
    // Skip the DDL when the schema is there: it takes the write lock, which would serialise
    // every concurrent podnet start behind whichever process holds it.
    let have: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='service_buckets'",
        [],
        |r| r.get(0),
    )?;
    if have == 0 {
        conn.execute_batch(SCHEMA)?;
    }
    Ok(())
}
