//! Names become interface names and file names, so they obey the kernel's IFNAMSIZ limit and a
//! conservative character set.

use super::{Error, Result};

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Validate a network or container name given by the user. `what` names the input in errors.
pub fn validate_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::input(format!(
            "{what} name is empty: give a name of 1 to {IFNAME_MAX} characters from [A-Za-z0-9_.-]"
        )));
    }
    if name.len() > IFNAME_MAX {
        return Err(Error::input(format!(
            "{what} name '{name}' is {} characters long: use at most {IFNAME_MAX} (it must fit in an interface name)",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
    {
        return Err(Error::input(format!(
            "{what} name '{name}' contains '{c}': use only letters, digits, '_', '.' and '-'"
        )));
    }
    if name.starts_with(['.', '-']) {
        return Err(Error::input(format!(
            "{what} name '{name}' must start with a letter, digit or '_'"
        )));
    }
    Ok(())
}

/// Validate an interface name given by the user (e.g. `--bridge`).
pub fn validate_ifname(what: &str, name: &str) -> Result<()> {
    validate_name(what, name)
}

/// A DNS name a container answers to (`--network-alias`, `--hostname`, an `--add-host`
/// name): dot-separated labels of letters, digits, '_' and '-' (not at a label's ends), each
/// at most 63 bytes, 253 in all. `flag` is the field named in the error.
pub fn validate_dns_name(flag: &str, name: &str) -> Result<()> {
    let bad = |why: String| Err(Error::input(format!("{flag} '{name}' {why}")));
    if name.is_empty() {
        return bad("is empty: give a name like db or db.internal".into());
    }
    if name.len() > 253 {
        return bad(format!(
            "is {} characters long: use at most 253",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return bad("has an empty label (two dots, or a dot at an end)".into());
        }
        if label.len() > 63 {
            return bad(format!(
                "has a label of {} characters: at most 63",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "_-".contains(*c)))
        {
            return bad(format!(
                "contains {c:?}: use only letters, digits, '_', '-' and dots between labels"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("has a label starting or ending with '-'".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        for n in ["db", "db.internal", "a-b_c.x1", "x"] {
            validate_dns_name("alias", n).unwrap();
        }
        let long = "a".repeat(64);
        for n in [
            "",
            "a b",
            "a/b",
            "a..b",
            ".a",
            "a.",
            "-a",
            "a-",
            "ü",
            "a:b",
            long.as_str(),
        ] {
            let e = validate_dns_name("alias", n).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{n}: {e}");
        }
    }

    #[test]
    fn accepts_docker_like_names() {
        for n in ["web", "web-1", "a.b_c", "x", "123456789012345"] {
            validate_name("container", n).unwrap();
        }
    }

    #[test]
    fn refuses_bad_names_with_input_errors() {
        for n in ["", "1234567890123456", "we b", "a/b", "ü", "-x", ".x"] {
            let e = validate_name("network", n).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{n}: {e}");
            assert!(e.to_string().starts_with("network name"), "{e}");
        }
    }
}
