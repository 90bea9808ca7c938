//! The good conformance vectors: small IR graphs that together use every op, function, epilogue step, view kind,
//! dtype and weight encoding of the format. Values come from a fixed pseudo-random sequence, so that the generated
//! bundles are the same on every run.

use wdnn_descriptor_spec::op::{GridSamplePadding, ScatterReduction};
use wdnn_descriptor_spec::{
    BinaryFn, DType, NearestMode, Op, PadMode, ReduceFn, ResizeCoordinates, ResizeMode, UnaryFn,
};
use wdnn_runner_core::{Element, Tensor};
use wdnn_transpiler::ir::{Graph, ValueId};
use wdnn_transpiler::{Layout, WeightFormat};

/// One good vector before conversion: the graph, its inputs in signature order and how it is converted.
pub struct Spec {
    /// The folder name.
    pub name: &'static str,
    /// One line for the index: what the vector is for.
    pub about: &'static str,
    /// The model.
    pub graph: Graph,
    /// Its inputs, in the graph's input order.
    pub inputs: Vec<Tensor>,
    /// How large weights are stored.
    pub weights: WeightFormat,
    /// The activation layout the converter is asked for (`None`: the backend's own).
    pub layout: Option<Layout>,
}

/// xorshift64*: a fixed sequence of values for inputs and weights.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[lo, hi)`, with 1/1024 resolution, so values are exact in f16 and short in text.
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 54) as f32 / 1024.0)
    }

    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// A graph under construction with its inputs.
struct B {
    g: Graph,
    inputs: Vec<Tensor>,
    rng: Rng,
}

fn numel(shape: &[u64]) -> usize {
    shape.iter().product::<u64>() as usize
}

fn t<T: Element>(shape: &[u64], values: &[T]) -> Tensor {
    Tensor::new(shape, values).expect("a vector's tensor matches its shape")
}

impl B {
    fn new(name: &str, seed: u64) -> B {
        B { g: Graph::new(name), inputs: Vec::new(), rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1) }
    }

    fn floats(&mut self, shape: &[u64], lo: f32, hi: f32) -> Vec<f32> {
        (0..numel(shape)).map(|_| self.rng.uniform(lo, hi)).collect()
    }

    /// A model input holding `tensor`.
    fn input(&mut self, name: &str, tensor: Tensor) -> ValueId {
        let v = self.g.add_value(name, tensor.dtype(), tensor.shape());
        self.g.inputs.push(v);
        self.inputs.push(tensor);
        v
    }

    /// An f32 model input, uniform in `[lo, hi)`.
    fn x(&mut self, name: &str, shape: &[u64], lo: f32, hi: f32) -> ValueId {
        let values = self.floats(shape, lo, hi);
        self.input(name, t(shape, &values))
    }

    /// An f32 model input in `[-1, 1)`.
    fn x1(&mut self, name: &str, shape: &[u64]) -> ValueId {
        self.x(name, shape, -1.0, 1.0)
    }

    /// An f32 weight in `[-0.5, 0.5)`.
    fn w(&mut self, name: &str, shape: &[u64]) -> ValueId {
        let values = self.floats(shape, -0.5, 0.5);
        self.g.add_constant(name, t(shape, &values))
    }

    fn constant(&mut self, name: &str, tensor: Tensor) -> ValueId {
        self.g.add_constant(name, tensor)
    }

    /// A node `name` with one output value of the same name.
    fn op(&mut self, name: &str, op: Op, inputs: &[ValueId], dtype: DType, shape: &[u64]) -> ValueId {
        let y = self.g.add_value(name, dtype, shape);
        self.g.add_node(name, op, inputs, &[y]);
        y
    }

    fn f(&mut self, name: &str, op: Op, inputs: &[ValueId], shape: &[u64]) -> ValueId {
        self.op(name, op, inputs, DType::F32, shape)
    }

    /// `op` on `inputs` as a model output named `name`.
    fn out(&mut self, name: &str, op: Op, inputs: &[ValueId], dtype: DType, shape: &[u64]) -> ValueId {
        let y = self.op(name, op, inputs, dtype, shape);
        self.output(y);
        y
    }

    fn output(&mut self, v: ValueId) {
        let name = self.g.value(v).name.clone();
        self.g.outputs.push((name, v));
    }

    fn spec(self, name: &'static str, about: &'static str) -> Spec {
        Spec { name, about, graph: self.g, inputs: self.inputs, weights: WeightFormat::F32, layout: None }
    }
}

fn conv(group: u32, strides: &[u32], dilations: &[u32], pads: &[u32]) -> Op {
    Op::Conv {
        group,
        strides: strides.to_vec(),
        dilations: dilations.to_vec(),
        pads: pads.to_vec(),
        channels_last: false,
        epilogue: vec![],
    }
}

fn unary(fun: UnaryFn) -> Op {
    Op::Unary { fun }
}

fn binary(fun: BinaryFn) -> Op {
    Op::Binary { fun }
}

/// Every good vector, in folder order.
pub fn all() -> Vec<Spec> {
    vec![
        conv_epilogue(),
        conv_grouped(),
        conv_1d_3d(),
        conv_weights(WeightFormat::F16),
        conv_weights(WeightFormat::Int8),
        conv_transpose(),
        channels_last(),
        pools(),
        matmul(),
        normalization(),
        reductions(),
        arg_topk(),
        views(),
        elementwise_in_place(),
        unary_float(),
        binary_float(),
        integers(),
        logic(),
        casts(),
        shapes(),
        gather_scatter(),
        resize(),
        grid_sample(),
        cumulative(),
    ]
}

