//! One family's side of the services: where a record keeps that family's VIP and programmed
//! backends, which store rows record its bucket chains, which table it lives in and which
//! address of a container serves it. The engine runs the same steps for `Ipv4Addr`
//! (`ip podnet-svc`) and `Ipv6Addr` (`ip6 podnet-svc`) through this trait.

use crate::kernel::nft::Table;
use crate::model::{BackendOf, Endpoint, Result, ServiceOf};
use crate::plan::services::{self as plan, SvcAddr};
use crate::store::{Reads, ServiceRecord, Writes};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

pub trait Side: SvcAddr {
    /// "IPv4" / "IPv6", for messages.
    const NAME: &'static str;
    /// The record's side of this family, if it has one.
    fn service(rec: &ServiceRecord) -> Option<ServiceOf<Self>>;
    fn programmed(rec: &ServiceRecord) -> &[BackendOf<Self>];
    fn programmed_mut(rec: &mut ServiceRecord) -> &mut Vec<BackendOf<Self>>;
    /// The container's address of this family.
    fn addr(ep: &Endpoint) -> Option<Self>;
    /// This family's of a container's two addresses.
    fn pick(v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> Option<Self>;
    /// Whether any service has this side (its table and route exist).
    fn any(tx: &dyn Reads) -> Result<bool>;
    fn bucket_sizes(tx: &dyn Reads) -> Result<BTreeSet<usize>>;
    fn record_buckets(tx: &dyn Writes, sizes: &[usize], reset: bool) -> Result<()>;
    fn store_programmed(tx: &dyn Writes, id: i64, b: &[BackendOf<Self>]) -> Result<()>;
    fn tables() -> [Table; 1];
}

impl Side for Ipv4Addr {
    const NAME: &'static str = "IPv4";
    fn service(rec: &ServiceRecord) -> Option<ServiceOf<Self>> {
        rec.service.v4()
    }
    fn programmed(rec: &ServiceRecord) -> &[BackendOf<Self>] {
        &rec.programmed
    }
    fn programmed_mut(rec: &mut ServiceRecord) -> &mut Vec<BackendOf<Self>> {
        &mut rec.programmed
    }
    fn addr(ep: &Endpoint) -> Option<Self> {
        ep.ip
    }
    fn pick(v4: Option<Ipv4Addr>, _: Option<Ipv6Addr>) -> Option<Self> {
        v4
    }
    fn any(tx: &dyn Reads) -> Result<bool> {
        tx.any_service4()
    }
    fn bucket_sizes(tx: &dyn Reads) -> Result<BTreeSet<usize>> {
        tx.bucket_sizes()
    }
    fn record_buckets(tx: &dyn Writes, sizes: &[usize], reset: bool) -> Result<()> {
        tx.record_buckets(sizes, reset)
    }
    fn store_programmed(tx: &dyn Writes, id: i64, b: &[BackendOf<Self>]) -> Result<()> {
        tx.set_programmed(id, b)
    }
    fn tables() -> [Table; 1] {
        plan::tables()
    }
}

impl Side for Ipv6Addr {
    const NAME: &'static str = "IPv6";
    fn service(rec: &ServiceRecord) -> Option<ServiceOf<Self>> {
        rec.service.v6()
    }
    fn programmed(rec: &ServiceRecord) -> &[BackendOf<Self>] {
        &rec.programmed6
    }
    fn programmed_mut(rec: &mut ServiceRecord) -> &mut Vec<BackendOf<Self>> {
        &mut rec.programmed6
    }
    fn addr(ep: &Endpoint) -> Option<Self> {
        ep.ip6
    }
    fn pick(_: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> Option<Self> {
        v6
    }
    fn any(tx: &dyn Reads) -> Result<bool> {
        tx.any_service6()
    }
    fn bucket_sizes(tx: &dyn Reads) -> Result<BTreeSet<usize>> {
        tx.bucket_sizes6()
    }
    fn record_buckets(tx: &dyn Writes, sizes: &[usize], reset: bool) -> Result<()> {
        tx.record_buckets6(sizes, reset)
    }
    fn store_programmed(tx: &dyn Writes, id: i64, b: &[BackendOf<Self>]) -> Result<()> {
        tx.set_programmed6(id, b)
    }
    fn tables() -> [Table; 1] {
        plan::tables6()
    }
}
