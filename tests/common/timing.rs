//! The figures of the `#[ignore]`d `*_bench` tests (included with `#[path]`).
#![allow(dead_code)]

use std::time::Instant;

/// The `p` quantile of `v` (sorted in place), rounding the rank down.
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p) as usize]
}

/// Milliseconds since `t`.
pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
