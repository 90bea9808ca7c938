//! Fused epilogues (SPEC §5.4) on registers: the steps a Conv or MatMul applies to its accumulators before the
//! one store of its output tile, and the vector forms of the elementwise functions they use.
//!
//! Outputs are seen as matrices `[M, N]` — NHWC pixels by channels, or MatMul rows by columns — and an operand as
//! a [`Operand::Scalar`], a per-column vector ([`Operand::Channel`], e.g. an unfolded per-channel scale) or a whole
//! tensor of the output's shape ([`Operand::Full`], e.g. a ResNet residual). Other broadcasts are not fused here:
//! [`Operand::classify`] says so, and the backend runs such a kernel through the reference.

use wdnn_descriptor_spec::{BinaryFn, UnaryFn};

use crate::math;
use crate::simd::{F32x4, LANES};

/// A [`UnaryFn`] with a vector implementation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorUnary(UnaryFn);

impl VectorUnary {
    /// The vector form of `fun`, if it has one. The others (trigonometric and hyperbolic functions besides `tanh`,
    /// predicates, integer functions) have none.
    pub fn new(fun: UnaryFn) -> Option<Self> {
        use UnaryFn::*;
        match fun {
            Abs
            | Neg
            | Exp
            | Log
            | Sqrt
            | Rsqrt
            | Reciprocal
            | Square
            | Sigmoid
            | Tanh
            | Erf
            | Floor
            | Ceil
            | Round
            | Sign
            | Relu
            | Softplus
            | Softsign
            | Clip { .. }
            | LeakyRelu { .. }
            | Elu { .. }
            | Selu { .. }
            | Celu { .. }
            | ThresholdedRelu { .. }
            | HardSigmoid { .. }
            | HardSwish
            | Mish
            | Gelu { .. }
            | Shrink { .. } => Some(Self(fun)),
            Sin
            | Cos
            | Tan
            | Asin
            | Acos
            | Atan
            | Sinh
            | Cosh
            | Asinh
            | Acosh
            | Atanh
            | Not
            | BitwiseNot
            | IsNaN
            | IsInf { .. }
            | Unknown => None,
        }
    }

    /// The function.
    pub fn fun(self) -> UnaryFn {
        self.0
    }

    /// `fun(x)` on four lanes.
    #[inline(always)]
    pub fn apply(self, x: F32x4) -> F32x4 {
        use UnaryFn::*;
        let zero = F32x4::zero();
        let one = F32x4::splat(1.0);
        match self.0 {
            Abs => x.abs(),
            Neg => -x,
            Exp => math::exp(x),
            Log => math::ln(x),
            Sqrt => x.sqrt(),
            Rsqrt => one / x.sqrt(),
            Reciprocal => one / x,
            Square => x * x,
            Sigmoid => math::sigmoid(x),
            Tanh => math::tanh(x),
            Erf => math::erf(x),
            Floor => x.floor(),
            Ceil => x.ceil(),
            Round => x.round_even(),
            Sign => {
                let s = F32x4::select(x.gt(zero), one, F32x4::select(x.lt(zero), -one, zero));
                // NaN stays NaN.
                F32x4::select(x.eq(x), s, x)
            }
            Relu => zero.max(x),
            Softplus => softplus(x),
            Softsign => x / (one + x.abs()),
            Clip { min, max } => F32x4::splat(min).max(x).min(F32x4::splat(max)),
            LeakyRelu { alpha } => F32x4::select(x.lt(zero), x * F32x4::splat(alpha), x),
            Elu { alpha } => F32x4::select(x.lt(zero), F32x4::splat(alpha) * (math::exp(x) - one), x),
            Selu { alpha, gamma } => {
                let neg = F32x4::splat(alpha) * (math::exp(x) - one);
                F32x4::splat(gamma) * F32x4::select(x.gt(zero), x, neg)
            }
            Celu { alpha } => {
                let a = F32x4::splat(alpha);
                zero.max(x) + zero.min(a * (math::exp(x / a) - one))
            }
            ThresholdedRelu { alpha } => F32x4::select(x.gt(F32x4::splat(alpha)), x, zero),
            HardSigmoid { alpha, beta } => zero.max(x.mul_add(F32x4::splat(alpha), F32x4::splat(beta))).min(one),
            HardSwish => x * zero.max(x.mul_add(F32x4::splat(1.0 / 6.0), F32x4::splat(0.5))).min(one),
            Mish => {
                // tanh(ln(1 + e^x)) = ((1 + e^x)² − 1) / ((1 + e^x)² + 1) = (e² + 2e) / (e² + 2e + 2), no log needed;
                // for large x, where e² overflows, mish(x) = x.
                let e = math::exp(x.min(F32x4::splat(20.0)));
                let n = e * (e + F32x4::splat(2.0));
                x * n / (n + F32x4::splat(2.0))
            }
            Gelu { approximate: false } => {
                let half = F32x4::splat(0.5);
                half * x * (one + math::erf(x * F32x4::splat(std::f32::consts::FRAC_1_SQRT_2)))
            }
            Gelu { approximate: true } => {
                let c = F32x4::splat((2.0 / std::f32::consts::PI).sqrt());
                let inner = c * (x * x * x).mul_add(F32x4::splat(0.044715), x);
                F32x4::splat(0.5) * x * (one + math::tanh(inner))
            }
            Shrink { bias, lambd } => {
                let (b, l) = (F32x4::splat(bias), F32x4::splat(lambd));
                F32x4::select(x.lt(-l), x + b, F32x4::select(x.gt(l), x - b, zero))
            }
            // Not constructible: `new` refuses them.
            Sin
            | Cos
            | Tan
            | Asin
            | Acos
            | Atan
            | Sinh
            | Cosh
            | Asinh
            | Acosh
            | Atanh
            | Not
            | BitwiseNot
            | IsNaN
            | IsInf { .. }
            | Unknown => x,
        }
    }
}

