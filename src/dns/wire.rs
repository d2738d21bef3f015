//! Byte-level helpers for relaying: forwarded messages are passed through untouched except
//! for their 16-bit id, so they are never decoded and re-encoded (which could drop records
//! hickory does not know, and costs time).

/// Length of the DNS header.
pub const HEADER: usize = 12;

/// The message id.
pub fn id(msg: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.first()?, *msg.get(1)?]))
}

/// Sets the message id.
pub fn set_id(msg: &mut [u8], id: u16) {
    if msg.len() >= 2 {
        msg[..2].copy_from_slice(&id.to_be_bytes());
    }
}

/// The question section of a one-question message (name, type, class), as bytes. `None`
/// for anything else, including a compressed name (no query needs one).
pub fn question(msg: &[u8]) -> Option<&[u8]> {
    if msg.len() < HEADER || msg[4..6] != [0, 1] {
        return None;
    }
    let mut at = HEADER;
    loop {
        let len = usize::from(*msg.get(at)?);
        if len & 0xC0 != 0 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            break;
        }
        if at - HEADER > 255 {
            return None;
        }
    }
    msg.get(HEADER..at + 4)
}

/// Whether `reply` answers `query`: a response with the question asked (names compared
/// without regard to ASCII case, as DNS does).
pub fn answers(reply: &[u8], query_question: &[u8]) -> bool {
    reply.len() >= HEADER
        && reply[2] & 0x80 != 0
        && question(reply).is_some_and(|q| q.eq_ignore_ascii_case(query_question))
}

/// Whether the TC bit is set.
pub fn truncated(msg: &[u8]) -> bool {
    msg.len() > 2 && msg[2] & 0x02 != 0
}

/// A SERVFAIL reply to `query`: header and question only.
pub fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let q = question(query)?;
    let mut out = Vec::with_capacity(HEADER + q.len());
    out.extend_from_slice(&query[..2]);
    // QR, the query's opcode and RD; then RA and rcode 2.
    out.push(0x80 | (query[2] & 0x79));
    out.push(0x80 | 2);
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(q);
    Some(out)
}

/// `reply` cut to header and question with TC set: what a UDP client gets when the whole
/// reply does not fit its buffer (it then asks again over TCP).
pub fn cut(reply: &[u8]) -> Option<Vec<u8>> {
    let q = question(reply)?;
    let mut out = Vec::with_capacity(HEADER + q.len());
    out.extend_from_slice(&reply[..4]);
    out[2] |= 0x02;
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(q);
    Some(out)
}

/// The largest UDP reply this query's sender accepts: its EDNS payload size when the query
/// ends with an OPT record (where stub resolvers put it), else 512.
pub fn udp_limit(query: &[u8]) -> usize {
    let Some(q) = question(query) else {
        return 512;
    };
    let at = HEADER + q.len();
    // Root name, TYPE=OPT(41), then CLASS = payload size.
    match query.get(at..at + 5) {
        Some([0, 0, 41, hi, lo]) if query[10..12] == [0, 1] => {
            usize::from(u16::from_be_bytes([*hi, *lo])).clamp(512, 65535)
        }
        _ => 512,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `c1.` A IN, id 0x1234, RD.
    const QUERY: &[u8] = &[
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 2, b'c', b'1', 0, 0, 1, 0, 1,
    ];

    #[test]
    fn question_and_servfail() {
        assert_eq!(question(QUERY), Some(&QUERY[12..]));
        let sf = servfail(QUERY).unwrap();
        assert_eq!(&sf[..4], &[0x12, 0x34, 0x81, 0x82]);
        assert!(answers(&sf, question(QUERY).unwrap()));
        let mut upper = sf.clone();
        upper[13] = b'C';
        assert!(answers(&upper, question(QUERY).unwrap()));
        assert!(
            !answers(QUERY, question(QUERY).unwrap()),
            "a query is no reply"
        );
    }

    #[test]
    fn malformed_questions_are_refused() {
        let cases: &[(&str, &[u8])] = &[
            ("empty", &[]),
            ("short header", &[0, 1, 0, 0, 0, 1]),
            (
                "two questions",
                &[0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1],
            ),
            ("no question body", &[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
            (
                "label past end",
                &[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, b'a'],
            ),
            (
                "pointer",
                &[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1],
            ),
            ("no type", &[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ];
        for (what, msg) in cases {
            assert_eq!(question(msg), None, "{what}");
            assert_eq!(servfail(msg), None, "{what}");
        }
    }

    #[test]
    fn udp_limit_reads_edns() {
        assert_eq!(udp_limit(QUERY), 512);
        let mut edns = QUERY.to_vec();
        edns[11] = 1;
        edns.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]);
        assert_eq!(udp_limit(&edns), 4096);
    }
}
