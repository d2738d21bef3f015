//! `gc`, and the note the first command after a boot prints when it repaired anything.

use crate::cli::exit;
use crate::cli::output::print;
use crate::cli::Format;
use crate::engine::gc;
use crate::engine::Ctx;
use crate::model::Result;

/// `gc [--remove-foreign]`: repair and retire what the store and the kernel disagree on, then
/// mark this run dir recovered.
pub(super) fn run(ctx: &mut Ctx, f: Format, remove_foreign: bool) -> Result<()> {
    let r = if remove_foreign {
        gc::run_removing_foreign(ctx)?
    } else {
        gc::run(ctx, gc::Scope::Full)?
    };
    crate::engine::boot::mark_recovered(ctx)?;
    if !r.foreign.is_empty() {
        exit::note(format!(
            "left alone (another podnet state's, not this one's): {}",
            r.foreign.join(", ")
        ));
    }
    print(f, &r, &["WHAT", "NAME", "ACTION", "WHY"], gc_rows)
}

/// One line on stderr when the first command after a boot had to retire or repair anything.
pub(super) fn note_recovery(r: &gc::Report) {
    if r.is_empty() {
        return;
    }
    let names = |v: &[gc::Action], action: &str| -> Vec<String> {
        v.iter()
            .filter(|a| a.action == action)
            .map(|a| a.name.clone())
            .collect()
    };
    let mut parts = Vec::new();
    for (what, list) in [
        ("retired containers", names(&r.containers, "retired")),
        ("repaired containers", names(&r.containers, "repaired")),
        ("repaired networks", names(&r.networks, "repaired")),
        ("removed networks", names(&r.networks, "removed")),
        ("finished networks", names(&r.networks, "finished")),
    ] {
        if !list.is_empty() {
            parts.push(format!("{what} {}", list.join(", ")));
        }
    }
    exit::note(format!(
        "first command since boot rebuilt podnet's state: {}",
        parts.join("; ")
    ));
}

fn gc_rows(r: &gc::Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (kind, items) in [("container", &r.containers), ("network", &r.networks)] {
        rows.extend(items.iter().map(|a| {
            vec![
                kind.to_string(),
                a.name.clone(),
                a.action.into(),
                a.why.clone(),
            ]
        }));
    }
    for (kind, items) in [
        ("link", &r.links),
        ("namespace", &r.namespaces),
        ("log", &r.logs),
    ] {
        rows.extend(items.iter().map(|i| {
            vec![
                kind.to_string(),
                i.clone(),
                "removed".into(),
                "no record owns it".into(),
            ]
        }));
    }
    rows.extend(r.tables.iter().map(|t| {
        vec![
            "table".into(),
            t.clone(),
            "removed".into(),
            "another state's (--remove-foreign)".into(),
        ]
    }));
    rows
}
