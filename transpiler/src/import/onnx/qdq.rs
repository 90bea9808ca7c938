//! onnxruntime's QDQ fusion, in the protobuf: `DequantizeLinear → Conv / MatMul → QuantizeLinear` units become
//! `QLinearConv` / `QLinearMatMul`.
//!
//! A statically quantized (QDQ) model means what onnxruntime runs by default, and onnxruntime's default
//! (optimized) session replaces each such unit by an integer kernel: int32 accumulation of `(x − zx)(w − zw)`, the
//! int32 bias, one requantization `round_half_even(acc · sx·sw/sy) + zy`, saturation. Computed in float as the
//! operators read, the same unit sums rounded products in some order, and a sum that lands on the other side of a
//! rounding tie flips one step that then cascades through a deep network (issue 10's 9 %; onnxruntime's own
//! unoptimized run is as far from its optimized one). The fused op is exact integer arithmetic
//! ([`super::builders`]' `QLinearConv` and `QLinearMatMul`), so wdnn reproduces the default run unit for unit.
//!
//! The rewrite follows onnxruntime's selectors: the weight (and bias) must be initializers, the bias an int32
//! `DequantizeLinear`, every scale and the activations' zero points per tensor, the float result used only by the
//! one `QuantizeLinear`, and no graph output in between.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};

/// Fuses the QDQ units of the main graph; returns how many.
pub(super) fn fuse(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else { return 0 };
    let mut fused = 0;
    while let Some((index, node, removed)) = find_unit(graph) {
        graph.node[index] = node;
        let mut gone: Vec<usize> = removed;
        gone.sort_unstable();
        for i in gone.into_iter().rev() {
            graph.node.remove(i);
        }
        fused += 1;
    }
    if fused > 0 {
        remove_dead_dequantize(graph);
    }
    fused
}

struct Info<'g> {
    producer: HashMap<&'g str, usize>,
    uses: HashMap<&'g str, usize>,
    outputs: HashSet<&'g str>,
    initializers: HashMap<&'g str, &'g TensorProto>,
}

fn info(graph: &GraphProto) -> Info<'_> {
    let mut producer = HashMap::new();
    let mut uses = HashMap::<&str, usize>::new();
    for (i, n) in graph.node.iter().enumerate() {
        for o in &n.output {
            producer.insert(o.as_str(), i);
        }
        for x in n.input.iter().filter(|s| !s.is_empty()) {
            *uses.entry(x.as_str()).or_default() += 1;
        }
        // A subgraph's reference to an outer value is a use too.
        for a in &n.attribute {
            for g in a.g.iter().chain(a.graphs.iter()) {
                for name in referenced(g) {
                    if let Some(k) = graph.node.iter().flat_map(|n| n.output.iter()).find(|o| **o == name) {
                        *uses.entry(k.as_str()).or_default() += 1;
                    }
                }
            }
        }
    }
    let outputs = graph.output.iter().map(|o| o.name.as_str()).collect();
    let initializers = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    Info { producer, uses, outputs, initializers }
}

/// Every value name a subgraph's nodes read (at any depth).
fn referenced(graph: &GraphProto) -> Vec<String> {
    let mut names: Vec<String> = graph.node.iter().flat_map(|n| n.input.iter().cloned()).collect();
    for n in &graph.node {
        for a in &n.attribute {
            for g in a.g.iter().chain(a.graphs.iter()) {
                names.extend(referenced(g));
            }
        }
    }
    names
}

/// The number of elements of an initializer, when it is one.
fn numel(t: &TensorProto) -> i64 {
    t.dims.iter().product()
}

fn attr_int(node: &NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

/// A `DequantizeLinear` feeding `value`: its (quantized input, scale, zero point or "") when its scale and zero
/// point are initializers, per tensor (`per_tensor`) or along axis 0.
fn dequantize<'g>(g: &'g GraphProto, info: &Info<'g>, value: &str, per_tensor: bool) -> Option<[&'g str; 3]> {
    let n = &g.node[*info.producer.get(value)?];
    if n.op_type != "DequantizeLinear" || !n.domain.is_empty() || n.attribute.iter().any(|a| a.name == "block_size") {
        return None;
    }
    let x = n.input.first()?.as_str();
    let scale = n.input.get(1)?.as_str();
    let zp = n.input.get(2).map(String::as_str).unwrap_or("");
    let s = info.initializers.get(scale)?;
    if per_tensor && numel(s) != 1 {
        return None;
    }
    // Per channel: along axis 0 (a 1-D bias has no other).
    let rank = info.initializers.get(x).map_or(0, |t| t.dims.len());
    if numel(s) != 1 && rank > 1 && attr_int(n, "axis").unwrap_or(1) != 0 {
        return None;
    }
    if !zp.is_empty() && numel(info.initializers.get(zp)?) != numel(s) {
        return None;
    }
    Some([x, scale, zp])
}

