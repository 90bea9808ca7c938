//! Reading a graph from its text form. Errors name the line.

use std::collections::HashMap;

use wdnn_descriptor_spec::{DType, Op};
use wdnn_runner_core::Tensor;

use super::attrs::{self, Attr};
use crate::ir::{Graph, Node, Value, ValueId, View};

/// Text that is not a graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads a graph written by [`super::print`] (or by hand in the same form).
pub fn parse(text: &str) -> Result<Graph, ParseError> {
    let tokens = lex(text)?;
    let statements = Parser { tokens, pos: 0 }.statements()?;
    build(statements)
}

/// The most elements a constant may have: text is for small graphs.
const MAX_ELEMENTS: u64 = 1 << 26;

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { line, message: message.into() })
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

/// `%name~dup` or `#name~dup`: a value reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Ref {
    constant: bool,
    name: String,
    dup: u32,
}

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sigil = if self.constant { '#' } else { '%' };
        let name = if super::print::is_bare(&self.name) { self.name.clone() } else { format!("{:?}", self.name) };
        let dup = if self.dup == 0 { String::new() } else { format!("~{}", self.dup) };
        write!(f, "{sigil}{name}{dup}")
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ref(Ref),
    /// `@name`.
    NodeName(String),
    Ident(String),
    Str(String),
    Num(String),
    Punct(char),
    Newline,
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ref(r) => write!(f, "`{r}`"),
            Tok::NodeName(n) => write!(f, "`@{n}`"),
            Tok::Ident(s) | Tok::Num(s) => write!(f, "`{s}`"),
            Tok::Str(s) => write!(f, "{s:?}"),
            Tok::Punct(c) => write!(f, "`{c}`"),
            Tok::Newline => f.write_str("the end of the line"),
        }
    }
}

struct Token {
    tok: Tok,
    line: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut depth) = (0, 1, 0usize);
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-');
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        let push = |tokens: &mut Vec<Token>, tok| tokens.push(Token { tok, line: start_line });
        match c {
            '\n' => {
                if depth == 0 && !matches!(tokens.last(), Some(Token { tok: Tok::Newline, .. }) | None) {
                    push(&mut tokens, Tok::Newline);
                }
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '"' => {
                let (s, next) = string(&chars, i, line)?;
                push(&mut tokens, Tok::Str(s));
                i = next;
            }
            '%' | '#' | '@' => {
                i += 1;
                let name = if chars.get(i) == Some(&'"') {
                    let (s, next) = string(&chars, i, line)?;
                    i = next;
                    s
                } else {
                    let start = i;
                    while i < chars.len() && bare(chars[i]) {
                        i += 1;
                    }
                    if start == i {
                        return err(line, format!("`{c}` must be followed by a name"));
                    }
                    chars[start..i].iter().collect()
                };
                if c == '@' {
                    push(&mut tokens, Tok::NodeName(name));
                    continue;
                }
                let mut dup = 0;
                if chars.get(i) == Some(&'~') {
                    let start = i + 1;
                    i = start;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    let digits: String = chars[start..i].iter().collect();
                    dup = digits.parse().or_else(|_| err(line, format!("`~` after `{c}{name}` needs a number")))?;
                }
                push(&mut tokens, Tok::Ref(Ref { constant: c == '#', name, dup }));
            }
            c if c.is_ascii_digit()
                || (matches!(c, '-' | '+')
                    && chars.get(i + 1).is_some_and(|&n| n.is_ascii_digit() || matches!(n, '.' | 'i' | 'N'))) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() {
                    let n = chars[i];
                    let exponent_sign = matches!(n, '+' | '-') && matches!(chars[i - 1], 'e' | 'E');
                    if !(n.is_ascii_alphanumeric() || n == '.' || exponent_sign) {
                        break;
                    }
                    i += 1;
                }
                push(&mut tokens, Tok::Num(chars[start..i].iter().collect()));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                push(&mut tokens, Tok::Ident(chars[start..i].iter().collect()));
            }
            '(' | '[' | '{' => {
                depth += 1;
                push(&mut tokens, Tok::Punct(c));
                i += 1;
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                push(&mut tokens, Tok::Punct(c));
                i += 1;
            }
            ':' | '=' | ',' | '<' | '>' => {
                push(&mut tokens, Tok::Punct(c));
                i += 1;
            }
            other => return err(line, format!("unexpected character {other:?}")),
        }
    }
    if !matches!(tokens.last(), Some(Token { tok: Tok::Newline, .. }) | None) {
        tokens.push(Token { tok: Tok::Newline, line });
    }
    Ok(tokens)
}

