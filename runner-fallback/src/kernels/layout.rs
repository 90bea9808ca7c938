//! Shapes, strides, numpy broadcasting, and the one gather that data-movement ops share. The rules themselves
//! (strides, broadcasting) are the format's, from `descriptor_spec::shape`; this module adds the `usize` view of a
//! shape whose size has been checked to be addressable.

use wdnn_descriptor_spec::shape;

use crate::error::{Result, invalid};

/// A shape as `usize`s, checking that its values, at 8 bytes each, can be addressed. Zero dimensions count as 1,
/// so that no partial product of the shape can overflow either.
pub(crate) fn dims(shape: &[u64]) -> Result<Vec<usize>> {
    let too_large = || invalid(format!("shape {shape:?} is too large"));
    let mut bytes = 8usize;
    let dims = shape
        .iter()
        .map(|&d| {
            let d = usize::try_from(d).map_err(|_| too_large())?;
            bytes = bytes.checked_mul(d.max(1)).ok_or_else(too_large)?;
            Ok(d)
        })
        .collect::<Result<Vec<usize>>>()?;
    if bytes > isize::MAX as usize {
        return Err(too_large());
    }
    Ok(dims)
}

/// Number of elements (of a shape already checked by [`dims`]).
pub(crate) fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides, in elements (the format's rule, `shape::strides`).
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    from_u64(shape::strides(&to_u64(shape)))
}

/// A checked shape in the format's `u64`s, for the rules in `descriptor_spec::shape`.
fn to_u64(shape: &[usize]) -> Vec<u64> {
    shape.iter().map(|&d| d as u64).collect()
}

/// Back from the format's `u64`s: extents and strides of a shape checked by [`dims`] fit a `usize`.
fn from_u64(values: Vec<u64>) -> Vec<usize> {
    values.into_iter().map(|v| v as usize).collect()
}

/// `(outer, len, inner)`: the element counts before, along and after `axis`.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> Result<(usize, usize, usize)> {
    if axis >= shape.len() {
        return Err(invalid(format!("axis {axis} is out of range for shape {shape:?}")));
    }
    Ok((numel(&shape[..axis]), shape[axis], numel(&shape[axis + 1..])))
}

/// The numpy broadcast of two shapes (the format's rule, `shape::broadcast_shape`).
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let both = shape::broadcast_shape(&to_u64(a), &to_u64(b));
    both.map(from_u64).ok_or_else(|| invalid(format!("shapes {a:?} and {b:?} do not broadcast")))
}

/// Strides (in elements of `input`) that read `input` broadcast to `out`: 0 along broadcast axes
/// (`shape::broadcast_strides`).
pub(crate) fn broadcast_strides(input: &[usize], out: &[usize]) -> Result<Vec<usize>> {
    let strides = shape::broadcast_strides(&to_u64(input), &to_u64(out));
    strides.map(from_u64).ok_or_else(|| invalid(format!("shape {input:?} does not broadcast to {out:?}")))
}

/// Calls `f` with the offsets of `N` strided operands for every index of `shape`, in row-major order.
pub(crate) fn walk<const N: usize>(shape: &[usize], strides: [&[usize]; N], mut f: impl FnMut([usize; N])) {
    if shape.contains(&0) {
        return;
    }
    let Some(last) = shape.len().checked_sub(1) else {
        f([0; N]);
        return;
    };
    let inner_len = shape[last];
    let inner: [usize; N] = std::array::from_fn(|k| strides[k][last]);
    let mut index = vec![0usize; last];
    let mut base = [0usize; N];
    loop {
        let mut at = base;
        for _ in 0..inner_len {
            f(at);
            for k in 0..N {
                at[k] += inner[k];
            }
        }
        // Advance the odometer over the outer axes.
        let mut axis = last;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            for k in 0..N {
                base[k] += strides[k][axis];
            }
            if index[axis] < shape[axis] {
                break;
            }
            for k in 0..N {
                base[k] -= strides[k][axis] * shape[axis];
            }
            index[axis] = 0;
        }
    }
}

/// `f(a, b)` over the numpy broadcast of `a` and `b`, which must be exactly `out`.
pub(crate) fn broadcast_map<A: Copy, B: Copy, O>(
    (a, a_shape): (&[A], &[usize]),
    (b, b_shape): (&[B], &[usize]),
    out: &[usize],
    f: impl Fn(A, B) -> O,
) -> Result<Vec<O>> {
    if broadcast_shape(a_shape, b_shape)? != out {
        return Err(invalid(format!("shapes {a_shape:?} and {b_shape:?} do not broadcast to {out:?}")));
    }
    if a_shape == b_shape {
        return Ok(a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect());
    }
    let (sa, sb) = (broadcast_strides(a_shape, out)?, broadcast_strides(b_shape, out)?);
    let mut result = Vec::with_capacity(numel(out));
    walk(out, [&sa, &sb], |[i, j]| result.push(f(a[i], b[j])));
    Ok(result)
}

