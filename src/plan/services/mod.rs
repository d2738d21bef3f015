//! podnet's service plan: Kubernetes-style virtual IPs, load-balanced by
//! DNAT to backends chosen at random, with ClientIP affinity, node ports and
//! an immediate refusal when a service has no backend. Pure: builds
//! [`Batch`]es, never sends them.
//!
//! Table `ip podnet-svc`, apart from `ip podnet` (`plan::netfilter`), so
//! that [`full`] here and `plan::netfilter::full` never wipe each other.
//! IPv6 services live in its twin `ip6 podnet-svc`, the same layout over IPv6
//! addresses: every function here is generic over the address type
//! ([`SvcAddr`], the plans' [`AddrFamily`](crate::plan::family::AddrFamily)) and a call works on the table of its services' family.
//! The layout is DESIGN §3's "bucket chains": a fixed chain per backend
//! count N, every service only map elements, so every change is one small
//! transaction whatever the number of services:
//!
//! | event | call | what it sends |
//! |---|---|---|
//! | first service, repair after a flush/reboot | [`full`] | the table re-created with every element |
//! | a service created | [`add_service`] | elements (+ `bucket_N` / `affinity_Ts` chains the first time) |
//! | a service removed | [`remove_service`] | element deletes |
//! | backends change (container up/down, selector) | [`set_backends`] | changed slots only; the vmap element moves bucket when the count changes |
//! | last service removed | [`delete_all`] | the table deleted |
//!
//! Element batches fail whole (ENOENT/EEXIST) when the kernel is not as
//! the caller said; the engine then applies [`full`] from its store. Nothing
//! here lists or dumps kernel state.
//!
//! Backends are used in a canonical order (sorted, duplicates dropped): slot
//! i of a service with N backends is the i-th, so the engine can pass them
//! in any order and the plan still knows what each slot holds.
//!
//! What else the engine must do (measured in `tests/services_kernel.rs`,
//! reasons in `docs/decisions/2026-11-27-service-layout.md`):
//! - a route for the service range so the host's own connections to a VIP
//!   get past the route lookup that precedes DNAT:
//!   `ip route replace 10.43.0.0/16 dev <a podnet bridge>` (see the record).
//! - `ip podnet` loaded (its `ct status dnat` forward accept and hairpin
//!   masquerade carry service traffic between networks and back to a
//!   backend's own bridge); `ip_forward=1`, `hairpin on` on bridge ports.
//! - on backend removal of a UDP service, delete conntrack entries to that
//!   backend (ctnetlink), or clients reusing a source port keep going to it.

pub mod cluster;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::net::Ipv4Addr;

pub use super::family::AddrFamily as SvcAddr;
use crate::kernel::nft::{Batch, Element, Ruleset, Set, Table, TableDef, Value, Verdict};
use crate::model::{BackendOf, ServiceOf, ServicePort};
use rules::*;

/// Sorted, without duplicates: the slot order.
pub fn canonical<A: Ord + Copy>(backends: &[BackendOf<A>]) -> Vec<BackendOf<A>> {
    let set: BTreeSet<BackendOf<A>> = backends.iter().copied().collect();
    set.into_iter().collect()
}

/// The bucket sizes [`full`] creates for these services (what the engine
/// passes as `existing_bucket_sizes` after it).
pub fn bucket_sizes<'a, A: Ord + Copy + 'a>(
    services: impl IntoIterator<Item = &'a [BackendOf<A>]>,
) -> BTreeSet<usize> {
    services
        .into_iter()
        .map(|b| canonical(b).len())
        .filter(|n| *n > 0)
        .collect()
}

fn vip_key<A: SvcAddr>(s: &ServiceOf<A>, p: &ServicePort) -> Vec<Value> {
    vec![
        s.vip.value(),
        Value::Proto(p.proto.number()),
        Value::Port(p.port),
    ]
}

fn np_key(p: &ServicePort, node_port: u16) -> Vec<Value> {
    vec![Value::Proto(p.proto.number()), Value::Port(node_port)]
}

fn target<A: SvcAddr>(b: &BackendOf<A>, p: &ServicePort) -> Vec<Value> {
    vec![b.ip.value(), Value::Port(b.port_for(p))]
}

fn with(mut k: Vec<Value>, more: Vec<Value>) -> Vec<Value> {
    k.extend(more);
    k
}