/// The base of the bad vectors (and of the forward-compatibility good ones): a Conv with a Relu epilogue and a
/// Softmax, a few hundred bytes.
pub fn tiny() -> Spec {
    let mut b = B::new("tiny", 99);
    let x = b.x1("x", &[1, 2, 4, 4]);
    let w = b.w("conv.weight", &[3, 2, 3, 3]);
    let bias = b.w("conv.bias", &[3]);
    let c = b.f("conv", conv(1, &[1, 1], &[1, 1], &[1, 1, 1, 1]), &[x, w, bias], &[1, 3, 4, 4]);
    let r = b.f("relu", unary(UnaryFn::Relu), &[c], &[1, 3, 4, 4]);
    b.out("probabilities", Op::Softmax { axis: 1 }, &[r], DType::F32, &[1, 3, 4, 4]);
    b.spec("tiny", "the base of the bad vectors: Conv + Relu epilogue, Softmax")
}

fn conv_epilogue() -> Spec {
    let mut b = B::new("conv_epilogue", 1);
    let x = b.x1("x", &[1, 3, 5, 5]);
    let r = b.x1("residual", &[1, 4, 5, 5]);
    let w = b.w("conv.weight", &[4, 3, 3, 3]);
    let bias = b.w("conv.bias", &[4]);
    let c = b.f("conv", conv(1, &[1, 1], &[1, 1], &[1, 1, 1, 1]), &[x, w, bias], &[1, 4, 5, 5]);
    let a = b.f("add", binary(BinaryFn::Add), &[c, r], &[1, 4, 5, 5]);
    b.out("y", unary(UnaryFn::Relu), &[a], DType::F32, &[1, 4, 5, 5]);
    b.spec("conv_epilogue", "Conv with bias, a residual Add (epilogue Binary operand) and Relu (epilogue Unary)")
}

fn conv_grouped() -> Spec {
    let mut b = B::new("conv_grouped", 2);
    let x = b.x1("x", &[1, 4, 9, 9]);
    let w = b.w("conv.weight", &[6, 2, 3, 3]);
    let c = b.f("conv", conv(2, &[2, 2], &[2, 2], &[2, 1, 2, 1]), &[x, w], &[1, 6, 5, 4]);
    b.out("y", unary(UnaryFn::Clip { min: 0.0, max: 0.25 }), &[c], DType::F32, &[1, 6, 5, 4]);
    let wd = b.w("depthwise.weight", &[4, 1, 3, 3]);
    let d = b.f("depthwise", conv(4, &[1, 1], &[1, 1], &[1, 1, 1, 1]), &[x, wd], &[1, 4, 9, 9]);
    b.out("z", unary(UnaryFn::HardSwish), &[d], DType::F32, &[1, 4, 9, 9]);
    b.spec(
        "conv_grouped",
        "grouped, strided, dilated, asymmetrically padded and depthwise Conv; Clip, HardSwish epilogues",
    )
}

fn conv_1d_3d() -> Spec {
    let mut b = B::new("conv_1d_3d", 3);
    let x = b.x1("x", &[1, 2, 7]);
    let w = b.w("conv1d.weight", &[3, 2, 3]);
    b.out("y1", conv(1, &[], &[], &[1, 1]), &[x, w], DType::F32, &[1, 3, 7]);
    let v = b.x1("v", &[1, 1, 3, 4, 4]);
    let w3 = b.w("conv3d.weight", &[2, 1, 2, 2, 2]);
    let bias = b.w("conv3d.bias", &[2]);
    b.out("y3", conv(1, &[1, 1, 1], &[1, 1, 1], &[0, 0, 0, 0, 0, 0]), &[v, w3, bias], DType::F32, &[1, 2, 2, 3, 3]);
    b.spec("conv_1d_3d", "Conv over one and three spatial axes (empty strides and dilations mean 1)")
}

fn conv_weights(format: WeightFormat) -> Spec {
    let (name, about, seed) = match format {
        WeightFormat::F16 => ("weights_f16", "F16-encoded Conv and MatMul weights (decoded exactly to f32)", 4),
        _ => ("weights_int8", "Int8-encoded Conv (axis 0) and MatMul (axis 1) weights with per-channel scales", 5),
    };
    let mut b = B::new(name, seed);
    let x = b.x1("x", &[1, 8, 4, 4]);
    let w = b.w("conv.weight", &[16, 8, 3, 3]);
    let bias = b.w("conv.bias", &[16]);
    let c = b.f("conv", conv(1, &[1, 1], &[1, 1], &[1, 1, 1, 1]), &[x, w, bias], &[1, 16, 4, 4]);
    let p = b.f("pool", Op::Reduce { fun: ReduceFn::Mean, axes: vec![2, 3] }, &[c], &[1, 16, 1, 1]);
    let flat = b.f("flat", Op::Reshape, &[p], &[1, 16]);
    let m = b.w("fc.weight", &[16, 64]);
    b.out(
        "y",
        Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] },
        &[flat, m],
        DType::F32,
        &[1, 64],
    );
    let mut spec = b.spec(name, about);
    spec.weights = format;
    spec
}

