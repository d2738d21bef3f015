//! nftables over netlink: podnet's ruleset as data, rendered by pure
//! functions and sent as one atomic NETLINK_NETFILTER batch per operation.
//!
//! - [`types`]: families, hooks, datatypes, element values and their byte layout.
//! - [`model`]: `Ruleset` / `TableDef` / `Table` / `Chain` / `Set` / `Element` / `Rule`.
//! - [`stmt`]: nft-level statements and the pure renderer to kernel expressions.
//! - [`expr`]: kernel expressions, their netlink attributes and nft-debug text.
//! - [`batch`]: `Batch`, the list of changes encoded as one transaction.
//! - [`socket`]: `NftSocket`, which sends a batch and collects every ack.
//! - [`query`]: reads outside a batch (generation, one chain, a chain's rules).
//! - [`tables`]: which tables exist and their userdata (podnet's ownership stamp).
//! - [`udata`]: libnftnl's userdata TLVs (table and rule comments).
//! - [`subscribe`]: a socket in one multicast group (for [`watch`] and [`trace`]).
//! - [`trace`]: packet tracing (`meta nftrace`, trace events), for `podnet trace`.
//! - [`coexist`]: podnet's accept rules in a foreign `FORWARD` chain with policy drop.
//!
//! Uses `netlink-packet-netfilter` for message framing and typed
//! table/chain/set/element/rule attributes; expressions are built here.
//!
//! A published-port NAT table with a concatenated map, then a change of
//! elements, each as one transaction (the caller is already in the target
//! network namespace):
//!
//! ```no_run
//! use podnet::kernel::nft::*;
//! use DataType::{InetProto, InetService, Ipv4Addr};
//!
//! let t = Table::new(Family::Ip, "podnet-nat");
//! // map ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
//! let ports = Set::map("ports", vec![Ipv4Addr, InetProto, InetService], vec![Ipv4Addr, InetService]);
//! let mut nat = TableDef::new(t.clone());
//! nat.sets.push(ports.clone());
//! nat.chains.push(Chain::base("prerouting", ChainType::Nat, Hook::Prerouting, -100));
//! // dnat ip to ip daddr . meta l4proto . th dport map @ports
//! nat.rules.push(Rule::new("prerouting", vec![Stmt::NatMap {
//!     kind: NatKind::Dnat,
//!     key: vec![Sel::IpDaddr, Sel::L4Proto, Sel::ThDport],
//!     map: "ports".into(),
//!     with_port: true,
//! }]));
//! let key = |port| vec![Value::Ipv4("192.0.2.1".parse().unwrap()), Value::Proto(TCP), Value::Port(port)];
//! let to = |port| vec![Value::Ipv4("10.90.0.2".parse().unwrap()), Value::Port(port)];
//!
//! let mut sock = NftSocket::open()?;
//! let mut batch = Ruleset { tables: vec![nat] }.replace_batch();
//! batch.add_elements(&t, &ports, &[Element::new(key(8080)).to_value(to(80))]);
//! sock.apply(&batch)?; // table, chain, map, rule and element: all or nothing
//!
//! let mut change = Batch::new();
//! change.delete_elements(&t, &ports, &[Element::new(key(8080))]);
//! change.add_elements(&t, &ports, &[Element::new(key(8443)).to_value(to(443))]);
//! sock.apply(&change)?;
//! # Ok::<(), NftError>(())
//! ```

pub mod batch;
pub mod coexist;
pub mod elements;
pub mod expr;
mod fmt;
pub mod model;
pub mod query;
pub mod sel;
pub mod socket;
pub mod stmt;
pub mod subscribe;
pub mod tables;
pub mod trace;
pub mod types;
pub mod udata;
pub mod watch;
mod wire;

pub use batch::Batch;
pub use coexist::{sync_forward_accepts, Bridge as CoexistBridge};
pub use expr::{CmpOp, DynsetOp, Expr, NatKind};
pub use model::{
    BaseChain, Chain, ElemData, Element, Rule, Ruleset, Set, SetData, Table, TableDef,
};
pub use query::{ChainInfo, RuleInfo};
pub use socket::{MsgError, NftError, NftSocket};
pub use stmt::{
    ct_state, ct_status, icmp6, render, render_debug, render_debug_in, render_in, Reject, Sel,
    Stmt, ARP_ETHERNET_IPV4, IPPROTO_ICMPV6, RTN_LOCAL,
};
pub use types::{ChainType, DataType, Family, Hook, Policy, Value, Verdict, TCP, UDP};
