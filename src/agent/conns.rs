//! The threads that serve the agent's connections. A connection goes to a thread that waits
//! for one, or to a new thread, which afterwards waits for the next: no thread start per
//! connection on the CNI hot path (each ADD is one connection), and never a connection
//! queued behind a busy thread (a slow client holds only its own thread).

use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

/// Accept connections on `listener` until it fails for good, each served by `serve`.
pub(super) fn accept<F>(listener: UnixListener, serve: F)
where
    F: Fn(UnixStream) + Send + Sync + 'static,
{
    let serve = Arc::new(serve);
    let (tx, rx) = mpsc::channel::<UnixStream>();
    let rx = Arc::new(Mutex::new(rx));
    // Threads blocked (or about to block) on `rx`, each owed exactly one connection: only
    // this loop takes from the count, and only when it then sends.
    let waiting = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        if take_one(&waiting) {
            if tx.send(conn).is_ok() {
                continue;
            }
            return; // cannot happen while `rx` lives here
        }
        let (serve, rx, waiting) = (serve.clone(), rx.clone(), waiting.clone());
        let _ = std::thread::Builder::new()
            // The default stack: CNI calls run the engine (SQLite, netlink) on these threads.
            .name("client".into())
            .spawn(move || {
                serve(conn);
                wait_and_serve(&rx, &waiting, &*serve);
            });
    }
}

fn take_one(waiting: &AtomicUsize) -> bool {
    waiting
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

fn wait_and_serve(
    rx: &Mutex<Receiver<UnixStream>>,
    waiting: &AtomicUsize,
    serve: &dyn Fn(UnixStream),
) {
    loop {
        waiting.fetch_add(1, Ordering::AcqRel);
        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match next {
            Ok(conn) => serve(conn),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Barrier;

    /// Connections are served at once even while earlier ones are held open, and a thread
    /// freed by one serves a later one.
    #[test]
    fn every_connection_is_served_while_others_are_held() {
        let dir = std::env::temp_dir().join(format!("podnet-conns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            accept(listener, |mut c: UnixStream| {
                let mut b = [0u8; 1];
                while c.read_exact(&mut b).is_ok() {
                    let _ = c.write_all(&b);
                }
            })
        });
        let echo = |c: &mut UnixStream, byte: u8| {
            c.write_all(&[byte]).unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            assert_eq!(b[0], byte);
        };
        // Three held open at once: each needs a thread of its own.
        let mut held: Vec<UnixStream> = (0..3)
            .map(|_| UnixStream::connect(&path).unwrap())
            .collect();
        for (i, c) in held.iter_mut().enumerate() {
            echo(c, i as u8);
        }
        drop(held);
        // Then many short ones, some concurrently, on the threads now free and new ones.
        let barrier = Arc::new(Barrier::new(8));
        let clients: Vec<_> = (0..8u8)
            .map(|i| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for k in 0..50u8 {
                        let mut c = UnixStream::connect(&path).unwrap();
                        echo(&mut c, i.wrapping_mul(50).wrapping_add(k));
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
