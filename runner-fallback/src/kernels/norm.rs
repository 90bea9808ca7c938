//! Normalizations: ONNX `LRN`, `Softmax`, `LogSoftmax` and `LayerNormalization`.
//!
//! Row statistics (sums, means, variances) accumulate in f64, so the reference is no less exact than the runtimes
//! it is compared with.

use wdnn_descriptor_spec::DType;
use wdnn_runner_core::Tensor;

use super::layout::{broadcast_strides, dims, numel, split_at_axis, walk};
use super::types::{Num, Scalar, float_types, from_scalars, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

type Spec = (DType, Vec<u64>);

fn same_as_input(x: &Tensor, out: &Spec, op: &str) -> Result<()> {
    if out.0 != x.dtype() || out.1 != x.shape() {
        return Err(invalid(format!("{op} keeps {} {:?}, not {} {:?}", x.dtype(), x.shape(), out.0, out.1)));
    }
    Ok(())
}

/// ONNX `LRN`: `y = x / (bias + alpha / size · Σ x²)^beta`, the sum over `size` neighbouring channels.
pub(crate) fn lrn(size: u32, alpha: f32, beta: f32, bias: f32, x: &Tensor, out: &Spec) -> Result<Tensor> {
    same_as_input(x, out, "LRN")?;
    let shape = dims(x.shape())?;
    if shape.len() < 2 || size == 0 {
        return Err(invalid("LRN needs [N, C, …] and a positive size"));
    }
    let (n, c, inner) = (shape[0], shape[1], numel(&shape[2..]));
    let size = size as usize;
    // ONNX: channels c − ⌊(size − 1) / 2⌋ ..= c + ⌈(size − 1) / 2⌉.
    let (before, after) = ((size - 1) / 2, (size - 1).div_ceil(2));
    float_types!(x.dtype(), T => {
        let v = values::<T>(x)?;
        let mut y = vec![T::ZERO; v.len()];
        for b in 0..n {
            for ch in 0..c {
                let lo = ch.saturating_sub(before);
                let hi = (ch + after).min(c - 1);
                for i in 0..inner {
                    let at = |cc: usize| v[(b * c + cc) * inner + i].to_f64();
                    let sum: f64 = (lo..=hi).map(|cc| at(cc) * at(cc)).sum();
                    let scale = (bias as f64 + alpha as f64 / size as f64 * sum).powf(beta as f64);
                    y[(b * c + ch) * inner + i] = T::from_f64(at(ch) / scale);
                }
            }
        }
        to_tensor(x.shape(), &y)
    }, _ => Err(unsupported(format!("LRN on {}", x.dtype()))))
}

/// ONNX `Softmax`, or `LogSoftmax` when `log`, along `axis`.
pub(crate) fn softmax(axis: u32, log: bool, x: &Tensor, out: &Spec) -> Result<Tensor> {
    let op = if log { "LogSoftmax" } else { "Softmax" };
    same_as_input(x, out, op)?;
    let (outer, len, inner) = split_at_axis(&dims(x.shape())?, axis as usize)?;
    float_types!(x.dtype(), T => {
        let v = values::<T>(x)?;
        let mut y = vec![T::ZERO; v.len()];
        let mut row = vec![0f64; len];
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| (o * len + j) * inner + i;
                for (j, r) in row.iter_mut().enumerate() {
                    *r = v[at(j)].to_f64();
                }
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = row.iter().map(|&r| (r - max).exp()).sum();
                for (j, &r) in row.iter().enumerate() {
                    let v = if log { r - max - sum.ln() } else { (r - max).exp() / sum };
                    y[at(j)] = T::from_f64(v);
                }
            }
        }
        to_tensor(x.shape(), &y)
    }, _ => Err(unsupported(format!("{op} on {}", x.dtype()))))
}