fn conv_transpose() -> Spec {
    let mut b = B::new("conv_transpose", 6);
    let x = b.x1("x", &[1, 4, 3, 3]);
    let w = b.w("deconv.weight", &[4, 1, 3, 3]);
    let bias = b.w("deconv.bias", &[2]);
    let op = Op::ConvTranspose {
        group: 2,
        strides: vec![2, 2],
        dilations: vec![1, 1],
        pads: vec![1, 1, 1, 1],
        channels_last: false,
        epilogue: vec![],
    };
    let c = b.f("deconv", op, &[x, w, bias], &[1, 2, 5, 5]);
    b.out("y", unary(UnaryFn::Sigmoid), &[c], DType::F32, &[1, 2, 5, 5]);
    let w2 = b.w("deconv2.weight", &[4, 3, 2, 2]);
    let op2 = Op::ConvTranspose {
        group: 1,
        strides: vec![1, 1],
        dilations: vec![2, 2],
        pads: vec![0, 0, 1, 1],
        channels_last: false,
        epilogue: vec![],
    };
    b.out("z", op2, &[x, w2], DType::F32, &[1, 3, 4, 4]);
    b.spec("conv_transpose", "grouped, strided and dilated ConvTranspose cropped by pads; Sigmoid epilogue")
}

fn channels_last() -> Spec {
    let mut b = B::new("channels_last", 7);
    let x = b.x1("x", &[1, 3, 6, 6]);
    let w = b.w("conv.weight", &[4, 3, 3, 3]);
    let bias = b.w("conv.bias", &[4]);
    let c = b.f("conv", conv(1, &[1, 1], &[1, 1], &[1, 1, 1, 1]), &[x, w, bias], &[1, 4, 6, 6]);
    let r = b.f("relu", unary(UnaryFn::Relu), &[c], &[1, 4, 6, 6]);
    let mp = Op::MaxPool {
        kernel_shape: vec![2, 2],
        strides: vec![2, 2],
        dilations: vec![],
        pads: vec![],
        channels_last: false,
    };
    let m = b.f("maxpool", mp, &[r], &[1, 4, 3, 3]);
    let ap = Op::AveragePool {
        kernel_shape: vec![3, 3],
        strides: vec![1, 1],
        dilations: vec![],
        pads: vec![1, 1, 1, 1],
        channels_last: false,
        count_include_pad: false,
    };
    b.out("y", ap, &[m], DType::F32, &[1, 4, 3, 3]);
    let mut spec = b.spec("channels_last", "NHWC (channels_last) Conv, MaxPool and AveragePool between Transposes");
    spec.layout = Some(Layout::ChannelsLast);
    spec
}

fn pools() -> Spec {
    let mut b = B::new("pools", 8);
    let x = b.x1("x", &[1, 2, 7, 7]);
    let mp = |k: u32, s: u32, d: u32, p: u32| Op::MaxPool {
        kernel_shape: vec![k, k],
        strides: vec![s, s],
        dilations: vec![d, d],
        pads: vec![p; 4],
        channels_last: false,
    };
    b.out("max_padded", mp(3, 2, 1, 1), &[x], DType::F32, &[1, 2, 4, 4]);
    b.out("max_dilated", mp(2, 1, 2, 0), &[x], DType::F32, &[1, 2, 5, 5]);
    let ap = |k: u32, s: u32, p: u32, include: bool| Op::AveragePool {
        kernel_shape: vec![k, k],
        strides: vec![s, s],
        dilations: vec![],
        pads: vec![p; 4],
        channels_last: false,
        count_include_pad: include,
    };
    b.out("avg_include_pad", ap(3, 2, 1, true), &[x], DType::F32, &[1, 2, 4, 4]);
    b.out("avg_exclude_pad", ap(3, 2, 1, false), &[x], DType::F32, &[1, 2, 4, 4]);
    // Ceil mode: the last window reaches past the input.
    b.out("avg_ceil", ap(2, 2, 0, false), &[x], DType::F32, &[1, 2, 4, 4]);
    b.out("max_ceil", mp(2, 2, 1, 0), &[x], DType::F32, &[1, 2, 4, 4]);
    b.spec("pools", "MaxPool and AveragePool: padding, dilation, count_include_pad, ceil-mode windows")
}

fn matmul() -> Spec {
    let mut b = B::new("matmul", 9);
    let a = b.x1("a", &[3, 8]);
    let w = b.w("gemm.weight", &[5, 8]);
    let c = b.w("gemm.bias", &[5]);
    let g = b.f("gemm", Op::MatMul { transpose_a: false, transpose_b: true, epilogue: vec![] }, &[a, w, c], &[3, 5]);
    b.out("gemm_tanh", unary(UnaryFn::Tanh), &[g], DType::F32, &[3, 5]);
    let p = b.x1("p", &[2, 4, 3]);
    let q = b.x1("q", &[2, 4, 5]);
    let pq =
        b.f("batched", Op::MatMul { transpose_a: true, transpose_b: false, epilogue: vec![] }, &[p, q], &[2, 3, 5]);
    let r = b.w("project.weight", &[5, 2]);
    let k = b.x1("k", &[1, 2]);
    let m =
        b.f("project", Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] }, &[pq, r], &[2, 3, 2]);
    b.out("k_minus", binary(BinaryFn::Sub), &[k, m], DType::F32, &[2, 3, 2]);
    b.spec("matmul", "MatMul: Gemm with bias and transpose_b, batched transpose_a, broadcast B; operand_first epilogue")
}

