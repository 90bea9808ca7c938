//! Cumulative, sorting and scatter/gather ops: ONNX `CumSum`, `CumProd`, `TopK`, `GatherND`, `ScatterND` and
//! `ScatterElements`.
//!
//! Float accumulations run in f64; integer ones wrap. Gathers and plain scatters move bytes, so they serve every
//! dtype; scatters with a reduction work on numbers.

use wdnn_descriptor_spec::DType;
use wdnn_descriptor_spec::op::ScatterReduction;
use wdnn_runner_core::Tensor;

use super::layout::{dims, numel, split_at_axis, strides};
use super::types::{Num, float_types, indices, int_types, num_types, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

type Spec = (DType, Vec<u64>);

fn same_as_input(x: &Tensor, out: &Spec, op: &str) -> Result<()> {
    if out.0 != x.dtype() || out.1 != x.shape() {
        return Err(invalid(format!("{op} keeps {} {:?}, not {} {:?}", x.dtype(), x.shape(), out.0, out.1)));
    }
    Ok(())
}

/// An index along an axis of `dim` elements, negative ones counting from the end.
fn normalize(index: i64, dim: usize) -> Result<usize> {
    let i = if index < 0 { index + dim as i64 } else { index };
    if (0..dim as i64).contains(&i) {
        Ok(i as usize)
    } else {
        Err(invalid(format!("index {index} is out of range for an axis of {dim}")))
    }
}

/// Visits every line along `axis` as the flat offsets of its `len` elements, in order (reversed when `reverse`).
fn lines(
    shape: &[usize],
    axis: usize,
    reverse: bool,
    mut f: impl FnMut(&mut dyn Iterator<Item = usize>),
) -> Result<()> {
    let (outer, len, inner) = split_at_axis(shape, axis)?;
    for o in 0..outer {
        for i in 0..inner {
            let at = move |j: usize| (o * len + j) * inner + i;
            if reverse {
                f(&mut (0..len).rev().map(at));
            } else {
                f(&mut (0..len).map(at));
            }
        }
    }
    Ok(())
}

/// ONNX `CumSum` (`prod` false) or `CumProd` along `axis`.
pub(crate) fn cumulative(
    prod: bool,
    axis: u32,
    exclusive: bool,
    reverse: bool,
    x: &Tensor,
    out: &Spec,
) -> Result<Tensor> {
    let op = if prod { "CumProd" } else { "CumSum" };
    same_as_input(x, out, op)?;
    let shape = dims(x.shape())?;
    let axis = axis as usize;
    fn scan<A: Copy>(
        v: &[A],
        shape: &[usize],
        axis: usize,
        (exclusive, reverse): (bool, bool),
        (init, f): (A, impl Fn(A, A) -> A),
    ) -> Result<Vec<A>> {
        let mut y = v.to_vec();
        lines(shape, axis, reverse, |line| {
            let mut acc = init;
            for k in line {
                let next = f(acc, v[k]);
                y[k] = if exclusive { acc } else { next };
                acc = next;
            }
        })?;
        Ok(y)
    }
    let flags = (exclusive, reverse);
    if x.dtype().is_float() {
        return float_types!(x.dtype(), T => {
            let v: Vec<f64> = values::<T>(x)?.into_iter().map(|v| v.to_f64()).collect();
            let y = if prod { scan(&v, &shape, axis, flags, (1.0, |a, b| a * b))? } else { scan(&v, &shape, axis, flags, (0.0, |a, b| a + b))? };
            to_tensor(&out.1, &y.into_iter().map(T::from_f64).collect::<Vec<T>>())
        }, _ => Err(unsupported(format!("{op} on {}", x.dtype()))));
    }
    int_types!(x.dtype(), T => {
        let v = values::<T>(x)?;
        let y = if prod { scan(&v, &shape, axis, flags, (T::ONE, T::times))? } else { scan(&v, &shape, axis, flags, (T::ZERO, T::plus))? };
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("{op} on {}", x.dtype()))))
}

