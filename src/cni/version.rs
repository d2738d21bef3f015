//! CNI spec versions: which ones podnet speaks, which verbs each allows, and the VERSION reply.

use std::fmt;

use serde_json::{json, Value};

use super::error::{code, CniError};

/// A spec version podnet implements. Results are rendered in the shape of the request's
/// version (see `result::render`); 0.3.x and 0.4.0 share one shape, 1.0.0 and 1.1.0 another,
/// 0.1.0 and 0.2.0 the legacy `ip4`/`ip6` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V0_1_0,
    V0_2_0,
    V0_3_0,
    V0_3_1,
    V0_4_0,
    V1_0_0,
    V1_1_0,
}

/// Every version podnet answers, oldest first (the VERSION reply's `supportedVersions`).
pub const SUPPORTED: [Version; 7] = [
    Version::V0_1_0,
    Version::V0_2_0,
    Version::V0_3_0,
    Version::V0_3_1,
    Version::V0_4_0,
    Version::V1_0_0,
    Version::V1_1_0,
];

impl Version {
    pub const LATEST: Version = Version::V1_1_0;

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_1_0 => "0.1.0",
            Version::V0_2_0 => "0.2.0",
            Version::V0_3_0 => "0.3.0",
            Version::V0_3_1 => "0.3.1",
            Version::V0_4_0 => "0.4.0",
            Version::V1_0_0 => "1.0.0",
            Version::V1_1_0 => "1.1.0",
        }
    }

    /// The version a request's `cniVersion` names. A missing or empty one means 0.1.0, as
    /// libcni reads it. Not a version at all: code 6; a version podnet does not speak: code 1.
    pub fn from_request(v: Option<&Value>) -> Result<Version, CniError> {
        let s = match v {
            None | Some(Value::Null) => return Ok(Version::V0_1_0),
            Some(Value::String(s)) if s.is_empty() => return Ok(Version::V0_1_0),
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(CniError::new(
                    code::DECODE,
                    "cniVersion is not a string",
                    format!("cniVersion must be a string like \"1.1.0\", got {other}"),
                ))
            }
        };
        if !is_semver(s) {
            return Err(CniError::new(
                code::DECODE,
                "cniVersion is not a version",
                format!("cniVersion {s:?} is not a version like \"1.1.0\""),
            ));
        }
        SUPPORTED
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                CniError::new(
                    code::INCOMPATIBLE_VERSION,
                    "incompatible CNI version",
                    format!(
                        "cniVersion {s} is not supported by podnet; it supports {}",
                        supported_list()
                    ),
                )
            })
    }

    /// CHECK came with 0.4.0.
    pub fn has_check(self) -> bool {
        self >= Version::V0_4_0
    }

    /// GC and STATUS came with 1.1.0.
    pub fn has_gc_and_status(self) -> bool {
        self >= Version::V1_1_0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn supported_list() -> String {
    SUPPORTED.map(Version::as_str).join(", ")
}

/// `MAJOR.MINOR.PATCH` with decimal numbers (pre-release and build tags are not used by CNI).
pub fn is_semver(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The VERSION reply. `cniVersion` echoes the request's when it is a version (supported or
/// not: the runtime is asking what podnet speaks), else it is the latest podnet speaks.
/// VERSION never fails: a runtime probes with it before anything else.
pub fn version_reply(stdin: &[u8]) -> Value {
    let echoed = serde_json::from_slice::<Value>(stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|s| is_semver(s))
        .unwrap_or_else(|| Version::LATEST.as_str().to_owned());
    json!({
        "cniVersion": echoed,
        "supportedVersions": SUPPORTED.map(Version::as_str),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_version_round_trips_and_is_ordered() {
        for w in SUPPORTED.windows(2) {
            assert!(w[0] < w[1]);
        }
        for v in SUPPORTED {
            assert_eq!(Version::from_request(Some(&json!(v.as_str()))).unwrap(), v);
        }
    }

    #[test]
    fn missing_or_empty_version_is_0_1_0_as_libcni_reads_it() {
        assert_eq!(Version::from_request(None).unwrap(), Version::V0_1_0);
        assert_eq!(
            Version::from_request(Some(&json!(""))).unwrap(),
            Version::V0_1_0
        );
        assert_eq!(
            Version::from_request(Some(&Value::Null)).unwrap(),
            Version::V0_1_0
        );
    }

    #[test]
    fn bad_versions_get_decode_or_incompatible_codes() {
        let table: [(Value, u32); 8] = [
            (json!("2.0.0"), 1),
            (json!("0.5.0"), 1),
            (json!("1.2.0"), 1),
            (json!("1.0"), 6),
            (json!("v1.0.0"), 6),
            (json!("1.0.0-rc1"), 6),
            (json!(1.0), 6),
            (json!(["1.0.0"]), 6),
        ];
        for (v, want) in table {
            let e = Version::from_request(Some(&v)).unwrap_err();
            assert_eq!(e.code, want, "{v}: {e:?}");
            assert!(e.details.contains("cniVersion"), "{e:?}");
        }
    }

    #[test]
    fn verbs_per_version() {
        assert!(!Version::V0_3_1.has_check());
        assert!(Version::V0_4_0.has_check());
        assert!(!Version::V1_0_0.has_gc_and_status());
        assert!(Version::V1_1_0.has_gc_and_status());
    }

    #[test]
    fn version_reply_golden() {
        let all = json!(["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
        let table: [(&[u8], &str); 6] = [
            (br#"{"cniVersion":"1.0.0"}"#, "1.0.0"),
            (br#"{"cniVersion":"0.4.0"}"#, "0.4.0"),
            (br#"{"cniVersion":"9.9.9"}"#, "9.9.9"),
            (br#"{"cniVersion":"garbage"}"#, "1.1.0"),
            (b"", "1.1.0"),
            (b"not json", "1.1.0"),
        ];
        for (stdin, want) in table {
            assert_eq!(
                version_reply(stdin),
                json!({"cniVersion": want, "supportedVersions": all}),
                "{}",
                String::from_utf8_lossy(stdin)
            );
        }
    }
}
