//! WGSL from a descriptor is code from the network (SPEC §6.3): before any shader module is created, each kernel's
//! shader is parsed (naga) and compared with what the runner will bind.
//!
//! Per kernel: the entry point exists, is a compute entry point and declares the payload's workgroup size; every
//! resource the shader declares is a storage buffer in group 0 that the payload binds, with the same access mode,
//! and the shader's type for it needs no more bytes than the bound range holds (a fixed-size `array<f32, N>` larger
//! than its tensor is refused, where wgpu would otherwise clamp or, with trusted shaders, read past it); the
//! workgroup memory is reported for the adapter check. wgpu's bounds checks stay on by default on top of this: they
//! bound what a shader's indices do, which no static check can.

use std::collections::HashMap;

use naga::{AddressSpace, ShaderStage, StorageAccess};
use wdnn_descriptor_spec::{DType, Graph, KernelPayload, Storage, TensorDesc};

/// The bytes the runner binds for tensor `t` (SPEC §6.1): an arena range rounded up to 4, or a weight's values as
/// uploaded (f32 weights as f32 whatever their encoding).
pub(crate) fn bound_size(t: &TensorDesc) -> u64 {
    let bytes = match t.storage {
        Storage::Arena { .. } => t.byte_size(),
        Storage::Weight { .. } if t.dtype == DType::F32 => t.numel().saturating_mul(4),
        Storage::Weight { .. } => t.byte_size(),
    };
    bytes.max(4).div_ceil(4).saturating_mul(4)
}

/// Checks every kernel's shader against its payload and the graph; returns the most workgroup memory one uses, for
/// the adapter check. The error names the kernel, and the binding where there is one.
pub(crate) fn check_shaders(graph: &Graph) -> Result<u64, String> {
    let mut most_workgroup_bytes = 0u64;
    // Each distinct shader is parsed once, natively in parallel threads (a model has tens of them); the first kernel
    // that names a shader is the one an error about it names.
    let mut first_use: Vec<(u32, usize)> = Vec::new();
    for (index, k) in graph.kernels.iter().enumerate() {
        if let Some(KernelPayload::Wgsl { shader, .. }) = &k.payload
            && !first_use.iter().any(|(s, _)| s == shader)
        {
            first_use.push((*shader, index));
        }
    }
    let parse = |&(shader, index): &(u32, usize)| -> Result<(naga::Module, naga::proc::Layouter), String> {
        let k = &graph.kernels[index];
        let bad = |detail: String| format!("kernel #{index} `{}` ({}): {detail}", k.name, k.op.name());
        let source = graph.shaders.get(shader as usize).ok_or_else(|| bad(format!("no shader {shader}")))?;
        let module = naga::front::wgsl::parse_str(source)
            .map_err(|e| bad(format!("shader {shader} does not parse: {}", e.emit_to_string(source))))?;
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).map_err(|e| bad(format!("shader {shader}: {e}")))?;
        Ok((module, layouter))
    };
    let results = crate::sync::parallel_map(&first_use, parse);
    if results.len() != first_use.len() {
        return Err("parsing the shaders failed (a thread panicked)".into());
    }
    let mut parsed: HashMap<u32, (naga::Module, naga::proc::Layouter)> = HashMap::new();
    for ((shader, _), result) in first_use.iter().zip(results) {
        parsed.insert(*shader, result?);
    }
    for (index, k) in graph.kernels.iter().enumerate() {
        let Some(KernelPayload::Wgsl { shader, entry_point, workgroup_size, bindings, .. }) = &k.payload else {
            continue;
        };
        let bad = |detail: String| format!("kernel #{index} `{}` ({}): {detail}", k.name, k.op.name());
        let (module, layouter) = &parsed[shader];
        let entry = module
            .entry_points
            .iter()
            .find(|e| e.name == *entry_point && e.stage == ShaderStage::Compute)
            .ok_or_else(|| bad(format!("shader {shader} has no compute entry point `{entry_point}`")))?;
        if entry.workgroup_size != *workgroup_size || entry.workgroup_size_overrides.is_some() {
            return Err(bad(format!(
                "the shader's workgroup size is {:?}, the payload says {workgroup_size:?}",
                entry.workgroup_size
            )));
        }
        let mut workgroup_bytes = 0u64;
        for (_, var) in module.global_variables.iter() {
            let size = layouter[var.ty].size as u64;
            let name = var.name.as_deref().unwrap_or("?");
            match var.space {
                AddressSpace::WorkGroup => {
                    workgroup_bytes = workgroup_bytes.saturating_add(size);
                    continue;
                }
                AddressSpace::Private | AddressSpace::Function => continue,
                AddressSpace::Storage { access } => {
                    let Some(rb) = &var.binding else {
                        return Err(bad(format!("storage variable `{name}` has no binding")));
                    };
                    if rb.group != 0 {
                        return Err(bad(format!("`{name}` is in bind group {}, the runner binds group 0", rb.group)));
                    }
                    let b = bindings
                        .iter()
                        .find(|b| b.binding == rb.binding)
                        .ok_or_else(|| bad(format!("the shader's @binding({}) is not in the payload", rb.binding)))?;
                    let writes = access.contains(StorageAccess::STORE);
                    if writes != b.writable {
                        return Err(bad(format!(
                            "binding {}: the shader declares it {}, the payload {}",
                            rb.binding,
                            if writes { "read_write" } else { "read" },
                            if b.writable { "writable" } else { "read-only" }
                        )));
                    }
                    let t = &graph.tensors[b.tensor as usize];
                    let bound = bound_size(t);
                    if size > bound {
                        return Err(bad(format!(
                            "binding {}: the shader's `{name}` needs {size} bytes, tensor `{}` binds {bound}",
                            rb.binding, t.name
                        )));
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "`{name}` is a {:?} resource; the runner binds storage buffers only",
                        var.space
                    )));
                }
            }
        }
        most_workgroup_bytes = most_workgroup_bytes.max(workgroup_bytes);
    }
    Ok(most_workgroup_bytes)
}
