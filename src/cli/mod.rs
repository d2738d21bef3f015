//! Front end: parse, call the engine, print. No kernel or SQL here.

// First: its `outln!` macro is used by the modules below.
#[macro_use]
mod output;
mod access;
mod args;
mod cluster_cmd;
mod commands;
mod demo;
pub mod exit;
mod graph;
mod service_cluster;
mod service_cmd;
mod service_view;
mod ui;
mod view;

pub use args::{Cli, Command, Format};
use clap::error::ErrorKind;
use clap::Parser;

/// Run podnet with the process's arguments; returns the exit code (see [`exit`]).
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    exit::set_root(cli.root.clone());
    // `run` and `exec` return their command's status, so their own failures keep clear of it.
    let is_run = matches!(cli.command, Command::Run(_) | Command::Exec { .. });
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = exit::code(&e, is_run);
            exit::report(e);
            code
        }
    }
}

/// Help and version go to stdout with exit 0; any other parse error becomes the same one-line
/// `podnet: ...` error as every other bad input, exit 2.
fn usage_error(e: clap::Error) -> i32 {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            2
        } else {
            0
        };
    }
    let text = e.render().to_string();
    // The message proper is the first paragraph; clap wraps lists onto indented lines.
    let para: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = para.join(" ");
    let msg = joined.strip_prefix("error: ").unwrap_or(&joined);
    exit::note(format!("{msg} (see --help)"));
    2
}
