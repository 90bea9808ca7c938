//! Softmax and log-softmax along one axis, vectorized.
//!
//! The tensor is seen as `outer × axis × inner`. Along the last axis (`inner = 1`, the classifier case) a row is
//! contiguous: a vector max, then `exp(x − max)` stored while it is summed, then one scale. Along another axis the
//! kernel vectorizes across `inner` instead, reading the axis with a stride. Work tiles are the `outer` slices.

use core::ops::Range;

use crate::math;
use crate::simd::{F32x4, LANES};

/// The `outer × axis × inner` view of a softmax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Softmax {
    /// Product of the axes before the softmax axis.
    pub outer: usize,
    /// Extent of the softmax axis.
    pub axis: usize,
    /// Product of the axes after it.
    pub inner: usize,
    /// `ln(softmax)`, computed as `x − max − ln Σ exp(x − max)`.
    pub log: bool,
}

/// A buffer that does not match the softmax's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("softmax {outer}×{axis}×{inner}: {what} has {found} values")]
pub struct SoftmaxError {
    /// The view.
    pub outer: usize,
    /// The view.
    pub axis: usize,
    /// The view.
    pub inner: usize,
    /// Which buffer.
    pub what: &'static str,
    /// Its length.
    pub found: usize,
}

impl Softmax {
    /// Work items: the outer slices.
    pub fn tiles(&self) -> usize {
        self.outer
    }

    /// Computes the outer slices in `tiles` of `y = softmax(x)`.
    pub fn run(&self, x: &[f32], y: &mut [f32], tiles: Range<usize>) -> Result<(), SoftmaxError> {
        let len = self.outer * self.axis * self.inner;
        let err = |what, found| SoftmaxError { outer: self.outer, axis: self.axis, inner: self.inner, what, found };
        if x.len() != len {
            return Err(err("input", x.len()));
        }
        if y.len() != len {
            return Err(err("output", y.len()));
        }
        let slice = self.axis * self.inner;
        for o in tiles.start..tiles.end.min(self.outer) {
            let (xs, ys) = (&x[o * slice..(o + 1) * slice], &mut y[o * slice..(o + 1) * slice]);
            if self.inner == 1 {
                self.row(xs, ys);
            } else {
                self.strided(xs, ys);
            }
        }
        Ok(())
    }

    fn row(&self, x: &[f32], y: &mut [f32]) {
        let n = x.len();
        let mut max = F32x4::splat(f32::NEG_INFINITY);
        for c in x.chunks(LANES) {
            let v = if c.len() == LANES {
                F32x4::load_from(c)
            } else {
                F32x4::load_partial(c).max(F32x4::splat(f32::NEG_INFINITY))
            };
            max = max.max(v);
        }
        let tail = n % LANES;
        let max = if tail == 0 {
            max.reduce_max()
        } else {
            max.reduce_max().max(x[n - tail..].iter().copied().fold(f32::NEG_INFINITY, f32::max))
        };
        let m = F32x4::splat(max);
        let mut sum = F32x4::zero();
        let mut i = 0;
        while i + LANES <= n {
            let e = math::exp(F32x4::load_from(&x[i..]) - m);
            if !self.log {
                e.store_to(&mut y[i..]);
            }
            sum = sum + e;
            i += LANES;
        }
        let mut total = sum.reduce_sum();
        for j in i..n {
            let e = math::exp(F32x4::splat(x[j] - max)).to_array()[0];
            if !self.log {
                y[j] = e;
            }
            total += e;
        }
        if self.log {
            let shift = F32x4::splat(max + math::ln(F32x4::splat(total)).to_array()[0]);
            for (yc, xc) in y.chunks_mut(LANES).zip(x.chunks(LANES)) {
                (F32x4::load_partial(xc) - shift).store_partial(yc);
            }
        } else {
            let scale = F32x4::splat(1.0 / total);
            for yc in y.chunks_mut(LANES) {
                (F32x4::load_partial(yc) * scale).store_partial(yc);
            }
        }
    }

    /// Vectorized across `inner`: lanes are independent softmaxes along the strided axis.
    fn strided(&self, x: &[f32], y: &mut [f32]) {
        let (axis, inner) = (self.axis, self.inner);
        for i0 in (0..inner).step_by(LANES) {
            let lanes = (inner - i0).min(LANES);
            let at = |k: usize| k * inner + i0;
            let load = |k: usize| F32x4::load_partial(&x[at(k)..at(k) + lanes]);
            let mut max = F32x4::splat(f32::NEG_INFINITY);
            for k in 0..axis {
                max = max.max(load(k));
            }
            let mut sum = F32x4::zero();
            for k in 0..axis {
                let e = math::exp(load(k) - max);
                sum = sum + e;
                if !self.log {
                    e.store_partial(&mut y[at(k)..at(k) + lanes]);
                }
            }
            if self.log {
                let shift = max + math::ln(sum);
                for k in 0..axis {
                    (load(k) - shift).store_partial(&mut y[at(k)..at(k) + lanes]);
                }
            } else {
                let scale = F32x4::splat(1.0) / sum;
                for k in 0..axis {
                    let out = &mut y[at(k)..at(k) + lanes];
                    (F32x4::load_partial(out) * scale).store_partial(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn reference(s: &Softmax, x: &[f32]) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for o in 0..s.outer {
            for i in 0..s.inner {
                let at = |k: usize| (o * s.axis + k) * s.inner + i;
                let max = (0..s.axis).map(|k| x[at(k)] as f64).fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = (0..s.axis).map(|k| (x[at(k)] as f64 - max).exp()).sum();
                for k in 0..s.axis {
                    let v = x[at(k)] as f64 - max;
                    y[at(k)] = if s.log { v - sum.ln() } else { v.exp() / sum };
                }
            }
        }
        y
    }

    #[test]
    fn softmax_along_last_and_inner_axes() {
        let mut rng = Rng::new(61);
        for (outer, axis, inner) in [(1, 1000, 1), (3, 7, 1), (2, 5, 9), (4, 1, 3), (1, 21, 49), (6, 13, 1)] {
            for log in [false, true] {
                let s = Softmax { outer, axis, inner, log };
                let x: Vec<f32> = (0..outer * axis * inner).map(|_| rng.uniform(-20.0, 20.0)).collect();
                let mut y = vec![0.0; x.len()];
                s.run(&x, &mut y, 0..1).unwrap();
                s.run(&x, &mut y, 1..outer).unwrap();
                assert_close(&y, &reference(&s, &x), 2e-6, &format!("{s:?}"));
            }
        }
        let s = Softmax { outer: 1, axis: 4, inner: 1, log: false };
        assert!(s.run(&[0.0; 3], &mut [0.0; 4], 0..1).is_err());
    }
}
