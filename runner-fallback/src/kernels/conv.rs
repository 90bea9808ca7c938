//! ONNX `Conv` and `ConvTranspose` in NCHW with any number of spatial axes, groups, strides, dilations and pads.
//!
//! Conv is im2col + [`gemm`]: output positions are taken in tiles so the column buffer stays cache-sized whatever
//! the image, and the buffer only ever holds one group's channels, so depthwise convolutions cost no more memory than
//! dense ones. A 1×1, stride-1, unpadded Conv reads the input directly as `B`. ConvTranspose is the mirror image:
//! [`gemm`] into columns, then a scatter-add (col2im).

use wdnn_descriptor_spec::{DType, EpilogueStep};
use wdnn_runner_core::Tensor;

use super::epilogue;
use super::layout::{Window, dims, numel, per_axis, split_pads, strides};
use super::matmul::{Mat, MatMut, gemm, transposed};
use super::types::{Float, float_types, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

/// The attributes of a Conv or ConvTranspose.
pub(crate) struct ConvAttrs<'a> {
    /// Number of groups.
    pub group: u32,
    /// Strides per spatial axis (empty: 1).
    pub strides: &'a [u32],
    /// Dilations per spatial axis (empty: 1).
    pub dilations: &'a [u32],
    /// Begin paddings, then end paddings (empty: 0).
    pub pads: &'a [u32],
    /// The epilogue.
    pub epilogue: &'a [EpilogueStep],
}

/// Spatial geometry, validated.
struct Geometry {
    group: usize,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads_begin: Vec<usize>,
    pads_end: Vec<usize>,
}

/// Roughly how many values one tile of columns holds: small enough for the L2 cache.
const TILE_VALUES: usize = 1 << 16;

fn tile_len(rows: usize, positions: usize) -> usize {
    (TILE_VALUES / rows.max(1)).clamp(64, 4096).min(positions.max(1))
}

/// The kernel offsets of every kernel position, row-major: `KK × rank`.
fn kernel_positions(kernel: &[usize]) -> Vec<Vec<usize>> {
    let st = strides(kernel);
    (0..numel(kernel)).map(|kk| kernel.iter().zip(&st).map(|(&k, &s)| kk / s % k).collect()).collect()
}

impl Geometry {
    fn window(&self, d: usize, input: usize, kernel: usize) -> Window {
        Window {
            input,
            pad_begin: self.pads_begin[d],
            pad_end: self.pads_end[d],
            kernel,
            stride: self.strides[d],
            dilation: self.dilations[d],
        }
    }
}

fn geometry(attrs: &ConvAttrs, rank: usize) -> Result<Geometry> {
    let strides = per_axis(attrs.strides, rank, 1, "strides")?;
    let dilations = per_axis(attrs.dilations, rank, 1, "dilations")?;
    let (pads_begin, pads_end) = split_pads(attrs.pads, rank)?;
    if attrs.group == 0 || strides.contains(&0) || dilations.contains(&0) {
        return Err(invalid("group, strides and dilations must be positive"));
    }
    Ok(Geometry { group: attrs.group as usize, strides, dilations, pads_begin, pads_end })
}

/// Checks dtypes and returns the bias, if any.
fn prepare<'a>(
    inputs: &[&'a Tensor],
    attrs: &ConvAttrs,
    out: &(DType, Vec<u64>),
    op: &str,
) -> Result<Option<&'a Tensor>> {
    let [x, w, ..] = inputs else {
        return Err(invalid(format!("{op} needs an input and weights")));
    };
    let bias = epilogue::bias(inputs, attrs.epilogue);
    let dt = x.dtype();
    if w.dtype() != dt || out.0 != dt || bias.is_some_and(|b| b.dtype() != dt) {
        return Err(invalid(format!("{op} of {dt} with {} weights into {}", w.dtype(), out.0)));
    }
    if !dt.is_float() {
        return Err(unsupported(format!("{op} on {dt}")));
    }
    Ok(bias)
}

