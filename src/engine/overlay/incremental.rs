//! [`Reconciler`]: the overlay's reconcile for a long-lived caller (the agent's watch), whose
//! cost per change is the changed nodes' entries, not the cluster's size.
//!
//! [`super::reconcile`] reads the device's FDB, neighbour and route tables back on every
//! call: three namespace-wide dumps that cost 11.8 ms at 1,000 remote nodes and grow faster
//! than N (docs/decisions/2026-12-02-vxlan-overlay.md). A watch event changes one node, so a
//! [`Reconciler`] keeps what it last applied in memory and diffs the new leases against
//! that instead; the kernel hears only the changed entries. It still reads the kernel (the
//! full, level-triggered path) whenever its memory may be wrong:
//! - on the first call (a fresh agent: whatever a crash or an older agent left);
//! - when the device was (re-)made, or its index is not the one remembered (someone
//!   deleted and re-created it);
//! - after any call whose apply or dump failed (what the kernel holds is then unknown);
//! - every [`Reconciler::resync_every`] (someone else's change — `bridge fdb del`, a flushed
//!   neighbour — is repaired within that period even when no lease changes; the agent calls
//!   [`Reconciler::reconcile`] on a timer for this, [`Reconciler::resync_due`] says when).
//!
//! Refused leases (an IPv6 underlay, an overlapping subnet) are not apply failures: they are
//! refused the same way on every call and do not force a dump.

use std::time::{Duration, Instant};

use ipnet::Ipv4Net;

use super::{apply, current, ensure_device, refusal, Outcome, OverlayConfig};
use crate::kernel::Rtnl;
use crate::model::NodeLease;
use crate::plan::overlay::{self, Current};

/// How often a [`Reconciler`] reads the kernel back even when nothing failed. A dump at
/// 1,000 remote nodes costs ~12 ms (at 5,000 a few hundred): once a minute is < 1 % of a
/// core at 5,000, and an entry someone else deleted comes back within the minute.
pub const RESYNC_EVERY: Duration = Duration::from_secs(60);

/// Why a call read the kernel back (see the module's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    First,
    Device,
    AfterError,
    Periodic,
}

/// The overlay's reconcile with a memory of what it applied.
#[derive(Debug)]
pub struct Reconciler {
    /// The device's index and the entries it holds after the last call that applied
    /// everything; `None` when unknown (start, after an error).
    applied: Option<(u32, Current)>,
    /// When the kernel was last read back.
    last_full: Option<Instant>,
    /// The period of the full resync (`Duration::ZERO`: every call is full, which is
    /// [`super::reconcile`]'s behaviour).
    pub resync_every: Duration,
    /// Why the last call read the kernel back; `None` when it applied a delta.
    pub last: Option<Full>,
}

impl Default for Reconciler {
    fn default() -> Self {
        Reconciler::new(RESYNC_EVERY)
    }
}

impl Reconciler {
    pub fn new(resync_every: Duration) -> Reconciler {
        Reconciler {
            applied: None,
            last_full: None,
            resync_every,
            last: None,
        }
    }

    /// Whether a call at `now` would read the kernel back.
    pub fn resync_due(&self, now: Instant) -> bool {
        self.applied.is_none()
            || self
                .last_full
                .is_none_or(|t| now.saturating_duration_since(t) >= self.resync_every)
    }

    /// Forgets what was applied: the next call reads the kernel back.
    pub fn invalidate(&mut self) {
        self.applied = None;
    }

    /// [`super::reconcile`], applying only what changed since the last call unless a full
    /// read-back is due (see the module).
    pub fn reconcile(
        &mut self,
        rtnl: &mut Rtnl,
        cfg: &OverlayConfig,
        subnet: Ipv4Net,
        remotes: &[NodeLease],
    ) -> Outcome {
        self.reconcile_at(rtnl, cfg, subnet, remotes, Instant::now())
    }

    /// [`Reconciler::reconcile`] as if called at `now` (tests step the clock with it).
    pub fn reconcile_at(
        &mut self,
        rtnl: &mut Rtnl,
        cfg: &OverlayConfig,
        subnet: Ipv4Net,
        remotes: &[NodeLease],
        now: Instant,
    ) -> Outcome {
        let mut out = Outcome::default();
        let dev = match ensure_device(rtnl, cfg, subnet) {
            Ok(d) => d,
            Err(e) => {
                self.applied = None;
                out.errors.push(e);
                return out;
            }
        };
        let (want, refused) = overlay::desired(subnet, remotes);
        out.errors.extend(refused.into_iter().map(refusal));
        let full = match &self.applied {
            None if self.last_full.is_none() => Some(Full::First),
            None => Some(Full::AfterError),
            Some((index, _)) if dev.created || *index != dev.index => Some(Full::Device),
            Some(_) if self.resync_due(now) => Some(Full::Periodic),
            Some(_) => None,
        };
        self.last = full;
        let read;
        let cur = match (full, &self.applied) {
            (None, Some((_, mem))) => mem,
            _ => match current(rtnl, dev.index) {
                Ok(c) => {
                    self.last_full = Some(now);
                    read = c;
                    &read
                }
                Err(e) => {
                    self.applied = None;
                    out.errors.push(e);
                    out.device = Some(dev);
                    return out;
                }
            },
        };
        out.changes = overlay::diff(&want, cur);
        let failed = apply(rtnl, dev.index, &out.changes);
        // Only a clean apply makes the memory the kernel's state; after a failure the next
        // call reads the kernel back (and retries what failed).
        self.applied = failed.is_empty().then_some((dev.index, Current(want)));
        out.errors.extend(failed);
        out.device = Some(dev);
        out
    }
}