fn normalization() -> Spec {
    let mut b = B::new("normalization", 10);
    let x = b.x1("x", &[1, 5, 3, 3]);
    b.out("lrn", Op::Lrn { size: 3, alpha: 1e-2, beta: 0.75, bias: 1.0 }, &[x], DType::F32, &[1, 5, 3, 3]);
    b.out("softmax", Op::Softmax { axis: 1 }, &[x], DType::F32, &[1, 5, 3, 3]);
    b.out("log_softmax", Op::LogSoftmax { axis: 3 }, &[x], DType::F32, &[1, 5, 3, 3]);
    let s = b.x1("s", &[2, 3, 4]);
    let scale = b.w("ln.scale", &[4]);
    let bias = b.w("ln.bias", &[4]);
    b.out("layer_norm", Op::LayerNorm { axis: 2, epsilon: 1e-5 }, &[s, scale, bias], DType::F32, &[2, 3, 4]);
    let scale2 = b.w("ln2.scale", &[3, 4]);
    b.out("layer_norm_no_bias", Op::LayerNorm { axis: 1, epsilon: 1e-3 }, &[s, scale2], DType::F32, &[2, 3, 4]);
    b.spec("normalization", "Lrn, Softmax, LogSoftmax, LayerNorm with and without bias")
}

/// A reduction's output name, function, axes, input and output shape.
type ReduceCase = (&'static str, ReduceFn, &'static [u32], ValueId, &'static [u64]);

fn reductions() -> Spec {
    let mut b = B::new("reductions", 11);
    let x = b.x1("x", &[2, 3, 4]);
    let p = b.x("p", &[2, 3, 4], 0.25, 1.25);
    let cases: [ReduceCase; 10] = [
        ("sum_keep", ReduceFn::Sum, &[1], x, &[2, 1, 4]),
        ("mean", ReduceFn::Mean, &[0, 2], x, &[3]),
        ("max", ReduceFn::Max, &[2], x, &[2, 3]),
        ("min", ReduceFn::Min, &[0], x, &[3, 4]),
        ("prod", ReduceFn::Prod, &[1], p, &[2, 4]),
        ("l1", ReduceFn::L1, &[2], x, &[2, 3, 1]),
        ("l2_all", ReduceFn::L2, &[0, 1, 2], x, &[]),
        ("log_sum", ReduceFn::LogSum, &[1], p, &[2, 4]),
        ("log_sum_exp", ReduceFn::LogSumExp, &[2], x, &[2, 3]),
        ("sum_square", ReduceFn::SumSquare, &[1, 2], x, &[2]),
    ];
    for (name, fun, axes, input, shape) in cases {
        b.out(name, Op::Reduce { fun, axes: axes.to_vec() }, &[input], DType::F32, shape);
    }
    b.spec("reductions", "every ReduceFn, kept and dropped axes, a scalar output")
}

fn arg_topk() -> Spec {
    let mut b = B::new("arg_topk", 12);
    // Few distinct values, so that ties occur.
    let values: Vec<f32> = (0..15).map(|_| (b.rng.int(-3, 3) as f32) / 2.0).collect();
    let x = b.input("x", t(&[3, 5], &values));
    b.out("argmax", Op::ArgMax { axis: 1, select_last_index: false }, &[x], DType::I64, &[3, 1]);
    b.out("argmin_last", Op::ArgMin { axis: 0, select_last_index: true }, &[x], DType::I64, &[5]);
    let v = b.g.add_value("top_values", DType::F32, &[3, 2]);
    let i = b.g.add_value("top_indices", DType::I64, &[3, 2]);
    b.g.add_node("top", Op::TopK { axis: 1, largest: true }, &[x], &[v, i]);
    b.output(v);
    b.output(i);
    let v = b.g.add_value("bottom_values", DType::F32, &[2, 5]);
    let i = b.g.add_value("bottom_indices", DType::I64, &[2, 5]);
    b.g.add_node("bottom", Op::TopK { axis: 0, largest: false }, &[x], &[v, i]);
    b.output(v);
    b.output(i);
    b.spec("arg_topk", "ArgMax, ArgMin (select_last_index), TopK largest and smallest with ties; i64 outputs")
}

fn views() -> Spec {
    let mut b = B::new("views", 13);
    let x = b.x1("x", &[1, 2, 3, 4]);
    let e = b.f("exp", unary(UnaryFn::Exp), &[x], &[1, 2, 3, 4]);
    let flat = b.f("flatten", Op::Reshape, &[e], &[1, 24]);
    let w = b.w("fc.weight", &[24, 3]);
    b.out(
        "fc",
        Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] },
        &[flat, w],
        DType::F32,
        &[1, 3],
    );
    // Two kernel outputs of 32 bytes each, joined by a concat view along axis 1.
    let s = b.x1("s", &[1, 2, 2, 2]);
    let w1 = b.w("pointwise.weight", &[2, 2, 1, 1]);
    let c1 = b.f("pointwise", conv(1, &[1, 1], &[1, 1], &[0, 0, 0, 0]), &[s, w1], &[1, 2, 2, 2]);
    let c2 = b.f("sigmoid", unary(UnaryFn::Sigmoid), &[s], &[1, 2, 2, 2]);
    let joined = b.f("joined", Op::Concat { axis: 1 }, &[c1, c2], &[1, 4, 2, 2]);
    b.out("joined_softmax", Op::Softmax { axis: 1 }, &[joined], DType::F32, &[1, 4, 2, 2]);
    // A Concat kernel of model inputs, and a reshape of a model input that is a model output.
    let u = b.x1("u", &[1, 2, 1, 2]);
    b.out("concat", Op::Concat { axis: 2 }, &[s, u], DType::F32, &[1, 2, 3, 2]);
    b.out("u_flat", Op::Reshape, &[u], DType::F32, &[4]);
    b.spec("views", "a reshape view, a concat view, a Concat kernel, a reshaped model input as a model output")
}

