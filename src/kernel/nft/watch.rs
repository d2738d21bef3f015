//! Following nftables changes: a NETLINK_NETFILTER socket in the NFNLGRP_NFTABLES multicast
//! group, read one transaction at a time. The kernel sends one notification per object a
//! transaction changed, then NFT_MSG_NEWGEN; each carries the port id of the netlink socket
//! that committed it (so a process can tell its own changes from anyone else's).

use std::io;

use super::query;
use super::subscribe::{subscribe, Options, Subscription};

/// Group of nf_tables notifications (`NFNLGRP_NFTABLES`).
const NFNLGRP_NFTABLES: libc::c_int = 7;
/// nfnetlink subsystem of nf_tables (`NFNL_SUBSYS_NFTABLES`), the high byte of a type.
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
#[cfg(test)]
const NFT_MSG_DELCHAIN: u16 = 5;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_DELRULE: u16 = 8;
#[cfg(test)]
const NFT_MSG_DELSET: u16 = 11;
const NFT_MSG_NEWGEN: u16 = 15;
/// The table name: attribute 1 of tables, chains, rules and sets alike (NFTA_TABLE_NAME,
/// NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE).
const NFTA_TABLE_NAME: u16 = 1;
/// NEWGEN's attributes: who committed the transaction (pid and command name, kernel ≥ 5.4).
const NFTA_GEN_PROC_PID: u16 = 2;
const NFTA_GEN_PROC_NAME: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;

/// One transaction, as far as a watcher cares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    /// Port id of the socket that committed it.
    pub portid: u32,
    /// It deleted a table or a rule of a table whose name starts with the prefix asked for
    /// (`nft flush ruleset` deletes every table; `nft flush table` every rule).
    pub deleted_watched: bool,
    /// It also made tables or rules there: a whole re-render (what every podnet process's
    /// full render is), not a flush or a reload that only takes podnet's part away.
    pub rebuilt_watched: bool,
    /// The committing process as the kernel names it (pid, command), when it does.
    pub by: Option<(u32, String)>,
}

impl Change {
    /// Whether this transaction took part of the watched tables away and left it so:
    /// deleted there and made nothing there, by a socket other than `own`.
    pub fn took_away(&self, own: u32) -> bool {
        self.deleted_watched && !self.rebuilt_watched && self.portid != own
    }

    /// "'nft' (pid 42)", or "another process" when the kernel did not say.
    pub fn who(&self) -> String {
        match &self.by {
            Some((pid, name)) => format!("'{name}' (pid {pid})"),
            None => "another process".into(),
        }
    }
}

/// What a read brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Whole transactions.
    Changes(Vec<Change>),
    /// The socket's buffer overflowed: notifications were lost (anything may have happened).
    Lost,
}

/// A subscription to nftables notifications in the calling thread's network namespace.
pub struct Watch {
    sub: Subscription,
    prefix: String,
    /// The transaction being read (its notifications came, its NEWGEN not yet).
    open: Change,
    buf: Vec<u8>,
}

impl Watch {
    /// Subscribe; `prefix`: deletions in tables whose name starts with it are flagged. A
    /// 4 MiB receive buffer, so a full render's burst of notifications is not lost.
    pub fn open(prefix: &str) -> io::Result<Watch> {
        let o = Options {
            nonblocking: false,
            rcvbuf: Some(4 << 20),
        };
        Ok(Watch {
            sub: subscribe(NFNLGRP_NFTABLES, o)?,
            prefix: prefix.to_string(),
            open: Change::default(),
            buf: vec![0; 1 << 16],
        })
    }

    /// Block until notifications come; the transactions they completed.
    pub fn read(&mut self) -> io::Result<Seen> {
        loop {
            let n = match self.sub.recv(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.open = Change::default();
                    return Ok(Seen::Lost);
                }
                Err(e) => return Err(e),
            };
            let done = parse(&self.buf[..n], &self.prefix, &mut self.open);
            if !done.is_empty() {
                return Ok(Seen::Changes(done));
            }
        }
    }
}

/// The transactions `buf` (one datagram of notifications) completes; `open` carries the
/// one still being read across datagrams.
pub fn parse(mut buf: &[u8], prefix: &str, open: &mut Change) -> Vec<Change> {
    let mut done = Vec::new();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            break;
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        let portid = u32::from_ne_bytes(buf[12..16].try_into().expect("4 bytes"));
        let body = &buf[NLMSG_HDRLEN..len];
        if kind >> 8 == NFNL_SUBSYS_NFTABLES {
            open.portid = portid;
            let watched = || table_name(body).is_some_and(|t| t.starts_with(prefix));
            match kind & 0xff {
                NFT_MSG_NEWGEN => {
                    open.by = committer(body);
                    done.push(std::mem::take(open))
                }
                NFT_MSG_NEWTABLE | NFT_MSG_NEWRULE if watched() => open.rebuilt_watched = true,
                // Chains and sets come and go with podnet's own service changes (bucket
                // chains); a flush or a reload deletes tables or rules.
                NFT_MSG_DELTABLE | NFT_MSG_DELRULE if watched() => open.deleted_watched = true,
                _ => {}
            }
        }
        let step = (len + 3) & !3;
        buf = &buf[step.min(buf.len())..];
    }
    done
}

/// The table an nf_tables notification's body names (attribute 1 after the nfgenmsg).
fn table_name(body: &[u8]) -> Option<&str> {
    let v = query::attr(body.get(NFGENMSG_LEN..)?, NFTA_TABLE_NAME)?;
    std::str::from_utf8(query::until_nul(v)).ok()
}

