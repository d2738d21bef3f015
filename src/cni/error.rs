//! The CNI error result: `{cniVersion, code, msg, details}` on stdout and a non-zero exit, and
//! how podnet's own error maps onto the spec's codes.

use serde_json::{json, Value};

use crate::model::{Error, StoreCause};

/// Error codes. 1-11 and 50/51 are the spec's (libcni uses 4-7 with every version, so podnet
/// does too); 100 and up are podnet's own, as the spec allows.
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// A field podnet understands, with a value it cannot honour (the message names both).
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// A CNI_* variable missing or invalid (the message names it).
    pub const INVALID_ENV: u32 = 4;
    pub const IO: u32 = 5;
    /// stdin is not JSON, or prevResult / cniVersion cannot be read.
    pub const DECODE: u32 = 6;
    /// The network configuration is wrong (a field of the wrong type or value).
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN: u32 = 11;
    /// STATUS: podnet cannot serve ADD now.
    pub const NOT_AVAILABLE: u32 = 50;
    /// STATUS: podnet cannot serve ADD and existing containers may have lost connectivity.
    pub const LIMITED_CONNECTIVITY: u32 = 51;
    /// podnet's own: this build parses the verb but does not carry it out yet.
    pub const NOT_WIRED: u32 = 100;
    /// podnet's own: the work failed (kernel, store, process); `details` says what.
    pub const FAILED: u32 = 999;
}

/// A CNI error: `msg` characterises it in a few words, `details` is the one line that says what
/// was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    /// A network configuration field with a wrong type or value (code 7).
    pub fn config(field: &str, details: impl Into<String>) -> CniError {
        CniError::new(
            code::INVALID_CONFIG,
            format!("invalid network configuration: {field}"),
            details,
        )
    }

    /// A field podnet understands but whose value it cannot honour (code 2). The spec wants
    /// the key and the value in the message.
    pub fn unsupported(field: &str, value: &Value, why: impl Into<String>) -> CniError {
        CniError::new(
            code::UNSUPPORTED_FIELD,
            format!("unsupported field: {field}={value}"),
            why,
        )
    }

    /// A CNI_* environment variable missing or invalid (code 4).
    pub fn env(var: &str, details: impl Into<String>) -> CniError {
        CniError::new(code::INVALID_ENV, format!("invalid {var}"), details)
    }

    /// The verb parses but is not carried out by this build.
    pub fn not_wired(verb: &str) -> CniError {
        CniError::new(
            code::NOT_WIRED,
            format!("{verb} is not wired yet"),
            format!("this podnet parses CNI {verb} but does not carry it out yet: use a podnet built with the CNI engine wiring"),
        )
    }

    /// The error a delegated plugin (IPAM) printed when it failed with `exit`: its own code,
    /// msg and details when its stdout is a CNI error, else code 999 quoting what it printed.
    pub fn from_delegate(plugin: &str, exit: i32, stdout: &[u8]) -> CniError {
        let parsed = serde_json::from_slice::<Value>(stdout).ok().and_then(|v| {
            let code = u32::try_from(v.get("code")?.as_u64()?).ok()?;
            let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            Some((code, text("msg"), text("details")))
        });
        match parsed {
            Some((code, msg, details)) => {
                // host-local puts everything in `msg` and leaves `details` empty.
                let why = if details.is_empty() { &msg } else { &details };
                CniError::new(code, msg.clone(), format!("IPAM plugin {plugin}: {why}"))
            }
            None => CniError::new(
                code::FAILED,
                format!("IPAM plugin {plugin} failed"),
                format!(
                    "IPAM plugin {plugin} exited with {exit} and printed {:?}",
                    String::from_utf8_lossy(stdout).trim()
                ),
            ),
        }
    }

    /// The JSON podnet prints. `cniVersion` is the request's when podnet could read it, else
    /// the latest it speaks.
    pub fn to_json(&self, version: &str) -> Value {
        json!({
            "cniVersion": version,
            "code": self.code,
            "msg": self.msg,
            "details": self.details,
        })
    }
}

