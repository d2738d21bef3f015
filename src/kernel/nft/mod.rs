//! nftables over netlink
