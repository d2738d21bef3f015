//! For the tests of podnet next to Docker's iptables rules (`forward_drop`, `nft_coexist`,
//! which includes this file with `#[path]`: it needs no sandbox helpers).

use std::process::Command;

/// These tests need iptables on its nf_tables backend (Docker's rules live there); a machine
/// without it fails them rather than letting them pass untested (scripts/test.sh installs it).
pub fn require_iptables_nft() {
    let out = Command::new("iptables").arg("--version").output();
    let version = out
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        version.contains("nf_tables"),
        "needs iptables with the nf_tables backend (Debian package iptables, as scripts/test.sh installs; \
         `update-alternatives --set iptables /usr/sbin/iptables-nft`), found: {version:?} {:?}",
        out.err()
    );
}
