//! The cases and their data: the ONNX node tests found in the cache, the zoo graphs with their expected outputs,
//! and the ONNX `TensorProto` test data read as tensors.

use std::collections::BTreeMap;
use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tract_onnx::pb::{ModelProto, TensorProto};
use tract_onnx::prelude::Framework;
use wdnn_runner_core::Tensor;
use wdnn_runner_core::spec::DType;

use super::{Class, Outcome};
use crate::repo_root;

/// The onnx release the node tests come from (pinned in fixtures/scripts/requirements.txt).
pub(super) const ONNX_VERSION: &str = "1.23.2";

/// The zoo graphs of `fixtures/models/light`.
const ZOO: [&str; 9] = [
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
];

pub(super) enum CaseKind {
    Node(PathBuf),
    Zoo { model: PathBuf, input: PathBuf, output: PathBuf },
}

pub(super) struct Case {
    /// `node/test_<name>` or `zoo/<name>`.
    pub(super) name: String,
    pub(super) kind: CaseKind,
    /// The ONNX op types the case tests, for the per-op table (an `_expanded` case counts for its original op).
    pub(super) ops: Vec<String>,
}

fn cache_dir() -> PathBuf {
    std::env::var_os("WDNN_CACHE").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".cache"))
}

/// The op types of a model's top-level graph, deduplicated in order of appearance.
fn model_ops(model: &ModelProto) -> Vec<String> {
    let mut ops: Vec<String> = Vec::new();
    for node in model.graph.iter().flat_map(|g| &g.node) {
        if !ops.contains(&node.op_type) {
            ops.push(node.op_type.clone());
        }
    }
    ops
}

pub(super) fn read_model(path: &Path) -> Result<ModelProto, String> {
    let path = path.to_path_buf();
    match catch_unwind(move || tract_onnx::onnx().proto_model_for_path(&path)) {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(e)) => Err(format!("not a valid ONNX model: {e}")),
        Err(_) => Err("not a valid ONNX model (the protobuf parser panicked)".to_string()),
    }
}