/// Row-major cartesian sums of per-axis offsets: entry `(i0, i1, …)` is `tables[0][i0] + tables[1][i1] + …`, or
/// `None` where any axis says "outside".
pub(crate) fn offset_grid(tables: &[Vec<Option<usize>>]) -> Vec<Option<usize>> {
    let mut grid = vec![Some(0usize)];
    for table in tables {
        grid = grid.iter().flat_map(|&base| table.iter().map(move |&t| base.zip(t).map(|(b, t)| b + t))).collect();
    }
    grid
}

/// Builds a tensor whose output axis `d` reads input element offset `tables[d][i]` (summed over axes) or `fill`
/// where an axis says `None`. Transpose, Slice, Expand, Tile, Pad and nearest Resize are all this gather, on bytes,
/// so they serve every dtype.
pub(crate) fn gather_axes(src: &[u8], elem: usize, tables: &[Vec<Option<usize>>], fill: &[u8]) -> Result<Vec<u8>> {
    let out_of_range = || invalid("gather reads outside its input");
    let Some((inner, outer_tables)) = tables.split_last() else {
        return Ok(src.get(..elem).ok_or_else(out_of_range)?.to_vec());
    };
    if fill.len() != elem {
        return Err(invalid("fill value has the wrong size"));
    }
    let total = tables.iter().try_fold(1usize, |n, t| n.checked_mul(t.len())).ok_or_else(out_of_range)?;
    let mut out = Vec::with_capacity(total * elem);
    // A run of consecutive offsets along the last axis is one copy.
    let contiguous = !inner.is_empty()
        && inner.iter().all(Option::is_some)
        && inner.windows(2).all(|w| w[0].zip(w[1]).is_some_and(|(a, b)| b == a + 1));
    for base in offset_grid(outer_tables) {
        match (base, contiguous) {
            (None, _) => (0..inner.len()).for_each(|_| out.extend_from_slice(fill)),
            (Some(base), true) => {
                let start = (base + inner[0].unwrap_or(0)) * elem;
                out.extend_from_slice(src.get(start..start + inner.len() * elem).ok_or_else(out_of_range)?);
            }
            (Some(base), false) => {
                for t in inner {
                    match t {
                        Some(t) => {
                            let start = (base + t) * elem;
                            out.extend_from_slice(src.get(start..start + elem).ok_or_else(out_of_range)?);
                        }
                        None => out.extend_from_slice(fill),
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A sliding window along one axis: the input length with its paddings, the window's extent and stride.
pub(crate) struct Window {
    pub input: usize,
    pub pad_begin: usize,
    pub pad_end: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
}

impl Window {
    /// The output lengths `(floor mode, ceil mode)`, 0 when the window does not fit. Computed in u128 so absurd
    /// attributes cannot overflow; once the output length is checked against these, index arithmetic stays below
    /// the padded input length plus one stride.
    pub(crate) fn outputs(&self) -> (u128, u128) {
        let padded = self.input as u128 + self.pad_begin as u128 + self.pad_end as u128;
        let span = self.dilation as u128 * (self.kernel as u128).saturating_sub(1) + 1;
        let stride = self.stride.max(1) as u128;
        match padded.checked_sub(span) {
            Some(room) => (room / stride + 1, room.div_ceil(stride) + 1),
            None => (0, 0),
        }
    }
}

/// Normalizes per-spatial-axis attributes: empty means `default` on every axis.
pub(crate) fn per_axis(values: &[u32], axes: usize, default: u32, what: &str) -> Result<Vec<usize>> {
    match values.len() {
        0 => Ok(vec![default as usize; axes]),
        n if n == axes => Ok(values.iter().map(|&v| v as usize).collect()),
        n => Err(invalid(format!("{what} has {n} values for {axes} spatial axes"))),
    }
}

/// Begin and end paddings per spatial axis from ONNX's `[begins…, ends…]`; empty means no padding.
pub(crate) fn split_pads(pads: &[u32], axes: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    match pads.len() {
        0 => Ok((vec![0; axes], vec![0; axes])),
        n if n == 2 * axes => {
            let p: Vec<usize> = pads.iter().map(|&v| v as usize).collect();
            Ok((p[..axes].to_vec(), p[axes..].to_vec()))
        }
        n => Err(invalid(format!("pads has {n} values for {axes} spatial axes"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
        assert!(broadcast_shape(&[2, 3], &[4]).is_err());
        assert_eq!(broadcast_strides(&[4, 1], &[2, 4, 3]).unwrap(), vec![0, 1, 0]);
    }

    #[test]
    fn walk_visits_row_major() {
        let mut seen = vec![];
        walk(&[2, 3], [&[3, 1], &[0, 1]], |[i, j]| seen.push((i, j)));
        assert_eq!(seen, vec![(0, 0), (1, 1), (2, 2), (3, 0), (4, 1), (5, 2)]);
        let mut n = 0;
        walk(&[], [&[]], |_| n += 1);
        assert_eq!(n, 1);
        walk(&[2, 0], [&[0, 1]], |_| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn gather_with_fill() {
        let src = [1u8, 2, 3, 4];
        // Transpose of [[1, 2], [3, 4]] with a padded column of 9s.
        let tables = vec![vec![Some(0), Some(1)], vec![Some(0), Some(2), None]];
        assert_eq!(gather_axes(&src, 1, &tables, &[9]).unwrap(), vec![1, 3, 9, 2, 4, 9]);
    }
}
