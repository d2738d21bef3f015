//! The kernel floors: the netlink and nftables work of each op done in-process, no spawn.

use crate::bench::{ms_since, podnet_json, Bench};
use podnet::kernel::nft::socket::NftSocket;
use podnet::kernel::{addr, link, netns, route, Rtnl};
use podnet::model::{PortMapping, Proto};
use podnet::plan::netfilter::{self as plan, PortFacts};
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Host port of the in-process nftables floor.
pub(crate) const FLOOR_PORT: u16 = 10003;

/// In-process floor of attach -p / detach with one port, ms (see `floor_attach_full_p`).
pub(crate) struct FloorP {
    /// Everything attach -p does in the kernel.
    pub(crate) full: f64,
    /// nftables socket open + element add + close.
    pub(crate) nft_add: f64,
    /// The close alone, after the add.
    pub(crate) add_close: f64,
    /// nftables socket open + element delete + close.
    pub(crate) nft_del: f64,
    /// The close alone, after the delete (the kernel flushes nf_tables' destroy work).
    pub(crate) del_close: f64,
    /// nft delete (open, delete, close) + veth delete.
    pub(crate) detach: f64,
}

/// What the floor needs to know about the network podnet made.
pub(crate) struct Net {
    pub(crate) bridge_index: u32,
    pub(crate) prefix: u8,
    pub(crate) gateway: Ipv4Addr,
    pub(crate) broadcast: u32,
}

impl Bench {
    /// The kernel work of an attach, as podnet does it: veth `name` on the bridge with its
    /// peer created as `eth0` in the namespace `ns`; inside (own socket via setns) lo up, look
    /// up eth0, address `ip`, eth0 up, default route. Returns the socket inside.
    fn wire_veth(&mut self, net: &Net, ns: &File, name: &str, ip: Ipv4Addr) -> Rtnl {
        link::create_veth(
            &mut self.host,
            name,
            Some(net.bridge_index),
            1500,
            "eth0",
            ns.as_fd(),
            None,
        )
        .expect("create veth");
        let mut inside = netns::rtnl_in(ns).expect("socket in netns");
        link::set_up_by_name(&mut inside, "lo").expect("lo up");
        let eth0 = link::get(&mut inside, "eth0")
            .expect("get eth0")
            .expect("eth0 exists");
        addr::add(&mut inside, eth0.index, ip, net.prefix).expect("add address");
        link::set_up(&mut inside, eth0.index).expect("eth0 up");
        route::add_default(&mut inside, net.gateway).expect("default route");
        inside
    }

    /// The kernel floor of attach/detach, in-process: one NEWLINK creating the veth with its
    /// peer directly in the namespace, enslaved and up; then its delete. Returns (add, del).
    pub(crate) fn floor_veth(&mut self, net: &Net) -> (f64, f64) {
        let ns = self.new_netns("k");
        let f = File::open(&ns).expect("open netns");
        let name = format!("bfk{}", self.next());
        let t0 = Instant::now();
        link::create_veth(
            &mut self.host,
            &name,
            Some(net.bridge_index),
            1500,
            "eth0",
            f.as_fd(),
            None,
        )
        .expect("create veth");
        let add = ms_since(t0);
        self.settle();
        let t0 = Instant::now();
        assert!(link::delete(&mut self.host, &name).expect("delete veth"));
        let del = ms_since(t0);
        drop(f);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        (add, del)
    }

    /// Everything podnet's attach does in the kernel, in-process: the veth as above, then
    /// inside the namespace (own socket via setns) lo up, look up eth0, address, eth0 up,
    /// default route. Cleaned up untimed.
    pub(crate) fn floor_attach_full(&mut self, net: &Net) -> f64 {
        let ns = self.new_netns("k");
        let f = File::open(&ns).expect("open netns");
        let i = self.next();
        let name = format!("bfk{i}");
        let ip = Ipv4Addr::from(net.broadcast - 1 - (i as u32 % 250));
        let t0 = Instant::now();
        let inside = self.wire_veth(net, &f, &name, ip);
        let full = ms_since(t0);
        drop(inside);
        link::delete(&mut self.host, &name).expect("delete veth");
        drop(f);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        full
    }

