//! Where the plugin's state is, its error reply, and `create`. The calls run on podnet's
//! engine as the CLI's do: the same store (the network's `root`/`run_dir` options, else
//! `PODNET_ROOT`/`PODNET_RUN_DIR`, else the CLI's defaults: netavark passes its environment
//! on to plugins) and the same boot recovery (`engine::runtime::open`).

use std::path::{Path, PathBuf};

use super::request::{CreateRequest, NetworkSpec};
use super::{created, network, Reply};
use crate::engine::{name_store_error, runtime};
use crate::model::Error;

const DEFAULT_ROOT: &str = "/var/lib/podnet";
const DEFAULT_RUN_DIR: &str = "/run/podnet";

/// podnet's state and runtime directories for a network.
pub fn dirs(spec: &NetworkSpec) -> (PathBuf, PathBuf) {
    let pick = |given: &Option<PathBuf>, var: &str, default: &str| {
        given
            .clone()
            .or_else(|| {
                std::env::var_os(var)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(default))
    };
    (
        pick(&spec.root, "PODNET_ROOT", DEFAULT_ROOT),
        pick(&spec.run_dir, "PODNET_RUN_DIR", DEFAULT_RUN_DIR),
    )
}

/// The error reply: podnet's one line, inputs named as Podman's JSON names them, store
/// errors naming the database file.
pub fn refused(e: Error, root: &Path) -> Reply {
    let e = name_store_error(e, root);
    Reply::failed(format!("podnet: {}", e.render(&field_name)))
}

/// The engine's field keys (`model::field`) in the words of netavark's JSON.
fn field_name(key: &str) -> Option<String> {
    let name = match key {
        "ip" | "ip6" => "static_ips",
        "mac" => "static_mac",
        "ifname" => "interface_name",
        "publish" => "port_mappings",
        "bridge" => "network_interface",
        "subnet" => "subnet",
        "gateway" => "gateway",
        "netns" => "the network namespace path",
        "root" => "option root",
        "run_dir" => "option run_dir",
        _ => return None,
    };
    Some(name.to_owned())
}

/// `create`: the podnet network is made (or an agreeing one is found) now, so that its
/// subnet is podnet's from `podman network create` on; the answer carries its values.
pub fn create(req: &CreateRequest) -> Reply {
    let (root, run_dir) = dirs(&req.spec);
    let made =
        runtime::open(&root, &run_dir).and_then(|mut ctx| network::ensure(&mut ctx, &req.spec));
    match made {
        Ok(net) => Reply::ok(Some(&created(&req.network, &network::settled(&net)))),
        Err(e) => refused(e, &root),
    }
}
