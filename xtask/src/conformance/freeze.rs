//! "Frozen" inputs: graph inputs that an op reads as an attribute are bound to their test value before conversion,
//! since wdnn compiles static shapes. The ONNX proto surgery that does it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tract_onnx::pb::{ModelProto, TensorProto, type_proto};
use wdnn_runner_core::spec::DType;

use super::cases::onnx_dtype;
use super::{Class, Outcome};

/// ONNX op types and the input slots they read as attributes (shapes, axes, sizes, pads, counts, OneHot's values,
/// BatchNormalization's statistics, which inference folds into an affine map). wdnn compiles static shapes, so a
/// graph input that reaches one of these slots (directly, or through ops other than `Shape` and `Size`) is bound to
/// its test value as an initializer before conversion ("frozen"); the report lists those cases.
pub(super) const SHAPE_INPUTS: &[(&str, &[usize])] = &[
    ("AffineGrid", &[1]),
    ("BatchNormalization", &[1, 2, 3, 4]),
    ("CenterCropPad", &[1]),
    ("Col2Im", &[1, 2]),
    ("Compress", &[1]),
    ("ConstantOfShape", &[0]),
    ("CumProd", &[1]),
    ("DequantizeLinear", &[1, 2]),
    ("CumSum", &[1]),
    ("Dropout", &[1, 2]),
    ("Expand", &[1]),
    ("MaxUnpool", &[2]),
    ("OneHot", &[1, 2]),
    ("Pad", &[1, 2, 3]),
    ("QuantizeLinear", &[1, 2]),
    ("Range", &[0, 1, 2]),
    ("ReduceL1", &[1]),
    ("ReduceL2", &[1]),
    ("ReduceLogSum", &[1]),
    ("ReduceLogSumExp", &[1]),
    ("ReduceMax", &[1]),
    ("ReduceMean", &[1]),
    ("ReduceMin", &[1]),
    ("ReduceProd", &[1]),
    ("ReduceSum", &[1]),
    ("ReduceSumSquare", &[1]),
    ("Reshape", &[1]),
    ("ReverseSequence", &[1]),
    ("Resize", &[1, 2, 3]),
    ("Slice", &[1, 2, 3, 4]),
    ("Split", &[1]),
    ("Squeeze", &[1]),
    ("Tile", &[1]),
    ("TopK", &[1]),
    ("Trilu", &[1]),
    ("Unsqueeze", &[1]),
    ("Upsample", &[1]),
];

/// The indices (into `inputs`, the graph inputs that are not initializers) of the inputs to freeze: those that
/// feed a [`SHAPE_INPUTS`] slot of a top-level node directly, and the integer ones that reach such a slot through
/// other ops (but `Shape` and `Size`, which only read a shape). A float input computed on (a quantization scale
/// derived from the data, say) stays an input.
pub(super) fn frozen_inputs(model: &ModelProto, inputs: &[String]) -> Vec<usize> {
    let Some(graph) = model.graph.as_ref() else { return vec![] };
    let producer: BTreeMap<&str, &tract_onnx::pb::NodeProto> =
        graph.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    let integer = |name: &str| {
        let info = graph.input.iter().find(|i| i.name == name);
        let code = info.and_then(|i| i.r#type.as_ref()).and_then(|t| t.value.as_ref()).map(|v| match v {
            type_proto::Value::TensorType(t) => t.elem_type,
        });
        code.and_then(|c| onnx_dtype(c).ok()).is_some_and(|dt| !dt.is_float() && dt != DType::Bool)
    };
    // (value name, reached directly from the slot)
    let mut todo: Vec<(&str, bool)> = Vec::new();
    for node in &graph.node {
        if let Some((_, slots)) = SHAPE_INPUTS.iter().find(|(op, _)| *op == node.op_type) {
            let named = slots.iter().filter_map(|&s| node.input.get(s)).map(String::as_str).filter(|n| !n.is_empty());
            todo.extend(named.map(|n| (n, true)));
        }
    }
    let mut seen = BTreeSet::new();
    let mut frozen = BTreeSet::new();
    while let Some((name, direct)) = todo.pop() {
        if !seen.insert((name, direct)) {
            continue;
        }
        if let Some(i) = inputs.iter().position(|n| n == name) {
            if direct || integer(name) {
                frozen.insert(i);
            }
        } else if let Some(node) = producer.get(name)
            && !matches!(node.op_type.as_str(), "Shape" | "Size")
        {
            todo.extend(node.input.iter().map(String::as_str).filter(|n| !n.is_empty()).map(|n| (n, false)));
        }
    }
    frozen.into_iter().collect()
}

/// Writes `model` with each `(input, value)` turned from a graph input into an initializer; returns the path.
pub(super) fn write_frozen(
    model: &ModelProto,
    bound: &[(&str, &TensorProto)],
    path: &Path,
) -> Result<PathBuf, Outcome> {
    use prost::Message;
    let mut model = model.clone();
    if let Some(graph) = model.graph.as_mut() {
        graph.input.retain(|i| !bound.iter().any(|(n, _)| *n == i.name));
        for (name, value) in bound {
            let mut t = (*value).clone();
            t.name = name.to_string();
            graph.initializer.push(t);
        }
    }
    std::fs::write(path, model.encode_to_vec())
        .map_err(|e| Outcome::new(Class::RunnerError, format!("writing {}: {e}", path.display())))?;
    Ok(path.to_path_buf())
}
