//! Which containers `ps` shows: `-a` and `--filter KEY=VALUE`, as Docker reads them (the same
//! key repeated: any of its values; different keys: all of them). Pure: no I/O.

use super::error::{Error, Result};
use super::labels::Labels;

/// Every status a container can show (`dead`: its namespace is gone, e.g. after a reboot;
/// the next `podnet gc` or state-changing command retires it).
pub const STATUSES: [&str; 6] = [
    "running", "attached", "creating", "removing", "exited", "dead",
];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PsFilter {
    names: Vec<String>,
    networks: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    statuses: Vec<String>,
    all: bool,
}

/// What a filter looks at in one container.
pub struct PsFacts<'a> {
    pub name: &'a str,
    /// The bridge network, if any.
    pub network: Option<&'a str>,
    /// The networks it was connected to after its first.
    pub more_networks: &'a [String],
    /// `bridge`, `host`, `none` or `container`.
    pub mode: &'a str,
    pub labels: &'a Labels,
    pub status: &'a str,
}

impl PsFilter {
    /// `all`: `-a`; `specs`: each `--filter`. `bridge` in `network=` means `default_network`,
    /// as it does in `--network`.
    pub fn parse(all: bool, specs: &[String], default_network: &str) -> Result<PsFilter> {
        let mut f = PsFilter {
            all,
            ..PsFilter::default()
        };
        for spec in specs {
            let bad = |why: &str| Error::input(format!("invalid --filter '{spec}': {why}"));
            let Some((key, value)) = spec.split_once('=') else {
                return Err(bad("expected KEY=VALUE, e.g. status=running"));
            };
            if value.is_empty() && key != "label" {
                return Err(bad(&format!("give a value after {key}=")));
            }
            match key {
                "name" => f.names.push(value.to_string()),
                "network" => f.networks.push(match value {
                    "bridge" => default_network.to_string(),
                    v => v.to_string(),
                }),
                "label" => {
                    let (k, v) = match value.split_once('=') {
                        Some((k, v)) => (k, Some(v.to_string())),
                        None => (value, None),
                    };
                    if k.is_empty() {
                        return Err(bad("expected label=KEY or label=KEY=VALUE"));
                    }
                    f.labels.push((k.to_string(), v));
                }
                "status" if STATUSES.contains(&value) => f.statuses.push(value.to_string()),
                "status" => {
                    return Err(bad(&format!(
                        "unknown status '{value}'; use one of {}",
                        STATUSES.join(", ")
                    )))
                }
                _ => {
                    return Err(bad(&format!(
                        "unknown key '{key}'; use name=, network=, label= or status="
                    )))
                }
            }
        }
        Ok(f)
    }

    pub fn matches(&self, c: &PsFacts) -> bool {
        // Without -a, exited containers are hidden, unless a status filter asks for them.
        if !self.all && self.statuses.is_empty() && c.status == "exited" {
            return false;
        }
        let any = |list: &[String], ok: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|v| ok(v))
        };
        any(&self.names, &|v| c.name.contains(v))
            && any(&self.networks, &|v| {
                c.network == Some(v) || c.mode == v || c.more_networks.iter().any(|n| n == v)
            })
            && any(&self.statuses, &|v| c.status == v)
            && self.labels.iter().all(|(k, v)| match v {
                Some(v) => c.labels.get(k) == Some(v),
                None => c.labels.contains_key(k),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(name: &'a str, status: &'a str, labels: &'a Labels) -> PsFacts<'a> {
        PsFacts {
            name,
            network: Some("podnet0"),
            more_networks: &[],
            mode: "bridge",
            labels,
            status,
        }
    }

    fn f(all: bool, specs: &[&str]) -> PsFilter {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        PsFilter::parse(all, &specs, "podnet0").unwrap()
    }

    #[test]
    fn default_hides_exited_and_filters_combine() {
        let mut l = Labels::new();
        l.insert("app".into(), "web".into());
        let run = facts("web1", "running", &l);
        let ex = facts("web2", "exited", &l);
        assert!(f(false, &[]).matches(&run) && !f(false, &[]).matches(&ex));
        assert!(f(true, &[]).matches(&ex));
        assert!(f(false, &["status=exited"]).matches(&ex));
        assert!(!f(false, &["status=exited"]).matches(&run));
        assert!(f(false, &["name=eb1"]).matches(&run));
        assert!(f(false, &["name=zzz", "name=web"]).matches(&run));
        assert!(!f(false, &["name=web", "network=other"]).matches(&run));
        assert!(f(false, &["network=bridge"]).matches(&run));
        assert!(f(false, &["label=app", "label=app=web"]).matches(&run));
        assert!(!f(false, &["label=app=db"]).matches(&run));
        assert!(!f(false, &["label=tier"]).matches(&run));
    }

    #[test]
    fn bad_filters_say_why() {
        for (spec, why) in [
            ("status", "expected KEY=VALUE"),
            ("color=red", "unknown key 'color'"),
            ("status=paused", "unknown status 'paused'"),
            ("name=", "give a value"),
            ("label==x", "label=KEY"),
        ] {
            let e = PsFilter::parse(false, &[spec.to_string()], "podnet0")
                .unwrap_err()
                .to_string();
            assert!(e.contains(why) && e.contains(spec), "{spec}: {e}");
        }
    }
}
