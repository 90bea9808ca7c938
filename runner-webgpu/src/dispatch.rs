//! What a run records: one bind group per kernel, where the inputs are written and the outputs read back, and the
//! command buffer holding every dispatch in one compute pass followed by the output copies.

use std::num::NonZeroU64;

use wdnn_descriptor_spec::{DType, Graph, KernelPayload, Storage};
use wdnn_runner_core::Result;

use crate::pipelines::{Pipelines, signature};
use crate::timing::Timestamps;
use crate::upload::Buffers;
use crate::{invalid, round4};

/// One dispatch of a run.
pub(crate) struct Step {
    /// The kernel's name.
    pub name: String,
    /// The kernel's op.
    pub op: &'static str,
    /// Index of its pipeline.
    pub pipeline: usize,
    pub bind_group: wgpu::BindGroup,
    /// Workgroups in x, y and z.
    pub dispatch: [u32; 3],
}

/// Creates each kernel's bind group over the arena and weight buffers. Kernels dispatching no workgroup are left out.
pub(crate) fn bind(
    device: &wgpu::Device,
    graph: &Graph,
    pipelines: &Pipelines,
    buffers: &Buffers,
) -> Result<Vec<Step>> {
    let mut steps = Vec::with_capacity(graph.kernels.len());
    let mut pipeline_iter = pipelines.pipeline_of.iter().copied();
    for k in &graph.kernels {
        let Some(KernelPayload::Wgsl { dispatch, bindings, .. }) = &k.payload else {
            continue;
        };
        let pipeline = pipeline_iter.next().ok_or_else(|| invalid("pipeline bookkeeping".into()))?;
        if dispatch.contains(&0) {
            continue;
        }
        let mut entries = Vec::with_capacity(bindings.len());
        for b in bindings {
            let t = &graph.tensors[b.tensor as usize];
            let (buffer, offset, size) = match t.storage {
                Storage::Arena { offset } => (&buffers.arena, offset, round4(t.byte_size())),
                Storage::Weight { id } => {
                    let buffer = &buffers.weights[buffers.weight_index[&id]];
                    (buffer, 0, buffer.size())
                }
            };
            entries.push(wgpu::BindGroupEntry {
                binding: b.binding,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset,
                    size: NonZeroU64::new(size),
                }),
            });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&k.name),
            layout: &pipelines.layouts[&signature(bindings)],
            entries: &entries,
        });
        steps.push(Step { name: k.name.clone(), op: k.op.name(), pipeline, bind_group, dispatch: *dispatch });
    }
    Ok(steps)
}

/// Where an output comes from and where it lands in the readback buffer.
pub(crate) struct OutputCopy {
    /// `None`: the arena; `Some(i)`: weight buffer `i`.
    pub source: Option<usize>,
    pub offset: u64,
    pub size: u64,
    /// Offset in the readback buffer (256-byte aligned).
    pub staged_at: u64,
    pub dtype: DType,
    pub shape: Vec<u64>,
}

/// Where an input is staged and where the run copies it to.
pub(crate) struct InputCopy {
    /// Offset in the upload buffer (256-byte aligned).
    pub staged_at: u64,
    /// Offset in the arena.
    pub offset: u64,
    /// Bytes copied (the input's size rounded up to 4).
    pub size: u64,
}

/// The model's inputs and outputs on the device.
pub(crate) struct Io {
    /// Each input, in graph order.
    pub inputs: Vec<InputCopy>,
    /// Where the inputs are written: a buffer mapped for writing between runs (mapped at creation, then again as
    /// soon as the run that read it is done), copied into the arena at the start of each run. No staging buffer is
    /// made per run.
    pub upload: wgpu::Buffer,
    pub outputs: Vec<OutputCopy>,
    /// Where every output is copied for reading.
    pub readback: wgpu::Buffer,
}

impl Io {
    /// Places the inputs (which must live in the arena) and stages the outputs in one readback buffer.
    pub fn plan(device: &wgpu::Device, graph: &Graph, buffers: &Buffers) -> Result<Io> {
        let mut inputs = Vec::new();
        let mut uploaded = 0u64;
        for io in &graph.inputs {
            let t = &graph.tensors[io.tensor as usize];
            let Storage::Arena { offset } = t.storage else {
                return Err(invalid(format!("input `{}` is not in the arena", io.name)));
            };
            let size = round4(t.byte_size());
            inputs.push(InputCopy { staged_at: uploaded, offset, size });
            uploaded += size.div_ceil(256) * 256;
        }
        let upload = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("upload"),
            size: uploaded.max(4),
            usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: true,
        });
        let mut outputs = Vec::new();
        let mut staged = 0u64;
        for io in &graph.outputs {
            let t = &graph.tensors[io.tensor as usize];
            let (source, offset) = match t.storage {
                Storage::Arena { offset } => (None, offset),
                Storage::Weight { id } => (Some(buffers.weight_index[&id]), 0),
            };
            let size = round4(t.byte_size());
            outputs.push(OutputCopy {
                source,
                offset,
                size,
                staged_at: staged,
                dtype: t.dtype,
                shape: t.shape.clone(),
            });
            staged += size.div_ceil(256) * 256;
        }
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: staged.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Io { inputs, upload, outputs, readback })
    }
}

/// Everything a run's command buffer refers to.
pub(crate) struct Program<'a> {
    pub steps: &'a [Step],
    pub pipelines: &'a [wgpu::ComputePipeline],
    pub buffers: &'a Buffers,
    pub io: &'a Io,
    pub timestamps: Option<&'a Timestamps>,
}

/// Records one run: the copies of the inputs into the arena, every dispatch in one compute pass, then the copies
/// of the outputs (and timestamps).
pub(crate) fn encode(device: &wgpu::Device, p: Program) -> wgpu::CommandBuffer {
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    for i in &p.io.inputs {
        encoder.copy_buffer_to_buffer(&p.io.upload, i.staged_at, &p.buffers.arena, i.offset, i.size);
    }
    {
        let timestamp_writes = p.timestamps.map(|t| wgpu::ComputePassTimestampWrites {
            query_set: &t.set,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        });
        let mut pass =
            encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("model"), timestamp_writes });
        let mut current = usize::MAX;
        let profile = p.timestamps.filter(|t| t.per_dispatch);
        for (i, step) in p.steps.iter().enumerate() {
            if let Some(t) = profile {
                pass.write_timestamp(&t.set, i as u32 + 2);
            }
            if step.pipeline != current {
                pass.set_pipeline(&p.pipelines[step.pipeline]);
                current = step.pipeline;
            }
            pass.set_bind_group(0, &step.bind_group, &[]);
            pass.dispatch_workgroups(step.dispatch[0], step.dispatch[1], step.dispatch[2]);
        }
    }
    let stamp_count = p.timestamps.map_or(0, |t| t.resolve.size() / 8) as u32;
    for o in &p.io.outputs {
        let source = o.source.map_or(&p.buffers.arena, |i| &p.buffers.weights[i]);
        encoder.copy_buffer_to_buffer(source, o.offset, &p.io.readback, o.staged_at, o.size);
    }
    if let Some(t) = p.timestamps {
        encoder.resolve_query_set(&t.set, 0..stamp_count, &t.resolve, 0);
        encoder.copy_buffer_to_buffer(&t.resolve, 0, &t.readback, 0, t.resolve.size());
    }
    encoder.finish()
}
