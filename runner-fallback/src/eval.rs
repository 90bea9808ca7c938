//! [`eval`]: one op on host tensors.

use std::borrow::Cow;

use wdnn_descriptor_spec::{DType, Op};
use wdnn_runner_core::Tensor;

use crate::error::{EvalError, Result, invalid, unsupported};
use crate::kernels::conv::{self, ConvAttrs};
use crate::kernels::elementwise;
use crate::kernels::epilogue;
use crate::kernels::grid_sample::{self, GridSampleAttrs};
use crate::kernels::indexing;
use crate::kernels::matmul;
use crate::kernels::norm;
use crate::kernels::pool::{self, PoolAttrs};
use crate::kernels::reduce;
use crate::kernels::resize::{self, ResizeAttrs};
use crate::kernels::shape;

/// Evaluates `op` on `inputs`; `outputs` gives each output's dtype and shape, which the results have exactly.
///
/// Numeric kernels compute f16 tensors in f32 and round the results back, so every op that supports f32 also
/// supports f16. Ops whose ONNX form took attributes as inputs (Reshape's shape, Slice's starts…) ignore extra inputs.
pub fn eval(op: &Op, inputs: &[&Tensor], outputs: &[(DType, Vec<u64>)]) -> Result<Vec<Tensor>, EvalError> {
    let results = if op.channels_last() {
        crate::kernels::channels_last::eval(op, inputs, outputs, eval)?
    } else if computes_in_f32(op) && involves_f16(inputs, outputs) {
        eval_f16_in_f32(op, inputs, outputs)?
    } else {
        dispatch(op, inputs, outputs)?
    };
    if results.len() != outputs.len() {
        return Err(invalid(format!("{} gave {} outputs, {} expected", op.name(), results.len(), outputs.len())));
    }
    for (r, (dtype, shape)) in results.iter().zip(outputs) {
        if r.dtype() != *dtype || r.shape() != shape.as_slice() {
            return Err(invalid(format!(
                "{} gave {} {:?} where {dtype} {shape:?} was expected",
                op.name(),
                r.dtype(),
                r.shape()
            )));
        }
    }
    Ok(results)
}

/// Ops that do arithmetic; the others move bytes and handle f16 as they are.
fn computes_in_f32(op: &Op) -> bool {
    !matches!(
        op,
        Op::Cast
            | Op::Where
            | Op::Reshape
            | Op::Transpose { .. }
            | Op::Concat { .. }
            | Op::Slice { .. }
            | Op::Gather { .. }
            | Op::GatherElements { .. }
            | Op::Pad { .. }
            | Op::Expand
            | Op::Tile
            | Op::GatherNd { .. }
            | Op::BitCast
    )
}

fn involves_f16(inputs: &[&Tensor], outputs: &[(DType, Vec<u64>)]) -> bool {
    inputs.iter().any(|t| t.dtype() == DType::F16) || outputs.iter().any(|o| o.0 == DType::F16)
}

/// Runs `op` with every f16 input and output promoted to f32, then rounds the f16 outputs back.
fn eval_f16_in_f32(op: &Op, inputs: &[&Tensor], outputs: &[(DType, Vec<u64>)]) -> Result<Vec<Tensor>> {
    let to_f32 = |t: &Tensor| elementwise::cast(t, &(DType::F32, t.shape().to_vec()));
    let promoted: Vec<Cow<Tensor>> = inputs
        .iter()
        .map(|&t| if t.dtype() == DType::F16 { to_f32(t).map(Cow::Owned) } else { Ok(Cow::Borrowed(t)) })
        .collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = promoted.iter().map(|t| t.as_ref()).collect();
    let specs: Vec<(DType, Vec<u64>)> =
        outputs.iter().map(|(d, s)| (if *d == DType::F16 { DType::F32 } else { *d }, s.clone())).collect();
    let results = dispatch(op, &refs, &specs)?;
    results
        .into_iter()
        .zip(outputs)
        .map(|(r, (d, s))| if *d == DType::F16 { elementwise::cast(&r, &(DType::F16, s.clone())) } else { Ok(r) })
        .collect()
}

/// Input `i`, or an error naming the op.
fn input<'a>(op: &Op, inputs: &[&'a Tensor], i: usize) -> Result<&'a Tensor> {
    inputs.get(i).copied().ok_or_else(|| invalid(format!("{} needs at least {} inputs", op.name(), i + 1)))
}