/// How podnet's error maps onto CNI codes; `details` is always podnet's one line.
/// - bad input that survived the front end's own checks, and conflicts (an address or
///   port in use): 7;
/// - a container podnet does not know, or no podnet state at all: 3 (nothing to clean up);
/// - the store busy past its timeout, or the kernel saying EAGAIN/EBUSY: 11 (retry);
/// - any other store failure: 5 (I/O);
/// - everything else (kernel, a command, other failures): podnet's 999.
///
/// An undo that failed too is classed by the failure that counts. STATUS maps every failure
/// to 50 or 51 itself.
impl From<&Error> for CniError {
    fn from(e: &Error) -> CniError {
        let details = e.to_string();
        let (code, msg) = match e.primary() {
            Error::Input { field: Some(f), .. } => {
                (code::INVALID_CONFIG, format!("invalid request: {f}"))
            }
            Error::Input { .. } => (code::INVALID_CONFIG, "invalid request".to_owned()),
            Error::Conflict { .. } => (
                code::INVALID_CONFIG,
                "conflicts with existing state".to_owned(),
            ),
            Error::NotFound {
                kind: "container", ..
            }
            | Error::NoState { .. } => (code::UNKNOWN_CONTAINER, "unknown container".to_owned()),
            Error::NotFound { kind, .. } => (code::INVALID_CONFIG, format!("no such {kind}")),
            Error::Store {
                cause: StoreCause::Busy,
                ..
            } => (code::TRY_AGAIN, "state store busy".to_owned()),
            Error::Store { .. } => (code::IO, "state store failed".to_owned()),
            Error::Kernel { errno, .. } if *errno == libc::EAGAIN || *errno == libc::EBUSY => {
                (code::TRY_AGAIN, "kernel busy".to_owned())
            }
            _ => (code::FAILED, "podnet failed".to_owned()),
        };
        CniError::new(code, msg, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_golden() {
        let e = CniError::env(
            "CNI_IFNAME",
            "CNI_IFNAME is missing: the runtime must set it for ADD",
        );
        assert_eq!(
            e.to_json("1.1.0"),
            json!({
                "cniVersion": "1.1.0",
                "code": 4,
                "msg": "invalid CNI_IFNAME",
                "details": "CNI_IFNAME is missing: the runtime must set it for ADD"
            })
        );
        let e = CniError::unsupported(
            "isGateway",
            &json!(false),
            "podnet always puts the gateway on the bridge",
        );
        assert_eq!(
            e.to_json("0.4.0"),
            json!({
                "cniVersion": "0.4.0",
                "code": 2,
                "msg": "unsupported field: isGateway=false",
                "details": "podnet always puts the gateway on the bridge"
            })
        );
    }

    #[test]
    fn a_delegate_error_keeps_its_code() {
        let out = br#"{"cniVersion":"1.0.0","code":11,"msg":"no addresses left","details":"range 10.0.0.0/30 is full"}"#;
        let e = CniError::from_delegate("host-local", 1, out);
        assert_eq!(e.code, 11);
        assert_eq!(e.msg, "no addresses left");
        assert_eq!(
            e.details,
            "IPAM plugin host-local: range 10.0.0.0/30 is full"
        );
        for junk in [&b"segfault"[..], b"", br#"{"code":-1}"#] {
            let e = CniError::from_delegate("dhcp", 2, junk);
            assert_eq!(e.code, 999, "{junk:?}");
            assert!(
                e.details.starts_with("IPAM plugin dhcp exited with 2"),
                "{e:?}"
            );
        }
    }

    #[test]
    fn podnet_errors_map_to_spec_codes() {
        let busy = Error::store(StoreCause::Busy);
        let table = [
            (Error::input("address 10.0.0.5 is outside the subnet"), 7),
            (Error::field("ip", "not an address"), 7),
            (Error::conflict("address 10.0.0.5 is in use"), 7),
            (
                Error::not_found("container", "c1", "no container named 'c1'"),
                3,
            ),
            (Error::not_found("network", "n", "no network named 'n'"), 7),
            (Error::no_state(std::path::Path::new("/var/lib/podnet")), 3),
            (Error::store(StoreCause::Busy), 11),
            (Error::store(StoreCause::DiskFull), 5),
            (Error::kernel("add link", libc::EBUSY), 11),
            (Error::kernel("add link", libc::EEXIST), 999),
            (Error::failed("create veth: File exists"), 999),
            (busy.undo_failed(Error::failed("delete veth")), 11),
        ];
        for (e, want) in table {
            let c = CniError::from(&e);
            assert_eq!(c.code, want, "{e:?}");
            assert_eq!(c.details, e.to_string());
        }
        let c = CniError::from(&Error::field("ip", "not an address"));
        assert_eq!(c.msg, "invalid request: ip");
    }
}
