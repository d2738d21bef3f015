//! Userdata of tables and rules in libnftnl's TLV layout, so that `nft list` shows what podnet
//! writes as a comment: type `NFTNL_UDATA_{TABLE,RULE}_COMMENT` (0, the same number for both),
//! one length byte, the text with its terminating NUL.

/// `NFTNL_UDATA_TABLE_COMMENT` / `NFTNL_UDATA_RULE_COMMENT`.
const COMMENT: u8 = 0;
/// The kernel keeps at most 256 bytes of userdata (NFT_USERDATA_MAXLEN): type, length, text, NUL.
const MAX_TEXT: usize = 253;

/// A comment TLV; text past 253 bytes is cut (at a character boundary).
pub fn comment(text: &str) -> Vec<u8> {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut ud = vec![COMMENT, (end + 1) as u8];
    ud.extend_from_slice(&text.as_bytes()[..end]);
    ud.push(0);
    ud
}

/// The comment in a userdata blob, if it holds one.
pub fn comment_of(mut ud: &[u8]) -> Option<String> {
    while ud.len() >= 2 {
        let (kind, len) = (ud[0], ud[1] as usize);
        if ud.len() < 2 + len {
            return None;
        }
        if kind == COMMENT {
            return Some(super::query::string(&ud[2..2 + len]));
        }
        ud = &ud[2 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_round_trips_and_matches_nft() {
        // `nft --debug=mnl add table ip u { comment "hi"; }` sends NFTA_TABLE_USERDATA 00 03 68 69 00.
        assert_eq!(comment("hi"), vec![0, 3, b'h', b'i', 0]);
        assert_eq!(
            comment_of(&comment("podnet:ab /x")).as_deref(),
            Some("podnet:ab /x")
        );
        let long = "é".repeat(200);
        let ud = comment(&long);
        assert!(ud.len() <= 256);
        assert!(long.starts_with(&comment_of(&ud).unwrap()));
        assert_eq!(comment_of(&[0, 9, b'x']), None, "TLV longer than the data");
        assert_eq!(comment_of(&[1, 1, 0, 0, 2, b'a', 0]).as_deref(), Some("a"));
    }
}
