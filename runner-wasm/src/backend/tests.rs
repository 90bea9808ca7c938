//! The backend against the reference on small hand-written descriptors: packed and portable convolutions and
//! MatMuls with fused epilogues, pools, elementwise and reductions, an op only the reference has, and the checks
//! that refuse what cannot run.

use wdnn_descriptor_spec::packing::{self, ConvWeights, MatrixOrder, PackedLayout};
use wdnn_descriptor_spec::weights::WeightIndex;
use wdnn_descriptor_spec::{
    BinaryFn, DType, Encoding, EpilogueStep, Graph, IoBinding, Kernel, KernelPayload, Op, Storage, TensorDesc, UnaryFn,
    WeightEntry,
};
use wdnn_runner_core::{Backend, Executable, RunnerError, Tensor, Weights};
use wdnn_runner_fallback::FallbackBackend;

use super::{WarmUp, WasmBackend};
use crate::testing::Rng;

/// Builds a descriptor tensor by tensor, placing arena tensors one after the other and weights in one stream.
#[derive(Default)]
struct Builder {
    tensors: Vec<TensorDesc>,
    kernels: Vec<Kernel>,
    entries: Vec<WeightEntry>,
    stream: Vec<u8>,
    arena: u64,
}

impl Builder {
    fn arena(&mut self, name: &str, shape: &[u64]) -> u32 {
        self.arena_of(name, DType::F32, shape)
    }

    fn arena_of(&mut self, name: &str, dtype: DType, shape: &[u64]) -> u32 {
        let offset = self.arena;
        self.arena += (shape.iter().product::<u64>() * dtype.size() as u64).div_ceil(16) * 16;
        self.tensors.push(TensorDesc {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            storage: Storage::Arena { offset },
        });
        self.tensors.len() as u32 - 1
    }

    fn weight(&mut self, name: &str, shape: &[u64], values: &[f32]) -> u32 {
        let offset = self.stream.len() as u64;
        for v in values {
            self.stream.extend_from_slice(&v.to_le_bytes());
        }
        self.entries.push(WeightEntry {
            name: name.into(),
            dtype: DType::F32,
            shape: shape.to_vec(),
            encoding: Encoding::Raw,
            offset,
            length: values.len() as u64 * 4,
        });
        let id = self.entries.len() as u32 - 1;
        self.tensors.push(TensorDesc {
            name: name.into(),
            dtype: DType::F32,
            shape: shape.to_vec(),
            storage: Storage::Weight { id },
        });
        self.tensors.len() as u32 - 1
    }

    fn kernel(&mut self, name: &str, op: Op, inputs: &[u32], outputs: &[u32], payload: Option<KernelPayload>) {
        self.kernels.push(Kernel {
            name: name.into(),
            op,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            payload,
        });
    }

    fn finish(self, inputs: &[u32], outputs: &[u32]) -> (Graph, Weights) {
        let io = |ids: &[u32]| -> Vec<IoBinding> {
            ids.iter().map(|&t| IoBinding { name: self.tensors[t as usize].name.clone(), tensor: t }).collect()
        };
        let graph = Graph {
            name: "t".into(),
            backend: "wasm".into(),
            inputs: io(inputs),
            outputs: io(outputs),
            tensors: self.tensors.clone(),
            kernels: self.kernels,
            arena_size: self.arena,
            alignment: 16,
            shaders: vec![],
        };
        let index = WeightIndex { stream_size: self.stream.len() as u64, chunks: vec![], tensors: self.entries };
        (graph, Weights { index, stream: self.stream })
    }
}

fn conv_op(group: u32, stride: u32, pad: u32, epilogue: Vec<EpilogueStep>) -> Op {
    Op::Conv {
        group,
        strides: vec![stride; 2],
        dilations: vec![1, 1],
        pads: vec![pad; 4],
        channels_last: true,
        epilogue,
    }
}

/// The same graph with every payload removed and the packed weights replaced by the portable ones: what the
/// reference runs.
fn run_both(wasm: (&Graph, &Weights), reference: (&Graph, &Weights), inputs: &[Tensor]) -> (Vec<Tensor>, Vec<Tensor>) {
    let mut fast = WasmBackend.load(wasm.0, wasm.1).unwrap();
    let mut slow = FallbackBackend.load(reference.0, reference.1).unwrap();
    (fast.run(inputs).unwrap(), slow.run(inputs).unwrap())
}

fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    let num: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den.max(1e-30)).sqrt()
}