/// Elements by set, in a stable order, for the table of family `A`.
struct Elems<A>(BTreeMap<&'static str, Vec<Element>>, PhantomData<A>);

impl<A> Default for Elems<A> {
    fn default() -> Self {
        Elems(BTreeMap::new(), PhantomData)
    }
}

impl<A: SvcAddr> Elems<A> {
    fn put(&mut self, set: &'static str, e: Element) {
        self.0.entry(set).or_default().push(e);
    }

    /// The dispatch elements of every port (vmap, node port vmap).
    fn dispatch(&mut self, s: &ServiceOf<A>, n: usize) {
        for p in &s.ports {
            self.put(
                SERVICE_IPS,
                Element::new(vip_key(s, p)).to_verdict(to_bucket(n)),
            );
            if let Some(np) = p.node_port {
                self.put(
                    NODE_PORTS,
                    Element::new(np_key(p, np)).to_verdict(to_np_bucket(n)),
                );
            }
        }
    }

    /// Slot `slot` of every port holds `b`.
    fn slot(&mut self, s: &ServiceOf<A>, slot: usize, b: &BackendOf<A>) {
        let m = Value::Mark(slot as u32);
        for p in &s.ports {
            let key = with(vip_key(s, p), vec![m.clone()]);
            self.put(EPS, Element::new(key).to_value(target(b, p)));
            if let Some(np) = p.node_port {
                let key = with(np_key(p, np), vec![m.clone()]);
                self.put(NP_EPS, Element::new(key).to_value(target(b, p)));
            }
        }
    }

    /// `b` is a live endpoint for affinity (only on affinity services).
    fn live(&mut self, s: &ServiceOf<A>, b: &BackendOf<A>) {
        if s.affinity_timeout.is_none() {
            return;
        }
        for p in &s.ports {
            self.put(
                AFFINITY_EPS,
                Element::new(with(vip_key(s, p), target(b, p))),
            );
            if let Some(np) = p.node_port {
                self.put(
                    AFFINITY_NP_EPS,
                    Element::new(with(np_key(p, np), target(b, p))),
                );
            }
        }
    }

    /// The service's affinity marks (which learn chain its ports go to).
    fn affinity(&mut self, s: &ServiceOf<A>) {
        let Some(t) = s.affinity_timeout else { return };
        for p in &s.ports {
            self.put(
                AFFINITY_SVCS,
                Element::new(vip_key(s, p)).to_verdict(Verdict::Goto(learn(t))),
            );
            if let Some(np) = p.node_port {
                self.put(
                    AFFINITY_NPS,
                    Element::new(np_key(p, np)).to_verdict(Verdict::Goto(np_learn(t))),
                );
            }
        }
    }

    /// Everything of one service.
    fn service(&mut self, s: &ServiceOf<A>, backends: &[BackendOf<A>]) {
        self.dispatch(s, backends.len());
        for (i, b) in backends.iter().enumerate() {
            self.slot(s, i, b);
            self.live(s, b);
        }
        self.affinity(s);
    }

    fn send(self, t: &Table, b: &mut Batch, delete: bool) {
        let sets = sets::<A>();
        for (name, list) in self.0 {
            let set = find(&sets, name);
            if delete {
                b.delete_elements(t, set, &list);
            } else {
                b.add_elements(t, set, &list);
            }
        }
    }
}

fn find<'a>(sets: &'a [Set], name: &str) -> &'a Set {
    sets.iter()
        .find(|s| s.name == name)
        .expect("element for a set the plan defines")
}

/// The whole desired table of the services' family as data, with every element.
pub fn ruleset<A: SvcAddr>(services: &[(ServiceOf<A>, Vec<BackendOf<A>>)]) -> Ruleset {
    ruleset_in(table_of::<A>(), services)
}

/// [`ruleset`] in table `table` (of `A`'s family): the same layout under another name, so a
/// second owner of services (the cluster's, `plan::services::cluster`) never touches this
/// one's elements.
pub fn ruleset_in<A: SvcAddr>(
    table: Table,
    services: &[(ServiceOf<A>, Vec<BackendOf<A>>)],
) -> Ruleset {
    let mut t = TableDef::new(table);
    t.sets = sets::<A>();
    t.chains = chains();
    t.rules = rules::<A>();
    let mut sizes = BTreeSet::new();
    let mut timeouts = BTreeSet::new();
    let mut e = Elems::<A>::default();
    for (s, b) in services {
        let b = canonical(b);
        if !b.is_empty() {
            sizes.insert(b.len());
        }
        timeouts.extend(s.affinity_timeout);
        e.service(s, &b);
    }
    for n in sizes {
        for (c, r) in bucket_chains::<A>(n) {
            t.chains.push(c);
            t.rules.push(r);
        }
    }
    for secs in timeouts {
        for (c, r) in learn_chains::<A>(secs) {
            t.chains.push(c);
            t.rules.extend(r);
        }
    }
    t.elements = e.0.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Ruleset { tables: vec![t] }
}

/// Atomically (re)creates `ip podnet-svc` (or `ip6 podnet-svc`) with every service, whether or
/// not it exists; nothing else in the ruleset is touched.
pub fn full<A: SvcAddr>(services: &[(ServiceOf<A>, Vec<BackendOf<A>>)]) -> Batch {
    ruleset(services).replace_batch()
}

/// Removes `ip podnet-svc` (absent is no error).
pub fn delete_all() -> Batch {
    delete_all_of::<Ipv4Addr>()
}

/// Removes the services table of family `A` (absent is no error).
pub fn delete_all_of<A: SvcAddr>() -> Batch {
    let t = table_of::<A>();
    let mut b = Batch::new();
    b.add_table(&t);
    b.delete_table(&t);
    b
}