pub(super) fn discover(filter: &[String]) -> Result<Vec<Case>> {
    let node_dir = cache_dir().join("onnx-node-tests/node");
    if !node_dir.is_dir() {
        bail!("{} is missing: run `cargo xtask fixtures` first", node_dir.display());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&node_dir)
        .with_context(|| format!("listing {}", node_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("model.onnx").is_file())
        .collect();
    dirs.sort();
    let folder = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The ops of every node case's own model, for the `_expanded` cases' attribution.
    let own_ops: BTreeMap<String, Vec<String>> = dirs
        .iter()
        .map(|d| (folder(d), read_model(&d.join("model.onnx")).map(|m| model_ops(&m)).unwrap_or_default()))
        .collect();
    let mut cases = Vec::new();
    for dir in dirs {
        let test = folder(&dir);
        let original = test.find("_expanded").map(|i| &test[..i]).filter(|o| own_ops.contains_key(*o));
        let ops = original.and_then(|o| own_ops.get(o)).or_else(|| own_ops.get(&test)).cloned().unwrap_or_default();
        cases.push(Case { name: format!("node/{test}"), kind: CaseKind::Node(dir), ops });
    }
    let fixtures = repo_root().join("fixtures");
    for name in ZOO {
        let model = fixtures.join(format!("models/light/light_{name}.onnx"));
        let ops = read_model(&model).map(|m| model_ops(&m)).unwrap_or_default();
        let expected = fixtures.join("expected/light");
        cases.push(Case {
            name: format!("zoo/{name}"),
            kind: CaseKind::Zoo {
                model,
                input: expected.join(format!("{name}.input.npy")),
                output: expected.join(format!("{name}.output.npy")),
            },
            ops,
        });
    }
    cases.retain(|c| filter.is_empty() || filter.iter().any(|f| c.name.contains(f.as_str())));
    Ok(cases)
}

/// An ONNX `TensorProto.DataType` as a wdnn dtype, or the ONNX name of one wdnn does not have.
pub(super) fn onnx_dtype(code: i32) -> Result<DType, String> {
    Ok(match code {
        1 => DType::F32,
        2 => DType::U8,
        3 => DType::I8,
        4 => DType::U16,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::I64,
        9 => DType::Bool,
        10 => DType::F16,
        11 => DType::F64,
        12 => DType::U32,
        13 => DType::U64,
        other => {
            let name = match other {
                8 => "string",
                14 => "complex64",
                15 => "complex128",
                16 => "bfloat16",
                17 => "float8e4m3fn",
                18 => "float8e4m3fnuz",
                19 => "float8e5m2",
                20 => "float8e5m2fnuz",
                21 => "uint4",
                22 => "int4",
                23 => "float4e2m1",
                24 => "float8e8m0",
                25 => "uint2",
                26 => "int2",
                _ => "unknown",
            };
            return Err(format!("{name} ({other})"));
        }
    })
}

/// Reads a TensorProto file (test data), and the host tensor it holds.
pub(super) fn read_tensor_file(path: &Path) -> Result<(TensorProto, Tensor), Outcome> {
    let bad = |detail: String| Outcome::new(Class::RunnerError, format!("{}: {detail}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let proto = tract_onnx::tensor::proto_from_reader(file).map_err(|e| bad(format!("{e:?}")))?;
    let tensor = tensor_from_proto(&proto).map_err(|e| match e {
        ProtoError::Dtype(d) => Outcome::new(Class::Unsupported, format!("test data of dtype {d}")),
        ProtoError::Bad(d) => bad(d),
    })?;
    Ok((proto, tensor))
}

enum ProtoError {
    Dtype(String),
    Bad(String),
}

fn tensor_from_proto(t: &TensorProto) -> Result<Tensor, ProtoError> {
    let dtype = onnx_dtype(t.data_type).map_err(ProtoError::Dtype)?;
    let shape: Vec<u64> = t
        .dims
        .iter()
        .map(|&d| u64::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|e| ProtoError::Bad(e.to_string()))?;
    let numel: u64 = shape.iter().product();
    let bytes: Vec<u8> = if !t.raw_data.is_empty() || numel == 0 {
        t.raw_data.clone()
    } else {
        match dtype {
            DType::F32 => t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::F64 => t.double_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::I64 => t.int64_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::U32 => t.uint64_data.iter().flat_map(|&v| (v as u32).to_le_bytes()).collect(),
            DType::U64 => t.uint64_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::I32 => t.int32_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            // int32_data holds the narrower types one per element (f16 as its bits).
            DType::I16 | DType::U16 | DType::F16 => {
                t.int32_data.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect()
            }
            DType::I8 | DType::U8 | DType::Bool => t.int32_data.iter().map(|&v| v as u8).collect(),
        }
    };
    Tensor::from_bytes(dtype, &shape, bytes).map_err(|e| ProtoError::Bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::compare::floats;

    #[test]
    fn tensor_proto_typed_fields() {
        let proto =
            TensorProto { dims: vec![2], data_type: 10, int32_data: vec![0x3c00, 0xc000], ..Default::default() };
        let t = tensor_from_proto(&proto).ok().unwrap();
        assert_eq!(floats(&t).unwrap(), vec![1.0, -2.0]);
        let proto = TensorProto { dims: vec![], data_type: 7, int64_data: vec![-5], ..Default::default() };
        assert_eq!(tensor_from_proto(&proto).ok().unwrap().to_vec::<i64>().unwrap(), vec![-5]);
        let proto = TensorProto { dims: vec![1], data_type: 16, ..Default::default() };
        assert!(matches!(tensor_from_proto(&proto), Err(ProtoError::Dtype(d)) if d.starts_with("bfloat16")));
    }
}
