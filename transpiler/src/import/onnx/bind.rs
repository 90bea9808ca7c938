//! Binding symbolic dimensions to numbers in the ONNX protobuf, before tract sees the graph.
//!
//! Exporters repeat an input's symbols (`batch`, `DynamicDimension.0`, `unk__123`, sympy expressions such as
//! `s0 + 1`) in `value_info`, the graph outputs and the `If` / `Loop` / `Scan` bodies. tract turns every one of them
//! into a fact; fixing only the input's fact then leaves `Sym(batch)` inside the graph, which analysis cannot unify
//! with the `1` flowing from the input. So the binding rewrites the model itself:
//!
//! 1. the bindings come from `--dim SYMBOL=N` and from each `--input-shape NAME=D0,...` (the input's `dim_param`s
//!    name the symbols its numbers bind); two different values for one symbol, or a number that disagrees with a
//!    dimension the model fixes, is an error naming the symbol and the input;
//! 2. every shape in every graph — inputs, outputs, `value_info`, subgraphs at any depth — has its bound symbols
//!    (and expressions whose symbols are all bound) replaced by their values;
//! 3. a symbol that no top-level input carries any more is not a free variable of the model but a name an exporter
//!    gave to a derived size; it is dropped to "unknown" wherever it is left, so tract infers it instead of
//!    meeting a symbol it cannot unify with a number.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::pb::{GraphProto, ModelProto, ValueInfoProto};

/// A contradiction or a name that matches nothing, as one sentence naming the symbol, the input and the dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BindError(pub String);

/// Where a symbol's value came from, for the error messages.
#[derive(Debug, Clone)]
enum Origin {
    Dim,
    Input { input: String, axis: usize },
}

impl Origin {
    fn describe(&self, symbol: &str, value: i64) -> String {
        match self {
            Origin::Dim => format!("--dim {symbol}={value}"),
            Origin::Input { input, axis } => format!("input `{input}` dimension {axis} = {value}"),
        }
    }
}

/// Binds `dims` (symbol → value) and `input_shapes` (input → full shape) everywhere in `model`.
pub(super) fn bind(
    model: &mut ModelProto,
    input_shapes: &[(String, Vec<u64>)],
    dims: &[(String, u64)],
) -> Result<(), BindError> {
    let Some(graph) = model.graph.as_mut() else { return Ok(()) };
    let known_symbols = all_symbols(graph);
    let mut bound: BTreeMap<String, (i64, Origin)> = BTreeMap::new();
    for (symbol, value) in dims {
        if !known_symbols.contains(symbol.as_str()) {
            let list: Vec<&str> = known_symbols.iter().map(String::as_str).collect();
            let list = if list.is_empty() { "none".to_string() } else { list.join(", ") };
            return Err(BindError(format!(
                "--dim {symbol}={value}: the model has no symbol `{symbol}` (its symbols: {list})"
            )));
        }
        insert_binding(&mut bound, symbol, to_i64(*value)?, Origin::Dim)?;
    }
    let initializers: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    let sources: Vec<String> =
        graph.input.iter().filter(|i| !initializers.contains(&i.name)).map(|i| i.name.clone()).collect();
    // Symbols named by the given input shapes.
    for (name, shape) in input_shapes {
        let Some(input) = graph.input.iter().find(|i| i.name == *name && !initializers.contains(&i.name)) else {
            return Err(BindError(format!(
                "--input-shape {name}=...: the model has no input `{name}` (its inputs: {})",
                sources.join(", ")
            )));
        };
        if let Some(model_dims) = dims_of(input) {
            if model_dims.len() != shape.len() {
                return Err(BindError(format!(
                    "--input-shape {name}=...: input `{name}` has rank {}, {} dimensions given",
                    model_dims.len(),
                    shape.len()
                )));
            }
            for (axis, (dim, &given)) in model_dims.iter().zip(shape).enumerate() {
                let given = to_i64(given)?;
                match dim {
                    Some(DimValue::DimValue(v)) if *v >= 0 && *v != given => {
                        return Err(BindError(format!(
                            "input `{name}` dimension {axis}: the model fixes it to {v}, --input-shape gives {given}"
                        )));
                    }
                    Some(DimValue::DimParam(p)) if is_identifier(p) => {
                        insert_binding(&mut bound, p, given, Origin::Input { input: name.clone(), axis })?;
                    }
                    _ => {}
                }
            }
        }
    }
    let values: BTreeMap<String, i64> = bound.iter().map(|(k, (v, _))| (k.clone(), *v)).collect();
    // Dimensions that are expressions of bound symbols must agree with the numbers given.
    for (name, shape) in input_shapes {
        let Some(input) = graph.input.iter().find(|i| i.name == *name) else { continue };
        for (axis, (dim, &given)) in dims_of(input).unwrap_or_default().iter().zip(shape).enumerate() {
            if let Some(DimValue::DimParam(p)) = dim
                && !is_identifier(p)
                && let Some(v) = eval(p, &values)
                && v != given as i64
            {
                return Err(BindError(format!(
                    "input `{name}` dimension {axis} is `{p}` = {v} with the symbols bound, --input-shape gives {given}"
                )));
            }
        }
    }
    // The inputs take the given shapes exactly; then every shape in the model loses its bound symbols.
    for (name, shape) in input_shapes {
        if let Some(input) = graph.input.iter_mut().find(|i| i.name == *name) {
            set_shape(input, shape);
        }
    }
    substitute_graph(graph, &values);
    // What the top-level inputs still carry are the model's free symbols; every other one is derived.
    let free: BTreeSet<String> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(&i.name))
        .flat_map(|i| dims_of(i).unwrap_or_default())
        .filter_map(|d| match d {
            Some(DimValue::DimParam(p)) => Some(p),
            _ => None,
        })
        .flat_map(|p| identifiers(&p))
        .collect();
    let keep = |p: &str| identifiers(p).iter().all(|s| free.contains(s));
    clear_derived(graph, &keep);
    Ok(())
}