    /// The kernel floor of `attach -p` / `detach` of a container with one published port,
    /// in-process: everything [`Self::floor_attach_full`] does, then the host end up as a
    /// hairpin port (one message, as podnet) and the same element-only nftables transaction podnet sends (one `ports_any` map
    /// element) on a fresh NETLINK_NETFILTER socket, closed again, as each podnet process
    /// does; then the element delete the same way and the veth delete.
    pub(crate) fn floor_attach_full_p(&mut self, net: &Net) -> FloorP {
        let ns = self.new_netns("k");
        let f = File::open(&ns).expect("open netns");
        let i = self.next();
        let name = format!("bfk{i}");
        let ip = Ipv4Addr::from(net.broadcast - 1 - (i as u32 % 250));
        let ports = [PortFacts {
            container_ip: ip,
            container_ip6: None,
            mapping: PortMapping {
                host_ip: None,
                host_port: FLOOR_PORT,
                container_port: 80,
                proto: Proto::Tcp,
            },
        }];
        let t0 = Instant::now();
        let inside = self.wire_veth(net, &f, &name, ip);
        link::set_up_hairpin(&mut self.host, &name).expect("up with hairpin");
        let t1 = Instant::now();
        let mut nft = NftSocket::open().expect("nftables socket");
        nft.apply(&plan::add_ports(&ports))
            .expect("nft add element");
        let t2 = Instant::now();
        drop(nft);
        let add_close = ms_since(t2);
        let nft_add = ms_since(t1);
        let full = ms_since(t0);
        drop(inside);
        self.settle();
        let t0 = Instant::now();
        let mut nft = NftSocket::open().expect("nftables socket");
        nft.apply(&plan::remove_ports(&ports))
            .expect("nft delete element");
        let t2 = Instant::now();
        drop(nft);
        let del_close = ms_since(t2);
        let nft_del = ms_since(t0);
        assert!(link::delete(&mut self.host, &name).expect("delete veth"));
        let detach = ms_since(t0);
        drop(f);
        netns::remove(&ns).expect("remove netns");
        self.settle();
        FloorP {
            full,
            nft_add,
            add_close,
            nft_del,
            del_close,
            detach,
        }
    }

    /// Namespace create (thread unshare + bind mount) and remove (umount + unlink) with a veth
    /// peer inside, as `podnet run`/`rm` do. Returns (add, del) ms.
    pub(crate) fn floor_netns(&mut self, net: &Net) -> (f64, f64) {
        let p = PathBuf::from(format!("/run/netns/n{}", self.next()));
        let t0 = Instant::now();
        netns::create(&p).expect("create netns");
        let add = ms_since(t0);
        let f = File::open(&p).expect("open netns");
        let name = format!("bfk{}", self.next());
        link::create_veth(
            &mut self.host,
            &name,
            Some(net.bridge_index),
            1500,
            "eth0",
            f.as_fd(),
            None,
        )
        .expect("create veth");
        drop(f);
        self.settle();
        let t0 = Instant::now();
        netns::remove(&p).expect("remove netns");
        let del = ms_since(t0);
        let deadline = Instant::now() + Duration::from_secs(10);
        while link::get(&mut self.host, &name).expect("get").is_some() {
            assert!(
                Instant::now() < deadline,
                "veth {name} still there 10 s after"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        self.settle();
        (add, del)
    }
}

pub(crate) fn network_facts(podnet: &str, host: &mut Rtnl) -> Net {
    let d = podnet_json(podnet, &["network", "inspect", "podnet0"]);
    let subnet: ipnet::Ipv4Net = d["subnet"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("network subnet");
    let gateway: Ipv4Addr = d["gateway"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("network gateway");
    let bridge = d["bridge"].as_str().expect("network bridge");
    let bridge = link::get(host, bridge)
        .expect("get bridge")
        .expect("bridge exists");
    Net {
        bridge_index: bridge.index,
        prefix: subnet.prefix_len(),
        gateway,
        broadcast: u32::from(subnet.broadcast()),
    }
}
