//! The arena and the weight buffers. Weights are uploaded once, decoded to what the shaders read: f16 and int8
//! encodings of f32 weights become f32, so every shader has one f32 code path whatever the bundle's weight format.
//! The weights a `webgpu-f16` descriptor stores as binary16 (dtype `f16`, SPEC §6.1.1) are raw f16 values, uploaded
//! as they are.

use std::collections::HashMap;

use wdnn_descriptor_spec::{Encoding, Graph, KernelPayload, Storage, TensorId};
use wdnn_runner_core::{Result, Weights};

use crate::{round4, sync};

/// The model's buffers on the device.
pub(crate) struct Buffers {
    /// The activation arena (SPEC §4.4): inputs, intermediates and outputs at their planned offsets.
    pub arena: wgpu::Buffer,
    /// One buffer per weight that a kernel binds or an output names.
    pub weights: Vec<wgpu::Buffer>,
    /// Weight id → index in `weights`.
    pub weight_index: HashMap<u32, usize>,
}

impl Buffers {
    /// Creates the arena and uploads every weight that is bound or is an output, each once.
    pub fn upload(device: &wgpu::Device, graph: &Graph, weights: &Weights) -> Result<Buffers> {
        let arena = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("arena"),
            size: round4(graph.arena_size.max(4)),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut ids: Vec<u32> = Vec::new();
        let mut weight_index: HashMap<u32, usize> = HashMap::new();
        let mut bound: Vec<TensorId> = Vec::new();
        for k in &graph.kernels {
            if let Some(KernelPayload::Wgsl { bindings, .. }) = &k.payload {
                bound.extend(bindings.iter().map(|b| b.tensor));
            }
        }
        bound.extend(graph.outputs.iter().map(|o| o.tensor));
        for id in bound {
            if let Some(Storage::Weight { id }) = graph.tensors.get(id as usize).map(|t| t.storage)
                && !weight_index.contains_key(&id)
            {
                weight_index.insert(id, ids.len());
                ids.push(id);
            }
        }
        // Natively the weights are decoded and copied in parallel threads (each into its own buffer): copying into
        // mapped GPU memory runs at a few GB/s a thread, and VGG-19 has half a gigabyte of weights.
        // Largest first, so that no thread is left with a large one at the end.
        let mut order: Vec<(usize, u32)> = ids.iter().copied().enumerate().collect();
        let size = |id: u32| weights.index.tensors.get(id as usize).map_or(0, |t| t.shape.iter().product::<u64>());
        order.sort_by_key(|&(_, id)| std::cmp::Reverse(size(id)));
        let made = sync::parallel_map(&order, |&(_, id)| weight_buffer(device, weights, id));
        if made.len() != ids.len() {
            return Err(wdnn_runner_core::RunnerError::Unavailable {
                backend: crate::NAME.to_string(),
                reason: "uploading the weights failed (a thread panicked)".into(),
            });
        }
        let mut weight_buffers: Vec<Option<wgpu::Buffer>> = (0..ids.len()).map(|_| None).collect();
        for ((slot, _), buffer) in order.iter().zip(made) {
            weight_buffers[*slot] = Some(buffer?);
        }
        let weight_buffers = weight_buffers.into_iter().flatten().collect();
        Ok(Buffers { arena, weights: weight_buffers, weight_index })
    }
}

/// A weight's buffer, holding its values as the shaders read them: raw little-endian values, with f16 and int8
/// encodings decoded to f32, padded to a multiple of 4 bytes. Raw values are copied from the decoded stream
/// straight into the buffer's mapping (one copy on the CPU, none made per weight).
fn weight_buffer(device: &wgpu::Device, weights: &Weights, id: u32) -> Result<wgpu::Buffer> {
    let entry = weights.entry(id)?;
    let decoded;
    let bytes: &[u8] = match entry.encoding {
        Encoding::Raw => entry.bytes(&weights.stream),
        _ => {
            decoded = entry.to_f32(&weights.stream)?;
            bytemuck::cast_slice::<f32, u8>(&decoded)
        }
    };
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("weight"),
        size: round4(bytes.len().max(4) as u64),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: true,
    });
    {
        let mut view = buffer.get_mapped_range_mut(..).map_err(|e| wdnn_runner_core::RunnerError::Unavailable {
            backend: crate::NAME.to_string(),
            reason: format!("mapping weight `{}` for upload failed: {e}", entry.name),
        })?;
        // The padding stays zero: wgpu zeroes a buffer mapped at creation.
        view.slice(..bytes.len()).copy_from_slice(bytes);
    }
    buffer.unmap();
    Ok(buffer)
}