fn to_i64(v: u64) -> Result<i64, BindError> {
    i64::try_from(v).map_err(|_| BindError(format!("dimension {v} is too large")))
}

fn insert_binding(
    bound: &mut BTreeMap<String, (i64, Origin)>,
    symbol: &str,
    value: i64,
    origin: Origin,
) -> Result<(), BindError> {
    if let Some((old, old_origin)) = bound.get(symbol) {
        if *old != value {
            return Err(BindError(format!(
                "symbol `{symbol}` is bound twice: {} but {}",
                old_origin.describe(symbol, *old),
                origin.describe(symbol, value)
            )));
        }
        return Ok(());
    }
    bound.insert(symbol.to_string(), (value, origin));
    Ok(())
}

/// The dims of a tensor-typed value, None when the type or shape is absent.
fn dims_of(info: &ValueInfoProto) -> Option<Vec<Option<DimValue>>> {
    let TypeValue::TensorType(t) = info.r#type.as_ref()?.value.as_ref()?;
    Some(t.shape.as_ref()?.dim.iter().map(|d| d.value.clone()).collect())
}

fn set_shape(info: &mut ValueInfoProto, shape: &[u64]) {
    let Some(TypeValue::TensorType(t)) = info.r#type.as_mut().and_then(|t| t.value.as_mut()) else { return };
    let dims = &mut t.shape.get_or_insert_with(Default::default).dim;
    dims.resize_with(shape.len(), Default::default);
    for (dim, &v) in dims.iter_mut().zip(shape) {
        dim.value = Some(DimValue::DimValue(v as i64));
    }
}

/// Every `ValueInfoProto` of `graph` and its subgraphs, with whether it is a top-level input of `graph`.
fn for_each_info(graph: &mut GraphProto, f: &mut dyn FnMut(&mut ValueInfoProto, bool)) {
    for info in &mut graph.input {
        f(info, true);
    }
    for info in graph.output.iter_mut().chain(graph.value_info.iter_mut()) {
        f(info, false);
    }
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            for sub in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                // A body's inputs are values inside the model, not free inputs of it.
                for_each_info(sub, &mut |info, _| f(info, false));
            }
        }
    }
}

fn for_each_dim(graph: &mut GraphProto, f: &mut dyn FnMut(&mut Option<DimValue>, bool)) {
    for_each_info(graph, &mut |info, top_input| {
        if let Some(TypeValue::TensorType(t)) = info.r#type.as_mut().and_then(|t| t.value.as_mut())
            && let Some(shape) = t.shape.as_mut()
        {
            for d in &mut shape.dim {
                f(&mut d.value, top_input);
            }
        }
    });
}

/// Every symbol any shape of `graph` or its subgraphs mentions.
fn all_symbols(graph: &GraphProto) -> BTreeSet<String> {
    let mut symbols = BTreeSet::new();
    for info in graph.input.iter().chain(&graph.output).chain(&graph.value_info) {
        for d in dims_of(info).unwrap_or_default() {
            if let Some(DimValue::DimParam(p)) = d {
                symbols.extend(identifiers(&p));
            }
        }
    }
    for node in &graph.node {
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                symbols.extend(all_symbols(sub));
            }
        }
    }
    symbols
}

