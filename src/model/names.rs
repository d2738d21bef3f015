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

#[cfg(test)]
mod tests {
    use super::*;

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
