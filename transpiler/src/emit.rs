//! One backend's files from the graph its schedule produced (`pipeline::run_backend`): the static memory plan, then
//! the encoding of the graph descriptor (with the target's payloads) and of the weights file.

use std::collections::HashMap;

use wdnn_descriptor_spec::weights::WeightsWriter;
use wdnn_descriptor_spec::{Graph as Descriptor, IoBinding, Kernel, Storage, TensorDesc, TensorId};

use crate::codegen::Target;
use crate::error::ConvertError;
use crate::ir::{Graph, ValueId};
use crate::lossy::lossy_axes;
use crate::passes;
use crate::plan::{self, MemoryPlan};

/// How large f32 weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightFormat {
    /// Exact f32 values.
    #[default]
    F32,
    /// IEEE binary16.
    F16,
    /// Symmetric int8 per output channel.
    Int8,
}

impl std::str::FromStr for WeightFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(WeightFormat::F32),
            "f16" => Ok(WeightFormat::F16),
            "int8" => Ok(WeightFormat::Int8),
            other => Err(format!("unknown weight format `{other}` (expected f32, f16 or int8)")),
        }
    }
}

/// One backend's encoded files.
pub struct EmittedBackend {
    /// The graph descriptor's bytes.
    pub graph: Vec<u8>,
    /// The weights file's bytes.
    pub weights: Vec<u8>,
    /// The memory plan it uses.
    pub plan: MemoryPlan,
    /// Number of kernels.
    pub kernels: usize,
    /// Kernels per op in the descriptor.
    pub census: Vec<(String, usize)>,
    /// The format features the descriptor needs (its manifest entry's `features`).
    pub features: Vec<String>,
}

/// Builds `target`'s descriptor and weights from `graph`, the result of its schedule: the memory plan, the
/// descriptor's tensors and kernels, the target's payloads (`Target::finish`), then both encodings.
pub fn emit(
    graph: &Graph,
    target: &dyn Target,
    format: WeightFormat,
    level: i32,
) -> Result<EmittedBackend, ConvertError> {
    let plan = plan::plan(graph, target.alignment());
    let lossy = lossy_axes(graph);
    let mut writer = WeightsWriter::new();
    let mut tensors: Vec<TensorDesc> = Vec::new();
    let mut ids: HashMap<ValueId, TensorId> = HashMap::new();
    let mut tensor_of = |v: ValueId,
                         tensors: &mut Vec<TensorDesc>,
                         writer: &mut WeightsWriter|
     -> Result<TensorId, ConvertError> {
        if let Some(&id) = ids.get(&v) {
            return Ok(id);
        }
        let value = graph.value(v);
        let storage = match &value.constant {
            Some(t) => {
                let id = match (format, lossy.get(&v)) {
                    (WeightFormat::F16, Some(_)) => writer.add_f16(&value.name, &value.shape, &f32s(t, &value.name)?),
                    (WeightFormat::Int8, Some(&axis)) => {
                        writer.add_int8(&value.name, &value.shape, &f32s(t, &value.name)?, axis)
                    }
                    _ => writer.add_raw(&value.name, value.dtype, &value.shape, t.bytes()),
                };
                Storage::Weight { id }
            }
            None => {
                let offset = plan.offsets[v.0 as usize].ok_or_else(|| ConvertError::Internal {
                    stage: "memory planning".into(),
                    detail: format!("value `{}` has no arena offset", value.name),
                })?;
                Storage::Arena { offset }
            }
        };
        tensors.push(TensorDesc { name: value.name.clone(), dtype: value.dtype, shape: value.shape.clone(), storage });
        let id = tensors.len() as TensorId - 1;
        ids.insert(v, id);
        Ok(id)
    };

    let mut inputs = Vec::new();
    for &v in &graph.inputs {
        inputs.push(IoBinding { name: graph.value(v).name.clone(), tensor: tensor_of(v, &mut tensors, &mut writer)? });
    }
    let mut kernels = Vec::with_capacity(graph.nodes.len());
    for (i, node) in graph.nodes.iter().enumerate() {
        if passes::is_elided(graph, i) {
            continue;
        }
        let ins = node.inputs.iter().map(|&v| tensor_of(v, &mut tensors, &mut writer)).collect::<Result<_, _>>()?;
        let outs = node.outputs.iter().map(|&v| tensor_of(v, &mut tensors, &mut writer)).collect::<Result<_, _>>()?;
        kernels.push(Kernel {
            name: node.name.clone(),
            op: node.op.clone(),
            inputs: ins,
            outputs: outs,
            payload: None,
        });
    }
    let mut outputs = Vec::new();
    for (name, v) in &graph.outputs {
        outputs.push(IoBinding { name: name.clone(), tensor: tensor_of(*v, &mut tensors, &mut writer)? });
    }
    let mut descriptor = Descriptor {
        name: graph.name.clone(),
        backend: target.name().to_string(),
        tensors,
        inputs,
        outputs,
        kernels,
        arena_size: plan.arena_size,
        alignment: target.alignment() as u32,
        shaders: vec![],
    };
    target.finish(graph, &mut descriptor)?;
    descriptor.validate("generated descriptor").map_err(|e| ConvertError::Internal {
        stage: format!("{} code generation", target.name()),
        detail: e.to_string(),
    })?;
    let kernels = descriptor.kernels.len();
    let census = graph.op_census_where(|i| !passes::is_elided(graph, i));
    let features = descriptor.required_features();
    Ok(EmittedBackend {
        graph: descriptor.to_bytes()?,
        weights: writer.finish(level)?,
        plan,
        kernels,
        census,
        features,
    })
}

fn f32s(t: &wdnn_runner_core::Tensor, name: &str) -> Result<Vec<f32>, ConvertError> {
    t.to_vec::<f32>()
        .map_err(|e| ConvertError::Internal { stage: "weight encoding".into(), detail: format!("{name}: {e}") })
}
