//! The interface names podnet generates — host veth ends `pnv<endpoint id>`, bridges `podnet0`,
//! `pn-<network>` and `pnbr<id>` — are podnet's alone: `--bridge` may not take one, and an
//! unmarked link with one of them is what an older podnet (or a lost store) left.

use super::{remedy, Identity, Owner};
use crate::engine::Ctx;
use crate::kernel::link::{self, Link};
use crate::kernel::Rtnl;
use crate::model::field::BRIDGE;
use crate::model::{Error, Network, NetworkState, Result};

/// Prefixes of the names podnet generates (see the module docs).
pub const RESERVED_PREFIXES: &[&str] = &["pnv", "pn-", "pnbr", "pnt", "pnm", "podnet"];

pub fn reserved(name: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn digits_after<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A link with a name and kind podnet gives its own links.
pub fn podnet_named(l: &Link) -> bool {
    match l.kind.as_deref() {
        Some("veth") => digits_after(&l.name, "pnv").is_some(),
        // A macvlan network's host shim.
        Some("macvlan") => digits_after(&l.name, "pnm").is_some(),
        Some("bridge") => {
            l.name == crate::engine::DEFAULT_NETWORK
                || l.name.starts_with("pn-")
                || digits_after(&l.name, "pnbr").is_some()
        }
        _ => false,
    }
}

/// `network create --bridge NAME`: podnet creates the bridge, so NAME must be free (or a bridge
/// this store made and no network uses), and none of podnet's own names. Bad input otherwise;
/// checked before anything is recorded or made.
pub fn check_bridge_flag(ctx: &mut Ctx, name: &str) -> Result<()> {
    if name == "lo" {
        return Err(Error::input(
            format!("{BRIDGE} lo is the loopback interface: give a new name for the bridge podnet creates, e.g. {BRIDGE} br-lab"),
        ));
    }
    if reserved(name) {
        return Err(Error::input(format!(
            "{BRIDGE} {name}: names starting with {} are the ones podnet gives its own links: choose another name",
            RESERVED_PREFIXES.join(", ")
        )));
    }
    let me = Identity::of(ctx);
    if let Some(l) = link::get(ctx.host()?, name)? {
        let mine = me.owner(l.alias.as_deref()) == Owner::Mine;
        if !(mine && l.kind.as_deref() == Some("bridge")) {
            return Err(Error::input(format!(
                "{BRIDGE} {name}: interface {name} already exists and podnet did not create it (podnet only uses bridges it creates): choose a name no interface has"
            )));
        }
    }
    Ok(())
}

/// A bridge `ensure_bridge` found instead of creating: usable only if this store made it, or
/// (the upgrade path) it is an unmarked podnet-named bridge of a network this store already
/// has (not one it is creating): an older podnet made it, and it is marked now. An unmarked
/// one is looked at again for a moment first — another podnet process of this store may be
/// between creating it and marking it (the kernel takes no alias at creation).
pub fn existing_bridge(me: &Identity, rtnl: &mut Rtnl, found: Link, net: &Network) -> Result<Link> {
    const LOOKS: usize = 20;
    let mut l = found;
    let adoptable = |l: &Link| {
        net.state != NetworkState::Creating
            && l.kind.as_deref() == Some("bridge")
            && podnet_named(l)
    };
    for _ in 0..LOOKS {
        if me.owner(l.alias.as_deref()) != Owner::Unmarked || adoptable(&l) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        match link::get(rtnl, &l.name)? {
            Some(again) => l = again,
            None => break,
        }
    }
    match me.owner(l.alias.as_deref()) {
        Owner::Mine if l.kind.as_deref() == Some("bridge") => Ok(l),
        Owner::Unmarked if adoptable(&l) => {
            if !link::set_alias(rtnl, &l.name, &me.link_alias())? {
                return Err(Error::failed(format!(
                    "bridge {} of network '{}' vanished while podnet marked it: try again",
                    l.name, net.name
                )));
            }
            Ok(l)
        }
        Owner::Other(s) => Err(foreign_bridge(me, &s, net)),
        // podnet's own kind of name, unmarked: an older podnet or a lost state left it.
        _ if podnet_named(&l) => Err(Error::failed(format!(
            "bridge {} of network '{}' exists without a store mark (an older podnet or a lost state made it, or someone else did): podnet uses only bridges it creates; {}",
            l.name,
            net.name,
            remedy(None, me)
        ))),
        _ => Err(Error::input(format!(
            "interface {} (the bridge of network '{}') already exists and podnet did not create it: choose another network name or {BRIDGE}",
            l.name, net.name
        ))),
    }
}

fn foreign_bridge(me: &Identity, s: &super::Stamp, net: &Network) -> Error {
    Error::failed(format!(
        "bridge {} of network '{}' belongs to {}, not {}: {}",
        net.bridge,
        net.name,
        s.describe(),
        me.describe(),
        remedy(Some(s), me)
    ))
}

/// On the attach path: the network's bridge, just looked up, must not be another state's.
/// (An unmarked one is accepted there: an older podnet made it; gc marks it.)
pub fn refuse_foreign_bridge(me: &Identity, found: &Link, net: &Network) -> Result<()> {
    match me.owner(found.alias.as_deref()) {
        Owner::Other(s) => Err(foreign_bridge(me, &s, net)),
        _ => Ok(()),
    }
}

/// Whether `net`'s bridge is this store's to delete: marked by it, or (the upgrade path)
/// an unmarked bridge of a network this store had as ready — an older podnet made it.
pub fn bridge_is_mine(me: &Identity, rtnl: &mut Rtnl, net: &Network) -> Result<bool> {
    let Some(l) = link::get(rtnl, &net.bridge)? else {
        return Ok(false);
    };
    Ok(match me.owner(l.alias.as_deref()) {
        Owner::Mine => true,
        Owner::Unmarked => {
            net.state != NetworkState::Creating && l.kind.as_deref() == Some("bridge")
        }
        Owner::Other(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str, kind: &str) -> Link {
        Link {
            index: 1,
            name: name.into(),
            kind: Some(kind.into()),
            master: None,
            up: true,
            alias: None,
        }
    }

    #[test]
    fn podnet_names() {
        for (name, kind, want) in [
            ("pnv12", "veth", true),
            ("pnv", "veth", false),
            ("pnv1x", "veth", false),
            ("pnv12", "bridge", false),
            ("podnet0", "bridge", true),
            ("pn-web", "bridge", true),
            ("pnbr7", "bridge", true),
            ("pnbrx", "bridge", false),
            ("br-ext", "bridge", false),
            ("pn-web", "dummy", false),
        ] {
            assert_eq!(podnet_named(&l(name, kind)), want, "{name} {kind}");
        }
        for name in ["pnv99", "pn-x", "pnbr3", "podnet7", "podnet0"] {
            assert!(reserved(name), "{name}");
        }
        for name in ["br-ext", "lab0", "pn", "pnx"] {
            assert!(!reserved(name), "{name}");
        }
    }
}
