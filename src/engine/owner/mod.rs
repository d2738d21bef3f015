//! Ownership: podnet touches only what its own store made (DESIGN §6). Every kernel object it
//! makes carries the store's identity — links in their alias (`podnet:<store id>`), nftables
//! tables in their userdata (`podnet:<store id> <root>`, the comment `nft list table` shows),
//! and the run dir in a claim file — and every deletion first checks that identity.
//!
//! - [`names`]: the interface names podnet generates, and `--bridge` checks.
//! - [`tables`]: whose podnet's nftables tables are; refusals when they are another state's.
//! - [`run_dir`]: the run dir's claim file (namespace mounts there are its owner's).
//! - [`sweep`]: gc's part: orphan links and mounts of this store, others' left alone.
//! - [`lost`]: an empty store facing another state's objects refuses; `gc --remove-foreign`.

pub mod lost;
pub mod names;
pub mod run_dir;
pub mod sweep;
pub mod tables;

use super::Ctx;
use crate::model::field::{REMOVE_FOREIGN, ROOT};
use std::path::PathBuf;

/// What every podnet mark starts with.
pub const PREFIX: &str = "podnet:";
/// Length of a store id (hex digits).
const ID_LEN: usize = 32;

/// The identity of the store a command runs against, and where it lives (for messages).
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub root: PathBuf,
}

impl Identity {
    pub fn of(ctx: &Ctx) -> Identity {
        Identity {
            id: ctx.store.id().to_string(),
            root: ctx.root.clone(),
        }
    }

    /// The alias of every link this store makes. Short and fixed: it is set on the attach path.
    pub fn link_alias(&self) -> String {
        format!("{PREFIX}{}", self.id)
    }

    /// The mark of tables and of the run dir claim: the id and the absolute root, so that
    /// another state's refusal can say where this one lives.
    pub fn mark(&self) -> String {
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        format!("{PREFIX}{} {}", self.id, root.display())
    }

    /// Whose an object with this mark (alias, table comment, claim) is.
    pub fn owner(&self, mark: Option<&str>) -> Owner {
        match mark.and_then(Stamp::parse) {
            Some(s) if s.id == self.id => Owner::Mine,
            Some(s) => Owner::Other(s),
            None => Owner::Unmarked,
        }
    }

    /// "this state (ROOT, store 1a2b3c4d)".
    pub fn describe(&self) -> String {
        format!(
            "this state ({}, store {})",
            self.root.display(),
            short(&self.id)
        )
    }
}

/// A podnet mark read back from the kernel or the run dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub id: String,
    pub root: Option<String>,
}

impl Stamp {
    /// `podnet:<32 hex digits>[ <root>]`; anything else is no podnet mark.
    pub fn parse(text: &str) -> Option<Stamp> {
        let rest = text.trim_end().strip_prefix(PREFIX)?;
        let id = rest.get(..ID_LEN)?;
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let root = match &rest[ID_LEN..] {
            "" => None,
            r => Some(r.strip_prefix(' ')?.to_string()),
        };
        Some(Stamp {
            id: id.to_ascii_lowercase(),
            root,
        })
    }

    /// "the podnet state at ROOT (store 1a2b3c4d)", or without the root when the mark has none.
    pub fn describe(&self) -> String {
        match &self.root {
            Some(r) => format!("the podnet state at {r} (store {})", short(&self.id)),
            None => format!("another podnet state (store {})", short(&self.id)),
        }
    }
}

/// Whose a podnet-looking object is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Mine,
    Other(Stamp),
    /// No podnet mark: a podnet older than marks made it, or someone else did.
    Unmarked,
}

/// The first 8 digits of a store id: enough to tell two stores apart in a message.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// What to do when another state's objects are in the way: one sentence for every refusal.
pub fn remedy(other: Option<&Stamp>, me: &Identity) -> String {
    let lost = format!("if that state is lost for good, {REMOVE_FOREIGN} removes what it left");
    match other.and_then(|s| s.root.as_deref()) {
        Some(r) if std::fs::canonicalize(&me.root).is_ok_and(|m| m.to_string_lossy() == r) => {
            format!(
                "the store at {r} was replaced since (it is now store {}); {lost}",
                short(&me.id)
            )
        }
        Some(r) => format!("one podnet state per host: use {ROOT} {r}, or {lost}"),
        None => format!("one podnet state per host: use the state that made them, or {lost}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn marks_parse_and_compare() {
        let me = Identity {
            id: A.into(),
            root: "/nonexistent/podnet-a".into(),
        };
        assert_eq!(me.owner(Some(&me.link_alias())), Owner::Mine);
        assert_eq!(me.owner(Some(&me.mark())), Owner::Mine);
        let other = format!("{PREFIX}{} /var/lib/b", A.replace('0', "f"));
        match me.owner(Some(&other)) {
            Owner::Other(s) => {
                assert_eq!(s.root.as_deref(), Some("/var/lib/b"));
                assert!(s.describe().contains("/var/lib/b (store f123456"));
            }
            o => panic!("{o:?}"),
        }
        for not_ours in [
            None,
            Some(""),
            Some("podnet:"),
            Some("podnet:xyz"),
            Some("uplink"),
        ] {
            assert_eq!(me.owner(not_ours), Owner::Unmarked, "{not_ours:?}");
        }
        assert_eq!(
            me.owner(Some(&format!("{PREFIX}{A}x"))),
            Owner::Unmarked,
            "an id must end at 32 digits"
        );
    }
}
