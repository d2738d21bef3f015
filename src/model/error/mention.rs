//! Fields named in messages by key, so that each front end names them its own way (the CLI
//! as its flags): the engine, IPAM and kernel never write a front end's name for an input.

/// Marks around a field's key inside a message (see [`mention`]): control characters no
/// input can carry into a message, and which are never shown.
const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

/// An input named in an error message by its key (`subnet`, `ip`, `node_port`, ...): the
/// engine, IPAM and kernel layers never write a front end's name for an input (such as a CLI
/// flag); the front end substitutes its own ([`Error::render`]), and plain Display uses the
/// neutral words of [`neutral_name`].
pub fn mention(key: &str) -> String {
    format!("{OPEN}{key}{CLOSE}")
}

/// Key prefix of a [`cli_hint`].
const CLI_ONLY: &str = "cli:";

/// A hint only the CLI shows: a podnet command to run (`` (`podnet rm -f web`)``), written
/// where the message would name it. Other front ends (CNI, netavark) leave it out: their
/// users drive podnet through a runtime and have no such command to type. Never the field
/// an error concerns.
pub fn cli_hint(text: &str) -> String {
    mention(&format!("{CLI_ONLY}{text}"))
}

/// The text of a [`cli_hint`]'s key, for the CLI's names.
pub fn cli_hint_text(key: &str) -> Option<&str> {
    key.strip_prefix(CLI_ONLY)
}

/// [`mention`]s of the fields the engine names, for use inside `format!` strings.
pub mod field {
    pub const NAME: &str = "\u{1}name\u{2}";
    pub const NETWORK: &str = "\u{1}network\u{2}";
    pub const NETNS: &str = "\u{1}netns\u{2}";
    pub const IP: &str = "\u{1}ip\u{2}";
    pub const IP6: &str = "\u{1}ip6\u{2}";
    pub const IPV6: &str = "\u{1}ipv6\u{2}";
    pub const PUBLISH: &str = "\u{1}publish\u{2}";
    pub const SUBNET: &str = "\u{1}subnet\u{2}";
    pub const GATEWAY: &str = "\u{1}gateway\u{2}";
    pub const MTU: &str = "\u{1}mtu\u{2}";
    pub const BRIDGE: &str = "\u{1}bridge\u{2}";
    pub const VIP: &str = "\u{1}vip\u{2}";
    pub const BACKEND: &str = "\u{1}backend\u{2}";
    pub const NODE_PORT: &str = "\u{1}node_port\u{2}";
    pub const RUN_DIR: &str = "\u{1}run_dir\u{2}";
    pub const ROOT: &str = "\u{1}root\u{2}";
    pub const REMOVE_FOREIGN: &str = "\u{1}remove_foreign\u{2}";
    pub const ALIAS: &str = "\u{1}alias\u{2}";
    pub const HOSTNAME: &str = "\u{1}hostname\u{2}";
    pub const DNS: &str = "\u{1}dns\u{2}";
    pub const DNS_SEARCH: &str = "\u{1}dns_search\u{2}";
    pub const ADD_HOST: &str = "\u{1}add_host\u{2}";
    pub const INTERNAL: &str = "\u{1}internal\u{2}";
    pub const DRIVER: &str = "\u{1}driver\u{2}";
    pub const PARENT: &str = "\u{1}parent\u{2}";
    pub const IP_RANGE: &str = "\u{1}ip_range\u{2}";
    pub const MACVLAN_MODE: &str = "\u{1}macvlan_mode\u{2}";
    pub const HOST_ACCESS: &str = "\u{1}host_access\u{2}";
}

/// The words for a field's key when no front end names it: its key, spaced; a CLI-only hint
/// is left out.
pub fn neutral_name(key: &str) -> String {
    if cli_hint_text(key).is_some() {
        return String::new();
    }
    match key {
        "remove_foreign" => "podnet's removal of foreign objects".to_string(),
        "publish" => "a published port".to_string(),
        "run_dir" => "the run directory".to_string(),
        "ip_range" => "the IP range".to_string(),
        "root" => "the state root".to_string(),
        k => k.replace('_', " "),
    }
}

/// The first field mentioned in `msg`, if any (CLI-only hints are no field).
pub(super) fn first_mention(msg: &str) -> Option<String> {
    let mut rest = msg;
    loop {
        let start = rest.find(OPEN)? + OPEN.len_utf8();
        let len = rest[start..].find(CLOSE)?;
        let key = &rest[start..start + len];
        if cli_hint_text(key).is_none() {
            return Some(key.to_string());
        }
        rest = &rest[start + len + CLOSE.len_utf8()..];
    }
}

/// `msg` with every mention replaced by `name(key)`, or its neutral name.
pub(super) fn substitute(msg: &str, name: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len_utf8()..];
        let Some(j) = after.find(CLOSE) else {
            rest = after;
            continue;
        };
        let key = &after[..j];
        out.push_str(&name(key).unwrap_or_else(|| neutral_name(key)));
        rest = &after[j + CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}
