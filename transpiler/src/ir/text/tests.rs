use expect_test::expect;
use wdnn_descriptor_spec::op::{GridSamplePadding, ScatterReduction};
use wdnn_descriptor_spec::{
    BinaryFn, DType, EpilogueStep, NearestMode, Op, PadMode, ReduceFn, ResizeCoordinates, ResizeMode, UnaryFn,
};
use wdnn_runner_core::Tensor;

use super::*;
use crate::ir::{Graph, View};

/// One op of every kind, with attributes that are not all defaults.
fn every_op() -> Vec<Op> {
    let conv = |channels_last| Op::Conv {
        group: 2,
        strides: vec![2, 1],
        dilations: vec![1, 3],
        pads: vec![1, 0, 1, 2],
        channels_last,
        epilogue: vec![
            EpilogueStep::Binary { fun: BinaryFn::Add, operand: 2, operand_first: false },
            EpilogueStep::Binary { fun: BinaryFn::Sub, operand: 3, operand_first: true },
            EpilogueStep::Unary { fun: UnaryFn::Clip { min: 0.0, max: 6.0 } },
        ],
    };
    vec![
        Op::Unary { fun: UnaryFn::Relu },
        Op::Unary { fun: UnaryFn::Clip { min: f32::NEG_INFINITY, max: 0.1 } },
        Op::Unary { fun: UnaryFn::IsInf { detect_positive: true, detect_negative: false } },
        Op::Unary { fun: UnaryFn::Selu { alpha: 1.6732632, gamma: 1.050701 } },
        Op::Binary { fun: BinaryFn::BitShiftRight },
        Op::Elementwise {
            steps: vec![
                EpilogueStep::Unary { fun: UnaryFn::Gelu { approximate: true } },
                EpilogueStep::Binary { fun: BinaryFn::Pow, operand: 1, operand_first: true },
            ],
        },
        Op::Where,
        Op::Cast,
        conv(false),
        conv(true),
        Op::ConvTranspose {
            group: 1,
            strides: vec![2, 2],
            dilations: vec![1, 1],
            pads: vec![0, 1, 0, 1],
            channels_last: false,
            epilogue: vec![],
        },
        Op::MatMul {
            transpose_a: true,
            transpose_b: false,
            epilogue: vec![EpilogueStep::Unary { fun: UnaryFn::Tanh }],
        },
        Op::MaxPool {
            kernel_shape: vec![3, 3],
            strides: vec![2, 2],
            dilations: vec![1, 1],
            pads: vec![1, 1, 1, 1],
            channels_last: false,
        },
        Op::AveragePool {
            kernel_shape: vec![2],
            strides: vec![2],
            dilations: vec![1],
            pads: vec![0, 0],
            channels_last: true,
            count_include_pad: true,
        },
        Op::Lrn { size: 5, alpha: 1e-4, beta: 0.75, bias: 2.0 },
        Op::Softmax { axis: 1 },
        Op::LogSoftmax { axis: 3 },
        Op::Reduce { fun: ReduceFn::LogSumExp, axes: vec![0, 2] },
        Op::ArgMax { axis: 1, select_last_index: true },
        Op::ArgMin { axis: 0, select_last_index: false },
        Op::LayerNorm { axis: 2, epsilon: 1e-5 },
        Op::Reshape,
        Op::Transpose { perm: vec![0, 2, 3, 1] },
        Op::Concat { axis: 1 },
        Op::Slice { axes: vec![1, 3], starts: vec![-1, 0], steps: vec![-2, 3] },
        Op::Gather { axis: 1 },
        Op::GatherElements { axis: 2 },
        Op::Pad { pads: vec![1, -1, 0, 2], mode: PadMode::Reflect, value: 0.25 },
        Op::Expand,
        Op::Tile,
        Op::Resize {
            mode: ResizeMode::Cubic,
            coordinates: ResizeCoordinates::TfHalfPixelForNn,
            nearest: NearestMode::RoundPreferCeil,
            scales: vec![1.0, 1.0, 2.5, 0.5],
            cubic_coeff_a: -0.5,
            exclude_outside: true,
        },
        Op::GridSample { mode: ResizeMode::Linear, padding: GridSamplePadding::Reflection, align_corners: true },
        Op::BitCast,
        Op::CumSum { axis: 1, exclusive: true, reverse: false },
        Op::CumProd { axis: 0, exclusive: false, reverse: true },
        Op::TopK { axis: 1, largest: false },
        Op::GatherNd { batch_dims: 1 },
        Op::ScatterNd { reduction: ScatterReduction::Mul },
        Op::ScatterElements { axis: 1, reduction: ScatterReduction::None },
        Op::Unknown,
    ]
}

