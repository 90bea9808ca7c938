//! ONNX `GridSample` (nearest, linear, cubic; zeros, border or reflection padding; any number of spatial axes),
//! following ONNX's reference implementation (`op_grid_sample.py`), in f64.

use wdnn_descriptor_spec::DType;
use wdnn_descriptor_spec::op::{GridSamplePadding, ResizeMode};
use wdnn_runner_core::Tensor;

use super::layout::{dims, numel, strides};
use super::types::{Num, float_types, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

/// The attributes of a GridSample.
pub(crate) struct GridSampleAttrs {
    pub mode: ResizeMode,
    pub padding: GridSamplePadding,
    pub align_corners: bool,
}

/// The position in input pixels of the normalized coordinate `n` (−1 and 1 are the edges, or the centres of the
/// corner pixels with `align_corners`).
fn denormalize(n: f64, len: usize, align_corners: bool) -> f64 {
    if align_corners { (n + 1.0) / 2.0 * (len as f64 - 1.0) } else { ((n + 1.0) * len as f64 - 1.0) / 2.0 }
}

/// Reflects `x` by the borders until it lies within `[lo, hi]`.
fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    let range = hi - lo;
    if range <= 0.0 {
        return lo;
    }
    let (d, from_low) = if x < lo {
        (lo - x, true)
    } else if x > hi {
        (x - hi, false)
    } else {
        return x;
    };
    let n = (d / range).trunc();
    let r = d - n * range;
    let even = n % 2.0 == 0.0;
    if from_low == even { lo + r } else { hi - r }
}

