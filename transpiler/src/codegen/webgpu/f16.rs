//! The `webgpu-f16` descriptor (SPEC §6.1.1): activations and large weights stored as IEEE binary16 on the
//! device, arithmetic in f32.
//!
//! Why storage and not arithmetic: batch-1 inference on a large GPU is bound by memory traffic (activations read by
//! every consumer, weights read once per tile row) far more than by the multiply-adds WGSL can issue, so halving the
//! bytes moved is what pays; computing in f32 keeps the accuracy of the f32 kernels up to the rounding of each stored
//! value (a relative error of at most 2^-11 per value, rel. L2 of logits about 1e-3), with no f16 accumulation over
//! long K sums, whose error grows with K. Every kernel therefore reads f16 values, widens them to f32, computes
//! exactly what the f32 kernel computes (epilogues included), and narrows the result once when it stores it.
//!
//! Two steps make such a descriptor:
//! - the pass [`run`] (`f16-storage`, the last of the target's passes, before the memory plan) gives binary16
//!   storage to every f32 activation that is not a model input or output and to every large Conv/ConvTranspose/
//!   MatMul weight (the set `lossy::lossy_axes` names: the values that dominate the bytes), converting those
//!   constants. Model inputs and outputs stay f32, so the API is unchanged: the first kernel reads the f32 input and
//!   the kernel that writes an output writes f32. Biases and small constants stay f32 (exact, and read once per
//!   output value). The input of a mean-like reduction, normalization or softmax stays f32 (see [`run`]). A `Unary` or
//!   `Reshape` between an f32 value and an activation keeps that activation f32 (the
//!   format wants their input's and output's dtypes equal).
//! - the generators write the same f32 WGSL as for `webgpu`, from the descriptor's tensors seen as f32, and
//!   [`narrow_bindings`] then rewrites each binding whose tensor is stored in f16: its declaration becomes
//!   `array<f16>` (or `vec4<f16>`), each read `bN[i]` is widened (`f32(bN[i])`), each store `bN[i] = e;` narrowed
//!   (`bN[i] = f16(e);`). A binding the generator moves as raw `u32` words (data movement, padding) is read as
//!   `bitcast<u32>(f32(bN[i]))` and stored as `f16(bitcast<f32>(w))`: exact, since every f16 value is an f32 value.
//!   Bindings are the only storage a generated shader names (`Binder` declares them as `b<binding>`), so this one
//!   rewrite covers every kernel family, and the `webgpu` descriptor's shaders stay byte for byte what they were.
//!   The module starts with `enable f16;` and is validated by naga like every other shader.
//!
//! The tuning `f16_tiles` (off by default) goes one step further inside the GEMMs: tiles staged in workgroup memory
//! as f16 and each K step's 16 (or 8) products summed in f16 before the f32 accumulators take them, for half the
//! workgroup-memory traffic and packed f16 multiply-adds; measured on lavapipe it costs MobileNetV2's logits rel. L2
//! 2.6e-3–4.3e-3 instead of 1.9e-3–2.6e-3 (top-1 unchanged), and its speed is for a GPU to tell (`bench/gpu_bench.sh`
//! times both).

use std::collections::HashSet;

use wdnn_descriptor_spec::{DType, Op, ReduceFn, UnaryFn};
use wdnn_runner_core::Tensor;

use crate::error::ConvertError;
use crate::ir::{Graph, ValueId};
use crate::passes::PassStats;

