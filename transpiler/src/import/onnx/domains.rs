//! Operator domains, checked on the protobuf before tract sees it.
//!
//! tract looks ops up by `op_type` alone, in one table that holds the default ONNX domain's ops with a few of
//! `ai.onnx.ml` and onnxruntime's `com.microsoft` contrib ops. A `Relu` in some vendor's domain would therefore be
//! taken for ONNX's `Relu` and convert silently into whatever ONNX's op computes. So every node's domain must be one
//! the model's opset imports declare (as ONNX requires) and one of [`IMPLEMENTED`]; every other node is reported, by
//! op type, domain and node name, together with the others, before anything is converted.

use std::collections::{BTreeMap, BTreeSet};

use tract_onnx::pb::{GraphProto, ModelProto, NodeProto};

use crate::error::Unsupported;

/// The domains whose ops tract's op table (and our builders over it) implement. `""` and `ai.onnx` are one domain.
const IMPLEMENTED: [&str; 3] = ["", "ai.onnx.ml", "com.microsoft"];

/// Nodes (at any depth of subgraphs) whose domain is undeclared or not implemented, grouped by op type and domain.
pub(super) fn foreign_ops(model: &ModelProto) -> Vec<Unsupported> {
    let declared: BTreeSet<&str> = model.opset_import.iter().map(|o| canonical(&o.domain)).collect();
    let mut found = BTreeMap::<String, Vec<String>>::new();
    if let Some(graph) = &model.graph {
        for_each_node(graph, &mut |node, index| {
            let domain = canonical(&node.domain);
            let problem = if !declared.contains(domain) {
                "not declared in the model's opset imports"
            } else if !IMPLEMENTED.contains(&domain) {
                "a domain wdnn does not implement"
            } else {
                return;
            };
            let shown = if domain.is_empty() { "ai.onnx" } else { domain };
            let label = format!("{} in domain `{shown}` ({problem})", node.op_type);
            found.entry(label).or_default().push(node_name(node, index));
        });
    }
    found.into_iter().map(|(op, nodes)| Unsupported { op, nodes }).collect()
}

/// `ai.onnx` is the default domain's long name.
fn canonical(domain: &str) -> &str {
    if domain == "ai.onnx" { "" } else { domain }
}

/// The node's name, or its position and op type when the exporter left it unnamed.
fn node_name(node: &NodeProto, index: usize) -> String {
    if node.name.is_empty() { format!("#{index} ({})", node.op_type) } else { node.name.clone() }
}

/// Calls `f` on every node of `graph` and of the subgraphs in its attributes (`If`, `Loop`, `Scan` bodies), with the
/// node's index in its own graph.
fn for_each_node(graph: &GraphProto, f: &mut dyn FnMut(&NodeProto, usize)) {
    for (index, node) in graph.node.iter().enumerate() {
        f(node, index);
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                for_each_node(sub, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::{AttributeProto, OperatorSetIdProto};

    fn node(name: &str, op: &str, domain: &str) -> NodeProto {
        NodeProto { name: name.into(), op_type: op.into(), domain: domain.into(), ..Default::default() }
    }

    fn model(imports: &[&str], nodes: Vec<NodeProto>) -> ModelProto {
        ModelProto {
            opset_import: imports.iter().map(|d| OperatorSetIdProto { domain: d.to_string(), version: 13 }).collect(),
            graph: Some(GraphProto { node: nodes, ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn default_ml_and_contrib_domains_pass_when_declared() {
        let nodes = vec![node("a", "Relu", ""), node("b", "Relu", "ai.onnx"), node("c", "Gelu", "com.microsoft")];
        assert!(foreign_ops(&model(&["ai.onnx", "com.microsoft"], nodes)).is_empty());
    }

    #[test]
    fn undeclared_and_unimplemented_domains_are_named_with_their_nodes() {
        let body = GraphProto { node: vec![node("", "Relu", "org.nowhere")], ..Default::default() };
        let mut branch = node("if", "If", "");
        branch.attribute.push(AttributeProto { name: "then_branch".into(), g: Some(body), ..Default::default() });
        let nodes = vec![node("r", "Relu", "org.nowhere"), node("f", "Fancy", "com.example"), branch];
        let found = foreign_ops(&model(&["", "com.example"], nodes));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].op, "Fancy in domain `com.example` (a domain wdnn does not implement)");
        assert_eq!(found[0].nodes, ["f"]);
        assert_eq!(found[1].op, "Relu in domain `org.nowhere` (not declared in the model's opset imports)");
        assert_eq!(found[1].nodes, ["r", "#0 (Relu)"]);
    }

    #[test]
    fn a_default_domain_op_needs_the_default_domain_declared() {
        let found = foreign_ops(&model(&["com.microsoft"], vec![node("r", "Relu", "")]));
        assert_eq!(found[0].op, "Relu in domain `ai.onnx` (not declared in the model's opset imports)");
    }
}
