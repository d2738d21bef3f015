//! The source of truth for what podnet created: SQLite in WAL mode, so that many concurrent
//! podnet processes (and later CNI invocations) serialise safely on one file.

pub mod addr;
pub mod api;
mod endpoints;
mod labels;
mod members;
mod names;
mod networks;
mod ports;
mod runtime;
mod schema;
/// The store schema this build writes (its number of migrations).
pub const SCHEMA_VERSION: i64 = schema::VERSION;
mod services;
mod sqlite;

pub use api::{
    Member, NewEndpoint, NewNetwork, Owner, Reads, RuntimeRecord, RuntimeRow, ServiceRecord, State,
    Writes,
};
/// How a service's selector is shown (`app=web,tier=db`), as it is stored.
pub use services::encode_selector;

use crate::model::{Error, Result, StoreCause};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

/// How long a writer waits for another podnet process to finish its transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE: a short-lived process would otherwise checkpoint the WAL,
/// fsync four times and delete the -wal/-shm files on every exit (measured: 0.3–4 ms per fsync
/// here). Taken from the bindings: a hand-written 1010 was SQLITE_DBCONFIG_DEFENSIVE.
const DBCONFIG_NO_CKPT_ON_CLOSE: i32 = rusqlite::ffi::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE;

/// WAL size at which a starting process checkpoints and truncates it; see `Store::open`.
const WAL_TRUNCATE_BYTES: u64 = 128 * 4120;

pub struct Store {
    conn: Connection,
    id: String,
}

