//! The seam between the page's trace form and `podnet trace`'s engine: one function. Until
//! the trace engine lands on this branch it says so (the page shows the message).

use crate::model::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// What the form sends (`POST /trace`, JSON).
#[derive(Debug, Deserialize)]
pub struct Form {
    /// A container, service, `host`, or an address.
    pub from: String,
    /// `TO:PORT[/tcp|udp]` as the CLI takes it.
    pub to: String,
}

/// Runs the trace the form asks for; its JSON report (what `podnet trace --format json`
/// prints) for the page.
pub fn run(_root: &Path, _run_dir: &Path, form: &Form) -> Result<serde_json::Value> {
    Err(Error::failed(format!(
        "trace {} -> {}: podnet trace is not part of this build yet",
        form.from, form.to
    )))
}