fn elementwise_in_place() -> Spec {
    let mut b = B::new("elementwise_in_place", 14);
    let x = b.x1("x", &[2, 3, 4]);
    let y = b.x1("y", &[4]);
    let k = b.w("k", &[3, 1]);
    let m = b.f("mul", binary(BinaryFn::Mul), &[x, k], &[2, 3, 4]);
    let a = b.f("add", binary(BinaryFn::Add), &[m, y], &[2, 3, 4]);
    let s = b.f("sigmoid", unary(UnaryFn::Sigmoid), &[a], &[2, 3, 4]);
    let d = b.f("sub", binary(BinaryFn::Sub), &[y, s], &[2, 3, 4]);
    b.out("chain", unary(UnaryFn::Square), &[d], DType::F32, &[2, 3, 4]);
    // A Unary on a kernel output that nothing else reads runs in place.
    let z = b.x1("z", &[2, 8]);
    let sm = b.f("softmax", Op::Softmax { axis: 1 }, &[z], &[2, 8]);
    b.out("neg_in_place", unary(UnaryFn::Neg), &[sm], DType::F32, &[2, 8]);
    b.spec(
        "elementwise_in_place",
        "a fused Elementwise chain with broadcast operands (operand_first); an in-place Unary",
    )
}

/// Every UnaryFn on f32 (each on inputs inside its domain).
fn unary_float() -> Spec {
    use UnaryFn::*;
    let mut b = B::new("unary_float", 15);
    let x = b.x("x", &[2, 5], -2.0, 2.0);
    let pos = b.x("pos", &[2, 5], 0.125, 2.0);
    let unit = b.x("unit", &[2, 5], -0.875, 0.875);
    let big = b.x("above_one", &[2, 5], 1.125, 3.0);
    let special = b.input("special", t(&[6], &[0.0f32, f32::NAN, f32::INFINITY, -1.5, f32::NEG_INFINITY, 2.0]));
    let fns: Vec<(&str, UnaryFn, ValueId)> = vec![
        ("abs", Abs, x),
        ("neg", Neg, x),
        ("exp", Exp, x),
        ("log", Log, pos),
        ("sqrt", Sqrt, pos),
        ("rsqrt", Rsqrt, pos),
        ("reciprocal", Reciprocal, pos),
        ("square", Square, x),
        ("sigmoid", Sigmoid, x),
        ("tanh", Tanh, x),
        ("erf", Erf, x),
        ("floor", Floor, x),
        ("ceil", Ceil, x),
        ("round", Round, x),
        ("sign", Sign, x),
        ("sin", Sin, x),
        ("cos", Cos, x),
        ("tan", Tan, unit),
        ("asin", Asin, unit),
        ("acos", Acos, unit),
        ("atan", Atan, x),
        ("sinh", Sinh, x),
        ("cosh", Cosh, x),
        ("asinh", Asinh, x),
        ("acosh", Acosh, big),
        ("atanh", Atanh, unit),
        ("relu", Relu, x),
        ("softplus", Softplus, x),
        ("softsign", Softsign, x),
        ("clip", Clip { min: -0.5, max: 1.0 }, x),
        ("leaky_relu", LeakyRelu { alpha: 0.1 }, x),
        ("elu", Elu { alpha: 0.5 }, x),
        ("selu", Selu { alpha: 1.67, gamma: 1.05 }, x),
        ("celu", Celu { alpha: 0.75 }, x),
        ("thresholded_relu", ThresholdedRelu { alpha: 0.5 }, x),
        ("hard_sigmoid", HardSigmoid { alpha: 0.2, beta: 0.5 }, x),
        ("hard_swish", HardSwish, x),
        ("mish", Mish, x),
        ("gelu", Gelu { approximate: false }, x),
        ("gelu_tanh", Gelu { approximate: true }, x),
        ("shrink", Shrink { bias: 0.25, lambd: 0.5 }, x),
    ];
    for (name, fun, input) in fns {
        let shape = b.g.value(input).shape.clone();
        b.out(name, unary(fun), &[input], DType::F32, &shape);
    }
    b.out("is_nan", unary(IsNaN), &[special], DType::Bool, &[6]);
    b.out("is_inf", unary(IsInf { detect_positive: true, detect_negative: true }), &[special], DType::Bool, &[6]);
    b.out("is_pos_inf", unary(IsInf { detect_positive: true, detect_negative: false }), &[special], DType::Bool, &[6]);
    b.spec("unary_float", "every float UnaryFn, IsNaN and IsInf (bool outputs) on NaN and infinities")
}

fn binary_float() -> Spec {
    use BinaryFn::*;
    let mut b = B::new("binary_float", 16);
    // Halves, so that Equal and the orderings meet equal values.
    let av: Vec<f32> = (0..6).map(|_| b.rng.int(-4, 4) as f32 / 2.0).collect();
    let bv: Vec<f32> =
        (0..3).map(|_| b.rng.int(1, 4) as f32 / 2.0 * if b.rng.int(0, 1) == 0 { -1.0 } else { 1.0 }).collect();
    let a = b.input("a", t(&[2, 3], &av));
    let d = b.input("b", t(&[3], &bv));
    let base = b.x("base", &[2, 3], 0.25, 2.0);
    for (name, fun) in [
        ("add", Add),
        ("sub", Sub),
        ("mul", Mul),
        ("div", Div),
        ("max", Max),
        ("min", Min),
        ("mod", Mod),
        ("fmod", FMod),
        ("prelu", PRelu),
    ] {
        b.out(name, binary(fun), &[a, d], DType::F32, &[2, 3]);
    }
    b.out("pow", binary(Pow), &[base, d], DType::F32, &[2, 3]);
    for (name, fun) in [
        ("equal", Equal),
        ("less", Less),
        ("less_or_equal", LessOrEqual),
        ("greater", Greater),
        ("greater_or_equal", GreaterOrEqual),
    ] {
        b.out(name, binary(fun), &[a, d], DType::Bool, &[2, 3]);
    }
    b.spec("binary_float", "every float BinaryFn and comparison (bool outputs), broadcasting [2,3] with [3]")
}

