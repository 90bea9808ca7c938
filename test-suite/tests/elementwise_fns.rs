//! Every elementwise function through every backend. Formulas cannot be shared between the reference kernels'
//! Rust, runner-wasm's SIMD and the generated WGSL, so this one table drives them all: each `UnaryFn` and
//! `BinaryFn` (the `match`es below are exhaustive, so a new function must be added here), on the dtypes exporters
//! use it with, is converted into a one-node graph and run on fallback, wasm (natively; it plans over the fallback
//! descriptor) and webgpu (lavapipe natively), against a formula written here in f64 (exact for integers and
//! bools). A backend must compute every case within tolerance, or [`UNSUPPORTED`] lists it — and then it must
//! refuse it (at conversion or load), so that the list cannot go stale.

mod common;

use common::scratch;
use wdnn_descriptor_spec::{BinaryFn, DType, Op, UnaryFn};
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::ir::Graph;
use wdnn_transpiler::{ConvertError, ConvertOptions};

/// `(backend, case)` pairs a backend does not compute; every other case must match the formula.
const UNSUPPORTED: &[(&str, &str)] = &[];

/// A value of a case, in the widest type of its kind.
#[derive(Debug, Clone, Copy, PartialEq)]
enum V {
    F(f64),
    I(i64),
    B(bool),
}

impl V {
    fn f(self) -> f64 {
        match self {
            V::F(v) => v,
            V::I(v) => v as f64,
            V::B(b) => b as u8 as f64,
        }
    }
    fn i(self) -> i64 {
        match self {
            V::I(v) => v,
            V::F(v) => v as i64,
            V::B(b) => b as i64,
        }
    }
    fn b(self) -> bool {
        match self {
            V::B(b) => b,
            other => other.f() != 0.0,
        }
    }
}

/// The values as stored in an f32 tensor (for the formulas to see what the kernels see).
fn rounded(values: Vec<V>) -> Vec<V> {
    values.into_iter().map(|v| if let V::F(x) = v { V::F(x as f32 as f64) } else { v }).collect()
}

fn tensor(dtype: DType, values: &[V]) -> Tensor {
    let shape = [values.len() as u64];
    match dtype {
        DType::F32 => Tensor::new(&shape, &values.iter().map(|v| v.f() as f32).collect::<Vec<_>>()),
        DType::I32 => Tensor::new(&shape, &values.iter().map(|v| v.i() as i32).collect::<Vec<_>>()),
        DType::U32 => Tensor::new(&shape, &values.iter().map(|v| v.i() as u32).collect::<Vec<_>>()),
        DType::I64 => Tensor::new(&shape, &values.iter().map(|v| v.i()).collect::<Vec<_>>()),
        DType::Bool => Tensor::new(&shape, &values.iter().map(|v| v.b()).collect::<Vec<_>>()),
        other => panic!("no {other} cases"),
    }
    .unwrap()
}

/// One function on one dtype: the op, its inputs and the expected output.
struct Case {
    name: String,
    op: Op,
    inputs: Vec<Tensor>,
    expected: Tensor,
}

const XS: &[f64] = &[-3.5, -2.5, -1.25, -0.5, -0.1, 0.0, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 4.0];

/// The f32 inputs a float function is tried on (inside its domain).
fn float_inputs(fun: UnaryFn) -> Vec<f64> {
    use UnaryFn::*;
    match fun {
        Log | Sqrt | Rsqrt => XS.iter().map(|x| x.abs() + 0.05).collect(),
        Asin | Acos | Atanh => XS.iter().map(|x| x / 4.5).collect(),
        Acosh => XS.iter().map(|x| x.abs() + 1.0).collect(),
        Reciprocal => XS.iter().map(|x| if *x == 0.0 { 0.25 } else { *x }).collect(),
        Tan => XS.iter().map(|x| x / 3.0).collect(),
        _ => XS.to_vec(),
    }
}

