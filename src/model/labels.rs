//! Container labels (`--label app=web`), what service selectors match on. Pure.

use super::{Error, Result};
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
}

/// Parse one `KEY=VALUE` label.
pub fn parse_label(spec: &str) -> Result<(String, String)> {
    let bad = || {
        Error::input(format!(
            "invalid label '{spec}': write KEY=VALUE with letters, digits, '_', '.', '-', '/' (1-63 characters each)"
        ))
    };
    let (k, v) = spec.split_once('=').ok_or_else(bad)?;
    if !valid_part(k) || !(v.is_empty() || valid_part(v)) {
        return Err(bad());
    }
    Ok((k.to_string(), v.to_string()))
}

/// Parse every `--label`; a key given twice is an error.
pub fn parse_labels(specs: &[String]) -> Result<Labels> {
    let mut out = Labels::new();
    for s in specs {
        let (k, v) = parse_label(s)?;
        if out.insert(k.clone(), v).is_some() {
            return Err(Error::input(format!(
                "label key '{k}' is given twice: give each key once"
            )));
        }
    }
    Ok(out)
}

/// One change `label` makes: set KEY to VALUE, or (no value) remove KEY.
pub type LabelEdit = (String, Option<String>);

/// Parse `label`'s changes: `KEY=VALUE` sets, `KEY-` removes.
pub fn parse_label_edits(changes: &[String]) -> Result<Vec<LabelEdit>> {
    let mut edits = Vec::new();
    for c in changes {
        match c.strip_suffix('-') {
            Some(key) if !key.contains('=') => edits.push((key.to_string(), None)),
            _ => {
                let (k, v) = parse_label(c)?;
                edits.push((k, Some(v)));
            }
        }
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let l = parse_labels(&["app=web".into(), "tier=".into(), "k8s.io/x=y".into()]).unwrap();
        assert_eq!(l["app"], "web");
        assert_eq!(l["tier"], "");
        for bad in ["app", "=web", "a b=c", "app=w eb"] {
            assert_eq!(parse_label(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert!(parse_labels(&["a=1".into(), "a=2".into()]).is_err());
    }
}
