//! The matrix kernel every heavy op goes through, and ONNX `MatMul`/`Gemm`.
//!
//! [`gemm`] runs `i, k, j` so that its innermost loop walks contiguous rows of `B` and `C` with zipped slice
//! iterators: no bounds checks, and the compiler vectorizes it. [`gemm_bt`] is for a transposed `B`, as in fully
//! connected layers, where it reads both operands along contiguous rows instead of transposing a large weight.

use wdnn_descriptor_spec::{DType, EpilogueStep};
use wdnn_runner_core::Tensor;

use super::epilogue;
use super::layout::{broadcast_shape, broadcast_strides, dims, numel, walk};
use super::types::{Float, float_types, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

/// A read-only row-major matrix view: row `i` is `data[i * stride..][..cols]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    stride: usize,
}

/// A mutable row-major matrix view.
pub(crate) struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    stride: usize,
}

fn fits(len: usize, rows: usize, cols: usize, stride: usize) -> Result<()> {
    let need =
        if rows == 0 || cols == 0 { Some(0) } else { (rows - 1).checked_mul(stride).and_then(|n| n.checked_add(cols)) };
    if cols > stride && rows > 1 || need.is_none_or(|n| n > len) {
        return Err(invalid(format!("a {rows}x{cols} matrix with row stride {stride} does not fit {len} values")));
    }
    Ok(())
}

impl<'a, T> Mat<'a, T> {
    /// Checks that the view lies inside `data`, so that row access cannot fail later.
    pub(crate) fn new(data: &'a [T], rows: usize, cols: usize, stride: usize) -> Result<Self> {
        fits(data.len(), rows, cols, stride)?;
        Ok(Mat { data, rows, cols, stride })
    }

    fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.stride..i * self.stride + self.cols]
    }
}

impl<'a, T> MatMut<'a, T> {
    /// Checks that the view lies inside `data`.
    pub(crate) fn new(data: &'a mut [T], rows: usize, cols: usize, stride: usize) -> Result<Self> {
        fits(data.len(), rows, cols, stride)?;
        Ok(MatMut { data, rows, cols, stride })
    }

    fn row_mut(&mut self, i: usize) -> &mut [T] {
        &mut self.data[i * self.stride..i * self.stride + self.cols]
    }
}

/// `C += A · B`.
pub(crate) fn gemm<T: Float>(a: Mat<T>, b: Mat<T>, mut c: MatMut<T>) -> Result<()> {
    if a.cols != b.rows || a.rows != c.rows || b.cols != c.cols {
        return Err(invalid(format!(
            "gemm of {}x{} by {}x{} into {}x{}",
            a.rows, a.cols, b.rows, b.cols, c.rows, c.cols
        )));
    }
    for i in 0..a.rows {
        let c_row = c.row_mut(i);
        for (k, &a_ik) in a.row(i).iter().enumerate() {
            for (c_ij, &b_kj) in c_row.iter_mut().zip(b.row(k)) {
                *c_ij += a_ik * b_kj;
            }
        }
    }
    Ok(())
}

/// `C += A · Btᵀ`, where `bt` holds `B` transposed (one row per column of `C`).
pub(crate) fn gemm_bt<T: Float>(a: Mat<T>, bt: Mat<T>, mut c: MatMut<T>) -> Result<()> {
    if a.cols != bt.cols || a.rows != c.rows || bt.rows != c.cols {
        return Err(invalid(format!(
            "gemm of {}x{} by ({}x{})ᵀ into {}x{}",
            a.rows, a.cols, bt.rows, bt.cols, c.rows, c.cols
        )));
    }
    for i in 0..a.rows {
        let a_row = a.row(i);
        for (j, c_ij) in c.row_mut(i).iter_mut().enumerate() {
            *c_ij += dot(a_row, bt.row(j));
        }
    }
    Ok(())
}

