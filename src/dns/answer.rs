//! One query in, one verdict out: a reply built from the table, "forward this", or
//! "ignore this" (malformed input and stray responses get no reply at all, so the server can
//! be neither crashed nor used as a reflector).

use super::table::{Kind, Lookup, Table};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::net::IpAddr;

/// The largest UDP reply we send to a client that announced EDNS (the DNS flag day 2020
/// size, which fits every path MTU we meet without fragments).
pub const EDNS_PAYLOAD: u16 = 1232;
/// Plain DNS over UDP.
const CLASSIC_UDP: usize = 512;

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Not ours: hand the query, unchanged, to the upstream resolvers.
    Forward,
    /// Send nothing.
    Ignore,
}

/// Who asked, where, and how.
#[derive(Clone, Copy, Debug)]
pub struct Asker {
    /// The local address the query arrived at (a gateway).
    pub local: IpAddr,
    /// The client's address.
    pub src: IpAddr,
    /// UDP (size-limited replies) rather than TCP.
    pub udp: bool,
}

/// Answers one DNS message from `table`.
pub fn answer(table: &Table, packet: &[u8], who: Asker) -> Verdict {
    let Ok(query) = Message::from_vec(packet) else {
        return Verdict::Ignore;
    };
    if query.metadata.message_type != MessageType::Query {
        return Verdict::Ignore;
    }
    if query.metadata.op_code != OpCode::Query {
        return error(&query, ResponseCode::NotImp, who);
    }
    if query.queries.len() != 1 {
        return error(&query, ResponseCode::FormErr, who);
    }
    let q = &query.queries[0];
    if q.query_class() != DNSClass::IN {
        return Verdict::Forward;
    }
    let kind = match q.query_type() {
        RecordType::A => Kind::A,
        RecordType::AAAA => Kind::Aaaa,
        RecordType::PTR => Kind::Ptr,
        _ => Kind::Other,
    };
    let found = table.lookup(&q.name().to_ascii(), kind, who.local, who.src);
    if found == Lookup::Forward {
        return Verdict::Forward;
    }
    let mut reply = response(&query);
    reply.metadata.authoritative = true;
    let name = q.name().clone();
    match found {
        Lookup::Addrs(addrs) => {
            reply.answers = addrs
                .into_iter()
                .map(|a| {
                    let data = match a {
                        IpAddr::V4(a) => RData::A(A(a)),
                        IpAddr::V6(a) => RData::AAAA(AAAA(a)),
                    };
                    // TTL 0: a container's address may change with its next run.
                    Record::from_rdata(name.clone(), 0, data)
                })
                .collect();
        }
        Lookup::Ptr(targets) => {
            reply.answers = targets
                .iter()
                .filter_map(|t| Name::from_ascii(t).ok())
                .map(|t| Record::from_rdata(name.clone(), 0, RData::PTR(PTR(t))))
                .collect();
        }
        Lookup::NxDomain => reply.metadata.response_code = ResponseCode::NXDomain,
        Lookup::NoData | Lookup::Forward => {}
    }
    encode(reply, &query, who)
}

/// A reply skeleton: same id, question, RD and CD; RA set (we recurse through upstreams);
/// EDNS answered when the client spoke it.
fn response(query: &Message) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.checking_disabled = query.metadata.checking_disabled;
    reply.queries = query.queries.clone();
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        reply.set_edns(edns);
    }
    reply
}

fn error(query: &Message, code: ResponseCode, who: Asker) -> Verdict {
    let mut reply = response(query);
    reply.metadata.response_code = code;
    encode(reply, query, who)
}

fn encode(mut reply: Message, query: &Message, who: Asker) -> Verdict {
    let Ok(bytes) = reply.to_vec() else {
        return Verdict::Ignore;
    };
    let limit = match &query.edns {
        Some(e) => usize::from(e.max_payload().clamp(512, EDNS_PAYLOAD)),
        None => CLASSIC_UDP,
    };
    if !who.udp || bytes.len() <= limit {
        return Verdict::Reply(bytes);
    }
    // Too big for this client's UDP: say so, and it asks again over TCP.
    reply.answers.clear();
    reply.metadata.truncation = true;
    reply.to_vec().map_or(Verdict::Ignore, Verdict::Reply)
}
