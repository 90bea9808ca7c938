//! The bad vectors: the tiny bundle damaged in the ways SPEC §8 lists (the list of
//! `descriptor-spec/python/run_checks.py`), each with the SPEC §8.1 class a runner must report and a word its message
//! must contain; and the damaged bundles a runner must still accept (a newer minor version, unknown keys).

use anyhow::{Context, Result, bail};
use rmpv::Value;
use sha2::Digest;
use wdnn_runner_core::Tensor;

const M: &str = "manifest.wdnn";
const G: &str = "fallback.graph.wdnn";
const W: &str = "fallback.weights.wdnn";

type Files = Vec<(String, Vec<u8>)>;

/// A bundle a runner must refuse.
pub struct Case {
    pub name: String,
    pub about: String,
    pub files: Files,
    pub backend: &'static str,
    pub class: &'static str,
    pub names: Option<&'static str>,
    /// Inputs to run with (else the runner fails before running).
    pub inputs: Option<Vec<(String, Tensor)>>,
}

fn head_range(data: &[u8]) -> Result<(usize, usize)> {
    let bytes: [u8; 8] = data.get(16..24).context("a container shorter than its header")?.try_into()?;
    Ok((56, 56 + u64::from_le_bytes(bytes) as usize))
}

/// The container with its head replaced and the head checksum recomputed.
fn reseal_head(data: &[u8], head: &[u8]) -> Result<Vec<u8>> {
    let (start, end) = head_range(data)?;
    let mut out = [&data[..start], head, &data[end..]].concat();
    out[16..24].copy_from_slice(&(head.len() as u64).to_le_bytes());
    out[24..56].copy_from_slice(&sha2::Sha256::digest(head));
    Ok(out)
}

/// The container with the first `old` in its head replaced by `new`, resealed.
fn patch_head(data: &[u8], old: &[u8], new: &[u8]) -> Result<Vec<u8>> {
    let (start, end) = head_range(data)?;
    let head = &data[start..end];
    let at = head.windows(old.len()).position(|w| w == old).with_context(|| format!("{old:?} is not in the head"))?;
    let patched = [&head[..at], new, &head[at + old.len()..]].concat();
    reseal_head(data, &patched)
}

fn decode(data: &[u8]) -> Result<Value> {
    let (start, end) = head_range(data)?;
    Ok(rmpv::decode::read_value(&mut &data[start..end])?)
}

/// The container with its head decoded, changed by `change` and encoded again.
fn edit(data: &[u8], change: impl FnOnce(&mut Value) -> Result<()>) -> Result<Vec<u8>> {
    let mut head = decode(data)?;
    change(&mut head)?;
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &head)?;
    reseal_head(data, &bytes)
}

/// The value of `key` in the map `v`.
fn field<'a>(v: &'a mut Value, key: &str) -> Result<&'a mut Value> {
    let Value::Map(entries) = v else { bail!("not a map where `{key}` was looked for") };
    entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v).with_context(|| format!("no `{key}`"))
}

fn set(v: &mut Value, key: &str, value: Value) -> Result<()> {
    let Value::Map(entries) = v else { bail!("not a map where `{key}` was set") };
    match entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some((_, old)) => *old = value,
        None => entries.push((Value::from(key), value)),
    }
    Ok(())
}

fn item(v: &mut Value, i: usize) -> Result<&mut Value> {
    let Value::Array(items) = v else { bail!("not an array") };
    items.get_mut(i).context("index out of range")
}

fn as_u64(v: &Value) -> Result<u64> {
    v.as_u64().context("not an unsigned integer")
}

fn get<'a>(files: &'a Files, name: &str) -> &'a [u8] {
    files.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_slice()).unwrap_or_default()
}

/// `files` with `name` replaced by `data`.
fn with(files: &Files, name: &str, data: Vec<u8>) -> Files {
    files.iter().map(|(n, b)| (n.clone(), if n == name { data.clone() } else { b.clone() })).collect()
}

