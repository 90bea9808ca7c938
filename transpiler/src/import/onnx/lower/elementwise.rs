//! Elementwise ops: tract's binary ops (`NE` as `Not(Equal)`), its unary ops (`Silu` as `x · sigmoid(x)`), `Cast`
//! and `Iff` (ONNX `Where`).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::logic::Iff;
use tract_onnx::tract_core::ops::nn::Silu;
use wdnn_descriptor_spec::{BinaryFn, DType, Op, UnaryFn};

use super::super::convert::{binary_fn, unary_fn};
use super::super::{Lowered, Lowering};

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    Some(if let Some(bin) = node.op_as::<TypedBinOp>() {
        l.lower_binary(node, bin)
    } else if let Some(ew) = node.op_as::<ElementWiseOp>() {
        l.lower_unary(node, ew)
    } else if node.op_as::<Cast>().is_some() {
        l.lower_cast(node)
    } else if node.op_as::<Iff>().is_some() {
        l.lower_where(node)
    } else {
        return None;
    })
}

impl Lowering<'_> {
    fn lower_binary(&mut self, node: &TypedNode, bin: &TypedBinOp) -> Lowered {
        let inputs = self.inputs(node)?;
        if bin.0.name() == "NE" {
            let shape = self.fact(OutletId::new(node.id, 0))?.map(|f| f.1).unwrap_or_default();
            let eq = self.emit_temp(
                &format!("{}.eq", node.name),
                Op::Binary { fun: BinaryFn::Equal },
                &inputs,
                DType::Bool,
                &shape,
            );
            return self.emit(node, Op::Unary { fun: UnaryFn::Not }, &[eq]);
        }
        let fun = binary_fn(bin.0.name())?;
        self.emit(node, Op::Binary { fun }, &inputs)
    }

    fn lower_unary(&mut self, node: &TypedNode, ew: &ElementWiseOp) -> Lowered {
        let x = self.input(node, 0)?;
        if ew.0.downcast_ref::<Silu>().is_some() {
            // x · sigmoid(x)
            let value = self.graph.value(x).clone();
            let name = format!("{}.sigmoid", node.name);
            let sig = self.emit_temp(&name, Op::Unary { fun: UnaryFn::Sigmoid }, &[x], value.dtype, &value.shape);
            return self.emit(node, Op::Binary { fun: BinaryFn::Mul }, &[x, sig]);
        }
        let fun = unary_fn(ew)?;
        self.emit(node, Op::Unary { fun }, &[x])
    }

    fn lower_cast(&mut self, node: &TypedNode) -> Lowered {
        let x = self.input(node, 0)?;
        self.emit(node, Op::Cast, &[x])
    }

    fn lower_where(&mut self, node: &TypedNode) -> Lowered {
        let inputs = self.inputs(node)?;
        self.emit(node, Op::Where, &inputs)
    }
}
