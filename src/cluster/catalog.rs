//! What the cluster's services should look like on a node, from what etcd holds: every
//! service and every node's endpoints, as last listed and watched. Pure: the agent feeds it
//! listings and watch events and renders what [`Catalog::programmed`] says into
//! `ip podnet-csvc` (`plan::services::cluster`).
//!
//! A change touches only the services it concerns: a service's own key, or an endpoint whose
//! old or new labels match a service's selector. Each touched service's backends are then
//! read from an index of the endpoints by label (one `label=value` pair of the selector
//! narrows the candidates), so an event costs the services and endpoints it concerns, not
//! the whole catalog.

use super::endpoints::{self, EndpointRecord, ENDPOINTS};
use super::etcd::{Event, Kv};
use super::services::{self, ClusterService, SERVICES};
use crate::model::{Backend, Labels};
use crate::plan::services::cluster::Programmed;
use std::collections::{BTreeMap, BTreeSet};

/// Every service and endpoint of the cluster.
#[derive(Default, Debug, Clone)]
pub struct Catalog {
    services: BTreeMap<String, ClusterService>,
    /// By `NODE/CONTAINER`.
    endpoints: BTreeMap<String, EndpointRecord>,
    /// `(label, value)` → endpoint keys carrying it.
    by_label: BTreeMap<(String, String), BTreeSet<String>>,
}