/// `files` with `name` replaced and the manifest's sizes and hashes updated, as a writer would.
fn resealed(files: &Files, name: &str, data: Vec<u8>) -> Result<Files> {
    let files = with(files, name, data);
    let manifest = edit(get(&files, M), |head| {
        let Value::Array(entries) = field(head, "backends")? else { bail!("backends is not an array") };
        for entry in entries {
            for key in ["graph", "weights"] {
                let r = field(entry, key)?;
                let file = field(r, "file")?.as_str().context("file is not a string")?.to_string();
                let bytes = get(&files, &file);
                set(r, "size", Value::from(bytes.len() as u64))?;
                set(r, "sha256", Value::from(wdnn_descriptor_spec::sha256_hex(bytes)))?;
            }
        }
        Ok(())
    })?;
    Ok(with(&files, M, manifest))
}

fn flip(data: &[u8], at: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    out[at] ^= 0x20;
    out
}

fn with_minor(data: &[u8], minor: u16) -> Vec<u8> {
    let mut out = data.to_vec();
    out[10..12].copy_from_slice(&minor.to_le_bytes());
    out
}

fn with_major(data: &[u8], major: u16) -> Vec<u8> {
    let mut out = data.to_vec();
    out[8..10].copy_from_slice(&major.to_le_bytes());
    out
}

/// Damaged bundles that a runner must accept and run like the original: (folder, about, files).
pub fn accepted(base: &Files) -> Result<Vec<(&'static str, &'static str, Files)>> {
    let m = get(base, M);
    let g = get(base, G);
    let unknown_keys = edit(g, |h| {
        let kernel = item(field(h, "kernels")?, 0)?;
        set(kernel, "future_field", Value::Array(vec![Value::from(1), Value::from(2)]))?;
        set(field(kernel, "op")?, "future_attribute", Value::from(true))?;
        let tensor = item(field(h, "tensors")?, 0)?;
        set(field(tensor, "storage")?, "future", Value::from("x"))
    })?;
    let files = resealed(base, G, unknown_keys)?;
    let manifest = edit(get(&files, M), |h| set(h, "future_manifest_field", Value::from("ignored")))?;
    let unknown_keys = with(&files, M, manifest);
    Ok(vec![
        (
            "compat_minor_version",
            "a manifest of minor version 9: any minor version of major 1 is read",
            with(base, M, with_minor(m, 9)),
        ),
        (
            "compat_unknown_keys",
            "map keys a reader does not know (kernel, op, storage, manifest) are ignored",
            unknown_keys,
        ),
    ])
}