/// The pass `f16-storage`: binary16 storage for the activations (not the model's inputs and outputs) and the large
/// weights; see the module documentation.
pub fn run(graph: &mut Graph) -> Result<PassStats, ConvertError> {
    let io: HashSet<ValueId> = graph.inputs.iter().copied().chain(graph.outputs.iter().map(|(_, v)| *v)).collect();
    let weights: Vec<ValueId> = crate::lossy::lossy_axes(graph).into_keys().collect();
    // The inputs of statistics and normalizations keep f32: a normalization subtracts a mean from the same value it
    // averaged, and where that mean is large against the spread, a rounding of 2^-11 of the value is a large error
    // of the centred result (the style network's instance norms: rel. L2 1e-1 with them narrowed, 1e-3 without).
    // Sums (the `split-k` partial products), maxima and minima need no such care and stay narrowed.
    let statistics: HashSet<ValueId> = graph
        .nodes
        .iter()
        .filter(|n| match &n.op {
            Op::Reduce { fun, .. } => !matches!(fun, ReduceFn::Sum | ReduceFn::Max | ReduceFn::Min),
            op => matches!(op, Op::LayerNorm { .. } | Op::Softmax { .. } | Op::LogSoftmax { .. }),
        })
        .filter_map(|n| n.inputs.first().copied())
        .collect();
    let mut narrowed: Vec<ValueId> = Vec::new();
    for node in &graph.nodes {
        for &o in &node.outputs {
            let v = graph.value(o);
            if v.dtype == DType::F32 && v.constant.is_none() && !io.contains(&o) && !statistics.contains(&o) {
                narrowed.push(o);
            }
        }
    }
    for &v in &narrowed {
        graph.value_mut(v).dtype = DType::F16;
    }
    // The format wants a `Unary`'s output and a `Reshape`'s bytes to be its input's (SPEC §5): where one joins an
    // f32 value (a model input or output) to an f16 one, the f16 one stays f32, until no such pair is left.
    loop {
        let mut widened = false;
        for i in 0..graph.nodes.len() {
            let node = &graph.nodes[i];
            let same = match node.op {
                Op::Unary { fun } => !matches!(fun, UnaryFn::IsNaN | UnaryFn::IsInf { .. }),
                Op::Reshape => true,
                _ => false,
            };
            let (Some(&x), Some(&y)) = (node.inputs.first(), node.outputs.first()) else { continue };
            let (dx, dy) = (graph.value(x).dtype, graph.value(y).dtype);
            if !same || dx == dy || ![dx, dy].contains(&DType::F32) || ![dx, dy].contains(&DType::F16) {
                continue;
            }
            let v = if dx == DType::F16 { x } else { y };
            if graph.value(v).constant.is_none() && narrowed.contains(&v) {
                graph.value_mut(v).dtype = DType::F32;
                widened = true;
            }
        }
        if !widened {
            break;
        }
    }
    let activations = narrowed.iter().filter(|&&v| graph.value(v).dtype == DType::F16).count();
    let mut converted = 0;
    for w in weights {
        if io.contains(&w) {
            continue;
        }
        let value = graph.value(w);
        let Some(values) = value.constant.as_ref().and_then(|t| t.to_vec::<f32>().ok()) else { continue };
        let bytes: Vec<u8> = values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
        let tensor = Tensor::from_bytes(DType::F16, &value.shape, bytes).map_err(|e| ConvertError::Internal {
            stage: "webgpu pass f16-storage".into(),
            detail: format!("weight `{}`: {e}", value.name),
        })?;
        let value = graph.value_mut(w);
        value.dtype = DType::F16;
        value.constant = Some(tensor);
        converted += 1;
    }
    Ok(PassStats {
        changes: vec![("activations stored as f16".into(), activations), ("weights stored as f16".into(), converted)],
    })
}

/// The element types a generator declares for f32 data, and their binary16 counterparts: how a read is widened and
/// a store narrowed.
struct Narrowed {
    declared: &'static str,
    stored: &'static str,
    read: (&'static str, &'static str),
    write: (&'static str, &'static str),
}

const NARROWED: [Narrowed; 3] = [
    Narrowed { declared: "f32", stored: "f16", read: ("f32(", ")"), write: ("f16(", ")") },
    Narrowed { declared: "vec4<f32>", stored: "vec4<f16>", read: ("vec4<f32>(", ")"), write: ("vec4<f16>(", ")") },
    Narrowed { declared: "u32", stored: "f16", read: ("bitcast<u32>(f32(", "))"), write: ("f16(bitcast<f32>(", "))") },
];