/// `ln(1 + e^x)`, as `max(x, 0) + ln(1 + e^-|x|)` so that it neither overflows nor cancels.
#[inline(always)]
fn softplus(x: F32x4) -> F32x4 {
    F32x4::zero().max(x) + math::ln(F32x4::splat(1.0) + math::exp(-x.abs()))
}

/// A [`BinaryFn`] with a vector implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorBinary(BinaryFn);

impl VectorBinary {
    /// The vector form of `fun`, if it has one (`Add`, `Sub`, `Mul`, `Div`, `Max`, `Min`, `PRelu`).
    pub fn new(fun: BinaryFn) -> Option<Self> {
        use BinaryFn::*;
        matches!(fun, Add | Sub | Mul | Div | Max | Min | PRelu).then_some(Self(fun))
    }

    /// The function.
    pub fn fun(self) -> BinaryFn {
        self.0
    }

    /// `fun(a, b)` on four lanes. `Max`/`Min` propagate a NaN in either argument, as ONNX's do.
    #[inline(always)]
    pub fn apply(self, a: F32x4, b: F32x4) -> F32x4 {
        use BinaryFn::*;
        match self.0 {
            Add => a + b,
            Sub => a - b,
            Mul => a * b,
            Div => a / b,
            Max => F32x4::select(b.eq(b), a.max(b), b),
            Min => F32x4::select(b.eq(b), a.min(b), b),
            PRelu => F32x4::select(a.lt(F32x4::zero()), a * b, a),
            _ => a,
        }
    }
}

/// The second argument of a binary epilogue step, seen against an `[M, N]` output.
#[derive(Debug, Clone, Copy)]
pub enum Operand<'a> {
    /// One value for the whole output.
    Scalar(f32),
    /// One value per output column (`N` values): a per-channel vector in NHWC.
    Channel(&'a [f32]),
    /// A tensor of the output's shape: element `(m, n)` at `data[m · row_stride + n]`.
    Full {
        /// The values.
        data: &'a [f32],
        /// Distance between rows.
        row_stride: usize,
    },
}

/// How an operand of shape `operand` broadcasts against an output of shape `output` (both NHWC or both
/// row-major, channels or columns last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    /// One value.
    Scalar,
    /// Varies only along the last axis, which it matches.
    Channel,
    /// The output's own shape (leading 1s aside).
    Full,
}

