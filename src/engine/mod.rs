//! Orchestration: runs core decisions against the store and the kernel, in the order that makes
//! every operation repairable after a crash (record first, kernel work, then mark ready).
//!
//! # The seam every front end uses
//! - **Open state with [`open`]** (CLI, CNI plugin, netavark plugin alike). It checks the
//!   privilege a change needs, opens the store (creating it for [`Access::Create`]) and,
//!   for a request that changes state, does the first-command-after-boot recovery
//!   ([`boot::recover_if_first`]: bridges, tables and services rebuilt, containers that died
//!   with the boot retired). A front end gets all of that by calling it; it returns what the
//!   recovery did so the front end can tell its user (the CLI prints one line).
//! - **Typed requests in, typed results out**: entry points take model types already
//!   parsed (`model::service::ServiceRequest`, `network::NetworkRequest`,
//!   `container::RunSpec`, `setup::EndpointSpec`) and return records or typed facts
//!   ([`inspect`]); parsing strings and rendering rows belong to the front end.
//! - **One error type** (`model::Error`): an input error names the field it concerns by its
//!   key (`model::mention`), never a front end's flag; each front end maps it.
//! - **The store through `store::api`** ([`Ctx::store`] is a `dyn store::State`): no
//!   database type in the engine; a write is one transaction (`ctx.store.write(|tx| ..)`).

pub mod boot;
pub mod container;
pub mod contexts;
pub mod detach;
pub mod firewall;
pub mod flows;
pub mod foreground;
pub mod gc;
pub mod graph;
pub mod health;
pub mod inspect;
pub mod logs;
pub mod names;
pub mod network;
pub mod overlay;
pub mod owner;
pub mod proc;
pub mod publish;
pub mod runtime;
pub mod service;
pub mod setup;
pub mod trace;

use crate::kernel::nft::{NftError, NftSocket};
use crate::kernel::Rtnl;
use crate::model::{Error, Result};
use crate::store::{State, Store};
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

/// Open state for one request of any front end (see the module doc): privilege check, store
/// (created for [`Access::Create`]), and, unless the request only reads, the recovery the
/// first state-changing command after a boot owes. Returns the context and what the recovery
/// did (None when there was nothing to recover). `podnet gc`, which does all the recovery
/// does and more, opens with [`Ctx::open_as`] instead.
pub fn open(root: &Path, run_dir: &Path, access: Access) -> Result<(Ctx, Option<gc::Report>)> {
    let mut ctx = Ctx::open_as(root, run_dir, access)?;
    let recovered = match access {
        Access::Read => None,
        Access::Change | Access::Create => boot::recover_if_first(&mut ctx)?,
    };
    Ok((ctx, recovered))
}

/// Everything an operation needs: where state lives and the host's netlink socket.
pub struct Ctx {
    pub root: PathBuf,
    pub run_dir: PathBuf,
    /// The state, through the engine's interface (`store::api`).
    pub store: Box<dyn State>,
    host: Option<Rtnl>,
    nft: Option<NftSocket>,
    /// Who hears of changed names (the front end's choice; none: nobody is told).
    names: Option<Box<dyn names::Announce>>,
    /// Close the nftables socket in this process when dropped, instead of leaving the final
    /// release to a forked child that outlives the process (right for a command that is
    /// about to exit, wrong for the agent, which would keep one child per dropped context).
    close_here: bool,
    /// Bridge indexes this context has looked up (name → index): a context kept between
    /// calls skips the lookup on the attach path, and redoes it if the kernel refuses the
    /// index (the bridge was made again meanwhile; see `setup::realize`).
    bridges: std::collections::HashMap<String, u32>,
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
            store: Box::new(store),
            host: None,
            nft: None,
            names: None,
            close_here: false,
            bridges: Default::default(),
        }
    }

    /// Tell `to` whenever the names the store serves change (see [`names`]).
    pub fn announce_names(mut self, to: Box<dyn names::Announce>) -> Ctx {
        self.names = Some(to);
        self
    }

    /// Make this context close its sockets in this process when dropped (a long-lived
    /// process: see the field).
    pub fn close_here(&mut self) {
        self.close_here = true;
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

    /// The port id of this context's nftables socket (opened if needed): the kernel's
    /// notifications of the changes this context makes carry it.
    pub fn nft_portid(&mut self) -> Result<u32> {
        Ok(self.nft()?.portid())
    }

    /// The store and the nftables socket at once, for work that must hold the store's write
    /// lock while it programs the kernel (service updates).
    pub fn store_and_nft(&mut self) -> Result<(&mut dyn State, &mut NftSocket)> {
        self.nft()?;
        Ok((&mut *self.store, self.nft.as_mut().expect("just opened")))
    }

    /// The store and the host's rtnetlink socket at once, for repairs made while holding the
    /// store's write lock (no one can claim the record meanwhile).
    pub fn store_and_host(&mut self) -> Result<(&mut dyn State, &mut Rtnl)> {
        self.host()?;
        Ok((&mut *self.store, self.host.as_mut().expect("just opened")))
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
            if !self.close_here {
                nft.close_detached();
            }
        }
    }
}
