//! [`FallbackBackend`]: the reference kernel table on the arena [`Executor`].

use wdnn_descriptor_spec::{Graph, KernelPayload};
use wdnn_runner_core::{Backend, Executable, Result, RunnerError, Weights};

use crate::{Executor, KernelTable};

const NAME: &str = "fallback";

/// The portable reference backend: always available, exact, and simple enough to trust as the oracle.
#[derive(Debug, Clone, Copy, Default)]
pub struct FallbackBackend;

impl Backend for FallbackBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn probe(&self) -> std::result::Result<(), String> {
        Ok(())
    }

    fn load(&self, graph: &Graph, weights: &Weights) -> Result<Box<dyn Executable>> {
        if let Some(k) = graph.kernels.iter().find(|k| matches!(k.payload, Some(KernelPayload::Packed { .. }))) {
            return Err(RunnerError::Unsupported {
                backend: NAME.to_string(),
                kernel: k.name.clone(),
                op: k.op.name().to_string(),
                detail: "its weights are packed for another backend's kernels (SPEC §6.2)".to_string(),
            });
        }
        Ok(Box::new(Executor::new(NAME, &KernelTable::reference(), graph, weights)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::weights::WeightIndex;
    use wdnn_descriptor_spec::{
        BinaryFn, DType, Encoding, EpilogueStep, IoBinding, Kernel, Op, Storage, TensorDesc, TensorId, UnaryFn,
        WeightEntry,
    };
    use wdnn_runner_core::{RunnerError, Tensor};

    fn desc(name: &str, shape: &[u64], storage: Storage) -> TensorDesc {
        TensorDesc { name: name.into(), dtype: DType::F32, shape: shape.to_vec(), storage }
    }

    fn kernel(name: &str, op: Op, inputs: &[TensorId], outputs: &[TensorId]) -> Kernel {
        Kernel { name: name.into(), op, inputs: inputs.to_vec(), outputs: outputs.to_vec(), payload: None }
    }

    /// y = relu(x · Wᵀ + b) + x, computed in place over x's range by the last kernel, then negated in place.
    fn tiny() -> (Graph, Weights) {
        let w = [1.0f32, 0.0, 0.0, -1.0];
        let b = [0.5f32, 0.5];
        let mut stream = Vec::new();
        for v in w {
            stream.extend_from_slice(&v.to_le_bytes());
        }
        for v in b {
            stream.extend_from_slice(&v.to_le_bytes());
        }
        let entry = |name: &str, shape: &[u64], offset| WeightEntry {
            name: name.into(),
            dtype: DType::F32,
            shape: shape.to_vec(),
            encoding: Encoding::Raw,
            offset,
            length: shape.iter().product::<u64>() * 4,
        };
        let index = WeightIndex {
            stream_size: stream.len() as u64,
            chunks: vec![],
            tensors: vec![entry("w", &[2, 2], 0), entry("b", &[2], 16)],
        };
        let graph = Graph {
            name: "tiny".into(),
            backend: NAME.into(),
            tensors: vec![
                desc("x", &[1, 2], Storage::Arena { offset: 0 }),
                desc("w", &[2, 2], Storage::Weight { id: 0 }),
                desc("b", &[2], Storage::Weight { id: 1 }),
                desc("h", &[1, 2], Storage::Arena { offset: 16 }),
                desc("y", &[1, 2], Storage::Arena { offset: 16 }),
                desc("z", &[1, 2], Storage::Arena { offset: 16 }),
            ],
            inputs: vec![IoBinding { name: "x".into(), tensor: 0 }],
            outputs: vec![IoBinding { name: "z".into(), tensor: 5 }, IoBinding { name: "w".into(), tensor: 1 }],
            kernels: vec![
                kernel(
                    "fc",
                    Op::MatMul {
                        transpose_a: false,
                        transpose_b: true,
                        epilogue: vec![
                            EpilogueStep::Unary { fun: UnaryFn::Relu },
                            EpilogueStep::Binary { fun: BinaryFn::Add, operand: 0, operand_first: false },
                        ],
                    },
                    &[0, 1, 2],
                    &[3],
                ),
                // In place: y is written over h, which it reads.
                kernel("sub", Op::Binary { fun: BinaryFn::Sub }, &[3, 0], &[4]),
                kernel("neg", Op::Unary { fun: UnaryFn::Neg }, &[4], &[5]),
            ],
            arena_size: 32,
            alignment: 16,
            shaders: vec![],
        };
        (graph, Weights { index, stream })
    }

    #[test]
    fn runs_a_tiny_graph_with_in_place_kernels() {
        let (graph, weights) = tiny();
        let backend = FallbackBackend;
        assert_eq!(backend.name(), "fallback");
        assert!(backend.probe().is_ok());
        let mut exe = backend.load(&graph, &weights).unwrap();
        let x = Tensor::new(&[1, 2], &[2.0f32, 3.0]).unwrap();
        // h = relu([2 + 0.5, -3 + 0.5]) + x = [4.5, 3]; y = h − x = [2.5, 0]; z = −y.
        let out = exe.run(std::slice::from_ref(&x)).unwrap();
        assert_eq!(out[0].to_vec::<f32>().unwrap(), vec![-2.5, -0.0]);
        assert_eq!(out[1].to_vec::<f32>().unwrap(), vec![1.0, 0.0, 0.0, -1.0]);
        let report = exe.kernel_report();
        let names: Vec<(&str, &str)> = report.iter().map(|c| (c.node.as_str(), c.kernel.as_str())).collect();
        assert_eq!(names, [("fc", "reference"), ("sub", "reference"), ("neg", "reference")]);
        // A second run reuses the arena.
        let again = exe.run(&[Tensor::new(&[1, 2], &[-1.0f32, -1.0]).unwrap()]).unwrap();
        assert_eq!(again[0].to_vec::<f32>().unwrap(), vec![-0.0, -1.5]);
    }

    #[test]
    fn bad_inputs_and_kernels_are_reported() {
        let (graph, weights) = tiny();
        let mut exe = FallbackBackend.load(&graph, &weights).unwrap();
        let wrong = Tensor::new(&[2], &[1.0f32, 2.0]).unwrap();
        assert!(matches!(exe.run(&[wrong]), Err(RunnerError::InputShape { .. })));
        assert!(matches!(exe.run(&[]), Err(RunnerError::BadInput { .. })));

        let mut unknown = graph.clone();
        unknown.kernels[1].op = Op::Unary { fun: UnaryFn::Unknown };
        let err = FallbackBackend.load(&unknown, &weights).err().expect("unknown function is refused");
        assert!(matches!(&err, RunnerError::Unsupported { kernel, .. } if kernel == "sub"), "{err}");

        let mut unsupported = graph.clone();
        unsupported.kernels[1].op = Op::Binary { fun: BinaryFn::BitwiseAnd };
        let mut exe = FallbackBackend.load(&unsupported, &weights).unwrap();
        let x = Tensor::new(&[1, 2], &[2.0f32, 3.0]).unwrap();
        let err = exe.run(std::slice::from_ref(&x)).unwrap_err();
        assert!(
            matches!(&err, RunnerError::Unsupported { kernel, op, .. } if kernel == "sub" && op == "Binary"),
            "{err}"
        );

        // A kernel that does not fit its op is refused at load, before anything runs, naming it and the field.
        let mut invalid = graph;
        invalid.kernels[2].op = Op::Transpose { perm: vec![0, 0] };
        let err = FallbackBackend.load(&invalid, &weights).err().expect("a bad perm is refused");
        assert!(
            matches!(&err, RunnerError::Descriptor(wdnn_descriptor_spec::DescriptorError::InvalidKernel { index: 2, fault, .. })
                if fault.kernel == "neg" && fault.field == "op.perm"),
            "{err}"
        );
        drop(x);
    }
}
