//! From the optimized IR to the files of a bundle: per target a graph descriptor and a weights file, then the
//! manifest.

use std::collections::HashMap;

use wdnn_descriptor_spec::weights::WeightsWriter;
use wdnn_descriptor_spec::{DType, Graph as Descriptor, IoBinding, Kernel, Op, Storage, TensorDesc, TensorId};

use crate::codegen::Target;
use crate::error::ConvertError;
use crate::ir::{Graph, ValueId};
use crate::passes::layout::{self, Layout};
use crate::passes::{self, concat_views, dead_code, fold_constants, in_place, reshape_views};
use crate::pipeline::{self, PassReport, PassSelection};
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

/// Only weights at least this large are compressed lossily; biases and small tensors stay exact.
const LOSSY_MIN_ELEMENTS: u64 = 1024;

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
    /// What the backend's memory passes did.
    pub passes: Vec<PassReport>,
    /// Kernels per op in the descriptor.
    pub census: Vec<(String, usize)>,
}

/// The output-channel axis of each large f32 weight of a Conv, ConvTranspose or MatMul: where lossy encodings
/// apply, and along which axis int8 scales run.
fn lossy_axes(graph: &Graph) -> HashMap<ValueId, usize> {
    let mut axes = HashMap::new();
    for node in &graph.nodes {
        for (slot, &input) in node.inputs.iter().enumerate() {
            let value = graph.value(input);
            if value.constant.is_none() || value.dtype != DType::F32 || value.numel() < LOSSY_MIN_ELEMENTS {
                continue;
            }
            let rank = value.shape.len();
            let axis = match (&node.op, slot) {
                (Op::Conv { .. }, 1) => 0,
                (Op::ConvTranspose { .. }, 1) => 1,
                (Op::MatMul { transpose_b, .. }, 1) if rank >= 2 => rank - if *transpose_b { 2 } else { 1 },
                (Op::MatMul { transpose_a, .. }, 0) if rank >= 2 => rank - if *transpose_a { 1 } else { 2 },
                _ => continue,
            };
            axes.entry(input).or_insert(axis);
        }
    }
    axes
}

/// Builds one backend's descriptor and weights from the optimized `graph`: its activation layout (the backend's,
/// unless `layout` overrides it), the backend's layout hook, its memory passes (as `selection` allows), the memory
/// plan, then encoding.
pub fn emit(
    graph: &Graph,
    target: &dyn Target,
    format: WeightFormat,
    level: i32,
    selection: &PassSelection,
    layout: Option<Layout>,
) -> Result<EmittedBackend, ConvertError> {
    let mut graph = graph.clone();
    let mut passes = Vec::new();
    if layout.unwrap_or(target.activation_layout()) == Layout::ChannelsLast {
        passes.push(pipeline::run_one(&mut graph, "layout", layout::to_channels_last)?);
        passes.push(pipeline::run_one(&mut graph, "fold-constants", fold_constants::run)?);
        passes.push(pipeline::run_one(&mut graph, "dead-code", dead_code::run)?);
    }
    target.prepare(&mut graph)?;
    pipeline::check(&graph, &format!("{} layout", target.name()))?;
    if target.concat_views() && selection.enabled("concat-views") {
        let alignment = target.alignment();
        passes.push(pipeline::run_one(&mut graph, "concat-views", |g| concat_views::run(g, alignment))?);
    }
    if selection.enabled("reshape-views") {
        passes.push(pipeline::run_one(&mut graph, "reshape-views", reshape_views::run)?);
    }
    if target.in_place() && selection.enabled("in-place") {
        passes.push(pipeline::run_one(&mut graph, "in-place", in_place::run)?);
    }
    let graph = &graph;
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
    Ok(EmittedBackend { graph: descriptor.to_bytes()?, weights: writer.finish(level)?, plan, kernels, passes, census })
}

fn f32s(t: &wdnn_runner_core::Tensor, name: &str) -> Result<Vec<f32>, ConvertError> {
    t.to_vec::<f32>()
        .map_err(|e| ConvertError::Internal { stage: "weight encoding".into(), detail: format!("{name}: {e}") })
}
