//! netavark 2.1 (Podman 5's network backend) running driver plugins.

use super::{output_with_stdin, tools};
use crate::testbed::Sandbox;
use std::ffi::OsStr;
use std::process::{Command, Output};

/// netavark's own state dir (`--config`), on the sandbox's private `/run`.
pub const NETAVARK_CONFIG: &str = "/run/netavark";

/// `netavark --config NETAVARK_CONFIG --plugin-directory PLUGIN_DIR ARGS...` inside the
/// sandbox, with `stdin` (the network options JSON podman would send) on its stdin. For a
/// network whose `driver` is NAME, netavark runs `PLUGIN_DIR/NAME` (`create`, `setup NETNS`,
/// `teardown NETNS`, `info`).
pub fn netavark<I, S>(sb: &Sandbox, plugin_dir: &str, args: I, stdin: &str) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    output_with_stdin(netavark_cmd(sb, plugin_dir, args), stdin.as_bytes())
}

/// The command [`netavark`] runs, to adjust first (netavark passes its environment on to
/// the plugins it runs, e.g. podnet's fault switch).
pub fn netavark_cmd<I, S>(sb: &Sandbox, plugin_dir: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let bin = match tools() {
        Ok(t) => t.netavark.clone(),
        Err(e) => panic!("{e}"),
    };
    let mut c = sb.cmd(bin);
    c.args([
        "--config",
        NETAVARK_CONFIG,
        "--plugin-directory",
        plugin_dir,
    ])
    .args(args);
    c
}
