//! `cargo xtask inspect`: what a third party needs to see of a bundle (issue 12). The manifest, then per backend every
//! kernel with its op, attributes, payload and the tensors it reads and writes (dtype, shape, arena range or weight
//! id), and every weight with its encoding and size. `--json` prints the same as one JSON document for tools.
//!
//! Everything shown has been verified first: the bundle is opened and each backend loaded through runner-core
//! (sizes, hashes, chunk checks, graph validation), so `inspect` on a damaged bundle reports the damage instead.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use wdnn_runner_core::Bundle;
use wdnn_runner_core::spec::{Graph, Storage, TensorId, WeightIndex};

/// The bundle at `dir` as one JSON value (`backends` limits which backends are loaded; empty: all).
pub fn report(dir: &Path, backends: &[String]) -> Result<Value> {
    let bundle = Bundle::open(dir).with_context(|| format!("opening the bundle {}", dir.display()))?;
    let manifest = &bundle.manifest;
    for wanted in backends {
        if manifest.backend(wanted).is_none() {
            let present: Vec<&str> = manifest.backends.iter().map(|b| b.backend.as_str()).collect();
            anyhow::bail!("the bundle has no `{wanted}` descriptor (it has: {})", present.join(", "));
        }
    }
    let mut loaded = Vec::new();
    for entry in &manifest.backends {
        if !backends.is_empty() && !backends.contains(&entry.backend) {
            continue;
        }
        let (graph, weights) = bundle
            .load_backend(&entry.backend, |_, _| {})
            .with_context(|| format!("loading the `{}` descriptor", entry.backend))?;
        loaded.push(json!({
            "backend": entry.backend,
            "features": entry.features,
            "graph_file": entry.graph,
            "weights_file": entry.weights,
            "graph": graph_json(&graph),
            "weights": weights_json(&weights.index),
        }));
    }
    Ok(json!({
        "model": manifest.model_name,
        "source_sha256": manifest.source_sha256,
        "converter": manifest.converter,
        "inputs": manifest.inputs,
        "outputs": manifest.outputs,
        "preprocessing": manifest.preprocessing,
        "backends": loaded,
    }))
}

fn graph_json(graph: &Graph) -> Value {
    let tensor = |id: TensorId| tensor_json(graph, id);
    let kernels: Vec<Value> = graph
        .kernels
        .iter()
        .enumerate()
        .map(|(index, k)| {
            json!({
                "index": index,
                "name": k.name,
                "op": k.op.name(),
                "attributes": attributes(&k.op),
                "inputs": k.inputs.iter().map(|&t| tensor(t)).collect::<Vec<_>>(),
                "outputs": k.outputs.iter().map(|&t| tensor(t)).collect::<Vec<_>>(),
                "payload": k.payload,
            })
        })
        .collect();
    json!({
        "arena_size": graph.arena_size,
        "alignment": graph.alignment,
        "tensors": graph.tensors.len(),
        "shaders": graph.shaders.len(),
        "inputs": graph.inputs.iter().map(|b| json!({"name": b.name, "tensor": tensor(b.tensor)})).collect::<Vec<_>>(),
        "outputs": graph.outputs.iter().map(|b| json!({"name": b.name, "tensor": tensor(b.tensor)})).collect::<Vec<_>>(),
        "kernels": kernels,
    })
}

/// A tensor as a kernel sees it; arena tensors carry their byte range `[offset, end)`.
fn tensor_json(graph: &Graph, id: TensorId) -> Value {
    // A loaded graph is validated, so ids are in range; stay total anyway.
    let Some(t) = graph.tensors.get(id as usize) else {
        return json!({ "id": id, "error": "tensor id out of range" });
    };
    let mut v = json!({ "id": id, "name": t.name, "dtype": t.dtype, "shape": t.shape });
    match t.storage {
        Storage::Arena { offset } => {
            v["arena"] = json!([offset, offset.saturating_add(t.byte_size())]);
        }
        Storage::Weight { id } => v["weight"] = json!(id),
    }
    v
}

/// The op's attributes: its serialized form without the `type` tag (that is [`Op::name`]).
fn attributes(op: &wdnn_runner_core::spec::Op) -> Value {
    let mut v = serde_json::to_value(op).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.remove("type");
    }
    v
}

