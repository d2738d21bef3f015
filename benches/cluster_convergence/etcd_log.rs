//! Every etcd change, as a client watching `/` on one member sees it, stamped on arrival:
//! the floor (put on one member → watch event on another) and, for a CLI or agent change,
//! when its key became visible to a watcher at all.

use podnet::cluster::etcd::{Etcd, Event, WatchMsg};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// (key, put (true) or delete, arrival).
type Seen = (String, bool, Instant);

pub struct EtcdLog {
    seen: Mutex<Vec<Seen>>,
    cv: Condvar,
}

impl EtcdLog {
    /// Watches every key on `url` from the next revision on, on a thread of its own (in
    /// the calling thread's network namespace).
    pub fn start(url: &str) -> Result<Arc<EtcdLog>, String> {
        let client = Etcd::new(&[url]).map_err(|e| format!("etcd client: {e}"))?;
        let (_, rev) = client
            .get("/")
            .map_err(|e| format!("etcd at {url}: {e:?}"))?;
        let mut watch = client
            .watch("/", rev + 1)
            .map_err(|e| format!("watch on {url}: {e:?}"))?;
        let log = Arc::new(EtcdLog {
            seen: Mutex::new(Vec::new()),
            cv: Condvar::new(),
        });
        let l = log.clone();
        std::thread::Builder::new()
            .name("etcd-log".into())
            .spawn(move || loop {
                match watch.next_msg() {
                    Ok(WatchMsg::Events { events, .. }) => {
                        let at = Instant::now();
                        let mut s = l.seen.lock().unwrap();
                        for e in events {
                            s.push(match e {
                                Event::Put(kv) => (kv.key, true, at),
                                Event::Delete(k) => (k, false, at),
                            });
                        }
                        l.cv.notify_all();
                    }
                    // The sandbox (and etcd) ended, or the watch did: later lookups find
                    // nothing and say so.
                    Ok(_) | Err(_) => return,
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(log)
    }

    /// The first change after `since` of a key matching `key` (put or not), waiting up to
    /// `limit`; None if none came.
    pub fn first(
        &self,
        since: Instant,
        put: bool,
        key: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> Option<Instant> {
        let find = |s: &Vec<Seen>| {
            s.iter()
                .find(|(k, p, at)| *at >= since && *p == put && key(k))
                .map(|(_, _, at)| *at)
        };
        let s = self.seen.lock().unwrap();
        let (s, _) = self
            .cv
            .wait_timeout_while(s, limit, |s| find(s).is_none())
            .unwrap();
        find(&s)
    }
}
