//! The operator vocabulary of format version 1 (SPEC §5).
//!
//! Ops take their semantics from the ONNX operator of the same or the cited name, restricted to static shapes: every
//! tensor's shape is known in the descriptor, so an op carries only the attributes its output shape does not already
//! say. Reshape-like ops (`Reshape`, `Expand`, `Tile`) need no attribute at all.
//!
//! Every enum here that a newer minor version may extend has an `Unknown` catch-all, so that an older reader reports
//! "unknown op `X`" instead of failing to parse.

use serde::{Deserialize, Serialize};

/// A kernel's operation (SPEC §5). Encoded as a map whose key `type` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Op {
    /// `y = fun(x)` element by element (SPEC §5.1).
    Unary {
        /// The function.
        fun: UnaryFn,
    },
    /// `y = fun(a, b)` with ONNX (numpy) multidirectional broadcasting (SPEC §5.2).
    Binary {
        /// The function.
        fun: BinaryFn,
    },
    /// A chain of elementwise steps fused into one kernel: `acc` is input 0 broadcast to the output's shape, then
    /// each step applies as in an epilogue (SPEC §5.4), its operands naming further inputs.
    Elementwise {
        /// The steps, in order.
        steps: Vec<EpilogueStep>,
    },
    /// ONNX `Where(cond, x, y)` with broadcasting.
    Where,
    /// ONNX `Cast` to the output tensor's dtype.
    Cast,
    /// ONNX `Conv` in NCHW (any number of spatial axes) with weights `[O, I/group, k…]` and an optional bias `[O]`,
    /// followed by the epilogue.
    Conv {
        /// Number of groups.
        group: u32,
        /// Stride per spatial axis.
        strides: Vec<u32>,
        /// Dilation per spatial axis.
        dilations: Vec<u32>,
        /// Explicit padding: the begin value of every spatial axis, then the end value of every spatial axis.
        pads: Vec<u32>,
        /// Activations are NHWC (channels on the last axis) instead of NCHW; weights keep their layout.
        #[serde(default)]
        channels_last: bool,
        /// Steps applied to each output value before it is stored (SPEC §5.4).
        #[serde(default)]
        epilogue: Vec<EpilogueStep>,
    },
    /// ONNX `ConvTranspose` in NCHW with weights `[I, O/group, k…]` and an optional bias `[O]`; the output shape is
    /// the output tensor's.
    ConvTranspose {
        /// Number of groups.
        group: u32,
        /// Stride per spatial axis.
        strides: Vec<u32>,
        /// Dilation per spatial axis.
        dilations: Vec<u32>,
        /// Padding removed from the full output: begin values, then end values.
        pads: Vec<u32>,
        /// Activations are NHWC (channels on the last axis) instead of NCHW; weights keep their layout.
        #[serde(default)]
        channels_last: bool,
        /// Steps applied to each output value before it is stored (SPEC §5.4).
        #[serde(default)]
        epilogue: Vec<EpilogueStep>,
    },
    /// ONNX `MatMul` (numpy semantics, batch axes broadcast) of `A` and `B`, each optionally transposed on its two
    /// last axes, plus an optional third input `C` broadcast to the output (ONNX `Gemm`'s bias), then the epilogue.
    MatMul {
        /// Use `A` transposed on its last two axes.
        #[serde(default)]
        transpose_a: bool,
        /// Use `B` transposed on its last two axes.
        #[serde(default)]
        transpose_b: bool,
        /// Steps applied to each output value before it is stored (SPEC §5.4).
        #[serde(default)]
        epilogue: Vec<EpilogueStep>,
    },
    /// ONNX `MaxPool` in NCHW; the output shape (floor or ceil mode) is the output tensor's.
    MaxPool {
        /// Window size per spatial axis.
        kernel_shape: Vec<u32>,
        /// Stride per spatial axis.
        strides: Vec<u32>,
        /// Dilation per spatial axis.
        dilations: Vec<u32>,
        /// Begin paddings, then end paddings. Padded positions never win.
        pads: Vec<u32>,
        /// Activations are NHWC (channels on the last axis) instead of NCHW; weights keep their layout.
        #[serde(default)]
        channels_last: bool,
    },
    /// ONNX `AveragePool` in NCHW; the output shape is the output tensor's.
    AveragePool {
        /// Window size per spatial axis.
        kernel_shape: Vec<u32>,
        /// Stride per spatial axis.
        strides: Vec<u32>,
        /// Dilation per spatial axis.
        #[serde(default)]
        dilations: Vec<u32>,
        /// Begin paddings, then end paddings.
        pads: Vec<u32>,
        /// Activations are NHWC (channels on the last axis) instead of NCHW; weights keep their layout.
        #[serde(default)]
        channels_last: bool,
        /// Divide by the whole window (padding included) instead of by the number of real input positions.
        count_include_pad: bool,
    },
    /// ONNX `LRN` across channels (axis 1).
    Lrn {
        /// Number of channels to sum over.
        size: u32,
        /// Scale.
        alpha: f32,
        /// Exponent.
        beta: f32,
        /// Offset.
        bias: f32,
    },
    /// ONNX `Softmax` (opset ≥ 13 semantics: along one axis).
    Softmax {
        /// The axis, non-negative.
        axis: u32,
    },
    /// ONNX `LogSoftmax` (opset ≥ 13 semantics: along one axis).
    LogSoftmax {
        /// The axis, non-negative.
        axis: u32,
    },
    /// ONNX `Reduce*` over `axes`; whether reduced axes are kept is given by the output tensor's shape.
    Reduce {
        /// The reduction.
        fun: ReduceFn,
        /// Reduced axes, non-negative, ascending. Empty means no reduction (a copy).
        axes: Vec<u32>,
    },
    /// ONNX `ArgMax` (output dtype i64) along one axis.
    ArgMax {
        /// The axis, non-negative.
        axis: u32,
        /// On ties, the last index instead of the first.
        #[serde(default)]
        select_last_index: bool,
    },
    /// ONNX `ArgMin` (output dtype i64) along one axis.
    ArgMin {
        /// The axis, non-negative.
        axis: u32,
        /// On ties, the last index instead of the first.
        #[serde(default)]
        select_last_index: bool,
    },
    /// ONNX `LayerNormalization` over the axes from `axis` to the last, with scale and optional bias inputs.
    LayerNorm {
        /// First normalized axis, non-negative.
        axis: u32,
        /// Added to the variance.
        epsilon: f32,
    },
    /// A copy into the output's shape (ONNX `Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`, `Identity`): the bytes
    /// are unchanged.
    Reshape,
    /// ONNX `Transpose`.
    Transpose {
        /// Output axis `i` is input axis `perm[i]`.
        perm: Vec<u32>,
    },
    /// ONNX `Concat` of all inputs along `axis`.
    Concat {
        /// The axis, non-negative.
        axis: u32,
    },
    /// ONNX `Slice` with normalized parameters: along each listed axis, output index `i` reads input index
    /// `starts[k] + i * steps[k]`; the output extent is the output tensor's.
    Slice {
        /// Sliced axes, non-negative.
        axes: Vec<u32>,
        /// First input index per sliced axis, in range.
        starts: Vec<i64>,
        /// Step per sliced axis, non-zero.
        steps: Vec<i64>,
    },
    /// ONNX `Gather(data, indices)` along `axis`; negative indices count from the end.
    Gather {
        /// The axis, non-negative.
        axis: u32,
    },
    /// ONNX `GatherElements(data, indices)` along `axis`.
    GatherElements {
        /// The axis, non-negative.
        axis: u32,
    },
    /// ONNX `Pad`; negative pads crop.
    Pad {
        /// Begin paddings of every axis, then end paddings of every axis.
        pads: Vec<i64>,
        /// How padded values are made.
        mode: PadMode,
        /// The value for `constant` mode.
        #[serde(default)]
        value: f64,
    },
    /// ONNX `Expand`: broadcast the input to the output's shape.
    Expand,
    /// ONNX `Tile`: output index `i` reads input index `i mod input_dim` on every axis.
    Tile,
    /// ONNX `Resize` with its scales made explicit.
    Resize {
        /// Interpolation.
        mode: ResizeMode,
        /// ONNX `coordinate_transformation_mode`.
        coordinates: ResizeCoordinates,
        /// ONNX `nearest_mode`, used by `nearest`.
        #[serde(default)]
        nearest: NearestMode,
        /// Scale per axis (output size over input size, or the model's given scale).
        scales: Vec<f32>,
        /// ONNX `cubic_coeff_a`.
        #[serde(default = "default_cubic_a")]
        cubic_coeff_a: f32,
        /// ONNX `exclude_outside`.
        #[serde(default)]
        exclude_outside: bool,
    },
    /// ONNX `GridSample(X, grid)`: X `[N, C, D…]` sampled at the normalized coordinates of grid `[N, H…, r]` (the
    /// last spatial axis first).
    GridSample {
        /// Interpolation.
        mode: ResizeMode,
        /// What lies outside the input.
        padding: GridSamplePadding,
        /// −1 and 1 are the centres of the corner pixels (else their outer edges).
        #[serde(default)]
        align_corners: bool,
    },
    /// ONNX `BitCast`: the input's bytes read as the output's dtype (of the same size) and shape.
    BitCast,
    /// ONNX `CumSum` along `axis`.
    CumSum {
        /// The axis, non-negative.
        axis: u32,
        /// Each output leaves out its own input value.
        #[serde(default)]
        exclusive: bool,
        /// Accumulate from the end of the axis.
        #[serde(default)]
        reverse: bool,
    },
    /// ONNX `CumProd` along `axis`.
    CumProd {
        /// The axis, non-negative.
        axis: u32,
        /// Each output leaves out its own input value.
        #[serde(default)]
        exclusive: bool,
        /// Accumulate from the end of the axis.
        #[serde(default)]
        reverse: bool,
    },
    /// ONNX `TopK` with K the outputs' extent along `axis`: outputs the values and their indices (i64); ties keep
    /// the lower index first.
    TopK {
        /// The axis, non-negative.
        axis: u32,
        /// The largest values (else the smallest).
        largest: bool,
    },
    /// ONNX `GatherND(data, indices)`.
    GatherNd {
        /// Leading axes shared by data and indices.
        #[serde(default)]
        batch_dims: u32,
    },
    /// ONNX `ScatterND(data, indices, updates)`.
    ScatterNd {
        /// How an update combines with the value it lands on.
        #[serde(default)]
        reduction: ScatterReduction,
    },
    /// ONNX `ScatterElements(data, indices, updates)` along `axis`.
    ScatterElements {
        /// The axis, non-negative.
        axis: u32,
        /// How an update combines with the value it lands on.
        #[serde(default)]
        reduction: ScatterReduction,
    },
    /// An op this reader does not know: decoding a graph that holds one fails with `UnknownOp`.
    #[serde(other)]
    Unknown,
}

