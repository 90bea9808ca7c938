//! Elementwise kernels: unary functions, binary functions with ONNX (numpy) broadcasting, and fused chains.
//!
//! Binary broadcasting is reduced to loops the vector unit likes: the operands' strides against the output (0
//! where an axis broadcasts) are computed, adjacent axes that stay contiguous for both operands are merged, and the
//! innermost merged axis runs as one vector loop in which each operand is either contiguous or a single splatted
//! value. An NHWC tensor plus a per-channel vector is then `pixels × (C contiguous + C contiguous)`, a tensor plus
//! a scalar is one long loop.

use core::ops::Range;

use wdnn_descriptor_spec::shape;

use crate::epilogue::{Epilogue, VectorBinary, VectorUnary};
use crate::simd::{F32x4, LANES};

/// Shapes that do not broadcast, or buffers that do not match them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElementwiseError {
    /// The operand shapes do not broadcast to the output's.
    #[error("shapes {a:?} and {b:?} do not broadcast to {out:?}")]
    Broadcast {
        /// The first operand's shape.
        a: Vec<usize>,
        /// The second operand's shape.
        b: Vec<usize>,
        /// The output's shape.
        out: Vec<usize>,
    },
    /// A buffer's length is not its shape's.
    #[error("{what} has {found} values, its shape needs {needed}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// Values needed.
        needed: usize,
        /// Values given.
        found: usize,
    },
}

fn check_len(what: &'static str, s: &[f32], needed: usize) -> Result<(), ElementwiseError> {
    if s.len() == needed { Ok(()) } else { Err(ElementwiseError::Length { what, needed, found: s.len() }) }
}

/// `y[i] = f(x[i])` for `i` in `range`.
pub fn unary(f: VectorUnary, x: &[f32], y: &mut [f32], range: Range<usize>) -> Result<(), ElementwiseError> {
    check_len("output", y, x.len())?;
    let (x, y) = (&x[range.clone()], &mut y[range]);
    let mut xs = x.chunks_exact(LANES);
    let mut ys = y.chunks_exact_mut(LANES);
    for (a, b) in (&mut xs).zip(&mut ys) {
        f.apply(F32x4::load_from(a)).store_to(b);
    }
    let (a, b) = (xs.remainder(), ys.into_remainder());
    if !a.is_empty() {
        f.apply(F32x4::load_partial(a)).store_partial(b);
    }
    Ok(())
}

/// `y[i] = f(y[i])` for `i` in `range`.
pub fn unary_in_place(f: VectorUnary, y: &mut [f32], range: Range<usize>) {
    for chunk in y[range].chunks_mut(LANES) {
        f.apply(F32x4::load_partial(chunk)).store_partial(chunk);
    }
}

/// `y = steps(x)` for a chain whose input `x` has the output's shape, seen as `rows × cols` for the epilogue's
/// operands; `rows` selects the work.
pub fn chain(
    epilogue: &Epilogue,
    x: &[f32],
    y: &mut [f32],
    cols: usize,
    rows: Range<usize>,
) -> Result<(), ElementwiseError> {
    check_len("output", y, x.len())?;
    if cols == 0 || !x.len().is_multiple_of(cols) {
        return Err(ElementwiseError::Length { what: "input", needed: cols, found: x.len() });
    }
    for m in rows.start..rows.end.min(x.len() / cols) {
        let row = &mut y[m * cols..(m + 1) * cols];
        row.copy_from_slice(&x[m * cols..(m + 1) * cols]);
        epilogue.apply_row(row, m, 0);
    }
    Ok(())
}

/// A binary broadcast, planned: merged axes (outermost first) with each operand's stride in values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    dims: Vec<usize>,
    a_strides: Vec<usize>,
    b_strides: Vec<usize>,
    a_len: usize,
    b_len: usize,
}

