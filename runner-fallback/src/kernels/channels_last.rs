//! NHWC (`channels_last`) spatial ops: the reference computes them in NCHW between two transposes, then applies
//! the epilogue in NHWC, where its operands live. Slow, but obviously equivalent, which is what an oracle needs.

use wdnn_descriptor_spec::{DType, Op, shape};
use wdnn_runner_core::Tensor;

use super::epilogue;
use super::shape::transpose;
use crate::error::{Result, invalid};

/// `shape` transposed by `perm` (the format's rule, `shape::permute`).
fn permuted(shape: &[u64], perm: &[u32]) -> Result<Vec<u64>> {
    shape::permute(shape, perm).ok_or_else(|| invalid(format!("permutation {perm:?} does not fit shape {shape:?}")))
}

/// The same op in NCHW with no epilogue.
fn channels_first(op: &Op) -> Op {
    let mut op = op.clone();
    match &mut op {
        Op::Conv { channels_last, epilogue, .. } | Op::ConvTranspose { channels_last, epilogue, .. } => {
            *channels_last = false;
            epilogue.clear();
        }
        Op::MaxPool { channels_last, .. } | Op::AveragePool { channels_last, .. } => *channels_last = false,
        _ => {}
    }
    op
}

/// How the NCHW op is evaluated: the caller's dispatcher, passed in so that this adapter does not import it back.
pub(crate) type Nchw = fn(&Op, &[&Tensor], &[(DType, Vec<u64>)]) -> Result<Vec<Tensor>>;

/// Evaluates a `channels_last` spatial op: its NCHW form through `nchw` between two transposes.
pub(crate) fn eval(op: &Op, inputs: &[&Tensor], outputs: &[(DType, Vec<u64>)], nchw: Nchw) -> Result<Vec<Tensor>> {
    let (Some(x), [(dtype, out_shape)]) = (inputs.first(), outputs) else {
        return Err(invalid(format!("{} (channels last) needs an input and one output", op.name())));
    };
    let rank = x.shape().len();
    if rank < 3 || out_shape.len() != rank {
        return Err(invalid(format!("{} (channels last) needs rank ≥ 3 activations", op.name())));
    }
    let (to_last, to_first) = (shape::to_channels_last(rank), shape::to_channels_first(rank));
    let x_first = transpose(x, &to_first, &(x.dtype(), permuted(x.shape(), &to_first)?))?;
    let steps = op.epilogue().unwrap_or(&[]);
    let mut own = vec![&x_first];
    if matches!(op, Op::Conv { .. } | Op::ConvTranspose { .. }) {
        own.extend(inputs.get(1).copied());
        own.extend(epilogue::bias(inputs, steps));
    }
    let y = nchw(&channels_first(op), &own, &[(*dtype, permuted(out_shape, &to_first)?)])
        .map_err(|e| invalid(e.to_string()))?;
    let y_last = transpose(&y[0], &to_last, &(*dtype, out_shape.clone()))?;
    if steps.is_empty() {
        return Ok(vec![y_last]);
    }
    let mut with_acc: Vec<&Tensor> = inputs.to_vec();
    with_acc[0] = &y_last;
    Ok(vec![epilogue::elementwise(steps, &with_acc, &(*dtype, out_shape.clone()))?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhwc_maxpool_equals_nchw_between_transposes() {
        let x: Vec<f32> = (0..16).map(|i| ((i * 7) % 16) as f32).collect();
        let nchw = Tensor::new(&[1, 1, 4, 4], &x).unwrap();
        let nhwc = nchw.clone().reshaped(&[1, 4, 4, 1]).unwrap();
        let pool = |channels_last| Op::MaxPool {
            kernel_shape: vec![2, 2],
            strides: vec![2, 2],
            dilations: vec![1, 1],
            pads: vec![0; 4],
            channels_last,
        };
        let a = crate::eval(&pool(false), &[&nchw], &[(DType::F32, vec![1, 1, 2, 2])]).unwrap();
        let b = crate::eval(&pool(true), &[&nhwc], &[(DType::F32, vec![1, 2, 2, 1])]).unwrap();
        assert_eq!(a[0].to_vec::<f32>().unwrap(), b[0].to_vec::<f32>().unwrap());
    }
}
