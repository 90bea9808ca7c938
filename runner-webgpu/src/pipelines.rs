//! Shader modules, bind group layouts and compute pipelines: one pipeline per (shader, entry point, access signature),
//! however many kernels share it, all created up front (in parallel threads natively).

use std::collections::HashMap;

use wdnn_descriptor_spec::{Graph, KernelPayload};
use wdnn_runner_core::Result;

use crate::{sync, unavailable};

/// Which bindings of a kernel are writable, in binding order: the key of a bind group layout.
pub(crate) type Signature = Vec<bool>;

/// What makes a pipeline distinct: the shader's index, the entry point and the access signature.
pub(crate) type PipelineKey = (u32, String, Signature);

/// The model's pipelines.
pub(crate) struct Pipelines {
    /// One bind group layout per access signature.
    pub layouts: HashMap<Signature, wgpu::BindGroupLayout>,
    /// The distinct pipelines.
    pub pipelines: Vec<wgpu::ComputePipeline>,
    /// For each kernel with a WGSL payload, in graph order, the index of its pipeline.
    pub pipeline_of: Vec<usize>,
}

/// The access signature of a kernel's bindings.
pub(crate) fn signature(bindings: &[wdnn_descriptor_spec::Binding]) -> Signature {
    bindings.iter().map(|b| b.writable).collect()
}

/// The distinct pipelines of `graph` in order of first use, and for each kernel with a WGSL payload the index of
/// its pipeline.
pub(crate) fn distinct(graph: &Graph) -> (Vec<PipelineKey>, Vec<usize>) {
    let mut keys: Vec<PipelineKey> = Vec::new();
    let mut index: HashMap<PipelineKey, usize> = HashMap::new();
    let mut pipeline_of: Vec<usize> = Vec::new();
    for k in &graph.kernels {
        let Some(KernelPayload::Wgsl { shader, entry_point, bindings, .. }) = &k.payload else {
            continue;
        };
        let key = (*shader, entry_point.clone(), signature(bindings));
        let i = *index.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            keys.len() - 1
        });
        pipeline_of.push(i);
    }
    (keys, pipeline_of)
}

impl Pipelines {
    /// Creates every layout, module and pipeline `graph` needs (`keys` and `pipeline_of` from [`distinct`]), through
    /// `cache` where there is one. With `trusted_shaders`, modules skip wgpu's runtime bounds checks.
    pub fn create(
        device: &wgpu::Device,
        graph: &Graph,
        (keys, pipeline_of): (&[PipelineKey], Vec<usize>),
        trusted_shaders: bool,
        cache: Option<&wgpu::PipelineCache>,
    ) -> Result<Pipelines> {
        let mut layouts: HashMap<Signature, wgpu::BindGroupLayout> = HashMap::new();
        for (_, _, signature) in keys {
            layouts.entry(signature.clone()).or_insert_with(|| bind_group_layout(device, signature));
        }
        let jobs: Vec<(&str, &str, wgpu::PipelineLayout)> = keys
            .iter()
            .map(|(shader, entry, signature)| {
                let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: None,
                    bind_group_layouts: &[Some(&layouts[signature])],
                    immediate_size: 0,
                });
                (graph.shaders[*shader as usize].as_str(), entry.as_str(), layout)
            })
            .collect();
        // Each job parses, validates and translates its shader (naga) and has the driver compile it (or find it in
        // the cache): natively in parallel threads, both halves of the work.
        let pipelines = sync::parallel_map(&jobs, |(source, entry, layout)| {
            let desc = wgpu::ShaderModuleDescriptor { label: None, source: wgpu::ShaderSource::Wgsl((*source).into()) };
            let module = if trusted_shaders {
                // SAFETY: opted into by the caller for converter-generated shaders, which index only within the
                // bounds their generator computed from the descriptor's shapes.
                unsafe { device.create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked()) }
            } else {
                device.create_shader_module(desc)
            };
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: None,
                layout: Some(layout),
                module: &module,
                entry_point: Some(*entry),
                compilation_options: Default::default(),
                cache,
            })
        });
        if pipelines.len() != jobs.len() {
            return Err(unavailable("creating the compute pipelines failed".into()));
        }
        Ok(Pipelines { layouts, pipelines, pipeline_of })
    }
}

/// A layout of storage buffers, read-only or read-write as `signature` says.
fn bind_group_layout(device: &wgpu::Device, signature: &[bool]) -> wgpu::BindGroupLayout {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = signature
        .iter()
        .enumerate()
        .map(|(i, &w)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: !w },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: None, entries: &entries })
}