/// ONNX `TopK` along `axis`, K being the outputs' extent there: the values, sorted (largest first when `largest`),
/// and their indices (i64). Ties keep the lower index first; NaN counts as larger than any number.
pub(crate) fn top_k(axis: u32, largest: bool, x: &Tensor, outputs: &[Spec]) -> Result<Vec<Tensor>> {
    let [(vdt, vshape), (idt, ishape)] = outputs else {
        return Err(invalid("TopK has two outputs"));
    };
    let (shape, out_shape) = (dims(x.shape())?, dims(vshape)?);
    let axis = axis as usize;
    let ok_shape = out_shape.len() == shape.len()
        && (0..shape.len()).all(|d| if d == axis { out_shape[d] <= shape[d] } else { out_shape[d] == shape[d] });
    if *vdt != x.dtype() || *idt != DType::I64 || vshape != ishape || !ok_shape {
        return Err(invalid(format!(
            "TopK of {} {:?} into {vdt} {vshape:?} and {idt} {ishape:?}",
            x.dtype(),
            x.shape()
        )));
    }
    let k = out_shape[axis];
    let (outer, len, inner) = split_at_axis(&shape, axis)?;
    num_types!(x.dtype(), T => {
        let v = values::<T>(x)?;
        let mut idx = vec![0i64; numel(&out_shape)];
        let mut order: Vec<usize> = Vec::with_capacity(len);
        let mut picked = vec![T::ZERO; numel(&out_shape)];
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| v[(o * len + j) * inner + i];
                order.clear();
                order.extend(0..len);
                order.sort_by(|&a, &b| {
                    let (x, y) = (at(a), at(b));
                    let ord = match (x.is_nan(), y.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    };
                    (if largest { ord.reverse() } else { ord }).then(a.cmp(&b))
                });
                for (r, &j) in order.iter().take(k).enumerate() {
                    let dst = (o * k + r) * inner + i;
                    picked[dst] = at(j);
                    idx[dst] = j as i64;
                }
            }
        }
        Ok(vec![to_tensor(vshape, &picked)?, to_tensor(ishape, &idx)?])
    }, _ => Err(unsupported(format!("TopK on {}", x.dtype()))))
}

/// ONNX `GatherND(data, indices)` with `batch_dims` leading axes shared.
pub(crate) fn gather_nd(data: &Tensor, idx: &Tensor, batch_dims: u32, out: &Spec) -> Result<Tensor> {
    if out.0 != data.dtype() {
        return Err(invalid(format!("GatherND keeps the dtype {}, not {}", data.dtype(), out.0)));
    }
    let (ds, is) = (dims(data.shape())?, dims(idx.shape())?);
    let b = batch_dims as usize;
    let Some((&m, tuples_shape)) = is.split_last() else {
        return Err(invalid("GatherND indices must have rank 1 or more"));
    };
    if b >= is.len() || b + m > ds.len() || ds[..b] != is[..b] {
        return Err(invalid(format!("GatherND of {ds:?} by {is:?} with batch_dims {b}")));
    }
    let slice_shape = &ds[b + m..];
    let expected: Vec<u64> = tuples_shape.iter().chain(slice_shape).map(|&d| d as u64).collect();
    if expected != out.1 {
        return Err(invalid(format!("GatherND gives {expected:?}, not {:?}", out.1)));
    }
    let (elem, inner) = (data.dtype().size(), numel(slice_shape));
    let st = strides(&ds);
    let positions = indices(idx)?;
    let (tuples, per_batch) = (numel(tuples_shape), numel(&tuples_shape[b..]));
    let batch_stride = if b == 0 { 0 } else { st[b - 1] };
    let src = data.bytes();
    let mut bytes = Vec::with_capacity(tuples * inner * elem);
    for t in 0..tuples {
        let mut offset = (t / per_batch.max(1)) * batch_stride;
        for (j, &index) in positions[t * m..(t + 1) * m].iter().enumerate() {
            offset += normalize(index, ds[b + j])? * st[b + j];
        }
        bytes.extend_from_slice(&src[offset * elem..(offset + inner) * elem]);
    }
    Tensor::from_bytes(out.0, &out.1, bytes).map_err(|e| invalid(e.to_string()))
}