fn integers() -> Spec {
    use BinaryFn::*;
    let mut b = B::new("integers", 17);
    let av: Vec<i32> = (0..8).map(|_| b.rng.int(-50, 50) as i32).collect();
    let bv: Vec<i32> = (0..8).map(|i| b.rng.int(1, 9) as i32 * if i % 3 == 0 { -1 } else { 1 }).collect();
    let shift: Vec<i32> = (0..8).map(|_| b.rng.int(-1, 33) as i32).collect();
    let a = b.input("a", t(&[8], &av));
    let d = b.input("b", t(&[8], &bv));
    let s = b.input("shift", t(&[8], &shift));
    for (name, fun) in [
        ("add", Add),
        ("sub", Sub),
        ("mul", Mul),
        ("div", Div),
        ("mod", Mod),
        ("fmod", FMod),
        ("max", Max),
        ("min", Min),
        ("bitwise_and", BitwiseAnd),
        ("bitwise_or", BitwiseOr),
        ("bitwise_xor", BitwiseXor),
    ] {
        b.out(name, binary(fun), &[a, d], DType::I32, &[8]);
    }
    b.out("shift_left", binary(BitShiftLeft), &[a, s], DType::I32, &[8]);
    b.out("shift_right", binary(BitShiftRight), &[a, s], DType::I32, &[8]);
    b.out("bitwise_not", unary(UnaryFn::BitwiseNot), &[a], DType::I32, &[8]);
    b.out("abs", unary(UnaryFn::Abs), &[a], DType::I32, &[8]);
    b.out("less", binary(Less), &[a, d], DType::Bool, &[8]);
    let bias = b.constant("offset", t(&[8], &[1i32, -2, 3, -4, 5, -6, 7, -8]));
    b.out("plus_weight", binary(Add), &[a, bias], DType::I32, &[8]);
    let big: Vec<i64> = vec![-(1 << 40) - 3, -7, -1, 0, 1, 9, 1 << 33, i64::MAX - 5];
    let l = b.input("wide", t(&[8], &big));
    let lw = b.constant("wide_weight", t(&[8], &[3i64, -3, 5, 7, -9, 2, 1 << 31, 1]));
    b.out("wide_mul", binary(Mul), &[l, lw], DType::I64, &[8]);
    b.out("wide_div", binary(Div), &[l, lw], DType::I64, &[8]);
    b.out("wide_mod", binary(Mod), &[l, lw], DType::I64, &[8]);
    b.out("wide_neg", unary(UnaryFn::Neg), &[l], DType::I64, &[8]);
    b.out("wide_equal", binary(Equal), &[l, lw], DType::Bool, &[8]);
    let uv: Vec<u32> = vec![0, 1, 7, 100, 1 << 31, u32::MAX, 12345, 42];
    let u = b.input("unsigned", t(&[8], &uv));
    let uw = b.constant("unsigned_weight", t(&[8], &[1u32, 2, 3, 4, 5, 6, 7, 8]));
    b.out("unsigned_add", binary(Add), &[u, uw], DType::U32, &[8]);
    b.out("unsigned_div", binary(Div), &[u, uw], DType::U32, &[8]);
    b.out("unsigned_shift_right", binary(BitShiftRight), &[u, uw], DType::U32, &[8]);
    b.spec(
        "integers",
        "integer BinaryFns and BitwiseNot on i32, i64 and u32 (wrapping, truncating, shifts); integer weights",
    )
}

fn logic() -> Spec {
    let mut b = B::new("logic", 18);
    let p = b.input("p", t(&[4], &[true, true, false, false]));
    let q = b.input("q", t(&[2, 4], &[true, false, true, false, false, false, true, true]));
    b.out("and", binary(BinaryFn::And), &[p, q], DType::Bool, &[2, 4]);
    b.out("or", binary(BinaryFn::Or), &[p, q], DType::Bool, &[2, 4]);
    b.out("xor", binary(BinaryFn::Xor), &[p, q], DType::Bool, &[2, 4]);
    b.out("not", unary(UnaryFn::Not), &[q], DType::Bool, &[2, 4]);
    let x = b.x1("x", &[2, 4]);
    let y = b.x1("y", &[1]);
    b.out("where", Op::Where, &[q, x, y], DType::F32, &[2, 4]);
    let mask = b.constant("mask", t(&[4], &[false, true, true, false]));
    let i = b.input("i", t(&[2, 1], &[-5i64, 6]));
    let j = b.constant("j", t(&[4], &[10i64, 20, 30, 40]));
    b.out("where_i64", Op::Where, &[mask, i, j], DType::I64, &[2, 4]);
    b.spec("logic", "And, Or, Xor, Not on bool; Where with broadcasting on f32 and i64; a bool weight")
}

