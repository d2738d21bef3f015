//! `podnet ui`: a local web page with the live graph and a trace form (issue 12).
//!
//! - `http.rs`: a small HTTP/1.1 server on std (one thread per connection, `Connection:
//!   close`), loopback only, a Host check against DNS rebinding and JSON-only POSTs.
//! - `live.rs`: the one thread that owns the state: it watches a cheap fingerprint (the
//!   store's files, the host's links) every 200 ms, redraws when it changes (and every 5 s,
//!   for changes inside namespaces), and wakes the pages waiting on `/events`.
//! - `page.rs`: the page, self-contained (inline CSS and JS, the first picture inline).
//! - `trace.rs`: the seam to `podnet trace`'s engine: the form's request → its report.

mod http;
mod live;
mod page;
mod trace;

use crate::engine::Ctx;
use crate::model::{Error, Result};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

pub fn run(ctx: Ctx, root: &Path, run_dir: &Path, listen: &str) -> Result<i32> {
    let addr = loopback(listen)?;
    let listener =
        TcpListener::bind(addr).map_err(|e| Error::failed(format!("listen on {addr}: {e}")))?;
    let shared = Arc::new(live::Shared::default());
    let server = http::Server {
        shared: shared.clone(),
        port: listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(addr.port()),
        root: root.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
    };
    live::first(ctx, &shared, root).and_then(|watch| {
        eprintln!(
            "podnet ui: http://{}/",
            listener.local_addr().unwrap_or(addr)
        );
        std::thread::spawn(move || server.serve(listener));
        watch.run()
    })?;
    Ok(0)
}

/// `--listen`: an address and port on the loopback only (the page can start traces).
pub(crate) fn loopback(listen: &str) -> Result<SocketAddr> {
    let addr: SocketAddr = listen.parse().map_err(|_| {
        Error::field(
            "listen",
            format!("--listen {listen}: give a loopback address and port, e.g. 127.0.0.1:7070"),
        )
    })?;
    if !addr.ip().is_loopback() {
        return Err(Error::field(
            "listen",
            format!(
                "--listen {listen}: podnet ui serves the loopback only (127.0.0.1 or [::1]): the page can start traces and shows the host's network"
            ),
        ));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_addresses_are_taken() {
        for ok in ["127.0.0.1:7070", "127.0.0.5:1", "[::1]:8080"] {
            assert!(super::loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0.0.0.0:7070",
            "10.0.0.1:80",
            "[::]:80",
            "localhost:80",
            "127.0.0.1",
            "",
        ] {
            let e = super::loopback(bad).expect_err(bad);
            assert!(e.is_bad_input(), "{bad}: {e}");
        }
    }
}
