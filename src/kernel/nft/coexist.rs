//! Living next to a `FORWARD` policy of DROP in iptables' table (Docker,
//! ufw, hand-made firewalls). Netfilter accepts a packet at a hook only if
//! every base chain there accepts it, so podnet's own accept in `ip podnet`
//! does not help: the other table's policy drops containers' outbound
//! traffic and their published ports.
//!
//! When table `ip filter` has a base chain `FORWARD` with policy drop (what
//! the iptables-nft backend makes of `iptables -P FORWARD DROP`), podnet keeps
//! its own accept rules at the top of that chain, exactly one set per podnet
//! bridge, encoded as iptables-nft encodes them so `iptables -S FORWARD`
//! lists them as
//!
//! ```text
//! -A FORWARD -i BR -m comment --comment podnet -j ACCEPT    (not --internal)
//! -A FORWARD -o BR -m comment --comment podnet -j ACCEPT    (not --internal)
//! -A FORWARD -i BR -o BR -m comment --comment podnet -j ACCEPT    (--internal)
//! ```
//!
//! The comment is rule userdata (`NFTNL_UDATA_RULE_COMMENT`), which is how
//! podnet finds its rules again; nothing else in that chain is touched, and
//! no policy is ever changed. The real filtering stays in podnet's own
//! `forward` chain (isolation, `--internal`, `--icc=false`), which every
//! packet must pass as well. Why: `docs/decisions/2026-11-27-forward-drop-coexistence.md`.
//!
//! [`plan`] is pure; [`sync_forward_accepts`] reads the chain, plans and
//! applies one atomic batch bound to the generation it read (retried if the
//! ruleset changed in between).

use super::batch::Batch;
use super::expr::{CmpOp, Expr, ImmData};
use super::model::{Rule, Table};
use super::query::{self, ChainInfo, RuleInfo};
use super::socket::{NftError, NftSocket};
use super::stmt::{render, Stmt};
use super::types::{Family, Hook, Policy, Verdict};

/// iptables-nft's table and chain for `iptables -t filter ... FORWARD`.
pub const TABLE: &str = "filter";
pub const CHAIN: &str = "FORWARD";
/// The comment that marks podnet's rules in that chain.
pub const TAG: &str = "podnet";

/// How often the read-plan-apply cycle is retried when the ruleset changed
/// between reading and applying (ERESTART) or a rule went away (ENOENT).
const ATTEMPTS: usize = 5;

const META_IIFNAME: u32 = 6;
const META_OIFNAME: u32 = 7;

/// A podnet bridge that needs to pass a foreign FORWARD drop policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bridge {
    pub name: String,
    /// `--internal`: only traffic from the bridge to itself (bridged traffic
    /// that br_netfilter hands to the ip forward hook) is let through.
    pub internal: bool,
}

impl Bridge {
    pub fn open(name: impl Into<String>) -> Self {
        Bridge {
            name: name.into(),
            internal: false,
        }
    }

    pub fn internal(name: impl Into<String>) -> Self {
        Bridge {
            name: name.into(),
            internal: true,
        }
    }
}

pub fn table() -> Table {
    Table::new(Family::Ip, TABLE)
}

/// iptables-nft's `-i NAME` / `-o NAME`: a meta load and a comparison with
/// the name and its terminating NUL (the NUL makes it an exact match; a
/// `NAME+` wildcard would leave it out).
fn ifname(key: u32, name: &str) -> [Expr; 2] {
    let mut data = name.as_bytes().to_vec();
    data.push(0);
    [
        Expr::Meta { key, dreg: 1 },
        Expr::Cmp {
            sreg: 1,
            op: CmpOp::Eq,
            data,
        },
    ]
}

fn accept_rule(matches: Vec<Expr>) -> Rule {
    let mut e = matches;
    e.push(Expr::Counter);
    e.push(Expr::Immediate {
        dreg: 0,
        data: ImmData::Verdict(Verdict::Accept),
    });
    Rule::new(CHAIN, vec![Stmt::Raw(e)]).comment(TAG)
}

/// The rules podnet wants at the top of the chain, in order.
pub fn desired(bridges: &[Bridge]) -> Vec<Rule> {
    let mut out = vec![];
    let mut seen = std::collections::HashSet::new();
    for b in bridges {
        if !seen.insert(b) {
            continue;
        }
        if b.internal {
            let mut m = ifname(META_IIFNAME, &b.name).to_vec();
            m.extend(ifname(META_OIFNAME, &b.name));
            out.push(accept_rule(m));
        } else {
            out.push(accept_rule(ifname(META_IIFNAME, &b.name).to_vec()));
            out.push(accept_rule(ifname(META_OIFNAME, &b.name).to_vec()));
        }
    }
    out
}

