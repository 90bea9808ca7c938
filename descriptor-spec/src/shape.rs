//! The shape rules of the format, defined once for the converter and every runner: element counts (checked, since a
//! descriptor is untrusted input), row-major strides, numpy broadcasting (SPEC §5.2), and the NCHW↔NHWC
//! permutations of `channels_last` ops (SPEC §5).
//!
//! Shapes are `u64` as in the format. A runner that indexes memory converts after these checks.

/// Number of elements of `shape`, or `None` when the product overflows `u64`. A scalar (`[]`) has one element.
pub fn numel(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d))
}

/// Size in bytes of `shape` elements of `elem_size` bytes each, or `None` on overflow.
pub fn byte_size(shape: &[u64], elem_size: usize) -> Option<u64> {
    numel(shape)?.checked_mul(elem_size as u64)
}

/// Row-major (C order) strides in elements: the last axis has stride 1. Callers check the shape's [`numel`] first;
/// the arithmetic saturates rather than wrapping.
pub fn strides(shape: &[u64]) -> Vec<u64> {
    let mut s = vec![1u64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// The numpy (ONNX multidirectional) broadcast of two shapes: align the trailing axes; each pair of extents must be
/// equal or one of them 1. `None` when they do not broadcast.
pub fn broadcast_shape(a: &[u64], b: &[u64]) -> Option<Vec<u64>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[u64], i: usize| if i + s.len() >= rank { s[i + s.len() - rank] } else { 1 };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

/// `input` with leading 1s up to the rank of `out`, when `input` broadcasts to `out` (every extent equal to the
/// output's or 1); `None` otherwise.
pub fn broadcast_to(input: &[u64], out: &[u64]) -> Option<Vec<u64>> {
    if input.len() > out.len() {
        return None;
    }
    let full = pad_rank(input, out.len());
    full.iter().zip(out).all(|(&f, &o)| f == o || f == 1).then_some(full)
}

/// `shape` with leading 1s up to `rank` axes, as broadcasting aligns it (unchanged when it has `rank` or more).
pub fn pad_rank(shape: &[u64], rank: usize) -> Vec<u64> {
    let mut full = vec![1; rank.saturating_sub(shape.len())];
    full.extend_from_slice(shape);
    full
}

/// Strides (in elements of `input`) that read `input` broadcast to `out`: 0 along the axes it is broadcast on.
/// `None` when `input` does not broadcast to `out`.
pub fn broadcast_strides(input: &[u64], out: &[u64]) -> Option<Vec<u64>> {
    let full = broadcast_to(input, out)?;
    let own = strides(&full);
    Some(full.iter().zip(own).map(|(&f, s)| if f == 1 { 0 } else { s }).collect())
}

/// The permutation taking NCHW to NHWC at `rank` (≥ 2): `[0, 2, 3, …, rank − 1, 1]`, as a Transpose's `perm`.
pub fn to_channels_last(rank: usize) -> Vec<u32> {
    let r = rank as u32;
    std::iter::once(0).chain(2..r).chain((r > 1).then_some(1)).collect()
}

/// The permutation taking NHWC back to NCHW at `rank` (≥ 2): `[0, rank − 1, 1, …, rank − 2]`, the inverse of
/// [`to_channels_last`].
pub fn to_channels_first(rank: usize) -> Vec<u32> {
    let r = rank as u32;
    std::iter::once(0).chain((r > 1).then(|| r - 1)).chain(1..r.saturating_sub(1)).collect()
}

/// `shape` permuted as a Transpose with `perm` does: axis `i` of the result is axis `perm[i]` of `shape`. `None` when
/// `perm` names an axis `shape` lacks.
pub fn permute(shape: &[u64], perm: &[u32]) -> Option<Vec<u64>> {
    perm.iter().map(|&p| shape.get(p as usize).copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_checked() {
        assert_eq!(numel(&[]), Some(1));
        assert_eq!(numel(&[2, 3, 4]), Some(24));
        assert_eq!(numel(&[2, 0, 4]), Some(0));
        assert_eq!(numel(&[u64::MAX, 2]), None);
        assert_eq!(byte_size(&[3], 4), Some(12));
        assert_eq!(byte_size(&[u64::MAX / 2], 4), None);
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(strides(&[]), Vec::<u64>::new());
        assert_eq!(strides(&[5]), vec![1]);
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast_shape(&[], &[4]), Some(vec![4]));
        assert_eq!(broadcast_shape(&[2, 3], &[4]), None);
        assert_eq!(broadcast_to(&[4, 1], &[2, 4, 3]), Some(vec![1, 4, 1]));
        assert_eq!(broadcast_to(&[2, 4, 3], &[4, 3]), None);
        assert_eq!(pad_rank(&[4], 3), vec![1, 1, 4]);
        assert_eq!(pad_rank(&[2, 3], 1), vec![2, 3]);
        assert_eq!(broadcast_strides(&[4, 1], &[2, 4, 3]), Some(vec![0, 1, 0]));
        assert_eq!(broadcast_strides(&[2, 3], &[2, 3]), Some(vec![3, 1]));
        assert_eq!(broadcast_strides(&[1, 3], &[1, 3]), Some(vec![0, 1]));
        assert_eq!(broadcast_strides(&[2], &[3]), None);
    }

    #[test]
    fn channel_permutations_are_inverse() {
        assert_eq!(to_channels_last(4), vec![0, 2, 3, 1]);
        assert_eq!(to_channels_first(4), vec![0, 3, 1, 2]);
        assert_eq!(to_channels_last(3), vec![0, 2, 1]);
        assert_eq!(to_channels_first(5), vec![0, 4, 1, 2, 3]);
        for rank in 2..7 {
            let shape: Vec<u64> = (10..10 + rank as u64).collect();
            let last = permute(&shape, &to_channels_last(rank)).unwrap();
            assert_eq!(last[rank - 1], shape[1]);
            assert_eq!(permute(&last, &to_channels_first(rank)).unwrap(), shape);
        }
        assert_eq!(permute(&[1, 2], &[0, 2]), None);
    }
}
