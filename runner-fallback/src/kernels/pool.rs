//! ONNX `MaxPool` and `AveragePool` in NCHW with any number of spatial axes.
//!
//! The windows do not depend on the batch or channel, so each output position's list of input offsets (and its
//! divisor) is built once and reused for every plane.

use wdnn_descriptor_spec::DType;
use wdnn_runner_core::Tensor;

use super::layout::{Window, dims, numel, per_axis, split_pads, strides};
use super::types::{Num, float_types, num_types, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

/// The attributes shared by both pools.
pub(crate) struct PoolAttrs<'a> {
    /// Window size per spatial axis.
    pub kernel_shape: &'a [u32],
    /// Strides (empty: 1).
    pub strides: &'a [u32],
    /// Dilations (empty: 1).
    pub dilations: &'a [u32],
    /// Begin paddings, then end paddings (empty: 0).
    pub pads: &'a [u32],
}

/// Every output position's window: the flat input offsets inside the input, and how many window positions lie
/// inside the padded input (the `count_include_pad` divisor).
struct Windows {
    /// `offsets[starts[p]..starts[p + 1]]` is output position `p`'s window.
    offsets: Vec<usize>,
    starts: Vec<usize>,
    padded_counts: Vec<usize>,
}

fn windows(attrs: &PoolAttrs, in_sp: &[usize], out_sp: &[usize]) -> Result<Windows> {
    let rank = in_sp.len();
    let kernel = per_axis(attrs.kernel_shape, rank, 0, "kernel_shape")?;
    let strides_ = per_axis(attrs.strides, rank, 1, "strides")?;
    let dilations = per_axis(attrs.dilations, rank, 1, "dilations")?;
    let (pb, pe) = split_pads(attrs.pads, rank)?;
    if attrs.kernel_shape.len() != rank || kernel.contains(&0) || strides_.contains(&0) || dilations.contains(&0) {
        return Err(invalid("kernel_shape, strides and dilations must be positive, one per spatial axis"));
    }
    // Per axis and output index: the valid input coordinates and the count inside the padded input.
    let mut axes = Vec::with_capacity(rank);
    for d in 0..rank {
        let padded = in_sp[d] + pb[d] + pe[d];
        let window = Window {
            input: in_sp[d],
            pad_begin: pb[d],
            pad_end: pe[d],
            kernel: kernel[d],
            stride: strides_[d],
            dilation: dilations[d],
        };
        let (floor, ceil) = window.outputs();
        if (out_sp[d] as u128) < floor.max(1) || out_sp[d] as u128 > ceil {
            return Err(invalid(format!("pool axis {d}: output {} is neither floor nor ceil mode", out_sp[d])));
        }
        let per_out: Vec<(Vec<usize>, usize)> = (0..out_sp[d])
            .map(|o| {
                let at = (0..kernel[d]).map(|k| o * strides_[d] + k * dilations[d]);
                let inside_padded = at.clone().filter(|&p| p < padded).count();
                let valid = at.filter_map(|p| p.checked_sub(pb[d]).filter(|&i| i < in_sp[d])).collect();
                (valid, inside_padded)
            })
            .collect();
        axes.push(per_out);
    }
    let (in_st, out_st) = (strides(in_sp), strides(out_sp));
    let s_out = numel(out_sp);
    let mut w = Windows { offsets: vec![], starts: vec![0], padded_counts: Vec::with_capacity(s_out) };
    let mut window = Vec::new();
    for p in 0..s_out {
        window.clear();
        window.push(0usize);
        let mut padded = 1;
        for d in 0..rank {
            let (valid, inside) = &axes[d][p / out_st[d] % out_sp[d]];
            padded *= inside;
            let stride = in_st[d];
            window = window.iter().flat_map(|&base| valid.iter().map(move |&i| base + i * stride)).collect();
        }
        w.offsets.extend_from_slice(&window);
        w.starts.push(w.offsets.len());
        w.padded_counts.push(padded);
    }
    Ok(w)
}

/// Checks the input and output and splits off the spatial shapes: `(planes, in_spatial, out_spatial)`.
fn planes(x: &Tensor, out: &(DType, Vec<u64>), op: &str) -> Result<(usize, Vec<usize>, Vec<usize>)> {
    let (xs, ys) = (dims(x.shape())?, dims(&out.1)?);
    if xs.len() < 3 || ys.len() != xs.len() || xs[..2] != ys[..2] || out.0 != x.dtype() {
        return Err(invalid(format!("{op} of {} {:?} into {} {:?}", x.dtype(), x.shape(), out.0, out.1)));
    }
    Ok((xs[0] * xs[1], xs[2..].to_vec(), ys[2..].to_vec()))
}

