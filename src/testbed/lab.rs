//! [`Lab`]: two sandboxes on one LAN (a veth pair), a "host" and an "outside" machine.

use super::{Error, Result, Sandbox, SandboxConfig};

/// How to build a [`Lab`]. Addresses default to the benchmarking range 198.18.0.0/24
/// (RFC 2544), outside podnet's RFC 1918 pools so the LAN never shifts podnet's picks.
#[derive(Clone, Debug)]
pub struct LabConfig {
    /// Sandbox settings used for both machines.
    pub sandbox: SandboxConfig,
    /// LAN interface name on the host.
    pub host_if: String,
    /// LAN interface name on the outside machine.
    pub outside_if: String,
    /// Host's LAN address, CIDR.
    pub host_addr: String,
    /// Outside machine's LAN address, CIDR.
    pub outside_addr: String,
    /// Give the host a default route via the outside machine (so podnet's masquerade and
    /// "leaving through a non-podnet interface" have somewhere to go).
    pub host_default_via_outside: bool,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            sandbox: SandboxConfig::default(),
            host_if: "lan0".into(),
            outside_if: "lan0".into(),
            host_addr: "198.18.0.1/24".into(),
            outside_addr: "198.18.0.2/24".into(),
            host_default_via_outside: true,
        }
    }
}

/// Two sandboxes joined by a veth pair: `host` (where podnet runs) and `outside` (a
/// neighbour on the LAN). Dropping the lab drops both.
pub struct Lab {
    /// The machine podnet runs on.
    pub host: Sandbox,
    /// A LAN neighbour of the host.
    pub outside: Sandbox,
    /// The settings the lab was built with.
    pub config: LabConfig,
}

impl Lab {
    /// A lab with the default [`LabConfig`].
    pub fn new() -> Result<Lab> {
        Lab::with_config(LabConfig::default())
    }

    /// A lab built as `config` says.
    pub fn with_config(config: LabConfig) -> Result<Lab> {
        let host = Sandbox::with_config(config.sandbox.clone())?;
        let outside = Sandbox::with_config(config.sandbox.clone())?;
        // The peer is created straight in the outside sandbox's netns. `netns PID` is
        // resolved in the caller's PID namespace, so run `ip` in the host's netns only.
        let out = host
            .cmd_net_only("ip")
            .args([
                "link",
                "add",
                &config.host_if,
                "type",
                "veth",
                "peer",
                "name",
            ])
            .arg(&config.outside_if)
            .arg("netns")
            .arg(outside.holder_pid().to_string())
            .output()
            .map_err(|e| Error::new("ip link add veth", e))?;
        if !out.status.success() {
            return Err(Error::new("ip link add veth", super::describe(&out)));
        }
        host.sh_ok(&format!(
            "ip addr add {a} dev {i} && ip link set {i} up",
            a = config.host_addr,
            i = config.host_if
        ))?;
        outside.sh_ok(&format!(
            "ip addr add {a} dev {i} && ip link set {i} up",
            a = config.outside_addr,
            i = config.outside_if
        ))?;
        if config.host_default_via_outside {
            host.sh_ok(&format!("ip route add default via {}", config.outside_ip()))?;
        }
        Ok(Lab {
            host,
            outside,
            config,
        })
    }
}

impl LabConfig {
    /// The host's LAN address without prefix length.
    pub fn host_ip(&self) -> &str {
        self.host_addr.split('/').next().unwrap_or(&self.host_addr)
    }

    /// The outside machine's LAN address without prefix length.
    pub fn outside_ip(&self) -> &str {
        self.outside_addr
            .split('/')
            .next()
            .unwrap_or(&self.outside_addr)
    }
}
