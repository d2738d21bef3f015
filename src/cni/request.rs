//! From environment and stdin to one typed call: everything the engine needs, validated, with
//! every way it can be wrong answered by the spec's error code.
//!
//! Checks run in this order (the first failure is the answer): CNI_COMMAND (4); VERSION
//! answers here; the verb's required variables, all missing ones at once (4), and their
//! values (4); stdin as a JSON object (6); `cniVersion` (6, or 1 when podnet does not speak
//! it or the verb is newer than it); CNI_ARGS (4); the configuration (7 or 2); the runtime's
//! requests (7, 2, or 4 for CNI_ARGS values); `prevResult` (6; CHECK needs one: 7); GC's
//! attachment lists (7). DEL refuses only for the environment, the version and a
//! configuration without a usable `name` or `type`: it goes past the rest.

use serde_json::{Map, Value};
use std::path::PathBuf;

use super::args::{self, CniArgs};
use super::conf::{self, Attachment, NetConf};
use super::env::{self, Command, Env};
use super::error::{code, CniError};
use super::result::{self, CniResult};
use super::runtime::{self, Requests};
use super::version::{self, Version};

/// One CNI call, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// VERSION: the reply to print as it is.
    Version(Value),
    Add(AddRequest),
    Del(DelRequest),
    Check(CheckRequest),
    Status(StatusRequest),
    Gc(GcRequest),
}

/// ADD: attach the container's namespace to the network.
#[derive(Debug, Clone, PartialEq)]
pub struct AddRequest {
    pub version: Version,
    pub attachment: Attachment,
    pub netns: PathBuf,
    pub conf: NetConf,
    pub requests: Requests,
    /// Set when podnet is not the first plugin of the chain: the result to extend.
    pub prev_result: Option<CniResult>,
    pub cni_path: Vec<PathBuf>,
}

/// DEL: undo ADD, best effort and idempotent; the namespace may be gone (`netns: None`).
#[derive(Debug, Clone, PartialEq)]
pub struct DelRequest {
    pub version: Version,
    pub attachment: Attachment,
    pub netns: Option<PathBuf>,
    /// Complete when it parses; else only name, type, directories and IPAM (see
    /// `conf::parse_lenient`).
    pub conf: NetConf,
    /// The same requests as ADD's (runtimes resend the port mappings); empty but for the pod
    /// when they do not parse.
    pub requests: Requests,
    pub prev_result: Option<CniResult>,
    pub cni_path: Vec<PathBuf>,
    /// What ADD would have refused and DEL goes past (CNI_ARGS, configuration, requests,
    /// prevResult): for stderr, never the answer.
    pub ignored: Vec<CniError>,
}

/// CHECK: is the attachment still as ADD made it (`prev_result` is ADD's final result)?
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRequest {
    pub version: Version,
    pub attachment: Attachment,
    pub netns: PathBuf,
    pub conf: NetConf,
    pub requests: Requests,
    pub prev_result: CniResult,
    pub cni_path: Vec<PathBuf>,
}

/// STATUS: can podnet serve ADD on this network?
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRequest {
    pub version: Version,
    pub conf: NetConf,
    pub cni_path: Vec<PathBuf>,
}

/// GC: remove the network's attachments that are not in `valid`. `valid: None` means the
/// runtime sent no list: remove no attachment.
#[derive(Debug, Clone, PartialEq)]
pub struct GcRequest {
    pub version: Version,
    pub conf: NetConf,
    pub valid: Option<Vec<Attachment>>,
    pub cni_path: Vec<PathBuf>,
}

/// A refused call: the error and the version to print it with (the request's when podnet
/// could read one it speaks, else the latest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub version: Version,
    pub error: CniError,
}

impl Refusal {
    pub fn to_json(&self) -> Value {
        self.error.to_json(self.version.as_str())
    }
}

