//! Which front end a process is: the same binary is the CLI, the CNI plugin and the netavark
//! plugin (see docs/decisions/2026-12-01-cni-netavark-front-ends.md).
//!
//! - CNI: CNI_COMMAND is in the environment and there are no arguments. Runtimes exec a
//!   plugin with no arguments; the file name cannot tell, since a conflist's `type: "podnet"`
//!   runs a file named `podnet`. Arguments mean a person (or script) with a stray CNI_COMMAND
//!   who wants the CLI.
//! - netavark: the first argument is `info`, `create`, `setup` or `teardown`, the plugin
//!   API's subcommands. The file name cannot tell either (`driver: "podnet"` runs
//!   `<plugin dir>/podnet`); the CLI has no top-level command of those names (a test keeps it
//!   so: `network create` is nested).
//! - anything else is the CLI.

use std::ffi::OsString;

/// The netavark plugin API's subcommands; the CLI must not use them at the top level.
pub const NETAVARK_SUBCOMMANDS: [&str; 4] = ["info", "create", "setup", "teardown"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEnd {
    Cli,
    Cni,
    Netavark,
}

/// Choose from the arguments (program name first) and whether CNI_COMMAND is set.
pub fn choose(args: &[OsString], cni_command_set: bool) -> FrontEnd {
    if args.len() <= 1 && cni_command_set {
        return FrontEnd::Cni;
    }
    match args.get(1).and_then(|a| a.to_str()) {
        Some(a) if NETAVARK_SUBCOMMANDS.contains(&a) => FrontEnd::Netavark,
        _ => FrontEnd::Cli,
    }
}

/// The binary's main: run the chosen front end, return the exit code.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().collect();
    match choose(&args, std::env::var_os("CNI_COMMAND").is_some()) {
        FrontEnd::Cli => crate::cli::main(),
        FrontEnd::Cni => crate::cni::main(),
        FrontEnd::Netavark => {
            // The subcommand is ASCII (checked by `choose`); a non-UTF-8 path argument is
            // passed on lossily and then refused as no namespace.
            let rest: Vec<String> = args[1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            crate::netavark::main(&rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn front_end_per_arguments_and_environment() {
        let table: [(&[&str], bool, FrontEnd); 12] = [
            (&["podnet"], true, FrontEnd::Cni),
            (&["/opt/cni/bin/podnet"], true, FrontEnd::Cni),
            (&["/opt/cni/bin/my-net"], true, FrontEnd::Cni),
            (&["podnet"], false, FrontEnd::Cli),
            (&["podnet", "ps"], true, FrontEnd::Cli),
            (
                &["podnet", "network", "create", "lab"],
                false,
                FrontEnd::Cli,
            ),
            (
                &["/usr/libexec/netavark/podnet", "info"],
                false,
                FrontEnd::Netavark,
            ),
            (&["podnet", "create"], false, FrontEnd::Netavark),
            (
                &["podnet", "setup", "/run/netns/x"],
                false,
                FrontEnd::Netavark,
            ),
            (
                &["podnet", "teardown", "/run/netns/x"],
                true,
                FrontEnd::Netavark,
            ),
            (&["podnet", "--root", "/x", "ps"], false, FrontEnd::Cli),
            (&["podnet", "Setup"], false, FrontEnd::Cli),
        ];
        for (a, cni, want) in table {
            assert_eq!(choose(&args(a), cni), want, "{a:?} cni={cni}");
        }
    }

    #[test]
    fn the_cli_has_no_top_level_command_named_like_a_netavark_subcommand() {
        let cli = crate::cli::Cli::command();
        let names: Vec<String> = cli
            .get_subcommands()
            .flat_map(|c| {
                std::iter::once(c.get_name().to_owned())
                    .chain(c.get_all_aliases().map(str::to_owned))
            })
            .collect();
        assert!(names.contains(&"network".to_owned()), "{names:?}");
        for s in NETAVARK_SUBCOMMANDS {
            assert!(
                !names.contains(&s.to_owned()),
                "the CLI took {s:?}: {names:?}"
            );
        }
    }
}
