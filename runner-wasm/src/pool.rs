//! Max and average pooling over NHWC, and global average pooling, vectorized across channels.
//!
//! A window is separable: along each axis its taps inside the input form one contiguous range, computed per output
//! row and column, so the inner loops have no bounds checks. Semantics follow SPEC §5 (ONNX `MaxPool` /
//! `AveragePool` with explicit pads, floor or ceil mode given by the output extent): padded positions never win a
//! max; an average divides by the taps inside the input, or with `count_include_pad` by those inside the input
//! extended by the pads. Work tiles are output rows.

use core::ops::Range;

use crate::simd::{F32x4, LANES};

/// Which pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The window's maximum.
    Max,
    /// The window's mean.
    Average {
        /// Divide by the taps inside the padded input, not just inside the input.
        count_include_pad: bool,
    },
}

/// A 2-D pooling of NHWC activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// Which pooling.
    pub kind: PoolKind,
    /// Images.
    pub batch: usize,
    /// Input height and width.
    pub in_hw: [usize; 2],
    /// Channels.
    pub channels: usize,
    /// Output height and width (floor or ceil mode).
    pub out_hw: [usize; 2],
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Strides.
    pub stride: [usize; 2],
    /// Dilations.
    pub dilation: [usize; 2],
    /// Padding: top, left, bottom, right.
    pub pads: [usize; 4],
}

/// A pooling whose geometry or buffers do not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The geometry is inconsistent.
    #[error("pooling: {0}")]
    Geometry(String),
    /// A buffer is shorter than the geometry needs.
    #[error("pooling: {what} has {found} values, needs {needed}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// Values needed.
        needed: usize,
        /// Values given.
        found: usize,
    },
}

/// One axis's taps for one output index: how many lie inside the input and where the first one reads, and how
/// many lie inside the padded input.
#[derive(Debug, Clone, Copy)]
struct AxisWindow {
    count: usize,
    first_input: usize,
    padded_count: usize,
}

impl Pool2d {
    fn axis(&self, d: usize, o: usize) -> AxisWindow {
        let (input, pad_begin, pad_end) = (self.in_hw[d], self.pads[d], self.pads[d + 2]);
        let (s, dil, k) = (self.stride[d], self.dilation[d], self.kernel[d]);
        let start = o * s;
        // Tap k sits at padded coordinate start + k·dil: inside the input when in [pad_begin, pad_begin + input).
        let lo = pad_begin.saturating_sub(start).div_ceil(dil).min(k);
        let hi = if start < pad_begin + input { ((pad_begin + input - 1 - start) / dil + 1).min(k) } else { 0 };
        let padded = input + pad_begin + pad_end;
        let padded_count = if start < padded { ((padded - 1 - start) / dil + 1).min(k) } else { 0 };
        AxisWindow {
            first_input: (start + lo * dil).saturating_sub(pad_begin),
            count: hi.saturating_sub(lo),
            padded_count,
        }
    }

    /// Checks the geometry against the output extent.
    pub fn validate(&self) -> Result<(), PoolError> {
        let positive = [self.batch, self.channels, self.in_hw[0], self.in_hw[1], self.out_hw[0], self.out_hw[1]];
        if positive.contains(&0) || self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(PoolError::Geometry(format!(
                "{self:?}: extents, kernel, strides and dilations must be positive"
            )));
        }
        for d in 0..2 {
            let span = (self.kernel[d] - 1) * self.dilation[d] + 1;
            let padded = self.in_hw[d] + self.pads[d] + self.pads[d + 2];
            if padded < span {
                return Err(PoolError::Geometry(format!("{self:?}: the window is larger than the padded input")));
            }
            let floor = (padded - span) / self.stride[d] + 1;
            let ceil = (padded - span).div_ceil(self.stride[d]) + 1;
            if self.out_hw[d] < floor || self.out_hw[d] > ceil {
                return Err(PoolError::Geometry(format!(
                    "{self:?}: output extent {} on axis {d} is neither floor ({floor}) nor ceil ({ceil}) mode",
                    self.out_hw[d]
                )));
            }
        }
        Ok(())
    }

    /// Work items: output rows of all images.
    pub fn tiles(&self) -> usize {
        self.batch * self.out_hw[0]
    }

    /// Pools the output rows in `tiles` from `x` (NHWC) into `y` (NHWC).
    pub fn run(&self, x: &[f32], y: &mut [f32], tiles: Range<usize>) -> Result<(), PoolError> {
        self.validate()?;
        let c = self.channels;
        let [ih, iw] = self.in_hw;
        let [oh, ow] = self.out_hw;
        for (what, needed, found) in
            [("input", self.batch * ih * iw * c, x.len()), ("output", self.batch * oh * ow * c, y.len())]
        {
            if found < needed {
                return Err(PoolError::Length { what, needed, found });
            }
        }
        let columns: Vec<AxisWindow> = (0..ow).map(|ox| self.axis(1, ox)).collect();
        for t in tiles.start..tiles.end.min(self.tiles()) {
            let (img, oy) = (t / oh, t % oh);
            let rows = self.axis(0, oy);
            let image = &x[img * ih * iw * c..(img + 1) * ih * iw * c];
            for (ox, cols) in columns.iter().enumerate() {
                let out = &mut y[((img * oh + oy) * ow + ox) * c..][..c];
                self.window(image, rows, *cols, out);
            }
        }
        Ok(())
    }

    /// One output pixel: the window's taps folded into `out` one whole pixel (all channels) at a time.
    fn window(&self, image: &[f32], rows: AxisWindow, cols: AxisWindow, out: &mut [f32]) {
        let c = self.channels;
        let [dh, dw] = self.dilation;
        let iw = self.in_hw[1];
        let tap = |i: usize, j: usize| {
            let at = ((rows.first_input + i * dh) * iw + cols.first_input + j * dw) * c;
            &image[at..at + c]
        };
        let (n_rows, n_cols) = (rows.count, cols.count);
        match self.kind {
            PoolKind::Max => {
                if n_rows * n_cols == 0 {
                    out.fill(f32::NEG_INFINITY);
                    return;
                }
                out.copy_from_slice(tap(0, 0));
                for i in 0..n_rows {
                    for j in 0..n_cols {
                        if i + j > 0 {
                            fold(out, tap(i, j), |a, b| a.max(b));
                        }
                    }
                }
            }
            PoolKind::Average { count_include_pad } => {
                let count = if count_include_pad { rows.padded_count * cols.padded_count } else { n_rows * n_cols };
                out.fill(0.0);
                for i in 0..n_rows {
                    for j in 0..n_cols {
                        fold(out, tap(i, j), |a, b| a + b);
                    }
                }
                let scale = F32x4::splat(1.0 / count as f32);
                for chunk in out.chunks_mut(LANES) {
                    (F32x4::load_partial(chunk) * scale).store_partial(chunk);
                }
            }
        }
    }
}

