//! The graph a runner may execute (SPEC §4.5, §4.6): every check that makes running the kernels in order safe and
//! meaningful, done once at load and shared by every backend.
//!
//! A descriptor is untrusted: its checksums prove only that it arrived as sent. Before any kernel runs, this module
//! establishes that every id resolves, every size is computed without overflow and lies within the load limits,
//! every arena range lies inside the arena, every kernel's inputs and outputs fit its op (arity, ranks, attribute
//! lengths, axes, element counts), and that the kernel order is executable: each read finds the bytes its tensor was
//! given by the write that produced it (nothing read before it is written, nothing clobbered while still live except
//! through the aliasing the plan declares, §4.4), and each tensor is produced once.

mod ops;
mod plan;

use crate::graph::{Graph, KernelPayload, Storage, TensorId};
use crate::{DescriptorError, LoadLimits, Result};

/// Checks `graph` completely (SPEC §4.5 steps 1–4 and §4.6). `what` names the file in errors.
pub fn validate(graph: &Graph, what: &str, limits: &LoadLimits) -> Result<()> {
    let invalid = |detail: String| DescriptorError::Invalid { what: what.to_string(), detail };
    let limit = |field: &str, value: u64, max: u64| {
        if value > max {
            return Err(DescriptorError::Limit { what: what.to_string(), field: field.to_string(), value, limit: max });
        }
        Ok(())
    };
    limit("tensor count", graph.tensors.len() as u64, limits.max_tensors)?;
    limit("kernel count", graph.kernels.len() as u64, limits.max_kernels)?;
    limit("arena_size", graph.arena_size, limits.max_arena_size)?;
    if !graph.alignment.is_power_of_two() {
        return Err(invalid(format!("alignment {} is not a power of two", graph.alignment)));
    }
    for (id, t) in graph.tensors.iter().enumerate() {
        limit(&format!("rank of tensor {id} `{}`", t.name), t.shape.len() as u64, limits.max_rank)?;
        let size = t.checked_byte_size().ok_or_else(|| {
            invalid(format!("tensor {id} `{}`: shape {:?} of {} overflows 2^64 bytes", t.name, t.shape, t.dtype))
        })?;
        if let Storage::Arena { offset } = t.storage {
            if offset.checked_add(size).is_none_or(|end| end > graph.arena_size) {
                return Err(invalid(format!(
                    "tensor {id} `{}` ({size} bytes at offset {offset}) lies outside the arena of {} bytes",
                    t.name, graph.arena_size
                )));
            }
            if offset % graph.alignment as u64 != 0 {
                return Err(invalid(format!("tensor {id} `{}` offset {offset} is not aligned", t.name)));
            }
        }
    }
    let tensor = |id: TensorId| graph.tensors.get(id as usize);
    for (role, list) in [("input", &graph.inputs), ("output", &graph.outputs)] {
        for io in list {
            tensor(io.tensor)
                .ok_or_else(|| invalid(format!("model {role} `{}`: tensor id {} out of range", io.name, io.tensor)))?;
        }
    }
    for (n, io) in graph.inputs.iter().enumerate() {
        if !matches!(graph.tensors[io.tensor as usize].storage, Storage::Arena { .. }) {
            return Err(invalid(format!("input `{}` is not an arena tensor", io.name)));
        }
        if let Some(other) = graph.inputs[..n].iter().find(|o| o.tensor == io.tensor) {
            return Err(invalid(format!("inputs `{}` and `{}` are bound to one tensor", other.name, io.name)));
        }
    }
    for (index, k) in graph.kernels.iter().enumerate() {
        let bad = |field: &str, detail: String| kernel_error(what, index, graph, field, detail);
        for (j, &i) in k.inputs.iter().enumerate() {
            tensor(i).ok_or_else(|| bad(&format!("inputs[{j}]"), format!("tensor id {i} out of range")))?;
        }
        for (j, &o) in k.outputs.iter().enumerate() {
            let t = tensor(o).ok_or_else(|| bad(&format!("outputs[{j}]"), format!("tensor id {o} out of range")))?;
            if !matches!(t.storage, Storage::Arena { .. }) {
                return Err(bad(&format!("outputs[{j}]"), format!("writes the weight `{}`", t.name)));
            }
        }
        match &k.payload {
            Some(KernelPayload::Wgsl { shader, .. }) if *shader as usize >= graph.shaders.len() => {
                return Err(bad("payload.shader", format!("shader {shader} out of range")));
            }
            Some(KernelPayload::Unknown)
            | Some(KernelPayload::Packed { layout: crate::packing::PackedLayout::Unknown, .. }) => {
                // The kind's name is filled in by `Graph::from_bytes_with`, which has the raw head.
                return Err(DescriptorError::UnknownPayload {
                    what: what.to_string(),
                    kernel: k.name.clone(),
                    kind: "?".to_string(),
                    major: crate::FORMAT_MAJOR,
                    minor: crate::FORMAT_MINOR,
                });
            }
            Some(KernelPayload::Packed { .. }) => {
                let packed = k.inputs.get(1).map(|&i| &graph.tensors[i as usize]);
                if !packed.is_some_and(|t| t.dtype == crate::DType::F32 && t.shape.len() == 1) {
                    return Err(bad("inputs[1]", "packed weights must be a one-dimensional f32 input 1".to_string()));
                }
            }
            _ => {}
        }
    }
    for (index, _) in graph.kernels.iter().enumerate() {
        ops::check(graph, index).map_err(|(field, detail)| kernel_error(what, index, graph, &field, detail))?;
        if let Some(KernelPayload::Wgsl { bindings, .. }) = &graph.kernels[index].payload {
            check_bindings(graph, index, bindings)
                .map_err(|(field, detail)| kernel_error(what, index, graph, &field, detail))?;
        }
    }
    plan::check(graph, what)
}

/// A `Wgsl` payload's bindings (SPEC §6): numbered from 0, each a distinct tensor of the kernel, every output bound
/// writable, no weight writable.
fn check_bindings(graph: &Graph, index: usize, bindings: &[crate::Binding]) -> ops::Check {
    let k = &graph.kernels[index];
    for (i, b) in bindings.iter().enumerate() {
        let field = format!("payload.bindings[{i}]");
        if b.binding as usize != i {
            return Err((field, format!("binding number {} is not {i}", b.binding)));
        }
        if !k.inputs.contains(&b.tensor) && !k.outputs.contains(&b.tensor) {
            return Err((field, format!("binds tensor {} that the kernel neither reads nor writes", b.tensor)));
        }
        if bindings[..i].iter().any(|o| o.tensor == b.tensor) {
            return Err((field, format!("binds tensor {} a second time", b.tensor)));
        }
        let t = &graph.tensors[b.tensor as usize];
        if b.writable && !matches!(t.storage, Storage::Arena { .. }) {
            return Err((field, format!("binds the weight `{}` writable", t.name)));
        }
    }
    for (j, o) in k.outputs.iter().enumerate() {
        if graph.tensors[*o as usize].byte_size() > 0 && !bindings.iter().any(|b| b.tensor == *o && b.writable) {
            return Err((format!("outputs[{j}]"), "the output has no writable binding".to_string()));
        }
    }
    Ok(())
}

fn kernel_error(what: &str, index: usize, graph: &Graph, field: &str, detail: String) -> DescriptorError {
    let k = &graph.kernels[index];
    DescriptorError::InvalidKernel {
        what: what.to_string(),
        index,
        fault: Box::new(crate::KernelFault {
            kernel: k.name.clone(),
            op: k.op.name().to_string(),
            field: field.to_string(),
            detail,
        }),
    }
}