/// A dot product with eight independent partial sums, which the compiler can keep in vector registers.
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: T = a8.remainder().iter().zip(b8.remainder()).fold(T::ZERO, |s, (&x, &y)| s + x * y);
    for (x, y) in a8.zip(b8) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().fold(tail, |s, &v| s + v)
}

/// A transposed copy of a `rows × cols` row-major matrix.
pub(crate) fn transposed<T: Copy>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..cols).flat_map(|j| (0..rows).map(move |i| m[i * cols + j])).collect()
}

/// ONNX `MatMul` (numpy semantics) with optional transposes, an optional bias `C` (input 2 when no epilogue step
/// uses it as its operand) and the epilogue.
pub(crate) fn matmul(
    transpose_a: bool,
    transpose_b: bool,
    steps: &[EpilogueStep],
    inputs: &[&Tensor],
    out: &(DType, Vec<u64>),
) -> Result<Tensor> {
    let [a, b, ..] = inputs else {
        return Err(invalid("MatMul needs two inputs"));
    };
    let bias = epilogue::bias(inputs, steps);
    let dt = a.dtype();
    if b.dtype() != dt || out.0 != dt || bias.is_some_and(|c| c.dtype() != dt) {
        return Err(invalid(format!("MatMul of {} and {} into {}", dt, b.dtype(), out.0)));
    }
    float_types!(dt, T => {
        let mut y = matmul_typed::<T>((a, transpose_a), (b, transpose_b), bias, &out.1)?;
        epilogue::apply(&mut y, &dims(&out.1)?, steps, inputs)?;
        to_tensor(&out.1, &y)
    }, _ => Err(unsupported(format!("MatMul on {dt}"))))
}

/// A matrix operand: its batch shape, rows and columns once the transpose is applied, and whether it was 1-D.
struct Operand {
    batch: Vec<usize>,
    rows: usize,
    cols: usize,
}

fn operand(shape: &[usize], transpose: bool, is_a: bool) -> Result<Operand> {
    match shape {
        [] => Err(invalid("MatMul of a scalar")),
        // ONNX: a 1-D A is a row vector, a 1-D B a column vector.
        [n] if is_a => Ok(Operand { batch: vec![], rows: 1, cols: *n }),
        [n] => Ok(Operand { batch: vec![], rows: *n, cols: 1 }),
        [batch @ .., r, c] if transpose => Ok(Operand { batch: batch.to_vec(), rows: *c, cols: *r }),
        [batch @ .., r, c] => Ok(Operand { batch: batch.to_vec(), rows: *r, cols: *c }),
    }
}

