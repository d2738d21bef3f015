//! Container labels, indexed by (key, value) so a selector finds its containers directly.

use super::Cached;
use crate::model::{Labels, Result};
use rusqlite::{params, Connection};

pub fn add(tx: &Connection, endpoint_id: i64, labels: &Labels) -> Result<()> {
    let mut st =
        tx.prepare_cached("INSERT INTO labels(endpoint_id, key, value) VALUES (?1, ?2, ?3)")?;
    for (k, v) in labels {
        st.execute(params![endpoint_id, k, v])?;
    }
    Ok(())
}

/// An endpoint's labels.
pub fn of(conn: &Connection, endpoint_id: i64) -> Result<Labels> {
    let mut st = conn.prepare_cached("SELECT key, value FROM labels WHERE endpoint_id=?1")?;
    let rows = st
        .query_map([endpoint_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Labels>>()?;
    Ok(rows)
}

/// Names of containers carrying every label of `selector`, in creation order.
pub fn matching(conn: &Connection, selector: &Labels) -> Result<Vec<String>> {
    let mut names: Option<Vec<String>> = None;
    for (k, v) in selector {
        let mut st = conn.prepare_cached(
            "SELECT e.name FROM labels l JOIN endpoints e ON e.id = l.endpoint_id WHERE l.key=?1 AND l.value=?2 ORDER BY e.id",
        )?;
        let these: Vec<String> = st
            .query_map(params![k, v], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        names = Some(match names {
            None => these,
            Some(prev) => prev.into_iter().filter(|n| these.contains(n)).collect(),
        });
    }
    Ok(names.unwrap_or_default())
}

/// Replace an endpoint's labels.
pub fn replace(tx: &Connection, endpoint_id: i64, labels: &Labels) -> Result<()> {
    tx.exec("DELETE FROM labels WHERE endpoint_id=?1", [endpoint_id])?;
    add(tx, endpoint_id, labels)
}
