//! wdnn's intermediate representation: a static-shape dataflow graph whose ops are the descriptor's ops.
//!
//! Values and nodes live in arenas and are referred to by typed indices. Nodes are kept in a topological order
//! (every node after the producers of its inputs); passes that remove or insert nodes keep that order. A value is
//! either a graph input, the output of exactly one node, or a constant.
//!
//! Architecture invariant: nothing here knows about ONNX or tract; the importer translates into this IR.

pub mod text;
mod verify;

pub use verify::{VerifyError, verify};

use std::fmt;

use wdnn_descriptor_spec::packing::PackedLayout;
use wdnn_descriptor_spec::{DType, Op, shape};
use wdnn_runner_core::Tensor;

/// Index of a value in [`Graph::values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

/// Index of a node in [`Graph::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// A tensor flowing through the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Name for messages (the ONNX name where there is one).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Static shape.
    pub shape: Vec<u64>,
    /// The value's data when it is a constant (a weight).
    pub constant: Option<Tensor>,
}

impl Value {
    /// Number of elements, saturating at `u64::MAX` (the format's `shape::numel`; an imported shape is untrusted,
    /// and a saturated count fails every size check instead of wrapping).
    pub fn numel(&self) -> u64 {
        shape::numel(&self.shape).unwrap_or(u64::MAX)
    }

    /// Size in bytes, saturating like [`Value::numel`].
    pub fn byte_size(&self) -> u64 {
        shape::byte_size(&self.shape, self.dtype.size()).unwrap_or(u64::MAX)
    }
}

/// An operation applied to values.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Name for messages (the ONNX node name where there is one).
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Input values, in the op's order.
    pub inputs: Vec<ValueId>,
    /// Output values.
    pub outputs: Vec<ValueId>,
}

/// A model in the IR.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// The model's name.
    pub name: String,
    /// Every value.
    pub values: Vec<Value>,
    /// Nodes in topological order.
    pub nodes: Vec<Node>,
    /// The model's inputs, in signature order.
    pub inputs: Vec<ValueId>,
    /// The model's outputs, in signature order, with their names.
    pub outputs: Vec<(String, ValueId)>,
    /// Values that live inside another value's memory (a concat input inside the concat output, an in-place
    /// result over its input). Set by the memory passes, honoured by the planner.
    pub views: Vec<View>,
    /// Constants stored in a backend's packed weight layout (`wdnn_descriptor_spec::packing`), which the kernels
    /// reading them take as input 1. Set by the wasm target's packing passes, read by its code generator; empty
    /// everywhere else.
    pub packed: Vec<Packed>,
}

/// A constant in a packed weight layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The packed constant.
    pub value: ValueId,
    /// Its layout.
    pub layout: PackedLayout,
    /// The shape of the weights it was packed from (`[O, C/G, KH, KW]`, or `[K, N]` for a matrix).
    pub shape: Vec<u64>,
}

/// `value` occupies the bytes of `base` starting `offset` bytes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The value stored inside another.
    pub value: ValueId,
    /// The value whose memory it uses.
    pub base: ValueId,
    /// Byte offset inside `base`.
    pub offset: u64,
}

impl Graph {
    /// An empty graph.
    pub fn new(name: &str) -> Graph {
        Graph { name: name.to_string(), ..Graph::default() }
    }

    /// Adds a non-constant value.
    pub fn add_value(&mut self, name: &str, dtype: DType, shape: &[u64]) -> ValueId {
        self.values.push(Value { name: name.to_string(), dtype, shape: shape.to_vec(), constant: None });
        ValueId(self.values.len() as u32 - 1)
    }

    /// Adds a constant value.
    pub fn add_constant(&mut self, name: &str, tensor: Tensor) -> ValueId {
        self.values.push(Value {
            name: name.to_string(),
            dtype: tensor.dtype(),
            shape: tensor.shape().to_vec(),
            constant: Some(tensor),
        });
        ValueId(self.values.len() as u32 - 1)
    }

    /// Appends a node (after every node already there).
    pub fn add_node(&mut self, name: &str, op: Op, inputs: &[ValueId], outputs: &[ValueId]) -> NodeId {
        self.nodes.push(Node { name: name.to_string(), op, inputs: inputs.to_vec(), outputs: outputs.to_vec() });
        NodeId(self.nodes.len() as u32 - 1)
    }

