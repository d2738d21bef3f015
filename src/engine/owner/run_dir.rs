//! The run dir's claim: `<run dir>/owner` holds the mark of the one store whose namespace
//! mounts live there. A second state pointed at the same run dir is refused (it would take
//! the first one's mounts for orphans), so every mount in a run dir is known to be its
//! claimant's. The claim is made once, atomically (link(2) of a complete file), and read
//! (one small file) only before podnet mounts a namespace and by gc.

use super::{remedy, short, Identity, Owner, Stamp};
use crate::engine::Ctx;
use crate::model::field::{REMOVE_FOREIGN, RUN_DIR};
use crate::model::{Error, Result};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

pub const FILE: &str = "owner";

/// Who claimed a run dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Absent,
    Mine,
    /// Another store's mark (None: a file that is no podnet mark).
    Other(Option<Stamp>),
}

pub fn path(run_dir: &Path) -> PathBuf {
    run_dir.join(FILE)
}

pub fn read(run_dir: &Path, me: &Identity) -> Result<Claim> {
    match std::fs::read_to_string(path(run_dir)) {
        Ok(text) => Ok(match me.owner(Some(text.trim())) {
            Owner::Mine => Claim::Mine,
            Owner::Other(s) => Claim::Other(Some(s)),
            Owner::Unmarked => Claim::Other(None),
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Claim::Absent),
        Err(e) => Err(Error::failed(format!(
            "read {}: {e}",
            path(run_dir).display()
        ))),
    }
}

/// Write the claim: atomically when there is none (`replace` false: fails if another process
/// claimed first, and the caller reads that claim), or over whatever is there (`replace`).
fn write(run_dir: &Path, me: &Identity, replace: bool) -> Result<()> {
    std::fs::create_dir_all(run_dir).map_err(|e| {
        Error::failed(format!(
            "create run dir {}: {e} (set {RUN_DIR} or PODNET_RUN_DIR)",
            run_dir.display()
        ))
    })?;
    let tmp = run_dir.join(format!(".{FILE}.{}", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", me.mark()))?;
    let done = if replace {
        std::fs::rename(&tmp, path(run_dir))
    } else {
        let r = std::fs::hard_link(&tmp, path(run_dir));
        let _ = std::fs::remove_file(&tmp);
        r
    };
    match done {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::failed(format!(
            "write {}: {e}",
            path(run_dir).display()
        ))),
    }
}

/// The refusal for a run dir another state claimed.
pub fn refusal(run_dir: &Path, other: Option<&Stamp>, me: &Identity) -> Error {
    let by = other.map_or("something that is no podnet mark".to_string(), |s| {
        s.describe()
    });
    let same_root = other
        .and_then(|s| s.root.as_deref())
        .is_some_and(|r| std::fs::canonicalize(&me.root).is_ok_and(|m| m.to_string_lossy() == r));
    let what = if same_root {
        remedy(other, me)
    } else {
        format!(
            "give {} its own {RUN_DIR} (or PODNET_RUN_DIR), or, if that state is lost for good, {REMOVE_FOREIGN} removes what it left",
            me.root.display()
        )
    };
    Error::failed(format!(
        "run dir {} belongs to {by}, not this state ({}, store {}): {what}",
        run_dir.display(),
        me.root.display(),
        short(&me.id),
    ))
}

/// Before podnet mounts a namespace in the run dir: claim it, or refuse if it is another's.
pub fn claim(ctx: &Ctx) -> Result<()> {
    let me = Identity::of(ctx);
    let mut claim = read(&ctx.run_dir, &me)?;
    if claim == Claim::Absent {
        write(&ctx.run_dir, &me, false)?;
        claim = read(&ctx.run_dir, &me)?;
    }
    match claim {
        Claim::Mine => Ok(()),
        Claim::Other(s) => Err(refusal(&ctx.run_dir, s.as_ref(), &me)),
        Claim::Absent => Err(Error::failed(format!(
            "claim run dir {}: the claim vanished as it was made",
            ctx.run_dir.display()
        ))),
    }
}

/// Take the run dir over (`gc --remove-foreign`, once its mounts are gone; or an upgraded store
/// that has records and finds no claim).
pub fn take(ctx: &Ctx, replace: bool) -> Result<()> {
    write(&ctx.run_dir, &Identity::of(ctx), replace)
}

/// The namespace mounts in the run dir (entries of `<run dir>/netns`).
pub fn mounts(run_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(run_dir.join("netns"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}
