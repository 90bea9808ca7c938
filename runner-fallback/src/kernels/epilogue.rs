//! Fused epilogues (SPEC §5.4): steps applied to a Conv, ConvTranspose or MatMul result before it is stored.
//!
//! Operands are kernel inputs named by index. An op's optional third input (Conv's bias, MatMul's `C`) is therefore
//! only its own when no step names index 2 as its operand: `[x, w, residual]` with a step on operand 2 has no bias.

use wdnn_descriptor_spec::{DType, EpilogueStep, op};
use wdnn_runner_core::Tensor;

use super::elementwise::{num_fn, unary_f64};
use super::layout::{broadcast_strides, dims, walk};
use super::types::{Float, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

/// The op's own bias (or MatMul's `C`), by the format's rule (`op::bias_input`, SPEC §5.4).
pub(crate) fn bias<'a>(inputs: &[&'a Tensor], steps: &[EpilogueStep]) -> Option<&'a Tensor> {
    op::bias_input(steps, inputs.len()).and_then(|i| inputs.get(i).copied())
}

/// Applies `steps` in order to every value of `y` (of shape `shape`).
pub(crate) fn apply<T: Float>(y: &mut [T], shape: &[usize], steps: &[EpilogueStep], inputs: &[&Tensor]) -> Result<()> {
    for step in steps {
        match *step {
            EpilogueStep::Unary { fun } => {
                if unary_f64(fun, 0.0).is_none() {
                    return Err(unsupported(format!("epilogue step {fun:?}")));
                }
                for v in y.iter_mut() {
                    *v = T::from_f64(unary_f64(fun, v.to_f64()).unwrap_or(f64::NAN));
                }
            }
            EpilogueStep::Binary { fun, operand, operand_first } => {
                let f = num_fn::<T>(fun).ok_or_else(|| unsupported(format!("epilogue step {fun:?}")))?;
                let t = inputs
                    .get(operand as usize)
                    .ok_or_else(|| invalid(format!("epilogue operand {operand} is not an input")))?;
                let v = values::<T>(t)?;
                let st = broadcast_strides(&dims(t.shape())?, shape)?;
                let mut k = 0;
                walk(shape, [&st], |[i]| {
                    y[k] = if operand_first { f(v[i], y[k]) } else { f(y[k], v[i]) };
                    k += 1;
                });
            }
            EpilogueStep::Unknown => return Err(unsupported("unknown epilogue step")),
        }
    }
    Ok(())
}

/// A standalone fused chain (`Op::Elementwise`): `acc` is input 0 broadcast to the output's shape, then `steps`.
pub(crate) fn elementwise(steps: &[EpilogueStep], inputs: &[&Tensor], out: &(DType, Vec<u64>)) -> Result<Tensor> {
    match out.0 {
        DType::F32 => chain::<f32>(steps, inputs, &out.1),
        DType::F64 => chain::<f64>(steps, inputs, &out.1),
        other => Err(unsupported(format!("fused elementwise chain on {other}"))),
    }
}

fn chain<T: Float>(steps: &[EpilogueStep], inputs: &[&Tensor], out_shape: &[u64]) -> Result<Tensor> {
    let x = inputs.first().ok_or_else(|| invalid("fused elementwise chain without input"))?;
    let shape = dims(out_shape)?;
    let v = values::<T>(x)?;
    let st = broadcast_strides(&dims(x.shape())?, &shape)?;
    let mut y = Vec::with_capacity(shape.iter().product());
    walk(&shape, [&st], |[i]| y.push(v[i]));
    apply(&mut y, &shape, steps, inputs)?;
    to_tensor(out_shape, &y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::{BinaryFn, UnaryFn};

    #[test]
    fn clip_then_residual_add_then_swapped_sub() {
        let residual = Tensor::new(&[2, 1], &[10.0f32, 20.0]).unwrap();
        let steps = [
            EpilogueStep::Unary { fun: UnaryFn::Clip { min: 0.0, max: 6.0 } },
            EpilogueStep::Binary { fun: BinaryFn::Add, operand: 0, operand_first: false },
        ];
        let mut y = vec![-1.0f32, 3.0, 7.0, 5.0];
        apply(&mut y, &[2, 2], &steps, &[&residual]).unwrap();
        assert_eq!(y, vec![10.0, 13.0, 26.0, 25.0]);
        let swapped = [EpilogueStep::Binary { fun: BinaryFn::Sub, operand: 0, operand_first: true }];
        apply(&mut y, &[2, 2], &swapped, &[&residual]).unwrap();
        assert_eq!(y, vec![0.0, -3.0, -6.0, -5.0]);
    }

    #[test]
    fn bias_is_not_an_operand() {
        let (x, w, r) = (
            Tensor::zeros(wdnn_descriptor_spec::DType::F32, &[1]),
            Tensor::zeros(wdnn_descriptor_spec::DType::F32, &[1]),
            Tensor::zeros(wdnn_descriptor_spec::DType::F32, &[1]),
        );
        let steps = [EpilogueStep::Binary { fun: BinaryFn::Add, operand: 2, operand_first: false }];
        assert!(bias(&[&x, &w, &r], &steps).is_none());
        assert!(bias(&[&x, &w, &r], &[]).is_some());
        assert!(bias(&[&x, &w], &[]).is_none());
    }
}
