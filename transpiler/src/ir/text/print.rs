//! Writing a graph as text.

use std::collections::HashMap;
use std::fmt::Write;

use wdnn_descriptor_spec::DType;
use wdnn_runner_core::Tensor;

use super::attrs;
use crate::ir::{Graph, ValueId};

/// Constants with at most this many elements are printed value by value.
pub const INLINE_VALUES: usize = 16;

/// The text form of `graph`, large constants summarized.
pub fn print(graph: &Graph) -> String {
    Printer::new(graph, INLINE_VALUES).run()
}

/// The text form of `graph` with every constant value written out: [`super::parse`] rebuilds it exactly.
pub fn print_exact(graph: &Graph) -> String {
    Printer::new(graph, usize::MAX).run()
}

/// True when a name can be written without quotes.
pub(super) fn is_bare(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
}

fn name_token(name: &str) -> String {
    if is_bare(name) { name.to_string() } else { format!("{name:?}") }
}

struct Printer<'g> {
    graph: &'g Graph,
    inline: usize,
    out: String,
    /// The reference of every printed value (`%x`, `#w~1`), given in declaration order before printing, so that
    /// a broken graph that reads a value before defining it still prints.
    refs: HashMap<ValueId, String>,
    declared: Vec<bool>,
}

impl<'g> Printer<'g> {
    fn new(graph: &'g Graph, inline: usize) -> Printer<'g> {
        Printer { graph, inline, out: String::new(), refs: HashMap::new(), declared: vec![false; graph.values.len()] }
    }

    /// The reference of `v`; one out of range gets a name no declaration has.
    fn reference(&self, v: ValueId) -> String {
        match self.refs.get(&v) {
            Some(r) => r.clone(),
            None => format!("%\"?{}\"", v.0),
        }
    }

    /// `ref: type` where `v` is declared, the bare reference anywhere else.
    fn declare(&mut self, v: ValueId) -> String {
        let Some(declared) = self.declared.get_mut(v.0 as usize) else { return self.reference(v) };
        if std::mem::replace(declared, true) {
            return self.reference(v);
        }
        let value = self.graph.value(v);
        let dims: Vec<String> = value.shape.iter().map(u64::to_string).collect();
        format!("{}: {}[{}]", self.reference(v), value.dtype, dims.join(","))
    }

    /// The values to print in declaration order: inputs, mentioned constants, values defined nowhere, node outputs.
    fn declaration_order(&self) -> Vec<ValueId> {
        let g = self.graph;
        let n = g.values.len();
        let in_range = |v: &&ValueId| (v.0 as usize) < n;
        let mut mentioned = vec![false; n];
        let all = g.inputs.iter().chain(g.outputs.iter().map(|(_, v)| v));
        let nodes = g.nodes.iter().flat_map(|n| n.inputs.iter().chain(&n.outputs));
        let views = g.views.iter().flat_map(|v| [&v.value, &v.base]);
        all.chain(nodes).chain(views).filter(in_range).for_each(|v| mentioned[v.0 as usize] = true);
        let mut produced = vec![false; n];
        g.nodes.iter().flat_map(|n| &n.outputs).filter(in_range).for_each(|v| produced[v.0 as usize] = true);
        let ids = (0..n as u32).map(ValueId);
        let inputs = g.inputs.iter().copied().filter(|v| in_range(&v));
        let constants = ids.clone().filter(|v| mentioned[v.0 as usize] && g.value(*v).constant.is_some());
        let free = ids.filter(|v| mentioned[v.0 as usize] && !produced[v.0 as usize]);
        let outputs = g.nodes.iter().flat_map(|n| n.outputs.iter().copied()).filter(|v| in_range(&v));
        let mut seen = vec![false; n];
        inputs
            .chain(constants)
            .chain(free)
            .chain(outputs)
            .filter(|v| !std::mem::replace(&mut seen[v.0 as usize], true))
            .collect()
    }

    fn run(mut self) -> String {
        let g = self.graph;
        let order = self.declaration_order();
        let mut names: HashMap<&str, u32> = HashMap::new();
        for &v in &order {
            let value = g.value(v);
            let count = names.entry(value.name.as_str()).or_insert(0);
            let dup = if *count == 0 { String::new() } else { format!("~{count}") };
            *count += 1;
            let sigil = if value.constant.is_some() { '#' } else { '%' };
            self.refs.insert(v, format!("{sigil}{}{dup}", name_token(&value.name)));
        }

        writeln!(self.out, "graph {:?}", g.name).ok();
        for &v in &g.inputs {
            let decl = self.declare(v);
            writeln!(self.out, "input {decl}").ok();
        }
        for &v in &order {
            if self.declared[v.0 as usize] {
                continue;
            }
            if let Some(t) = &g.value(v).constant {
                let decl = self.declare(v);
                let data = self.data(t);
                writeln!(self.out, "const {decl} = {data}").ok();
            }
        }
        let produced: std::collections::HashSet<ValueId> =
            g.nodes.iter().flat_map(|n| n.outputs.iter().copied()).collect();
        for &v in &order {
            if !self.declared[v.0 as usize] && !produced.contains(&v) {
                let decl = self.declare(v);
                writeln!(self.out, "value {decl}").ok();
            }
        }
        for node in &g.nodes {
            let outs: Vec<String> = node.outputs.iter().map(|&o| self.declare(o)).collect();
            let ins: Vec<String> = node.inputs.iter().map(|&i| self.reference(i)).collect();
            let op = attrs::to_attr(&node.op)
                .map(|a| a.to_string())
                .unwrap_or_else(|e| format!("Unknown{{error: {:?}}}", e.0));
            let first_output = node.outputs.first().filter(|o| (o.0 as usize) < g.values.len());
            let named_after_output = first_output.is_some_and(|&o| g.value(o).name == node.name);
            let lhs = if outs.is_empty() { String::new() } else { format!("{} ", outs.join(", ")) };
            write!(self.out, "{lhs}= {op}({})", ins.join(", ")).ok();
            if !named_after_output {
                write!(self.out, " @{}", name_token(&node.name)).ok();
            }
            self.out.push('\n');
        }
        for (name, v) in &g.outputs {
            let r = self.reference(*v);
            writeln!(self.out, "output {name:?} = {r}").ok();
        }
        for view in &g.views {
            let (value, base) = (self.reference(view.value), self.reference(view.base));
            writeln!(self.out, "view {value} in {base} at {}", view.offset).ok();
        }
        self.out
    }

    /// A constant's values: listed, `splat(v)`, or a summary.
    fn data(&self, t: &Tensor) -> String {
        let n = t.numel();
        let size = t.dtype().size();
        let element = |i: usize| element(t.dtype(), &t.bytes()[i * size..(i + 1) * size]);
        if n <= self.inline {
            let values: Vec<String> = (0..n).map(element).collect();
            return format!("[{}]", values.join(", "));
        }
        let first = &t.bytes()[..size];
        if t.bytes().chunks_exact(size).all(|c| c == first) {
            return format!("splat({})", element(0));
        }
        let digest = wdnn_descriptor_spec::sha256_hex(t.bytes());
        format!("<{n} values, sha256 {}>", &digest[..16])
    }
}

/// One element from its little-endian bytes; floats with the shortest digits that read back exactly.
fn element(dtype: DType, b: &[u8]) -> String {
    macro_rules! le {
        ($t:ty) => {
            <$t>::from_le_bytes(b.try_into().unwrap_or_default())
        };
    }
    match dtype {
        DType::F32 => format!("{:?}", le!(f32)),
        DType::F64 => format!("{:?}", le!(f64)),
        DType::F16 => format!("{:?}", half::f16::from_le_bytes(b.try_into().unwrap_or_default()).to_f32()),
        DType::I8 => le!(i8).to_string(),
        DType::I16 => le!(i16).to_string(),
        DType::I32 => le!(i32).to_string(),
        DType::I64 => le!(i64).to_string(),
        DType::U8 => le!(u8).to_string(),
        DType::U16 => le!(u16).to_string(),
        DType::U32 => le!(u32).to_string(),
        DType::U64 => le!(u64).to_string(),
        DType::Bool => (b.first() != Some(&0)).to_string(),
    }
}