fn weights_json(index: &WeightIndex) -> Value {
    let tensors: Vec<Value> = index
        .tensors
        .iter()
        .enumerate()
        .map(|(id, w)| {
            json!({
                "id": id,
                "name": w.name,
                "dtype": w.dtype,
                "shape": w.shape,
                "encoding": w.encoding,
                "offset": w.offset,
                "length": w.length,
            })
        })
        .collect();
    json!({
        "stream_size": index.stream_size,
        "chunks": index.chunks.len(),
        "compressed_size": index.chunks.iter().map(|c| c.compressed_size).sum::<u64>(),
        "tensors": tensors,
    })
}

/// The report as text: one line per kernel and per weight.
pub fn print_text(report: &Value) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    println!("model      {}", s(&report["model"]));
    println!("source     sha256 {}", s(&report["source_sha256"]));
    println!("converter  {}", s(&report["converter"]));
    for (kind, key) in [("input ", "inputs"), ("output", "outputs")] {
        for sig in report[key].as_array().into_iter().flatten() {
            println!("{kind}     {} {} {}", s(&sig["name"]), s(&sig["dtype"]), sig["shape"]);
        }
    }
    if !report["preprocessing"].is_null() {
        println!("preprocess {}", report["preprocessing"]);
    }
    for b in report["backends"].as_array().into_iter().flatten() {
        let g = &b["graph"];
        let w = &b["weights"];
        println!();
        println!(
            "backend {}: {} ({} bytes), {} ({} bytes){}",
            s(&b["backend"]),
            s(&b["graph_file"]["file"]),
            b["graph_file"]["size"],
            s(&b["weights_file"]["file"]),
            b["weights_file"]["size"],
            match b["features"].as_array() {
                Some(f) if !f.is_empty() => format!(", features {}", b["features"]),
                _ => String::new(),
            }
        );
        println!(
            "  arena {} bytes (alignment {}), {} tensors, {} kernels, {} shaders",
            g["arena_size"],
            g["alignment"],
            g["tensors"],
            g["kernels"].as_array().map_or(0, Vec::len),
            g["shaders"]
        );
        for k in g["kernels"].as_array().into_iter().flatten() {
            let io = |key: &str| -> String {
                k[key].as_array().into_iter().flatten().map(tensor_text).collect::<Vec<_>>().join(", ")
            };
            println!("  #{:<4} {:<14} {}", k["index"].as_u64().unwrap_or_default(), s(&k["op"]), s(&k["name"]));
            if k["attributes"].as_object().is_some_and(|a| !a.is_empty()) {
                println!("         attrs   {}", k["attributes"]);
            }
            println!("         in      {}", io("inputs"));
            println!("         out     {}", io("outputs"));
            if !k["payload"].is_null() {
                println!("         payload {}", payload_text(&k["payload"]));
            }
        }
        println!(
            "  weights: {} tensors, stream {} bytes in {} chunks ({} bytes compressed)",
            w["tensors"].as_array().map_or(0, Vec::len),
            w["stream_size"],
            w["chunks"],
            w["compressed_size"]
        );
        for t in w["tensors"].as_array().into_iter().flatten() {
            println!(
                "  w{:<5} {} {} {} @{}+{} {}",
                t["id"].as_u64().unwrap_or_default(),
                s(&t["dtype"]),
                t["shape"],
                t["encoding"]["type"].as_str().unwrap_or("?"),
                t["offset"],
                t["length"],
                s(&t["name"])
            );
        }
    }
}

fn tensor_text(t: &Value) -> String {
    let place =
        if let Some(r) = t["arena"].as_array() { format!("@{}..{}", r[0], r[1]) } else { format!("w{}", t["weight"]) };
    format!("t{} {}{} {}", t["id"], t["dtype"].as_str().unwrap_or("?"), t["shape"], place)
}

/// A payload in one line: WGSL dispatches by entry point and grid, packed weights by layout.
fn payload_text(p: &Value) -> String {
    match p["kind"].as_str() {
        Some("Wgsl") => format!(
            "wgsl shader {} `{}` workgroup {} dispatch {} bindings {}",
            p["shader"],
            p["entry_point"].as_str().unwrap_or("?"),
            p["workgroup_size"],
            p["dispatch"],
            p["bindings"].as_array().map_or(0, Vec::len)
        ),
        _ => p.to_string(),
    }
}
