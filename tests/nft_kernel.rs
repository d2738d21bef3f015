//! Kernel tests: each runs in its own network namespace and checks what was
//! programmed against nft's independent view of the kernel state.

#[path = "nft_sandbox.rs"]
mod sandbox;

use podnet::kernel::nft::*;
use sandbox::{in_netns, nft_list};

#[test]
fn smoke() {
    let out = in_netns(|| {
        let t = Table::new(Family::Ip, "podnet");
        let mut b = Batch::new();
        b.add_table(&t);
        b.add_chain(
            &t,
            &Chain::base("postrouting", ChainType::Nat, Hook::Postrouting, 100),
        );
        let mut s = NftSocket::open().unwrap();
        s.apply(&b).unwrap();
        nft_list()
    });
    println!("{out}");
}