/// Replaces symbols and expressions whose symbols are all bound by their values.
fn substitute_graph(graph: &mut GraphProto, values: &BTreeMap<String, i64>) {
    for_each_dim(graph, &mut |d, _| {
        if let Some(DimValue::DimParam(p)) = d
            && let Some(v) = eval(p, values)
        {
            *d = Some(DimValue::DimValue(v));
        }
    });
}

/// Makes unknown every symbolic dimension outside the top-level inputs that `keep` rejects.
fn clear_derived(graph: &mut GraphProto, keep: &dyn Fn(&str) -> bool) {
    for_each_dim(graph, &mut |d, top_input| {
        if !top_input
            && let Some(DimValue::DimParam(p)) = d
            && !keep(p)
        {
            *d = None;
        }
    });
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && !FUNCTIONS.contains(&s.to_ascii_lowercase().as_str())
}

/// Function names the expression reader knows (sympy's and ONNX shape inference's spellings, case-insensitive).
const FUNCTIONS: &[&str] = &["floor", "ceil", "ceiling", "max", "min", "mod", "floordiv", "ceiltoint", "floortoint"];

/// The symbols an expression mentions.
fn identifiers(expr: &str) -> Vec<String> {
    match tokenize(expr) {
        Some(tokens) => tokens
            .into_iter()
            .filter_map(|t| match t {
                Token::Ident(s) if !FUNCTIONS.contains(&s.to_ascii_lowercase().as_str()) => Some(s),
                _ => None,
            })
            .collect(),
        // Not an expression we read: the whole string is one (strange) symbol name.
        None => vec![expr.to_string()],
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(i128),
    Ident(String),
    Op(&'static str),
}

fn tokenize(s: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Token::Num(chars[start..i].iter().collect::<String>().parse().ok()?));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = match two.as_str() {
                "//" => "//",
                "**" => "**",
                _ => match c {
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    '%' => "%",
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    _ => return None,
                },
            };
            i += op.len();
            out.push(Token::Op(op));
        }
    }
    Some(out)
}

/// A rational number, so that `s0/2*2` reads as sympy means it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Q(i128, i128);

