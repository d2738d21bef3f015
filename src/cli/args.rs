//! Command-line grammar (clap). Parsing only; [`super::commands`] does the work.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "podnet",
    version,
    about = "Container networking for real: namespaces, veth pairs, bridges, IPAM.",
    long_about = "podnet creates the single-host picture of Docker's bridge networking with real kernel objects:\n\
a network namespace per container, a veth pair into it, a Linux bridge holding the gateway address,\n\
and an address from the network's private subnet. Run `podnet demo` for a guided tour.",
    after_help = "Examples:\n  podnet demo\n  podnet run -d --name web -p 8080:80 -- python3 -m http.server 80\n  podnet run --network container:web -- curl -s 127.0.0.1\n  podnet network create lab --subnet 10.90.0.0/24\n\nExit codes: 0 done; 1 failed (kernel, store, process: `podnet gc` repairs); 2 bad input, unknown name, conflict or no state (nothing changed); 3 several names, some done and some not (each failure on its line). `run` and `exec` return the command's status (128+N for signal N), 125 when podnet failed, 126 command not executable, 127 command not found."
)]
pub struct Cli {
    /// State directory (SQLite store, logs).
    #[arg(
        long,
        global = true,
        env = "PODNET_ROOT",
        default_value = "/var/lib/podnet"
    )]
    pub root: PathBuf,
    /// Runtime directory (namespace mounts).
    #[arg(
        long,
        global = true,
        env = "PODNET_RUN_DIR",
        default_value = "/run/podnet"
    )]
    pub run_dir: PathBuf,
    /// Output format of listings and inspect (`text`, `dot` and `svg` are `graph`'s only).
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    /// `graph` only: an indented tree (what `table` means for `graph`).
    Text,
    /// `graph` only: Graphviz.
    Dot,
    /// `graph` only: a picture podnet draws itself.
    Svg,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Manage networks (a bridge and a subnet).
    #[command(subcommand)]
    Network(NetworkCmd),
    /// Manage services: a virtual IP load-balanced to containers (what kube-proxy does).
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Run a command in a new container network namespace.
    #[command(
        after_help = "Examples:\n  podnet run -- ip addr\n  podnet run -d --name web --network lab --ip 10.90.0.10 -- sleep infinity\n  podnet run -d --name web -p 8080:80 -- python3 -m http.server 80\n  podnet run -d --name web -p 80 -p 127.0.0.1::443 -- CMD   # free host ports: `podnet ports web`\n  podnet run -d --name web -p 8000-8010:80 -- CMD           # the first free one of 8000-8010\n  podnet run -d --name dns --expose 53/udp --expose 80 -P -- CMD\n  podnet run --network none -- ip link\n  podnet run --network container:web -- ip addr"
    )]
    Run(RunArgs),
    /// Wire an existing network namespace to a network (what `run` and CNI use).
    #[command(
        after_help = "Example:\n  ip netns add x && podnet attach --netns /run/netns/x --name x"
    )]
    Attach(AttachArgs),
    /// Undo `attach`: remove the namespace's veth, address lease and record.
    #[command(after_help = "Example:\n  podnet detach x")]
    Detach {
        /// Container name given to `attach`.
        name: String,
    },
    /// Print a detached container's output (kept in size-capped, rotated files).
    #[command(
        after_help = "Examples:\n  podnet logs web\n  podnet logs -f web    # until web's command ends (or Ctrl-C)"
    )]
    Logs {
        /// Keep printing new output until the container's command ends.
        #[arg(short, long)]
        follow: bool,
        name: String,
    },
    /// List containers: running ones (and attached, or being made or removed); -a adds
    /// exited ones.
    #[command(
        after_help = "Examples:\n  podnet ps\n  podnet ps -a --format json\n  podnet ps -q --filter label=app=web\n  podnet ps -a --filter status=exited --filter network=lab\n\nFilters (a key repeated: any of its values; different keys: all):\n  name=TEXT             the name contains TEXT\n  network=NET           on network NET (bridge: the default network; also host, none)\n  label=KEY[=VALUE]     has the label\n  status=STATUS         running, attached, creating, removing, exited or dead"
    )]
    Ps {
        /// Show every container, exited ones too.
        #[arg(short, long)]
        all: bool,
        /// Print names only, one per line.
        #[arg(short, long)]
        quiet: bool,
        /// KEY=VALUE: name=, network=, label= or status= (repeatable).
        #[arg(short, long = "filter", value_name = "KEY=VALUE")]
        filter: Vec<String>,
    },
    /// Show containers.
    #[command(
        after_help = "Example:\n  podnet inspect web --format json\n  podnet inspect web db    # JSON: an array, one object per container"
    )]
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Run a command inside a container's network namespace.
    #[command(after_help = "Example:\n  podnet exec web -- ip route")]
    Exec {
        name: String,
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
    /// Stop containers' processes (SIGTERM, then SIGKILL).
    #[command(
        after_help = "Example:\n  podnet stop web\n  podnet stop web db\n  podnet stop -t 60 web    # a minute's grace; web leaves its services first"
    )]
    Stop {
        #[arg(required = true)]
        names: Vec<String>,
        /// Seconds to wait before SIGKILL (one wait for all the containers named).
        #[arg(short, long, default_value_t = 10)]
        time: u64,
    },
    /// Remove containers (and their namespace, veth and address).
    #[command(after_help = "Example:\n  podnet rm web\n  podnet rm -f web db")]
    Rm {
        /// Stop running containers first.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Add, change (KEY=VALUE) or remove (KEY-) a container's labels; services selecting on
    /// them follow at once (like `kubectl label`).
    #[command(
        after_help = "Examples:\n  podnet label web1 app=web\n  podnet label web1 app-      # web1 leaves every service selecting app=..."
    )]
    Label {
        name: String,
        #[arg(required = true, value_name = "KEY=VALUE|KEY-")]
        changes: Vec<String>,
    },
    /// List a container's published ports.
    #[command(after_help = "Example:\n  podnet ports web")]
    Ports { name: String },
    /// Repair after a crash: finish or undo half-done operations, remove orphaned objects.
    /// Touches only what this state (--root) made: links and tables carry its store's id.
    #[command(
        after_help = "Examples:\n  podnet gc\n  podnet gc --format json\n  podnet gc --remove-foreign    # the state that made them is lost for good\n\nAn empty state that finds podnet objects it did not make (another --root's, or a lost or\nreplaced store's) refuses with exit 1 and names them, rather than deleting live containers."
    )]
    Gc {
        /// Also remove podnet objects this state did not make and does not record: links
        /// marked by another store or unmarked with podnet's names, podnet tables that are not
        /// this state's, and namespace mounts of a run dir this state does not own (killing
        /// the processes still in them); then this state takes the run dir. Only for a state
        /// that is lost for good (e.g. a deleted or truncated podnet.db): a live one's
        /// containers go with it.
        #[arg(long)]
        remove_foreign: bool,
    },
    /// The per-host agent: serves container and service names on DNS-enabled networks'
    /// gateways. Commands start it when a DNS-enabled network gets a container; systemd
    /// can run it instead (contrib/systemd/podnet-agent.service).
    #[command(
        after_help = "Examples:\n  podnet agent                 # start it detached (its log: ROOT/agent.log)\n  podnet agent --foreground    # under systemd\n\nOne per host: a second one says which is running and exits 0."
    )]
    Agent(AgentArgs),
    /// A multi-host cluster: its shared settings in etcd.
    #[command(subcommand)]
    Cluster(ClusterCmd),
    /// The cluster's nodes, as etcd holds them.
    #[command(subcommand)]
    Node(NodeCmd),
    /// The live topology: host, bridges, containers' namespaces, veth pairs, routes,
    /// published ports, services, the overlay; from the store and the kernel together, with
    /// anything in one and not the other flagged (e.g. a veth with no owner).
    #[command(
        after_help = "Examples:\n  podnet graph\n  podnet graph --network app\n  podnet graph --format svg > net.svg\n  podnet graph --format dot | dot -Tpng > net.png\n  podnet graph --format json    # stable fields: docs/graph-json.md\n\nExit codes: 0 drawn (flags or not); 2 no such network."
    )]
    Graph {
        /// Only this network, its containers and what leads to them.
        #[arg(long)]
        network: Option<String>,
    },
    /// A local web page with the live graph and a trace form (127.0.0.1 only).
    #[command(
        after_help = "Examples:\n  podnet ui                          # http://127.0.0.1:7070/\n  podnet ui --listen 127.0.0.1:8088\n\nThe page updates within a second of any change; it loads nothing from outside."
    )]
    Ui {
        /// Where to listen: a loopback address and port (others are refused).
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: String,
    },
    /// A guided tour of container networking, in a throwaway sandbox.
    #[command(after_help = "Example:\n  podnet demo")]
    Demo,
    /// Follow a real probe hook by hook and say which podnet object decided its fate.
    #[command(
        after_help = "Examples:\n  podnet trace web db:5432\n  podnet trace web 1.1.1.1:53/udp\n  podnet trace host 127.0.0.1:8080\n  podnet trace web api:80                  # a service: the chosen backend is shown\n  podnet trace 198.18.0.2 198.18.0.1:8080 # an outside sender: armed, waits for its packet\n  podnet trace -6 web db:5432               # IPv6 (dual-stack networks)\n  podnet trace host '[::1]:8080'\n\nFROM and TO: a container, a service (TO only), `host`, or an IPv4 or IPv6 address. Tracing\nleaves no rule behind, even when killed: its nftables table belongs to the process's socket."
    )]
    Trace {
        from: String,
        /// TO:PORT[/tcp|udp] (an IPv6 address as [ADDR]:PORT).
        to: String,
        /// IPv6: containers, services and `host` stand for their IPv6 addresses.
        #[arg(short = '6', long = "ipv6")]
        ipv6: bool,
        /// Send N probes, one trace each.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Seconds to wait for the packet (an outside sender: for it to send one).
        #[arg(long)]
        timeout: Option<f64>,
    },
}

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// Stay in the foreground (log to stderr) instead of starting a detached agent.
    #[arg(long)]
    pub foreground: bool,
    /// Cluster mode: etcd's client URLs, comma-separated (default: those `podnet cluster
    /// init` recorded in the state root).
    #[arg(long, value_name = "URLS")]
    pub etcd: Option<String>,
    /// Cluster mode: join the cluster as this node (kept in the state root for next time).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// The address (or the interface whose IPv4 address) other nodes reach this one on.
    #[arg(long, value_name = "ADDR|IFACE")]
    pub underlay: Option<String>,
    /// The MAC of this node's VXLAN device; default: a random one kept in the state root.
    #[arg(long, value_name = "MAC")]
    pub vtep_mac: Option<String>,
    /// Seconds the node's etcd lease lives without renewal (its agent renews it every third).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub lease_ttl: Option<u64>,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCmd {
    /// Write the cluster's settings to etcd, once (the same values again succeed).
    #[command(
        after_help = "Example:\n  podnet cluster init --etcd http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379 --pod-cidr 10.244.0.0/16"
    )]
    Init {
        /// etcd's client URLs, comma-separated.
        #[arg(long, value_name = "URLS", required = true)]
        etcd: String,
        /// The range every node's pod subnet comes from.
        #[arg(long, value_name = "CIDR", required = true)]
        pod_cidr: String,
        /// The prefix length of each node's subnet.
        #[arg(long, default_value_t = 24, value_name = "LEN")]
        node_prefix: u8,
        /// The VXLAN network identifier of the overlay.
        #[arg(long, default_value_t = 1)]
        vni: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum NodeCmd {
    /// List the cluster's live nodes.
    #[command(after_help = "Example:\n  podnet node ls --format json")]
    Ls {
        /// etcd's client URLs (default: the ones in the state root).
        #[arg(long, value_name = "URLS")]
        etcd: Option<String>,
    },
    /// Show one node: subnet, VTEP, lease.
    #[command(after_help = "Example:\n  podnet node inspect node1")]
    Inspect {
        name: String,
        /// etcd's client URLs (default: the ones in the state root).
        #[arg(long, value_name = "URLS")]
        etcd: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Create a network.
    #[command(
        after_help = "Examples:\n  podnet network create lab\n  podnet network create lab --subnet 10.90.0.0/24 --gateway 10.90.0.254 --mtu 1400\n  podnet network create web --ipv6\n  podnet network create web --subnet 10.90.0.0/24 --subnet fd00:90::/64 --ipv6-nat=false"
    )]
    Create(CreateArgs),
    /// List networks.
    #[command(after_help = "Example:\n  podnet network ls --format json")]
    Ls,
    /// Show one network and its containers.
    #[command(after_help = "Example:\n  podnet network inspect podnet0")]
    Inspect { name: String },
    /// Remove networks no container uses.
    #[command(after_help = "Example:\n  podnet network rm lab")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove every unused network except the default.
    #[command(after_help = "Example:\n  podnet network prune")]
    Prune,
    /// Connect a running container to one more network (its next interface, eth1, ...).
    #[command(
        after_help = "Examples:\n  podnet network connect backend web\n  podnet network connect backend web --ip 10.91.0.20 --alias api"
    )]
    Connect(ConnectArgs),
    /// Disconnect a container from a network it was connected to (not its first).
    #[command(after_help = "Example:\n  podnet network disconnect backend web")]
    Disconnect { network: String, container: String },
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    pub network: String,
    pub container: String,
    /// Address on the network; default: the next free one.
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address on a dual-stack network; default: the next free one.
    #[arg(long)]
    pub ip6: Option<String>,
    /// Another name of the container on this network (repeatable).
    #[arg(long = "alias", visible_alias = "network-alias", value_name = "NAME")]
    pub alias: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    /// Subnet in CIDR form (not loopback, link-local, multicast or reserved space); default:
    /// a free private /16. Give it twice for a dual-stack network: one IPv4 and one IPv6
    /// subnet (e.g. fd00:90::/64, at most /120).
    #[arg(long)]
    pub subnet: Vec<String>,
    /// Dual-stack: an IPv6 subnet beside the IPv4 one (without an IPv6 --subnet, a /64 from
    /// this host's unique local /48, or from --ipv6-pool). IPv6-only networks are not
    /// supported.
    #[arg(long)]
    pub ipv6: bool,
    /// IPv4 on the network (always: `--ipv4=false`, an IPv6-only network, is refused).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub ipv4: bool,
    /// Masquerade IPv6 egress (NAT66); `--ipv6-nat=false` routes the IPv6 subnet unchanged
    /// (for a global subnet the upstream routes to this host).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub ipv6_nat: bool,
    /// Where picked IPv6 subnets come from (a /64 each); default: this host's unique local
    /// /48, chosen at random once and kept in the state store.
    #[arg(long, env = "PODNET_IPV6_POOL", value_name = "CIDR")]
    pub ipv6_pool: Option<String>,
    /// Gateway address (on the bridge); default: the subnet's first address.
    #[arg(long)]
    pub gateway: Option<String>,
    /// MTU of the bridge and veths.
    #[arg(long)]
    pub mtu: Option<u32>,
    /// Bridge interface name; default: pn-NAME.
    #[arg(long)]
    pub bridge: Option<String>,
    /// Containers on this network never reach outside the host (and cannot publish ports).
    #[arg(long)]
    pub internal: bool,
    /// Inter-container communication on the bridge (`--icc=false` drops it; published ports still work).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub icc: bool,
    /// Containers resolve each other's names (and services') through the agent's DNS server
    /// on the gateway (`--dns=false`: no name service; resolv.conf then points at the host's).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub dns: bool,
    /// bridge (a podnet bridge, NAT out) | macvlan (containers directly on the LAN of
    /// --parent, each with its own MAC and address; no NAT, no published ports).
    #[arg(long, default_value = "bridge", value_name = "DRIVER")]
    pub driver: String,
    /// macvlan: the host interface on the LAN (e.g. eth0).
    #[arg(long, value_name = "IFACE")]
    pub parent: Option<String>,
    /// macvlan: where container addresses come from (inside --subnet; default: all of it,
    /// never the gateway or the host's own address).
    #[arg(long, value_name = "CIDR")]
    pub ip_range: Option<String>,
    /// macvlan: bridge (default) | private | vepa | passthru.
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// macvlan: a macvlan shim on the host with a route to the range, so the host can reach
    /// its containers (the kernel never delivers between a macvlan and its parent).
    #[arg(long)]
    pub host_access: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Keep running in the background until `podnet rm`.
    #[arg(short, long)]
    pub detach: bool,
    /// Container name; default: generated.
    #[arg(long)]
    pub name: Option<String>,
    /// bridge | host | none | container:NAME | NETWORK; repeat it for several bridge networks
    /// (the first is eth0 with the default route, the next eth1, ... with their subnet's route).
    #[arg(long, default_value = "bridge", value_name = "NETWORK")]
    pub network: Vec<String>,
    /// Another name of the container on its networks (repeatable).
    #[arg(long = "network-alias", value_name = "NAME")]
    pub network_alias: Vec<String>,
    /// The container's host name (its UTS name, and its name in its /etc/hosts); default:
    /// its container name.
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// A name server for the container's /etc/resolv.conf (repeatable); default: its user
    /// network's DNS server (the gateway), else the host's name servers without loopback ones.
    #[arg(long, value_name = "ADDR")]
    pub dns: Vec<String>,
    /// A search domain for the container's /etc/resolv.conf (repeatable).
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// An extra line NAME:ADDR of the container's /etc/hosts (repeatable).
    #[arg(long = "add-host", value_name = "NAME:ADDR")]
    pub add_host: Vec<String>,
    /// Address on the (first) network; default: the next free one.
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address on a dual-stack (first) network; default: the next free one.
    #[arg(long)]
    pub ip6: Option<String>,
    /// Publish a port: [[HOSTIP:][HOSTPORT[-END]]:]CPORT[-END][/tcp|udp|sctp] (repeatable);
    /// without a host port, a free one is chosen (see `podnet ports NAME`).
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
    /// Publish every --expose'd port on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// A port the container serves, PORT[-END][/tcp|udp|sctp] (repeatable); -P publishes it.
    #[arg(long = "expose", value_name = "PORT")]
    pub expose: Vec<String>,
    /// A label KEY=VALUE (repeatable); service selectors match on labels.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Size at which a detached container's log is rotated, e.g. 10m, 512k [default: 10m].
    #[arg(long, value_name = "SIZE")]
    pub log_max_size: Option<String>,
    /// Log files kept per detached container, the current one included (1-100) [default: 3].
    #[arg(long, value_name = "N")]
    pub log_max_files: Option<u32>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub argv: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Path of the network namespace, e.g. /run/netns/NAME or /proc/PID/ns/net.
    #[arg(long)]
    pub netns: String,
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "bridge")]
    pub network: String,
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address on a dual-stack network; default: the next free one.
    #[arg(long)]
    pub ip6: Option<String>,
    /// Publish a port: [[HOSTIP:][HOSTPORT[-END]]:]CPORT[-END][/tcp|udp|sctp] (repeatable);
    /// without a host port, a free one is chosen.
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
    /// A label KEY=VALUE (repeatable); service selectors match on labels.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// Create a service: a VIP on no interface, DNAT'ed by netfilter to its backends.
    #[command(
        after_help = "Examples:\n  podnet run -d --name web1 -l app=web -- python3 -m http.server 8080\n  podnet service create web --port 80:8080/tcp --selector app=web\n  podnet service create dns --port 53/udp --backend dns1 --backend dns2 --affinity client-ip\n  podnet service create api --port 80:8080 --selector app=api --node-port 30080"
    )]
    Create(ServiceCreateArgs),
    /// List services.
    #[command(after_help = "Example:\n  podnet service ls --format json")]
    Ls,
    /// Show one service and its backends.
    #[command(after_help = "Example:\n  podnet service inspect web")]
    Inspect { name: String },
    /// Remove services.
    #[command(after_help = "Example:\n  podnet service rm web")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct ServiceCreateArgs {
    pub name: String,
    /// PORT[:TARGETPORT][/tcp|udp|sctp] (repeatable).
    #[arg(long = "port", required = true, value_name = "SPEC")]
    pub ports: Vec<String>,
    /// The virtual IP, one per family (repeatable: an IPv4 and an IPv6 one for dual); default:
    /// the next free address of the service range (10.43.0.0/16, IPv6 fd00:43::/112).
    #[arg(long = "vip", value_name = "IP")]
    pub vips: Vec<String>,
    /// ipv4 (default), ipv6 or dual (one VIP per family); without it, an IPv6 --vip makes an
    /// IPv6 service and one of each a dual-stack one.
    #[arg(long, value_name = "FAMILY")]
    pub ip_family: Option<String>,
    /// Backends are the containers with these labels: KEY=VALUE[,KEY=VALUE...].
    #[arg(long, conflicts_with = "backends")]
    pub selector: Option<String>,
    /// A backend container NAME[:PORT] (repeatable).
    #[arg(long = "backend", value_name = "NAME[:PORT]")]
    pub backends: Vec<String>,
    /// client-ip: keep each client on one backend (ClientIP affinity).
    #[arg(long)]
    pub affinity: Option<String>,
    /// Seconds a client stays pinned (default 10800).
    #[arg(long)]
    pub affinity_timeout: Option<String>,
    /// Also expose the service on every host address at this port (30000-32767).
    #[arg(long)]
    pub node_port: Option<String>,
}