/// Parse one call from the environment and stdin.
pub fn parse(env: &Env, stdin: &[u8]) -> Result<Call, Refusal> {
    let refuse = |version: Version| move |error: CniError| Refusal { version, error };
    let cmd = Command::parse(env).map_err(refuse(Version::LATEST))?;
    if cmd == Command::Version {
        return Ok(Call::Version(version::version_reply(stdin)));
    }
    let params = env::params(cmd, env).map_err(refuse(Version::LATEST))?;
    let obj = stdin_object(stdin).map_err(refuse(Version::LATEST))?;
    let v = Version::from_request(obj.get("cniVersion")).map_err(refuse(Version::LATEST))?;
    let verb_ok = match cmd {
        Command::Check => v.has_check(),
        Command::Gc | Command::Status => v.has_gc_and_status(),
        _ => true,
    };
    if !verb_ok {
        return Err(refuse(v)(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!("config version does not allow {}", cmd.as_str()),
            format!(
                "CNI {} needs cniVersion {} or later; the configuration says {v}",
                cmd.as_str(),
                if cmd == Command::Check {
                    "0.4.0"
                } else {
                    "1.1.0"
                }
            ),
        )));
    }
    let refuse = refuse(v);
    let cni_path = params.path.clone();
    match cmd {
        Command::Status => {
            let conf = conf::parse(&obj).map_err(refuse)?;
            return Ok(Call::Status(StatusRequest {
                version: v,
                conf,
                cni_path,
            }));
        }
        Command::Gc => {
            let conf = conf::parse(&obj).map_err(refuse)?;
            let valid = conf::valid_attachments(&obj).map_err(refuse)?;
            return Ok(Call::Gc(GcRequest {
                version: v,
                conf,
                valid,
                cni_path,
            }));
        }
        _ => {}
    }
    // DEL goes past what it does not need (see `DelRequest::ignored`); the others refuse.
    let lenient = cmd == Command::Del;
    let mut ignored = Vec::new();
    let cni_args = match &params.args {
        Some(s) => {
            keep(lenient, &mut ignored, args::parse(s), CniArgs::default()).map_err(refuse)?
        }
        None => CniArgs::default(),
    };
    let conf = if lenient {
        let (conf, refused) = conf::parse_lenient(&obj).map_err(refuse)?;
        ignored.extend(refused);
        conf
    } else {
        conf::parse(&obj).map_err(refuse)?
    };
    let pod_only = Requests {
        pod: cni_args.pod.clone(),
        ..Requests::default()
    };
    let requests = keep(
        lenient,
        &mut ignored,
        runtime::parse(&obj, &cni_args),
        pod_only,
    )
    .map_err(refuse)?;
    let prev_result = match obj.get("prevResult") {
        None | Some(Value::Null) => None,
        Some(p) => keep(
            lenient,
            &mut ignored,
            result::parse(p, v, "prevResult").map(Some),
            None,
        )
        .map_err(refuse)?,
    };
    // The verb's required variables were checked above.
    let attachment = Attachment {
        container_id: params.container_id.unwrap_or_default(),
        ifname: params.ifname.unwrap_or_default(),
    };
    Ok(match cmd {
        Command::Add => Call::Add(AddRequest {
            version: v,
            attachment,
            netns: params.netns.unwrap_or_default(),
            conf,
            requests,
            prev_result,
            cni_path,
        }),
        Command::Check => {
            let Some(prev_result) = prev_result else {
                return Err(refuse(CniError::config(
                    "prevResult",
                    "CHECK needs prevResult, the result of the ADD it checks: the runtime must send it",
                )));
            };
            Call::Check(CheckRequest {
                version: v,
                attachment,
                netns: params.netns.unwrap_or_default(),
                conf,
                requests,
                prev_result,
                cni_path,
            })
        }
        _ => Call::Del(DelRequest {
            version: v,
            attachment,
            netns: params.netns,
            conf,
            requests,
            prev_result,
            cni_path,
            ignored,
        }),
    })
}

/// `r`, or (when `lenient`) `fallback` with the error kept in `ignored`.
fn keep<T>(
    lenient: bool,
    ignored: &mut Vec<CniError>,
    r: Result<T, CniError>,
    fallback: T,
) -> Result<T, CniError> {
    match r {
        Err(e) if lenient => {
            ignored.push(e);
            Ok(fallback)
        }
        r => r,
    }
}

fn stdin_object(stdin: &[u8]) -> Result<Map<String, Value>, CniError> {
    let decode = |details: String| {
        CniError::new(code::DECODE, "cannot decode network configuration", details)
    };
    if stdin.iter().all(u8::is_ascii_whitespace) {
        return Err(decode(
            "stdin is empty: the runtime must send the network configuration as JSON".into(),
        ));
    }
    match serde_json::from_slice::<Value>(stdin) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(decode(format!(
            "the network configuration on stdin must be a JSON object, got {}",
            kind(&other)
        ))),
        Err(e) => Err(decode(format!(
            "the network configuration on stdin is not JSON: {e}"
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
