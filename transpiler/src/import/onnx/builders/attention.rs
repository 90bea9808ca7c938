//! ONNX `Attention` through tract's builder, after the checks for what tract 0.23.9 would compute wrongly.

use std::sync::OnceLock;

use tract_onnx::model::{Onnx, ParsingContext};
use tract_onnx::pb::NodeProto;

use super::{Builder, Built, refuse};

/// tract's own `Attention` builder, which [`attention`] calls once the node passed its checks.
static TRACT_ATTENTION: OnceLock<Option<Builder>> = OnceLock::new();

/// Registers [`attention`] over tract's builder, which it calls once a node passed its checks.
pub(super) fn register(onnx: &mut Onnx) {
    let original = onnx.op_register.0.get("Attention").copied();
    TRACT_ATTENTION.get_or_init(|| original);
    onnx.op_register.insert("Attention", attention);
}

/// ONNX `Attention` through tract's builder, except for what tract 0.23.9 would compute wrongly or not at all.
fn attention(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let input = |i: usize| node.input.get(i).is_some_and(|s| !s.is_empty());
    let int = |name: &str, default: i64| node.get_attr_opt::<i64>(name).map(|v| v.unwrap_or(default));
    if int("left_window_size", -1)? >= 0 || int("right_window_size", -1)? >= 0 {
        return refuse(node, "Attention (sliding window)");
    }
    if int("is_causal", 0)? != 0 && input(4) {
        return refuse(node, "Attention (causal with past keys)");
    }
    if node.get_attr_opt::<f32>("softcap")?.unwrap_or(0.0) != 0.0 {
        return refuse(node, "Attention (softcap)");
    }
    if int("qk_matmul_output_mode", 0)? != 0 || node.output.get(3).is_some_and(|s| !s.is_empty()) {
        return refuse(node, "Attention (qk_matmul_output)");
    }
    if input(6) {
        return refuse(node, "Attention (nonpad_kv_seqlen)");
    }
    match TRACT_ATTENTION.get().copied().flatten() {
        Some(build) => build(ctx, node),
        None => refuse(node, "Attention"),
    }
}