/// Switch a store to WAL mode (a property of the file: a no-op read once done). Converting a
/// new store needs an exclusive lock, and SQLite answers a reader's upgrade attempt with
/// SQLITE_BUSY at once instead of calling the busy handler (it would deadlock otherwise), so
/// several first podnet processes racing on a new store got "database is locked" (6 of 40
/// rounds of 10 concurrent first commands). Retry for as long as any other write may wait.
fn wal_mode(conn: &Connection) -> Result<()> {
    let start = std::time::Instant::now();
    loop {
        let mode: rusqlite::Result<String> =
            conn.query_row("PRAGMA journal_mode", [], |r| r.get(0));
        if mode.as_deref().is_ok_and(|m| m.eq_ignore_ascii_case("wal")) {
            return Ok(());
        }
        let set: rusqlite::Result<String> =
            conn.query_row("PRAGMA journal_mode=wal", [], |r| r.get(0));
        match set {
            Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(m) => {
                return Err(Error::failed(format!(
                    "state store: cannot use write-ahead logging (journal mode stays {m})"
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl Store {
    /// Open (creating if needed) the store under `root`.
    pub fn open(root: &Path) -> Result<Store> {
        std::fs::create_dir_all(root).map_err(|e| Error::Store {
            path: Some(root.to_path_buf()),
            cause: io_cause(&e),
            context: String::new(),
        })?;
        Store::open_db(root, OpenFlags::default()).map_err(|e| name(e, &db_path(root)))
    }

    /// Open the store under `root` only if one exists there: commands that only read must not
    /// leave a state directory behind under a mistyped root.
    pub fn open_existing(root: &Path) -> Result<Store> {
        let db = db_path(root);
        match std::fs::metadata(&db) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::no_state(root))
            }
            // Not allowed to look (a root-only directory): say so, not "no state".
            Err(e) => {
                return Err(Error::Store {
                    path: Some(db),
                    cause: io_cause(&e),
                    context: String::new(),
                })
            }
        }
        let flags = OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE;
        Store::open_db(root, flags).map_err(|e| name(e, &db))
    }

    /// An empty store of its own, in memory (what a listing shows where there is no state).
    pub fn empty() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "on")?;
        schema::migrate(&conn)?;
        let id = conn.query_row("SELECT value FROM meta WHERE key='store_id'", [], |r| {
            r.get(0)
        })?;
        Ok(Store { conn, id })
    }

    fn open_db(root: &Path, flags: OpenFlags) -> Result<Store> {
        let conn = Connection::open_with_flags(db_path(root), flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // SAFETY: sqlite3_db_config with an int option and a NULL out-pointer is the documented
        // form; the handle is valid for the life of `conn`.
        unsafe {
            rusqlite::ffi::sqlite3_db_config(
                conn.handle(),
                DBCONFIG_NO_CKPT_ON_CLOSE,
                1i32,
                std::ptr::null_mut::<i32>(),
            );
        }
        // Query-planner stability: without it SQLite marks a statement whose plan looked at a
        // bound value to be re-prepared at every new binding, so `prepare_cached` saved
        // nothing and re-parsing was a quarter of `gc`'s CPU at 1,000 dual-stack services.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        wal_mode(&conn)?;
        conn.pragma_update(None, "synchronous", "normal")?;
        // Without checkpoint-on-close the WAL persists between processes, and every process
        // start rebuilds the WAL index by reading the whole WAL (SQLite's recovery when no other
        // connection has the database open). That recovery also forgets how much of the WAL
        // was checkpointed, so SQLite never starts the WAL over: it grew without bound (3,459
        // frames read at every start after 300 services) and every commit past 1000 frames
        // re-checkpointed all of it with fsyncs. So: no automatic checkpoints; a process that
        // finds the WAL over 128 frames checkpoints it and truncates it to nothing (a few
        // fsyncs, once per ~40 operations), keeping every start's read small.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        truncate_long_wal(&conn, root)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "foreign_keys", "on")?;
        schema::migrate(&conn)?;
        let id = conn.query_row("SELECT value FROM meta WHERE key='store_id'", [], |r| {
            r.get(0)
        })?;
        Ok(Store { conn, id })
    }

    /// Between requests of a process that keeps the store open (the agent): what a fresh
    /// open does for the next one, so a host whose every change goes through the agent keeps
    /// a short WAL too.
    pub fn tidy(&self) -> Result<()> {
        match self.conn.path().map(Path::new).and_then(Path::parent) {
            Some(root) => truncate_long_wal(&self.conn, root),
            None => Ok(()),
        }
    }

    /// [`State::write`] on this store: one write transaction, taken at once.
    pub fn write<T>(&mut self, f: impl FnOnce(&dyn Writes) -> Result<T>) -> Result<T> {
        (self as &mut dyn State).write(f)
    }

    /// The store's identity (32 hex digits), made once when the store was created; kernel
    /// objects carry it so that podnet touches only what this store made.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl From<rusqlite::Error> for Error {
    /// The cause only: SQLite's own text can quote SQL, which users must never see.
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let cause = match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                C::ReadOnly => StoreCause::ReadOnly,
                C::PermissionDenied | C::AuthorizationForStatementDenied => StoreCause::Permission,
                C::NotADatabase | C::DatabaseCorrupt => StoreCause::Corrupt,
                C::DiskFull => StoreCause::DiskFull,
                C::DatabaseBusy | C::DatabaseLocked => StoreCause::Busy,
                C::CannotOpen => StoreCause::CannotOpen,
                C::SystemIoFailure => StoreCause::Io,
                C::ConstraintViolation => StoreCause::Constraint,
                _ => StoreCause::Unexpected,
            },
            _ => StoreCause::Unexpected,
        };
        Error::store(cause)
    }
}

/// Statements each connection keeps prepared (every distinct SQL text podnet runs fits).
const STATEMENT_CACHE: usize = 128;

