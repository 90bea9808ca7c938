//! [`FallbackBackend`]: runs a graph descriptor over one byte arena, kernel by kernel, through [`eval`].
//!
//! Each kernel first copies its arena inputs into owned tensors, then evaluates, then writes its outputs. That order
//! is what makes kernels the memory planner declared in place (an output range equal to an input's) correct here;
//! keep it if this loop is ever optimized.

use std::borrow::Cow;
use std::collections::HashMap;

use wdnn_descriptor_spec::{DType, DescriptorError, Graph, Storage, TensorId};
use wdnn_runner_core::{Backend, Executable, Result, RunnerError, Tensor, Weights};

use crate::{EvalError, eval};

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
        graph.validate("graph descriptor")?;
        if let Some(k) = graph.kernels.iter().find(|k| k.op.has_unknown()) {
            return Err(RunnerError::Unsupported {
                backend: NAME.to_string(),
                kernel: k.name.clone(),
                op: k.op.name().to_string(),
                detail: "the op or one of its functions is unknown to this reader".to_string(),
            });
        }
        let invalid = |detail: String| DescriptorError::Invalid { what: "weights".to_string(), detail };
        // Decode every weight once; tensors sharing a weight share its decoded values.
        let mut decoded: HashMap<u32, Tensor> = HashMap::new();
        for t in &graph.tensors {
            let Storage::Weight { id } = t.storage else {
                continue;
            };
            if decoded.contains_key(&id) {
                continue;
            }
            let entry = weights.entry(id)?;
            if entry.offset.checked_add(entry.length).is_none_or(|end| end > weights.stream.len() as u64) {
                return Err(invalid(format!("weight `{}` lies outside the stream", entry.name)).into());
            }
            decoded.insert(id, weights.tensor(id)?);
        }
        for t in &graph.tensors {
            if let Storage::Weight { id } = t.storage
                && decoded.get(&id).is_some_and(|w| w.dtype() != t.dtype || w.shape() != t.shape.as_slice())
            {
                return Err(invalid(format!("tensor `{}` does not match weight {id}", t.name)).into());
            }
        }
        let arena_size = usize::try_from(graph.arena_size)
            .map_err(|_| invalid(format!("an arena of {} bytes does not fit memory", graph.arena_size)))?;
        Ok(Box::new(FallbackExecutable { graph: graph.clone(), weights: decoded, arena: vec![0; arena_size] }))
    }
}

/// A loaded graph: its weights decoded and its arena allocated once.
struct FallbackExecutable {
    graph: Graph,
    weights: HashMap<u32, Tensor>,
    arena: Vec<u8>,
}

/// The arena byte range of an arena tensor.
fn arena_range(graph: &Graph, id: TensorId) -> Option<std::ops::Range<usize>> {
    let t = graph.tensors.get(id as usize)?;
    let Storage::Arena { offset } = t.storage else {
        return None;
    };
    let start = usize::try_from(offset).ok()?;
    Some(start..start.checked_add(usize::try_from(t.byte_size()).ok()?)?)
}

/// Tensor `id`: a borrowed weight, or an owned copy of its arena bytes.
fn read<'a>(graph: &Graph, weights: &'a HashMap<u32, Tensor>, arena: &[u8], id: TensorId) -> Result<Cow<'a, Tensor>> {
    let missing = || RunnerError::TensorData(format!("tensor {id} cannot be read"));
    let t = graph.tensors.get(id as usize).ok_or_else(missing)?;
    match t.storage {
        Storage::Weight { id: w } => weights.get(&w).map(Cow::Borrowed).ok_or_else(missing),
        Storage::Arena { .. } => {
            let bytes = arena_range(graph, id).and_then(|r| arena.get(r)).ok_or_else(missing)?;
            Ok(Cow::Owned(Tensor::from_bytes(t.dtype, &t.shape, bytes.to_vec())?))
        }
    }
}

/// Writes `bytes` into the arena range of tensor `id`, which must be exactly that long.
fn write(graph: &Graph, arena: &mut [u8], id: TensorId, bytes: &[u8]) -> Result<()> {
    let range = arena_range(graph, id).filter(|r| r.len() == bytes.len());
    let dst = range.and_then(|r| arena.get_mut(r)).ok_or_else(|| {
        RunnerError::TensorData(format!("{} bytes do not fit the arena range of tensor {id}", bytes.len()))
    })?;
    dst.copy_from_slice(bytes);
    Ok(())
}

impl Executable for FallbackExecutable {
    /// Kernels read their inputs into owned tensors before any output is written, so a kernel declared in place
    /// (an output range that is an input's) sees its inputs intact.
    fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let graph = &self.graph;
        if inputs.len() != graph.inputs.len() {
            return Err(RunnerError::BadInput {
                name: graph.inputs.get(inputs.len()).map_or("?", |b| b.name.as_str()).to_string(),
                detail: format!("{} inputs given, the model has {}", inputs.len(), graph.inputs.len()),
            });
        }
        for (binding, t) in graph.inputs.iter().zip(inputs) {
            let desc = &graph.tensors[binding.tensor as usize];
            if t.dtype() != desc.dtype {
                return Err(RunnerError::InputDType {
                    name: binding.name.clone(),
                    expected: desc.dtype,
                    found: t.dtype(),
                });
            }
            if t.shape() != desc.shape.as_slice() {
                return Err(RunnerError::InputShape {
                    name: binding.name.clone(),
                    expected: desc.shape.clone(),
                    found: t.shape().to_vec(),
                });
            }
            write(graph, &mut self.arena, binding.tensor, t.bytes())?;
        }
        for kernel in &graph.kernels {
            let owned: Vec<Cow<Tensor>> =
                kernel.inputs.iter().map(|&id| read(graph, &self.weights, &self.arena, id)).collect::<Result<_>>()?;
            let refs: Vec<&Tensor> = owned.iter().map(|t| t.as_ref()).collect();
            let specs: Vec<(DType, Vec<u64>)> = kernel
                .outputs
                .iter()
                .map(|&id| graph.tensors.get(id as usize).map(|t| (t.dtype, t.shape.clone())))
                .collect::<Option<_>>()
                .ok_or_else(|| RunnerError::TensorData(format!("kernel `{}` has an unknown output", kernel.name)))?;
            let results = eval(&kernel.op, &refs, &specs).map_err(|e| {
                let (kernel, op) = (kernel.name.clone(), kernel.op.name().to_string());
                match e {
                    EvalError::Unsupported(detail) => {
                        RunnerError::Unsupported { backend: NAME.to_string(), kernel, op, detail }
                    }
                    EvalError::Invalid(detail) => RunnerError::Kernel { kernel, op, detail },
                }
            })?;
            drop(owned);
            for (&id, t) in kernel.outputs.iter().zip(&results) {
                write(graph, &mut self.arena, id, t.bytes())?;
            }
        }
        graph.outputs.iter().map(|o| read(graph, &self.weights, &self.arena, o.tensor).map(Cow::into_owned)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::weights::WeightIndex;
    use wdnn_descriptor_spec::{
        BinaryFn, Encoding, EpilogueStep, IoBinding, Kernel, Op, TensorDesc, UnaryFn, WeightEntry,
    };

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

        let mut invalid = graph;
        invalid.kernels[2].op = Op::Transpose { perm: vec![0, 0] };
        let mut exe = FallbackBackend.load(&invalid, &weights).unwrap();
        let err = exe.run(&[x]).unwrap_err();
        assert!(matches!(&err, RunnerError::Kernel { kernel, .. } if kernel == "neg"), "{err}");
    }
}