fn casts() -> Spec {
    let mut b = B::new("casts", 19);
    let x = b.input("x", t(&[8], &[-3.75f32, -1.5, -0.25, 0.0, 0.5, 2.5, 200.75, 70000.0]));
    let targets = [
        ("to_f64", DType::F64),
        ("to_i8", DType::I8),
        ("to_u8", DType::U8),
        ("to_i16", DType::I16),
        ("to_u16", DType::U16),
        ("to_i32", DType::I32),
        ("to_u32", DType::U32),
        ("to_i64", DType::I64),
        ("to_u64", DType::U64),
        ("to_bool", DType::Bool),
    ];
    for (name, dtype) in targets {
        b.out(name, Op::Cast, &[x], dtype, &[8]);
    }
    let h = b.op("half", Op::Cast, &[x], DType::F16, &[8]);
    b.out("f16_round_trip", Op::Cast, &[h], DType::F32, &[8]);
    let i = b.input("i", t(&[4], &[-3i64, 0, 1 << 40, 7]));
    b.out("i64_to_f32", Op::Cast, &[i], DType::F32, &[4]);
    b.out("i64_to_i32", Op::Cast, &[i], DType::I32, &[4]);
    let flag = b.input("flag", t(&[3], &[true, false, true]));
    b.out("bool_to_f32", Op::Cast, &[flag], DType::F32, &[3]);
    b.out("bits", Op::BitCast, &[x], DType::I32, &[8]);
    b.out("bits_unsigned", Op::BitCast, &[x], DType::U32, &[8]);
    b.spec("casts", "Cast between f32, f16, f64, every integer type and bool (truncating, saturating); BitCast")
}

fn shapes() -> Spec {
    let mut b = B::new("shapes", 20);
    let x = b.x1("x", &[2, 3, 4]);
    b.out("transpose", Op::Transpose { perm: vec![2, 0, 1] }, &[x], DType::F32, &[4, 2, 3]);
    let slice = Op::Slice { axes: vec![1, 2], starts: vec![2, 0], steps: vec![-1, 2] };
    b.out("slice", slice, &[x], DType::F32, &[2, 3, 2]);
    let pad = |mode: PadMode, value: f64| Op::Pad { pads: vec![0, 1, 2, 0, 1, 1], mode, value };
    b.out("pad_constant", pad(PadMode::Constant, 0.5), &[x], DType::F32, &[2, 5, 7]);
    b.out("pad_reflect", pad(PadMode::Reflect, 0.0), &[x], DType::F32, &[2, 5, 7]);
    b.out("pad_edge", pad(PadMode::Edge, 0.0), &[x], DType::F32, &[2, 5, 7]);
    b.out("pad_wrap", pad(PadMode::Wrap, 0.0), &[x], DType::F32, &[2, 5, 7]);
    let crop = Op::Pad { pads: vec![0, -1, 1, 0, 0, -2], mode: PadMode::Constant, value: 0.0 };
    b.out("pad_crop", crop, &[x], DType::F32, &[2, 2, 3]);
    let e = b.x1("e", &[3, 1]);
    b.out("expand", Op::Expand, &[e], DType::F32, &[2, 3, 4]);
    b.out("tile", Op::Tile, &[x], DType::F32, &[4, 3, 8]);
    b.spec("shapes", "Transpose, Slice (negative step), Pad in every mode and cropping, Expand, Tile")
}

fn gather_scatter() -> Spec {
    let mut b = B::new("gather_scatter", 21);
    let data = b.x1("data", &[4, 3]);
    let rows = b.constant("rows", t(&[2], &[3i64, -4]));
    b.out("gather_rows", Op::Gather { axis: 0 }, &[data, rows], DType::F32, &[2, 3]);
    let cols = b.input("cols", t(&[2, 2], &[0i32, 2, -1, 1]));
    b.out("gather_cols", Op::Gather { axis: 1 }, &[data, cols], DType::F32, &[4, 2, 2]);
    let elems = b.constant("elements", t(&[4, 2], &[0i64, 2, 1, 1, -1, 0, 2, -3]));
    b.out("gather_elements", Op::GatherElements { axis: 1 }, &[data, elems], DType::F32, &[4, 2]);
    let cube = b.x1("cube", &[2, 3, 4]);
    let nd = b.constant("nd", t(&[2, 2], &[1i64, 2, 0, -1]));
    b.out("gather_nd", Op::GatherNd { batch_dims: 0 }, &[cube, nd], DType::F32, &[2, 4]);
    let nd_batch = b.constant("nd_batch", t(&[2, 1], &[2i64, 0]));
    b.out("gather_nd_batch", Op::GatherNd { batch_dims: 1 }, &[cube, nd_batch], DType::F32, &[2, 4]);
    let updates = b.x1("updates", &[2, 3]);
    let at = b.constant("at", t(&[2, 1], &[1i64, -1]));
    b.out(
        "scatter_nd_add",
        Op::ScatterNd { reduction: ScatterReduction::Add },
        &[data, at, updates],
        DType::F32,
        &[4, 3],
    );
    let at_twice = b.constant("at_twice", t(&[2, 1], &[2i64, 2]));
    b.out(
        "scatter_nd",
        Op::ScatterNd { reduction: ScatterReduction::None },
        &[data, at_twice, updates],
        DType::F32,
        &[4, 3],
    );
    let upd = b.x1("element_updates", &[4, 2]);
    let idx = b.constant("element_at", t(&[4, 2], &[0i64, 0, 1, 2, -1, 0, 2, 2]));
    for (name, reduction) in [
        ("scatter_elements", ScatterReduction::None),
        ("scatter_elements_mul", ScatterReduction::Mul),
        ("scatter_elements_min", ScatterReduction::Min),
        ("scatter_elements_max", ScatterReduction::Max),
    ] {
        b.out(name, Op::ScatterElements { axis: 1, reduction }, &[data, idx, upd], DType::F32, &[4, 3]);
    }
    b.spec(
        "gather_scatter",
        "Gather (i64 and i32 indices, negative), GatherElements, GatherNd, ScatterNd, ScatterElements reductions",
    )
}

