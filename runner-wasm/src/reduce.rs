//! Reductions along one axis, vectorized: every ONNX `Reduce*` function.
//!
//! The tensor is seen as `outer × axis × inner` (consecutive reduced axes merge into one; the backend reduces
//! scattered axes one after the other). With `inner = 1` a reduced row is contiguous and four partial results
//! accumulate in one vector; otherwise the kernel vectorizes across `inner`, reading the axis with a stride. Work
//! tiles are the `outer` slices.

use core::ops::Range;

use wdnn_descriptor_spec::ReduceFn;

use crate::math;
use crate::simd::{F32x4, LANES};

/// The `outer × axis × inner` view of a reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reduce {
    /// The function.
    pub fun: ReduceFn,
    /// Product of the axes before the reduced ones.
    pub outer: usize,
    /// Product of the reduced axes.
    pub axis: usize,
    /// Product of the axes after them.
    pub inner: usize,
}

/// A buffer that does not match the reduction's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reduction {fun:?} {outer}×{axis}×{inner}: {what} has {found} values")]
pub struct ReduceError {
    /// The function.
    pub fun: ReduceFn,
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

/// How values combine: the accumulator's start, the per-value step and the final map.
#[derive(Clone, Copy)]
enum Fold {
    /// Σ g(x), then h.
    Sum,
    Max,
    Min,
    Prod,
}

impl Reduce {
    fn fold(&self) -> Fold {
        match self.fun {
            ReduceFn::Max => Fold::Max,
            ReduceFn::Min => Fold::Min,
            ReduceFn::Prod => Fold::Prod,
            _ => Fold::Sum,
        }
    }

    /// The value each element contributes (before folding).
    #[inline(always)]
    fn map(&self, x: F32x4, shift: F32x4) -> F32x4 {
        match self.fun {
            ReduceFn::L1 => x.abs(),
            ReduceFn::L2 | ReduceFn::SumSquare => x * x,
            ReduceFn::LogSumExp => math::exp(x - shift),
            _ => x,
        }
    }

    /// The result from the folded value.
    #[inline(always)]
    fn finish(&self, acc: F32x4, shift: F32x4) -> F32x4 {
        match self.fun {
            ReduceFn::Mean => acc / F32x4::splat(self.axis as f32),
            ReduceFn::L2 => acc.sqrt(),
            ReduceFn::LogSum => math::ln(acc),
            ReduceFn::LogSumExp => shift + math::ln(acc),
            _ => acc,
        }
    }

    /// Work items: the outer slices.
    pub fn tiles(&self) -> usize {
        self.outer
    }