fn matmul_typed<T: Float>(
    (a, transpose_a): (&Tensor, bool),
    (b, transpose_b): (&Tensor, bool),
    bias: Option<&Tensor>,
    out: &[u64],
) -> Result<Vec<T>> {
    let (a_shape, b_shape, out_shape) = (dims(a.shape())?, dims(b.shape())?, dims(out)?);
    // Transposes only apply to matrices; a vector is the same either way.
    let (ta, tb) = (transpose_a && a_shape.len() > 1, transpose_b && b_shape.len() > 1);
    let (pa, pb) = (operand(&a_shape, ta, true)?, operand(&b_shape, tb, false)?);
    if pa.cols != pb.rows {
        return Err(invalid(format!("MatMul of {a_shape:?} and {b_shape:?}: inner sizes differ")));
    }
    let (m, k, n) = (pa.rows, pa.cols, pb.cols);
    let batch = broadcast_shape(&pa.batch, &pb.batch)?;
    let mut expected = batch.clone();
    if a_shape.len() > 1 {
        expected.push(m);
    }
    if b_shape.len() > 1 {
        expected.push(n);
    }
    if expected != out_shape {
        return Err(invalid(format!("MatMul of {a_shape:?} and {b_shape:?} gives {expected:?}, not {out:?}")));
    }
    let mut y = match bias {
        Some(c) => {
            let cv = values::<T>(c)?;
            let st = broadcast_strides(&dims(c.shape())?, &out_shape)?;
            let mut y = Vec::with_capacity(numel(&out_shape));
            walk(&out_shape, [&st], |[i]| y.push(cv[i]));
            y
        }
        None => vec![T::ZERO; numel(&out_shape)],
    };
    let (av, bv) = (values::<T>(a)?, values::<T>(b)?);
    // Batch offsets, in matrices, of A and B for every output matrix.
    let (sa, sb) = (broadcast_strides(&pa.batch, &batch)?, broadcast_strides(&pb.batch, &batch)?);
    let mut pairs = Vec::with_capacity(numel(&batch));
    walk(&batch, [&sa, &sb], |[i, j]| pairs.push((i, j)));
    for (out_index, &(ia, ib)) in pairs.iter().enumerate() {
        let a_mat = &av[ia * m * k..(ia + 1) * m * k];
        let b_mat = &bv[ib * k * n..(ib + 1) * k * n];
        let c = MatMut::new(&mut y[out_index * m * n..(out_index + 1) * m * n], m, n, n)?;
        let a_view;
        let a = if ta {
            a_view = transposed(a_mat, k, m);
            Mat::new(&a_view, m, k, k)?
        } else {
            Mat::new(a_mat, m, k, k)?
        };
        if tb {
            gemm_bt(a, Mat::new(b_mat, n, k, k)?, c)?;
        } else {
            gemm(a, Mat::new(b_mat, k, n, n)?, c)?;
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

    #[test]
    fn gemm_small() {
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0f32, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut c = [0.0f32; 4];
        gemm(Mat::new(&a, 2, 3, 3).unwrap(), Mat::new(&b, 3, 2, 2).unwrap(), MatMut::new(&mut c, 2, 2, 2).unwrap())
            .unwrap();
        assert_eq!(c, [58.0, 64.0, 139.0, 154.0]);
        let bt = transposed(&b, 3, 2);
        let mut c2 = [0.0f32; 4];
        gemm_bt(
            Mat::new(&a, 2, 3, 3).unwrap(),
            Mat::new(&bt, 2, 3, 3).unwrap(),
            MatMut::new(&mut c2, 2, 2, 2).unwrap(),
        )
        .unwrap();
        assert_eq!(c2, c);
        assert!(Mat::new(&a, 3, 3, 3).is_err());
    }

    #[test]
    fn batched_broadcast_with_transposes_and_bias() {
        // A: [2, 2, 3] batches, B: [3, 2] shared; bias [2] broadcast over rows.
        let a: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
        let bias = f32s(&[2], &[100.0, 200.0]);
        let y = matmul(
            false,
            false,
            &[],
            &[&f32s(&[2, 2, 3], &a), &f32s(&[3, 2], &b), &bias],
            &(DType::F32, vec![2, 2, 2]),
        )
        .unwrap();
        // Row [x0, x1, x2] · B = [x0 + x2, x1 + x2].
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![102.0, 203.0, 108.0, 209.0, 114.0, 215.0, 120.0, 221.0]);
        // The same with A given transposed and B given transposed.
        let at: Vec<f32> = (0..2).flat_map(|i| transposed(&a[i * 6..(i + 1) * 6], 2, 3)).collect();
        let bt = transposed(&b, 3, 2);
        let y2 = matmul(
            true,
            true,
            &[],
            &[&f32s(&[2, 3, 2], &at), &f32s(&[2, 3], &bt), &bias],
            &(DType::F32, vec![2, 2, 2]),
        )
        .unwrap();
        assert_eq!(y2, y);
    }

    #[test]
    fn vector_operands() {
        let a = f32s(&[3], &[1.0, 2.0, 3.0]);
        let b = f32s(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let y = matmul(false, false, &[], &[&a, &b], &(DType::F32, vec![2])).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![22.0, 28.0]);
        assert!(matmul(false, false, &[], &[&a, &b], &(DType::F32, vec![1, 2])).is_err());
    }
}
