//! Data movement: Reshape, Transpose, Concat, Slice, Gather, GatherElements, Pad, Expand, Tile.
//!
//! All work on bytes, so every dtype is supported; most are one [`gather_axes`] with a per-axis index table.

use wdnn_descriptor_spec::{DType, PadMode};
use wdnn_runner_core::Tensor;

use super::layout::{dims, gather_axes, numel, split_at_axis, strides, walk};
use super::types::{Scalar, indices, scalar_bytes};
use crate::error::{Result, invalid};

type Spec = (DType, Vec<u64>);

fn same_dtype(x: &Tensor, out: &Spec, op: &str) -> Result<()> {
    if x.dtype() != out.0 {
        return Err(invalid(format!("{op} keeps the dtype {}, not {}", x.dtype(), out.0)));
    }
    Ok(())
}

fn finish(out: &Spec, bytes: Vec<u8>) -> Result<Tensor> {
    Tensor::from_bytes(out.0, &out.1, bytes).map_err(|e| invalid(e.to_string()))
}

/// Per-axis tables reading axis `d` at `map(d, i)` for output index `i`.
fn tables(
    in_shape: &[usize],
    out_shape: &[usize],
    map: impl Fn(usize, usize) -> Option<usize>,
) -> Vec<Vec<Option<usize>>> {
    let st = strides(in_shape);
    (0..out_shape.len()).map(|d| (0..out_shape[d]).map(|i| map(d, i).map(|j| j * st[d])).collect()).collect()
}

/// ONNX `Reshape` (and Flatten, Squeeze, Unsqueeze, Identity): the bytes are unchanged.
pub(crate) fn reshape(x: &Tensor, out: &Spec) -> Result<Tensor> {
    same_dtype(x, out, "Reshape")?;
    if numel(&dims(&out.1)?) != x.numel() {
        return Err(invalid(format!("cannot reshape {:?} to {:?}", x.shape(), out.1)));
    }
    finish(out, x.bytes().to_vec())
}

/// ONNX `BitCast`: the same bytes as another dtype of the same size.
pub(crate) fn bit_cast(x: &Tensor, out: &Spec) -> Result<Tensor> {
    if out.0.size() != x.dtype().size() || out.1 != x.shape() {
        return Err(invalid(format!("BitCast of {} {:?} into {} {:?}", x.dtype(), x.shape(), out.0, out.1)));
    }
    let mut bytes = x.bytes().to_vec();
    if out.0 == DType::Bool {
        // Only 0 and 1 are bools: any other byte means true.
        bytes.iter_mut().for_each(|b| *b = (*b != 0) as u8);
    }
    finish(out, bytes)
}

