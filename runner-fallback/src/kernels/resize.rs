//! ONNX `Resize` (nearest, linear, cubic), following ONNX's reference implementation (`op_resize.py`).
//!
//! Interpolation is separable, so each resized axis is a 1-D pass with per-output-index taps `(index, weight)`;
//! axes whose scale is 1 and size unchanged are left untouched. Nearest is a pure gather and works on any dtype.

use wdnn_descriptor_spec::{DType, NearestMode, Op, ResizeCoordinates, ResizeMode};
use wdnn_runner_core::Tensor;

use super::layout::{dims, gather_axes, numel, strides};
use super::types::{Num, float_types, to_tensor, values};
use crate::error::{Result, invalid, unsupported};

/// The attributes of a Resize.
pub(crate) struct ResizeAttrs<'a> {
    pub mode: ResizeMode,
    pub coordinates: ResizeCoordinates,
    pub nearest: NearestMode,
    pub scales: &'a [f32],
    pub cubic_coeff_a: f32,
    pub exclude_outside: bool,
}

/// The input coordinate of output index `x` (ONNX `coordinate_transformation_mode`).
///
/// As in the reference, the "output width" is `scale · input length` (computed in f32, as the reference's float32
/// scales do), not the integer output length, except where `half_pixel_symmetric` compares the two.
fn source_coordinate(mode: ResizeCoordinates, x: usize, scale: f32, in_len: usize, out_len: usize) -> f64 {
    let (x, s, n) = (x as f64, scale as f64, in_len as f64);
    let out_width = (scale * in_len as f32) as f64;
    match mode {
        ResizeCoordinates::HalfPixel => (x + 0.5) / s - 0.5,
        ResizeCoordinates::HalfPixelSymmetric => {
            let adjustment = out_len as f64 / out_width;
            let offset = n / 2.0 * (1.0 - adjustment);
            offset + (x + 0.5) / s - 0.5
        }
        ResizeCoordinates::PytorchHalfPixel if out_width == 1.0 => -0.5,
        ResizeCoordinates::PytorchHalfPixel => (x + 0.5) / s - 0.5,
        ResizeCoordinates::AlignCorners if out_width == 1.0 => 0.0,
        ResizeCoordinates::AlignCorners => x * (n - 1.0) / (out_width - 1.0),
        ResizeCoordinates::Asymmetric => x / s,
        ResizeCoordinates::TfHalfPixelForNn => (x + 0.5) / s,
    }
}

/// ONNX's cubic convolution weights for the four neighbours of a point `ratio` past the second one.
fn cubic_coeffs(r: f64, a: f64) -> [f64; 4] {
    let far = |t: f64| ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    let near = |t: f64| ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    [far(r + 1.0), near(r), near(1.0 - r), far(2.0 - r)]
}

/// The `(input index, weight)` taps of every output index along one axis.
/// Per output index of one axis of a `Resize` op: the `(input index, weight)` taps the reference interpolates
/// with. Code generators use it so that every backend resizes exactly as the oracle does.
pub fn resize_taps(op: &Op, axis: usize, in_len: usize, out_len: usize) -> Option<Vec<Vec<(usize, f64)>>> {
    let attrs = ResizeAttrs::of(op)?;
    Some(axis_taps(&attrs, *attrs.scales.get(axis)?, in_len, out_len))
}

