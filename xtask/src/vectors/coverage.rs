//! What the good vectors use of the format, read back from their descriptors: the generator refuses to write a set
//! that leaves an op, a reduction, an epilogue step kind, a view kind, a dtype or a weight encoding out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Result, bail};
use serde_json::json;
use wdnn_descriptor_spec::weights::WeightsFile;
use wdnn_descriptor_spec::{DType, EpilogueStep, Graph, Op, OpKind, Storage};

/// Names of everything used, each with the vectors that use it.
#[derive(Default)]
pub struct Coverage {
    sets: BTreeMap<&'static str, BTreeMap<String, BTreeSet<String>>>,
}

/// The name of a unary or binary function (its `fn` tag: the Debug name up to its fields).
fn fn_name(debug: String) -> String {
    debug.split([' ', '{']).next().unwrap_or_default().to_string()
}

fn steps_of(op: &Op) -> &[EpilogueStep] {
    match op {
        Op::Conv { epilogue, .. } | Op::ConvTranspose { epilogue, .. } | Op::MatMul { epilogue, .. } => epilogue,
        Op::Elementwise { steps } => steps,
        _ => &[],
    }
}

impl Coverage {
    fn note(&mut self, set: &'static str, item: impl Into<String>, vector: &str) {
        self.sets.entry(set).or_default().entry(item.into()).or_default().insert(vector.to_string());
    }

    /// Reads the bundle in `dir`; returns its kernels' op names and the bundle's size in bytes.
    pub fn add(&mut self, dir: &Path) -> Result<(Vec<String>, usize)> {
        let vector = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let graph_bytes = std::fs::read(dir.join("fallback.graph.wdnn"))?;
        let weight_bytes = std::fs::read(dir.join("fallback.weights.wdnn"))?;
        let size =
            graph_bytes.len() + weight_bytes.len() + std::fs::metadata(dir.join("manifest.wdnn"))?.len() as usize;
        let g = Graph::from_bytes(&graph_bytes, "fallback.graph.wdnn")?;
        let weights = WeightsFile::parse(&weight_bytes, "fallback.weights.wdnn")?;
        for w in &weights.index.tensors {
            self.note("weight encodings", w.encoding.name(), &vector);
            self.note("weight dtypes", w.dtype.to_string(), &vector);
        }
        for t in &g.tensors {
            self.note("tensor dtypes", t.dtype.to_string(), &vector);
        }
        let mut ops = Vec::new();
        for k in &g.kernels {
            let name = k.op.name();
            ops.push(name.to_string());
            self.note("ops", name, &vector);
            match &k.op {
                Op::Unary { fun } => self.note("unary functions", fn_name(format!("{fun:?}")), &vector),
                Op::Binary { fun } => self.note("binary functions", fn_name(format!("{fun:?}")), &vector),
                Op::Reduce { fun, .. } => self.note("reductions", format!("{fun:?}"), &vector),
                _ => {}
            }
            for step in steps_of(&k.op) {
                let (kind, f) = match step {
                    EpilogueStep::Unary { fun } => ("Unary".to_string(), fn_name(format!("{fun:?}"))),
                    EpilogueStep::Binary { fun, operand_first, .. } => {
                        let kind = if *operand_first { "Binary, operand_first" } else { "Binary" };
                        (kind.to_string(), fn_name(format!("{fun:?}")))
                    }
                    EpilogueStep::Unknown => bail!("{vector}: an unknown epilogue step"),
                };
                let set = if matches!(k.op, Op::Elementwise { .. }) { "elementwise steps" } else { "epilogue steps" };
                self.note(set, kind, &vector);
                let set = if matches!(k.op, Op::Elementwise { .. }) {
                    "elementwise step functions"
                } else {
                    "epilogue functions"
                };
                self.note(set, f, &vector);
            }
            if channels_last(&k.op) {
                self.note("layouts", "channels_last", &vector);
            }
        }
        for kind in views(&g) {
            self.note("aliasing", kind, &vector);
        }
        Ok((ops, size))
    }

    /// Fails unless every op, reduction, epilogue kind, view kind, required dtype and encoding is used.
    pub fn require_complete(&self) -> Result<()> {
        let required: [(&str, Vec<String>); 6] = [
            ("ops", OpKind::ALL.iter().filter(|k| **k != OpKind::Unknown).map(|k| k.name().to_string()).collect()),
            (
                "reductions",
                ["Sum", "Mean", "Max", "Min", "Prod", "L1", "L2", "LogSum", "LogSumExp", "SumSquare"]
                    .map(String::from)
                    .to_vec(),
            ),
            ("epilogue steps", ["Unary", "Binary", "Binary, operand_first"].map(String::from).to_vec()),
            ("aliasing", ["reshape view", "concat view", "in-place kernel"].map(String::from).to_vec()),
            (
                "tensor dtypes",
                [DType::F32, DType::F16, DType::I64, DType::I32, DType::U32, DType::Bool]
                    .map(|d| d.to_string())
                    .to_vec(),
            ),
            ("weight encodings", ["Raw", "F16", "Int8"].map(String::from).to_vec()),
        ];
        let mut missing = Vec::new();
        for (set, items) in required {
            for item in items {
                if !self.sets.get(set).is_some_and(|s| s.contains_key(&item)) {
                    missing.push(format!("{set}: {item}"));
                }
            }
        }
        if !missing.is_empty() {
            bail!("the good vectors do not cover: {}", missing.join(", "));
        }
        Ok(())
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!(self.sets.iter().map(|(set, items)| (set.to_string(), json!(items))).collect::<serde_json::Map<_, _>>())
    }

    pub fn summary(&self) -> String {
        self.sets
            .iter()
            .map(|(set, items)| {
                format!("  {set} ({}): {}", items.len(), items.keys().cloned().collect::<Vec<_>>().join(", "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn channels_last(op: &Op) -> bool {
    match op {
        Op::Conv { channels_last, .. }
        | Op::ConvTranspose { channels_last, .. }
        | Op::MaxPool { channels_last, .. }
        | Op::AveragePool { channels_last, .. } => *channels_last,
        _ => false,
    }
}

/// The kinds of aliasing (SPEC §4.4) the plan of `g` uses.
fn views(g: &Graph) -> BTreeSet<&'static str> {
    let range = |id: u32| match g.tensors[id as usize].storage {
        Storage::Arena { offset } => Some((offset, g.tensors[id as usize].byte_size())),
        _ => None,
    };
    let mut produced: BTreeSet<u32> = g.inputs.iter().map(|b| b.tensor).collect();
    let mut out = BTreeSet::new();
    for k in &g.kernels {
        produced.extend(k.outputs.iter().copied());
        for o in &k.outputs {
            if k.inputs.iter().any(|i| range(*i).is_some() && range(*i) == range(*o)) {
                out.insert("in-place kernel");
            }
        }
    }
    let read: BTreeSet<u32> =
        g.kernels.iter().flat_map(|k| k.inputs.iter().copied()).chain(g.outputs.iter().map(|b| b.tensor)).collect();
    for t in read.iter().filter(|t| !produced.contains(t)) {
        let Some(r) = range(*t) else { continue };
        if produced.iter().any(|p| range(*p) == Some(r)) {
            out.insert("reshape view");
        } else {
            out.insert("concat view");
        }
    }
    out
}
