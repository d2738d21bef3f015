//! A result in the request's version:
//! - 1.1.0: every field (interface `mtu`/`socketPath`/`pciID`, route `mtu`/`advmss`/
//!   `priority`/`table`/`scope`);
//! - 1.0.0: interfaces `name`/`mac`/`sandbox`, ips `address`/`gateway`/`interface`, routes
//!   `dst`/`gw`;
//! - 0.3.0, 0.3.1, 0.4.0: as 1.0.0, each ip with `version` "4" or "6";
//! - 0.1.0, 0.2.0: `ip4`/`ip6` (the first address of each family, with that family's
//!   routes), no interfaces.
//!
//! Empty lists and an empty `dns` are left out, as libcni leaves them out.

use serde_json::{json, Map, Value};

use super::{CniResult, Dns, Route};
use crate::cni::version::Version;

pub fn render(r: &CniResult, v: Version) -> Value {
    let mut out = Map::new();
    out.insert("cniVersion".into(), json!(v.as_str()));
    if v <= Version::V0_2_0 {
        legacy(r, &mut out);
    } else {
        modern(r, v, &mut out);
    }
    if !r.dns.is_empty() {
        out.insert("dns".into(), dns(&r.dns));
    }
    Value::Object(out)
}

fn modern(r: &CniResult, v: Version, out: &mut Map<String, Value>) {
    let v11 = v >= Version::V1_1_0;
    let with_family = v < Version::V1_0_0;
    if !r.interfaces.is_empty() {
        let list = r.interfaces.iter().map(|i| {
            let mut o = Map::new();
            o.insert("name".into(), json!(i.name));
            put(&mut o, "mac", i.mac.as_ref().map(|m| json!(m)));
            if v11 {
                put(&mut o, "mtu", i.mtu.map(|m| json!(m)));
            }
            put(&mut o, "sandbox", i.sandbox.as_ref().map(|s| json!(s)));
            if v11 {
                put(
                    &mut o,
                    "socketPath",
                    i.socket_path.as_ref().map(|s| json!(s)),
                );
                put(&mut o, "pciID", i.pci_id.as_ref().map(|s| json!(s)));
            }
            Value::Object(o)
        });
        out.insert("interfaces".into(), Value::Array(list.collect()));
    }
    if !r.ips.is_empty() {
        let list = r.ips.iter().map(|ip| {
            let mut o = Map::new();
            if with_family {
                let fam = if ip.address.addr().is_ipv4() {
                    "4"
                } else {
                    "6"
                };
                o.insert("version".into(), json!(fam));
            }
            o.insert("address".into(), json!(ip.address.to_string()));
            put(&mut o, "gateway", ip.gateway.map(|g| json!(g.to_string())));
            put(&mut o, "interface", ip.interface.map(|i| json!(i)));
            Value::Object(o)
        });
        out.insert("ips".into(), Value::Array(list.collect()));
    }
    if !r.routes.is_empty() {
        let list = r.routes.iter().map(|rt| route(rt, v11));
        out.insert("routes".into(), Value::Array(list.collect()));
    }
}

fn legacy(r: &CniResult, out: &mut Map<String, Value>) {
    for (key, v4) in [("ip4", true), ("ip6", false)] {
        let Some(ip) = r.ips.iter().find(|ip| ip.address.addr().is_ipv4() == v4) else {
            continue;
        };
        let mut o = Map::new();
        o.insert("ip".into(), json!(ip.address.to_string()));
        put(&mut o, "gateway", ip.gateway.map(|g| json!(g.to_string())));
        let routes: Vec<Value> = r
            .routes
            .iter()
            .filter(|rt| rt.dst.addr().is_ipv4() == v4)
            .map(|rt| route(rt, false))
            .collect();
        if !routes.is_empty() {
            o.insert("routes".into(), Value::Array(routes));
        }
        out.insert(key.into(), Value::Object(o));
    }
}

fn route(rt: &Route, v11: bool) -> Value {
    let mut o = Map::new();
    o.insert("dst".into(), json!(rt.dst.to_string()));
    put(&mut o, "gw", rt.gw.map(|g| json!(g.to_string())));
    if v11 {
        for (k, val) in [
            ("mtu", rt.mtu),
            ("advmss", rt.advmss),
            ("priority", rt.priority),
            ("table", rt.table),
            ("scope", rt.scope),
        ] {
            put(&mut o, k, val.map(|x| json!(x)));
        }
    }
    Value::Object(o)
}

fn dns(d: &Dns) -> Value {
    let mut o = Map::new();
    if !d.nameservers.is_empty() {
        o.insert("nameservers".into(), json!(d.nameservers));
    }
    put(&mut o, "domain", d.domain.as_ref().map(|s| json!(s)));
    if !d.search.is_empty() {
        o.insert("search".into(), json!(d.search));
    }
    if !d.options.is_empty() {
        o.insert("options".into(), json!(d.options));
    }
    Value::Object(o)
}

fn put(o: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        o.insert(k.into(), v);
    }
}
