//! Lowering tract's typed ops into the IR: one module per op family, and [`Lowering::lower_node`], the one dispatch.
//!
//! Each family has a `lower` function that lowers the nodes whose op it knows and returns `None` for the others;
//! [`FAMILIES`] lists them. To support a new tract op, add it to its family's `lower` (or add a family here).

mod attention;
mod conv;
mod einsum;
mod elementwise;
mod indexing;
mod movement;
mod pool;
mod recurrent;
mod reduce;
mod resize;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::konst::Const;
use wdnn_runner_core::Tensor;

use super::convert::tensor_from_tract;
use super::{Lowered, Lowering, NotSupported, builders, unsupported};

/// Lowers the nodes of one op family; `None` when the node's op is not one of the family's.
type Family = for<'a, 'm> fn(&'a mut Lowering<'m>, &'m TypedNode) -> Option<Lowered>;

/// The op families, in the order they are tried.
const FAMILIES: &[Family] = &[
    conv::lower,
    pool::lower,
    elementwise::lower,
    movement::lower,
    reduce::lower,
    indexing::lower,
    resize::lower,
    recurrent::lower,
    attention::lower,
    einsum::lower,
];

impl<'m> Lowering<'m> {
    /// Lowers one node: constants, pass-throughs and our own ops here, everything else by its family.
    pub(super) fn lower_node(&mut self, node: &'m TypedNode) -> Lowered {
        let op: &dyn TypedOp = node.op.as_ref();
        if let Some(k) = op.downcast_ref::<Const>() {
            let tensor = tensor_from_tract(k.val())?;
            let name = self.model.outlet_label(OutletId::new(node.id, 0)).unwrap_or(&node.name).to_string();
            let id = self.graph.add_constant(&name, tensor);
            self.alias(node, 0, id);
            return Ok(());
        }
        let name = op.name();
        match name.as_ref() {
            "Identity" => {
                let x = self.input(node, 0)?;
                self.alias(node, 0, x);
                return Ok(());
            }
            "Dropout" => {
                // tract's declutter removes a Dropout exactly when it provably acts as in inference (no training
                // mode, or a zero ratio); then the output is the input and the mask is all true.
                if !matches!(op.declutter(self.model, node), Ok(Some(_))) {
                    return unsupported("Dropout (training mode)");
                }
                let x = self.input(node, 0)?;
                self.alias(node, 0, x);
                if node.outputs.len() > 1 {
                    let shape = self.graph.value(x).shape.clone();
                    let ones = vec![true; shape.iter().product::<u64>() as usize];
                    let mask = Tensor::new(&shape, &ones).map_err(|e| NotSupported(e.to_string()))?;
                    let id = self.graph.add_constant(&format!("{}.mask", node.name), mask);
                    self.alias(node, 1, id);
                }
                return Ok(());
            }
            _ => {}
        }
        if let Some(native) = op.downcast_ref::<builders::Native>() {
            let inputs = self.inputs(node)?;
            return self.emit(node, native.op.clone(), &inputs);
        }
        for family in FAMILIES {
            if let Some(lowered) = family(self, node) {
                return lowered;
            }
        }
        unsupported(name.to_string())
    }
}