impl Operand<'_> {
    /// Which fused form an operand shape takes, or `None` when it broadcasts some other way.
    pub fn classify(operand: &[usize], output: &[usize]) -> Option<Broadcast> {
        let numel: usize = operand.iter().product();
        if numel == 1 {
            return Some(Broadcast::Scalar);
        }
        let leading_ones = operand.iter().take_while(|&&d| d == 1).count();
        let core = &operand[leading_ones..];
        if numel == output.iter().product::<usize>() && output.ends_with(core) {
            Some(Broadcast::Full)
        } else if output.last() == Some(&numel) && operand.last() == Some(&numel) {
            Some(Broadcast::Channel)
        } else {
            None
        }
    }

    /// The operand's lanes for columns `n .. n + valid` of row `m`.
    #[inline(always)]
    fn lanes(&self, m: usize, n: usize, valid: usize) -> F32x4 {
        match *self {
            Operand::Scalar(v) => F32x4::splat(v),
            Operand::Channel(v) => load_lanes(&v[n..], valid),
            Operand::Full { data, row_stride } => load_lanes(&data[m * row_stride + n..], valid),
        }
    }

    /// Checks that an `[m, n]` output only reads inside the operand's data.
    fn fits(&self, m: usize, n: usize) -> bool {
        match *self {
            Operand::Scalar(_) => true,
            Operand::Channel(v) => v.len() >= n,
            Operand::Full { data, row_stride } => m == 0 || n == 0 || (m - 1) * row_stride + n <= data.len(),
        }
    }
}

#[inline(always)]
fn load_lanes(s: &[f32], valid: usize) -> F32x4 {
    if valid >= LANES { F32x4::load_from(s) } else { F32x4::load_partial(&s[..valid]) }
}

/// One epilogue step.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// `acc = fun(acc)`.
    Unary(VectorUnary),
    /// `acc = fun(acc, operand)`, or `fun(operand, acc)` when `operand_first`.
    Binary {
        /// The function.
        fun: VectorBinary,
        /// The other argument.
        operand: Operand<'a>,
        /// The operand is the left argument.
        operand_first: bool,
    },
}

/// The steps applied to a kernel's accumulators, in order, before they are stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct Epilogue<'a> {
    steps: &'a [Step<'a>],
    /// When every step is a `Relu` or `Clip`: their composition, one clamp `[lo, hi]` that kernels apply in
    /// registers instead of calling out to the general path.
    clamp: Option<(f32, f32)>,
}

/// An epilogue operand too short for the output it is fused into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("epilogue operand of step {step} is too short for a {m}×{n} output")]
pub struct OperandTooShort {
    /// The step's index.
    pub step: usize,
    /// Output rows.
    pub m: usize,
    /// Output columns.
    pub n: usize,
}

impl<'a> Epilogue<'a> {
    /// No steps.
    pub const NONE: Epilogue<'static> = Epilogue { steps: &[], clamp: None };

