//! The reference kernels as a table entry: every op kind through [`eval`](crate::eval), reported as `reference`.

use wdnn_descriptor_spec::{DType, Op};
use wdnn_runner_core::{Tensor, TensorView, TensorViewMut};

use crate::EvalError;
use crate::error::invalid;
use crate::table::{NodeInfo, NodeKernel, OpKernel};

/// The name the reference kernels report.
pub const REFERENCE: &str = "reference";

/// The reference kernel of every op kind. It accepts every node; what it cannot compute fails when run, naming
/// the node, exactly as [`eval`](crate::eval) reports it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reference;

impl OpKernel for Reference {
    fn name(&self) -> &str {
        REFERENCE
    }

    fn bind(&self, node: &NodeInfo<'_>) -> Result<Option<Box<dyn NodeKernel>>, EvalError> {
        let outputs = (0..node.node().outputs.len())
            .map(|i| node.output(i).map(|t| (t.dtype, t.shape.clone())))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("an output tensor id is out of range"))?;
        Ok(Some(Box::new(ReferenceNode { op: node.op().clone(), outputs })))
    }
}

/// One node on the reference kernels.
struct ReferenceNode {
    op: Op,
    outputs: Vec<(DType, Vec<u64>)>,
}

impl NodeKernel for ReferenceNode {
    fn name(&self) -> &str {
        REFERENCE
    }

    fn run(&mut self, inputs: &[TensorView<'_>], outputs: &mut [TensorViewMut<'_>]) -> Result<(), EvalError> {
        let owned: Vec<Tensor> = inputs.iter().map(TensorView::to_tensor).collect();
        let refs: Vec<&Tensor> = owned.iter().collect();
        let results = crate::eval(&self.op, &refs, &self.outputs)?;
        if results.len() != outputs.len() {
            return Err(invalid(format!("{} outputs computed, {} expected", results.len(), outputs.len())));
        }
        for (out, r) in outputs.iter_mut().zip(&results) {
            out.copy_from(r.view()).map_err(|e| invalid(e.to_string()))?;
        }
        Ok(())
    }
}