/// ONNX `Conv` followed by the epilogue.
pub(crate) fn conv(attrs: &ConvAttrs, inputs: &[&Tensor], out: &(DType, Vec<u64>)) -> Result<Tensor> {
    let bias = prepare(inputs, attrs, out, "Conv")?;
    let (x, w) = (inputs[0], inputs[1]);
    let (xs, ws, ys) = (dims(x.shape())?, dims(w.shape())?, dims(&out.1)?);
    float_types!(x.dtype(), T => {
        let bias = bias.map(values::<T>).transpose()?;
        let (xv, wv) = (values::<T>(x)?, values::<T>(w)?);
        let mut y = conv_typed::<T>((&xv, &xs), (&wv, &ws), bias.as_deref(), attrs, &ys)?;
        epilogue::apply(&mut y, &ys, attrs.epilogue, inputs)?;
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("Conv on {}", x.dtype()))))
}

/// Output channels initialized with the bias.
fn init_output<T: Float>(batch: usize, channels: usize, positions: usize, bias: Option<&[T]>) -> Result<Vec<T>> {
    match bias {
        None => Ok(vec![T::ZERO; batch * channels * positions]),
        Some(b) if b.len() == channels => {
            Ok((0..batch * channels).flat_map(|nc| std::iter::repeat_n(b[nc % channels], positions)).collect())
        }
        Some(b) => Err(invalid(format!("bias has {} values for {channels} channels", b.len()))),
    }
}

fn conv_typed<T: Float>(
    (x, xs): (&[T], &[usize]),
    (w, ws): (&[T], &[usize]),
    bias: Option<&[T]>,
    attrs: &ConvAttrs,
    ys: &[usize],
) -> Result<Vec<T>> {
    if xs.len() < 3 || ws.len() != xs.len() || ys.len() != xs.len() {
        return Err(invalid(format!("Conv of {xs:?} with weights {ws:?} into {ys:?}")));
    }
    let rank = xs.len() - 2;
    let geo = geometry(attrs, rank)?;
    let (n, c, o) = (xs[0], xs[1], ws[0]);
    let (in_sp, k_sp, out_sp) = (&xs[2..], &ws[2..], &ys[2..]);
    if c % geo.group != 0 || o % geo.group != 0 || ws[1].checked_mul(geo.group) != Some(c) || ys[0] != n || ys[1] != o {
        return Err(invalid(format!(
            "Conv channels: input {xs:?}, weights {ws:?}, output {ys:?}, group {}",
            geo.group
        )));
    }
    for d in 0..rank {
        let (expected, _) = geo.window(d, in_sp[d], k_sp[d]).outputs();
        if out_sp[d] as u128 != expected || k_sp[d] == 0 {
            return Err(invalid(format!("Conv axis {d}: output {} but the geometry gives {expected}", out_sp[d])));
        }
    }
    let (cg, og) = (c / geo.group, o / geo.group);
    let (s_in, s_out, kk) = (numel(in_sp), numel(out_sp), numel(k_sp));
    let k = cg * kk;
    let mut y = init_output(n, o, s_out, bias)?;
    if y.is_empty() {
        return Ok(y);
    }
    let pointwise =
        kk == 1 && geo.strides.iter().all(|&s| s == 1) && geo.pads_begin.iter().chain(&geo.pads_end).all(|&p| p == 0);
    if pointwise {
        for b in 0..n {
            for g in 0..geo.group {
                let x_g = &x[(b * c + g * cg) * s_in..][..cg * s_in];
                let w_g = Mat::new(&w[g * og * k..], og, k, k)?;
                let y_g = MatMut::new(&mut y[(b * o + g * og) * s_out..], og, s_out, s_out)?;
                gemm(w_g, Mat::new(x_g, cg, s_in, s_in)?, y_g)?;
            }
        }
        return Ok(y);
    }
    let kernel = kernel_positions(k_sp);
    let (in_st, out_st) = (strides(in_sp), strides(out_sp));
    let tile = tile_len(k, s_out);
    let mut cols = vec![T::ZERO; k * tile];
    let mut taps: Vec<Option<usize>> = Vec::with_capacity(kk * tile);
    for t0 in (0..s_out).step_by(tile) {
        let tl = tile.min(s_out - t0);
        // taps[kk][p]: the input position that kernel position kk reads for output position t0 + p.
        taps.clear();
        for kpos in &kernel {
            taps.extend((t0..t0 + tl).map(|p| {
                (0..rank).try_fold(0usize, |flat, d| {
                    let o_d = p / out_st[d] % out_sp[d];
                    let i_d = (o_d * geo.strides[d] + kpos[d] * geo.dilations[d]).checked_sub(geo.pads_begin[d])?;
                    (i_d < in_sp[d]).then_some(flat + i_d * in_st[d])
                })
            }));
        }
        for b in 0..n {
            for g in 0..geo.group {
                let x_g = &x[(b * c + g * cg) * s_in..][..cg * s_in];
                for ch in 0..cg {
                    let src = &x_g[ch * s_in..][..s_in];
                    for (kp, tap_row) in taps.chunks_exact(tl).enumerate() {
                        let row = &mut cols[(ch * kk + kp) * tl..][..tl];
                        for (v, tap) in row.iter_mut().zip(tap_row) {
                            *v = tap.map_or(T::ZERO, |i| src[i]);
                        }
                    }
                }
                let w_g = Mat::new(&w[g * og * k..], og, k, k)?;
                let y_g = MatMut::new(&mut y[(b * o + g * og) * s_out + t0..], og, tl, s_out)?;
                gemm(w_g, Mat::new(&cols, k, tl, tl)?, y_g)?;
            }
        }
    }
    Ok(y)
}