impl Q {
    fn new(n: i128, d: i128) -> Option<Q> {
        if d == 0 {
            return None;
        }
        let g = gcd(n.abs(), d.abs()).max(1);
        let s = if d < 0 { -1 } else { 1 };
        Some(Q(s * n / g, s * d / g))
    }
    fn floor(self) -> i128 {
        self.0.div_euclid(self.1)
    }
    fn ceil(self) -> i128 {
        -(-self.0).div_euclid(self.1)
    }
    fn less_than(self, o: Q) -> bool {
        self.0 * o.1 < o.0 * self.1
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Evaluates a dimension expression with every symbol bound; None when a symbol is unbound or it is no integer.
fn eval(expr: &str, values: &BTreeMap<String, i64>) -> Option<i64> {
    let tokens = tokenize(expr)?;
    let mut p = Parser { tokens: &tokens, pos: 0, values };
    let q = p.sum()?;
    if p.pos != tokens.len() || q.1 != 1 {
        return None;
    }
    i64::try_from(q.0).ok()
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    values: &'a BTreeMap<String, i64>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn eat(&mut self, op: &'static str) -> bool {
        let hit = self.peek() == Some(&Token::Op(op));
        self.pos += usize::from(hit);
        hit
    }
    fn sum(&mut self) -> Option<Q> {
        let mut acc = self.product()?;
        loop {
            if self.eat("+") {
                let r = self.product()?;
                acc = Q::new(acc.0 * r.1 + r.0 * acc.1, acc.1 * r.1)?;
            } else if self.eat("-") {
                let r = self.product()?;
                acc = Q::new(acc.0 * r.1 - r.0 * acc.1, acc.1 * r.1)?;
            } else {
                return Some(acc);
            }
        }
    }
    fn product(&mut self) -> Option<Q> {
        let mut acc = self.unary()?;
        loop {
            if self.eat("*") {
                let r = self.unary()?;
                acc = Q::new(acc.0 * r.0, acc.1 * r.1)?;
            } else if self.eat("//") {
                let r = self.unary()?;
                acc = Q::new(Q::new(acc.0 * r.1, acc.1 * r.0)?.floor(), 1)?;
            } else if self.eat("/") {
                let r = self.unary()?;
                acc = Q::new(acc.0 * r.1, acc.1 * r.0)?;
            } else if self.eat("%") {
                let (a, b) = (acc, self.unary()?);
                if a.1 != 1 || b.1 != 1 || b.0 == 0 {
                    return None;
                }
                acc = Q::new(a.0.rem_euclid(b.0), 1)?;
            } else {
                return Some(acc);
            }
        }
    }
    fn unary(&mut self) -> Option<Q> {
        if self.eat("-") {
            let v = self.unary()?;
            return Q::new(-v.0, v.1);
        }
        if self.eat("+") {
            return self.unary();
        }
        let base = self.atom()?;
        if self.eat("**") {
            let e = self.unary()?;
            if e.1 != 1 || !(0..=62).contains(&e.0) {
                return None;
            }
            let e = e.0 as u32;
            return Q::new(base.0.checked_pow(e)?, base.1.checked_pow(e)?);
        }
        Some(base)
    }
    fn atom(&mut self) -> Option<Q> {
        match self.peek()?.clone() {
            Token::Num(n) => {
                self.pos += 1;
                Q::new(n, 1)
            }
            Token::Op("(") => {
                self.pos += 1;
                let v = self.sum()?;
                self.eat(")").then_some(v)
            }
            Token::Ident(name) => {
                self.pos += 1;
                let f = name.to_ascii_lowercase();
                if FUNCTIONS.contains(&f.as_str()) {
                    if !self.eat("(") {
                        return None;
                    }
                    let mut args = vec![self.sum()?];
                    while self.eat(",") {
                        args.push(self.sum()?);
                    }
                    if !self.eat(")") {
                        return None;
                    }
                    apply(&f, &args)
                } else {
                    Q::new(i128::from(*self.values.get(&name)?), 1)
                }
            }
            Token::Op(_) => None,
        }
    }
}

fn apply(f: &str, args: &[Q]) -> Option<Q> {
    match (f, args) {
        ("floor" | "floortoint", [a]) => Q::new(a.floor(), 1),
        ("ceil" | "ceiling" | "ceiltoint", [a]) => Q::new(a.ceil(), 1),
        ("floordiv", [a, b]) => Q::new(Q::new(a.0 * b.1, a.1 * b.0)?.floor(), 1),
        ("mod", [a, b]) if a.1 == 1 && b.1 == 1 && b.0 != 0 => Q::new(a.0.rem_euclid(b.0), 1),
        ("max", [first, rest @ ..]) => Some(rest.iter().fold(*first, |m, &x| if m.less_than(x) { x } else { m })),
        ("min", [first, rest @ ..]) => Some(rest.iter().fold(*first, |m, &x| if x.less_than(m) { x } else { m })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::tensor_shape_proto::Dimension;
    use tract_onnx::pb::{AttributeProto, NodeProto, TensorShapeProto, TypeProto, type_proto};

    fn dim(s: &str) -> Dimension {
        let value = match s.parse::<i64>() {
            Ok(v) => Some(DimValue::DimValue(v)),
            Err(_) if s.is_empty() => None,
            Err(_) => Some(DimValue::DimParam(s.to_string())),
        };
        Dimension { value, ..Default::default() }
    }

    fn info(name: &str, dims: &[&str]) -> ValueInfoProto {
        let shape = TensorShapeProto { dim: dims.iter().map(|d| dim(d)).collect() };
        let tensor = type_proto::Tensor { elem_type: 1, shape: Some(shape) };
        ValueInfoProto {
            name: name.to_string(),
            r#type: Some(TypeProto { value: Some(TypeValue::TensorType(tensor)), ..Default::default() }),
            ..Default::default()
        }
    }

    fn shape(info: &ValueInfoProto) -> Vec<String> {
        dims_of(info)
            .unwrap()
            .into_iter()
            .map(|d| match d {
                Some(DimValue::DimValue(v)) => v.to_string(),
                Some(DimValue::DimParam(p)) => p,
                None => "?".to_string(),
            })
            .collect()
    }

    /// A graph as exporters write it: symbols on the inputs, repeated in value_info, outputs and an If body.
    fn model() -> ModelProto {
        let body = GraphProto {
            output: vec![info("then_out", &["batch", "2*sequence"])],
            value_info: vec![info("then_tmp", &["batch", "unk__7"])],
            ..Default::default()
        };
        let node = NodeProto {
            op_type: "If".into(),
            name: "the_if".into(),
            attribute: vec![AttributeProto { name: "then_branch".into(), g: Some(body), ..Default::default() }],
            ..Default::default()
        };
        let graph = GraphProto {
            input: vec![
                info("ids", &["batch", "sequence"]),
                info("mask", &["batch", "sequence"]),
                info("x", &["", "3"]),
            ],
            output: vec![info("y", &["batch", "sequence + 1"])],
            value_info: vec![info("v", &["batch", "s0", "floor(sequence/2)"])],
            node: vec![node],
            ..Default::default()
        };
        ModelProto { graph: Some(graph), ..Default::default() }
    }

    fn body(m: &ModelProto) -> &GraphProto {
        m.graph.as_ref().unwrap().node[0].attribute[0].g.as_ref().unwrap()
    }

    #[test]
    fn input_shapes_bind_symbols_everywhere() {
        let mut m = model();
        let shapes = [("ids".to_string(), vec![2, 16]), ("x".to_string(), vec![5, 3])];
        bind(&mut m, &shapes, &[]).unwrap();
        let g = m.graph.as_ref().unwrap();
        assert_eq!(shape(&g.input[0]), ["2", "16"]);
        assert_eq!(shape(&g.input[1]), ["2", "16"], "mask shares ids' symbols");
        assert_eq!(shape(&g.input[2]), ["5", "3"]);
        assert_eq!(shape(&g.output[0]), ["2", "17"]);
        assert_eq!(shape(&g.value_info[0]), ["2", "?", "8"], "s0 is derived: left to inference");
        assert_eq!(shape(&body(&m).output[0]), ["2", "32"]);
        assert_eq!(shape(&body(&m).value_info[0]), ["2", "?"]);
    }

    #[test]
    fn dims_bind_by_symbol_and_keep_the_free_ones() {
        let mut m = model();
        bind(&mut m, &[], &[("batch".to_string(), 4)]).unwrap();
        let g = m.graph.as_ref().unwrap();
        assert_eq!(shape(&g.input[0]), ["4", "sequence"]);
        assert_eq!(shape(&g.output[0]), ["4", "sequence + 1"], "sequence is still a free symbol");
        assert_eq!(shape(&body(&m).output[0]), ["4", "2*sequence"]);
    }

    #[test]
    fn contradictions_name_symbol_and_inputs() {
        let mut m = model();
        let shapes = [("ids".to_string(), vec![2, 16]), ("mask".to_string(), vec![3, 16])];
        let err = bind(&mut m, &shapes, &[]).unwrap_err().0;
        assert!(err.contains("`batch`") && err.contains("`ids`") && err.contains("`mask`"), "{err}");

        let err = bind(&mut model(), &[("ids".to_string(), vec![2, 16])], &[("batch".to_string(), 1)]).unwrap_err().0;
        assert!(err.contains("--dim batch=1") && err.contains("input `ids` dimension 0 = 2"), "{err}");

        let err = bind(&mut model(), &[("x".to_string(), vec![1, 4])], &[]).unwrap_err().0;
        assert!(err.contains("input `x` dimension 1") && err.contains("fixes it to 3"), "{err}");

        let err = bind(&mut model(), &[], &[("height".to_string(), 4)]).unwrap_err().0;
        assert!(err.contains("no symbol `height`") && err.contains("batch"), "{err}");

        let err = bind(&mut model(), &[("nope".to_string(), vec![1])], &[]).unwrap_err().0;
        assert!(err.contains("no input `nope`") && err.contains("ids, mask, x"), "{err}");

        let err = bind(&mut model(), &[("ids".to_string(), vec![1])], &[]).unwrap_err().0;
        assert!(err.contains("rank 2"), "{err}");
    }

    #[test]
    fn expressions() {
        let v: BTreeMap<String, i64> = [("s0".to_string(), 7), ("DynamicDimension.0".to_string(), 3)].into();
        assert_eq!(eval("s0 + 1", &v), Some(8));
        assert_eq!(eval("2*s0 - 4", &v), Some(10));
        assert_eq!(eval("floor(s0/2)", &v), Some(3));
        assert_eq!(eval("s0//2", &v), Some(3));
        assert_eq!(eval("ceil(s0/2)", &v), Some(4));
        assert_eq!(eval("s0/2", &v), None, "7/2 is no dimension");
        assert_eq!(eval("Max(1, s0 - 10)", &v), Some(1));
        assert_eq!(eval("DynamicDimension.0 * (s0 % 4)", &v), Some(9));
        assert_eq!(eval("s1 + 1", &v), None);
        assert_eq!(identifiers("Max(1, s0 - s1)"), ["s0", "s1"]);
        assert!(is_identifier("unk__123") && is_identifier("DynamicDimension.0") && !is_identifier("s0+1"));
    }
}