/// The error function, by its Taylor series (converges fast for |x| ≤ 4, the inputs here).
fn erf(x: f64) -> f64 {
    let (mut term, mut sum) = (x, x);
    for n in 1..200 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

fn softplus(x: f64) -> f64 {
    (1.0 + x.exp()).ln()
}

/// A unary function's expected value on one input.
type UnaryFormula = fn(UnaryFn, V) -> V;

/// The dtypes a unary function is tried on, and its formula on one value (`None` where it does not apply).
fn unary_cases(fun: UnaryFn) -> Vec<(DType, Vec<V>, UnaryFormula)> {
    use UnaryFn::*;
    let floats = || float_inputs(fun).into_iter().map(V::F).collect::<Vec<_>>();
    let ints = || [-7i64, -3, -1, 0, 1, 2, 5, 100, -100_000].into_iter().map(V::I).collect::<Vec<_>>();
    let big = || [-(1i64 << 40) - 3, -7, -1, 0, 1, 9, 1 << 33, i64::MAX - 5].into_iter().map(V::I).collect::<Vec<_>>();
    match fun {
        Not => vec![(DType::Bool, [true, false, true].into_iter().map(V::B).collect(), unary_bool)],
        BitwiseNot => vec![(DType::I32, ints(), unary_int), (DType::I64, big(), unary_int)],
        IsNaN | IsInf { .. } => {
            let special = [0.0, f64::NAN, f64::INFINITY, -1.5, f64::NEG_INFINITY].into_iter().map(V::F).collect();
            vec![(DType::F32, special, unary_float)]
        }
        Abs | Neg | Sign | Relu | Square | Clip { .. } => {
            vec![(DType::F32, floats(), unary_float), (DType::I32, ints(), unary_int), (DType::I64, big(), unary_int)]
        }
        Unknown => vec![],
        _ => vec![(DType::F32, floats(), unary_float)],
    }
}

fn unary_bool(fun: UnaryFn, x: V) -> V {
    match fun {
        UnaryFn::Not => V::B(!x.b()),
        _ => unreachable!(),
    }
}

fn unary_int(fun: UnaryFn, x: V) -> V {
    use UnaryFn::*;
    let x = x.i();
    V::I(match fun {
        Abs => x.wrapping_abs(),
        Neg => x.wrapping_neg(),
        Sign => x.signum(),
        Relu => x.max(0),
        Square => x.wrapping_mul(x),
        BitwiseNot => !x,
        Clip { min, max } => x.clamp(min as i64, max as i64),
        _ => unreachable!(),
    })
}

fn unary_float(fun: UnaryFn, x: V) -> V {
    use UnaryFn::*;
    let x = x.f();
    let b = |v: bool| V::B(v);
    V::F(match fun {
        Abs => x.abs(),
        Neg => -x,
        Exp => x.exp(),
        Log => x.ln(),
        Sqrt => x.sqrt(),
        Rsqrt => 1.0 / x.sqrt(),
        Reciprocal => 1.0 / x,
        Square => x * x,
        Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Tanh => x.tanh(),
        Erf => erf(x),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Round => x.round_ties_even(),
        Sign => {
            if x == 0.0 {
                0.0
            } else {
                x.signum()
            }
        }
        Sin => x.sin(),
        Cos => x.cos(),
        Tan => x.tan(),
        Asin => x.asin(),
        Acos => x.acos(),
        Atan => x.atan(),
        Sinh => x.sinh(),
        Cosh => x.cosh(),
        Asinh => x.asinh(),
        Acosh => x.acosh(),
        Atanh => x.atanh(),
        Relu => x.max(0.0),
        Softplus => softplus(x),
        Softsign => x / (1.0 + x.abs()),
        IsNaN => return b(x.is_nan()),
        IsInf { detect_positive, detect_negative } => {
            return b((detect_positive && x == f64::INFINITY) || (detect_negative && x == f64::NEG_INFINITY));
        }
        Clip { min, max } => x.max(min as f64).min(max as f64),
        LeakyRelu { alpha } => {
            if x < 0.0 {
                alpha as f64 * x
            } else {
                x
            }
        }
        Elu { alpha } => {
            if x < 0.0 {
                alpha as f64 * (x.exp() - 1.0)
            } else {
                x
            }
        }
        Selu { alpha, gamma } => gamma as f64 * if x > 0.0 { x } else { alpha as f64 * (x.exp() - 1.0) },
        Celu { alpha } => {
            let a = alpha as f64;
            x.max(0.0) + (a * ((x / a).exp() - 1.0)).min(0.0)
        }
        ThresholdedRelu { alpha } => {
            if x > alpha as f64 {
                x
            } else {
                0.0
            }
        }
        HardSigmoid { alpha, beta } => (alpha as f64 * x + beta as f64).clamp(0.0, 1.0),
        HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        Mish => x * softplus(x).tanh(),
        Gelu { approximate: false } => 0.5 * x * (1.0 + erf(x / 2f64.sqrt())),
        Gelu { approximate: true } => {
            0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
        }
        Shrink { bias, lambd } => {
            let (b, l) = (bias as f64, lambd as f64);
            if x < -l {
                x + b
            } else if x > l {
                x - b
            } else {
                0.0
            }
        }
        Not | BitwiseNot | Unknown => unreachable!(),
    })
}

/// Every unary function, with attribute values where it has attributes.
fn unary_fns() -> Vec<UnaryFn> {
    use UnaryFn::*;
    let all = vec![
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
        Sin,
        Cos,
        Tan,
        Asin,
        Acos,
        Atan,
        Sinh,
        Cosh,
        Asinh,
        Acosh,
        Atanh,
        Relu,
        Softplus,
        Softsign,
        Not,
        BitwiseNot,
        IsNaN,
        IsInf { detect_positive: true, detect_negative: true },
        IsInf { detect_positive: true, detect_negative: false },
        Clip { min: -1.0, max: 2.0 },
        LeakyRelu { alpha: 0.1 },
        Elu { alpha: 0.7 },
        Selu { alpha: 1.67326, gamma: 1.0507 },
        Celu { alpha: 1.5 },
        ThresholdedRelu { alpha: 0.6 },
        HardSigmoid { alpha: 0.2, beta: 0.5 },
        HardSwish,
        Mish,
        Gelu { approximate: false },
        Gelu { approximate: true },
        Shrink { bias: 0.25, lambd: 0.6 },
    ];
    // Exhaustive: a new function fails to compile here until it is added above.
    for f in &all {
        match f {
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
            | Sin
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
            | Relu
            | Softplus
            | Softsign
            | Not
            | BitwiseNot
            | IsNaN
            | IsInf { .. }
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
            | Shrink { .. }
            | Unknown => {}
        }
    }
    all
}

fn unary_case_list() -> Vec<Case> {
    let mut cases = Vec::new();
    for fun in unary_fns() {
        for (dtype, xs, formula) in unary_cases(fun) {
            let xs = rounded(xs);
            let ys: Vec<V> = xs.iter().map(|&x| formula(fun, x)).collect();
            let out = if matches!(ys[0], V::B(_)) { DType::Bool } else { dtype };
            let name = format!("{fun:?} {}", dtype.name());
            cases.push(Case {
                name,
                op: Op::Unary { fun },
                inputs: vec![tensor(dtype, &xs)],
                expected: tensor(out, &ys),
            });
        }
    }
    cases
}

/// Every binary function and the dtypes it is tried on.
fn binary_dtypes(fun: BinaryFn) -> Vec<DType> {
    use BinaryFn::*;
    match fun {
        Add | Sub | Mul | Div | Max | Min | Mod | FMod => vec![DType::F32, DType::I32, DType::I64],
        Pow => vec![DType::F32, DType::I32],
        PRelu => vec![DType::F32, DType::I32, DType::I64],
        Equal | Less => vec![DType::F32, DType::I64],
        LessOrEqual | Greater | GreaterOrEqual => vec![DType::F32],
        And | Or | Xor => vec![DType::Bool],
        BitwiseAnd | BitwiseOr | BitwiseXor => vec![DType::I32, DType::I64],
        BitShiftLeft | BitShiftRight => vec![DType::U32],
        Unknown => vec![],
    }
}

fn binary_inputs(fun: BinaryFn, dtype: DType) -> (Vec<V>, Vec<V>) {
    let f = |v: &[f64]| v.iter().copied().map(V::F).collect::<Vec<_>>();
    let i = |v: &[i64]| v.iter().copied().map(V::I).collect::<Vec<_>>();
    match (dtype, fun) {
        (DType::F32, BinaryFn::Pow) => {
            (f(&[2.0, 0.5, 3.0, -2.0, -1.5, 4.0, 1.25, -3.0, 0.0]), f(&[3.0, 2.0, -1.0, 2.0, 3.0, 0.5, 1.5, 1.0, 2.0]))
        }
        (DType::F32, _) => (
            f(&[-3.5, -2.0, -1.25, -0.5, 0.0, 0.3, 0.75, 1.0, 1.5, 2.5, 4.0, 7.0]),
            f(&[2.0, -1.5, 0.5, 3.0, -2.0, 1.25, -0.75, 2.0, 1.5, -3.0, 4.0, 0.25]),
        ),
        (DType::I32, BinaryFn::Pow) => (i(&[2, -3, 5, 0, 7, -1]), i(&[3, 3, 0, 2, 1, 5])),
        (DType::I32, _) => {
            (i(&[-7, 7, -7, 7, 0, 13, 100, -100, 2_000_000_000, 5]), i(&[2, -2, -2, 2, 3, 5, -7, 9, 3, 5]))
        }
        (DType::I64, _) => (
            i(&[-7, 7, -7, 7, 0, 1 << 40, -(1 << 41) - 5, 9_000_000_000_000_000_000, i64::MIN, 123_456_789_012, 3]),
            i(&[2, -2, -2, 2, 3, 3, 1_000_003, 4, -1, -98_765, 3]),
        ),
        (DType::U32, _) => (i(&[1, 255, 4_000_000_000, 7, 1 << 31, 12]), i(&[0, 4, 1, 31, 32, 3])),
        (DType::Bool, _) => {
            let b = |v: &[bool]| v.iter().copied().map(V::B).collect::<Vec<_>>();
            (b(&[false, false, true, true]), b(&[false, true, false, true]))
        }
        (other, _) => panic!("no {other} inputs"),
    }
}

/// The formula of `fun` on two values of `dtype`, with the reference semantics: integers wrap at their width,
/// integer division truncates, `Mod` has the divisor's sign.
fn binary_formula(fun: BinaryFn, dtype: DType, a: V, b: V) -> V {
    use BinaryFn::*;
    let wrap = |v: i128| -> V {
        V::I(match dtype {
            DType::I32 => v as i32 as i64,
            DType::U32 => v as u32 as i64,
            _ => v as i64,
        })
    };
    if dtype == DType::F32 {
        let (x, y) = (a.f(), b.f());
        return match fun {
            Add => V::F(x + y),
            Sub => V::F(x - y),
            Mul => V::F(x * y),
            Div => V::F(x / y),
            Pow => V::F(x.powf(y)),
            Max => V::F(x.max(y)),
            Min => V::F(x.min(y)),
            Mod => V::F(x - y * (x / y).floor()),
            FMod => V::F(x % y),
            PRelu => V::F(if x < 0.0 { x * y } else { x }),
            Equal => V::B(x == y),
            Less => V::B(x < y),
            LessOrEqual => V::B(x <= y),
            Greater => V::B(x > y),
            GreaterOrEqual => V::B(x >= y),
            _ => unreachable!(),
        };
    }
    if dtype == DType::Bool {
        let (x, y) = (a.b(), b.b());
        return V::B(match fun {
            And => x && y,
            Or => x || y,
            Xor => x != y,
            _ => unreachable!(),
        });
    }
    let (x, y) = (a.i() as i128, b.i() as i128);
    match fun {
        Add => wrap(x + y),
        Sub => wrap(x - y),
        Mul => wrap(x.wrapping_mul(y)),
        Div => wrap(x / y),
        FMod => wrap(x % y),
        Mod => {
            let r = x % y;
            wrap(if r != 0 && ((r < 0) != (y < 0)) { r + y } else { r })
        }
        Max => wrap(x.max(y)),
        Min => wrap(x.min(y)),
        PRelu => wrap(if x < 0 { x.wrapping_mul(y) } else { x }),
        Pow => wrap((0..y).fold(1i128, |p, _| wrap(p * x).i() as i128)),
        BitwiseAnd => wrap(x & y),
        BitwiseOr => wrap(x | y),
        BitwiseXor => wrap(x ^ y),
        BitShiftLeft => wrap(if y < 32 { x << y } else { 0 }),
        BitShiftRight => wrap(if y < 32 { x >> y } else { 0 }),
        Equal => V::B(x == y),
        Less => V::B(x < y),
        LessOrEqual => V::B(x <= y),
        Greater => V::B(x > y),
        GreaterOrEqual => V::B(x >= y),
        And | Or | Xor | Unknown => unreachable!(),
    }
}

fn binary_case_list() -> Vec<Case> {
    use BinaryFn::*;
    let all = [
        Add,
        Sub,
        Mul,
        Div,
        Pow,
        Max,
        Min,
        Mod,
        FMod,
        PRelu,
        Equal,
        Less,
        LessOrEqual,
        Greater,
        GreaterOrEqual,
        And,
        Or,
        Xor,
        BitwiseAnd,
        BitwiseOr,
        BitwiseXor,
        BitShiftLeft,
        BitShiftRight,
    ];
    for f in &all {
        // Exhaustive: a new function fails to compile here until it is added above.
        match f {
            Add | Sub | Mul | Div | Pow | Max | Min | Mod | FMod | PRelu | Equal | Less | LessOrEqual | Greater
            | GreaterOrEqual | And | Or | Xor | BitwiseAnd | BitwiseOr | BitwiseXor | BitShiftLeft | BitShiftRight
            | Unknown => {}
        }
    }
    let mut cases = Vec::new();
    for fun in all {
        for dtype in binary_dtypes(fun) {
            let (a, b) = binary_inputs(fun, dtype);
            let (a, b) = (rounded(a), rounded(b));
            let ys: Vec<V> = a.iter().zip(&b).map(|(&x, &y)| binary_formula(fun, dtype, x, y)).collect();
            let out = if fun.is_predicate() { DType::Bool } else { dtype };
            cases.push(Case {
                name: format!("{fun:?} {}", dtype.name()),
                op: Op::Binary { fun },
                inputs: vec![tensor(dtype, &a), tensor(dtype, &b)],
                expected: tensor(out, &ys),
            });
        }
    }
    cases
}

/// `Cast` to and from i64, which exporters put around every index computation.
fn cast_case_list() -> Vec<Case> {
    let mut cases = Vec::new();
    let big = [-(1i64 << 40) - 3, -7, -1, 0, 1, 9, (1 << 33) + 1, i64::MAX, i64::MIN, 16_777_217, -123_456_789_012];
    let floats = [-3.7, -0.5, 0.0, 0.9, 2.5, 1e10, -3e12, 9.3e18, -9.3e18, 16_777_216.0];
    let ints = [i32::MIN as i64, -7, 0, 5, i32::MAX as i64];
    let mut add = |from: DType, to: DType, xs: Vec<V>, f: fn(V) -> V| {
        let ys: Vec<V> = xs.iter().map(|&x| f(x)).collect();
        let name = format!("Cast {} to {}", from.name(), to.name());
        cases.push(Case { name, op: Op::Cast, inputs: vec![tensor(from, &xs)], expected: tensor(to, &ys) });
    };
    add(DType::I64, DType::F32, big.iter().map(|&v| V::I(v)).collect(), |x| V::F(x.i() as f32 as f64));
    add(DType::I64, DType::I32, big.iter().map(|&v| V::I(v)).collect(), |x| V::I(x.i() as i32 as i64));
    add(DType::F32, DType::I64, floats.iter().map(|&v| V::F(v)).collect(), |x| V::I(x.f() as f32 as i64));
    add(DType::I32, DType::I64, ints.iter().map(|&v| V::I(v)).collect(), |x| x);
    add(DType::F32, DType::I32, floats[..5].iter().map(|&v| V::F(v)).collect(), |x| V::I(x.f() as f32 as i32 as i64));
    add(DType::I32, DType::F32, ints.iter().map(|&v| V::I(v)).collect(), |x| V::F(x.i() as f32 as f64));
    cases
}

/// The case as a one-node graph: inputs `x0`, `x1`, output `y`.
fn graph(case: &Case) -> Graph {
    let mut g = Graph::new(&case.name);
    let inputs: Vec<_> =
        case.inputs.iter().enumerate().map(|(i, t)| g.add_value(&format!("x{i}"), t.dtype(), t.shape())).collect();
    let y = g.add_value("y", case.expected.dtype(), case.expected.shape());
    g.add_node("f", case.op.clone(), &inputs, &[y]);
    g.inputs = inputs;
    g.outputs = vec![("y".to_string(), y)];
    g
}

/// Converts `case` for `target` and runs it on `backend` (`None`: the wasm backend over the fallback descriptor);
/// `Err` with the reason when the backend refuses it.
fn run(case: &Case, target: &str, backend: Option<&dyn Backend>) -> Result<Tensor, String> {
    let options = ConvertOptions {
        backends: vec![if target == "wasm" { "fallback" } else { target }.to_string()],
        zstd_level: 1,
        ..ConvertOptions::default()
    };
    let files = match wdnn_transpiler::convert_ir(graph(case), case.name.as_bytes(), &options, |_| {}) {
        Ok((files, _)) => files,
        Err(e @ ConvertError::UnsupportedKernels { .. }) => return Err(e.to_string()),
        Err(e) => panic!("{}: converting for {target}: {e}", case.name),
    };
    let dir = scratch("elementwise-fns");
    wdnn_transpiler::write_bundle(&files, &dir).unwrap();
    let bundle = Bundle::open(&dir).unwrap();
    let named: Vec<(&str, Tensor)> = ["x0", "x1"].into_iter().zip(case.inputs.iter().cloned()).collect();
    let result = match backend {
        None => {
            let (graph, weights) = bundle.load_backend("fallback", |_, _| {}).unwrap();
            wdnn_runner_wasm::backend::WasmBackend
                .load(&graph, &weights)
                .and_then(|mut exe| exe.run(&case.inputs))
                .map(|mut outs| outs.remove(0))
        }
        Some(backend) => wdnn_runner_core::load(&bundle, &[backend], |_, _| {})
            .and_then(|mut s| s.run(&named))
            .map(|mut outs| outs.remove(0).1),
    };
    let _ = std::fs::remove_dir_all(&dir);
    result.map_err(|e| e.to_string())
}

/// Compares exactly for integers and bools, within 1e-5 relative (and absolute near 0) for f32; NaN matches NaN.
fn matches(actual: &Tensor, expected: &Tensor) -> Result<(), String> {
    if actual.dtype() != expected.dtype() || actual.shape() != expected.shape() {
        return Err(format!(
            "{} {:?}, expected {} {:?}",
            actual.dtype(),
            actual.shape(),
            expected.dtype(),
            expected.shape()
        ));
    }
    if expected.dtype() != DType::F32 {
        return if actual.bytes() == expected.bytes() {
            Ok(())
        } else {
            Err(format!("values {} differ from {}", show(actual), show(expected)))
        };
    }
    let (a, e) = (actual.to_vec::<f32>().unwrap(), expected.to_vec::<f32>().unwrap());
    for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
        let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() as f64 <= 1e-5 * (y.abs() as f64).max(1.0);
        if !ok {
            return Err(format!("element {i}: {x} instead of {y} (all: {a:?})"));
        }
    }
    Ok(())
}

