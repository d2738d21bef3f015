//! Front end: parse, call the engine, print. No kernel or SQL here.

mod args;
mod commands;
mod demo;
mod output;
mod service_cmd;

pub use args::{Cli, Command, Format};
use clap::error::ErrorKind;
use clap::Parser;

/// Run podnet with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let is_run = matches!(cli.command, Command::Run(_));
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("podnet: {e}");
            // `run` reserves small codes for the command itself, so its own failures use 125
            // (as Docker does); bad input stays 2 everywhere.
            match e {
                crate::model::Error::Failed(_) if is_run => 125,
                e => e.exit_code(),
            }
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
    eprintln!("podnet: {msg} (see --help)");
    2
}