/// The pid and command name a NEWGEN carries.
fn committer(body: &[u8]) -> Option<(u32, String)> {
    let attrs = body.get(NFGENMSG_LEN..)?;
    let pid = query::attr(attrs, NFTA_GEN_PROC_PID)?;
    let pid = u32::from_be_bytes(pid.get(..4)?.try_into().ok()?);
    let name = query::attr(attrs, NFTA_GEN_PROC_NAME)?;
    let name = String::from_utf8_lossy(query::until_nul(name)).into_owned();
    Some((pid, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u16, portid: u32, table: Option<&str>) -> Vec<u8> {
        let mut body = vec![2u8, 0, 0, 0];
        if let Some(t) = table {
            let mut v = t.as_bytes().to_vec();
            v.push(0);
            body.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
            body.extend_from_slice(&NFTA_TABLE_NAME.to_ne_bytes());
            body.extend_from_slice(&v);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | kind).to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&portid.to_ne_bytes());
        m.extend_from_slice(&body);
        m
    }

    fn ch(portid: u32, deleted_watched: bool, rebuilt_watched: bool) -> Change {
        Change {
            portid,
            deleted_watched,
            rebuilt_watched,
            by: None,
        }
    }

    #[test]
    fn deletions_of_watched_tables_per_transaction() {
        let table: [(Vec<Vec<u8>>, Vec<Change>); 6] = [
            // A full render (podnet's own, from any podnet process): deleted and made again.
            (
                vec![
                    msg(NFT_MSG_DELTABLE, 7, Some("podnet")),
                    msg(NFT_MSG_NEWTABLE, 7, Some("podnet")),
                    msg(NFT_MSG_NEWRULE, 7, Some("podnet")),
                    msg(NFT_MSG_NEWGEN, 7, None),
                ],
                vec![ch(7, true, true)],
            ),
            // `nft flush ruleset` by someone: podnet's table goes.
            (
                vec![
                    msg(NFT_MSG_DELTABLE, 9, Some("filter")),
                    msg(NFT_MSG_DELTABLE, 9, Some("podnet")),
                    msg(NFT_MSG_NEWGEN, 9, None),
                ],
                vec![ch(9, true, false)],
            ),
            // Someone else's table only.
            (
                vec![
                    msg(NFT_MSG_DELRULE, 4, Some("filter")),
                    msg(NFT_MSG_NEWGEN, 4, None),
                ],
                vec![ch(4, false, false)],
            ),
            // Elements (a port published) are not deletions of structure.
            (
                vec![
                    msg(14, 5, Some("podnet")),
                    msg(12, 5, Some("podnet")),
                    msg(NFT_MSG_NEWGEN, 5, None),
                ],
                vec![ch(5, false, false)],
            ),
            // Two transactions in one datagram: a rule of podnet-svc; a bucket chain and a
            // set (podnet's own service changes make and drop those).
            (
                vec![
                    msg(NFT_MSG_DELRULE, 1, Some("podnet-svc")),
                    msg(NFT_MSG_NEWGEN, 1, None),
                    msg(NFT_MSG_DELCHAIN, 2, Some("podnet-svc")),
                    msg(NFT_MSG_DELSET, 2, Some("podnet-svc")),
                    msg(NFT_MSG_NEWGEN, 2, None),
                ],
                vec![ch(1, true, false), ch(2, false, false)],
            ),
            // Not finished in this datagram: nothing yet.
            (vec![msg(NFT_MSG_DELTABLE, 3, Some("podnet"))], vec![]),
        ];
        for (msgs, want) in table {
            let buf: Vec<u8> = msgs.concat();
            let mut open = Change::default();
            assert_eq!(parse(&buf, "podnet", &mut open), want);
        }
        // A transaction carried over to the next datagram.
        let mut open = Change::default();
        assert!(parse(
            &msg(NFT_MSG_DELRULE, 3, Some("podnet")),
            "podnet",
            &mut open
        )
        .is_empty());
        let done = parse(&msg(NFT_MSG_NEWGEN, 3, None), "podnet", &mut open);
        assert_eq!(done, vec![ch(3, true, false)]);
    }

    #[test]
    fn what_took_away_and_who() {
        // Flushed by someone else; one's own socket; a re-render; elements only.
        assert!(ch(9, true, false).took_away(1));
        assert!(!ch(1, true, false).took_away(1));
        assert!(!ch(9, true, true).took_away(1));
        assert!(!ch(9, false, false).took_away(1));
        // NEWGEN's pid (big-endian) and name.
        let mut body = vec![2u8, 0, 0, 0];
        for (kind, v) in [
            (NFTA_GEN_PROC_PID, 4242u32.to_be_bytes().to_vec()),
            (NFTA_GEN_PROC_NAME, b"nft\0".to_vec()),
        ] {
            body.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
            body.extend_from_slice(&kind.to_ne_bytes());
            body.extend_from_slice(&v);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        assert_eq!(committer(&body), Some((4242, "nft".to_string())));
        assert_eq!(ch(9, true, false).who(), "another process");
        let c = Change {
            by: committer(&body),
            ..ch(9, true, false)
        };
        assert_eq!(c.who(), "'nft' (pid 4242)");
    }

    #[test]
    fn truncated_input_is_ignored() {
        let m = msg(NFT_MSG_DELTABLE, 9, Some("podnet"));
        let mut open = Change::default();
        for cut in 0..m.len() {
            let _ = parse(&m[..cut], "podnet", &mut open);
        }
        assert_eq!(table_name(&[0, 0, 0, 0, 200, 0, 1, 0]), None);
    }
}
