//! CNI_ARGS: `K=V;K2=V2`. podnet knows the Kubernetes pod keys, `IP` and `MAC` (what Podman
//! 4 sends for `--ip`/`--mac-address`) and `IgnoreUnknown`; any other key is an error unless
//! `IgnoreUnknown` is true, as libcni's argument loader does.

use super::error::CniError;

/// The Kubernetes identity of the pod an attachment belongs to. Podman 4 sets only `name`
/// (to the container's name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodRef {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub infra_container_id: Option<String>,
    pub uid: Option<String>,
}

/// CNI_ARGS, parsed. Addresses and MAC stay text here: they are checked with the rest of the
/// runtime's requests (see `runtime`), which take precedence over them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CniArgs {
    pub ignore_unknown: bool,
    pub pod: PodRef,
    /// `IP=a[,b...]`, each `ADDR[/PREFIX]`.
    pub ips: Vec<String>,
    pub mac: Option<String>,
    /// Keys podnet does not know (kept only when IgnoreUnknown allowed them).
    pub unknown: Vec<(String, String)>,
}

/// Parse CNI_ARGS. Empty segments (a trailing ';') are skipped; a later duplicate key wins.
pub fn parse(s: &str) -> Result<CniArgs, CniError> {
    let mut out = CniArgs::default();
    let mut ignore: Option<bool> = None;
    for pair in s.split(';').filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(bad(format!(
                "CNI_ARGS pair {pair:?} is not KEY=VALUE (pairs are separated by ';')"
            )));
        };
        if k.is_empty() {
            return Err(bad(format!("CNI_ARGS pair {pair:?} has no key")));
        }
        let v = v.to_owned();
        match k {
            "IgnoreUnknown" => {
                ignore = Some(match v.to_ascii_lowercase().as_str() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    _ => {
                        return Err(bad(format!(
                            "CNI_ARGS IgnoreUnknown={v:?} is not a boolean: use 1, true, 0 or false"
                        )))
                    }
                })
            }
            "K8S_POD_NAMESPACE" => out.pod.namespace = Some(v),
            "K8S_POD_NAME" => out.pod.name = Some(v),
            "K8S_POD_INFRA_CONTAINER_ID" => out.pod.infra_container_id = Some(v),
            "K8S_POD_UID" => out.pod.uid = Some(v),
            "IP" => out.ips = v.split(',').map(str::to_owned).collect(),
            "MAC" => out.mac = Some(v),
            _ => {
                out.unknown.retain(|(u, _)| u != k);
                out.unknown.push((k.to_owned(), v));
            }
        }
    }
    out.ignore_unknown = ignore.unwrap_or(false);
    if !out.ignore_unknown && !out.unknown.is_empty() {
        let keys: Vec<&str> = out.unknown.iter().map(|(k, _)| k.as_str()).collect();
        return Err(bad(format!(
            "CNI_ARGS has keys podnet does not know ({}): add IgnoreUnknown=1 or remove them",
            keys.join(", ")
        )));
    }
    Ok(out)
}

fn bad(details: String) -> CniError {
    CniError::env("CNI_ARGS", details)
}