/// The index of an op's variant. A new op must get an arm here, and then a sample in [`every_op`].
fn variant(op: &Op) -> usize {
    match op {
        Op::Unary { .. } => 0,
        Op::Binary { .. } => 1,
        Op::Elementwise { .. } => 2,
        Op::Where => 3,
        Op::Cast => 4,
        Op::Conv { .. } => 5,
        Op::ConvTranspose { .. } => 6,
        Op::MatMul { .. } => 7,
        Op::MaxPool { .. } => 8,
        Op::AveragePool { .. } => 9,
        Op::Lrn { .. } => 10,
        Op::Softmax { .. } => 11,
        Op::LogSoftmax { .. } => 12,
        Op::Reduce { .. } => 13,
        Op::ArgMax { .. } => 14,
        Op::ArgMin { .. } => 15,
        Op::LayerNorm { .. } => 16,
        Op::Reshape => 17,
        Op::Transpose { .. } => 18,
        Op::Concat { .. } => 19,
        Op::Slice { .. } => 20,
        Op::Gather { .. } => 21,
        Op::GatherElements { .. } => 22,
        Op::Pad { .. } => 23,
        Op::Expand => 24,
        Op::Tile => 25,
        Op::Resize { .. } => 26,
        Op::GridSample { .. } => 27,
        Op::BitCast => 28,
        Op::CumSum { .. } => 29,
        Op::CumProd { .. } => 30,
        Op::TopK { .. } => 31,
        Op::GatherNd { .. } => 32,
        Op::ScatterNd { .. } => 33,
        Op::ScatterElements { .. } => 34,
        Op::Unknown => 35,
    }
}

const VARIANTS: usize = 36;

/// A graph with one node per op (shapes do not matter to the text form) and constants of every dtype.
fn kitchen_sink() -> Graph {
    let mut g = Graph::new("kitchen sink");
    let x = g.add_value("x", DType::F32, &[1, 2, 3, 3]);
    g.inputs.push(x);
    let constants = [
        Tensor::new(&[2], &[1.5f32, -0.0]).unwrap(),
        Tensor::new(&[3], &[f32::INFINITY, f32::NEG_INFINITY, 1e-30]).unwrap(),
        Tensor::new(&[2], &[0.1f64, -2.0]).unwrap(),
        Tensor::from_bytes(
            DType::F16,
            &[2],
            [half::f16::from_f32(0.1), half::f16::from_f32(-3.0)].map(|h| h.to_le_bytes()).concat(),
        )
        .unwrap(),
        Tensor::new(&[2], &[i8::MIN, 7]).unwrap(),
        Tensor::new(&[1], &[-300i16]).unwrap(),
        Tensor::new(&[1], &[i32::MAX]).unwrap(),
        Tensor::new(&[2, 1], &[i64::MIN, 3]).unwrap(),
        Tensor::new(&[1], &[255u8]).unwrap(),
        Tensor::new(&[1], &[65535u16]).unwrap(),
        Tensor::new(&[1], &[u32::MAX]).unwrap(),
        Tensor::new(&[1], &[u64::MAX]).unwrap(),
        Tensor::new(&[2], &[true, false]).unwrap(),
        Tensor::new(&[], &[42i64]).unwrap(),
        Tensor::new(&[0], &[0f32; 0]).unwrap(),
        Tensor::new(&[40], &[0.5f32; 40]).unwrap(),
        Tensor::new(&[20], &(0..20).map(|i| i as f32).collect::<Vec<_>>()).unwrap(),
    ];
    let mut ins = vec![x];
    for (i, t) in constants.into_iter().enumerate() {
        // Two constants share a name, one has a name that needs quotes.
        let name = match i {
            1 => "c0".to_string(),
            2 => "onnx::Mul_7".to_string(),
            _ => format!("c{i}"),
        };
        ins.push(g.add_constant(&name, t));
    }
    let mut prev = x;
    for (i, op) in every_op().into_iter().enumerate() {
        let y = g.add_value(&format!("y{i}"), DType::F32, &[1, 2, 3, 3]);
        let name = if i % 3 == 0 { format!("y{i}") } else { format!("node {i}") };
        let inputs = [prev, ins[1 + i % (ins.len() - 1)]];
        g.add_node(&name, op, &inputs, &[y]);
        prev = y;
    }
    let (values, indices) = (g.add_value("values", DType::F32, &[1, 1]), g.add_value("", DType::I64, &[1, 1]));
    g.add_node("topk", Op::TopK { axis: 1, largest: true }, &[prev], &[values, indices]);
    let copy = g.add_value("y0", DType::F32, &[1, 2, 3, 3]);
    g.add_node("y0", Op::Reshape, &[prev], &[copy]);
    g.outputs.push(("out".into(), prev));
    g.outputs.push(("out \"quoted\"".into(), copy));
    g.outputs.push(("indices".into(), indices));
    g.views.push(View { value: copy, base: prev, offset: 0 });
    g.views.push(View { value: values, base: indices, offset: 256 });
    g
}

