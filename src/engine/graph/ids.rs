//! Node ids: `KIND:NAME`, stable across runs (scripts and the ui key on them).

use crate::model::PortMapping;

pub const HOST: &str = "host";

pub fn network(name: &str) -> String {
    format!("network:{name}")
}
pub fn container(name: &str) -> String {
    format!("container:{name}")
}
pub fn service(name: &str) -> String {
    format!("service:{name}")
}
/// `port:tcp/0.0.0.0:8080`.
pub fn port(m: &PortMapping) -> String {
    format!("port:{}/{}:{}", m.proto, host_ip(m), m.host_port)
}
pub fn host_ip(m: &PortMapping) -> String {
    m.host_ip
        .map_or_else(|| "0.0.0.0".into(), |ip| ip.to_string())
}
pub fn vxlan(dev: &str) -> String {
    format!("vxlan:{dev}")
}
pub fn remote_node(subnet: &str) -> String {
    format!("node:{subnet}")
}
pub fn link(name: &str) -> String {
    format!("link:{name}")
}