/// `source` (a generated f32 shader) with the bindings `narrow` stored as binary16: see the module documentation.
/// An access the rewrite does not know (a compound assignment, a pointer) is an error naming it: a converter bug.
pub(super) fn narrow_bindings(source: &str, narrow: &[usize]) -> Result<String, String> {
    if narrow.is_empty() {
        return Ok(source.to_string());
    }
    let mut kinds: Vec<(String, &Narrowed)> = Vec::new();
    let mut text = source.to_string();
    for &b in narrow {
        let access = ["read_write", "read"]
            .into_iter()
            .find_map(|a| {
                NARROWED.iter().find_map(|n| {
                    let decl = format!("var<storage, {a}> b{b}: array<{}>;", n.declared);
                    text.contains(&decl).then_some((decl, a, n))
                })
            })
            .ok_or_else(|| format!("binding {b} is not declared as an array of f32, vec4<f32> or u32"))?;
        let (decl, a, n) = access;
        text = text.replace(&decl, &format!("var<storage, {a}> b{b}: array<{}>;", n.stored));
        kinds.push((format!("b{b}"), n));
    }
    let out = rewrite(&text, &kinds)?;
    Ok(format!("enable f16;\n{out}"))
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The index of the byte closing the bracket that opens at `open`, or `None`.
fn closing(s: &[u8], open: usize, (l, r): (u8, u8)) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &c) in s.iter().enumerate().skip(open) {
        if c == l {
            depth += 1;
        } else if c == r {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Rewrites every access `name[…]` of the bindings in `kinds` in `text` (recursively inside indices and stored
/// expressions); the declarations were rewritten already.
fn rewrite(text: &str, kinds: &[(String, &Narrowed)]) -> Result<String, String> {
    let s = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut i = 0;
    let mut copied = 0;
    while i < s.len() {
        let starts = i == 0 || !is_ident(s[i - 1]);
        let hit = if starts {
            kinds.iter().find(|(name, _)| s[i..].starts_with(name.as_bytes()) && s.get(i + name.len()) == Some(&b'['))
        } else {
            None
        };
        let Some((name, kind)) = hit else {
            // `&bN` (no space: how a generator writes a pointer, not a bitwise and) takes the binding's address.
            if s[i] == b'&' && (i == 0 || s[i - 1] != b'&') {
                let rest = &text[i + 1..];
                let named = |n: &String| {
                    rest.starts_with(n.as_str()) && rest.as_bytes().get(n.len()).is_none_or(|&c| !is_ident(c))
                };
                if kinds.iter().any(|(n, _)| named(n)) {
                    return Err(format!("a pointer to an f16 binding: {}", &text[i..(i + 24).min(text.len())]));
                }
            }
            i += 1;
            continue;
        };
        let open = i + name.len();
        let close = closing(s, open, (b'[', b']')).ok_or_else(|| format!("`{name}[` is not closed"))?;
        let index = rewrite(&text[open + 1..close], kinds)?;
        out.push_str(&text[copied..i]);
        let after = text[close + 1..].trim_start();
        let gap = text.len() - (close + 1) - after.len();
        let ab = after.as_bytes();
        if ab.first() == Some(&b'=') && ab.get(1) != Some(&b'=') {
            // A store: `name[index] = value;`.
            let value_start = close + 1 + gap + 1;
            let end = text[value_start..].find(';').map(|e| value_start + e).ok_or("a store without `;`")?;
            let value = rewrite(text[value_start..end].trim(), kinds)?;
            out.push_str(&format!("{name}[{index}] = {}{value}{};", kind.write.0, kind.write.1));
            i = end + 1;
        } else if ab.len() > 1 && b"+-*/%&|^<>".contains(&ab[0]) && ab[1] == b'=' && !matches!(ab[0], b'<' | b'>') {
            return Err(format!("a compound assignment to an f16 binding: `{name}[{index}] {}`", &after[..2]));
        } else {
            out.push_str(&format!("{}{name}[{index}]{}", kind.read.0, kind.read.1));
            i = close + 1;
        }
        copied = i;
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "@group(0) @binding(0) var<storage, read_write> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<u32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@compute @workgroup_size(1, 1, 1)
fn main(@builtin(local_invocation_index) li: u32) {
    let ab = b0[li] + b0[b2[li] % 4u];
    let b0x = dot(b1[li], vec4<f32>(ab));
    b2[li] = b2[li + 1u];
    b3[li] = b0x * b0[li];
    if (b0[li] == 0.0) { b3[0u] = 1.0; }
}
";

    #[test]
    fn reads_widen_stores_narrow_and_the_module_validates() {
        let out = narrow_bindings(SRC, &[0, 1, 2]).unwrap();
        assert!(out.starts_with("enable f16;\n"), "{out}");
        assert!(out.contains("b0: array<f16>;") && out.contains("b1: array<vec4<f16>>;"), "{out}");
        assert!(out.contains("b2: array<f16>;") && out.contains("b3: array<f32>;"), "{out}");
        assert!(out.contains("let ab = f32(b0[li]) + f32(b0[bitcast<u32>(f32(b2[li])) % 4u]);"), "{out}");
        assert!(out.contains("let b0x = dot(vec4<f32>(b1[li]), vec4<f32>(ab));"), "{out}");
        assert!(out.contains("b2[li] = f16(bitcast<f32>(bitcast<u32>(f32(b2[li + 1u]))));"), "{out}");
        assert!(out.contains("b3[li] = b0x * f32(b0[li]);"), "{out}");
        assert!(out.contains("if (f32(b0[li]) == 0.0) { b3[0u] = 1.0; }"), "{out}");
        crate::codegen::webgpu::validate(&out).unwrap();
        // Nothing to narrow: the source as it was, without `enable f16`.
        assert_eq!(narrow_bindings(SRC, &[]).unwrap(), SRC);
    }

    #[test]
    fn unknown_accesses_are_refused() {
        let compound = SRC.replace("b3[li] = b0x", "b0[li] += b0x;\n    b3[li] = b0x");
        assert!(narrow_bindings(&compound, &[0]).unwrap_err().contains("compound"));
        let pointer = SRC.replace("let ab =", "let n = arrayLength(&b0);\n    let ab =");
        assert!(narrow_bindings(&pointer, &[0]).unwrap_err().contains("pointer"));
        let int = SRC.replace("b3: array<f32>", "b3: array<i32>");
        assert!(narrow_bindings(&int, &[3]).unwrap_err().contains("binding 3"));
    }
}
