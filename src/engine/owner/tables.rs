//! podnet's nftables tables (`ip podnet`, `bridge podnet`, `ip podnet-svc`) and whose they are.
//! There is one podnet state per host network namespace: the tables are stamped with the store
//! that made them, a full render re-creates only this store's (or, on the upgrade path,
//! unmarked ones this store's records need), and another state's tables are never replaced or
//! deleted. Reading the stamps is one table dump (no chain, set or rule is read), made only by
//! full renders and by network create — never on the attach/detach path.

use super::{remedy, Identity, Owner, Stamp};
use crate::engine::Ctx;
use crate::kernel::nft::{tables, udata, Batch, NftError, NftSocket, Table};
use crate::model::{Error, Result};

/// How often a render is retried when another process made the tables between the look and
/// the exclusive create (EEXIST).
const ATTEMPTS: usize = 5;

/// A group of podnet's tables, taken together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Absent,
    Mine,
    Unmarked,
    Other(Stamp),
}

fn rank(s: &State) -> u8 {
    match s {
        State::Absent => 0,
        State::Mine => 1,
        State::Unmarked => 2,
        State::Other(_) => 3,
    }
}

fn names(which: &[Table]) -> String {
    which
        .iter()
        .map(|t| format!("{} {}", t.family.name(), t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn query_failed(e: NftError) -> Error {
    crate::engine::nft_error("read podnet's netfilter tables", e)
}

/// The state of `which`: the most foreign of its tables decides (one dump).
pub fn state(nft: &mut NftSocket, me: &Identity, which: &[Table]) -> Result<State> {
    let present = tables::list(nft).map_err(query_failed)?;
    Ok(state_of(&present, me, which))
}

fn state_of(present: &[tables::TableInfo], me: &Identity, which: &[Table]) -> State {
    let mut worst = State::Absent;
    for info in present {
        if !which.iter().any(|t| info.is(t.family, &t.name)) {
            continue;
        }
        let s = match me.owner(info.comment().as_deref()) {
            Owner::Mine => State::Mine,
            Owner::Unmarked => State::Unmarked,
            Owner::Other(st) => State::Other(st),
        };
        if rank(&s) > rank(&worst) {
            worst = s;
        }
    }
    worst
}

/// The refusal when `which` are not this store's to use.
fn refusal(which: &[Table], state: &State, me: &Identity) -> Error {
    let what = format!("podnet's netfilter tables here ({})", names(which));
    match state {
        State::Other(s) => Error::failed(format!(
            "{what} belong to {}, not {}: {}",
            s.describe(),
            me.describe(),
            remedy(Some(s), me)
        )),
        _ => Error::failed(format!(
            "{what} carry no store mark (an older podnet or a lost state made them) and {} has nothing that uses them: {}",
            me.describe(),
            remedy(None, me)
        )),
    }
}

/// Every podnet table (netfilter and services).
pub fn all() -> Vec<Table> {
    let mut t = crate::plan::netfilter::tables().to_vec();
    t.extend(crate::plan::services::tables());
    t.extend(crate::plan::services::tables6());
    t
}

/// Before a bridge network is made: refuse when podnet's tables here are another state's, or
/// unmarked while this store has no network (so nothing of its own can have made them).
pub fn check_usable(ctx: &mut Ctx) -> Result<()> {
    let me = Identity::of(ctx);
    let which = all();
    let has_networks = !ctx.store.networks()?.is_empty();
    match state(ctx.nft()?, &me, &which)? {
        State::Absent | State::Mine => Ok(()),
        State::Unmarked if has_networks => Ok(()),
        s => Err(refusal(&which, &s, &me)),
    }
}

/// Make `which` what `build` says (a replace batch), or delete them when the store wants none
/// (`delete`), touching them only when they are this store's: absent ones are created
/// exclusively, this store's replaced, unmarked ones adopted only when the store wants them
/// (the upgrade path: an older podnet made them for these very records). Another state's
/// tables are refused when wanted and left alone otherwise. Returns whether the tables are
/// this store's to manage (false: left alone, so is everything that goes with them).
pub fn render(
    nft: &mut NftSocket,
    me: &Identity,
    which: &[Table],
    want: bool,
    build: impl Fn() -> Batch,
    delete: impl Fn() -> Batch,
) -> Result<bool> {
    for _ in 0..ATTEMPTS {
        let st = state(nft, me, which)?;
        let (batch, exclusive) = match (&st, want) {
            (State::Other(_), true) => return Err(refusal(which, &st, me)),
            (State::Other(_) | State::Unmarked, false) => return Ok(false),
            (State::Absent, false) => return Ok(true),
            (State::Mine, false) => (delete(), false),
            (State::Absent, true) => (build(), true),
            (State::Mine | State::Unmarked, true) => (build(), false),
        };
        let mut batch = batch;
        if want {
            batch.stamp_tables(&udata::comment(&me.mark()), exclusive);
        }
        match nft.apply(&batch) {
            Ok(()) => return Ok(true),
            // Made by someone else since we looked: look again.
            Err(NftError::Rejected(e))
                if exclusive && e.iter().any(|m| m.errno == libc::EEXIST) =>
            {
                continue
            }
            // Deleted by someone else since we looked: the desired end state.
            Err(NftError::Rejected(e)) if !want && e.iter().all(|m| m.errno == libc::ENOENT) => {
                return Ok(true)
            }
            Err(e) => return Err(crate::engine::nft_error("program netfilter", e)),
        }
    }
    Err(Error::failed(format!(
        "podnet's netfilter tables ({}) kept being re-created by another process: try again",
        names(which)
    )))
}

/// Delete every podnet table that is not this store's (`gc --remove-foreign`). Returns them.
pub fn remove_foreign(nft: &mut NftSocket, me: &Identity) -> Result<Vec<String>> {
    let present = tables::list(nft).map_err(query_failed)?;
    let mut batch = Batch::new();
    let mut removed = Vec::new();
    for t in all() {
        let Some(info) = present.iter().find(|i| i.is(t.family, &t.name)) else {
            continue;
        };
        if me.owner(info.comment().as_deref()) != Owner::Mine {
            batch.delete_table(&t);
            removed.push(format!("{} {}", t.family.name(), t.name));
        }
    }
    match nft.apply(&batch) {
        Ok(()) => Ok(removed),
        Err(NftError::Rejected(e)) if e.iter().all(|m| m.errno == libc::ENOENT) => Ok(removed),
        Err(e) => Err(Error::failed(format!(
            "remove foreign netfilter tables: {e}"
        ))),
    }
}

/// Podnet tables here that are not this store's, each with its stamp (for gc's refusal).
pub fn foreign(nft: &mut NftSocket, me: &Identity) -> Result<Vec<(String, Option<Stamp>)>> {
    let present = tables::list(nft).map_err(query_failed)?;
    let mut out = Vec::new();
    for t in all() {
        if let Some(info) = present.iter().find(|i| i.is(t.family, &t.name)) {
            match me.owner(info.comment().as_deref()) {
                Owner::Mine => {}
                Owner::Other(s) => out.push((format!("{} {}", t.family.name(), t.name), Some(s))),
                Owner::Unmarked => out.push((format!("{} {}", t.family.name(), t.name), None)),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::nft::tables::TableInfo;
    use crate::kernel::nft::Family;

    #[test]
    fn the_most_foreign_table_decides() {
        let me = Identity {
            id: "0123456789abcdef0123456789abcdef".into(),
            root: "/x".into(),
        };
        let info = |fam: Family, name: &str, c: Option<String>| TableInfo {
            nfproto: fam.nfproto(),
            name: name.into(),
            userdata: c.map(|c| udata::comment(&c)),
        };
        let which = crate::plan::netfilter::tables().to_vec();
        assert_eq!(state_of(&[], &me, &which), State::Absent);
        let mine = info(Family::Ip, "podnet", Some(me.mark()));
        assert_eq!(
            state_of(std::slice::from_ref(&mine), &me, &which),
            State::Mine
        );
        let bare = info(Family::Bridge, "podnet", None);
        assert_eq!(
            state_of(&[mine.clone(), bare], &me, &which),
            State::Unmarked
        );
        let other = format!("podnet:{} /b", "f".repeat(32));
        let theirs = info(Family::Bridge, "podnet", Some(other));
        assert!(matches!(
            state_of(&[mine.clone(), theirs], &me, &which),
            State::Other(_)
        ));
        // Same name, another family, or another table: not podnet's.
        let unrelated = [
            info(Family::Inet, "podnet", None),
            info(Family::Ip, "filter", None),
        ];
        assert_eq!(state_of(&unrelated, &me, &which), State::Absent);
    }
}