/// Defines [`OpKind`] from the list of [`Op`]'s variants; `Op::kind`'s match is exhaustive, so a variant missing
/// here does not compile.
macro_rules! op_kinds {
    ($($kind:ident),* $(,)?) => {
        /// An op's variant without its attributes: what a backend's kernel table is keyed by.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OpKind {
            $(
                #[doc = concat!("[`Op::", stringify!($kind), "`].")]
                $kind,
            )*
        }

        impl OpKind {
            /// Every kind, in declaration order (`ALL[k as usize] == k`).
            pub const ALL: &'static [OpKind] = &[$(OpKind::$kind),*];

            /// The variant's name, as encoded in the `type` key.
            pub fn name(self) -> &'static str {
                match self {
                    $(OpKind::$kind => stringify!($kind),)*
                }
            }
        }

        impl Op {
            /// The op's kind.
            pub fn kind(&self) -> OpKind {
                match self {
                    $(Op::$kind { .. } => OpKind::$kind,)*
                }
            }
        }
    };
}

op_kinds!(
    Unary,
    Binary,
    Elementwise,
    Where,
    Cast,
    Conv,
    ConvTranspose,
    MatMul,
    MaxPool,
    AveragePool,
    Lrn,
    Softmax,
    LogSoftmax,
    Reduce,
    ArgMax,
    ArgMin,
    LayerNorm,
    Reshape,
    Transpose,
    Concat,
    Slice,
    Gather,
    GatherElements,
    Pad,
    Expand,
    Tile,
    Resize,
    GridSample,
    BitCast,
    CumSum,
    CumProd,
    TopK,
    GatherNd,
    ScatterNd,
    ScatterElements,
    Unknown,
);

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The bias slot of SPEC §5.4 for an op with epilogue `steps` and `n_inputs` inputs: input 2, when there is one and no
/// step names it as its operand. [`Op::bias_input`] for an op at hand.
pub fn bias_input(steps: &[EpilogueStep], n_inputs: usize) -> Option<usize> {
    let named = steps.iter().any(|s| matches!(s, EpilogueStep::Binary { operand: 2, .. }));
    (n_inputs > 2 && !named).then_some(2)
}

