//! nftables over netlink: podnet's ruleset as data, rendered by pure
//! functions and sent as one atomic NETLINK_NETFILTER batch per operation.
//!
//! - [`types`]: families, hooks, datatypes, element values and their byte layout.
//! - [`model`]: `Ruleset` / `TableDef` / `Table` / `Chain` / `Set` / `Element` / `Rule`.
//! - [`stmt`]: nft-level statements and the pure renderer to kernel expressions.
//! - [`expr`]: kernel expressions, their netlink attributes and nft-debug text.
//! - [`batch`]: `Batch`, the list of changes encoded as one transaction.
//! - [`socket`]: `NftSocket`, which sends a batch and collects every ack.
//!
//! Uses `netlink-packet-netfilter` for message framing and typed
//! table/chain/set/element/rule attributes; expressions are built here.

pub mod batch;
pub mod elements;
pub mod expr;
mod fmt;
pub mod model;
pub mod sel;
pub mod socket;
pub mod stmt;
pub mod types;

pub use batch::Batch;
pub use expr::{CmpOp, DynsetOp, Expr, NatKind};
pub use model::{
    BaseChain, Chain, ElemData, Element, Rule, Ruleset, Set, SetData, Table, TableDef,
};
pub use socket::{MsgError, NftError, NftSocket};
pub use stmt::{ct_state, ct_status, render, render_debug, Reject, Sel, Stmt, RTN_LOCAL};
pub use types::{ChainType, DataType, Family, Hook, Policy, Value, Verdict, TCP, UDP};