impl<'a> ResizeAttrs<'a> {
    /// The attributes of a `Resize` op (None for any other op).
    pub(crate) fn of(op: &'a Op) -> Option<ResizeAttrs<'a>> {
        let Op::Resize { mode, coordinates, nearest, scales, cubic_coeff_a, exclude_outside } = op else {
            return None;
        };
        Some(ResizeAttrs {
            mode: *mode,
            coordinates: *coordinates,
            nearest: *nearest,
            scales,
            cubic_coeff_a: *cubic_coeff_a,
            exclude_outside: *exclude_outside,
        })
    }
}

fn axis_taps(attrs: &ResizeAttrs, scale: f32, in_len: usize, out_len: usize) -> Vec<Vec<(usize, f64)>> {
    (0..out_len)
        .map(|x| {
            // Coordinates far outside the input all read the edge; bounding them keeps the index arithmetic small.
            let bound = in_len as f64 + 8.0;
            let x_ori = source_coordinate(attrs.coordinates, x, scale, in_len, out_len).clamp(-bound, bound);
            let x_ori = if x_ori.is_nan() { 0.0 } else { x_ori };
            // The reference picks neighbours left of x_ori with a ratio in (0, 1]: an integral x_ori is the right
            // neighbour of `x_ori − 1` at ratio 1.
            let floor = x_ori.floor();
            let (base, ratio) = if x_ori == floor { (floor as i64 - 1, 1.0) } else { (floor as i64, x_ori - floor) };
            let mut taps: Vec<(i64, f64)> = match attrs.mode {
                ResizeMode::Nearest => {
                    let right = ratio == 1.0
                        || match attrs.nearest {
                            NearestMode::RoundPreferFloor => ratio > 0.5,
                            NearestMode::RoundPreferCeil => ratio >= 0.5,
                            NearestMode::Floor => false,
                            NearestMode::Ceil => true,
                        };
                    vec![(if right { base + 1 } else { base }, 1.0)]
                }
                ResizeMode::Linear => vec![(base, 1.0 - ratio), (base + 1, ratio)],
                ResizeMode::Cubic => {
                    let c = cubic_coeffs(ratio, attrs.cubic_coeff_a as f64);
                    (0..4).map(|i| (base - 1 + i as i64, c[i])).collect()
                }
            };
            if attrs.exclude_outside && attrs.mode != ResizeMode::Nearest {
                for (i, w) in taps.iter_mut() {
                    if *i < 0 || *i >= in_len as i64 {
                        *w = 0.0;
                    }
                }
                let sum: f64 = taps.iter().map(|t| t.1).sum();
                taps.iter_mut().for_each(|t| t.1 /= sum);
            }
            // Neighbours outside the input take the edge value.
            taps.into_iter().map(|(i, w)| (i.clamp(0, in_len as i64 - 1) as usize, w)).collect()
        })
        .collect()
}

/// ONNX `Resize` with explicit scales; the output shape is the output tensor's.
pub(crate) fn resize(attrs: &ResizeAttrs, x: &Tensor, out: &(DType, Vec<u64>)) -> Result<Tensor> {
    let (shape, out_shape) = (dims(x.shape())?, dims(&out.1)?);
    if out.0 != x.dtype() || out_shape.len() != shape.len() || attrs.scales.len() != shape.len() {
        return Err(invalid(format!(
            "Resize of {} {:?} with {} scales into {} {:?}",
            x.dtype(),
            x.shape(),
            attrs.scales.len(),
            out.0,
            out.1
        )));
    }
    if attrs.scales.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
        return Err(invalid(format!("Resize scales {:?} must be positive", attrs.scales)));
    }
    let resized: Vec<usize> =
        (0..shape.len()).filter(|&d| !(attrs.scales[d] == 1.0 && shape[d] == out_shape[d])).collect();
    if resized.iter().any(|&d| shape[d] == 0 && out_shape[d] > 0) {
        return Err(invalid("Resize of an empty axis"));
    }
    let taps = |d: usize| axis_taps(attrs, attrs.scales[d], shape[d], out_shape[d]);
    if attrs.mode == ResizeMode::Nearest {
        let st = strides(&shape);
        let tables: Vec<Vec<Option<usize>>> = (0..shape.len())
            .map(|d| match resized.contains(&d) {
                true => taps(d).iter().map(|t| Some(t[0].0 * st[d])).collect(),
                false => (0..shape[d]).map(|i| Some(i * st[d])).collect(),
            })
            .collect();
        let bytes = gather_axes(x.bytes(), x.dtype().size(), &tables, &vec![0; x.dtype().size()])?;
        return Tensor::from_bytes(out.0, &out.1, bytes).map_err(|e| invalid(e.to_string()));
    }
    float_types!(x.dtype(), T => {
        let mut cur = values::<T>(x)?;
        let mut cur_shape = shape.clone();
        for &d in &resized {
            let axis_taps = taps(d);
            let (outer, inner) = (numel(&cur_shape[..d]), numel(&cur_shape[d + 1..]));
            let in_len = cur_shape[d];
            let mut next = vec![T::ZERO; outer * axis_taps.len() * inner];
            for o in 0..outer {
                for (xo, taps) in axis_taps.iter().enumerate() {
                    let dst = &mut next[(o * axis_taps.len() + xo) * inner..][..inner];
                    for &(i, w) in taps {
                        let w = T::from_f64(w);
                        let src = &cur[(o * in_len + i) * inner..][..inner];
                        for (y, &v) in dst.iter_mut().zip(src) {
                            *y += w * v;
                        }
                    }
                }
            }
            cur = next;
            cur_shape[d] = out_shape[d];
        }
        to_tensor(&out.1, &cur)
    }, _ => Err(unsupported(format!("{:?} Resize on {}", attrs.mode, x.dtype()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(mode: ResizeMode, coordinates: ResizeCoordinates, scales: &[f32]) -> ResizeAttrs<'_> {
        ResizeAttrs {
            mode,
            coordinates,
            nearest: NearestMode::RoundPreferFloor,
            scales,
            cubic_coeff_a: -0.75,
            exclude_outside: false,
        }
    }

    fn run(a: &ResizeAttrs, x: &[f32], shape: &[u64], out: &[u64]) -> Vec<f32> {
        let x = Tensor::new(shape, x).unwrap();
        resize(a, &x, &(DType::F32, out.to_vec())).unwrap().to_vec::<f32>().unwrap()
    }

    #[test]
    fn linear_half_pixel_2x() {
        // Row [1, 2, 3, 4] doubled: x_ori = (x + 0.5) / 2 − 0.5, clamped at the edges.
        let a = attrs(ResizeMode::Linear, ResizeCoordinates::HalfPixel, &[1.0, 1.0, 1.0, 2.0]);
        let y = run(&a, &[1.0, 2.0, 3.0, 4.0], &[1, 1, 1, 4], &[1, 1, 1, 8]);
        assert_eq!(y, vec![1.0, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75, 4.0]);
        // 2-D: both axes doubled; the first output row equals the 1-D result of the first input row.
        let a = attrs(ResizeMode::Linear, ResizeCoordinates::HalfPixel, &[1.0, 1.0, 2.0, 2.0]);
        let y = run(&a, &[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2], &[1, 1, 4, 4]);
        assert_eq!(&y[..4], &[1.0, 1.25, 1.75, 2.0]);
        assert_eq!(&y[4..8], &[1.5, 1.75, 2.25, 2.5]);
    }

    #[test]
    fn linear_align_corners() {
        let a = attrs(ResizeMode::Linear, ResizeCoordinates::AlignCorners, &[1.0, 2.0]);
        let y = run(&a, &[0.0, 3.0], &[1, 2], &[1, 4]);
        assert_eq!(y, vec![0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn nearest_modes() {
        let x = [1.0, 2.0, 3.0];
        let mut a = attrs(ResizeMode::Nearest, ResizeCoordinates::Asymmetric, &[2.0]);
        assert_eq!(run(&a, &x, &[3], &[6]), vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
        a.nearest = NearestMode::RoundPreferCeil;
        assert_eq!(run(&a, &x, &[3], &[6]), vec![1.0, 2.0, 2.0, 3.0, 3.0, 3.0]);
        a.nearest = NearestMode::Ceil;
        a.coordinates = ResizeCoordinates::HalfPixel;
        // x_ori = (i + 0.5) / 2 − 0.5 = −0.25, 0.25, 0.75, …: ceil picks 0, 1, 1, 2, 2, 3→2.
        assert_eq!(run(&a, &x, &[3], &[6]), vec![1.0, 2.0, 2.0, 3.0, 3.0, 3.0]);
        // Downsampling any dtype.
        let b = Tensor::new(&[4], &[10i64, 20, 30, 40]).unwrap();
        let down = attrs(ResizeMode::Nearest, ResizeCoordinates::Asymmetric, &[0.5]);
        let y = resize(&down, &b, &(DType::I64, vec![2])).unwrap();
        assert_eq!(y.to_vec::<i64>().unwrap(), vec![10, 30]);
    }

    #[test]
    fn cubic_matches_reference_weights() {
        // Upsampling by 2 with asymmetric coordinates: even outputs hit inputs exactly.
        let a = attrs(ResizeMode::Cubic, ResizeCoordinates::Asymmetric, &[2.0]);
        let x = [1.0f32, 2.0, 4.0, 8.0];
        let y = run(&a, &x, &[4], &[8]);
        for i in 0..4 {
            assert!((y[2 * i] - x[i]).abs() < 1e-6);
        }
        // Weights at ratio 0.5 with A = −0.75: [−0.09375, 0.59375, 0.59375, −0.09375]; neighbours 1, 1, 2, 4.
        let want = -0.09375 * 1.0 + 0.59375 * 1.0 + 0.59375 * 2.0 - 0.09375 * 4.0;
        assert!((y[1] - want).abs() < 1e-6, "{} vs {want}", y[1]);
        assert_eq!(cubic_coeffs(1.0, -0.75), [0.0, 0.0, 1.0, 0.0]);
        // exclude_outside renormalizes the three inside weights.
        let ex =
            ResizeAttrs { exclude_outside: true, ..attrs(ResizeMode::Cubic, ResizeCoordinates::Asymmetric, &[2.0]) };
        let y = run(&ex, &x, &[4], &[8]);
        let want = (0.59375 * 1.0 + 0.59375 * 2.0 - 0.09375 * 4.0) / (1.0 + 0.09375);
        assert!((y[1] - want).abs() < 1e-6, "{} vs {want}", y[1]);
    }
}