/// Keys' cubic convolution weights (a = −0.75) for the four neighbours of a point `t` past the second.
fn cubic_weights(t: f64) -> [f64; 4] {
    let a = -0.75;
    let far = |x: f64| ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
    let near = |x: f64| ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

impl GridSampleAttrs {
    /// The borders of axis `len`: where a coordinate counts as outside.
    fn borders(&self, len: usize) -> (f64, f64) {
        if self.align_corners { (0.0, len as f64 - 1.0) } else { (-0.5, len as f64 - 0.5) }
    }

    /// The index a tap at integer position `i` reads, or None for a zero.
    fn tap(&self, i: i64, len: usize) -> Option<usize> {
        let last = len as i64 - 1;
        match self.padding {
            GridSamplePadding::Zeros => (0..=last).contains(&i).then_some(i as usize),
            GridSamplePadding::Border => Some(i.clamp(0, last.max(0)) as usize),
            GridSamplePadding::Reflection | GridSamplePadding::Unknown => {
                let (lo, hi) = self.borders(len);
                Some((reflect(i as f64, lo, hi) as i64).clamp(0, last.max(0)) as usize)
            }
        }
    }

    /// The taps `(index or None, weight)` along one axis for the coordinate `n`.
    fn axis_taps(&self, n: f64, len: usize) -> Vec<(Option<usize>, f64)> {
        let mut x = denormalize(n, len, self.align_corners);
        if self.mode == ResizeMode::Nearest {
            x = x.round_ties_even();
        }
        let (lo, hi) = self.borders(len);
        if x < lo || x > hi {
            match self.padding {
                GridSamplePadding::Border => x = x.clamp(0.0, len as f64 - 1.0),
                GridSamplePadding::Reflection => x = reflect(x, lo, hi),
                _ => {}
            }
        }
        match self.mode {
            ResizeMode::Nearest => vec![(self.tap(x as i64, len), 1.0)],
            ResizeMode::Linear => {
                let x0 = x.floor();
                let t = x - x0;
                vec![(self.tap(x0 as i64, len), 1.0 - t), (self.tap(x0 as i64 + 1, len), t)]
            }
            ResizeMode::Cubic => {
                let x0 = x.floor();
                let w = cubic_weights(x - x0);
                (0..4).map(|k| (self.tap(x0 as i64 - 1 + k, len), w[k as usize])).collect()
            }
        }
    }
}

/// ONNX `GridSample(X [N, C, D…], grid [N, H…, r])` into `[N, C, H…]`.
pub(crate) fn grid_sample(
    attrs: &GridSampleAttrs,
    x: &Tensor,
    grid: &Tensor,
    out: &(DType, Vec<u64>),
) -> Result<Tensor> {
    let (xs, gs, ys) = (dims(x.shape())?, dims(grid.shape())?, dims(&out.1)?);
    let r = xs.len().saturating_sub(2);
    let ok = r >= 1
        && gs.len() == r + 2
        && gs[0] == xs[0]
        && gs[r + 1] == r
        && ys.len() == xs.len()
        && ys[..2] == xs[..2]
        && ys[2..] == gs[1..=r];
    if !ok || out.0 != x.dtype() {
        return Err(invalid(format!("GridSample of {:?} by grid {:?} into {:?}", x.shape(), grid.shape(), out.1)));
    }
    let grid_values: Vec<f64> = float_types!(grid.dtype(), T => {
        values::<T>(grid)?.into_iter().map(|v| v.to_f64()).collect()
    }, _ => return Err(unsupported(format!("GridSample grid of {}", grid.dtype()))));
    let (n, c) = (xs[0], xs[1]);
    let (in_sp, out_sp) = (&xs[2..], &ys[2..]);
    let (plane, positions) = (numel(in_sp), numel(out_sp));
    let in_st = strides(in_sp);
    float_types!(x.dtype(), T => {
        let v = values::<T>(x)?;
        let mut y = vec![T::ZERO; n * c * positions];
        for b in 0..n {
            for p in 0..positions {
                // The grid lists coordinates from the last spatial axis to the first.
                let g = &grid_values[(b * positions + p) * r..][..r];
                let per_axis: Vec<Vec<(Option<usize>, f64)>> =
                    (0..r).map(|d| attrs.axis_taps(g[r - 1 - d], in_sp[d])).collect();
                // Every combination of one tap per axis: its flat offset (None if any tap reads a zero) and weight.
                let mut combos: Vec<(Option<usize>, f64)> = vec![(Some(0), 1.0)];
                for (taps, &stride) in per_axis.iter().zip(&in_st) {
                    combos = combos
                        .iter()
                        .flat_map(|&(off, w)| {
                            taps.iter().map(move |&(i, tw)| (off.zip(i).map(|(o, i)| o + i * stride), w * tw))
                        })
                        .collect();
                }
                for ch in 0..c {
                    let src = &v[(b * c + ch) * plane..][..plane];
                    let acc: f64 = combos.iter().map(|&(off, w)| off.map_or(0.0, |o| src[o].to_f64() * w)).sum();
                    y[(b * c + ch) * positions + p] = T::from_f64(acc);
                }
            }
        }
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("GridSample on {}", x.dtype()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(mode: ResizeMode, padding: GridSamplePadding, align_corners: bool) -> GridSampleAttrs {
        GridSampleAttrs { mode, padding, align_corners }
    }

    #[test]
    fn identity_grid_reproduces_the_input() {
        // 1×1×2×3 input; the grid of pixel centres (align_corners = false) samples each pixel exactly.
        let x = Tensor::new(&[1, 1, 2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let mut g = Vec::new();
        for i in 0..2 {
            for j in 0..3 {
                g.push((2 * j + 1) as f32 / 3.0 - 1.0);
                g.push((2 * i + 1) as f32 / 2.0 - 1.0);
            }
        }
        let grid = Tensor::new(&[1, 2, 3, 2], &g).unwrap();
        for mode in [ResizeMode::Nearest, ResizeMode::Linear, ResizeMode::Cubic] {
            let y =
                grid_sample(&attrs(mode, GridSamplePadding::Border, false), &x, &grid, &(DType::F32, vec![1, 1, 2, 3]));
            let y = y.unwrap().to_vec::<f32>().unwrap();
            for (a, e) in y.iter().zip([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) {
                assert!((a - e).abs() < 1e-5, "{mode:?}: {y:?}");
            }
        }
    }

    #[test]
    fn padding_modes_outside_the_input() {
        // 1-D input [10, 20], sampled at normalized −3 (align_corners): pixel −1.
        let x = Tensor::new(&[1, 1, 2], &[10.0f32, 20.0]).unwrap();
        let grid = Tensor::new(&[1, 1, 1], &[-3.0f32]).unwrap();
        let run = |padding| {
            let a = attrs(ResizeMode::Linear, padding, true);
            grid_sample(&a, &x, &grid, &(DType::F32, vec![1, 1, 1])).unwrap().to_vec::<f32>().unwrap()[0]
        };
        assert_eq!(run(GridSamplePadding::Zeros), 0.0);
        assert_eq!(run(GridSamplePadding::Border), 10.0);
        assert_eq!(run(GridSamplePadding::Reflection), 20.0);
        assert_eq!(reflect(-1.0, 0.0, 1.0), 1.0);
        assert_eq!(reflect(2.5, -0.5, 1.5), 0.5);
    }
}