    /// An epilogue of `steps` for an `[m, n]` output, checked so that applying it never reads out of bounds.
    pub fn new(steps: &'a [Step<'a>], m: usize, n: usize) -> Result<Self, OperandTooShort> {
        for (i, s) in steps.iter().enumerate() {
            if let Step::Binary { operand, .. } = s
                && !operand.fits(m, n)
            {
                return Err(OperandTooShort { step: i, m, n });
            }
        }
        Ok(Self { steps, clamp: Self::as_clamp(steps) })
    }

    /// A chain of `Relu`/`Clip` steps as one clamp: a composition of clamps is the clamp between the images of
    /// −∞ and +∞.
    fn as_clamp(steps: &[Step]) -> Option<(f32, f32)> {
        if steps.is_empty() {
            return None;
        }
        let (mut lo, mut hi) = (f32::NEG_INFINITY, f32::INFINITY);
        for s in steps {
            let (a, b) = match s {
                Step::Unary(f) => match f.fun() {
                    UnaryFn::Relu => (0.0, f32::INFINITY),
                    UnaryFn::Clip { min, max } if min <= max => (min, max),
                    _ => return None,
                },
                Step::Binary { .. } => return None,
            };
            (lo, hi) = (lo.max(a).min(b), hi.max(a).min(b));
        }
        Some((lo, hi))
    }

    /// The epilogue as one clamp `[lo, hi]`, when it is only `Relu`/`Clip` steps (see [`Epilogue::clamp_vec`]).
    pub fn clamp(&self) -> Option<(f32, f32)> {
        self.clamp
    }

    /// `min(max(v, lo), hi)` with the pseudo-min/max of `Relu` and `Clip`, bit for bit what [`Epilogue::apply`]
    /// computes for such an epilogue.
    #[inline(always)]
    pub fn clamp_vec(v: F32x4, (lo, hi): (f32, f32)) -> F32x4 {
        F32x4::splat(lo).max(v).min(F32x4::splat(hi))
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Applies the steps to four lanes: row `m`, columns `n .. n + valid` (`valid` ≤ 4).
    #[inline(always)]
    pub fn apply(&self, mut v: F32x4, m: usize, n: usize, valid: usize) -> F32x4 {
        for step in self.steps {
            v = match *step {
                Step::Unary(f) => f.apply(v),
                Step::Binary { fun, operand, operand_first } => {
                    let o = operand.lanes(m, n, valid);
                    if operand_first { fun.apply(o, v) } else { fun.apply(v, o) }
                }
            };
        }
        v
    }

    /// Applies the steps to a register tile: `rows` rows from row `m0`, each `NV` vectors from column `n0`, of
    /// which `cols` columns are real. Each step is dispatched once per tile, not once per vector; the function is
    /// kept out of line so that the micro-kernels stay small.
    #[inline(never)]
    pub fn apply_tile<const MR: usize, const NV: usize>(
        &self,
        acc: &mut [[F32x4; NV]; MR],
        m0: usize,
        rows: usize,
        n0: usize,
        cols: usize,
    ) {
        for step in self.steps {
            match *step {
                Step::Unary(f) => {
                    for row in acc.iter_mut() {
                        for v in row.iter_mut() {
                            *v = f.apply(*v);
                        }
                    }
                }
                Step::Binary { fun, operand, operand_first } => {
                    for (r, row) in acc.iter_mut().enumerate().take(rows) {
                        for (j, v) in row.iter_mut().enumerate() {
                            let n = j * LANES;
                            if n >= cols {
                                break;
                            }
                            let o = operand.lanes(m0 + r, n0 + n, cols - n);
                            *v = if operand_first { fun.apply(o, *v) } else { fun.apply(*v, o) };
                        }
                    }
                }
            }
        }
    }

    /// Applies the steps to a contiguous run of row `m` (columns `n0 ..`), in place. Out of line, so that kernels
    /// which store first and then run the epilogue stay small.
    #[inline(never)]
    pub fn apply_row(&self, row: &mut [f32], m: usize, n0: usize) {
        if self.is_empty() {
            return;
        }
        let mut chunks = row.chunks_mut(LANES);
        let mut n = n0;
        for c in &mut chunks {
            let v = self.apply(F32x4::load_partial(c), m, n, c.len());
            v.store_partial(c);
            n += LANES;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, reference_unary};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Every vector unary function against the reference backend's f64 formula.
    #[test]
    fn vector_unary_functions_match_the_reference() {
        use UnaryFn::*;
        let funs = [
            Abs,
            Neg,
            Exp,
            Log,
            Sqrt,
            Rsqrt,
            Reciprocal,
            Square,
            Sigmoid,
            Tanh,
            Erf,
            Floor,
            Ceil,
            Round,
            Sign,
            Relu,
            Softplus,
            Softsign,
            Clip { min: -0.5, max: 1.5 },
            LeakyRelu { alpha: 0.1 },
            Elu { alpha: 0.7 },
            Selu { alpha: 1.673_263_2, gamma: 1.050_701 },
            Celu { alpha: 1.3 },
            ThresholdedRelu { alpha: 0.4 },
            HardSigmoid { alpha: 0.2, beta: 0.5 },
            HardSwish,
            Mish,
            Gelu { approximate: false },
            Gelu { approximate: true },
            Shrink { bias: 0.25, lambd: 0.5 },
        ];
        let mut rng = Rng::new(7);
        let mut xs: Vec<f32> = (0..4000).map(|_| rng.uniform(-9.0, 9.0)).collect();
        xs.extend([0.0, -0.0, 0.5, -0.5, 1.5, 2.5, 30.0, -30.0, 100.0, -100.0, 1e-6, -1e-6]);
        for fun in funs {
            let f = VectorUnary::new(fun).unwrap();
            let positive = matches!(fun, Log | Sqrt | Rsqrt);
            let inputs: Vec<f32> = if positive { xs.iter().map(|x| x.abs() + 1e-3).collect() } else { xs.clone() };
            let expected = reference_unary(fun, &inputs);
            for (chunk, want) in inputs.chunks(4).zip(expected.chunks(4)) {
                let got = f.apply(F32x4::load_partial(chunk)).to_array();
                for ((&x, &w), &g) in chunk.iter().zip(want).zip(&got) {
                    if w.abs() > f32::MAX as f64 {
                        assert_eq!(g, w as f32, "{fun:?}({x}) overflows");
                        continue;
                    }
                    let err = (g as f64 - w).abs() / w.abs().max(1.0);
                    assert!(err < 2e-6, "{fun:?}({x}) = {g}, reference {w}");
                }
            }
        }
        assert!(VectorUnary::new(Sin).is_none() && VectorUnary::new(IsNaN).is_none());
    }

    #[test]
    fn binary_steps_with_every_operand_form() {
        let residual: Vec<f32> = (0..2 * 6).map(|i| i as f32).collect();
        let channel = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let steps = [
            Step::Unary(VectorUnary::new(UnaryFn::Relu).unwrap()),
            Step::Binary {
                fun: VectorBinary::new(BinaryFn::Mul).unwrap(),
                operand: Operand::Channel(&channel),
                operand_first: false,
            },
            Step::Binary {
                fun: VectorBinary::new(BinaryFn::Sub).unwrap(),
                operand: Operand::Full { data: &residual, row_stride: 6 },
                operand_first: true,
            },
            Step::Binary {
                fun: VectorBinary::new(BinaryFn::Max).unwrap(),
                operand: Operand::Scalar(-20.0),
                operand_first: false,
            },
        ];
        let ep = Epilogue::new(&steps, 2, 6).unwrap();
        let mut row = [-1.0, 1.0, 2.0, 3.0, 4.0, -5.0];
        ep.apply_row(&mut row, 1, 0);
        // max(residual[1][n] - relu(x) * channel[n], -20)
        assert_eq!(row, [6.0, 5.0, 2.0, -3.0, -10.0, 11.0]);
        let mut tile = [[F32x4::splat(1.0); 2]; 2];
        ep.apply_tile(&mut tile, 0, 2, 2, 4);
        assert_eq!(ep.clamp(), None);
        assert_eq!(tile[0][0].to_array(), [-1.0, -1.0, -1.0, -1.0]);
        assert_eq!(tile[1][0].to_array(), [5.0, 5.0, 5.0, 5.0]);
        assert!(Epilogue::new(&steps, 3, 6).is_err());
    }

    #[test]
    fn relu_and_clip_chains_become_one_clamp() {
        let relu = Step::Unary(VectorUnary::new(UnaryFn::Relu).unwrap());
        let clip = |min, max| Step::Unary(VectorUnary::new(UnaryFn::Clip { min, max }).unwrap());
        let steps = [relu, clip(-1.0, 6.0)];
        let ep = Epilogue::new(&steps, 1, 8).unwrap();
        assert_eq!(ep.clamp(), Some((0.0, 6.0)));
        let x = F32x4::from_array([-3.0, 2.0, 7.0, f32::NAN]);
        let (a, b) = (ep.apply(x, 0, 0, 4).to_array(), Epilogue::clamp_vec(x, (0.0, 6.0)).to_array());
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
        let steps = [clip(2.0, 3.0), clip(4.0, 5.0)];
        assert_eq!(Epilogue::new(&steps, 1, 1).unwrap().clamp(), Some((4.0, 4.0)));
        assert_eq!(Epilogue::NONE.clamp(), None);
        let steps = [relu, Step::Unary(VectorUnary::new(UnaryFn::Sigmoid).unwrap())];
        assert_eq!(Epilogue::new(&steps, 1, 1).unwrap().clamp(), None);
    }

    #[test]
    fn operand_shapes_are_classified() {
        use Broadcast::*;
        assert_eq!(Operand::classify(&[1, 1, 1, 1], &[1, 4, 4, 8]), Some(Scalar));
        assert_eq!(Operand::classify(&[8], &[1, 4, 4, 8]), Some(Channel));
        assert_eq!(Operand::classify(&[1, 1, 1, 8], &[1, 4, 4, 8]), Some(Channel));
        assert_eq!(Operand::classify(&[1, 4, 4, 8], &[1, 4, 4, 8]), Some(Full));
        assert_eq!(Operand::classify(&[4, 4, 8], &[1, 4, 4, 8]), Some(Full));
        assert_eq!(Operand::classify(&[1, 4, 1, 8], &[1, 4, 4, 8]), None);
        assert_eq!(Operand::classify(&[1, 4, 4, 1], &[1, 4, 4, 8]), None);
    }
}
