//! The undecoded dump parsers (`Rtnl::dump_raw`'s callers) against the crate's decoding:
//! a message the crate builds must read the same both ways. Their kernel side is covered
//! by every test that lists links, addresses or routes in a sandbox (tests/graph.rs).

use netlink_packet_core::Emitable;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage,
};
use netlink_packet_route::AddressFamily;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn bytes(m: &impl Emitable) -> Vec<u8> {
    let mut b = vec![0; m.buffer_len()];
    m.emit(&mut b);
    b
}

#[test]
fn a_link_reads_as_the_crate_decodes_it() {
    let cases = [
        // A host veth end on a bridge, marked, up; attributes it does not read around it.
        vec![
            LinkAttribute::Mtu(1500),
            LinkAttribute::IfName("pnv12".into()),
            LinkAttribute::Controller(3),
            LinkAttribute::IfAlias("podnet:abc".into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth)]),
            LinkAttribute::TxQueueLen(1000),
        ],
        // Loopback: no kind, no master, an empty alias (none).
        vec![
            LinkAttribute::IfName("lo".into()),
            LinkAttribute::IfAlias(String::new()),
        ],
        vec![
            LinkAttribute::IfName("pn-app".into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ],
    ];
    for (i, attributes) in cases.into_iter().enumerate() {
        let mut m = LinkMessage::default();
        m.header.index = 7 + i as u32;
        if i != 1 {
            m.header.flags = LinkFlags::Up | LinkFlags::Broadcast;
        }
        m.attributes = attributes;
        let raw = super::link::parse_raw(16, &bytes(&m)).expect("a link");
        let decoded = super::link::parse(m);
        assert_eq!(format!("{raw:?}"), format!("{decoded:?}"), "case {i}");
    }
    assert!(
        super::link::parse_raw(17, &[0; 16]).is_none(),
        "not RTM_NEWLINK"
    );
    assert!(super::link::parse_raw(16, &[0; 8]).is_none(), "short");
}

#[test]
fn addresses_read_the_attribute_of_their_family() {
    let mut v4 = AddressMessage::default();
    v4.header.family = AddressFamily::Inet;
    v4.header.prefix_len = 20;
    v4.header.index = 2;
    // On a point-to-point link IFA_ADDRESS is the peer's: IFA_LOCAL is this end's.
    let peer = IpAddr::V4(Ipv4Addr::new(10, 60, 0, 9));
    let local = IpAddr::V4(Ipv4Addr::new(10, 60, 0, 2));
    v4.attributes = vec![
        AddressAttribute::Address(peer),
        AddressAttribute::Local(local),
    ];
    assert_eq!(
        super::addr::parse_raw(20, &bytes(&v4)),
        Some((2, local, 20))
    );
    let mut v6 = AddressMessage::default();
    v6.header.family = AddressFamily::Inet6;
    v6.header.prefix_len = 64;
    v6.header.index = 3;
    let ip6 = IpAddr::V6("fd00:60::2".parse::<Ipv6Addr>().expect("an address"));
    v6.attributes = vec![AddressAttribute::Address(ip6)];
    assert_eq!(super::addr::parse_raw(20, &bytes(&v6)), Some((3, ip6, 64)));
    v6.attributes.clear();
    assert_eq!(super::addr::parse_raw(20, &bytes(&v6)), None, "no address");
}

#[test]
fn routes_of_the_main_table_only() {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.flags = RouteFlags::Onlink;
    m.attributes = vec![
        RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(10, 60, 0, 1))),
        RouteAttribute::Oif(4),
    ];
    let r = super::route::parse_raw(24, &bytes(&m)).expect("a route");
    assert_eq!(r.dst.to_string(), "0.0.0.0/0", "default: no destination");
    assert_eq!(r.gateway, Some(Ipv4Addr::new(10, 60, 0, 1)));
    assert_eq!((r.oif, r.onlink), (Some(4), true));
    m.header.destination_prefix_length = 20;
    m.header.flags = RouteFlags::empty();
    m.attributes = vec![RouteAttribute::Destination(RouteAddress::Inet(
        Ipv4Addr::new(10, 60, 0, 0),
    ))];
    let r = super::route::parse_raw(24, &bytes(&m)).expect("a route");
    assert_eq!(
        (r.dst.to_string(), r.gateway, r.onlink),
        ("10.60.0.0/20".into(), None, false)
    );
    m.header.table = 255;
    assert!(
        super::route::parse_raw(24, &bytes(&m)).is_none(),
        "local table"
    );
}
