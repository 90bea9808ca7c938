//! ONNX `Reduce*` and `ArgMax`/`ArgMin`.
//!
//! Float reductions accumulate in f64. Integer ones (Sum, Mean, Max, Min, Prod, L1, SumSquare) wrap, as integer
//! arithmetic does in the runtimes.

use wdnn_descriptor_spec::{DType, ReduceFn};
use wdnn_runner_core::Tensor;

use super::layout::{dims, numel, split_at_axis, strides, walk};
use super::types::{Num, float_types, int_types, num_types, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

type Spec = (DType, Vec<u64>);

/// The output shape must be the input's with the reduced axes kept as 1 or dropped.
fn check_reduced_shape(input: &[u64], reduced: &[bool], out: &[u64]) -> Result<()> {
    let kept: Vec<u64> = input.iter().zip(reduced).map(|(&n, &r)| if r { 1 } else { n }).collect();
    let dropped: Vec<u64> = input.iter().zip(reduced).filter(|(_, r)| !**r).map(|(&n, _)| n).collect();
    if out != kept && out != dropped {
        return Err(invalid(format!("reducing {input:?} cannot give {out:?}")));
    }
    Ok(())
}

/// ONNX `Reduce*` over `axes` (ascending, non-negative); no axes is a copy.
pub(crate) fn reduce(fun: ReduceFn, axes: &[u32], x: &Tensor, out: &Spec) -> Result<Tensor> {
    let shape = dims(x.shape())?;
    if out.0 != x.dtype() {
        return Err(invalid(format!("Reduce keeps the dtype {}, not {}", x.dtype(), out.0)));
    }
    if axes.is_empty() {
        if out.1 != x.shape() {
            return Err(invalid("a Reduce over no axes is a copy"));
        }
        return Ok(x.clone());
    }
    let mut reduced = vec![false; shape.len()];
    for &a in axes {
        let a = a as usize;
        if a >= shape.len() || std::mem::replace(&mut reduced[a], true) {
            return Err(invalid(format!("Reduce axes {axes:?} repeat or are out of range for {shape:?}")));
        }
    }
    check_reduced_shape(x.shape(), &reduced, &out.1)?;
    // For each input element, the offset of the output element it reduces into.
    let kept_shape: Vec<usize> = shape.iter().zip(&reduced).map(|(&n, &r)| if r { 1 } else { n }).collect();
    let out_strides: Vec<usize> =
        strides(&kept_shape).into_iter().zip(&reduced).map(|(s, &r)| if r { 0 } else { s }).collect();
    let (outputs, count) = (numel(&kept_shape), numel(&shape) / numel(&kept_shape).max(1));
    let what = || format!("Reduce{fun:?} on {}", x.dtype());
    if x.dtype() == DType::Bool {
        // Max is "any", Min is "all" (ONNX defines ReduceMax/ReduceMin on bool from opset 20).
        let (init, f): (bool, fn(bool, bool) -> bool) = match fun {
            ReduceFn::Max => (false, |a, b| a || b),
            ReduceFn::Min => (true, |a, b| a && b),
            _ => return Err(unsupported(what())),
        };
        let v = values::<bool>(x)?;
        let y = fold_into(&v, &shape, &out_strides, vec![init; outputs], f);
        return to_tensor(&out.1, &y);
    }
    if x.dtype().is_float() {
        return float_types!(x.dtype(), T => {
            let v = values::<T>(x)?;
            let y = reduce_float(fun, &v, &shape, &out_strides, outputs, count);
            to_tensor(&out.1, &y.into_iter().map(T::from_f64).collect::<Vec<T>>())
        }, _ => Err(unsupported(what())));
    }
    int_types!(x.dtype(), T => {
        let v = values::<T>(x)?;
        let y = reduce_int::<T>(fun, &v, &shape, &out_strides, outputs, count);
        let y = y.ok_or_else(|| unsupported(what()))?;
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(what())))
}

/// Folds every input value into its output slot.
fn fold_into<T: Copy, A: Copy>(
    v: &[T],
    shape: &[usize],
    out_strides: &[usize],
    init: Vec<A>,
    f: impl Fn(A, T) -> A,
) -> Vec<A> {
    let mut acc = init;
    let mut k = 0;
    walk(shape, [out_strides], |[o]| {
        acc[o] = f(acc[o], v[k]);
        k += 1;
    });
    acc
}

fn reduce_float<T: Num>(
    fun: ReduceFn,
    v: &[T],
    shape: &[usize],
    out_strides: &[usize],
    outputs: usize,
    count: usize,
) -> Vec<f64> {
    let sum_of = |g: fn(f64) -> f64| fold_into(v, shape, out_strides, vec![0.0; outputs], |a, x| a + g(x.to_f64()));
    match fun {
        ReduceFn::Sum => sum_of(|x| x),
        ReduceFn::Mean => sum_of(|x| x).into_iter().map(|s| s / count as f64).collect(),
        ReduceFn::L1 => sum_of(f64::abs),
        ReduceFn::L2 => sum_of(|x| x * x).into_iter().map(f64::sqrt).collect(),
        ReduceFn::SumSquare => sum_of(|x| x * x),
        ReduceFn::LogSum => sum_of(|x| x).into_iter().map(f64::ln).collect(),
        ReduceFn::Prod => fold_into(v, shape, out_strides, vec![1.0; outputs], |a, x| a * x.to_f64()),
        ReduceFn::Max => {
            fold_into(v, shape, out_strides, vec![f64::NEG_INFINITY; outputs], |a, x| a.max_of(x.to_f64()))
        }
        ReduceFn::Min => fold_into(v, shape, out_strides, vec![f64::INFINITY; outputs], |a, x| a.min_of(x.to_f64())),
        ReduceFn::LogSumExp => {
            let max = fold_into(v, shape, out_strides, vec![f64::NEG_INFINITY; outputs], |a, x| a.max_of(x.to_f64()));
            // Shift by the maximum for stability; an infinite maximum is its own answer.
            let shift: Vec<f64> = max.iter().map(|&m| if m.is_finite() { m } else { 0.0 }).collect();
            let mut sums = vec![0.0; outputs];
            let mut k = 0;
            walk(shape, [out_strides], |[o]| {
                sums[o] += (v[k].to_f64() - shift[o]).exp();
                k += 1;
            });
            sums.iter().zip(&shift).map(|(s, m)| m + s.ln()).collect()
        }
    }
}

fn reduce_int<T: Num>(
    fun: ReduceFn,
    v: &[T],
    shape: &[usize],
    out_strides: &[usize],
    outputs: usize,
    count: usize,
) -> Option<Vec<T>> {
    let fold = |init: T, f: fn(T, T) -> T| fold_into(v, shape, out_strides, vec![init; outputs], f);
    Some(match fun {
        ReduceFn::Sum => fold(T::ZERO, T::plus),
        ReduceFn::Mean if count > 0 => {
            let n = T::from_f64(count as f64);
            fold(T::ZERO, T::plus).into_iter().map(|s| if n == T::ZERO { s } else { s.divide(n) }).collect()
        }
        ReduceFn::Prod => fold(T::ONE, T::times),
        ReduceFn::Max => fold(T::from_f64(f64::NEG_INFINITY), T::max_of),
        ReduceFn::Min => fold(T::from_f64(f64::INFINITY), T::min_of),
        ReduceFn::L1 => fold(T::ZERO, |a, x| a.plus(x.abs_of())),
        ReduceFn::SumSquare => fold(T::ZERO, |a, x| a.plus(x.times(x))),
        _ => return None,
    })
}

/// ONNX `ArgMax` (`max`) or `ArgMin` along `axis`; ties give the first index, or the last with `select_last`.
pub(crate) fn arg(max: bool, axis: u32, select_last: bool, x: &Tensor, out: &Spec) -> Result<Tensor> {
    let shape = dims(x.shape())?;
    let axis = axis as usize;
    let (outer, len, inner) = split_at_axis(&shape, axis)?;
    let reduced: Vec<bool> = (0..shape.len()).map(|d| d == axis).collect();
    check_reduced_shape(x.shape(), &reduced, &out.1)?;
    if out.0 != DType::I64 || len == 0 {
        return Err(invalid("ArgMax/ArgMin give i64 along a non-empty axis"));
    }
    num_types!(x.dtype(), T => {
        let v = values::<T>(x)?;
        let mut y = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| v[(o * len + j) * inner + i];
                let mut best = 0;
                for j in 1..len {
                    let (a, b) = (at(j), at(best));
                    let better = if max { a > b } else { a < b };
                    if better || (select_last && a == b) {
                        best = j;
                    }
                }
                y.push(best as i64);
            }
        }
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("ArgMax/ArgMin on {}", x.dtype()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
        Tensor::new(shape, v).unwrap()
    }

    #[test]
    fn every_float_reduction() {
        let x = f32s(&[2, 3], &[1.0, 2.0, 3.0, -1.0, 0.0, 4.0]);
        let run = |fun, axes: &[u32], out: &[u64]| {
            reduce(fun, axes, &x, &(DType::F32, out.to_vec())).unwrap().to_vec::<f32>().unwrap()
        };
        assert_eq!(run(ReduceFn::Sum, &[1], &[2]), vec![6.0, 3.0]);
        assert_eq!(run(ReduceFn::Sum, &[0], &[1, 3]), vec![0.0, 2.0, 7.0]);
        assert_eq!(run(ReduceFn::Mean, &[0, 1], &[1, 1]), vec![1.5]);
        assert_eq!(run(ReduceFn::Max, &[1], &[2, 1]), vec![3.0, 4.0]);
        assert_eq!(run(ReduceFn::Min, &[1], &[2]), vec![1.0, -1.0]);
        assert_eq!(run(ReduceFn::Prod, &[1], &[2]), vec![6.0, -0.0]);
        assert_eq!(run(ReduceFn::L1, &[1], &[2]), vec![6.0, 5.0]);
        assert_eq!(run(ReduceFn::L2, &[0], &[3]), vec![2f32.sqrt(), 2.0, 5.0]);
        assert_eq!(run(ReduceFn::SumSquare, &[1], &[2]), vec![14.0, 17.0]);
        let log_sum = run(ReduceFn::LogSum, &[1], &[2]);
        assert!((log_sum[0] - 6f32.ln()).abs() < 1e-6 && (log_sum[1] - 3f32.ln()).abs() < 1e-6);
        let lse = run(ReduceFn::LogSumExp, &[1], &[2]);
        assert!((lse[0] - (1f32.exp() + 2f32.exp() + 3f32.exp()).ln()).abs() < 1e-6);
        assert_eq!(run(ReduceFn::Sum, &[], &[2, 3]), x.to_vec::<f32>().unwrap());
        assert!(reduce(ReduceFn::Sum, &[1], &x, &(DType::F32, vec![3])).is_err());
    }

    #[test]
    fn integer_reductions() {
        let x = Tensor::new(&[2, 2], &[3i64, -4, 5, 6]).unwrap();
        let run = |fun| reduce(fun, &[1], &x, &(DType::I64, vec![2])).unwrap().to_vec::<i64>().unwrap();
        assert_eq!(run(ReduceFn::Sum), vec![-1, 11]);
        assert_eq!(run(ReduceFn::Prod), vec![-12, 30]);
        assert_eq!(run(ReduceFn::Max), vec![3, 6]);
        assert_eq!(run(ReduceFn::Min), vec![-4, 5]);
        assert!(reduce(ReduceFn::L2, &[1], &x, &(DType::I64, vec![2])).is_err());
    }

    #[test]
    fn bool_max_is_any_and_min_is_all() {
        let x = Tensor::new(&[2, 2], &[true, false, false, false]).unwrap();
        let run = |fun| reduce(fun, &[1], &x, &(DType::Bool, vec![2])).unwrap().to_vec::<bool>().unwrap();
        assert_eq!(run(ReduceFn::Max), vec![true, false]);
        assert_eq!(run(ReduceFn::Min), vec![false, false]);
        assert!(reduce(ReduceFn::Sum, &[1], &x, &(DType::Bool, vec![2])).is_err());
    }

    #[test]
    fn argmax_ties() {
        let x = f32s(&[2, 3], &[1.0, 3.0, 3.0, 0.0, -1.0, 0.0]);
        let run = |max, last, axis, out: &[u64]| {
            arg(max, axis, last, &x, &(DType::I64, out.to_vec())).unwrap().to_vec::<i64>().unwrap()
        };
        assert_eq!(run(true, false, 1, &[2]), vec![1, 0]);
        assert_eq!(run(true, true, 1, &[2, 1]), vec![2, 2]);
        assert_eq!(run(false, false, 1, &[2]), vec![0, 1]);
        assert_eq!(run(false, false, 0, &[1, 3]), vec![1, 1, 1]);
    }
}
