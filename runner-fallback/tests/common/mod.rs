//! A small graph and test kernels for the plug tests.

use wdnn_descriptor_spec::weights::WeightIndex;
use wdnn_descriptor_spec::{BinaryFn, DType, Graph, IoBinding, Kernel, Op, Storage, TensorDesc, UnaryFn};
use wdnn_runner_core::{TensorView, TensorViewMut, Weights};
use wdnn_runner_fallback::{EvalError, NodeInfo, NodeKernel, OpKernel};

fn desc(name: &str, offset: u64) -> TensorDesc {
    TensorDesc { name: name.into(), dtype: DType::F32, shape: vec![1, 4], storage: Storage::Arena { offset } }
}

fn node(name: &str, op: Op, inputs: &[u32], outputs: &[u32]) -> Kernel {
    Kernel { name: name.into(), op, inputs: inputs.to_vec(), outputs: outputs.to_vec(), payload: None }
}

/// `c = relu(−x) + x`, with `relu` in place over `a`'s range: neg → a, relu → b (= a's bytes), add(b, x) → c.
pub fn graph() -> (Graph, Weights) {
    let graph = Graph {
        name: "plug".into(),
        backend: "test".into(),
        tensors: vec![desc("x", 0), desc("a", 16), desc("b", 16), desc("c", 32)],
        inputs: vec![IoBinding { name: "x".into(), tensor: 0 }],
        outputs: vec![IoBinding { name: "c".into(), tensor: 3 }],
        kernels: vec![
            node("neg", Op::Unary { fun: UnaryFn::Neg }, &[0], &[1]),
            node("relu", Op::Unary { fun: UnaryFn::Relu }, &[1], &[2]),
            node("add", Op::Binary { fun: BinaryFn::Add }, &[2, 0], &[3]),
        ],
        arena_size: 48,
        alignment: 16,
        shaders: vec![],
    };
    (graph, Weights { index: WeightIndex { stream_size: 0, chunks: vec![], tensors: vec![] }, stream: vec![] })
}

/// Applies `f` to f32 elements; binds only the unary function `fun`. It zeroes its output before reading its
/// input, so an input aliasing the output would come out wrong.
pub struct F32Unary {
    pub name: &'static str,
    pub fun: UnaryFn,
    pub f: fn(f32) -> f32,
}

impl OpKernel for F32Unary {
    fn name(&self) -> &str {
        self.name
    }

    fn bind(&self, node: &NodeInfo<'_>) -> Result<Option<Box<dyn NodeKernel>>, EvalError> {
        let fits = matches!(node.op(), Op::Unary { fun } if *fun == self.fun)
            && node.input(0).is_some_and(|t| t.dtype == DType::F32);
        Ok(fits.then(|| Box::new(F32UnaryNode { name: self.name, f: self.f }) as Box<dyn NodeKernel>))
    }
}

struct F32UnaryNode {
    name: &'static str,
    f: fn(f32) -> f32,
}

impl NodeKernel for F32UnaryNode {
    fn name(&self) -> &str {
        self.name
    }

    fn run(&mut self, inputs: &[TensorView<'_>], outputs: &mut [TensorViewMut<'_>]) -> Result<(), EvalError> {
        let (Some(x), Some(y)) = (inputs.first(), outputs.first_mut()) else {
            return Err(EvalError::Invalid("one input and one output".into()));
        };
        y.bytes_mut().fill(0);
        for (o, i) in y.bytes_mut().chunks_exact_mut(4).zip(x.bytes().chunks_exact(4)) {
            let v = f32::from_le_bytes([i[0], i[1], i[2], i[3]]);
            o.copy_from_slice(&(self.f)(v).to_le_bytes());
        }
        Ok(())
    }
}