#[test]
fn every_op_is_sampled() {
    let mut seen = [false; VARIANTS];
    for op in every_op() {
        seen[variant(&op)] = true;
    }
    assert!(
        seen.iter().all(|&s| s),
        "every_op() lacks variants {:?}",
        (0..VARIANTS).filter(|&i| !seen[i]).collect::<Vec<_>>()
    );
}

#[test]
fn every_op_and_dtype_round_trips_exactly() {
    let g = kitchen_sink();
    let text = print_exact(&g);
    let back = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, g, "{text}");
    assert_eq!(print_exact(&back), text);
}

#[test]
fn summarized_text_reprints_identically() {
    let g = kitchen_sink();
    let text = print(&g);
    assert!(text.contains("= <20 values, sha256 "), "{text}");
    assert!(text.contains("const #c15: f32[40] = splat(0.5)"), "{text}");
    // The summary cannot be read back: the parser says so, naming the line and the constant.
    let err = parse(&text).unwrap_err();
    assert!(err.message.contains("`#c16` shows only a summary"), "{err}");
    let line = text.lines().position(|l| l.contains("<20 values")).unwrap() + 1;
    assert_eq!(err.line, line);
}

#[test]
fn unmentioned_values_are_left_out_and_ids_follow_declaration_order() {
    let mut g = Graph::new("t");
    let dead = g.add_value("dead", DType::F32, &[2]);
    let y = g.add_value("y", DType::F32, &[2]);
    let x = g.add_value("x", DType::F32, &[2]);
    let _ = dead;
    g.inputs.push(x);
    g.add_node("relu", Op::Unary { fun: UnaryFn::Relu }, &[x], &[y]);
    g.outputs.push(("y".into(), y));
    let text = print(&g);
    expect![[r#"
        graph "t"
        input %x: f32[2]
        %y: f32[2] = Unary{fun: Relu}(%x) @relu
        output "y" = %y
    "#]]
    .assert_eq(&text);
    let back = parse(&text).unwrap();
    assert_eq!(back.inputs, vec![crate::ir::ValueId(0)]);
    assert_eq!(print(&back), text);
}

#[test]
fn hand_written_text_may_wrap_inside_brackets_and_omit_defaults() {
    let g = parse(
        r#"
        // A comment, then a conv whose attributes span lines; `channels_last` and `epilogue` take their defaults.
        graph "t"
        input %x: f32[1,1,2,2]
        const #w: f32[1,1,1,1] = [2.0]
        %y: f32[1,1,2,2] = Conv{group: 1, strides: [1, 1],
                                 dilations: [1, 1], pads: [0, 0, 0, 0]}(%x, #w)
        output "y" = %y
        "#,
    )
    .unwrap();
    assert_eq!(g.nodes[0].name, "y", "a node without @name is named after its output");
    expect![[r#"
        graph "t"
        input %x: f32[1,1,2,2]
        const #w: f32[1,1,1,1] = [2.0]
        %y: f32[1,1,2,2] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], channels_last: false, epilogue: []}(%x, #w)
        output "y" = %y
    "#]]
    .assert_eq(&print(&g));
}

#[test]
fn a_broken_graph_still_prints_and_reads_back() {
    // Read before definition and defined twice: what the verifier reports, the text form still shows.
    let mut g = Graph::new("broken");
    let x = g.add_value("x", DType::F32, &[2]);
    let y = g.add_value("y", DType::F32, &[2]);
    let free = g.add_value("free", DType::F32, &[2]);
    g.inputs.push(x);
    g.add_node("late", Op::Unary { fun: UnaryFn::Relu }, &[y], &[x]);
    g.add_node("z", Op::Binary { fun: BinaryFn::Add }, &[free, x], &[y]);
    g.outputs.push(("y".into(), y));
    let text = print(&g);
    expect![[r#"
        graph "broken"
        input %x: f32[2]
        value %free: f32[2]
        %x = Unary{fun: Relu}(%y) @late
        %y: f32[2] = Binary{fun: Add}(%free, %x) @z
        output "y" = %y
    "#]]
    .assert_eq(&text);
    assert_eq!(print(&parse(&text).unwrap()), text);
}

#[track_caller]
fn parse_error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn errors_name_the_line() {
    let head = "graph \"t\"\ninput %x: f32[2]\n";
    assert_eq!(parse_error(&format!("{head}%y: f32[2] = Unary{{fun: Relu}}(%z)\n")), "line 3: `%z` is not declared");
    assert_eq!(
        parse_error(&format!("{head}%y: f32[2] = Unary{{fun: Relu}}(%x)\n%y: f32[2] = Reshape(%x)\n")),
        "line 4: `%y` is declared twice (first on line 3)"
    );
    let unknown_field = parse_error(&format!("{head}%y: f32[2] = Softmax{{axis: \"one\"}}(%x)\n"));
    assert!(unknown_field.starts_with("line 3: op `Softmax{axis: \"one\"}`: "), "{unknown_field}");
    let missing = parse_error(&format!("{head}%y: f32[2] = Conv{{group: 1}}(%x)\n"));
    assert!(missing.starts_with("line 3: ") && missing.contains("missing field `strides`"), "{missing}");
    assert_eq!(
        parse_error(&format!("{head}const #c: f32[3] = [1.0, 2.0]\n")),
        "line 3: constant `#c`: 2 values for shape [3] (3 elements)"
    );
    assert_eq!(
        parse_error(&format!("{head}const #c: i8[1] = [300]\n")),
        "line 3: constant `#c`: `300` is not a i8 value"
    );
    assert_eq!(
        parse_error(&format!("{head}const %c: f32[1] = [1.0]\n")),
        "line 3: `%c` is a `const`, so it takes a `#`"
    );
    assert_eq!(
        parse_error(&format!("{head}%y: f32[2] = Unary{{fun: Relu}}(#x)\n")),
        "line 3: `#x` is written with `#` but is not a constant"
    );
    assert_eq!(parse_error(&format!("{head}input %z: q7[2]\n")), "line 3: unknown dtype `q7`");
    assert_eq!(parse_error(&format!("{head}output y = %x\n")), "line 3: expected a quoted name, found `y`");
    assert_eq!(
        parse_error(&format!("{head}%y: f32[2] = Unary{{fun: Relu}}(%x) extra\n")),
        "line 3: expected the end of the line, found `extra`"
    );
    assert_eq!(parse_error("graph \"t\n"), "line 1: unterminated string");
    assert_eq!(parse_error("frobnicate %x\n"), "line 1: unknown statement `frobnicate`");
}

#[test]
fn display_is_the_text_form() {
    let g = parse("graph \"t\"\ninput %x: f32[2]\n%y: f32[2] = Unary{fun: Exp}(%x)\noutput \"y\" = %y\n").unwrap();
    assert_eq!(g.to_string(), print(&g));
}