/// ONNX `MaxPool`: padded positions never win.
pub(crate) fn max_pool(attrs: &PoolAttrs, x: &Tensor, out: &(DType, Vec<u64>)) -> Result<Tensor> {
    let (n, in_sp, out_sp) = planes(x, out, "MaxPool")?;
    let w = windows(attrs, &in_sp, &out_sp)?;
    num_types!(x.dtype(), T => {
        let y = pool_planes(&values::<T>(x)?, n, numel(&in_sp), &w, |vals, _| {
            vals.fold(None, |m: Option<T>, v| Some(m.map_or(v, |m| m.max_of(v))))
                .unwrap_or(T::from_f64(f64::NEG_INFINITY))
        });
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("MaxPool on {}", x.dtype()))))
}

/// ONNX `AveragePool`: the divisor counts the window positions inside the input, or inside the padded input with
/// `count_include_pad`; in ceil mode, positions past the padded input never count.
pub(crate) fn average_pool(
    attrs: &PoolAttrs,
    count_include_pad: bool,
    x: &Tensor,
    out: &(DType, Vec<u64>),
) -> Result<Tensor> {
    let (n, in_sp, out_sp) = planes(x, out, "AveragePool")?;
    let w = windows(attrs, &in_sp, &out_sp)?;
    float_types!(x.dtype(), T => {
        let y = pool_planes(&values::<T>(x)?, n, numel(&in_sp), &w, |vals, p| {
            let (sum, count) = vals.fold((T::ZERO, 0usize), |(s, c), v| (s + v, c + 1));
            let divisor = if count_include_pad { w.padded_counts[p] } else { count };
            sum / T::from_f64(divisor as f64)
        });
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("AveragePool on {}", x.dtype()))))
}

/// Reduces every window of every plane with `reduce(values, output_position)`.
fn pool_planes<T: Copy, I>(x: &[T], planes: usize, plane_len: usize, w: &Windows, reduce: I) -> Vec<T>
where
    I: Fn(&mut dyn Iterator<Item = T>, usize) -> T,
{
    let positions = w.starts.len() - 1;
    let mut y = Vec::with_capacity(planes * positions);
    for plane in x.chunks_exact(plane_len.max(1)).take(planes) {
        for p in 0..positions {
            let mut vals = w.offsets[w.starts[p]..w.starts[p + 1]].iter().map(|&i| plane[i]);
            y.push(reduce(&mut vals, p));
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
        Tensor::new(shape, v).unwrap()
    }

    fn attrs<'a>(k: &'a [u32], s: &'a [u32], p: &'a [u32]) -> PoolAttrs<'a> {
        PoolAttrs { kernel_shape: k, strides: s, dilations: &[], pads: p }
    }

    #[test]
    fn max_pool_ceil_mode() {
        // 1x1x3x3, kernel 2, stride 2: floor mode gives 1x1, ceil mode 2x2 with clipped windows.
        let x = f32s(&[1, 1, 3, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        let y = max_pool(&attrs(&[2, 2], &[2, 2], &[]), &x, &(DType::F32, vec![1, 1, 2, 2])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![5.0, 6.0, 8.0, 9.0]);
        let y = max_pool(&attrs(&[2, 2], &[2, 2], &[]), &x, &(DType::F32, vec![1, 1, 1, 1])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![5.0]);
        assert!(max_pool(&attrs(&[2, 2], &[2, 2], &[]), &x, &(DType::F32, vec![1, 1, 3, 3])).is_err());
        // Padding never wins, even over negative values.
        let neg = f32s(&[1, 1, 1, 2], &[-3.0, -1.0]);
        let y = max_pool(&attrs(&[1, 2], &[1, 1], &[0, 1, 0, 1]), &neg, &(DType::F32, vec![1, 1, 1, 3])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![-3.0, -1.0, -1.0]);
    }

    #[test]
    fn average_pool_count_include_pad_both_ways() {
        let x = f32s(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let a = attrs(&[2, 2], &[1, 1], &[1, 1, 1, 1]);
        let out = (DType::F32, vec![1, 1, 3, 3]);
        let excl = average_pool(&a, false, &x, &out).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(excl, vec![1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0, 3.5, 4.0]);
        let incl = average_pool(&a, true, &x, &out).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(incl, vec![0.25, 0.75, 0.5, 1.0, 2.5, 1.5, 0.75, 1.75, 1.0]);
    }

    #[test]
    fn average_pool_ceil_mode_excludes_past_padded_input() {
        // 1-D, 5 values, kernel 2, stride 2, pad end 0, ceil mode: the last window [4, 5) holds one real value and
        // one position past the padded input, so it divides by 1 even with count_include_pad.
        let x = f32s(&[1, 1, 5], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        let y = average_pool(&attrs(&[2], &[2], &[]), true, &x, &(DType::F32, vec![1, 1, 3])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.5, 3.5, 5.0]);
    }

    #[test]
    fn integer_max_pool() {
        let x = Tensor::new(&[1, 1, 4], &[1u8, 9, 3, 4]).unwrap();
        let y = max_pool(&attrs(&[2], &[2], &[]), &x, &(DType::U8, vec![1, 1, 2])).unwrap();
        assert_eq!(y.to_vec::<u8>().unwrap(), vec![9, 4]);
    }
}