fn default_cubic_a() -> f32 {
    -0.75
}

impl Op {
    /// The variant's name, as encoded in the `type` key.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The input that holds the bias of an op with an epilogue (SPEC §5.4): input 2 of a Conv, ConvTranspose or
    /// MatMul that has `n_inputs > 2` and whose epilogue names input 2 in no step. An epilogue step that names input 2
    /// (an added tensor) makes it an operand instead, and then there is no bias.
    pub fn bias_input(&self, n_inputs: usize) -> Option<usize> {
        bias_input(self.epilogue()?, n_inputs)
    }

    /// The epilogue of ops that have one.
    pub fn epilogue(&self) -> Option<&[EpilogueStep]> {
        match self {
            Op::Conv { epilogue, .. } | Op::ConvTranspose { epilogue, .. } | Op::MatMul { epilogue, .. } => {
                Some(epilogue)
            }
            _ => None,
        }
    }

    /// The fused steps of an op: an epilogue, or the steps of an `Elementwise` chain.
    pub fn steps(&self) -> Option<&[EpilogueStep]> {
        match self {
            Op::Elementwise { steps } => Some(steps),
            _ => self.epilogue(),
        }
    }

    /// Whether a spatial op works on NHWC activations.
    pub fn channels_last(&self) -> bool {
        matches!(
            self,
            Op::Conv { channels_last: true, .. }
                | Op::ConvTranspose { channels_last: true, .. }
                | Op::MaxPool { channels_last: true, .. }
                | Op::AveragePool { channels_last: true, .. }
        )
    }

