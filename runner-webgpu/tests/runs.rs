//! End to end on whatever adapter wgpu finds (lavapipe without a GPU): a hand-written one-kernel descriptor run
//! several times with different inputs, so that the upload buffer mapped again after each run, the readback and the
//! timestamps switch are exercised without the converter. Skipped with a message where there is no adapter.

use wdnn_descriptor_spec::{
    Binding, DType, Graph, IoBinding, Kernel, KernelPayload, Op, Storage, TensorDesc, UnaryFn, WeightIndex,
};
use wdnn_runner_core::{Backend, Executable, Tensor, Weights};
use wdnn_runner_webgpu::{WebGpuBackend, WebGpuOptions};

const RELU: &str = "@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < 100u) {
        y[id.x] = max(x[id.x], 0.0);
    }
}";

fn relu_graph() -> Graph {
    let t = |name: &str, offset| TensorDesc {
        name: name.into(),
        dtype: DType::F32,
        shape: vec![1, 100],
        storage: Storage::Arena { offset },
    };
    Graph {
        name: "relu".into(),
        backend: "webgpu".into(),
        tensors: vec![t("x", 0), t("y", 512)],
        inputs: vec![IoBinding { name: "x".into(), tensor: 0 }],
        outputs: vec![IoBinding { name: "y".into(), tensor: 1 }],
        kernels: vec![Kernel {
            name: "relu".into(),
            op: Op::Unary { fun: UnaryFn::Relu },
            inputs: vec![0],
            outputs: vec![1],
            payload: Some(KernelPayload::Wgsl {
                shader: 0,
                entry_point: "main".into(),
                workgroup_size: [64, 1, 1],
                dispatch: [2, 1, 1],
                bindings: vec![
                    Binding { binding: 0, tensor: 0, writable: true },
                    Binding { binding: 1, tensor: 1, writable: true },
                ],
            }),
        }],
        arena_size: 1024,
        alignment: 256,
        shaders: vec![RELU.into()],
    }
}

#[test]
fn repeated_runs_read_each_runs_inputs() {
    for options in [
        WebGpuOptions { timestamps: true, ..Default::default() },
        WebGpuOptions { blocking_wait: true, ..Default::default() },
    ] {
        let backend = WebGpuBackend::new(options);
        if let Err(e) = backend.probe() {
            eprintln!("skipped: no WebGPU adapter ({e})");
            return;
        }
        let weights =
            Weights { index: WeightIndex { stream_size: 0, chunks: vec![], tensors: vec![] }, stream: vec![] };
        let mut exe = backend.load_webgpu(&relu_graph(), &weights).unwrap();
        for run in 0..5 {
            if run == 3 {
                exe.set_timestamps(false);
            }
            let x: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) * (run as f32 + 1.0)).collect();
            let y = exe.run(&[Tensor::new(&[1, 100], &x).unwrap()]).unwrap();
            let expected: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
            assert_eq!(y[0].to_vec::<f32>().unwrap(), expected, "run {run}");
            let r = exe.last_run();
            assert!(r.write >= 0.0 && r.wait >= 0.0 && r.read >= 0.0);
        }
        assert!(exe.last_gpu_seconds().is_none(), "timestamps were turned off");
    }
}