/// x [1, 9, 9, 16] → 3×3 conv (24, bias, Relu) → depthwise 3×3 stride 2 (+ residual-free Clip) → 1×1 conv with a
/// residual Add of a per-channel weight → MaxPool 2×2 → Transpose (reference only) → GlobalAverage as Reduce Mean
/// → MatMul (bias) → Softmax. `packed` packs the weights as the transpiler does; otherwise they stay portable and
/// the runner packs them at load.
fn network(packed: bool, rng: &mut Rng) -> (Graph, Weights) {
    let mut b = Builder::default();
    let x = b.arena("x", &[1, 9, 9, 16]);
    let relu = EpilogueStep::Unary { fun: UnaryFn::Relu };
    let clip = EpilogueStep::Unary { fun: UnaryFn::Clip { min: 0.0, max: 6.0 } };

    let conv = |b: &mut Builder,
                name: &str,
                x: u32,
                y: u32,
                w: ConvWeights,
                stride,
                pad,
                epilogue: Vec<EpilogueStep>,
                extra: &[u32],
                rng: &mut Rng| {
        let values = rng.values(w.out_channels * w.k());
        let bias = rng.values(w.out_channels);
        let shape = [w.out_channels as u64, (w.in_channels / w.groups) as u64, w.kernel_h as u64, w.kernel_w as u64];
        let bias_id = b.weight(&format!("{name}.b"), &[w.out_channels as u64], &bias);
        let op = conv_op(w.groups as u32, stride, pad, epilogue);
        let (wid, payload) = if packed {
            let (values, layout) = if w.groups == w.in_channels && w.groups == w.out_channels {
                let blocks = packing::depthwise_blocks(&values, w.in_channels, w.kernel_h, w.kernel_w, Some(&bias), 8);
                (blocks.unwrap(), PackedLayout::DepthwiseBlocks { cb: 8 })
            } else if w.kernel_h == 3 && stride == 1 {
                let wino = packing::winograd_panels(
                    &values,
                    Some(&bias),
                    &packing::WINOGRAD_F2,
                    w.in_channels,
                    w.out_channels,
                    8,
                );
                (wino.unwrap(), PackedLayout::WinogradPanels { m: 2, nr: 8 })
            } else {
                (packing::conv_panels(&values, &w, Some(&bias), 8).unwrap(), PackedLayout::ConvPanels { nr: 8 })
            };
            let id = b.weight(&format!("{name}.w/packed"), &[values.len() as u64], &values);
            (id, Some(KernelPayload::Packed { layout, shape: shape.to_vec() }))
        } else {
            (b.weight(&format!("{name}.w"), &shape, &values), None)
        };
        let mut inputs = vec![x, wid, bias_id];
        inputs.extend_from_slice(extra);
        b.kernel(name, op, &inputs, &[y], payload);
    };
    let c1 = b.arena("c1", &[1, 9, 9, 24]);
    let w1 = ConvWeights { out_channels: 24, in_channels: 16, kernel_h: 3, kernel_w: 3, groups: 1 };
    conv(&mut b, "conv1", x, c1, w1, 1, 1, vec![relu.clone()], &[], rng);
    let c2 = b.arena("c2", &[1, 5, 5, 24]);
    let w2 = ConvWeights { out_channels: 24, in_channels: 24, kernel_h: 3, kernel_w: 3, groups: 24 };
    conv(&mut b, "dw", c1, c2, w2, 2, 1, vec![clip], &[], rng);
    let scale = b.weight("scale", &[1, 1, 1, 20], &rng.values(20));
    let c3 = b.arena("c3", &[1, 5, 5, 20]);
    let w3 = ConvWeights { out_channels: 20, in_channels: 24, kernel_h: 1, kernel_w: 1, groups: 1 };
    let residual = EpilogueStep::Binary { fun: BinaryFn::Mul, operand: 3, operand_first: false };
    conv(&mut b, "pw", c2, c3, w3, 1, 0, vec![residual, relu], &[scale], rng);
    let p = b.arena("p", &[1, 2, 2, 20]);
    let pool = Op::MaxPool {
        kernel_shape: vec![2, 2],
        strides: vec![2, 2],
        dilations: vec![],
        pads: vec![],
        channels_last: true,
    };
    b.kernel("pool", pool, &[c3], &[p], None);
    let t = b.arena("t", &[1, 20, 2, 2]);
    b.kernel("to_nchw", Op::Transpose { perm: vec![0, 3, 1, 2] }, &[p], &[t], None);
    let mean = b.arena("mean", &[1, 20]);
    b.kernel("gap", Op::Reduce { fun: wdnn_descriptor_spec::ReduceFn::Mean, axes: vec![2, 3] }, &[t], &[mean], None);
    let fc_w = rng.values(20 * 10);
    let fc_b = rng.values(10);
    let bias = b.weight("fc.b", &[10], &fc_b);
    let logits = b.arena("logits", &[1, 10]);
    let matmul = Op::MatMul { transpose_a: false, transpose_b: true, epilogue: vec![] };
    if packed {
        let panels = packing::gemm_panels(&fc_w, 20, 10, MatrixOrder::NK, Some(&fc_b), 8).unwrap();
        let w = b.weight("fc.w/packed", &[panels.len() as u64], &panels);
        let payload = KernelPayload::Packed { layout: PackedLayout::GemmPanels { nr: 8 }, shape: vec![20, 10] };
        b.kernel("fc", matmul, &[mean, w, bias], &[logits], Some(payload));
    } else {
        let w = b.weight("fc.w", &[10, 20], &fc_w);
        b.kernel("fc", matmul, &[mean, w, bias], &[logits], None);
    }
    let prob = b.arena("prob", &[1, 10]);
    b.kernel("softmax", Op::Softmax { axis: 1 }, &[logits], &[prob], None);
    b.finish(&[x], &[prob, logits])
}