    /// Mutable access to the epilogue of ops that have one.
    pub fn epilogue_mut(&mut self) -> Option<&mut Vec<EpilogueStep>> {
        match self {
            Op::Conv { epilogue, .. } | Op::ConvTranspose { epilogue, .. } | Op::MatMul { epilogue, .. } => {
                Some(epilogue)
            }
            _ => None,
        }
    }

    /// True when the op, or a function inside it, is not known to this reader.
    pub fn has_unknown(&self) -> bool {
        let step_unknown = |s: &EpilogueStep| match s {
            EpilogueStep::Unary { fun } => *fun == UnaryFn::Unknown,
            EpilogueStep::Binary { fun, .. } => *fun == BinaryFn::Unknown,
            EpilogueStep::Unknown => true,
        };
        match self {
            Op::Unknown => true,
            Op::Unary { fun } => *fun == UnaryFn::Unknown,
            Op::Binary { fun } => *fun == BinaryFn::Unknown,
            Op::ScatterNd { reduction } | Op::ScatterElements { reduction, .. } => {
                *reduction == ScatterReduction::Unknown
            }
            Op::GridSample { padding, .. } => *padding == GridSamplePadding::Unknown,
            _ => self.steps().is_some_and(|e| e.iter().any(step_unknown)),
        }
    }
}

/// One step of a fused epilogue (SPEC §5.4): the kernel's accumulated value `acc` becomes `fun(acc)` or
/// `fun(acc, operand)` (or `fun(operand, acc)`), in order, before the output is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum EpilogueStep {
    /// `acc = fun(acc)`.
    Unary {
        /// The function.
        fun: UnaryFn,
    },
    /// `acc = fun(acc, kernel.inputs[operand])`, or with the arguments swapped when `operand_first`; the operand
    /// broadcasts to the output shape.
    Binary {
        /// The function.
        fun: BinaryFn,
        /// Index into the kernel's inputs.
        operand: u32,
        /// The operand is the left argument.
        #[serde(default)]
        operand_first: bool,
    },
    /// A step this reader does not know.
    #[serde(other)]
    Unknown,
}

/// Elementwise functions of one argument (SPEC §5.1). Each is the ONNX operator of the same name unless said.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fn")]
#[allow(missing_docs)]
pub enum UnaryFn {
    Abs,
    Neg,
    Exp,
    Log,
    Sqrt,
    /// `1 / sqrt(x)`.
    Rsqrt,
    Reciprocal,
    /// `x * x`.
    Square,
    Sigmoid,
    Tanh,
    Erf,
    Floor,
    Ceil,
    /// Round half to even.
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
    /// Logical not of a bool tensor.
    Not,
    /// Bitwise not of an integer tensor.
    BitwiseNot,
    IsNaN,
    /// ONNX `IsInf` with its two flags.
    IsInf {
        detect_positive: bool,
        detect_negative: bool,
    },
    /// `min(max(x, min), max)`.
    Clip {
        min: f32,
        max: f32,
    },
    LeakyRelu {
        alpha: f32,
    },
    Elu {
        alpha: f32,
    },
    Selu {
        alpha: f32,
        gamma: f32,
    },
    Celu {
        alpha: f32,
    },
    ThresholdedRelu {
        alpha: f32,
    },
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    HardSwish,
    /// `x * tanh(softplus(x))`.
    Mish,
    /// ONNX `Gelu`; `approximate` selects the tanh form.
    Gelu {
        approximate: bool,
    },
    Shrink {
        bias: f32,
        lambd: f32,
    },
    /// A function this reader does not know.
    #[serde(other)]
    Unknown,
}

