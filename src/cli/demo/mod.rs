//! `podnet demo`: a guided tour of container networking, run for real inside a throwaway
//! sandbox so that it is safe on any machine and leaves nothing behind.

mod netfilter;
mod picture;
mod probe;
mod sandbox;
mod tour;

use crate::model::Result;

/// Set by the outer demo process for the one it starts inside the sandbox.
const INNER: &str = "PODNET_DEMO_INNER";

pub fn run() -> Result<i32> {
    if std::env::var_os(INNER).is_some() {
        sandbox::prepare_inside()?;
        tour::run()?;
        return Ok(0);
    }
    sandbox::respawn_inside(INNER)
}