/// `out[i] = f(out[i], x[i])` over whole vectors, then the tail.
#[inline(always)]
fn fold(out: &mut [f32], x: &[f32], f: impl Fn(F32x4, F32x4) -> F32x4) {
    let mut o = out.chunks_exact_mut(LANES);
    let mut i = x.chunks_exact(LANES);
    for (a, b) in (&mut o).zip(&mut i) {
        f(F32x4::load_from(a), F32x4::load_from(b)).store_to(a);
    }
    let (a, b) = (o.into_remainder(), i.remainder());
    if !a.is_empty() {
        f(F32x4::load_partial(a), F32x4::load_partial(b)).store_partial(a);
    }
}

/// Global average pooling: `y[n][c]` = the mean of `x[n][·][·][c]` over `pixels` positions (NHWC, `channels`
/// channels), for the images in `images`.
pub fn global_average_pool(
    x: &[f32],
    y: &mut [f32],
    pixels: usize,
    channels: usize,
    images: Range<usize>,
) -> Result<(), PoolError> {
    let (needed_x, needed_y) = (images.end * pixels * channels, images.end * channels);
    if x.len() < needed_x {
        return Err(PoolError::Length { what: "input", needed: needed_x, found: x.len() });
    }
    if y.len() < needed_y {
        return Err(PoolError::Length { what: "output", needed: needed_y, found: y.len() });
    }
    let scale = F32x4::splat(1.0 / pixels as f32);
    const BLOCK: usize = 4 * LANES;
    for img in images {
        let image = &x[img * pixels * channels..(img + 1) * pixels * channels];
        let out = &mut y[img * channels..(img + 1) * channels];
        for c0 in (0..channels).step_by(BLOCK) {
            let width = (channels - c0).min(BLOCK);
            // Four independent accumulators per block of 16 channels.
            let mut acc = [F32x4::zero(); 4];
            for p in 0..pixels {
                let row = &image[p * channels + c0..p * channels + c0 + width];
                for (v, chunk) in acc.iter_mut().zip(row.chunks(LANES)) {
                    *v = *v + F32x4::load_partial(chunk);
                }
            }
            for (v, chunk) in acc.iter().zip(out[c0..c0 + width].chunks_mut(LANES)) {
                (*v * scale).store_partial(chunk);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Direct f64 pooling with the SPEC's rules.
    fn reference(p: &Pool2d, x: &[f32]) -> Vec<f64> {
        let c = p.channels;
        let [ih, iw] = p.in_hw;
        let [oh, ow] = p.out_hw;
        let mut y = vec![0.0; p.batch * oh * ow * c];
        for n in 0..p.batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ch in 0..c {
                        let (mut max, mut sum, mut inside, mut padded) = (f64::NEG_INFINITY, 0.0, 0, 0);
                        for ky in 0..p.kernel[0] {
                            for kx in 0..p.kernel[1] {
                                let py = oy * p.stride[0] + ky * p.dilation[0];
                                let px = ox * p.stride[1] + kx * p.dilation[1];
                                if py < ih + p.pads[0] + p.pads[2] && px < iw + p.pads[1] + p.pads[3] {
                                    padded += 1;
                                }
                                let (Some(iy), Some(ix)) = (py.checked_sub(p.pads[0]), px.checked_sub(p.pads[1]))
                                else {
                                    continue;
                                };
                                if iy < ih && ix < iw {
                                    let v = x[((n * ih + iy) * iw + ix) * c + ch] as f64;
                                    max = max.max(v);
                                    sum += v;
                                    inside += 1;
                                }
                            }
                        }
                        y[((n * oh + oy) * ow + ox) * c + ch] = match p.kind {
                            PoolKind::Max => max,
                            PoolKind::Average { count_include_pad: true } => sum / padded as f64,
                            PoolKind::Average { count_include_pad: false } => sum / inside as f64,
                        };
                    }
                }
            }
        }
        y
    }

    fn out_extent(input: usize, pads: usize, k: usize, s: usize, d: usize, ceil: bool) -> usize {
        let span = (k - 1) * d + 1;
        let r = input + pads - span;
        if ceil { r.div_ceil(s) + 1 } else { r / s + 1 }
    }

    #[test]
    fn max_and_average_pools_in_floor_and_ceil_mode() {
        let mut rng = Rng::new(41);
        let kinds = [
            PoolKind::Max,
            PoolKind::Average { count_include_pad: false },
            PoolKind::Average { count_include_pad: true },
        ];
        let mut geometries = vec![
            // ResNet's 3×3/2 max pool, SqueezeNet's ceil-mode 3×3/2, a 2×2/2.
            ([16, 16], [3, 3], [2, 2], [1, 1], [1, 1, 1, 1], 64, false),
            ([13, 13], [3, 3], [2, 2], [1, 1], [0; 4], 96, true),
            ([8, 6], [2, 2], [2, 2], [1, 1], [0; 4], 5, false),
        ];
        for _ in 0..10 {
            let k = [rng.range(1, 4), rng.range(1, 4)];
            let d = [rng.range(1, 2), rng.range(1, 2)];
            let pads = [0, 1, 2, 3].map(|i| rng.range(0, k[i % 2] - 1));
            geometries.push((
                [rng.range(5, 11), rng.range(5, 11)],
                k,
                [rng.range(1, 3), rng.range(1, 3)],
                d,
                pads,
                rng.range(1, 19),
                rng.range(0, 1) == 1,
            ));
        }
        for (in_hw, kernel, stride, dilation, pads, channels, ceil) in geometries {
            let out_hw =
                [0, 1].map(|d| out_extent(in_hw[d], pads[d] + pads[d + 2], kernel[d], stride[d], dilation[d], ceil));
            for kind in kinds {
                let p = Pool2d { kind, batch: 2, in_hw, channels, out_hw, kernel, stride, dilation, pads };
                let x = rng.values(2 * in_hw[0] * in_hw[1] * channels);
                let mut y = vec![f32::NAN; 2 * out_hw[0] * out_hw[1] * channels];
                p.run(&x, &mut y, 0..3).unwrap();
                p.run(&x, &mut y, 3..p.tiles()).unwrap();
                let want = reference(&p, &x);
                // A ceil-mode window may lie wholly in the end padding (ONNX forbids it): both sides then agree on
                // -inf (max) or NaN (0/0 average).
                for (g, w) in y.iter_mut().zip(&want) {
                    if !w.is_finite() {
                        assert!(*g as f64 == *w || (g.is_nan() && w.is_nan()), "{p:?}: {g} for {w}");
                        *g = 0.0;
                    }
                }
                let want: Vec<f64> = want.into_iter().map(|w| if w.is_finite() { w } else { 0.0 }).collect();
                assert_close(&y, &want, 1e-6, &format!("{p:?}"));
            }
        }
    }

    #[test]
    fn global_average_pool_means_every_channel() {
        let mut rng = Rng::new(42);
        for (pixels, channels) in [(49, 2048), (1, 3), (196, 37), (5, 16)] {
            let x = rng.values(2 * pixels * channels);
            let mut y = vec![0.0; 2 * channels];
            global_average_pool(&x, &mut y, pixels, channels, 0..2).unwrap();
            let want: Vec<f64> = (0..2 * channels)
                .map(|nc| {
                    let (n, c) = (nc / channels, nc % channels);
                    (0..pixels).map(|p| x[(n * pixels + p) * channels + c] as f64).sum::<f64>() / pixels as f64
                })
                .collect();
            assert_close(&y, &want, 1e-6, &format!("global average pool {pixels}×{channels}"));
        }
    }

    #[test]
    fn bad_geometry_is_an_error() {
        let p = Pool2d {
            kind: PoolKind::Max,
            batch: 1,
            in_hw: [4, 4],
            channels: 1,
            out_hw: [4, 4],
            kernel: [2, 2],
            stride: [2, 2],
            dilation: [1, 1],
            pads: [0; 4],
        };
        assert!(matches!(p.run(&[0.0; 16], &mut [0.0; 16], 0..1), Err(PoolError::Geometry(_))));
        let ok = Pool2d { out_hw: [2, 2], ..p };
        assert!(matches!(ok.run(&[0.0; 15], &mut [0.0; 4], 0..1), Err(PoolError::Length { what: "input", .. })));
    }
}
