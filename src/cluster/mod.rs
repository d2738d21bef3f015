//! Cluster mode's control plane (issue 11): the cluster's state in a real etcd 3.
//!
//! - [`config`]: `/podnet/v1/config`, the pod CIDR, node prefix and VNI (`podnet cluster init`).
//! - [`lease`]: a node joins: its subnet (compare-and-swap) and VTEP bound to an etcd lease.
//! - [`watch`]: list + watch of the nodes, delivered to a [`watch::NodeSink`] (the overlay).
//! - [`host`]: the node's own routes against the pod CIDR (checked at join).
//! - [`local`]: what a node remembers in its state root (`cluster.json`).
//! - [`services`], [`endpoints`]: the cluster's services and every node's containers as
//!   their backends; [`catalog`]: what they make a node program (pure).
//! - [`etcd`]: the etcd client (JSON gateway over blocking HTTP/1.1).
//!
//! Nothing here runs unless a cluster command or a cluster-mode agent calls it: single-host
//! commands never touch it (the hot path starts no thread and opens no socket for it).

pub mod catalog;
pub mod config;
pub mod endpoints;
pub mod etcd;
pub mod host;
pub mod lease;
pub mod local;
pub mod member;
pub mod node;
pub mod services;
pub mod watch;
