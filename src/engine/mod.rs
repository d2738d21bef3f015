//! Orchestration: runs core decisions against the store and the kernel, in the order that makes
//! every operation repairable after a crash (record first, kernel work, then mark ready).

pub mod boot;
pub mod container;
pub mod detach;
pub mod firewall;
pub mod flows;
pub mod gc;
pub mod health;
pub mod network;
pub mod network_repair;
pub mod owner;
pub mod proc;
pub mod publish;
pub mod service;
pub mod service_parse;
pub mod service_route;
pub mod service_view;
pub mod setup;
pub mod view;

use crate::kernel::nft::NftSocket;
use crate::kernel::Rtnl;
use crate::model::Result;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// The name of the default network (and its bridge), as `docker0` is Docker's.
pub const DEFAULT_NETWORK: &str = "podnet0";
/// Default MTU of bridges and veths.
pub const DEFAULT_MTU: u32 = 1500;

/// Everything an operation needs: where state lives and the host's netlink socket.
pub struct Ctx {
    pub root: PathBuf,
    pub run_dir: PathBuf,
    pub store: Store,
    host: Option<Rtnl>,
    nft: Option<NftSocket>,
}

impl Ctx {
    pub fn open(root: &Path, run_dir: &Path) -> Result<Ctx> {
        Ok(Ctx {
            root: root.to_path_buf(),
            run_dir: run_dir.to_path_buf(),
            store: Store::open(root)?,
            host: None,
            nft: None,
        })
    }

    /// The rtnetlink socket of the host namespace, opened on first use.
    pub fn host(&mut self) -> Result<&mut Rtnl> {
        if self.host.is_none() {
            self.host = Some(Rtnl::open()?);
        }
        Ok(self.host.as_mut().expect("just opened"))
    }

    /// The nftables socket of the host namespace, opened on first use.
    pub fn nft(&mut self) -> Result<&mut NftSocket> {
        if self.nft.is_none() {
            let s = NftSocket::open().map_err(|e| crate::model::Error::failed(e.to_string()))?;
            self.nft = Some(s);
        }
        Ok(self.nft.as_mut().expect("just opened"))
    }

    /// The store and the nftables socket at once, for work that must hold the store's write
    /// lock while it programs the kernel (service updates).
    pub fn store_and_nft(&mut self) -> Result<(&mut Store, &mut NftSocket)> {
        self.nft()?;
        Ok((&mut self.store, self.nft.as_mut().expect("just opened")))
    }

    /// The store and the host's rtnetlink socket at once, for repairs made while holding the
    /// store's write lock (no one can claim the record meanwhile).
    pub fn store_and_host(&mut self) -> Result<(&mut Store, &mut Rtnl)> {
        self.host()?;
        Ok((&mut self.store, self.host.as_mut().expect("just opened")))
    }

    /// Where podnet pins the namespace of a container it creates.
    pub fn netns_path(&self, name: &str) -> PathBuf {
        self.run_dir.join("netns").join(name)
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.root.join("logs").join(format!("{name}.log"))
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if let Some(nft) = self.nft.take() {
            nft.close_detached();
        }
    }
}
