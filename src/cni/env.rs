//! The CNI_* environment: which variables each verb needs (SPEC.md section 2), and their
//! validation. An empty variable counts as missing, as libcni's skel counts it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::error::{code, CniError};

/// The variables a plugin reads, as a map so tests can build any environment.
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The process's CNI_* variables (others are never looked at).
    pub fn from_process() -> Env {
        Env(std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("CNI_"))
            .collect())
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env(pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }

    /// Every variable, as given (a delegated plugin gets them all).
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value, `None` when unset or empty.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.0
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// CNI_COMMAND.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Status,
    Gc,
    Version,
}

impl Command {
    pub fn parse(env: &Env) -> Result<Command, CniError> {
        let Some(v) = env.get("CNI_COMMAND") else {
            return Err(CniError::new(
                code::INVALID_ENV,
                "required env variables [CNI_COMMAND] missing",
                "CNI_COMMAND is missing: set it to ADD, DEL, CHECK, STATUS, GC or VERSION",
            ));
        };
        Ok(match v {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            "VERSION" => Command::Version,
            other => {
                return Err(CniError::env(
                    "CNI_COMMAND",
                    format!("CNI_COMMAND={other:?} is not a CNI verb: use ADD, DEL, CHECK, STATUS, GC or VERSION"),
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Status => "STATUS",
            Command::Gc => "GC",
            Command::Version => "VERSION",
        }
    }

    /// The variables the spec requires for this verb (besides CNI_COMMAND).
    pub fn required(self) -> &'static [&'static str] {
        match self {
            Command::Add | Command::Check => &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
            Command::Del => &["CNI_CONTAINERID", "CNI_IFNAME"],
            Command::Gc => &["CNI_PATH"],
            Command::Status | Command::Version => &[],
        }
    }
}

/// The validated per-call parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params {
    pub container_id: Option<String>,
    pub netns: Option<PathBuf>,
    pub ifname: Option<String>,
    pub args: Option<String>,
    pub path: Vec<PathBuf>,
}

/// Check that every variable `cmd` needs is there (all missing ones named in one error, code 4)
/// and that those given are valid.
pub fn params(cmd: Command, env: &Env) -> Result<Params, CniError> {
    let missing: Vec<&str> = cmd
        .required()
        .iter()
        .copied()
        .filter(|v| env.get(v).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(CniError::new(
            code::INVALID_ENV,
            format!("required env variables [{}] missing", missing.join(",")),
            format!(
                "CNI {} needs {}: the runtime must set {}",
                cmd.as_str(),
                cmd.required().join(", "),
                missing.join(", ")
            ),
        ));
    }
    let container_id = env.get("CNI_CONTAINERID").map(str::to_owned);
    if let Some(id) = &container_id {
        validate_container_id(id)?;
    }
    let ifname = env.get("CNI_IFNAME").map(str::to_owned);
    if let Some(n) = &ifname {
        validate_ifname(n)?;
    }
    let netns = env.get("CNI_NETNS").map(PathBuf::from);
    if let Some(p) = &netns {
        if !p.is_absolute() {
            return Err(CniError::env(
                "CNI_NETNS",
                format!("CNI_NETNS={:?} is not an absolute path to a network namespace (e.g. /run/netns/NAME)", p.display().to_string()),
            ));
        }
    }
    let path = env
        .get("CNI_PATH")
        .map(|p| {
            p.split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    Ok(Params {
        container_id,
        netns,
        ifname,
        args: env.get("CNI_ARGS").map(str::to_owned),
        path,
    })
}

/// The spec: not empty, an alphanumeric first character, then alphanumerics, '_', '.', '-'.
pub fn validate_container_id(id: &str) -> Result<(), CniError> {
    if is_cni_name(id) {
        return Ok(());
    }
    Err(CniError::env(
        "CNI_CONTAINERID",
        format!("CNI_CONTAINERID={id:?} must start with a letter or digit and hold only letters, digits, '_', '.' and '-'"),
    ))
}

/// The spec's character rule for container IDs and network names.
pub fn is_cni_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// The kernel's rules for an interface name: 1-15 bytes, not "." or "..", no '/', ':' or
/// whitespace.
pub fn validate_ifname(name: &str) -> Result<(), CniError> {
    match ifname_problem(name) {
        None => Ok(()),
        Some(why) => Err(CniError::env(
            "CNI_IFNAME",
            format!("CNI_IFNAME={name:?} {why}"),
        )),
    }
}

/// What is wrong with `name` as an interface name, if anything.
pub fn ifname_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("is empty".to_owned())
    } else if name.len() > 15 {
        Some(format!("is {} bytes long: use at most 15", name.len()))
    } else if name == "." || name == ".." {
        Some("is not a usable name".to_owned())
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        Some("contains '/', ':' or whitespace".to_owned())
    } else {
        None
    }
}