/// Every bad vector made from the tiny bundle `base` (whose inputs are `inputs`).
pub fn cases(base: &Files, inputs: &[Tensor]) -> Result<Vec<Case>> {
    let (m, g, w) = (get(base, M), get(base, G), get(base, W));
    let w_head_end = head_range(w)?.1;
    let mut out = Vec::new();
    let mut add = |name: &str, about: &str, class: &'static str, names: Option<&'static str>, files: Files| {
        out.push(Case {
            name: name.to_string(),
            about: about.to_string(),
            files,
            backend: "fallback",
            class,
            names,
            inputs: None,
        });
    };
    add("manifest_shorter_than_magic", "a manifest of 5 bytes", "bad_magic", None, with(base, M, m[..5].to_vec()));
    add("manifest_shorter_than_version", "a manifest of 10 bytes", "truncated", None, with(base, M, m[..10].to_vec()));
    add("manifest_shorter_than_header", "a manifest of 40 bytes", "truncated", None, with(base, M, m[..40].to_vec()));
    add(
        "manifest_cut_in_head",
        "a manifest missing its last byte",
        "truncated",
        None,
        with(base, M, m[..m.len() - 1].to_vec()),
    );
    add("manifest_padded", "a manifest with one byte more", "truncated", None, with(base, M, [m, &[0]].concat()));
    add(
        "manifest_wrong_kind",
        "a manifest whose kind is GRPH",
        "bad_magic",
        None,
        with(base, M, [&m[..4], b"GRPH", &m[8..]].concat()),
    );
    add(
        "manifest_major_2",
        "a manifest of format version 2.0",
        "unsupported_version",
        Some("2.0"),
        with(base, M, with_major(m, 2)),
    );
    add(
        "manifest_head_flipped",
        "a byte of the manifest's head flipped",
        "corrupted",
        None,
        with(base, M, flip(m, m.len() - 3)),
    );
    add(
        "graph_cut",
        "the graph file cut, the manifest unchanged",
        "truncated",
        None,
        with(base, G, g[..g.len() - 7].to_vec()),
    );
    add(
        "graph_flipped",
        "a byte of the graph flipped, the manifest unchanged",
        "corrupted",
        None,
        with(base, G, flip(g, g.len() / 2)),
    );
    add(
        "weights_flipped",
        "a byte of the weights flipped, the manifest unchanged",
        "corrupted",
        None,
        with(base, W, flip(w, w.len() - 5)),
    );
    add(
        "graph_cut_resealed",
        "the graph file cut, the manifest resealed",
        "truncated",
        None,
        resealed(base, G, g[..g.len() - 7].to_vec())?,
    );
    add(
        "graph_head_flipped_resealed",
        "a byte of the graph's head flipped, the manifest resealed",
        "corrupted",
        None,
        resealed(base, G, flip(g, g.len() - 9))?,
    );
    add(
        "graph_padded_resealed",
        "a graph with a trailing byte, the manifest resealed",
        "truncated",
        None,
        resealed(base, G, [g, &[0]].concat())?,
    );
    add(
        "graph_major_3",
        "a graph of format version 3.0",
        "unsupported_version",
        Some("3.0"),
        resealed(base, G, with_major(g, 3))?,
    );
    add(
        "graph_unknown_op",
        "an op named Softmux",
        "unknown_op",
        Some("Softmux"),
        resealed(base, G, patch_head(g, b"Softmax", b"Softmux")?)?,
    );
    add(
        "graph_unknown_function",
        "an epilogue function named Relx",
        "unknown_op",
        Some("Relx"),
        resealed(base, G, patch_head(g, b"Relu", b"Relx")?)?,
    );
    let spirv = edit(g, |h| {
        let payload =
            Value::Map(vec![(Value::from("kind"), Value::from("Spirv")), (Value::from("words"), Value::from(3))]);
        set(item(field(h, "kernels")?, 0)?, "payload", payload)
    })?;
    add(
        "graph_unknown_payload",
        "a payload of kind Spirv",
        "unknown_payload",
        Some("Spirv"),
        resealed(base, G, spirv)?,
    );
    add(
        "graph_not_msgpack",
        "a graph head that is not MessagePack",
        "malformed",
        None,
        resealed(base, G, reseal_head(g, &[0xc1])?)?,
    );
    let nil_epilogue = edit(g, |h| set(field(item(field(h, "kernels")?, 0)?, "op")?, "epilogue", Value::Nil))?;
    add(
        "graph_nil_optional",
        "nil for the optional field epilogue",
        "malformed",
        None,
        resealed(base, G, nil_epilogue)?,
    );
    let int_bool = edit(g, |h| set(field(item(field(h, "kernels")?, 0)?, "op")?, "channels_last", Value::from(0)))?;
    add("graph_int_for_bool", "0 for the bool channels_last", "malformed", None, resealed(base, G, int_bool)?);
    let shrink = edit(g, |h| {
        let size = as_u64(field(h, "arena_size")?)?;
        set(h, "arena_size", Value::from(size - 16))
    })?;
    add("graph_tensor_outside_arena", "an arena 16 bytes too small", "inconsistent", None, resealed(base, G, shrink)?);
    let other = edit(g, |h| set(h, "backend", Value::from("wasm")))?;
    add(
        "graph_other_backend",
        "a fallback entry whose graph says wasm",
        "inconsistent",
        None,
        resealed(base, G, other)?,
    );
    let weight_shape = edit(g, |h| {
        let Value::Array(tensors) = field(h, "tensors")? else { bail!("tensors is not an array") };
        let t =
            tensors.iter_mut().find(|t| t["storage"]["kind"].as_str() == Some("Weight")).context("no weight tensor")?;
        let Value::Array(shape) = field(t, "shape")? else { bail!("shape is not an array") };
        shape.push(Value::from(1));
        Ok(())
    })?;
    add(
        "graph_tensor_unlike_weight",
        "a weight tensor of another shape than its weight",
        "inconsistent",
        None,
        resealed(base, G, weight_shape)?,
    );
    let unwritten = edit(g, |h| {
        let out = as_u64(field(item(field(h, "outputs")?, 0)?, "tensor")?)? as usize;
        let arena = as_u64(field(h, "arena_size")?)?;
        let Value::Array(tensors) = field(h, "tensors")? else { bail!("tensors is not an array") };
        let mut t = tensors[out].clone();
        let size = 4 * t["shape"].as_array().context("shape")?.iter().map(|d| d.as_u64().unwrap_or(0)).product::<u64>();
        set(
            &mut t,
            "storage",
            Value::Map(vec![(Value::from("kind"), Value::from("Arena")), (Value::from("offset"), Value::from(arena))]),
        )?;
        tensors.push(t);
        let id = tensors.len() as u64 - 1;
        set(h, "arena_size", Value::from(arena + size.div_ceil(16) * 16))?;
        set(item(field(h, "outputs")?, 0)?, "tensor", Value::from(id))
    })?;
    add(
        "graph_output_never_written",
        "a model output bound to a tensor no kernel writes",
        "inconsistent",
        Some("probabilities"),
        resealed(base, G, unwritten)?,
    );
    add(
        "weights_body_cut_resealed",
        "the weights body cut, the manifest resealed",
        "truncated",
        None,
        resealed(base, W, w[..w.len() - 3].to_vec())?,
    );
    add(
        "weights_chunk_flipped_resealed",
        "a byte of weight chunk 0 flipped, the manifest resealed",
        "corrupted",
        Some("chunk 0"),
        resealed(base, W, flip(w, w_head_end + 10))?,
    );
    add(
        "weights_unknown_encoding",
        "a weight encoding named Rax",
        "unknown_encoding",
        Some("Rax"),
        resealed(base, W, patch_head(w, b"Raw", b"Rax")?)?,
    );
    let stream = edit(w, |h| {
        let size = as_u64(field(h, "stream_size")?)?;
        set(h, "stream_size", Value::from(size + 16))
    })?;
    add(
        "weights_chunks_do_not_add_up",
        "a stream_size 16 bytes larger than the chunks",
        "inconsistent",
        None,
        resealed(base, W, stream)?,
    );
    let length = edit(w, |h| {
        let t = item(field(h, "tensors")?, 0)?;
        let l = as_u64(field(t, "length")?)?;
        set(t, "length", Value::from(l + 4))
    })?;
    add(
        "weights_wrong_length",
        "a weight whose length is not its size",
        "inconsistent",
        None,
        resealed(base, W, length)?,
    );
    let bad_name = edit(m, |h| {
        set(field(item(field(h, "backends")?, 0)?, "graph")?, "file", Value::from("../fallback.graph.wdnn"))
    })?;
    add(
        "manifest_bad_file_name",
        "a manifest naming ../fallback.graph.wdnn",
        "bad_file_name",
        Some("../fallback.graph.wdnn"),
        with(base, M, bad_name),
    );
    let huge = edit(g, |h| set(h, "arena_size", Value::from(1u64 << 40)))?;
    add("graph_arena_over_limit", "an arena of 1 TiB", "limit_exceeded", Some("arena"), resealed(base, G, huge)?);
    let future = edit(m, |h| {
        let feature = Value::Array(vec![Value::from("x-from-the-future")]);
        set(item(field(h, "backends")?, 0)?, "features", feature)
    })?;
    add(
        "manifest_future_feature",
        "a fallback entry that needs format feature x-from-the-future (SPEC §2.3)",
        "unsupported_feature",
        Some("x-from-the-future"),
        with(base, M, future),
    );
    out.push(Case {
        name: "missing_backend".to_string(),
        about: "a webgpu load of a bundle that has only a fallback descriptor".to_string(),
        files: base.clone(),
        backend: "webgpu",
        class: "missing_backend",
        names: Some("webgpu"),
        inputs: None,
    });
    let shape = inputs.first().map(|t| t.shape().to_vec()).unwrap_or_default();
    let mut wrong = shape.clone();
    if let Some(last) = wrong.last_mut() {
        *last += 1;
    }
    out.push(Case {
        name: "input_wrong_shape".to_string(),
        about: format!("an input of shape {wrong:?} where the model expects {shape:?}"),
        files: base.clone(),
        backend: "fallback",
        class: "bad_input",
        names: Some("shape"),
        inputs: Some(vec![("x".to_string(), Tensor::zeros(wdnn_descriptor_spec::DType::F32, &wrong))]),
    });
    Ok(out)
}