/// Writes `updates[u]` into `y[offset]` for every `(offset, u)` pair, combining with `reduction`.
fn scatter(
    data: &Tensor,
    updates: &Tensor,
    reduction: ScatterReduction,
    pairs: &[(usize, usize)],
    out: &Spec,
    op: &str,
) -> Result<Tensor> {
    same_as_input(data, out, op)?;
    if updates.dtype() != data.dtype() {
        return Err(invalid(format!("{op} updates of {} into {}", updates.dtype(), data.dtype())));
    }
    if reduction == ScatterReduction::None {
        let elem = data.dtype().size();
        let mut y = data.bytes().to_vec();
        let u = updates.bytes();
        for &(dst, src) in pairs {
            y[dst * elem..(dst + 1) * elem].copy_from_slice(&u[src * elem..(src + 1) * elem]);
        }
        return Tensor::from_bytes(out.0, &out.1, y).map_err(|e| invalid(e.to_string()));
    }
    num_types!(data.dtype(), T => {
        let f: fn(T, T) -> T = match reduction {
            ScatterReduction::Add => T::plus,
            ScatterReduction::Mul => T::times,
            ScatterReduction::Min => T::min_of,
            ScatterReduction::Max => T::max_of,
            ScatterReduction::None | ScatterReduction::Unknown => {
                return Err(unsupported(format!("{op} reduction {reduction:?}")));
            }
        };
        let mut y = values::<T>(data)?;
        let u = values::<T>(updates)?;
        for &(dst, src) in pairs {
            y[dst] = f(y[dst], u[src]);
        }
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("{op} with a reduction on {}", data.dtype()))))
}

/// ONNX `ScatterND(data, indices, updates)`.
pub(crate) fn scatter_nd(inputs: &[&Tensor], reduction: ScatterReduction, out: &Spec) -> Result<Tensor> {
    let [data, idx, updates] = inputs else {
        return Err(invalid("ScatterND takes data, indices and updates"));
    };
    let (ds, is, us) = (dims(data.shape())?, dims(idx.shape())?, dims(updates.shape())?);
    let Some((&m, tuples_shape)) = is.split_last() else {
        return Err(invalid("ScatterND indices must have rank 1 or more"));
    };
    let expected: Vec<usize> = tuples_shape.iter().chain(ds.get(m..).unwrap_or(&[])).copied().collect();
    if m > ds.len() || us != expected {
        return Err(invalid(format!("ScatterND of {us:?} into {ds:?} at {is:?}")));
    }
    let (st, inner) = (strides(&ds), numel(&ds[m..]));
    let positions = indices(idx)?;
    let mut pairs = Vec::with_capacity(numel(&us));
    for t in 0..numel(tuples_shape) {
        let mut base = 0;
        for (j, &index) in positions[t * m..(t + 1) * m].iter().enumerate() {
            base += normalize(index, ds[j])? * st[j];
        }
        pairs.extend((0..inner).map(|e| (base + e, t * inner + e)));
    }
    scatter(data, updates, reduction, &pairs, out, "ScatterND")
}

