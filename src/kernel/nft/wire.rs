//! Netlink attributes written straight into one growing buffer. A nest's header goes in
//! first and its length is patched when it closes, so nothing is sized twice and no
//! attribute owns a `Vec` of its own: at 10,000 dual-stack services a full load is ~220,000
//! elements, and the typed encoder's per-attribute vectors and recursive `value_len` were a
//! fifth of `podnet gc`'s CPU (docs/benchmarks.md).

use netlink_packet_core::NLA_F_NESTED;

/// `struct nlattr`: 16-bit length (header included, padding not), 16-bit type.
const NLA_HDR: usize = 4;
/// `struct nlmsghdr`.
pub(crate) const NLMSG_HDR: usize = 16;
/// Offsets in `struct nlmsghdr` of the flags and the sequence number.
pub(crate) const NLMSG_FLAGS: usize = 6;
pub(crate) const NLMSG_SEQ: usize = 8;

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(4) * 4, 0);
}

/// One attribute with `data` as its value.
pub(crate) fn put(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&((NLA_HDR + data.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    pad(out);
}

/// One attribute whose value `write` appends.
pub(crate) fn put_with(out: &mut Vec<u8>, kind: u16, write: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; NLA_HDR]);
    write(out);
    close(out, start, kind);
    pad(out);
}

pub(crate) fn put_u32(out: &mut Vec<u8>, kind: u16, v: u32) {
    put(out, kind, &v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, kind: u16, v: u64) {
    put(out, kind, &v.to_be_bytes());
}

/// A NUL-terminated string.
pub(crate) fn put_str(out: &mut Vec<u8>, kind: u16, s: &str) {
    put_with(out, kind, |o| {
        o.extend_from_slice(s.as_bytes());
        o.push(0);
    });
}

/// Opens a nested attribute (`NLA_F_NESTED`); [`end`] closes it.
pub(crate) fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; NLA_HDR]);
    start
}

pub(crate) fn end(out: &mut [u8], start: usize, kind: u16) {
    close(out, start, kind | NLA_F_NESTED);
}

fn close(out: &mut [u8], start: usize, kind: u16) {
    let len = u16::try_from(out.len() - start).expect("netlink attribute over 64 KiB");
    out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    out[start + 2..start + 4].copy_from_slice(&kind.to_ne_bytes());
}

/// Opens a netlink message with its `nfgenmsg` (version 0, resource id 0); the length is
/// patched by [`finish_msg`], the sequence number at send time.
pub(crate) fn begin_msg(out: &mut Vec<u8>, ty: u16, flags: u16, nfproto: u8) {
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&[nfproto, 0, 0, 0]);
}

pub(crate) fn finish_msg(out: &mut [u8]) {
    let len = out.len() as u32;
    out[..4].copy_from_slice(&len.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(len: u16, kind: u16) -> Vec<u8> {
        [len.to_ne_bytes(), kind.to_ne_bytes()].concat()
    }

    #[test]
    fn nest_lengths_include_padded_children_and_strings_their_nul() {
        let mut out = vec![];
        let n = begin(&mut out);
        put_str(&mut out, 1, "ab");
        put(&mut out, 2, &[7]);
        end(&mut out, n, 3);
        let want = [
            hdr(20, 3 | NLA_F_NESTED),
            hdr(7, 1),
            vec![b'a', b'b', 0, 0],
            hdr(5, 2),
            vec![7, 0, 0, 0],
        ]
        .concat();
        assert_eq!(out, want);
    }
}