/// ONNX `Transpose`.
pub(crate) fn transpose(x: &Tensor, perm: &[u32], out: &Spec) -> Result<Tensor> {
    same_dtype(x, out, "Transpose")?;
    let shape = dims(x.shape())?;
    let perm: Vec<usize> = perm.iter().map(|&p| p as usize).collect();
    let mut seen = vec![false; shape.len()];
    let is_perm =
        perm.len() == shape.len() && perm.iter().all(|&p| p < seen.len() && !std::mem::replace(&mut seen[p], true));
    if !is_perm {
        return Err(invalid(format!("{perm:?} is not a permutation of {} axes", shape.len())));
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    if dims(&out.1)? != out_shape {
        return Err(invalid(format!("Transpose of {:?} by {perm:?} is {out_shape:?}, not {:?}", x.shape(), out.1)));
    }
    let st = strides(&shape);
    let t: Vec<Vec<Option<usize>>> = perm.iter().map(|&p| (0..shape[p]).map(|i| Some(i * st[p])).collect()).collect();
    finish(out, gather_axes(x.bytes(), x.dtype().size(), &t, &vec![0; x.dtype().size()])?)
}

/// ONNX `Concat` along `axis`.
pub(crate) fn concat(inputs: &[&Tensor], axis: u32, out: &Spec) -> Result<Tensor> {
    let out_shape = dims(&out.1)?;
    let axis = axis as usize;
    let (outer, total, inner) = split_at_axis(&out_shape, axis)?;
    let mut sum = 0;
    for x in inputs {
        same_dtype(x, out, "Concat")?;
        let s = dims(x.shape())?;
        let fits = s.len() == out_shape.len() && (0..s.len()).all(|d| d == axis || s[d] == out_shape[d]);
        if !fits {
            return Err(invalid(format!("cannot concatenate {:?} into {:?} along {axis}", x.shape(), out.1)));
        }
        sum += s[axis];
    }
    if sum != total {
        return Err(invalid(format!("inputs fill {sum} of {total} along axis {axis}")));
    }
    let elem = out.0.size();
    let mut bytes = Vec::with_capacity(numel(&out_shape) * elem);
    for o in 0..outer {
        for x in inputs {
            let chunk = x.shape()[axis] as usize * inner * elem;
            bytes.extend_from_slice(&x.bytes()[o * chunk..(o + 1) * chunk]);
        }
    }
    finish(out, bytes)
}

/// ONNX `Slice` with normalized parameters.
pub(crate) fn slice(x: &Tensor, axes: &[u32], starts: &[i64], steps: &[i64], out: &Spec) -> Result<Tensor> {
    same_dtype(x, out, "Slice")?;
    let (shape, out_shape) = (dims(x.shape())?, dims(&out.1)?);
    if axes.len() != starts.len() || axes.len() != steps.len() || out_shape.len() != shape.len() {
        return Err(invalid("Slice parameters and ranks disagree"));
    }
    let mut plan: Vec<(i64, i64)> = vec![(0, 1); shape.len()];
    let mut sliced = vec![false; shape.len()];
    for ((&a, &start), &step) in axes.iter().zip(starts).zip(steps) {
        let a = a as usize;
        if a >= shape.len() || std::mem::replace(&mut sliced[a], true) || step == 0 {
            return Err(invalid(format!("Slice axis {a} repeated, out of range or with step 0")));
        }
        plan[a] = (start, step);
    }
    for d in 0..shape.len() {
        let (start, step) = plan[d];
        if !sliced[d] && out_shape[d] != shape[d] {
            return Err(invalid(format!("Slice changes unsliced axis {d}")));
        }
        if out_shape[d] > 0 {
            // In i128: absurd steps must not overflow.
            let last = start as i128 + (out_shape[d] as i128 - 1) * step as i128;
            let dim = shape[d] as i64;
            if !(0..dim).contains(&start) || !(0..dim as i128).contains(&last) {
                return Err(invalid(format!("Slice reads outside axis {d} of size {dim}")));
            }
        }
    }
    let t = tables(&shape, &out_shape, |d, i| Some((plan[d].0 + i as i64 * plan[d].1) as usize));
    finish(out, gather_axes(x.bytes(), x.dtype().size(), &t, &vec![0; x.dtype().size()])?)
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

/// ONNX `Gather(data, indices)` along `axis`.
pub(crate) fn gather(data: &Tensor, idx: &Tensor, axis: u32, out: &Spec) -> Result<Tensor> {
    same_dtype(data, out, "Gather")?;
    let shape = dims(data.shape())?;
    let axis = axis as usize;
    let (outer, dim, inner) = split_at_axis(&shape, axis)?;
    let expected: Vec<u64> = [&data.shape()[..axis], idx.shape(), &data.shape()[axis + 1..]].concat();
    if expected != out.1 {
        return Err(invalid(format!("Gather gives {expected:?}, not {:?}", out.1)));
    }
    let positions: Vec<usize> = indices(idx)?.into_iter().map(|i| normalize(i, dim)).collect::<Result<_>>()?;
    let chunk = inner * data.dtype().size();
    let src = data.bytes();
    let mut bytes = Vec::with_capacity(outer * positions.len() * chunk);
    for o in 0..outer {
        for &p in &positions {
            let start = (o * dim + p) * chunk;
            bytes.extend_from_slice(&src[start..start + chunk]);
        }
    }
    finish(out, bytes)
}

/// ONNX `GatherElements(data, indices)` along `axis`.
pub(crate) fn gather_elements(data: &Tensor, idx: &Tensor, axis: u32, out: &Spec) -> Result<Tensor> {
    same_dtype(data, out, "GatherElements")?;
    let (shape, out_shape) = (dims(data.shape())?, dims(idx.shape())?);
    let axis = axis as usize;
    if idx.shape() != out.1 || shape.len() != out_shape.len() || axis >= shape.len() {
        return Err(invalid("GatherElements ranks or shapes disagree"));
    }
    if (0..shape.len()).any(|d| d != axis && out_shape[d] > shape[d]) {
        return Err(invalid(format!("indices {:?} exceed data {:?}", idx.shape(), data.shape())));
    }
    let mut st = strides(&shape);
    let axis_stride = std::mem::replace(&mut st[axis], 0);
    let positions = indices(idx)?;
    let elem = data.dtype().size();
    let src = data.bytes();
    let mut bytes = Vec::with_capacity(positions.len() * elem);
    let mut error = None;
    let mut k = 0;
    walk(&out_shape, [&st], |[base]| {
        match normalize(positions[k], shape[axis]) {
            Ok(p) => {
                let start = (base + p * axis_stride) * elem;
                bytes.extend_from_slice(&src[start..start + elem]);
            }
            Err(e) => error = error.take().or(Some(e)),
        }
        k += 1;
    });
    if let Some(e) = error {
        return Err(e);
    }
    finish(out, bytes)
}

/// ONNX `Pad`. Negative pads crop first, then the mode extends what is left (as onnxruntime does).
pub(crate) fn pad(x: &Tensor, pads: &[i64], mode: PadMode, value: f64, out: &Spec) -> Result<Tensor> {
    same_dtype(x, out, "Pad")?;
    let (shape, out_shape) = (dims(x.shape())?, dims(&out.1)?);
    let rank = shape.len();
    if pads.len() != 2 * rank || out_shape.len() != rank {
        return Err(invalid(format!("Pad has {} pads for rank {rank}", pads.len())));
    }
    // Per axis: the kept input range [lo, lo + len) and the positive padding before it.
    let mut kept = Vec::with_capacity(rank);
    for d in 0..rank {
        // In i128: absurd pads must not overflow. Once checked, every value fits the output's i64 range.
        let (begin, end) = (pads[d] as i128, pads[d + rank] as i128);
        let lo = (-begin).max(0);
        let len = shape[d] as i128 - lo - (-end).max(0);
        if len < 0 || len + begin.max(0) + end.max(0) != out_shape[d] as i128 {
            return Err(invalid(format!("Pad of {:?} by {pads:?} does not give {:?}", x.shape(), out.1)));
        }
        if len == 0 && out_shape[d] > 0 && mode != PadMode::Constant {
            return Err(invalid(format!("{mode:?} padding of an empty axis {d}")));
        }
        kept.push((lo as usize, len as i64, begin.max(0) as i64));
    }
    let t = tables(&shape, &out_shape, |d, i| {
        let (lo, len, before) = kept[d];
        let j = i as i64 - before;
        let j = match mode {
            _ if (0..len).contains(&j) => j,
            PadMode::Constant => return None,
            PadMode::Edge => j.clamp(0, len - 1),
            PadMode::Wrap => j.rem_euclid(len),
            PadMode::Reflect if len == 1 => 0,
            PadMode::Reflect => {
                let m = j.rem_euclid(2 * (len - 1));
                if m < len { m } else { 2 * (len - 1) - m }
            }
        };
        Some(lo + j as usize)
    });
    let fill = scalar_bytes(x.dtype(), Scalar::F(value));
    finish(out, gather_axes(x.bytes(), x.dtype().size(), &t, &fill)?)
}

/// ONNX `Expand`: broadcast to the output's shape.
pub(crate) fn expand(x: &Tensor, out: &Spec) -> Result<Tensor> {
    same_dtype(x, out, "Expand")?;
    let (shape, out_shape) = (dims(x.shape())?, dims(&out.1)?);
    let st = super::layout::broadcast_strides(&shape, &out_shape)?;
    let t: Vec<Vec<Option<usize>>> =
        out_shape.iter().zip(&st).map(|(&n, &s)| (0..n).map(|i| Some(i * s)).collect()).collect();
    finish(out, gather_axes(x.bytes(), x.dtype().size(), &t, &vec![0; x.dtype().size()])?)
}

/// ONNX `Tile`: output index `i` reads input index `i mod dim` on every axis.
pub(crate) fn tile(x: &Tensor, out: &Spec) -> Result<Tensor> {
    same_dtype(x, out, "Tile")?;
    let (shape, out_shape) = (dims(x.shape())?, dims(&out.1)?);
    let fits = shape.len() == out_shape.len()
        && shape.iter().zip(&out_shape).all(|(&i, &o)| if i == 0 { o == 0 } else { o % i == 0 });
    if !fits {
        return Err(invalid(format!("{:?} does not tile {:?}", x.shape(), out.1)));
    }
    let t = tables(&shape, &out_shape, |d, i| Some(i % shape[d]));
    finish(out, gather_axes(x.bytes(), x.dtype().size(), &t, &vec![0; x.dtype().size()])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dtype: DType, shape: &[u64]) -> Spec {
        (dtype, shape.to_vec())
    }

    fn i32s(shape: &[u64], v: &[i32]) -> Tensor {
        Tensor::new(shape, v).unwrap()
    }

    #[test]
    fn transpose_3d() {
        let x = i32s(&[2, 1, 3], &[1, 2, 3, 4, 5, 6]);
        let y = transpose(&x, &[2, 0, 1], &spec(DType::I32, &[3, 2, 1])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![1, 4, 2, 5, 3, 6]);
        assert!(transpose(&x, &[0, 0, 1], &spec(DType::I32, &[2, 2, 1])).is_err());
    }

    #[test]
    fn concat_middle_axis() {
        let a = i32s(&[2, 1], &[1, 2]);
        let b = i32s(&[2, 2], &[3, 4, 5, 6]);
        let y = concat(&[&a, &b], 1, &spec(DType::I32, &[2, 3])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![1, 3, 4, 2, 5, 6]);
    }

    #[test]
    fn slice_with_negative_step() {
        let x = i32s(&[2, 4], &[0, 1, 2, 3, 4, 5, 6, 7]);
        let y = slice(&x, &[1], &[3], &[-2], &spec(DType::I32, &[2, 2])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![3, 1, 7, 5]);
        assert!(slice(&x, &[1], &[3], &[2], &spec(DType::I32, &[2, 2])).is_err());
    }

    #[test]
    fn gather_negative_index() {
        let x = i32s(&[3, 2], &[1, 2, 3, 4, 5, 6]);
        let idx = Tensor::new(&[2], &[-1i64, 0]).unwrap();
        let y = gather(&x, &idx, 0, &spec(DType::I32, &[2, 2])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![5, 6, 1, 2]);
        let idx = Tensor::new(&[], &[1i32]).unwrap();
        let y = gather(&x, &idx, 1, &spec(DType::I32, &[3])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![2, 4, 6]);
        let bad = Tensor::new(&[1], &[3i64]).unwrap();
        assert!(gather(&x, &bad, 0, &spec(DType::I32, &[1, 2])).is_err());
    }

    #[test]
    fn gather_elements_axis1() {
        let x = i32s(&[2, 2], &[1, 2, 3, 4]);
        let idx = Tensor::new(&[2, 2], &[0i64, 0, 1, -2]).unwrap();
        let y = gather_elements(&x, &idx, 1, &spec(DType::I32, &[2, 2])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![1, 1, 4, 3]);
    }

    #[test]
    fn pad_modes() {
        let x = i32s(&[3], &[1, 2, 3]);
        let run =
            |mode, pads: &[i64], n| pad(&x, pads, mode, 9.0, &spec(DType::I32, &[n])).unwrap().to_vec::<i32>().unwrap();
        assert_eq!(run(PadMode::Constant, &[2, 1], 6), vec![9, 9, 1, 2, 3, 9]);
        assert_eq!(run(PadMode::Reflect, &[2, 2], 7), vec![3, 2, 1, 2, 3, 2, 1]);
        assert_eq!(run(PadMode::Edge, &[2, 1], 6), vec![1, 1, 1, 2, 3, 3]);
        assert_eq!(run(PadMode::Wrap, &[2, 1], 6), vec![2, 3, 1, 2, 3, 1]);
        assert_eq!(run(PadMode::Constant, &[-1, 1], 3), vec![2, 3, 9]);
        // Crop first, then reflect what is left: [2, 3] reflected.
        assert_eq!(run(PadMode::Reflect, &[-1, 1], 3), vec![2, 3, 2]);
        let x2 = i32s(&[2, 2], &[1, 2, 3, 4]);
        let y = pad(&x2, &[1, 0, 0, 1], PadMode::Edge, 0.0, &spec(DType::I32, &[3, 3])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![1, 2, 2, 1, 2, 2, 3, 4, 4]);
    }

    #[test]
    fn expand_and_tile() {
        let x = i32s(&[2, 1], &[1, 2]);
        let y = expand(&x, &spec(DType::I32, &[2, 2, 3])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]);
        let y = tile(&x, &spec(DType::I32, &[4, 2])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![1, 1, 2, 2, 1, 1, 2, 2]);
    }

    #[test]
    fn bit_cast_keeps_bytes() {
        let x = Tensor::new(&[2], &[1.0f32, -2.0]).unwrap();
        let y = bit_cast(&x, &spec(DType::I32, &[2])).unwrap();
        assert_eq!(y.to_vec::<i32>().unwrap(), vec![0x3f80_0000, 0xc000_0000u32 as i32]);
        assert!(bit_cast(&x, &spec(DType::I64, &[1])).is_err());
    }

    #[test]
    fn reshape_keeps_bytes() {
        let x = Tensor::new(&[2, 2], &[true, false, true, true]).unwrap();
        let y = reshape(&x, &spec(DType::Bool, &[4])).unwrap();
        assert_eq!(y.bytes(), x.bytes());
        assert!(reshape(&x, &spec(DType::Bool, &[3])).is_err());
    }
}
