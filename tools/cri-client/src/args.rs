//! A tiny flag parser: `--flag VALUE` (repeatable) and positionals; `--` ends flags.

use std::collections::HashMap;

/// Flags and positionals of one command line.
pub struct Args {
    flags: HashMap<String, Vec<String>>,
    /// Arguments that are not flags, in order (everything after `--` included).
    pub rest: Vec<String>,
}

impl Args {
    /// Splits `argv`. Every flag takes one value. `--`, or a positional beyond the first
    /// `positional_before_cmd` ones, starts a command line: the rest goes to `rest` as is,
    /// so a command's own `--flags` are kept.
    pub fn parse(argv: &[String], positional_before_cmd: usize) -> Result<Args, String> {
        let mut flags: HashMap<String, Vec<String>> = HashMap::new();
        let mut rest = Vec::new();
        let mut i = 0;
        while i < argv.len() {
            let a = &argv[i];
            if a == "--" {
                rest.extend(argv[i + 1..].iter().cloned());
                break;
            }
            if let Some(name) = a.strip_prefix("--") {
                let (name, value) = match name.split_once('=') {
                    Some((n, v)) => (n.to_string(), v.to_string()),
                    None => {
                        i += 1;
                        let v = argv
                            .get(i)
                            .ok_or_else(|| format!("flag --{name} needs a value"))?;
                        (name.to_string(), v.clone())
                    }
                };
                flags.entry(name).or_default().push(value);
            } else {
                rest.push(a.clone());
                if rest.len() > positional_before_cmd {
                    rest.extend(argv[i + 1..].iter().cloned());
                    break;
                }
            }
            i += 1;
        }
        Ok(Args { flags, rest })
    }

    /// The last value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.flags
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// The value of `--name`, which must be given.
    pub fn need(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// Every value of a repeatable `--name`.
    pub fn all(&self, name: &str) -> &[String] {
        self.flags.get(name).map_or(&[], Vec::as_slice)
    }

    /// Positional argument `i`, which must be given; `what` names it in the error.
    pub fn pos(&self, i: usize, what: &str) -> Result<&str, String> {
        self.rest
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing {what}"))
    }

    /// Fails on a flag this command does not know (a typo must not pass silently).
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.flags.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown flag --{k}")),
            None => Ok(()),
        }
    }
}

/// `K=V` into a pair.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}
