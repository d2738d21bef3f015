//! Which tables exist and what their userdata says (`NFT_MSG_GETTABLE`, one dump of every
//! family). Tables only: no chain, set or rule is read, so this stays cheap however large the
//! ruleset is. podnet stamps its own tables with the identity of the store that made them
//! (the comment `nft list table` shows); this is how it finds them again.

use netlink_packet_core::NLM_F_DUMP;

use super::query::{attrs, exchange, find, nftables_type, string, Answer};
use super::socket::{NftError, NftSocket};
use super::types::Family;
use super::udata;

const NFT_MSG_NEWTABLE: u8 = 0;
const NFT_MSG_GETTABLE: u8 = 1;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_USERDATA: u16 = 6;
/// `NFPROTO_UNSPEC`: a dump of every family.
const ALL_FAMILIES: u8 = 0;
const DUMP_RETRIES: usize = 10;

/// A table as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// `nfgenmsg` family of the table (`NFPROTO_*`).
    pub nfproto: u8,
    pub name: String,
    /// `NFTA_TABLE_USERDATA`, raw.
    pub userdata: Option<Vec<u8>>,
}

impl TableInfo {
    /// The table's comment (`nft add table ... { comment "X"; }`).
    pub fn comment(&self) -> Option<String> {
        udata::comment_of(self.userdata.as_deref()?)
    }

    pub fn is(&self, family: Family, name: &str) -> bool {
        self.nfproto == family.nfproto() && self.name == name
    }
}

/// A `NEWTABLE` message body (after the netlink header). Pure.
pub fn parse_table(body: &[u8]) -> Option<TableInfo> {
    let nfproto = *body.first()?;
    let a = attrs(body.get(4..)?);
    Some(TableInfo {
        nfproto,
        name: string(&find(&a, NFTA_TABLE_NAME)?),
        userdata: find(&a, NFTA_TABLE_USERDATA),
    })
}

fn tables_of(answers: &[Answer]) -> Vec<TableInfo> {
    answers
        .iter()
        .filter(|m| nftables_type(m.ty, NFT_MSG_NEWTABLE))
        .filter_map(|m| parse_table(&m.body))
        .collect()
}

/// Every table of the namespace, of every family.
pub fn list(sock: &mut NftSocket) -> Result<Vec<TableInfo>, NftError> {
    for _ in 0..DUMP_RETRIES {
        let (answers, interrupted) = exchange(
            sock,
            "list tables",
            NFT_MSG_GETTABLE,
            ALL_FAMILIES,
            NLM_F_DUMP,
            &[],
        )?;
        if !interrupted {
            return Ok(tables_of(&answers));
        }
    }
    Err(NftError::Query {
        what: "list tables".into(),
        source: std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the ruleset kept changing during the dump",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::nft::expr::nla_str;
    use crate::kernel::nft::query::split_messages;
    use netlink_packet_core::{DefaultNla, Emitable};

    fn message(nfproto: u8, name: &str, ud: Option<&[u8]>) -> Vec<u8> {
        let mut a = vec![nla_str(NFTA_TABLE_NAME, name)];
        if let Some(u) = ud {
            a.push(DefaultNla::new(NFTA_TABLE_USERDATA, u.to_vec()));
        }
        let mut body = vec![nfproto, 0, 0, 0];
        let start = body.len();
        body.resize(start + a.as_slice().buffer_len(), 0);
        a.as_slice().emit(&mut body[start..]);
        let len = 16 + body.len();
        let mut m = (len as u32).to_ne_bytes().to_vec();
        m.extend_from_slice(&((10u16 << 8) | u16::from(NFT_MSG_NEWTABLE)).to_ne_bytes());
        m.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn parses_tables_with_and_without_a_comment() {
        let mut buf = message(2, "podnet", Some(&udata::comment("podnet:ab /x")));
        buf.extend(message(7, "other", None));
        let t = tables_of(&split_messages(&buf));
        assert_eq!(t.len(), 2);
        assert!(t[0].is(Family::Ip, "podnet"));
        assert_eq!(t[0].comment().as_deref(), Some("podnet:ab /x"));
        assert!(t[1].is(Family::Bridge, "other"));
        assert_eq!(t[1].comment(), None);
        for n in 0..buf.len() {
            let _ = tables_of(&split_messages(&buf[..n]));
        }
    }
}