/// Checks the input count against `min..=max`.
fn arity(op: &Op, inputs: &[&Tensor], min: usize, max: usize) -> Result<()> {
    if inputs.len() < min || inputs.len() > max {
        return Err(invalid(format!("{} takes {min} to {max} inputs, not {}", op.name(), inputs.len())));
    }
    Ok(())
}

fn dispatch(op: &Op, inputs: &[&Tensor], outputs: &[(DType, Vec<u64>)]) -> Result<Vec<Tensor>> {
    // Every op but LayerNorm and TopK (which check their own) has exactly one output.
    let Some(out) = outputs.first() else {
        return Err(invalid(format!("{} has no output", op.name())));
    };
    if outputs.len() != 1 && !matches!(op, Op::LayerNorm { .. } | Op::TopK { .. }) {
        return Err(invalid(format!("{} has one output, not {}", op.name(), outputs.len())));
    }
    let x = || input(op, inputs, 0);
    let any = usize::MAX;
    let y = match op {
        Op::Unary { fun } => {
            arity(op, inputs, 1, 1)?;
            elementwise::unary(*fun, x()?, out)?
        }
        Op::Binary { fun } => {
            arity(op, inputs, 2, 2)?;
            elementwise::binary(*fun, inputs[0], inputs[1], out)?
        }
        Op::Elementwise { steps } => {
            arity(op, inputs, 1, any)?;
            epilogue::elementwise(steps, inputs, out)?
        }
        Op::Where => {
            arity(op, inputs, 3, 3)?;
            elementwise::where_(inputs[0], inputs[1], inputs[2], out)?
        }
        Op::Cast => {
            arity(op, inputs, 1, 1)?;
            elementwise::cast(x()?, out)?
        }
        Op::Conv { group, strides, dilations, pads, epilogue, .. } => {
            let attrs = ConvAttrs { group: *group, strides, dilations, pads, epilogue };
            conv::conv(&attrs, inputs, out)?
        }
        Op::ConvTranspose { group, strides, dilations, pads, epilogue, .. } => {
            let attrs = ConvAttrs { group: *group, strides, dilations, pads, epilogue };
            conv::conv_transpose(&attrs, inputs, out)?
        }
        Op::MatMul { transpose_a, transpose_b, epilogue } => {
            matmul::matmul(*transpose_a, *transpose_b, epilogue, inputs, out)?
        }
        Op::MaxPool { kernel_shape, strides, dilations, pads, .. } => {
            arity(op, inputs, 1, 1)?;
            pool::max_pool(&PoolAttrs { kernel_shape, strides, dilations, pads }, x()?, out)?
        }
        Op::AveragePool { kernel_shape, strides, dilations, pads, count_include_pad, .. } => {
            arity(op, inputs, 1, 1)?;
            let attrs = PoolAttrs { kernel_shape, strides, dilations, pads };
            pool::average_pool(&attrs, *count_include_pad, x()?, out)?
        }
        Op::Lrn { size, alpha, beta, bias } => {
            arity(op, inputs, 1, 1)?;
            norm::lrn(*size, *alpha, *beta, *bias, x()?, out)?
        }
        Op::Softmax { axis } => {
            arity(op, inputs, 1, 1)?;
            norm::softmax(*axis, false, x()?, out)?
        }
        Op::LogSoftmax { axis } => {
            arity(op, inputs, 1, 1)?;
            norm::softmax(*axis, true, x()?, out)?
        }
        Op::Reduce { fun, axes } => {
            arity(op, inputs, 1, any)?;
            reduce::reduce(*fun, axes, x()?, out)?
        }
        Op::ArgMax { axis, select_last_index } => {
            arity(op, inputs, 1, 1)?;
            reduce::arg(true, *axis, *select_last_index, x()?, out)?
        }
        Op::ArgMin { axis, select_last_index } => {
            arity(op, inputs, 1, 1)?;
            reduce::arg(false, *axis, *select_last_index, x()?, out)?
        }
        Op::Reshape => {
            arity(op, inputs, 1, any)?;
            shape::reshape(x()?, out)?
        }
        Op::Transpose { perm } => {
            arity(op, inputs, 1, 1)?;
            shape::transpose(x()?, perm, out)?
        }
        Op::Concat { axis } => {
            arity(op, inputs, 1, any)?;
            shape::concat(inputs, *axis, out)?
        }
        Op::Slice { axes, starts, steps } => {
            arity(op, inputs, 1, any)?;
            shape::slice(x()?, axes, starts, steps, out)?
        }
        Op::Gather { axis } => {
            arity(op, inputs, 2, 2)?;
            shape::gather(inputs[0], inputs[1], *axis, out)?
        }
        Op::GatherElements { axis } => {
            arity(op, inputs, 2, 2)?;
            shape::gather_elements(inputs[0], inputs[1], *axis, out)?
        }
        Op::Pad { pads, mode, value } => {
            arity(op, inputs, 1, any)?;
            shape::pad(x()?, pads, *mode, *value, out)?
        }
        Op::Expand => {
            arity(op, inputs, 1, any)?;
            shape::expand(x()?, out)?
        }
        Op::Tile => {
            arity(op, inputs, 1, any)?;
            shape::tile(x()?, out)?
        }
        Op::Resize { .. } => {
            arity(op, inputs, 1, any)?;
            let attrs = ResizeAttrs::of(op).ok_or_else(|| invalid("Resize without its attributes"))?;
            resize::resize(&attrs, x()?, out)?
        }
        Op::LayerNorm { axis, epsilon } => {
            return norm::layer_norm(*axis, *epsilon, inputs, outputs);
        }
        Op::GridSample { mode, padding, align_corners } => {
            arity(op, inputs, 2, 2)?;
            let attrs = GridSampleAttrs { mode: *mode, padding: *padding, align_corners: *align_corners };
            grid_sample::grid_sample(&attrs, inputs[0], inputs[1], out)?
        }
        Op::BitCast => {
            arity(op, inputs, 1, 1)?;
            shape::bit_cast(x()?, out)?
        }
        Op::CumSum { axis, exclusive, reverse } => {
            arity(op, inputs, 1, any)?;
            indexing::cumulative(false, *axis, *exclusive, *reverse, x()?, out)?
        }
        Op::CumProd { axis, exclusive, reverse } => {
            arity(op, inputs, 1, any)?;
            indexing::cumulative(true, *axis, *exclusive, *reverse, x()?, out)?
        }
        Op::TopK { axis, largest } => {
            arity(op, inputs, 1, any)?;
            return indexing::top_k(*axis, *largest, x()?, outputs);
        }
        Op::GatherNd { batch_dims } => {
            arity(op, inputs, 2, 2)?;
            indexing::gather_nd(inputs[0], inputs[1], *batch_dims, out)?
        }
        Op::ScatterNd { reduction } => {
            arity(op, inputs, 3, 3)?;
            indexing::scatter_nd(inputs, *reduction, out)?
        }
        Op::ScatterElements { axis, reduction } => {
            arity(op, inputs, 3, 3)?;
            indexing::scatter_elements(inputs, *axis, *reduction, out)?
        }
        Op::Unknown => return Err(unsupported("an op this reader does not know")),
    };
    Ok(vec![y])
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::{BinaryFn, UnaryFn};

    #[test]
    fn f16_is_computed_in_f32() {
        let x = elementwise::cast(&Tensor::new(&[3], &[-1.0f32, 0.5, 2.0]).unwrap(), &(DType::F16, vec![3])).unwrap();
        let y = eval(&Op::Unary { fun: UnaryFn::Relu }, &[&x], &[(DType::F16, vec![3])]).unwrap();
        let back = elementwise::cast(&y[0], &(DType::F32, vec![3])).unwrap();
        assert_eq!(back.to_vec::<f32>().unwrap(), vec![0.0, 0.5, 2.0]);
        let b = eval(&Op::Binary { fun: BinaryFn::Less }, &[&x, &x], &[(DType::Bool, vec![3])]).unwrap();
        assert_eq!(b[0].to_vec::<bool>().unwrap(), vec![false; 3]);
    }

    #[test]
    fn errors_are_classified() {
        let x = Tensor::new(&[2], &[1.0f32, 2.0]).unwrap();
        assert!(matches!(eval(&Op::Unknown, &[&x], &[(DType::F32, vec![2])]), Err(EvalError::Unsupported(_))));
        let bad_shape = eval(&Op::Unary { fun: UnaryFn::Exp }, &[&x], &[(DType::F32, vec![3])]);
        assert!(matches!(bad_shape, Err(EvalError::Invalid(_))));
        let missing = eval(&Op::Binary { fun: BinaryFn::Add }, &[&x], &[(DType::F32, vec![2])]);
        assert!(matches!(missing, Err(EvalError::Invalid(_))));
        let two_outputs = eval(&Op::Reshape, &[&x], &[(DType::F32, vec![2]), (DType::F32, vec![2])]);
        assert!(matches!(two_outputs, Err(EvalError::Invalid(_))));
    }
}