/// Whether the chain is a forward base chain whose policy drops.
pub fn drops(chain: &ChainInfo) -> bool {
    chain.policy == Some(Policy::Drop)
        && chain
            .hook
            .is_some_and(|(hook, _)| hook == Hook::Forward.number())
}

/// What to change in the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Rules to insert at the top, in the order they should end up in.
    pub insert: Vec<Rule>,
    /// Handles of podnet-tagged rules to delete (extra, duplicate or edited).
    pub delete: Vec<u64>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.insert.is_empty() && self.delete.is_empty()
    }

    /// One transaction: the deletions, then the insertions (in reverse, as
    /// each goes to the top).
    pub fn batch(&self) -> Batch {
        let t = table();
        let mut b = Batch::new();
        for h in &self.delete {
            b.delete_rule(&t, CHAIN, *h);
        }
        for r in self.insert.iter().rev() {
            b.insert_rule(&t, r);
        }
        b
    }
}

/// Pure: compares the chain's rules with what podnet wants there. A tagged
/// rule that is exactly a wanted rule stays wherever it is (no churn if
/// someone inserted rules above it); missing ones go to the top; every other
/// tagged rule (a bridge that is gone, a duplicate, an edited copy) is
/// deleted. `chain` is `None` when it does not exist: nothing to do. Rules
/// without podnet's tag are never touched.
pub fn plan(chain: Option<&ChainInfo>, rules: &[RuleInfo], bridges: &[Bridge]) -> Plan {
    let Some(chain) = chain else {
        return Plan::default();
    };
    let want = if drops(chain) {
        desired(bridges)
    } else {
        vec![]
    };
    let want_exprs: Vec<Vec<Expr>> = want.iter().map(|r| render(&r.stmts)).collect();
    let mut have = vec![false; want.len()];
    let mut delete = vec![];
    for r in rules.iter().filter(|r| r.comment().as_deref() == Some(TAG)) {
        match want_exprs
            .iter()
            .enumerate()
            .position(|(i, w)| !have[i] && r.is(w))
        {
            Some(i) => have[i] = true,
            None => delete.push(r.handle),
        }
    }
    let insert = want
        .into_iter()
        .zip(have)
        .filter(|(_, present)| !present)
        .map(|(r, _)| r)
        .collect();
    Plan { insert, delete }
}

/// What [`sync_forward_accepts`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No `ip filter FORWARD` chain: nothing to do.
    NoChain,
    /// The chain exists; `policy_drop` tells whether podnet's rules are
    /// wanted there. `inserted`/`deleted` count the rules changed.
    Synced {
        policy_drop: bool,
        inserted: usize,
        deleted: usize,
    },
}

/// Makes `ip filter FORWARD` hold exactly podnet's accept rules for
/// `bridges` if its policy is drop, and none of them otherwise. One atomic
/// batch, conditional on the ruleset generation it was planned against.
/// `bridges` is asked for only when the chain exists: on a host without iptables' FORWARD
/// chain (the common case) the check is one round trip and no store read.
pub fn sync_forward_accepts<E>(
    sock: &mut NftSocket,
    bridges: impl FnOnce() -> Result<Vec<Bridge>, E>,
) -> Result<Result<Outcome, NftError>, E> {
    match query::get_chain(sock, Family::Ip, TABLE, CHAIN) {
        Ok(None) => return Ok(Ok(Outcome::NoChain)),
        Ok(Some(_)) => {}
        Err(e) => return Ok(Err(e)),
    }
    let bridges = bridges()?;
    Ok(sync_with(sock, &bridges))
}

