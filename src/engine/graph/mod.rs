//! `podnet graph`: the live topology as a typed [`Graph`], drawn from the store and the
//! kernel together (issue 12). The store says which objects exist and why (networks,
//! containers, published ports, services, sharers, host-mode processes, the overlay); the
//! kernel says what they look like now (interfaces, addresses, routes, remote nodes); where
//! the two disagree the graph carries a [`Flag`] (e.g. a veth no record owns).
//!
//! - `model.rs`: the types, which are the JSON (`docs/graph-json.md`), versioned.
//! - `facts.rs`: both sides as plain data; `collect.rs` reads them.
//! - `diff.rs`: store facts vs kernel facts → flags (pure); `build.rs`: facts → graph (pure).
//!
//! Renderers (text, dot, svg) are the front end's (`cli/graph/`).

mod build;
mod collect;
mod diff;
pub mod facts;
#[cfg(test)]
mod fixtures;
pub mod ids;
#[cfg(test)]
mod macvlan_tests;
mod model;

pub use build::{build, only_network};
pub use model::*;

use super::Ctx;
use crate::model::{Error, Result};

/// The graph of everything podnet has, or only of network `network`.
pub fn graph(ctx: &mut Ctx, network: Option<&str>) -> Result<Graph> {
    if let Some(n) = network {
        if ctx.store.network(n)?.is_none() {
            return Err(Error::not_found(
                "network",
                n,
                format!("no network named '{n}': see `podnet network ls`"),
            ));
        }
    }
    let store = collect::store_facts(ctx)?;
    let kernel = collect::kernel_facts(ctx, &store)?;
    let g = build(&store, &kernel);
    Ok(match network {
        Some(n) => only_network(g, n),
        None => g,
    })
}