#[test]
fn packed_and_portable_networks_match_the_reference() {
    let input = Tensor::new(&[1, 9, 9, 16], &Rng::new(7).values(9 * 9 * 16)).unwrap();
    let portable = network(false, &mut Rng::new(1));
    let packed = network(true, &mut Rng::new(1));
    for (what, wasm) in [("portable", &portable), ("packed", &packed)] {
        let (fast, slow) = run_both((&wasm.0, &wasm.1), (&portable.0, &portable.1), std::slice::from_ref(&input));
        for (f, s) in fast.iter().zip(&slow) {
            let err = rel_l2(f, s);
            assert!(err < 1e-5, "{what}: rel. L2 {err:e}");
        }
    }
    let report = WasmBackend.load_executable(&packed.0, &packed.1).unwrap().report();
    let paths: Vec<&str> = report.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "conv winograd F(2x2,3x3)",
            "conv depthwise",
            "conv 1x1 gemm",
            "max pool",
            "reference",
            "reduce Mean",
            "gemm",
            "softmax"
        ]
    );
}

#[test]
fn threads_give_the_results_of_one_thread_bit_for_bit() {
    let (graph, weights) = network(true, &mut Rng::new(1));
    let mut one = WasmBackend.load_executable(&graph, &weights).unwrap();
    let mut three = WasmBackend.load_executable(&graph, &weights).unwrap();
    three.set_threads(3);
    assert_eq!((one.threads(), three.threads()), (1, 3));
    for seed in [7, 8] {
        let input = Tensor::new(&[1, 9, 9, 16], &Rng::new(seed).values(9 * 9 * 16)).unwrap();
        let expected = one.run(std::slice::from_ref(&input)).unwrap();
        let actual = three.run(std::slice::from_ref(&input)).unwrap();
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a.bytes(), e.bytes(), "3 threads differ from 1 (input seed {seed})");
        }
    }
}

#[test]
fn a_warmed_up_executable_runs_as_a_fresh_one() {
    let input = Tensor::new(&[1, 9, 9, 16], &Rng::new(7).values(9 * 9 * 16)).unwrap();
    let (graph, weights) = network(true, &mut Rng::new(1));
    let mut fresh = WasmBackend.load_executable(&graph, &weights).unwrap();
    let expected = fresh.run(std::slice::from_ref(&input)).unwrap();
    let mut warmed = WasmBackend.load_executable(&graph, &weights).unwrap();
    // After a run the arena holds that run's values; warming up must leave none of them behind.
    warmed.run(std::slice::from_ref(&Tensor::new(&[1, 9, 9, 16], &Rng::new(8).values(9 * 9 * 16)).unwrap())).unwrap();
    // Every kernel runs, the reference Transpose among them (its first call compiles the reference evaluator).
    assert_eq!(warmed.warm_up().unwrap(), WarmUp { fast: 7, reference: 1, refused: 0 });
    assert!(warmed.arena.iter().all(|&v| v == 0.0), "the arena is not zeroed after the warm-up");
    let actual = warmed.run(std::slice::from_ref(&input)).unwrap();
    for (a, e) in actual.iter().zip(&expected) {
        assert_eq!(a.bytes(), e.bytes(), "a run after the warm-up differs from a fresh executable's");
    }
}