impl Broadcast {
    /// Plans `a` and `b` broadcast to `out` (ONNX multidirectional broadcasting; `out` must be the broadcast shape).
    pub fn new(a: &[usize], b: &[usize], out: &[usize]) -> Result<Self, ElementwiseError> {
        let bad = || ElementwiseError::Broadcast { a: a.to_vec(), b: b.to_vec(), out: out.to_vec() };
        let rank = out.len();
        // The operands' strides against the output are the format's rule (`shape::broadcast_strides`); they index
        // buffers the caller holds, so they fit a usize.
        let wide = |s: &[usize]| s.iter().map(|&d| d as u64).collect::<Vec<u64>>();
        let strides = |s: &[usize]| -> Result<Vec<usize>, ElementwiseError> {
            let st = shape::broadcast_strides(&wide(s), &wide(out)).ok_or_else(bad)?;
            Ok(st.into_iter().map(|d| d as usize).collect())
        };
        let (sa, sb) = (strides(a)?, strides(b)?);
        // Merge axis d into the axis after it when both operands step through them as one.
        let mut dims: Vec<usize> = Vec::new();
        let (mut as_, mut bs) = (Vec::new(), Vec::new());
        for d in 0..rank {
            if out[d] == 1 {
                continue;
            }
            if let (Some(&last), Some(&la), Some(&lb)) = (dims.last(), as_.last(), bs.last()) {
                let merges = |outer: usize, inner: usize| outer == inner * out[d] || (outer == 0 && inner == 0);
                if merges(la, sa[d]) && merges(lb, sb[d]) {
                    let n = dims.len() - 1;
                    dims[n] = last * out[d];
                    as_[n] = sa[d];
                    bs[n] = sb[d];
                    continue;
                }
            }
            dims.push(out[d]);
            as_.push(sa[d]);
            bs.push(sb[d]);
        }
        if dims.is_empty() {
            dims.push(1);
            as_.push(0);
            bs.push(0);
        }
        Ok(Self { dims, a_strides: as_, b_strides: bs, a_len: a.iter().product(), b_len: b.iter().product() })
    }

    /// Values of the output.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the output is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Work items: the rows of the innermost merged axis.
    pub fn tiles(&self) -> usize {
        self.len() / self.dims.last().copied().unwrap_or(1).max(1)
    }

    /// `y = f(a, b)` with broadcasting, for the innermost rows in `tiles`.
    pub fn run(
        &self,
        f: VectorBinary,
        a: &[f32],
        b: &[f32],
        y: &mut [f32],
        tiles: Range<usize>,
    ) -> Result<(), ElementwiseError> {
        check_len("first operand", a, self.a_len)?;
        check_len("second operand", b, self.b_len)?;
        check_len("output", y, self.len())?;
        if self.is_empty() {
            return Ok(());
        }
        let rank = self.dims.len();
        let inner = self.dims[rank - 1];
        let (ia, ib) = (self.a_strides[rank - 1], self.b_strides[rank - 1]);
        for row in tiles.start..tiles.end.min(self.tiles()) {
            // Offsets of the row's first element in each operand.
            let (mut oa, mut ob, mut rest) = (0, 0, row);
            for d in (0..rank - 1).rev() {
                let i = rest % self.dims[d];
                rest /= self.dims[d];
                oa += i * self.a_strides[d];
                ob += i * self.b_strides[d];
            }
            let out = &mut y[row * inner..(row + 1) * inner];
            let (sa, sb) = (&a[oa..], &b[ob..]);
            let (va, vb) = (F32x4::splat(sa[0]), F32x4::splat(sb[0]));
            match (ia, ib) {
                (0, 0) => out.fill(f.apply(va, vb).to_array()[0]),
                (0, _) => row_op(out, |_, _| va, |at, n| contiguous(sb, at, n), f),
                (_, 0) => row_op(out, |at, n| contiguous(sa, at, n), |_, _| vb, f),
                _ => row_op(out, |at, n| contiguous(sa, at, n), |at, n| contiguous(sb, at, n), f),
            }
        }
        Ok(())
    }
}

#[inline(always)]
fn contiguous(s: &[f32], at: usize, n: usize) -> F32x4 {
    if n >= LANES { F32x4::load_from(&s[at..]) } else { F32x4::load_partial(&s[at..at + n]) }
}