    /// The value with id `id`.
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.0 as usize]
    }

    /// Mutable access to a value.
    pub fn value_mut(&mut self, id: ValueId) -> &mut Value {
        &mut self.values[id.0 as usize]
    }

    /// The constant data of `id`, if it is a constant.
    pub fn constant(&self, id: ValueId) -> Option<&Tensor> {
        self.value(id).constant.as_ref()
    }

    /// The f32 values of a constant, if `id` is an f32 constant.
    pub fn constant_f32(&self, id: ValueId) -> Option<Vec<f32>> {
        let c = self.constant(id)?;
        if c.dtype() != DType::F32 {
            return None;
        }
        c.to_vec::<f32>().ok()
    }

    /// The value of a one-element f32 constant.
    pub fn scalar_f32(&self, id: ValueId) -> Option<f32> {
        let values = self.constant_f32(id)?;
        (values.len() == 1).then(|| values[0])
    }

    /// How many times `id` is read: by node input slots, plus once if it is a model output.
    pub fn use_count(&self, id: ValueId) -> usize {
        let reads = self.nodes.iter().flat_map(|n| &n.inputs).filter(|&&i| i == id).count();
        reads + usize::from(self.is_output(id))
    }

    /// How constant `id` is packed, if a packing pass stored it in a packed layout.
    pub fn packed(&self, id: ValueId) -> Option<&Packed> {
        self.packed.iter().find(|p| p.value == id)
    }

    /// The packed layout of constant `id`, if a packing pass stored it in one.
    pub fn packed_layout(&self, id: ValueId) -> Option<PackedLayout> {
        self.packed(id).map(|p| p.layout)
    }

    /// True when `id` is a view into another value, or another value is a view into it.
    pub fn in_view(&self, id: ValueId) -> bool {
        self.views.iter().any(|v| v.value == id || v.base == id)
    }

    /// For each value, the node producing it (None for inputs and constants).
    pub fn producers(&self) -> Vec<Option<NodeId>> {
        let mut producers = vec![None; self.values.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for o in &node.outputs {
                producers[o.0 as usize] = Some(NodeId(i as u32));
            }
        }
        producers
    }

    /// For each value, the nodes reading it (a node appears once per input slot).
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut consumers = vec![Vec::new(); self.values.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for v in &node.inputs {
                consumers[v.0 as usize].push(NodeId(i as u32));
            }
        }
        consumers
    }

    /// True when `id` is one of the model's outputs.
    pub fn is_output(&self, id: ValueId) -> bool {
        self.outputs.iter().any(|(_, o)| *o == id)
    }

    /// Replaces every use of `from` (node inputs and model outputs) by `to`.
    pub fn replace_uses(&mut self, from: ValueId, to: ValueId) {
        for node in &mut self.nodes {
            for i in &mut node.inputs {
                if *i == from {
                    *i = to;
                }
            }
        }
        for (_, o) in &mut self.outputs {
            if *o == from {
                *o = to;
            }
        }
    }

    /// Number of nodes per op name, sorted by name.
    pub fn op_census(&self) -> Vec<(String, usize)> {
        self.op_census_where(|_| true)
    }

    /// Number of nodes per op name among the nodes whose index passes `keep`.
    pub fn op_census_where(&self, keep: impl Fn(usize) -> bool) -> Vec<(String, usize)> {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if keep(i) {
                *counts.entry(op_label(&node.op)).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }
}

/// A short label for an op: its name, with the function for unary and binary ops.
pub fn op_label(op: &Op) -> String {
    match op {
        Op::Unary { fun } => format!("{fun:?}").split([' ', '{']).next().unwrap_or("Unary").to_string(),
        Op::Binary { fun } => format!("{fun:?}"),
        Op::Reduce { fun, .. } => format!("Reduce{fun:?}"),
        other => other.name().to_string(),
    }
}

impl fmt::Display for Graph {
    /// The graph's text form ([`text::print`]): values with dtype and shape, constants, every op attribute.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::print(self))
    }
}
