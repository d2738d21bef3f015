//! `label`: a container's labels change and the services selecting it follow.

use crate::engine::Ctx;
use crate::model::labels::LabelEdit;
use crate::model::{Error, Result};

/// `podnet label`: each edit sets a key or (no value) removes it; services follow at once.
pub fn relabel(ctx: &mut Ctx, name: &str, edits: &[LabelEdit]) -> Result<()> {
    // Read and write in one transaction: a container removed meanwhile is "no such
    // container", never a half-applied change.
    let (old, new) = ctx.store.write(|tx| {
        let ep = tx
            .endpoint(name)?
            .ok_or_else(|| Error::input(format!("no container named '{name}': see `podnet ps`")))?;
        let old = tx.labels_of(ep.id)?;
        let mut new = old.clone();
        for (k, v) in edits {
            match v {
                Some(v) => new.insert(k.clone(), v.clone()),
                None => new.remove(k),
            };
        }
        tx.replace_labels(ep.id, &new)?;
        Ok((old, new))
    })?;
    // Services that selected the old labels drop it, those selecting the new ones add it.
    crate::engine::service::container_changed(ctx, name, &old)?;
    crate::engine::service::container_changed(ctx, name, &new)
}