/// ONNX `ScatterElements(data, indices, updates)` along `axis`.
pub(crate) fn scatter_elements(
    inputs: &[&Tensor],
    axis: u32,
    reduction: ScatterReduction,
    out: &Spec,
) -> Result<Tensor> {
    let [data, idx, updates] = inputs else {
        return Err(invalid("ScatterElements takes data, indices and updates"));
    };
    let (ds, is) = (dims(data.shape())?, dims(idx.shape())?);
    let axis = axis as usize;
    let fits = is.len() == ds.len() && axis < ds.len() && (0..ds.len()).all(|d| d == axis || is[d] <= ds[d]);
    if !fits || updates.shape() != idx.shape() {
        return Err(invalid(format!("ScatterElements of {:?} into {ds:?} at {is:?}", updates.shape())));
    }
    let (dst_st, src_st) = (strides(&ds), strides(&is));
    let positions = indices(idx)?;
    let mut pairs = Vec::with_capacity(positions.len());
    for (u, &index) in positions.iter().enumerate() {
        let mut dst = 0;
        for d in 0..ds.len() {
            let coord = u / src_st[d] % is[d];
            let coord = if d == axis { normalize(index, ds[d])? } else { coord };
            dst += coord * dst_st[d];
        }
        pairs.push((dst, u));
    }
    scatter(data, updates, reduction, &pairs, out, "ScatterElements")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dtype: DType, shape: &[u64]) -> Spec {
        (dtype, shape.to_vec())
    }

    #[test]
    fn cumulative_variants() {
        let x = Tensor::new(&[2, 3], &[1i64, 2, 3, 4, 5, 6]).unwrap();
        let run = |prod, exclusive, reverse, axis| {
            cumulative(prod, axis, exclusive, reverse, &x, &spec(DType::I64, &[2, 3])).unwrap().to_vec::<i64>().unwrap()
        };
        assert_eq!(run(false, false, false, 1), vec![1, 3, 6, 4, 9, 15]);
        assert_eq!(run(false, true, false, 1), vec![0, 1, 3, 0, 4, 9]);
        assert_eq!(run(false, false, true, 1), vec![6, 5, 3, 15, 11, 6]);
        assert_eq!(run(false, true, true, 0), vec![4, 5, 6, 0, 0, 0]);
        assert_eq!(run(true, false, false, 1), vec![1, 2, 6, 4, 20, 120]);
        assert_eq!(run(true, true, false, 1), vec![1, 1, 2, 1, 4, 20]);
        let f = Tensor::new(&[3], &[0.5f32, 0.25, 2.0]).unwrap();
        let y = cumulative(false, 0, false, false, &f, &spec(DType::F32, &[3])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.5, 0.75, 2.75]);
    }

    #[test]
    fn top_k_with_ties() {
        let x = Tensor::new(&[2, 4], &[1.0f32, 3.0, 3.0, 2.0, 0.0, -1.0, 5.0, 5.0]).unwrap();
        let outs = [spec(DType::F32, &[2, 2]), spec(DType::I64, &[2, 2])];
        let r = top_k(1, true, &x, &outs).unwrap();
        assert_eq!(r[0].to_vec::<f32>().unwrap(), vec![3.0, 3.0, 5.0, 5.0]);
        assert_eq!(r[1].to_vec::<i64>().unwrap(), vec![1, 2, 2, 3]);
        let r = top_k(1, false, &x, &outs).unwrap();
        assert_eq!(r[0].to_vec::<f32>().unwrap(), vec![1.0, 2.0, -1.0, 0.0]);
        assert_eq!(r[1].to_vec::<i64>().unwrap(), vec![0, 3, 1, 0]);
        let r = top_k(0, true, &x, &[spec(DType::F32, &[1, 4]), spec(DType::I64, &[1, 4])]).unwrap();
        assert_eq!(r[1].to_vec::<i64>().unwrap(), vec![0, 0, 1, 1]);
    }

    #[test]
    fn gather_nd_with_batch_dims() {
        let data = Tensor::new(&[2, 2, 2], &[0i32, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        let idx = Tensor::new(&[2, 1, 2], &[0i64, 1, 1, 0]).unwrap();
        let y = gather_nd(&data, &idx, 0, &spec(DType::I32, &[2, 1, 2])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![2, 3, 4, 5]);
        let idx = Tensor::new(&[2, 1], &[1i64, -2]).unwrap();
        let y = gather_nd(&data, &idx, 1, &spec(DType::I32, &[2, 2])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![2, 3, 4, 5]);
        let bad = Tensor::new(&[1, 1], &[2i64]).unwrap();
        assert!(gather_nd(&data, &bad, 0, &spec(DType::I32, &[1, 2, 2])).is_err());
    }

    #[test]
    fn scatters() {
        let data = Tensor::new(&[4], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let idx = Tensor::new(&[2, 1], &[3i64, 1]).unwrap();
        let upd = Tensor::new(&[2], &[10.0f32, 20.0]).unwrap();
        let y = scatter_nd(&[&data, &idx, &upd], ScatterReduction::None, &spec(DType::F32, &[4])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, 20.0, 3.0, 10.0]);
        let y = scatter_nd(&[&data, &idx, &upd], ScatterReduction::Add, &spec(DType::F32, &[4])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, 22.0, 3.0, 14.0]);
        let data = Tensor::new(&[2, 3], &[0i64; 6]).unwrap();
        let idx = Tensor::new(&[2, 2], &[1i64, -1, 0, 2]).unwrap();
        let upd = Tensor::new(&[2, 2], &[1i64, 2, 3, 4]).unwrap();
        let y = scatter_elements(&[&data, &idx, &upd], 1, ScatterReduction::None, &spec(DType::I64, &[2, 3])).unwrap();
        assert_eq!(y.to_vec::<i64>().unwrap(), vec![0, 1, 2, 3, 0, 4]);
        let y = scatter_elements(&[&data, &idx, &upd], 0, ScatterReduction::Max, &spec(DType::I64, &[2, 3]));
        assert!(y.is_err(), "index 2 is out of range on axis 0");
    }
}
