//! How much of a detached container's output is kept: like Docker's json-file `max-size` and
//! `max-file`, the log is cut into files of at most `max_size` bytes, of which the newest
//! `max_files` are kept.

use super::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Bytes per file.
    pub max_size: u64,
    /// Files kept, the current one included.
    pub max_files: u32,
}

/// 10 MiB × 3: at most 30 MiB per container, so that a chatty container (`yes`) cannot fill
/// the store's file system.
pub const DEFAULT_LOG: LogConfig = LogConfig {
    max_size: 10 << 20,
    max_files: 3,
};

/// The smallest file size accepted: below it a rotation per line would cost more than the log.
const MIN_SIZE: u64 = 4 << 10;
const MAX_FILES: u32 = 100;

impl Default for LogConfig {
    fn default() -> Self {
        DEFAULT_LOG
    }
}

/// A size such as `10m`, `512k`, `1g` or `65536` (bytes); suffixes are powers of 1024.
pub fn parse_size(flag: &str, s: &str) -> Result<u64> {
    let bad = || {
        Error::field(
            flag,
            format!("{flag} {s:?} is not a size: write it like 10m, 512k or 1g (at least 4k)"),
        )
    };
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, shift) = match t.as_bytes().last() {
        Some(b'k') => (&t[..t.len() - 1], 10),
        Some(b'm') => (&t[..t.len() - 1], 20),
        Some(b'g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let bytes = n.checked_mul(1 << shift).ok_or_else(bad)?;
    if bytes < MIN_SIZE {
        return Err(bad());
    }
    Ok(bytes)
}

/// `--log-max-size` and `--log-max-files` as given (None: the default).
pub fn log_config(max_size: Option<&str>, max_files: Option<u32>) -> Result<LogConfig> {
    let mut c = DEFAULT_LOG;
    if let Some(s) = max_size {
        c.max_size = parse_size("--log-max-size", s)?;
    }
    if let Some(n) = max_files {
        if !(1..=MAX_FILES).contains(&n) {
            return Err(Error::field(
                "--log-max-files",
                format!("--log-max-files {n} is out of range: use 1 to {MAX_FILES}"),
            ));
        }
        c.max_files = n;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (s, n) in [
            ("4096", 4096),
            ("10m", 10 << 20),
            ("10M", 10 << 20),
            ("512k", 512 << 10),
            ("512kb", 512 << 10),
            ("1g", 1 << 30),
        ] {
            assert_eq!(parse_size("--x", s).unwrap(), n, "{s}");
        }
        for s in [
            "",
            "k",
            "-1m",
            "1.5m",
            "10x",
            "1023",
            "3k",
            "99999999999999999g",
        ] {
            assert!(parse_size("--x", s).unwrap_err().is_bad_input(), "{s}");
        }
    }

    #[test]
    fn file_counts() {
        assert_eq!(log_config(None, Some(1)).unwrap().max_files, 1);
        for n in [0, 101] {
            assert!(log_config(None, Some(n)).is_err(), "{n}");
        }
    }
}