fn selects(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

impl Catalog {
    /// A catalog of a listing of `/podnet/v1/` (keys other than services and endpoints are
    /// ignored).
    pub fn from_kvs(kvs: &[Kv]) -> Catalog {
        let mut c = Catalog::default();
        for kv in kvs {
            c.put(kv);
        }
        c
    }

    pub fn services(&self) -> impl Iterator<Item = &ClusterService> {
        self.services.values()
    }

    pub fn service(&self, name: &str) -> Option<&ClusterService> {
        self.services.get(name)
    }

    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    fn index(&mut self, key: &str, labels: &Labels, add: bool) {
        for (k, v) in labels {
            let slot = (k.clone(), v.clone());
            if add {
                self.by_label
                    .entry(slot)
                    .or_default()
                    .insert(key.to_string());
            } else if let Some(s) = self.by_label.get_mut(&slot) {
                s.remove(key);
                if s.is_empty() {
                    self.by_label.remove(&slot);
                }
            }
        }
    }

    /// Services whose selector picks `labels`.
    fn selecting(&self, labels: &Labels) -> Vec<String> {
        self.services
            .values()
            .filter(|s| selects(&s.selector, labels))
            .map(|s| s.name.clone())
            .collect()
    }

    /// Applies one put; returns the services it may change.
    fn put(&mut self, kv: &Kv) -> BTreeSet<String> {
        let mut touched = BTreeSet::new();
        if kv.key.starts_with(SERVICES) {
            if let Some(s) = services::decode(kv) {
                touched.insert(s.name.clone());
                self.services.insert(s.name.clone(), s);
            }
        } else if let Some(rest) = kv.key.strip_prefix(ENDPOINTS) {
            if let Some((_, _, rec)) = endpoints::decode(kv) {
                if let Some(old) = self.endpoints.remove(rest) {
                    touched.extend(self.selecting(&old.labels));
                    self.index(rest, &old.labels, false);
                }
                touched.extend(self.selecting(&rec.labels));
                self.index(rest, &rec.labels, true);
                self.endpoints.insert(rest.to_string(), rec);
            }
        }
        touched
    }

    fn delete(&mut self, key: &str) -> BTreeSet<String> {
        let mut touched = BTreeSet::new();
        if let Some(name) = key.strip_prefix(SERVICES) {
            if self.services.remove(name).is_some() {
                touched.insert(name.to_string());
            }
        } else if let Some(rest) = key.strip_prefix(ENDPOINTS) {
            if let Some(old) = self.endpoints.remove(rest) {
                touched.extend(self.selecting(&old.labels));
                self.index(rest, &old.labels, false);
            }
        }
        touched
    }

    /// Applies watched events; the services whose programming may have changed.
    pub fn apply(&mut self, events: &[Event]) -> BTreeSet<String> {
        let mut touched = BTreeSet::new();
        for e in events {
            touched.extend(match e {
                Event::Put(kv) => self.put(kv),
                Event::Delete(key) => self.delete(key),
            });
        }
        touched
    }

    /// The backends of a service now: every endpoint its selector picks, on any node.
    pub fn backends(&self, s: &ClusterService) -> Vec<Backend> {
        // The narrowest of the selector's label pairs gives the candidates.
        let Some(cands) = s
            .selector
            .iter()
            .map(|(k, v)| self.by_label.get(&(k.clone(), v.clone())))
            .min_by_key(|c| c.map_or(0, BTreeSet::len))
        else {
            return vec![];
        };
        let Some(cands) = cands else { return vec![] };
        let out: Vec<Backend> = cands
            .iter()
            .filter_map(|k| self.endpoints.get(k))
            .filter(|e| selects(&s.selector, &e.labels))
            .map(|e| Backend::new(e.ip))
            .collect();
        crate::plan::services::canonical(&out)
    }

    /// What service `name` should be programmed as (None: it does not exist).
    pub fn programmed(&self, name: &str) -> Option<Programmed> {
        let s = self.services.get(name)?;
        Some((s.service(), self.backends(s)))
    }

    /// Every service as it should be programmed.
    pub fn all(&self) -> BTreeMap<String, Programmed> {
        self.services
            .keys()
            .filter_map(|n| Some((n.clone(), self.programmed(n)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::endpoints::endpoint_key;
    use super::super::services::service_key;
    use super::*;
    use crate::model::{Proto, ServicePort};

    fn labels(s: &str) -> Labels {
        s.split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn kv(key: String, value: Vec<u8>) -> Kv {
        Kv {
            key,
            value,
            create_revision: 1,
            mod_revision: 1,
            lease: 0,
        }
    }

    fn svc(name: &str, sel: &str, vip: u8) -> Kv {
        let s = ClusterService {
            name: name.into(),
            vip: std::net::Ipv4Addr::new(10, 43, 0, vip),
            ports: vec![ServicePort {
                port: 80,
                target_port: 80,
                proto: Proto::Tcp,
                node_port: None,
            }],
            selector: labels(sel),
            affinity_timeout: None,
        };
        kv(service_key(name), services::encode(&s))
    }

    fn ep(node: &str, c: &str, ip: &str, l: &str) -> Kv {
        let r = EndpointRecord {
            ip: ip.parse().unwrap(),
            labels: labels(l),
        };
        kv(endpoint_key(node, c), endpoints::encode(&r))
    }

    fn ips(c: &Catalog, name: &str) -> Vec<String> {
        c.programmed(name)
            .unwrap()
            .1
            .iter()
            .map(|b| b.ip.to_string())
            .collect()
    }

    #[test]
    fn backends_come_from_every_node_by_selector() {
        let c = Catalog::from_kvs(&[
            svc("web", "app=web", 1),
            svc("db", "app=db,tier=a", 2),
            ep("n1", "w1", "10.244.1.2", "app=web"),
            ep("n2", "w2", "10.244.2.2", "app=web,x=y"),
            ep("n3", "d1", "10.244.3.2", "app=db,tier=a"),
            ep("n3", "d2", "10.244.3.3", "app=db,tier=b"),
            kv("/podnet/v1/nodes/n1".into(), b"{}".to_vec()),
        ]);
        assert_eq!(ips(&c, "web"), vec!["10.244.1.2", "10.244.2.2"]);
        assert_eq!(ips(&c, "db"), vec!["10.244.3.2"]);
        assert_eq!(c.endpoint_count(), 4);
        assert!(c.programmed("nope").is_none());
    }

    #[test]
    fn events_touch_only_the_services_they_concern() {
        let mut c = Catalog::from_kvs(&[svc("web", "app=web", 1), svc("db", "app=db", 2)]);
        let t = c.apply(&[Event::Put(ep("n1", "w1", "10.244.1.2", "app=web"))]);
        assert_eq!(t, ["web".to_string()].into());
        // Relabelled from web to db: both change.
        let t = c.apply(&[Event::Put(ep("n1", "w1", "10.244.1.2", "app=db"))]);
        assert_eq!(t, ["db".to_string(), "web".to_string()].into());
        assert!(ips(&c, "web").is_empty());
        assert_eq!(ips(&c, "db"), vec!["10.244.1.2"]);
        // An endpoint no one selects touches nothing.
        assert!(c
            .apply(&[Event::Put(ep("n2", "x", "10.244.2.9", "app=other"))])
            .is_empty());
        let t = c.apply(&[Event::Delete(endpoint_key("n1", "w1"))]);
        assert_eq!(t, ["db".to_string()].into());
        assert!(ips(&c, "db").is_empty());
        let t = c.apply(&[Event::Delete(service_key("web"))]);
        assert_eq!(t, ["web".to_string()].into());
        assert!(c.programmed("web").is_none());
    }
}
