//! Activations whose tract builders drop an attribute: `Celu` and `Swish`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::sigmoid;
use tract_onnx::tract_hir::internal::*;

use super::{Built, same_shape, scalar};

/// ONNX `Celu`: `max(0, x) + min(0, α·(exp(x/α) − 1))` (tract 0.23.9 leaves out the factor α).
pub(super) fn celu(_: &ParsingContext, node: &NodeProto) -> Built {
    let alpha: f32 = node.get_attr_opt("alpha")?.unwrap_or(1.0);
    same_shape("Celu", 1, move |name, model, inputs| {
        let zero = scalar(model, inputs, format!("{name}.zero"), 0.0)?;
        let one = scalar(model, inputs, format!("{name}.one"), 1.0)?;
        let a = scalar(model, inputs, format!("{name}.alpha"), alpha)?;
        let x = inputs[0];
        let scaled = model.wire_node(format!("{name}.x_over_alpha"), math::div(), &[x, a])?;
        let e = model.wire_node(format!("{name}.exp"), math::exp(), &scaled)?;
        let em1 = model.wire_node(format!("{name}.minus_one"), math::sub(), &[e[0], one])?;
        let neg = model.wire_node(format!("{name}.times_alpha"), math::mul(), &[em1[0], a])?;
        let neg = model.wire_node(format!("{name}.neg_part"), math::min(), &[zero, neg[0]])?;
        let pos = model.wire_node(format!("{name}.pos_part"), math::max(), &[zero, x])?;
        model.wire_node(name, math::add(), &[pos[0], neg[0]])
    })
}

/// ONNX `Swish`: `x · sigmoid(α·x)` (tract 0.23.9 ignores α).
pub(super) fn swish(_: &ParsingContext, node: &NodeProto) -> Built {
    let alpha: f32 = node.get_attr_opt("alpha")?.unwrap_or(1.0);
    same_shape("Swish", 1, move |name, model, inputs| {
        let a = scalar(model, inputs, format!("{name}.alpha"), alpha)?;
        let ax = model.wire_node(format!("{name}.alpha_x"), math::mul(), &[inputs[0], a])?;
        let gate = model.wire_node(format!("{name}.sigmoid"), sigmoid(), &ax)?;
        model.wire_node(name, math::mul(), &[inputs[0], gate[0]])
    })
}