    /// Computes `y[o][i]` for the outer slices in `tiles`.
    pub fn run(&self, x: &[f32], y: &mut [f32], tiles: Range<usize>) -> Result<(), ReduceError> {
        let err = |what, found| ReduceError {
            fun: self.fun,
            outer: self.outer,
            axis: self.axis,
            inner: self.inner,
            what,
            found,
        };
        if x.len() != self.outer * self.axis * self.inner {
            return Err(err("input", x.len()));
        }
        if y.len() != self.outer * self.inner {
            return Err(err("output", y.len()));
        }
        let fold = self.fold();
        let start = match fold {
            Fold::Sum => 0.0,
            Fold::Max => f32::NEG_INFINITY,
            Fold::Min => f32::INFINITY,
            Fold::Prod => 1.0,
        };
        let combine = |a: F32x4, b: F32x4| match fold {
            Fold::Sum => a + b,
            Fold::Max => F32x4::select(b.eq(b), a.max(b), b),
            Fold::Min => F32x4::select(b.eq(b), a.min(b), b),
            Fold::Prod => a * b,
        };
        let slice = self.axis * self.inner;
        for o in tiles.start..tiles.end.min(self.outer) {
            let xs = &x[o * slice..(o + 1) * slice];
            let ys = &mut y[o * self.inner..(o + 1) * self.inner];
            if self.inner == 1 {
                // A contiguous row: lanes hold partial results, folded at the end; the tail lanes start neutral.
                let shift = if self.fun == ReduceFn::LogSumExp {
                    F32x4::splat(xs.iter().copied().fold(f32::NEG_INFINITY, f32::max))
                } else {
                    F32x4::zero()
                };
                let mut acc = F32x4::splat(start);
                for c in xs.chunks(LANES) {
                    let mut lanes = [start; LANES];
                    let v = if c.len() == LANES {
                        self.map(F32x4::load_from(c), shift)
                    } else {
                        let mapped = self.map(F32x4::load_partial(c), shift).to_array();
                        lanes[..c.len()].copy_from_slice(&mapped[..c.len()]);
                        F32x4::from_array(lanes)
                    };
                    acc = combine(acc, v);
                }
                let [a, b, c, d] = acc.to_array();
                let total =
                    combine(combine(F32x4::splat(a), F32x4::splat(b)), combine(F32x4::splat(c), F32x4::splat(d)));
                ys[0] = self.finish(total, shift).to_array()[0];
            } else {
                let inner = self.inner;
                for i0 in (0..inner).step_by(LANES) {
                    let lanes = (inner - i0).min(LANES);
                    let load = |k: usize| F32x4::load_partial(&xs[k * inner + i0..k * inner + i0 + lanes]);
                    let shift = if self.fun == ReduceFn::LogSumExp {
                        (0..self.axis).fold(F32x4::splat(f32::NEG_INFINITY), |m, k| m.max(load(k)))
                    } else {
                        F32x4::zero()
                    };
                    let acc = (0..self.axis).fold(F32x4::splat(start), |a, k| combine(a, self.map(load(k), shift)));
                    self.finish(acc, shift).store_partial(&mut ys[i0..i0 + lanes]);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn reference(r: &Reduce, x: &[f32]) -> Vec<f64> {
        let mut y = vec![0.0; r.outer * r.inner];
        for o in 0..r.outer {
            for i in 0..r.inner {
                let v: Vec<f64> = (0..r.axis).map(|k| x[(o * r.axis + k) * r.inner + i] as f64).collect();
                let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                y[o * r.inner + i] = match r.fun {
                    ReduceFn::Sum => v.iter().sum(),
                    ReduceFn::Mean => v.iter().sum::<f64>() / r.axis as f64,
                    ReduceFn::Max => max,
                    ReduceFn::Min => v.iter().copied().fold(f64::INFINITY, f64::min),
                    ReduceFn::Prod => v.iter().product(),
                    ReduceFn::L1 => v.iter().map(|x| x.abs()).sum(),
                    ReduceFn::L2 => v.iter().map(|x| x * x).sum::<f64>().sqrt(),
                    ReduceFn::LogSum => v.iter().sum::<f64>().ln(),
                    ReduceFn::LogSumExp => max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln(),
                    ReduceFn::SumSquare => v.iter().map(|x| x * x).sum(),
                };
            }
        }
        y
    }

    #[test]
    fn every_reduction_along_contiguous_and_strided_axes() {
        use ReduceFn::*;
        let mut rng = Rng::new(71);
        for (outer, axis, inner) in [(1, 2048, 1), (3, 7, 1), (2, 49, 64), (5, 3, 7), (1, 1, 5), (4, 10, 1)] {
            for fun in [Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare] {
                let r = Reduce { fun, outer, axis, inner };
                // Prod stays finite with values near 1; LogSum needs a positive sum.
                let x: Vec<f32> = (0..outer * axis * inner)
                    .map(|_| match fun {
                        Prod => rng.uniform(0.9, 1.1),
                        LogSum => rng.uniform(0.0, 1.0),
                        _ => rng.uniform(-3.0, 3.0),
                    })
                    .collect();
                let mut y = vec![f32::NAN; outer * inner];
                r.run(&x, &mut y, 0..outer).unwrap();
                assert_close(&y, &reference(&r, &x), 1e-5, &format!("{r:?}"));
            }
        }
        let r = Reduce { fun: Sum, outer: 2, axis: 2, inner: 1 };
        assert!(r.run(&[0.0; 4], &mut [0.0; 3], 0..2).is_err());
    }
}