/// x → Add 10 (fast) → Cast to int64 (reference) → Gather of a row of a 4-row table (reference): over the warm-up's
/// zeros the index is 10, out of range, which only the real run's data makes valid.
#[test]
fn a_reference_kernel_that_refuses_zeros_stays_cold_and_the_run_is_unchanged() {
    let mut b = Builder::default();
    let x = b.arena("x", &[1]);
    let ten = b.weight("ten", &[1], &[10.0]);
    let shifted = b.arena("shifted", &[1]);
    b.kernel("shift", Op::Binary { fun: BinaryFn::Add }, &[x, ten], &[shifted], None);
    let index = b.arena_of("index", DType::I64, &[1]);
    b.kernel("cast", Op::Cast, &[shifted], &[index], None);
    let table = b.weight("table", &[4, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    let row = b.arena("row", &[1, 2]);
    b.kernel("gather", Op::Gather { axis: 0 }, &[table, index], &[row], None);
    let (graph, weights) = b.finish(&[x], &[row]);
    let mut executable = WasmBackend.load_executable(&graph, &weights).unwrap();
    let paths: Vec<String> = executable.report().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["binary Add", "reference", "reference"]);
    assert_eq!(executable.warm_up().unwrap(), WarmUp { fast: 1, reference: 1, refused: 1 });
    assert!(executable.arena.iter().all(|&v| v == 0.0), "the arena is not zeroed after the warm-up");
    let y = executable.run(&[Tensor::new(&[1], &[-8.0f32]).unwrap()]).unwrap();
    assert_eq!(y[0].to_vec::<f32>().unwrap(), [4.0, 5.0]);
    let err = executable.run(&[Tensor::new(&[1], &[0.0f32]).unwrap()]).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
}

#[test]
fn what_cannot_run_is_refused_by_name() {
    let (mut graph, weights) = network(true, &mut Rng::new(1));
    // Packed weights of the wrong length.
    let (mut short, mut w) = (graph.clone(), network(true, &mut Rng::new(1)).1);
    // Tensor 2 is conv1's packed weight (entry 1; its bias is tensor 1, entry 0).
    w.index.tensors[1].length -= 4;
    w.index.tensors[1].shape[0] -= 1;
    short.tensors[2].shape[0] -= 1;
    let err = WasmBackend.load(&short, &w).err().expect("refused");
    assert!(matches!(&err, RunnerError::Unsupported { kernel, .. } if kernel == "conv1"), "{err}");
    // A layout parameter this runner has no kernel for.
    graph.kernels[0].payload =
        Some(KernelPayload::Packed { layout: PackedLayout::WinogradPanels { m: 2, nr: 4 }, shape: vec![24, 16, 3, 3] });
    let err = WasmBackend.load(&graph, &weights).err().expect("refused");
    assert!(err.to_string().contains("conv1"), "{err}");
    // The reference refuses packed kernels.
    let (packed, weights) = network(true, &mut Rng::new(1));
    let err = FallbackBackend.load(&packed, &weights).err().expect("refused");
    assert!(matches!(err, RunnerError::Unsupported { .. }), "{err}");
}

#[test]
fn an_output_over_its_input_runs_on_the_reference() {
    let mut b = Builder::default();
    let x = b.arena("x", &[2, 8]);
    b.tensors.push(TensorDesc {
        name: "y".into(),
        dtype: DType::F32,
        shape: vec![2, 8],
        storage: Storage::Arena { offset: 0 },
    });
    b.kernel("neg", Op::Unary { fun: UnaryFn::Neg }, &[x], &[1], None);
    let (graph, weights) = b.finish(&[x], &[1]);
    let exe = WasmBackend.load_executable(&graph, &weights).unwrap();
    assert_eq!(exe.report()[0].path, "reference");
    let mut exe: Box<dyn wdnn_runner_core::Executable> = Box::new(exe);
    let values: Vec<f32> = (0..16).map(|i| i as f32).collect();
    let out = exe.run(&[Tensor::new(&[2, 8], &values).unwrap()]).unwrap();
    assert_eq!(out[0].to_vec::<f32>().unwrap(), values.iter().map(|v| -v).collect::<Vec<_>>());
}