fn show(t: &Tensor) -> String {
    match t.dtype() {
        DType::I64 => format!("{:?}", t.to_vec::<i64>().unwrap()),
        DType::I32 => format!("{:?}", t.to_vec::<i32>().unwrap()),
        DType::U32 => format!("{:?}", t.to_vec::<u32>().unwrap()),
        DType::Bool => format!("{:?}", t.to_vec::<bool>().unwrap()),
        _ => format!("{:?}", t.bytes()),
    }
}

fn check_backend(target: &str, backend: Option<&dyn Backend>) {
    let cases: Vec<Case> = unary_case_list().into_iter().chain(binary_case_list()).chain(cast_case_list()).collect();
    let mut failures = Vec::new();
    for case in &cases {
        let listed = UNSUPPORTED.contains(&(target, case.name.as_str()));
        match (run(case, target, backend), listed) {
            (Ok(actual), false) => {
                if let Err(e) = matches(&actual, &case.expected) {
                    failures.push(format!("{}: {e}", case.name));
                }
            }
            (Ok(_), true) => failures.push(format!("{}: listed as unsupported, but runs: remove it", case.name)),
            (Err(e), false) => failures.push(format!("{}: {e}", case.name)),
            (Err(_), true) => {}
        }
    }
    for (backend, name) in UNSUPPORTED {
        assert!(cases.iter().any(|c| c.name == *name), "UNSUPPORTED names ({backend}, {name}), which is no case");
    }
    assert!(
        failures.is_empty(),
        "{target}: {} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_function_on_fallback() {
    check_backend("fallback", Some(&wdnn_runner_fallback::FallbackBackend));
}

#[test]
fn every_function_on_wasm() {
    check_backend("wasm", None);
}

#[test]
fn every_function_on_webgpu() {
    let backend = wdnn_runner_webgpu::WebGpuBackend::default();
    backend.probe().unwrap_or_else(|e| panic!("no WebGPU adapter (install mesa-vulkan-drivers): {e}"));
    check_backend("webgpu", Some(&backend));
}