/// Checkpoint and empty a WAL over [`WAL_TRUNCATE_BYTES`] (see `Store::open_db`).
fn truncate_long_wal(conn: &Connection, root: &Path) -> Result<()> {
    let wal = std::fs::metadata(root.join("podnet.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    if wal > WAL_TRUNCATE_BYTES {
        // Without waiting: if another process is busy, a later start will do it.
        conn.busy_timeout(Duration::ZERO)?;
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        conn.busy_timeout(BUSY_TIMEOUT)?;
    }
    Ok(())
}

/// Running SQL through the connection's statement cache: a connection kept open (the
/// agent's) parses each SQL text once, not at every request.
pub(crate) trait Cached {
    /// `Connection::execute`, cached.
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    /// `Connection::query_row`, cached.
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// The database file under a state root.
pub fn db_path(root: &Path) -> PathBuf {
    root.join("podnet.db")
}

/// The database file under `root` (device, inode): a connection kept open is to this store
/// only while the path still names the file it opened.
pub fn db_identity(root: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(db_path(root)).ok()?;
    Some((m.dev(), m.ino()))
}

/// Name the database file in a store error that does not name it yet, and tell a read-only
/// file system and a full disk apart from SQLite's vaguer "read-only", "cannot open" and
/// "I/O error" (the file system says which).
pub fn name(e: Error, db: &Path) -> Error {
    match e {
        Error::Store {
            path: None,
            cause,
            context,
        } => Error::Store {
            cause: refine(cause, db),
            path: Some(db.to_path_buf()),
            context,
        },
        Error::Undo { error, undo } => Error::Undo {
            error: Box::new(name(*error, db)),
            undo: Box::new(name(*undo, db)),
        },
        e => e,
    }
}

/// What an I/O error on the state directory means to a user.
fn io_cause(e: &std::io::Error) -> StoreCause {
    match e.raw_os_error() {
        Some(libc::EROFS) => StoreCause::ReadOnlyFs,
        Some(libc::EACCES | libc::EPERM) => StoreCause::Permission,
        Some(libc::ENOSPC | libc::EDQUOT) => StoreCause::DiskFull,
        Some(libc::ENOTDIR | libc::ENOENT | libc::EEXIST) => StoreCause::CannotOpen,
        _ => StoreCause::Io,
    }
}

fn refine(cause: StoreCause, db: &Path) -> StoreCause {
    use std::os::unix::ffi::OsStrExt;
    if !matches!(
        cause,
        StoreCause::ReadOnly | StoreCause::CannotOpen | StoreCause::Io | StoreCause::Permission
    ) {
        return cause;
    }
    let dir = db.parent().unwrap_or(Path::new("/"));
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return cause;
    };
    // SAFETY: statvfs fills a zeroed struct we own from a NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return cause;
    }
    if st.f_flag & libc::ST_RDONLY != 0 {
        return StoreCause::ReadOnlyFs;
    }
    if cause == StoreCause::Io && st.f_bavail == 0 {
        return StoreCause::DiskFull;
    }
    // SQLite says "cannot open" for a file it may not read; access(2) tells.
    if cause == StoreCause::CannotOpen && db.exists() {
        let Ok(f) = std::ffi::CString::new(db.as_os_str().as_bytes()) else {
            return cause;
        };
        // SAFETY: access on a NUL-terminated path.
        if unsafe { libc::access(f.as_ptr(), libc::R_OK | libc::W_OK) } != 0 {
            return StoreCause::Permission;
        }
    }
    cause
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_is_not_checkpointed_on_close() {
        let dir = std::env::temp_dir().join(format!("podnet-store-test-{}", std::process::id()));
        let store = Store::open(&dir).unwrap();
        let mut on: i32 = -1;
        // SAFETY: -1 queries without changing; `on` outlives the call.
        unsafe {
            rusqlite::ffi::sqlite3_db_config(
                store.conn.handle(),
                DBCONFIG_NO_CKPT_ON_CLOSE,
                -1i32,
                &mut on as *mut i32,
            );
        }
        assert_eq!(on, 1);
        drop(store);
        // With the flag in effect the WAL file survives the close.
        assert!(dir.join("podnet.db-wal").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn store_errors_never_show_sql() {
        let conn = Connection::open_in_memory().unwrap();
        let e: Error = conn
            .execute("INSERT INTO nosuch VALUES (1)", [])
            .unwrap_err()
            .into();
        let s = e.to_string();
        assert!(s.starts_with("state store: "), "{s}");
        assert!(!s.to_lowercase().contains("nosuch"), "{s}");
        assert!(!s.contains("INSERT"), "{s}");
    }
}

#[cfg(test)]
mod wal_tests {
    use super::*;

    /// Many short-lived processes each write a little: the WAL must stay bounded (each
    /// process start reads all of it back).
    #[test]
    fn wal_stays_small_across_many_short_connections() {
        let dir = std::env::temp_dir().join(format!("podnet-wal-test-{}", std::process::id()));
        for i in 0..300 {
            let mut s = Store::open(&dir).unwrap();
            let tx = s.conn.transaction().unwrap();
            tx.execute(
                "INSERT INTO labels(endpoint_id, key, value) SELECT 0, ?1, 'v' WHERE 0",
                [format!("k{i}")],
            )
            .unwrap();
            tx.execute_batch("CREATE TABLE IF NOT EXISTS scratch(x); INSERT INTO scratch VALUES (randomblob(3000));").unwrap();
            tx.commit().unwrap();
        }
        let wal = std::fs::metadata(dir.join("podnet.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(wal < 2 * 1024 * 1024, "WAL grew to {wal} bytes");
    }
}
