//! Front end: parse, call the engine, print. No kernel or SQL here.

mod args;
mod commands;
mod demo;
mod output;

pub use args::{Cli, Command, Format};
use clap::Parser;

/// Run podnet with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
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
