//! ONNX `RNN`, `GRU` and `LSTM` through tract's builders, refusing what tract 0.23.9 would run wrongly.

use std::sync::OnceLock;

use tract_onnx::model::{Onnx, ParsingContext};
use tract_onnx::pb::NodeProto;

use super::{Builder, Built, refuse};

/// tract's own `RNN`, `GRU` and `LSTM` builders, which [`recurrent`] calls unless the direction is `reverse`.
static TRACT_RECURRENT: OnceLock<[Option<Builder>; 3]> = OnceLock::new();

/// Registers [`recurrent`] over tract's three builders, which it calls for the directions tract gets right.
pub(super) fn register(onnx: &mut Onnx) {
    let originals = ["RNN", "GRU", "LSTM"].map(|op| onnx.op_register.0.get(op).copied());
    TRACT_RECURRENT.get_or_init(|| originals);
    for op in ["RNN", "GRU", "LSTM"] {
        onnx.op_register.insert(op, recurrent);
    }
}

/// ONNX `RNN`, `GRU`, `LSTM` through tract's builders, except `direction = reverse`, which tract 0.23.9 runs
/// forward.
fn recurrent(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let which = ["RNN", "GRU", "LSTM"].iter().position(|op| *op == node.op_type);
    if node.get_attr_opt::<String>("direction")?.as_deref() == Some("reverse") {
        return refuse(node, &format!("{} (direction reverse)", node.op_type));
    }
    match which.and_then(|w| TRACT_RECURRENT.get().and_then(|b| b[w])) {
        Some(build) => build(ctx, node),
        None => refuse(node, &node.op_type),
    }
}