/// A quoted string starting at `chars[start]` (Rust escapes); returns it and the index after the closing quote.
fn string(chars: &[char], start: usize, line: usize) -> Result<(String, usize), ParseError> {
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None | Some('\n') => return err(line, "unterminated string"),
            Some('"') => return Ok((s, i + 1)),
            Some('\\') => {
                let escaped = match chars.get(i + 1) {
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('0') => '\0',
                    Some(&c @ ('\\' | '"' | '\'')) => c,
                    Some('u') if chars.get(i + 2) == Some(&'{') => {
                        let close = (i + 3..chars.len()).find(|&k| chars[k] == '}');
                        let code = close.and_then(|k| {
                            let hex: String = chars[i + 3..k].iter().collect();
                            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).map(|c| (c, k))
                        });
                        let Some((c, k)) = code else { return err(line, "bad `\\u{…}` escape") };
                        s.push(c);
                        i = k + 1;
                        continue;
                    }
                    _ => return err(line, "unknown escape in string"),
                };
                s.push(escaped);
                i += 2;
            }
            Some(&c) => {
                s.push(c);
                i += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Statements

type Type = (DType, Vec<u64>);

enum Data {
    List(Vec<String>),
    Splat(String),
}

enum Statement {
    Graph(String),
    Input(Ref, Type),
    Const(Ref, Type, Data),
    Value(Ref, Type),
    Node { outputs: Vec<(Ref, Option<Type>)>, op: Attr, inputs: Vec<Ref>, name: Option<String> },
    Output(String, Ref),
    View { value: Ref, base: Ref, offset: u64 },
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Newline, |t| &t.tok)
    }

    fn line(&self) -> usize {
        self.tokens.get(self.pos).or(self.tokens.last()).map_or(1, |t| t.line)
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        self.pos += 1;
        tok
    }

    fn unexpected<T>(&self, wanted: &str) -> Result<T, ParseError> {
        err(self.line(), format!("expected {wanted}, found {}", self.peek()))
    }

    fn punct(&mut self, c: char) -> Result<(), ParseError> {
        if *self.peek() == Tok::Punct(c) {
            self.pos += 1;
            Ok(())
        } else {
            self.unexpected(&format!("`{c}`"))
        }
    }

    fn eat(&mut self, c: char) -> bool {
        let found = *self.peek() == Tok::Punct(c);
        self.pos += usize::from(found);
        found
    }

    fn keyword(&mut self, word: &str) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Ident(w) if w == word => {
                self.pos += 1;
                Ok(())
            }
            _ => self.unexpected(&format!("`{word}`")),
        }
    }

    fn reference(&mut self) -> Result<Ref, ParseError> {
        match self.next() {
            Tok::Ref(r) => Ok(r),
            _ => {
                self.pos -= 1;
                self.unexpected("a value (`%name` or `#name`)")
            }
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Tok::Str(s) => Ok(s),
            _ => {
                self.pos -= 1;
                self.unexpected("a quoted name")
            }
        }
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, ParseError> {
        match self.peek() {
            Tok::Num(n) => match n.parse() {
                Ok(v) => {
                    self.pos += 1;
                    Ok(v)
                }
                Err(_) => err(self.line(), format!("`{n}` is not a valid {what}")),
            },
            _ => self.unexpected(what),
        }
    }

    /// `f32[1,2,3]`.
    fn ty(&mut self) -> Result<Type, ParseError> {
        let dtype = match self.next() {
            Tok::Ident(name) => attrs::from_attr::<DType>(&Attr::Str(name.clone()))
                .or_else(|_| err(self.line(), format!("unknown dtype `{name}`")))?,
            _ => {
                self.pos -= 1;
                return self.unexpected("a dtype");
            }
        };
        self.punct('[')?;
        let mut shape = Vec::new();
        while !self.eat(']') {
            shape.push(self.number("dimension")?);
            if !self.eat(',') {
                self.punct(']')?;
                break;
            }
        }
        Ok((dtype, shape))
    }

    fn declaration(&mut self) -> Result<(Ref, Type), ParseError> {
        let r = self.reference()?;
        self.punct(':')?;
        Ok((r, self.ty()?))
    }

    fn end_of_statement(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Newline => {
                self.pos += 1;
                Ok(())
            }
            _ => self.unexpected("the end of the line"),
        }
    }

    fn statements(mut self) -> Result<Vec<(usize, Statement)>, ParseError> {
        let mut statements = Vec::new();
        while self.pos < self.tokens.len() {
            if *self.peek() == Tok::Newline {
                self.pos += 1;
                continue;
            }
            let line = self.line();
            let statement = self.statement()?;
            self.end_of_statement()?;
            statements.push((line, statement));
        }
        Ok(statements)
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        let word = match self.peek() {
            Tok::Ident(w) => w.clone(),
            Tok::Ref(_) | Tok::Punct('=') => return self.node(),
            _ => return self.unexpected("a statement (graph, input, const, value, output, view or a node)"),
        };
        self.pos += 1;
        match word.as_str() {
            "graph" => Ok(Statement::Graph(self.string()?)),
            "input" => {
                let (r, ty) = self.declaration()?;
                Ok(Statement::Input(r, ty))
            }
            "value" => {
                let (r, ty) = self.declaration()?;
                Ok(Statement::Value(r, ty))
            }
            "const" => {
                let (r, ty) = self.declaration()?;
                self.punct('=')?;
                let data = self.data(&r)?;
                Ok(Statement::Const(r, ty, data))
            }
            "output" => {
                let name = self.string()?;
                self.punct('=')?;
                Ok(Statement::Output(name, self.reference()?))
            }
            "view" => {
                let value = self.reference()?;
                self.keyword("in")?;
                let base = self.reference()?;
                self.keyword("at")?;
                Ok(Statement::View { value, base, offset: self.number("byte offset")? })
            }
            other => {
                self.pos -= 1;
                err(self.line(), format!("unknown statement `{other}`"))
            }
        }
    }

    /// A constant's values: `[a, b, …]` or `splat(v)`.
    fn data(&mut self, r: &Ref) -> Result<Data, ParseError> {
        match self.peek() {
            Tok::Punct('[') => {
                self.pos += 1;
                let mut values = Vec::new();
                while !self.eat(']') {
                    values.push(self.element()?);
                    if !self.eat(',') {
                        self.punct(']')?;
                        break;
                    }
                }
                Ok(Data::List(values))
            }
            Tok::Ident(w) if w == "splat" => {
                self.pos += 1;
                self.punct('(')?;
                let v = self.element()?;
                self.punct(')')?;
                Ok(Data::Splat(v))
            }
            Tok::Punct('<') => err(
                self.line(),
                format!("constant `{r}` shows only a summary of its values: write them out (`[…]`) or use `splat(v)`"),
            ),
            _ => self.unexpected("the constant's values (`[…]` or `splat(v)`)"),
        }
    }

    fn element(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Tok::Num(n) | Tok::Ident(n) => Ok(n),
            _ => {
                self.pos -= 1;
                self.unexpected("a value")
            }
        }
    }

    /// `%a: f32[2], %b = Op{…}(%x, #c) @name`.
    fn node(&mut self) -> Result<Statement, ParseError> {
        let mut outputs = Vec::new();
        if *self.peek() != Tok::Punct('=') {
            loop {
                let r = self.reference()?;
                let ty = if self.eat(':') { Some(self.ty()?) } else { None };
                outputs.push((r, ty));
                if !self.eat(',') {
                    break;
                }
            }
        }
        self.punct('=')?;
        let op = self.attr()?;
        self.punct('(')?;
        let mut inputs = Vec::new();
        while !self.eat(')') {
            inputs.push(self.reference()?);
            if !self.eat(',') {
                self.punct(')')?;
                break;
            }
        }
        let name = match self.peek() {
            Tok::NodeName(n) => {
                let n = n.clone();
                self.pos += 1;
                Some(n)
            }
            _ => None,
        };
        Ok(Statement::Node { outputs, op, inputs, name })
    }

    /// An attribute value (see `attrs`).
    fn attr(&mut self) -> Result<Attr, ParseError> {
        match self.next() {
            Tok::Num(n) => Ok(Attr::Num(n)),
            Tok::Str(s) => Ok(Attr::Str(s)),
            Tok::Ident(w) => Ok(match w.as_str() {
                "true" => Attr::Bool(true),
                "false" => Attr::Bool(false),
                "inf" | "NaN" => Attr::Num(w),
                _ if *self.peek() == Tok::Punct('{') => {
                    self.pos += 1;
                    Attr::Tagged(w, self.fields()?)
                }
                _ => Attr::Tagged(w, vec![]),
            }),
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.attr()?);
                    if !self.eat(',') {
                        self.punct(']')?;
                        break;
                    }
                }
                Ok(Attr::Seq(items))
            }
            Tok::Punct('{') => Ok(Attr::Map(self.fields()?)),
            Tok::Punct('(') => {
                self.punct(')')?;
                Ok(Attr::Unit)
            }
            _ => {
                self.pos -= 1;
                self.unexpected("an attribute value")
            }
        }
    }

    /// `key: value, …}` (after the opening brace).
    fn fields(&mut self) -> Result<Vec<(String, Attr)>, ParseError> {
        let mut fields = Vec::new();
        while !self.eat('}') {
            let key = match self.next() {
                Tok::Ident(k) | Tok::Str(k) => k,
                _ => {
                    self.pos -= 1;
                    return self.unexpected("a field name");
                }
            };
            self.punct(':')?;
            fields.push((key, self.attr()?));
            if !self.eat(',') {
                self.punct('}')?;
                break;
            }
        }
        Ok(fields)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The graph

fn build(statements: Vec<(usize, Statement)>) -> Result<Graph, ParseError> {
    let mut graph = Graph::default();
    let mut ids: HashMap<(String, u32), (ValueId, usize)> = HashMap::new();
    let mut declare = |graph: &mut Graph, line: usize, r: &Ref, (dtype, shape): Type, constant: Option<Tensor>| {
        let key = (r.name.clone(), r.dup);
        if let Some((_, first)) = ids.get(&key) {
            return err(line, format!("`{r}` is declared twice (first on line {first})"));
        }
        if r.constant != constant.is_some() {
            let what =
                if constant.is_some() { "a `const`, so it takes a `#`" } else { "not a `const`, so it takes a `%`" };
            return err(line, format!("`{r}` is {what}"));
        }
        graph.values.push(Value { name: r.name.clone(), dtype, shape, constant });
        let id = ValueId(graph.values.len() as u32 - 1);
        ids.insert(key, (id, line));
        Ok(id)
    };
    // Declarations first, in text order, so that a reference may come before its declaration (a broken graph).
    let mut node_outputs = Vec::new();
    for (line, statement) in &statements {
        let line = *line;
        match statement {
            Statement::Input(r, ty) | Statement::Value(r, ty) => {
                let id = declare(&mut graph, line, r, ty.clone(), None)?;
                if matches!(statement, Statement::Input(..)) {
                    graph.inputs.push(id);
                }
            }
            Statement::Const(r, ty, data) => {
                let tensor = tensor(ty, data).or_else(|e| err(line, format!("constant `{r}`: {e}")))?;
                declare(&mut graph, line, r, ty.clone(), Some(tensor))?;
            }
            Statement::Node { outputs, .. } => {
                let mut declared = Vec::new();
                for (r, ty) in outputs {
                    declared.push(match ty {
                        Some(ty) => Some(declare(&mut graph, line, r, ty.clone(), None)?),
                        None => None,
                    });
                }
                node_outputs.push(declared);
            }
            Statement::Graph(_) | Statement::Output(..) | Statement::View { .. } => {}
        }
    }
    let resolve = |line: usize, r: &Ref, graph: &Graph| -> Result<ValueId, ParseError> {
        let Some(&(id, _)) = ids.get(&(r.name.clone(), r.dup)) else {
            return err(line, format!("`{r}` is not declared"));
        };
        if graph.value(id).constant.is_some() != r.constant {
            let sigil = if r.constant { "`#` but is not a constant" } else { "`%` but is a constant" };
            return err(line, format!("`{r}` is written with {sigil}"));
        }
        Ok(id)
    };
    let mut node_outputs = node_outputs.into_iter();
    let mut named = false;
    for (line, statement) in statements {
        match statement {
            Statement::Graph(name) => {
                if std::mem::replace(&mut named, true) {
                    return err(line, "a second `graph` line");
                }
                graph.name = name;
            }
            Statement::Node { outputs, op, inputs, name } => {
                let declared = node_outputs.next().unwrap_or_default();
                let outputs = outputs
                    .iter()
                    .zip(declared)
                    .map(|((r, _), id)| id.map_or_else(|| resolve(line, r, &graph), Ok))
                    .collect::<Result<Vec<_>, _>>()?;
                let inputs = inputs.iter().map(|r| resolve(line, r, &graph)).collect::<Result<Vec<_>, _>>()?;
                let op: Op = attrs::from_attr(&op).or_else(|e| err(line, format!("op `{op}`: {e}")))?;
                let name =
                    name.unwrap_or_else(|| outputs.first().map(|&o| graph.value(o).name.clone()).unwrap_or_default());
                graph.nodes.push(Node { name, op, inputs, outputs });
            }
            Statement::Output(name, r) => {
                let id = resolve(line, &r, &graph)?;
                graph.outputs.push((name, id));
            }
            Statement::View { value, base, offset } => {
                let (value, base) = (resolve(line, &value, &graph)?, resolve(line, &base, &graph)?);
                graph.views.push(View { value, base, offset });
            }
            Statement::Input(..) | Statement::Value(..) | Statement::Const(..) => {}
        }
    }
    Ok(graph)
}

/// A constant of type `ty` holding `data`.
fn tensor((dtype, shape): &Type, data: &Data) -> Result<Tensor, String> {
    let numel = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d)).filter(|&n| n <= MAX_ELEMENTS);
    let numel = numel.ok_or_else(|| format!("shape {shape:?} is too large for the text form"))? as usize;
    let values: Vec<&str> = match data {
        Data::List(values) if values.len() == numel => values.iter().map(String::as_str).collect(),
        Data::List(values) => return Err(format!("{} values for shape {shape:?} ({numel} elements)", values.len())),
        Data::Splat(v) => vec![v.as_str(); numel],
    };
    let bad = |v: &str| format!("`{v}` is not a {dtype} value");
    macro_rules! typed {
        ($t:ty) => {{
            let parsed = values.iter().map(|v| v.parse::<$t>().map_err(|_| bad(v))).collect::<Result<Vec<$t>, _>>()?;
            Tensor::new(shape, &parsed)
        }};
    }
    let tensor = match dtype {
        DType::F32 => typed!(f32),
        DType::F64 => typed!(f64),
        DType::I8 => typed!(i8),
        DType::I16 => typed!(i16),
        DType::I32 => typed!(i32),
        DType::I64 => typed!(i64),
        DType::U8 => typed!(u8),
        DType::U16 => typed!(u16),
        DType::U32 => typed!(u32),
        DType::U64 => typed!(u64),
        DType::Bool => typed!(bool),
        DType::F16 => {
            let mut bytes = Vec::with_capacity(numel * 2);
            for v in &values {
                let x = v.parse::<f32>().map_err(|_| bad(v))?;
                bytes.extend(half::f16::from_f32(x).to_le_bytes());
            }
            Tensor::from_bytes(DType::F16, shape, bytes)
        }
    };
    tensor.map_err(|e| e.to_string())
}
