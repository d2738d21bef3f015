//! Table stamps: podnet marks its tables with its store's identity in the table's userdata
//! (`NFTA_TABLE_USERDATA`, libnftnl's comment TLV), reads them back with one table dump, and
//! creates a table exclusively when it saw none. Golden bytes come from `nft --debug=mnl`;
//! kernel state is checked with `nft list table` (nft's own view).

use podnet::kernel::nft::query::{attrs, split_messages};
use podnet::kernel::nft::tables::{self, TableInfo};
use podnet::kernel::nft::*;
use podnet::testbed::thread_netns::{in_netns, run};

/// NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWTABLE (0).
const NFT_MSG_NEWTABLE: u16 = 10 << 8;
const NFTA_TABLE_USERDATA: u16 = 6;

fn stamped(comment: &str, exclusive: bool) -> Batch {
    let mut t = TableDef::new(Table::new(Family::Ip, "stamped"));
    t.chains.push(Chain::regular("c"));
    let mut b = Ruleset { tables: vec![t] }.replace_batch();
    b.stamp_tables(&udata::comment(comment), exclusive);
    b
}

/// The NEWTABLE messages of an encoded batch: (netlink flags, userdata).
fn new_tables(b: &Batch) -> Vec<(u16, Option<Vec<u8>>)> {
    split_messages(&b.encode(1))
        .into_iter()
        .filter(|m| m.ty == NFT_MSG_NEWTABLE)
        .map(|m| {
            let ud = attrs(&m.body[4..])
                .into_iter()
                .find(|(k, _)| *k == NFTA_TABLE_USERDATA)
                .map(|(_, v)| v.to_vec());
            (m.flags, ud)
        })
        .collect()
}

#[test]
fn stamp_is_nfts_table_comment_on_every_add() {
    // `nft --debug=mnl add table ip u { comment "hi"; }` sends userdata 00 03 68 69 00.
    let msgs = new_tables(&stamped("hi", false));
    assert_eq!(msgs.len(), 2, "a replace batch adds the table twice");
    for (_, ud) in &msgs {
        assert_eq!(ud.as_deref(), Some(&[0u8, 3, b'h', b'i', 0][..]));
    }
    const NLM_F_EXCL: u16 = 0x200;
    assert!(msgs.iter().all(|(f, _)| f & NLM_F_EXCL == 0));
    let excl = new_tables(&stamped("hi", true));
    assert_ne!(excl[0].0 & NLM_F_EXCL, 0, "the first add is exclusive");
    assert_eq!(
        excl[1].0 & NLM_F_EXCL,
        0,
        "the re-create after the delete is not"
    );
}

#[test]
fn kernel_keeps_the_stamp_and_exclusive_create_refuses_an_existing_table() {
    let (listing, found, second, after) = in_netns(|| {
        let mut sock = NftSocket::open().expect("open");
        sock.apply(&stamped("podnet:aaaa /var/lib/a", true))
            .expect("create");
        let listing = run("nft", &["list", "table", "ip", "stamped"]);
        let found: Vec<TableInfo> = tables::list(&mut sock).expect("list");
        // Another creator that saw no table: refused whole, the table stays as it was.
        let second = sock.apply(&stamped("podnet:bbbb /var/lib/b", true));
        let after = run("nft", &["list", "table", "ip", "stamped"]);
        (listing, found, second, after)
    });
    assert!(
        listing.contains("comment \"podnet:aaaa /var/lib/a\""),
        "nft list shows the stamp as the table's comment:\n{listing}"
    );
    let t: Vec<&TableInfo> = found
        .iter()
        .filter(|t| t.is(Family::Ip, "stamped"))
        .collect();
    assert_eq!(t.len(), 1, "{found:?}");
    assert_eq!(t[0].comment().as_deref(), Some("podnet:aaaa /var/lib/a"));
    match second {
        Err(NftError::Rejected(e)) => assert!(
            e.iter().any(|m| m.errno == libc::EEXIST),
            "refused with EEXIST: {e:?}"
        ),
        other => panic!("an exclusive create of an existing table must fail: {other:?}"),
    }
    assert_eq!(after, listing, "the refused batch changed nothing");
}

#[test]
fn replacing_a_table_re_stamps_it_and_unstamped_tables_read_as_unmarked() {
    let (listing, found) = in_netns(|| {
        run("nft", &["add", "table", "bridge", "plain"]);
        let mut sock = NftSocket::open().expect("open");
        sock.apply(&stamped("podnet:old", true)).expect("create");
        sock.apply(&stamped("podnet:new", false)).expect("replace");
        let listing = run("nft", &["list", "table", "ip", "stamped"]);
        (listing, tables::list(&mut sock).expect("list"))
    });
    assert!(listing.contains("comment \"podnet:new\""), "{listing}");
    let plain = found
        .iter()
        .find(|t| t.is(Family::Bridge, "plain"))
        .expect("table bridge plain listed");
    assert_eq!(plain.comment(), None);
}
