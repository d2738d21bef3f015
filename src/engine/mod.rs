//! Orchestration: runs core decisions against the store and the kernel, in the order that makes
//! every operation repairable after a crash (record first, kernel work, then mark ready).

pub mod boot;
pub mod container;
pub mod detach;
pub mod firewall;
pub mod flows;
pub mod foreground;
pub mod gc;
pub mod health;
pub mod inspect;
pub mod logs;
pub mod network;
pub mod owner;
pub mod proc;
pub mod publish;
pub mod runtime;
pub mod service;
pub mod setup;

use crate::kernel::nft::{NftError, NftSocket};
use crate::kernel::Rtnl;
use crate::model::{Error, Result};
use crate::store::Store;
use std::path::{Path, PathBuf};

/// The name of the default network (and its bridge), as `docker0` is Docker's.
pub const DEFAULT_NETWORK: &str = "podnet0";
/// Default MTU of bridges and veths.
pub const DEFAULT_MTU: u32 = 1500;

/// What a command does with state, which decides how the context opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only reads: the store must exist (no state directory is made under a mistyped root).
    Read,
    /// Changes what exists: needs CAP_NET_ADMIN, and the store must exist.
    Change,
    /// May create state: needs CAP_NET_ADMIN; creates the store if needed.
    Create,
}

/// Everything an operation needs: where state lives and the host's netlink socket.
pub struct Ctx {
    pub root: PathBuf,
    pub run_dir: PathBuf,
    pub store: Store,
    host: Option<Rtnl>,
    nft: Option<NftSocket>,
}

impl Ctx {
    /// Open for work that creates state (the store too, if needed); see [`Access`].
    pub fn open(root: &Path, run_dir: &Path) -> Result<Ctx> {
        Ctx::open_as(root, run_dir, Access::Create)
    }

    pub fn open_as(root: &Path, run_dir: &Path, access: Access) -> Result<Ctx> {
        if access != Access::Read && !crate::kernel::caps::has_net_admin() {
            return Err(Error::needs_root(
                "it changes network namespaces, links and netfilter: run it as root (e.g. with sudo)",
            ));
        }
        let store = match access {
            Access::Create => Store::open(root)?,
            Access::Read | Access::Change => Store::open_existing(root)?,
        };
        Ok(Ctx::with_store(root, run_dir, store))
    }

    /// A context over an empty store of its own, for listing where there is no state at all.
    pub fn empty(root: &Path, run_dir: &Path) -> Result<Ctx> {
        Ok(Ctx::with_store(root, run_dir, Store::empty()?))
    }

    fn with_store(root: &Path, run_dir: &Path, store: Store) -> Ctx {
        Ctx {
            root: root.to_path_buf(),
            run_dir: run_dir.to_path_buf(),
            store,
            host: None,
            nft: None,
        }
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
            let s = NftSocket::open().map_err(|e| nft_error("nftables", e))?;
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
}

/// A store error with the database file under `root` named in it and its cause made precise
/// (front ends call this on the errors they report).
pub fn name_store_error(e: Error, root: &Path) -> Error {
    crate::store::name(e, &crate::store::db_path(root))
}

/// An nftables failure as the engine reports it: a refusal for lack of privilege is the
/// kernel's EPERM (the message then says podnet needs root), anything else a failure.
pub(crate) fn nft_error(what: &str, e: NftError) -> Error {
    match e.errno() {
        Some(errno) if errno == libc::EPERM => {
            Error::kernel_msg(what, errno, format!("{what}: {e}"))
        }
        _ => Error::failed(format!("{what}: {e}")),
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if let Some(nft) = self.nft.take() {
            nft.close_detached();
        }
    }
}