/// Creates `bucket_N` and `np_bucket_N` unless the caller knows they exist.
/// Idempotent either way (add chain, flush it, add its one rule), so a
/// chain left over from an earlier count never holds its rule twice.
fn ensure_bucket<A: SvcAddr>(b: &mut Batch, t: &Table, n: usize, existing: &BTreeSet<usize>) {
    if n == 0 || existing.contains(&n) {
        return;
    }
    for (c, r) in bucket_chains::<A>(n) {
        b.add_chain(t, &c);
        b.flush_chain(t, &c.name);
        b.add_rule(t, &r);
    }
}

/// The learning chain of timeout `secs`, made idempotently (add, flush,
/// add rules): the engine needs no record of which timeouts exist.
fn ensure_learn<A: SvcAddr>(b: &mut Batch, t: &Table, s: &ServiceOf<A>) {
    let Some(secs) = s.affinity_timeout else {
        return;
    };
    for (c, rules) in learn_chains::<A>(secs) {
        b.add_chain(t, &c);
        b.flush_chain(t, &c.name);
        for r in &rules {
            b.add_rule(t, r);
        }
    }
}

/// One service created (the table exists). `existing_bucket_sizes`: the
/// backend counts already in use (chains `bucket_N` that exist).
pub fn add_service<A: SvcAddr>(
    s: &ServiceOf<A>,
    backends: &[BackendOf<A>],
    existing_bucket_sizes: &BTreeSet<usize>,
) -> Batch {
    add_service_in(&table_of::<A>(), s, backends, existing_bucket_sizes)
}

/// [`add_service`] in table `t`.
pub fn add_service_in<A: SvcAddr>(
    t: &Table,
    s: &ServiceOf<A>,
    backends: &[BackendOf<A>],
    existing_bucket_sizes: &BTreeSet<usize>,
) -> Batch {
    let backends = canonical(backends);
    let mut b = Batch::new();
    ensure_bucket::<A>(&mut b, t, backends.len(), existing_bucket_sizes);
    ensure_learn(&mut b, t, s);
    let mut e = Elems::default();
    e.service(s, &backends);
    e.send(t, &mut b, false);
    b
}

/// One service removed: its elements deleted, chains left (other services
/// may use them; unused ones are unreferenced and harmless). Its learned
/// affinity entries are not listed (that would need a dump): with its
/// `affinity_eps` elements gone, a connection one of them sends is dropped
/// and the entry deleted (`rules::learn_chains`); the rest expire.
pub fn remove_service<A: SvcAddr>(s: &ServiceOf<A>, backends: &[BackendOf<A>]) -> Batch {
    remove_service_in(&table_of::<A>(), s, backends)
}

/// [`remove_service`] in table `t`.
pub fn remove_service_in<A: SvcAddr>(
    t: &Table,
    s: &ServiceOf<A>,
    backends: &[BackendOf<A>],
) -> Batch {
    let mut b = Batch::new();
    let mut e = Elems::default();
    e.service(s, &canonical(backends));
    e.send(t, &mut b, true);
    b
}

/// The backends of `s` change from `old` to `new`, in one transaction:
/// only slots whose backend changed are rewritten; when the count changes
/// the dispatch elements move to the new bucket. A removed backend's
/// `affinity_eps` elements go in the same transaction: a client pinned to
/// it has its entry deleted on its next new connection, which is dropped
/// once and balanced afresh on retry (see `rules::learn_chains`).
pub fn set_backends<A: SvcAddr>(
    s: &ServiceOf<A>,
    old: &[BackendOf<A>],
    new: &[BackendOf<A>],
    existing_bucket_sizes: &BTreeSet<usize>,
) -> Batch {
    set_backends_in(&table_of::<A>(), s, old, new, existing_bucket_sizes)
}

/// [`set_backends`] in table `t`.
pub fn set_backends_in<A: SvcAddr>(
    t: &Table,
    s: &ServiceOf<A>,
    old: &[BackendOf<A>],
    new: &[BackendOf<A>],
    existing_bucket_sizes: &BTreeSet<usize>,
) -> Batch {
    let (old, new) = (canonical(old), canonical(new));
    let mut b = Batch::new();
    if old == new {
        return b;
    }
    ensure_bucket::<A>(&mut b, t, new.len(), existing_bucket_sizes);
    let (mut del, mut add) = (Elems::<A>::default(), Elems::<A>::default());
    if old.len() != new.len() {
        del.dispatch(s, old.len());
        add.dispatch(s, new.len());
    }
    for i in 0..old.len().max(new.len()) {
        let (o, n) = (old.get(i), new.get(i));
        if o == n {
            continue;
        }
        if let Some(o) = o {
            del.slot(s, i, o);
        }
        if let Some(n) = n {
            add.slot(s, i, n);
        }
    }
    for o in old.iter().filter(|o| !new.contains(o)) {
        del.live(s, o);
    }
    for n in new.iter().filter(|n| !old.contains(n)) {
        add.live(s, n);
    }
    del.send(t, &mut b, true);
    add.send(t, &mut b, false);
    b
}

/// The table [`full`] creates for IPv4 services.
pub fn tables() -> [Table; 1] {
    [table()]
}

/// The table [`full`] creates for IPv6 services.
pub fn tables6() -> [Table; 1] {
    [table_of::<std::net::Ipv6Addr>()]
}
