//! Printing: aligned tables for people, JSON for scripts.

use super::Format;
use crate::model::{Error, Result};
use serde::Serialize;
use std::io::Write;

/// `println!` for podnet's output. A reader that went away (`podnet ps | head -1`) is not an
/// error: podnet stops quietly with status 0 where `println!` would panic.
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::output::line(format_args!($($t)*))
    };
}

/// Write raw bytes to stdout (a container's log), with the same end as [`outln!`].
pub fn bytes(b: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(b).and_then(|()| out.flush()) {
        gone(e);
    }
}

/// Write one line to stdout; see [`outln!`].
pub fn line(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        gone(e);
    }
}

fn gone(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // Every line is written after the work it reports was done, so stopping here leaves
        // nothing half-made.
        std::process::exit(0);
    }
    super::exit::report(Error::failed(format!("write output: {e}")));
    std::process::exit(super::exit::FAILED);
}

/// Print `value` as JSON, or as a table with `headers` and the rows `table` makes.
pub fn print<T: Serialize>(
    format: Format,
    value: &T,
    headers: &[&str],
    table: impl FnOnce(&T) -> Vec<Vec<String>>,
) -> Result<()> {
    match format {
        Format::Json => {
            let s =
                serde_json::to_string_pretty(value).map_err(|e| Error::failed(e.to_string()))?;
            outln!("{s}");
        }
        // Refused before any command but `graph` runs (`graph::check_format`).
        Format::Table | Format::Text | Format::Dot | Format::Svg => {
            print_table(headers, &table(value))
        }
    }
    Ok(())
}

pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let s: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        outln!("{}", s.join("  ").trim_end());
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// `-` for absent values in tables.
pub fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "-".into())
}