/// ONNX `ConvTranspose` followed by the epilogue. The output shape is the output tensor's, which carries ONNX's
/// `output_padding` and `output_shape`.
pub(crate) fn conv_transpose(attrs: &ConvAttrs, inputs: &[&Tensor], out: &(DType, Vec<u64>)) -> Result<Tensor> {
    let bias = prepare(inputs, attrs, out, "ConvTranspose")?;
    let (x, w) = (inputs[0], inputs[1]);
    let (xs, ws, ys) = (dims(x.shape())?, dims(w.shape())?, dims(&out.1)?);
    float_types!(x.dtype(), T => {
        let bias = bias.map(values::<T>).transpose()?;
        let (xv, wv) = (values::<T>(x)?, values::<T>(w)?);
        let mut y = conv_transpose_typed::<T>((&xv, &xs), (&wv, &ws), bias.as_deref(), attrs, &ys)?;
        epilogue::apply(&mut y, &ys, attrs.epilogue, inputs)?;
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("ConvTranspose on {}", x.dtype()))))
}

fn conv_transpose_typed<T: Float>(
    (x, xs): (&[T], &[usize]),
    (w, ws): (&[T], &[usize]),
    bias: Option<&[T]>,
    attrs: &ConvAttrs,
    ys: &[usize],
) -> Result<Vec<T>> {
    if xs.len() < 3 || ws.len() != xs.len() || ys.len() != xs.len() {
        return Err(invalid(format!("ConvTranspose of {xs:?} with weights {ws:?} into {ys:?}")));
    }
    let rank = xs.len() - 2;
    let geo = geometry(attrs, rank)?;
    let (n, c) = (xs[0], xs[1]);
    let (ig, og) = (c / geo.group, ws[1]);
    let o = og.saturating_mul(geo.group);
    let (in_sp, k_sp, out_sp) = (&xs[2..], &ws[2..], &ys[2..]);
    if c % geo.group != 0 || ws[0] != c || ys[0] != n || ys[1] != o {
        return Err(invalid(format!(
            "ConvTranspose channels: input {xs:?}, weights {ws:?}, output {ys:?}, group {}",
            geo.group
        )));
    }
    for d in 0..rank {
        // ONNX: out = stride·(in − 1) + output_padding + dilation·(k − 1) + 1 − pads, with output_padding ≥ 0.
        let full = geo.strides[d] as u128 * in_sp[d].saturating_sub(1) as u128
            + geo.dilations[d] as u128 * k_sp[d].saturating_sub(1) as u128
            + 1;
        if full > (out_sp[d] + geo.pads_begin[d] + geo.pads_end[d]) as u128 {
            return Err(invalid(format!("ConvTranspose axis {d}: output {} is too small", out_sp[d])));
        }
    }
    let (s_in, s_out, kk) = (numel(in_sp), numel(out_sp), numel(k_sp));
    let rows = og * kk;
    let mut y = init_output(n, o, s_out, bias)?;
    if y.is_empty() {
        return Ok(y);
    }
    // Per group, Wᵀ: one row per (output channel, kernel position), one column per input channel.
    let w_t: Vec<Vec<T>> =
        (0..geo.group).map(|g| transposed(&w[g * ig * rows..(g + 1) * ig * rows], ig, rows)).collect();
    let kernel = kernel_positions(k_sp);
    let (in_st, out_st) = (strides(in_sp), strides(out_sp));
    let tile = tile_len(rows, s_in);
    let mut cols = vec![T::ZERO; rows * tile];
    let mut taps: Vec<Option<usize>> = Vec::with_capacity(kk * tile);
    for t0 in (0..s_in).step_by(tile) {
        let tl = tile.min(s_in - t0);
        // taps[kk][p]: the output position that input position t0 + p feeds through kernel position kk.
        taps.clear();
        for kpos in &kernel {
            taps.extend((t0..t0 + tl).map(|p| {
                (0..rank).try_fold(0usize, |flat, d| {
                    let i_d = p / in_st[d] % in_sp[d];
                    let o_d = (i_d * geo.strides[d] + kpos[d] * geo.dilations[d]).checked_sub(geo.pads_begin[d])?;
                    (o_d < out_sp[d]).then_some(flat + o_d * out_st[d])
                })
            }));
        }
        for b in 0..n {
            for (g, w_g) in w_t.iter().enumerate() {
                let x_g = &x[(b * c + g * ig) * s_in..][..ig * s_in];
                cols[..rows * tl].fill(T::ZERO);
                gemm(
                    Mat::new(w_g, rows, ig, ig)?,
                    Mat::new(&x_g[t0..], ig, tl, s_in)?,
                    MatMut::new(&mut cols, rows, tl, tl)?,
                )?;
                for oc in 0..og {
                    let y_c = &mut y[(b * o + g * og + oc) * s_out..][..s_out];
                    for (kp, tap_row) in taps.chunks_exact(tl).enumerate() {
                        let row = &cols[(oc * kk + kp) * tl..][..tl];
                        for (&v, tap) in row.iter().zip(tap_row) {
                            if let Some(q) = *tap {
                                y_c[q] += v;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
        Tensor::new(shape, v).unwrap()
    }

    fn attrs<'a>(group: u32, strides: &'a [u32], dilations: &'a [u32], pads: &'a [u32]) -> ConvAttrs<'a> {
        ConvAttrs { group, strides, dilations, pads, epilogue: &[] }
    }

    fn run(a: &ConvAttrs, inputs: &[&Tensor], out: &[u64]) -> Vec<f32> {
        conv(a, inputs, &(DType::F32, out.to_vec())).unwrap().to_vec::<f32>().unwrap()
    }

    /// Direct definition of a 2-D convolution, to check the im2col path against.
    fn naive(
        x: &[f32],
        xs: [usize; 4],
        w: &[f32],
        ws: [usize; 4],
        g: usize,
        (s, d, p): (usize, usize, usize),
    ) -> Vec<f32> {
        let oh = (xs[2] + 2 * p - d * (ws[2] - 1) - 1) / s + 1;
        let ow = (xs[3] + 2 * p - d * (ws[3] - 1) - 1) / s + 1;
        let (cg, og) = (xs[1] / g, ws[0] / g);
        let mut y = vec![0.0; xs[0] * ws[0] * oh * ow];
        for n in 0..xs[0] {
            for o in 0..ws[0] {
                let gi = o / og;
                for i in 0..oh {
                    for j in 0..ow {
                        let mut acc = 0.0;
                        for c in 0..cg {
                            for ky in 0..ws[2] {
                                for kx in 0..ws[3] {
                                    let (yy, xx) =
                                        ((i * s + ky * d) as i64 - p as i64, (j * s + kx * d) as i64 - p as i64);
                                    if yy >= 0 && xx >= 0 && (yy as usize) < xs[2] && (xx as usize) < xs[3] {
                                        let xv =
                                            x[((n * xs[1] + gi * cg + c) * xs[2] + yy as usize) * xs[3] + xx as usize];
                                        acc += xv * w[((o * cg + c) * ws[2] + ky) * ws[3] + kx];
                                    }
                                }
                            }
                        }
                        y[((n * ws[0] + o) * oh + i) * ow + j] = acc;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn conv_3x3_known_result() {
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let w = [1.0f32, 0.0, -1.0, 1.0, 0.0, -1.0, 1.0, 0.0, -1.0];
        let inputs = [&f32s(&[1, 1, 3, 3], &x), &f32s(&[1, 1, 3, 3], &w), &f32s(&[1], &[0.5])];
        assert_eq!(run(&attrs(1, &[], &[], &[]), &inputs, &[1, 1, 1, 1]), vec![-5.5]);
        // Padded by 1: a horizontal gradient filter over 1..9.
        let y = run(&attrs(1, &[1, 1], &[1, 1], &[1, 1, 1, 1]), &inputs, &[1, 1, 3, 3]);
        assert_eq!(y, vec![-6.5, -3.5, 7.5, -14.5, -5.5, 15.5, -12.5, -3.5, 13.5]);
        assert!(conv(&attrs(1, &[], &[], &[]), &inputs, &(DType::F32, vec![1, 1, 2, 2])).is_err());
    }

    #[test]
    fn grouped_strided_dilated_matches_naive() {
        let xs = [2, 4, 7, 6];
        let ws = [6, 2, 3, 2];
        let x: Vec<f32> = (0..numel(&xs)).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25).collect();
        let w: Vec<f32> = (0..numel(&ws)).map(|i| ((i * 5 % 13) as f32 - 6.0) * 0.125).collect();
        let (xt, wt) = (f32s(&[2, 4, 7, 6], &x), f32s(&[6, 2, 3, 2], &w));
        for (s, d, p) in [(1, 1, 0), (2, 1, 1), (1, 2, 1), (2, 2, 2)] {
            let want = naive(&x, xs, &w, ws, 2, (s, d, p));
            let oh = (7 + 2 * p - d * 2 - 1) / s + 1;
            let ow = (6 + 2 * p - d - 1) / s + 1;
            let (s32, d32, p32) = (s as u32, d as u32, p as u32);
            let got = run(
                &attrs(2, &[s32, s32], &[d32, d32], &[p32, p32, p32, p32]),
                &[&xt, &wt],
                &[2, 6, oh as u64, ow as u64],
            );
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "s={s} d={d} p={p}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn grouped_equals_per_group_convs() {
        let x: Vec<f32> = (0..2 * 16).map(|i| i as f32 * 0.1).collect();
        let w: Vec<f32> = (0..2 * 4).map(|i| 1.0 - i as f32 * 0.2).collect();
        let grouped =
            run(&attrs(2, &[], &[], &[]), &[&f32s(&[1, 2, 4, 4], &x), &f32s(&[2, 1, 2, 2], &w)], &[1, 2, 3, 3]);
        for g in 0..2 {
            let xg = f32s(&[1, 1, 4, 4], &x[g * 16..(g + 1) * 16]);
            let wg = f32s(&[1, 1, 2, 2], &w[g * 4..(g + 1) * 4]);
            let single = run(&attrs(1, &[], &[], &[]), &[&xg, &wg], &[1, 1, 3, 3]);
            assert_eq!(&grouped[g * 9..(g + 1) * 9], single.as_slice());
        }
    }

    #[test]
    fn pointwise_and_1d_and_3d() {
        // 1×1: y[o] = Σ_c w[o, c] x[c].
        let x = f32s(&[1, 2, 1, 2], &[1.0, 2.0, 3.0, 4.0]);
        let w = f32s(&[1, 2, 1, 1], &[10.0, 1.0]);
        assert_eq!(run(&attrs(1, &[], &[], &[]), &[&x, &w], &[1, 1, 1, 2]), vec![13.0, 24.0]);
        let x1 = f32s(&[1, 1, 5], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        let w1 = f32s(&[1, 1, 2], &[1.0, 1.0]);
        assert_eq!(run(&attrs(1, &[2], &[], &[0, 1]), &[&x1, &w1], &[1, 1, 3]), vec![3.0, 7.0, 5.0]);
        let x3 = f32s(&[1, 1, 2, 2, 2], &[1.0; 8]);
        let w3 = f32s(&[1, 1, 2, 2, 2], &[1.0; 8]);
        assert_eq!(run(&attrs(1, &[], &[], &[]), &[&x3, &w3], &[1, 1, 1, 1, 1]), vec![8.0]);
    }

    #[test]
    fn conv_transpose_stride2() {
        // 1-D: x = [1, 2], w = [1, 1, 1], stride 2: [1, 1, 1+2, 2, 2].
        let x = f32s(&[1, 1, 2], &[1.0, 2.0]);
        let w = f32s(&[1, 1, 3], &[1.0, 1.0, 1.0]);
        let y = conv_transpose(&attrs(1, &[2], &[], &[]), &[&x, &w], &(DType::F32, vec![1, 1, 5])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, 1.0, 3.0, 2.0, 2.0]);
        // Pads crop, output_padding extends: pads [1, 0] and one extra position.
        let y = conv_transpose(&attrs(1, &[2], &[], &[1, 0]), &[&x, &w], &(DType::F32, vec![1, 1, 5])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, 3.0, 2.0, 2.0, 0.0]);
        // Two groups, two output channels each, with bias.
        let x = f32s(&[1, 2, 1, 1], &[1.0, 10.0]);
        let w = f32s(&[2, 2, 1, 1], &[1.0, 2.0, 3.0, 4.0]);
        let b = f32s(&[4], &[0.0, 0.0, 0.5, 0.5]);
        let y = conv_transpose(&attrs(2, &[], &[], &[]), &[&x, &w, &b], &(DType::F32, vec![1, 4, 1, 1])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 30.5, 40.5]);
    }

    #[test]
    fn conv_transpose_2d_matches_scatter_definition() {
        // Groups 2, stride (2, 1), dilation (1, 2), pads (1, 0, 0, 1), one extra output row (output_padding).
        let (n, c, h, w_) = (1, 4, 3, 2);
        let (og, kh, kw) = (3, 2, 3);
        let x: Vec<f64> = (0..n * c * h * w_).map(|i| (i as f64 * 0.37).sin()).collect();
        let w: Vec<f64> = (0..c * og * kh * kw).map(|i| (i as f64 * 0.11).cos()).collect();
        let (s, d, pb, pe) = ([2, 1], [1, 2], [1, 0], [0, 1]);
        let oh = s[0] * (h - 1) + d[0] * (kh - 1) + 1 - pb[0] - pe[0] + 1;
        let ow = s[1] * (w_ - 1) + d[1] * (kw - 1) + 1 - pb[1] - pe[1];
        let o = 2 * og;
        let mut want = vec![0.0f64; n * o * oh * ow];
        for ci in 0..c {
            let g = ci / 2;
            for oc in 0..og {
                for (i, j, ky, kx) in (0..h).flat_map(|i| {
                    (0..w_).flat_map(move |j| (0..kh).flat_map(move |ky| (0..kw).map(move |kx| (i, j, ky, kx))))
                }) {
                    let (yy, xx) =
                        ((i * s[0] + ky * d[0]) as i64 - pb[0] as i64, (j * s[1] + kx * d[1]) as i64 - pb[1] as i64);
                    if yy >= 0 && xx >= 0 && (yy as usize) < oh && (xx as usize) < ow {
                        let out = ((g * og + oc) * oh + yy as usize) * ow + xx as usize;
                        want[out] += x[(ci * h + i) * w_ + j] * w[((ci * og + oc) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        let xt = Tensor::new(&[1, 4, 3, 2], &x).unwrap();
        let wt = Tensor::new(&[4, 3, 2, 3], &w).unwrap();
        let a = attrs(2, &[2, 1], &[1, 2], &[1, 0, 0, 1]);
        let out = (DType::F64, vec![1, o as u64, oh as u64, ow as u64]);
        let got = conv_transpose(&a, &[&xt, &wt], &out).unwrap().to_vec::<f64>().unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12, "{g} vs {w}");
        }
    }

    #[test]
    fn epilogue_residual_is_not_a_bias() {
        // [x, w, residual] with the residual as operand 2: no bias; relu then add.
        use wdnn_descriptor_spec::{BinaryFn, UnaryFn};
        let x = f32s(&[1, 1, 1, 2], &[1.0, -2.0]);
        let w = f32s(&[1, 1, 1, 1], &[3.0]);
        let residual = f32s(&[1, 1, 1, 2], &[10.0, 20.0]);
        let steps = [
            EpilogueStep::Unary { fun: UnaryFn::Relu },
            EpilogueStep::Binary { fun: BinaryFn::Add, operand: 2, operand_first: false },
        ];
        let a = ConvAttrs { group: 1, strides: &[], dilations: &[], pads: &[], epilogue: &steps };
        let y = conv(&a, &[&x, &w, &residual], &(DType::F32, vec![1, 1, 1, 2])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![13.0, 20.0]);
        // With a bias before the residual.
        let steps = [EpilogueStep::Binary { fun: BinaryFn::Add, operand: 3, operand_first: false }];
        let a = ConvAttrs { epilogue: &steps, ..a };
        let bias = f32s(&[1], &[0.5]);
        let y = conv(&a, &[&x, &w, &bias, &residual], &(DType::F32, vec![1, 1, 1, 2])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![13.5, 14.5]);
    }
}
