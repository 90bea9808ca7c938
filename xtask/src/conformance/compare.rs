//! Comparing outputs with the expected ones: the tolerances per dtype, op and case, and the rule itself.

use wdnn_runner_core::Tensor;
use wdnn_runner_core::spec::DType;

/// Looser tolerances for the cases that use an op: `(ONNX op type, rtol, atol, reason)`. A case takes the loosest
/// override among its ops.
pub(super) const TOLERANCE_OVERRIDES: &[(&str, f64, f64, &str)] = &[];

/// Looser tolerances for single cases: `(case, rtol, atol, reason)`; they replace the op's.
pub(super) const CASE_TOLERANCES: &[(&str, f64, f64, &str)] = &[
    (
        "node/test_averagepool_2d_ceil_last_window_starts_on_pad",
        0.0,
        1e-4,
        "the expected values are written to 4 decimals in the ONNX test",
    ),
    ("node/test_gridsample_bicubic", 0.0, 1e-4, "the expected values are written to 4 decimals in the ONNX test"),
];

/// Default `(rtol, atol)` for a float dtype.
pub(super) fn default_tolerance(dtype: DType) -> (f64, f64) {
    match dtype {
        // Half precision has an 11-bit significand: one rounding is a relative error of 4.9e-4.
        DType::F16 => (2e-3, 1e-3),
        _ => (1e-4, 1e-6),
    }
}

/// Float values of a float tensor, widened.
pub(super) fn floats(t: &Tensor) -> Option<Vec<f64>> {
    let b = t.bytes();
    Some(match t.dtype() {
        DType::F32 => b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect(),
        DType::F64 => b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
        DType::F16 => b.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64()).collect(),
        _ => return None,
    })
}

/// `None` when `actual` matches `expected`, else what differs.
pub(super) fn compare(actual: &Tensor, expected: &Tensor, (rtol, atol): (f64, f64)) -> Option<String> {
    if actual.dtype() != expected.dtype() {
        return Some(format!("dtype {}, expected {}", actual.dtype(), expected.dtype()));
    }
    if actual.shape() != expected.shape() {
        return Some(format!("shape {:?}, expected {:?}", actual.shape(), expected.shape()));
    }
    let (Some(a), Some(e)) = (floats(actual), floats(expected)) else {
        if actual.bytes() == expected.bytes() {
            return None;
        }
        let size = actual.dtype().size().max(1);
        let differ = actual.bytes().chunks(size).zip(expected.bytes().chunks(size)).filter(|(x, y)| x != y).count();
        return Some(format!("{differ} of {} values differ (exact comparison)", actual.numel()));
    };
    let mut bad = 0usize;
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
        let ok = if x.is_nan() || y.is_nan() {
            x.is_nan() && y.is_nan()
        } else if x.is_infinite() || y.is_infinite() {
            x == y
        } else {
            (x - y).abs() <= atol + rtol * y.abs()
        };
        if !ok {
            bad += 1;
            let excess = if (x - y).is_nan() { f64::INFINITY } else { (x - y).abs() / (atol + rtol * y.abs()) };
            if worst.is_none_or(|(_, w)| excess > w) {
                worst = Some((i, excess));
            }
        }
    }
    let (i, _) = worst?;
    let max_abs = a.iter().zip(&e).map(|(x, y)| (x - y).abs()).filter(|d| !d.is_nan()).fold(0.0, f64::max);
    Some(format!(
        "{bad} of {} values out of tolerance (rtol {rtol:e}, atol {atol:e}); worst at {i}: {:e} vs expected {:e}; \
         max |a−e| {max_abs:.3e}",
        a.len(),
        a[i],
        e[i]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_rules() {
        let t = |v: &[f32]| Tensor::new(&[v.len() as u64], v).unwrap();
        let tol = (1e-4, 1e-6);
        assert!(compare(&t(&[1.0, f32::NAN, f32::INFINITY]), &t(&[1.00005, f32::NAN, f32::INFINITY]), tol).is_none());
        assert!(compare(&t(&[1.0]), &t(&[1.001]), tol).is_some());
        assert!(compare(&t(&[0.0]), &t(&[f32::NAN]), tol).is_some());
        assert!(compare(&t(&[f32::NEG_INFINITY]), &t(&[f32::INFINITY]), tol).is_some());
        assert!(compare(&t(&[1.0, 2.0]), &t(&[1.0]), tol).unwrap().starts_with("shape"));
        let i = |v: &[i64]| Tensor::new(&[v.len() as u64], v).unwrap();
        assert!(compare(&i(&[1, 2]), &i(&[1, 2]), tol).is_none());
        assert!(compare(&i(&[1, 2]), &i(&[1, 3]), tol).unwrap().contains("1 of 2"));
    }
}