/// `out[i] = f(a(i), b(i))` four lanes at a time; each operand closure returns the lanes at `i` (of which `n` are
/// real), so that every combination of contiguous and splatted operands compiles to its own loop.
#[inline(always)]
fn row_op(out: &mut [f32], a: impl Fn(usize, usize) -> F32x4, b: impl Fn(usize, usize) -> F32x4, f: VectorBinary) {
    let n = out.len();
    let mut i = 0;
    while i + LANES <= n {
        f.apply(a(i, LANES), b(i, LANES)).store_to(&mut out[i..]);
        i += LANES;
    }
    if i < n {
        f.apply(a(i, n - i), b(i, n - i)).store_partial(&mut out[i..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, reference_unary};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use wdnn_descriptor_spec::{BinaryFn, UnaryFn};

    fn index(i: usize, out: &[usize], shape: &[usize]) -> usize {
        let off = out.len() - shape.len();
        let (mut rest, mut at, mut stride) = (i, 0, 1);
        for d in (0..out.len()).rev() {
            let c = rest % out[d];
            rest /= out[d];
            if d >= off && shape[d - off] != 1 {
                at += c * stride;
            }
            if d >= off {
                stride *= shape[d - off];
            }
        }
        at
    }

    #[test]
    fn broadcasting_binary_functions() {
        let mut rng = Rng::new(51);
        let cases: &[(&[usize], &[usize], &[usize])] = &[
            (&[1, 7, 7, 32], &[32], &[1, 7, 7, 32]),
            (&[1, 7, 7, 32], &[1, 7, 7, 32], &[1, 7, 7, 32]),
            (&[2, 3, 5], &[1], &[2, 3, 5]),
            (&[1], &[4, 9], &[4, 9]),
            (&[3, 1, 5], &[1, 4, 1], &[3, 4, 5]),
            (&[2, 1, 6, 3], &[5, 1, 3], &[2, 5, 6, 3]),
            (&[6, 1], &[6, 7], &[6, 7]),
            (&[], &[], &[]),
            (&[1, 1, 1], &[1], &[1, 1, 1]),
        ];
        let funs =
            [BinaryFn::Add, BinaryFn::Sub, BinaryFn::Mul, BinaryFn::Div, BinaryFn::Max, BinaryFn::Min, BinaryFn::PRelu];
        for &(sa, sb, so) in cases {
            let plan = Broadcast::new(sa, sb, so).unwrap();
            let (a, b) = (rng.values(sa.iter().product()), rng.values(sb.iter().product()));
            for fun in funs {
                let f = VectorBinary::new(fun).unwrap();
                let mut y = vec![f32::NAN; so.iter().product()];
                plan.run(f, &a, &b, &mut y, 0..plan.tiles()).unwrap();
                for (i, &got) in y.iter().enumerate() {
                    let (x, z) = (a[index(i, so, sa)], b[index(i, so, sb)]);
                    let want = match fun {
                        BinaryFn::Add => x + z,
                        BinaryFn::Sub => x - z,
                        BinaryFn::Mul => x * z,
                        BinaryFn::Div => x / z,
                        BinaryFn::Max => x.max(z),
                        BinaryFn::Min => x.min(z),
                        _ => {
                            if x < 0.0 {
                                x * z
                            } else {
                                x
                            }
                        }
                    };
                    assert_eq!(got, want, "{fun:?} {sa:?} {sb:?} at {i}");
                }
            }
        }
        assert!(Broadcast::new(&[3], &[4], &[4]).is_err());
        assert!(Broadcast::new(&[2, 3], &[3], &[3]).is_err());
    }

    #[test]
    fn merged_axes_make_long_rows() {
        let plan = Broadcast::new(&[1, 7, 7, 32], &[32], &[1, 7, 7, 32]).unwrap();
        assert_eq!(plan.dims, vec![49, 32]);
        let plan = Broadcast::new(&[4, 5, 6], &[4, 5, 6], &[4, 5, 6]).unwrap();
        assert_eq!(plan.dims, vec![120]);
        let plan = Broadcast::new(&[4, 5, 6], &[1], &[4, 5, 6]).unwrap();
        assert_eq!(plan.dims, vec![120]);
    }

    #[test]
    fn unary_over_slices_and_ranges() {
        let mut rng = Rng::new(52);
        let x: Vec<f32> = (0..103).map(|_| rng.uniform(-5.0, 5.0)).collect();
        let f = VectorUnary::new(UnaryFn::Sigmoid).unwrap();
        let mut y = vec![0.0; x.len()];
        unary(f, &x, &mut y, 0..50).unwrap();
        unary(f, &x, &mut y, 50..103).unwrap();
        let want = reference_unary(UnaryFn::Sigmoid, &x);
        for (g, w) in y.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-6);
        }
        unary_in_place(f, &mut y, 0..103);
        assert!(unary(f, &x, &mut y[1..], 0..1).is_err());
    }
}
