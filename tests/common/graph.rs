//! The scene of the graph and ui acceptance tests (issue 12, acceptance 1 and 5): two
//! networks, five containers, a published port, a service, a `container:` sharer and a
//! host-mode process.

use super::podnet_ok;
use podnet::testbed::Sandbox;

/// Every container the scene makes.
pub const CONTAINERS: [&str; 7] = ["web", "api1", "api2", "pg", "cache", "side", "hostp"];

pub fn scene(sb: &Sandbox) {
    let sleep = ["--", "sleep", "infinity"];
    podnet_ok(
        sb,
        &["network", "create", "app", "--subnet", "10.90.0.0/24"],
    );
    podnet_ok(sb, &["network", "create", "db", "--subnet", "10.91.0.0/24"]);
    for (name, net, extra) in [
        ("web", "app", &["-p", "8080:80"][..]),
        ("api1", "app", &["--label", "app=api"][..]),
        ("api2", "app", &["--label", "app=api"][..]),
        ("pg", "db", &[][..]),
        ("cache", "db", &[][..]),
        ("side", "container:web", &[][..]),
        ("hostp", "host", &[][..]),
    ] {
        let mut args = vec!["run", "-d", "--name", name, "--network", net];
        args.extend(extra);
        args.extend(sleep);
        podnet_ok(sb, &args);
    }
    podnet_ok(
        sb,
        &[
            "service",
            "create",
            "api",
            "--port",
            "80/tcp",
            "--selector",
            "app=api",
        ],
    );
}
