//! `podnet graph`: the engine's typed graph (`engine::graph`) drawn as text (a tree), dot
//! (Graphviz), svg (laid out and drawn here, no external tool or asset) or json (the types
//! serialised as they are: `docs/graph-json.md`).

mod dot;
pub mod svg;
mod text;

use super::args::{Command, Format};
use crate::engine::graph::{self, Graph};
use crate::engine::Ctx;
use crate::model::{Error, Result};

pub fn run(ctx: &mut Ctx, format: Format, network: Option<&str>) -> Result<()> {
    let g = graph::graph(ctx, network)?;
    outln!("{}", render(&g, format)?.trim_end());
    Ok(())
}

pub fn render(g: &Graph, format: Format) -> Result<String> {
    Ok(match format {
        Format::Table | Format::Text => text::render(g),
        Format::Json => json(g)?,
        Format::Dot => dot::render(g),
        Format::Svg => svg::render(g),
    })
}

pub fn json(g: &Graph) -> Result<String> {
    serde_json::to_string_pretty(g).map_err(|e| Error::failed(format!("graph as JSON: {e}")))
}

/// `text`, `dot` and `svg` are pictures of the graph: any other command refuses them.
pub fn check_format(cmd: &Command, format: Format) -> Result<()> {
    let picture = matches!(format, Format::Text | Format::Dot | Format::Svg);
    if picture && !matches!(cmd, Command::Graph { .. }) {
        return Err(Error::field(
            "format",
            "--format text, dot and svg are for `podnet graph`; this command takes table or json",
        ));
    }
    Ok(())
}

/// The characters XML (SVG, HTML) and dot labels cannot take as they are.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