/// ONNX `LayerNormalization` over the axes from `axis` on, with a scale, an optional bias, and the optional `Mean`
/// and `InvStdDev` outputs.
pub(crate) fn layer_norm(axis: u32, epsilon: f32, inputs: &[&Tensor], outputs: &[Spec]) -> Result<Vec<Tensor>> {
    let (x, scale, bias) = match inputs {
        [x, s] => (*x, *s, None),
        [x, s, b] => (*x, *s, Some(*b)),
        _ => {
            return Err(invalid("LayerNorm takes an input, a scale and an optional bias"));
        }
    };
    let (Some(first), 1..=3) = (outputs.first(), outputs.len()) else {
        return Err(invalid("LayerNorm has one to three outputs"));
    };
    same_as_input(x, first, "LayerNorm")?;
    let shape = dims(x.shape())?;
    let axis = axis as usize;
    if axis >= shape.len() {
        return Err(invalid(format!("LayerNorm axis {axis} is out of range for {shape:?}")));
    }
    let (rows, len) = (numel(&shape[..axis]), numel(&shape[axis..]));
    let stat_shape: Vec<u64> = x.shape().iter().enumerate().map(|(d, &n)| if d < axis { n } else { 1 }).collect();
    if outputs[1..].iter().any(|s| s.1 != stat_shape) {
        return Err(invalid(format!("LayerNorm statistics have shape {stat_shape:?}")));
    }
    let dt = x.dtype();
    if scale.dtype() != dt || bias.is_some_and(|b| b.dtype() != dt) {
        return Err(invalid("LayerNorm scale and bias must have the input's dtype"));
    }
    float_types!(dt, T => {
        // Scale and bias broadcast to the normalized shape.
        let expand = |t: &Tensor| -> Result<Vec<T>> {
            let v = values::<T>(t)?;
            let st = broadcast_strides(&dims(t.shape())?, &shape[axis..])?;
            let mut e = Vec::with_capacity(len);
            walk(&shape[axis..], [&st], |[i]| e.push(v[i]));
            Ok(e)
        };
        let s = expand(scale)?;
        let b = bias.map(expand).transpose()?;
        let v = values::<T>(x)?;
        let mut y = Vec::with_capacity(v.len());
        let (mut means, mut inv_stds) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        for row in v.chunks_exact(len.max(1)).take(rows) {
            let mean = row.iter().map(|r| r.to_f64()).sum::<f64>() / len as f64;
            let var = row.iter().map(|r| (r.to_f64() - mean).powi(2)).sum::<f64>() / len as f64;
            let inv_std = 1.0 / (var + epsilon as f64).sqrt();
            for (j, r) in row.iter().enumerate() {
                let normalized = (r.to_f64() - mean) * inv_std * s[j].to_f64();
                y.push(T::from_f64(normalized + b.as_ref().map_or(0.0, |b| b[j].to_f64())));
            }
            means.push(Scalar::F(mean));
            inv_stds.push(Scalar::F(inv_std));
        }
        let mut results = vec![to_tensor(x.shape(), &y)?];
        for (spec, stats) in outputs[1..].iter().zip([means, inv_stds]) {
            results.push(from_scalars(spec.0, &spec.1, &stats)?);
        }
        Ok(results)
    }, _ => Err(unsupported(format!("LayerNorm on {dt}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
        Tensor::new(shape, v).unwrap()
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let x = f32s(&[2, 3], &[1.0, 2.0, 3.0, 1000.0, 1000.0, -1000.0]);
        let y = softmax(1, false, &x, &(DType::F32, vec![2, 3])).unwrap().to_vec::<f32>().unwrap();
        for row in y.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?}");
        }
        assert!((y[2] - 0.665_240_94).abs() < 1e-6);
        assert_eq!(&y[3..], &[0.5, 0.5, 0.0]);
        // Along axis 0: columns sum to one.
        let y0 = softmax(0, false, &x, &(DType::F32, vec![2, 3])).unwrap().to_vec::<f32>().unwrap();
        for j in 0..3 {
            assert!((y0[j] + y0[3 + j] - 1.0).abs() < 1e-6);
        }
        let ly = softmax(1, true, &x, &(DType::F32, vec![2, 3])).unwrap().to_vec::<f32>().unwrap();
        assert!((ly[2] - 0.665_240_94f32.ln()).abs() < 1e-6);
        assert!((ly[5] - (-2000.0 - 2f32.ln())).abs() < 1e-3);
    }

    #[test]
    fn layer_norm_with_scale_bias_and_stats() {
        let x = f32s(&[2, 2], &[1.0, 3.0, -2.0, 2.0]);
        let scale = f32s(&[2], &[1.0, 2.0]);
        let bias = f32s(&[2], &[0.5, 0.0]);
        let outs = [(DType::F32, vec![2, 2]), (DType::F32, vec![2, 1]), (DType::F32, vec![2, 1])];
        let r = layer_norm(1, 0.0, &[&x, &scale, &bias], &outs).unwrap();
        assert_eq!(r[0].to_vec::<f32>().unwrap(), vec![-0.5, 2.0, -0.5, 2.0]);
        assert_eq!(r[1].to_vec::<f32>().unwrap(), vec![2.0, 0.0]);
        assert_eq!(r[2].to_vec::<f32>().unwrap(), vec![1.0, 0.5]);
    }

    #[test]
    fn lrn_across_channels() {
        // size 3 over 3 channels of one pixel: sums of squares 1+4, 1+4+9, 4+9.
        let x = f32s(&[1, 3, 1, 1], &[1.0, 2.0, 3.0]);
        let y = lrn(3, 3.0, 1.0, 1.0, &x, &(DType::F32, vec![1, 3, 1, 1])).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(y, vec![1.0 / 6.0, 2.0 / 15.0, 3.0 / 14.0]);
    }
}