/// The next fusable unit: the new node, where it goes, and the indices of the nodes it replaces.
fn find_unit(g: &GraphProto) -> Option<(usize, NodeProto, Vec<usize>)> {
    let info = info(g);
    for (i, n) in g.node.iter().enumerate() {
        let conv = match (n.op_type.as_str(), n.domain.as_str()) {
            ("Conv", "") => true,
            ("MatMul", "") => false,
            _ => continue,
        };
        let Some(out) = n.output.first() else { continue };
        if info.outputs.contains(out.as_str()) || info.uses.get(out.as_str()) != Some(&1) {
            continue;
        }
        let Some(&qi) = g.node.iter().enumerate().find(|(_, c)| c.input.first() == Some(out)).map(|(j, _)| j).as_ref()
        else {
            continue;
        };
        let q = &g.node[qi];
        if q.op_type != "QuantizeLinear" || !q.domain.is_empty() || q.attribute.iter().any(|a| a.name != "axis") {
            continue;
        }
        let (Some(sy), zy) = (q.input.get(1), q.input.get(2)) else { continue };
        if info.initializers.get(sy.as_str()).is_none_or(|t| numel(t) != 1) {
            continue;
        }
        let Some(zy) = zy.filter(|z| info.initializers.get(z.as_str()).is_some_and(|t| numel(t) == 1)) else {
            continue;
        };
        let Some(x) = n.input.first().and_then(|v| dequantize(g, &info, v, true)) else { continue };
        let Some(w) = n.input.get(1).and_then(|v| dequantize(g, &info, v, !conv)) else { continue };
        if x[2].is_empty() || w[2].is_empty() || !info.initializers.contains_key(w[0]) {
            continue;
        }
        let zero_dtype = |z: &str| info.initializers.get(z).map(|t| t.data_type);
        let (u8, i8) = (DataType::Uint8 as i32, DataType::Int8 as i32);
        let is_8bit = |z: &str| zero_dtype(z).is_some_and(|d| d == u8 || d == i8);
        if !is_8bit(x[2]) || !is_8bit(w[2]) || !is_8bit(zy) {
            continue;
        }
        let mut inputs: Vec<String> =
            [x[0], x[1], x[2], w[0], w[1], w[2], sy.as_str(), zy.as_str()].iter().map(|s| s.to_string()).collect();
        let mut removed = vec![qi];
        if conv {
            if let Some(b) = n.input.get(2).filter(|b| !b.is_empty()) {
                let Some(bias) = dequantize(g, &info, b, false) else { continue };
                let int32 = info.initializers.get(bias[0]).is_some_and(|t| t.data_type == DataType::Int32 as i32);
                let zero_point_free = bias[2].is_empty()
                    || info
                        .initializers
                        .get(bias[2])
                        .is_some_and(|t| t.int32_data.iter().all(|&v| v == 0) && t.raw_data.iter().all(|&v| v == 0));
                if !int32 || !zero_point_free {
                    continue;
                }
                inputs.push(bias[0].to_string());
            }
        } else if n.input.len() != 2 {
            continue;
        }
        let op_type = if conv { "QLinearConv" } else { "QLinearMatMul" };
        let attribute: Vec<AttributeProto> = if conv { n.attribute.clone() } else { vec![] };
        let node = NodeProto {
            name: if n.name.is_empty() { q.output[0].clone() } else { format!("{}_quant", n.name) },
            op_type: op_type.to_string(),
            input: inputs,
            output: q.output.clone(),
            attribute,
            ..Default::default()
        };
        removed.retain(|&r| r != i);
        return Some((i, node, removed));
    }
    None
}

/// Drops `DequantizeLinear` nodes whose output nothing reads any more.
fn remove_dead_dequantize(g: &mut GraphProto) {
    loop {
        let info = info(g);
        let dead: Vec<usize> = g
            .node
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.op_type == "DequantizeLinear"
                    && n.output
                        .iter()
                        .all(|o| !info.outputs.contains(o.as_str()) && !info.uses.contains_key(o.as_str()))
            })
            .map(|(i, _)| i)
            .collect();
        if dead.is_empty() {
            return;
        }
        for i in dead.into_iter().rev() {
            g.node.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            op_type: op.into(),
            name: outputs[0].into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn init(name: &str, dt: DataType, dims: &[i64]) -> TensorProto {
        TensorProto { name: name.into(), data_type: dt as i32, dims: dims.to_vec(), ..Default::default() }
    }

    fn graph(conv_used_twice: bool) -> GraphProto {
        let mut nodes = vec![
            node("DequantizeLinear", &["xq", "sx", "zx"], &["x"]),
            node("DequantizeLinear", &["wq", "sw", "zw"], &["w"]),
            node("DequantizeLinear", &["bq", "sb"], &["b"]),
            node("Conv", &["x", "w", "b"], &["c"]),
            node("QuantizeLinear", &["c", "sy", "zy"], &["yq"]),
        ];
        nodes[1].attribute.push(AttributeProto { name: "axis".into(), i: 0, ..Default::default() });
        if conv_used_twice {
            nodes.push(node("Relu", &["c"], &["r"]));
        }
        GraphProto {
            node: nodes,
            initializer: vec![
                init("sx", DataType::Float, &[]),
                init("zx", DataType::Uint8, &[]),
                init("wq", DataType::Int8, &[4, 3, 3, 3]),
                init("sw", DataType::Float, &[4]),
                init("zw", DataType::Int8, &[4]),
                init("bq", DataType::Int32, &[4]),
                init("sb", DataType::Float, &[4]),
                init("sy", DataType::Float, &[]),
                init("zy", DataType::Uint8, &[]),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn a_qdq_conv_becomes_one_qlinearconv() {
        let mut m = ModelProto { graph: Some(graph(false)), ..Default::default() };
        assert_eq!(fuse(&mut m), 1);
        let g = m.graph.unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["QLinearConv"], "the dequantizations nothing reads any more are gone");
        assert_eq!(g.node[0].input, ["xq", "sx", "zx", "wq", "sw", "zw", "sy", "zy", "bq"]);
        assert_eq!(g.node[0].output, ["yq"]);
    }

    #[test]
    fn a_float_result_used_elsewhere_is_not_fused() {
        let mut m = ModelProto { graph: Some(graph(true)), ..Default::default() };
        assert_eq!(fuse(&mut m), 0);
    }
}