fn resize() -> Spec {
    let mut b = B::new("resize", 22);
    let x = b.x1("x", &[1, 1, 3, 4]);
    let r = |mode, coordinates, nearest, scales: &[f32], exclude_outside| Op::Resize {
        mode,
        coordinates,
        nearest,
        scales: scales.to_vec(),
        cubic_coeff_a: -0.75,
        exclude_outside,
    };
    use NearestMode as N;
    use ResizeCoordinates as C;
    use ResizeMode as M;
    let up = [1.0, 1.0, 2.0, 2.0];
    b.out(
        "nearest_asymmetric_floor",
        r(M::Nearest, C::Asymmetric, N::Floor, &up, false),
        &[x],
        DType::F32,
        &[1, 1, 6, 8],
    );
    b.out(
        "nearest_half_pixel",
        r(M::Nearest, C::HalfPixel, N::RoundPreferFloor, &up, false),
        &[x],
        DType::F32,
        &[1, 1, 6, 8],
    );
    b.out(
        "nearest_tf_ceil",
        r(M::Nearest, C::TfHalfPixelForNn, N::RoundPreferCeil, &up, false),
        &[x],
        DType::F32,
        &[1, 1, 6, 8],
    );
    b.out("nearest_ceil", r(M::Nearest, C::HalfPixel, N::Ceil, &up, false), &[x], DType::F32, &[1, 1, 6, 8]);
    let odd = [1.0, 1.0, 1.5, 1.5];
    b.out(
        "linear_half_pixel",
        r(M::Linear, C::HalfPixel, N::RoundPreferFloor, &odd, false),
        &[x],
        DType::F32,
        &[1, 1, 4, 6],
    );
    b.out(
        "linear_align_corners",
        r(M::Linear, C::AlignCorners, N::RoundPreferFloor, &up, false),
        &[x],
        DType::F32,
        &[1, 1, 6, 8],
    );
    // Not an axis resized to one element: there ONNX's reference (which wdnn follows) and onnxruntime disagree.
    let down = [1.0, 1.0, 1.0, 0.5];
    b.out(
        "linear_pytorch_down",
        r(M::Linear, C::PytorchHalfPixel, N::RoundPreferFloor, &down, false),
        &[x],
        DType::F32,
        &[1, 1, 3, 2],
    );
    b.out(
        "cubic_half_pixel",
        r(M::Cubic, C::HalfPixel, N::RoundPreferFloor, &up, false),
        &[x],
        DType::F32,
        &[1, 1, 6, 8],
    );
    b.out(
        "cubic_symmetric_exclude",
        r(M::Cubic, C::HalfPixelSymmetric, N::RoundPreferFloor, &odd, true),
        &[x],
        DType::F32,
        &[1, 1, 4, 6],
    );
    b.spec("resize", "Resize: nearest (four rounding modes), linear and cubic, every coordinate transformation")
}

fn grid_sample() -> Spec {
    let mut b = B::new("grid_sample", 23);
    let x = b.x1("x", &[1, 2, 3, 4]);
    let grid = b.x("grid", &[1, 2, 3, 2], -1.25, 1.25);
    let gs = |mode, padding, align_corners| Op::GridSample { mode, padding, align_corners };
    use GridSamplePadding as P;
    use ResizeMode as M;
    b.out("linear_zeros", gs(M::Linear, P::Zeros, false), &[x, grid], DType::F32, &[1, 2, 2, 3]);
    b.out("nearest_border", gs(M::Nearest, P::Border, true), &[x, grid], DType::F32, &[1, 2, 2, 3]);
    b.out("cubic_reflection", gs(M::Cubic, P::Reflection, false), &[x, grid], DType::F32, &[1, 2, 2, 3]);
    b.out("linear_reflection_aligned", gs(M::Linear, P::Reflection, true), &[x, grid], DType::F32, &[1, 2, 2, 3]);
    b.spec("grid_sample", "GridSample: nearest, linear and cubic with zeros, border and reflection padding")
}

fn cumulative() -> Spec {
    let mut b = B::new("cumulative", 24);
    let x = b.x("x", &[3, 4], -1.5, 1.5);
    let cs = |axis, exclusive, reverse| Op::CumSum { axis, exclusive, reverse };
    let cp = |axis, exclusive, reverse| Op::CumProd { axis, exclusive, reverse };
    b.out("cumsum", cs(1, false, false), &[x], DType::F32, &[3, 4]);
    b.out("cumsum_exclusive_reverse", cs(0, true, true), &[x], DType::F32, &[3, 4]);
    b.out("cumprod", cp(1, false, false), &[x], DType::F32, &[3, 4]);
    b.out("cumprod_exclusive", cp(0, true, false), &[x], DType::F32, &[3, 4]);
    b.out("cumprod_reverse", cp(1, false, true), &[x], DType::F32, &[3, 4]);
    let i = b.input("i", t(&[5], &[1i32, 2, 3, 4, 5]));
    b.out("cumsum_i32", cs(0, false, false), &[i], DType::I32, &[5]);
    b.spec("cumulative", "CumSum and CumProd: exclusive, reverse, on f32 and i32")
}
