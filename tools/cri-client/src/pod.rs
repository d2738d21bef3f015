//! The pod sandbox config, built from flags as kubelet builds it from a Pod, and kept in
//! the state dir: CreateContainer sends it again (kubelet does), so `create` reads it back.

use crate::args::{key_value, Args};
use k8s_cri::v1::{
    LinuxPodSandboxConfig, LinuxSandboxSecurityContext, NamespaceMode, NamespaceOption,
    PodSandboxConfig, PodSandboxMetadata, PortMapping, Protocol,
};
use std::path::{Path, PathBuf};

/// Flags `runp` accepts.
pub const FLAGS: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "hostname",
    "port",
    "cgroup-parent",
    "label",
    "annotation",
    "log-dir",
    "attempt",
];

/// A pod config from `runp`'s flags.
pub fn from_args(a: &Args) -> Result<PodSandboxConfig, String> {
    let name = a.need("name")?.to_string();
    let namespace = a.get("namespace").unwrap_or("default").to_string();
    let uid = a
        .get("uid")
        .map(str::to_string)
        .unwrap_or_else(|| format!("uid-{namespace}-{name}"));
    let attempt = match a.get("attempt") {
        Some(s) => s.parse().map_err(|_| format!("--attempt {s:?}"))?,
        None => 0,
    };
    let mut port_mappings = Vec::new();
    for p in a.all("port") {
        port_mappings.push(port(p)?);
    }
    let mut labels = std::collections::HashMap::new();
    for l in a.all("label") {
        let (k, v) = key_value(l)?;
        labels.insert(k, v);
    }
    let mut annotations = std::collections::HashMap::new();
    for l in a.all("annotation") {
        let (k, v) = key_value(l)?;
        annotations.insert(k, v);
    }
    Ok(PodSandboxConfig {
        hostname: a.get("hostname").unwrap_or(&name).to_string(),
        log_directory: a.get("log-dir").unwrap_or_default().to_string(),
        metadata: Some(PodSandboxMetadata {
            name,
            uid,
            namespace,
            attempt,
        }),
        port_mappings,
        labels,
        annotations,
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: a.get("cgroup-parent").unwrap_or_default().to_string(),
            security_context: Some(LinuxSandboxSecurityContext {
                // What kubelet asks for an ordinary pod: its own network, IPC and PID
                // namespaces per container.
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Pod as i32,
                    pid: NamespaceMode::Container as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// `[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp|sctp]`, as `docker -p` writes it.
pub fn port(s: &str) -> Result<PortMapping, String> {
    let bad = || format!("--port {s:?}: want [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp|sctp]");
    let (spec, proto) = match s.split_once('/') {
        Some((spec, p)) => (spec, p),
        None => (s, "tcp"),
    };
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => return Err(bad()),
    };
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (container, host, ip) = match parts.as_slice() {
        [c, h] => (c, h, ""),
        [c, h, ip] => (c, h, *ip),
        _ => return Err(bad()),
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(bad());
    }
    Ok(PortMapping {
        protocol: protocol as i32,
        container_port: container.parse().map_err(|_| bad())?,
        host_port: host.parse().map_err(|_| bad())?,
        host_ip: ip.to_string(),
    })
}

fn file(state: &Path, pod: &str) -> PathBuf {
    state.join(format!("pod-{pod}.json"))
}

/// Keeps the config of pod `pod` for later `create` calls.
pub fn save(state: &Path, pod: &str, cfg: &PodSandboxConfig) -> Result<(), String> {
    std::fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
    let text = serde_json::to_string(cfg).map_err(|e| e.to_string())?;
    let f = file(state, pod);
    std::fs::write(&f, text).map_err(|e| format!("{}: {e}", f.display()))
}

/// The config `runp` used for pod `pod`.
pub fn load(state: &Path, pod: &str) -> Result<PodSandboxConfig, String> {
    let f = file(state, pod);
    let text = std::fs::read_to_string(&f).map_err(|e| {
        format!(
            "{}: {e} (was pod {pod} made by `cri-client runp` with this --state-dir?)",
            f.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))
}

/// Forgets pod `pod`'s config (after RemovePodSandbox).
pub fn forget(state: &Path, pod: &str) {
    let _ = std::fs::remove_file(file(state, pod));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_like_docker() {
        let p = port("8080:80").unwrap();
        assert_eq!(
            (p.host_port, p.container_port, p.host_ip.as_str()),
            (8080, 80, "")
        );
        assert_eq!(p.protocol, Protocol::Tcp as i32);
        let p = port("10.0.0.1:53:5353/udp").unwrap();
        assert_eq!((p.host_port, p.container_port), (53, 5353));
        assert_eq!(
            (p.host_ip.as_str(), p.protocol),
            ("10.0.0.1", Protocol::Udp as i32)
        );
        for bad in ["80", "a:80", "80:80/icmp", "1:2:3:4"] {
            assert!(port(bad).is_err(), "{bad} accepted");
        }
    }
}