fn sync_with(sock: &mut NftSocket, bridges: &[Bridge]) -> Result<Outcome, NftError> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let gen = query::generation(sock)?;
        let Some(chain) = query::get_chain(sock, Family::Ip, TABLE, CHAIN)? else {
            return Ok(Outcome::NoChain);
        };
        let rules = query::list_rules(sock, Family::Ip, TABLE, CHAIN)?;
        if query::generation(sock)? != gen {
            continue; // changed while reading: read again
        }
        let p = plan(Some(&chain), &rules, bridges);
        let outcome = Outcome::Synced {
            policy_drop: drops(&chain),
            inserted: p.insert.len(),
            deleted: p.delete.len(),
        };
        if p.is_empty() {
            return Ok(outcome);
        }
        let mut batch = p.batch();
        batch.set_genid(gen);
        match sock.apply(&batch) {
            Ok(()) => return Ok(outcome),
            // ERESTART: the generation moved on; ENOENT: a rule or the chain
            // went away meanwhile. Either way nothing was applied: again.
            Err(NftError::Rejected(errs))
                if errs
                    .iter()
                    .all(|e| e.errno == libc::ERESTART || e.errno == libc::ENOENT) =>
            {
                last = Some(NftError::Rejected(errs));
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| NftError::Query {
        what: format!("sync ip {TABLE} {CHAIN}"),
        source: std::io::Error::new(std::io::ErrorKind::Interrupted, "the ruleset kept changing"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(policy: Policy) -> ChainInfo {
        ChainInfo {
            table: TABLE.into(),
            name: CHAIN.into(),
            handle: 1,
            hook: Some((2, 0)),
            policy: Some(policy),
            kind: Some("filter".into()),
        }
    }

    fn kernel_rule(handle: u64, r: &Rule) -> RuleInfo {
        let mut ud = vec![0u8, 7];
        ud.extend_from_slice(b"podnet\0");
        RuleInfo {
            chain: CHAIN.into(),
            handle,
            exprs: render(&r.stmts),
            opaque: vec![],
            userdata: r.comment.as_ref().map(|_| ud),
            sets: vec![],
        }
    }

    #[test]
    fn rules_are_iptables_shaped() {
        let r = desired(&[Bridge::open("br0")]);
        assert_eq!(r.len(), 2);
        let text = super::super::stmt::render_debug(&r[0].stmts);
        assert_eq!(
            text,
            "  [ meta load iifname => reg 1 ]\n  [ cmp eq reg 1 0x00307262 ]\n  \
             [ counter pkts 0 bytes 0 ]\n  [ immediate reg 0 accept ]\n"
        );
        assert_eq!(r[0].comment.as_deref(), Some("podnet"));
        assert_eq!(desired(&[Bridge::internal("pn-x")]).len(), 1);
    }

    #[test]
    fn plan_adds_missing_keeps_present_deletes_extra() {
        let want = desired(&[Bridge::open("a"), Bridge::open("b")]);
        let stale = desired(&[Bridge::open("gone")]);
        let mut foreign = kernel_rule(9, &Rule::new(CHAIN, vec![]));
        foreign.userdata = None;
        let rules = vec![
            foreign,
            kernel_rule(10, &want[1]),
            kernel_rule(11, &want[1]), // duplicate
            kernel_rule(12, &stale[0]),
        ];
        let p = plan(
            Some(&chain(Policy::Drop)),
            &rules,
            &[Bridge::open("a"), Bridge::open("b")],
        );
        assert_eq!(p.delete, vec![11, 12]);
        assert_eq!(
            p.insert,
            vec![want[0].clone(), want[2].clone(), want[3].clone()]
        );
    }

    #[test]
    fn no_drop_or_no_bridges_removes_all_and_no_chain_does_nothing() {
        let want = desired(&[Bridge::open("a")]);
        let rules: Vec<_> = want
            .iter()
            .enumerate()
            .map(|(i, r)| kernel_rule(i as u64 + 1, r))
            .collect();
        let p = plan(Some(&chain(Policy::Accept)), &rules, &[Bridge::open("a")]);
        assert_eq!((p.insert.len(), p.delete), (0, vec![1, 2]));
        let p = plan(Some(&chain(Policy::Drop)), &rules, &[]);
        assert_eq!(p.delete, vec![1, 2]);
        assert!(plan(None, &rules, &[]).is_empty());
        let p = plan(Some(&chain(Policy::Drop)), &rules, &[Bridge::open("a")]);
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn batch_inserts_in_reverse_after_deleting() {
        let want = desired(&[Bridge::open("a")]);
        let p = Plan {
            insert: want,
            delete: vec![5],
        };
        let b = p.batch();
        assert_eq!(b.len(), 3);
        assert!(b.describe(0).starts_with("delete rule handle 5"));
        assert!(b.describe(1).starts_with("insert rule to chain FORWARD"));
    }
}