/// Elementwise functions of two arguments with broadcasting (SPEC §5.2), named after their ONNX operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fn")]
#[allow(missing_docs)]
pub enum BinaryFn {
    Add,
    Sub,
    Mul,
    /// Division; for integers it truncates toward zero.
    Div,
    Pow,
    Max,
    Min,
    /// ONNX `Mod` with `fmod = 0`: the result has the sign of the divisor.
    Mod,
    /// ONNX `Mod` with `fmod = 1`: the result has the sign of the dividend.
    FMod,
    /// ONNX `PRelu(x, slope)`.
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
    /// ONNX `BitShift` with `direction = LEFT`.
    BitShiftLeft,
    /// ONNX `BitShift` with `direction = RIGHT`.
    BitShiftRight,
    /// A function this reader does not know.
    #[serde(other)]
    Unknown,
}

impl BinaryFn {
    /// True for the comparisons and logical functions, whose output is bool.
    pub fn is_predicate(self) -> bool {
        use BinaryFn::*;
        matches!(self, Equal | Less | LessOrEqual | Greater | GreaterOrEqual | And | Or | Xor)
    }
}

/// Reductions (SPEC §5.3), named after the ONNX `Reduce*` operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ReduceFn {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

/// How a scatter combines an update with the value it lands on (ONNX `reduction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScatterReduction {
    /// The update replaces the value.
    #[default]
    None,
    /// Sum.
    Add,
    /// Product.
    Mul,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// A reduction this reader does not know.
    #[serde(other)]
    Unknown,
}

/// What `GridSample` reads outside the input (ONNX `padding_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GridSamplePadding {
    /// Zeros.
    Zeros,
    /// The nearest edge value.
    Border,
    /// The input reflected at its borders.
    Reflection,
    /// A padding this reader does not know.
    #[serde(other)]
    Unknown,
}

/// How `Pad` makes values (ONNX `Pad` modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum PadMode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

/// `Resize` interpolation (ONNX `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum ResizeMode {
    Nearest,
    Linear,
    Cubic,
}

/// `Resize` coordinate transformation (ONNX `coordinate_transformation_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ResizeCoordinates {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
}

/// `Resize` rounding for `nearest` (ONNX `nearest_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum NearestMode {
    #[default]
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bias_is_input_2_unless_a_step_names_it() {
        let add2 = [EpilogueStep::Binary { fun: BinaryFn::Add, operand: 2, operand_first: false }];
        let add3 = [EpilogueStep::Binary { fun: BinaryFn::Add, operand: 3, operand_first: false }];
        assert_eq!(bias_input(&[], 3), Some(2));
        assert_eq!(bias_input(&[], 2), None);
        assert_eq!(bias_input(&add2, 3), None);
        assert_eq!(bias_input(&add3, 4), Some(2));
        let matmul = |epilogue: &[EpilogueStep]| Op::MatMul {
            transpose_a: false,
            transpose_b: false,
            epilogue: epilogue.to_vec(),
        };
        assert_eq!(matmul(&[]).bias_input(3), Some(2));
        assert_eq!(matmul(&add2).bias_input(3), None);
        // Only ops with an epilogue have a bias slot: a LayerNorm's input 2 is its own, not SPEC §5.4's.
        assert_eq!(Op::Softmax { axis: 1 }.bias_input(3), None);
    }

    #[test]
    fn kinds_index_their_table_and_name_the_variant() {
        for (i, k) in OpKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{k}");
        }
        let mut names: Vec<&str> = OpKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OpKind::ALL.len());
        assert_eq!(Op::Reshape.kind(), OpKind::Reshape);
        assert_eq!(Op::Softmax { axis: 1 }.name(), "Softmax");
        // The name is the serialized `type` key.
        let bytes = rmp_serde::to_vec_named(&Op::Transpose { perm: vec![1, 0] }).unwrap();
        assert!(bytes.windows(9).any(|w| w == b"Transpose"));
    }
}
