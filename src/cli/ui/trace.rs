//! The seam between the page's trace form and `podnet trace`'s engine: one function, which
//! does what `podnet trace FROM TO --format json` does for one probe.

use crate::engine::{trace, Access};
use crate::model::Result;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// What the form sends (`POST /trace`, JSON).
#[derive(Debug, Deserialize)]
pub struct Form {
    /// A container, service, `host`, or an address.
    pub from: String,
    /// `TO:PORT[/tcp|udp]` as the CLI takes it.
    pub to: String,
}

/// Runs the trace the form asks for; its JSON report (what `podnet trace --format json`
/// prints), with its text form as `text` for the page.
pub fn run(root: &Path, run_dir: &Path, form: &Form) -> Result<serde_json::Value> {
    let (to, port, proto) = trace::parse_target(&form.to)?;
    // The CLI's defaults: an outside sender needs time to send.
    let secs = match form.from.parse::<std::net::IpAddr>() {
        Ok(_) => 10.0,
        Err(_) => 0.9,
    };
    let req = trace::TraceRequest {
        from: form.from.clone(),
        to,
        port,
        proto,
        ipv6: false,
        timeout: Duration::from_secs_f64(secs),
    };
    let (mut ctx, _) = crate::engine::open(root, run_dir, Access::Change)?;
    let report = trace::run(&mut ctx, &req, &mut |_| {})?;
    let mut v = serde_json::to_value(&report)
        .map_err(|e| crate::model::Error::failed(format!("trace: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("text".into(), report.text().into());
    }
    Ok(v)
}
