//! The checks on every kernel's WGSL payload (SPEC §6), run before any GPU object is created so that a malformed
//! descriptor is an error naming the kernel, never a wgpu validation panic.

use wdnn_descriptor_spec::{Graph, KernelPayload, Storage};
use wdnn_runner_core::{Result, RunnerError};

use crate::{NAME, invalid};

/// Each kernel has a WGSL payload whose shader and bindings are in range, bindings are numbered 0.. and name existing
/// non-empty tensors, and only arena tensors are writable.
pub(crate) fn check_payloads(graph: &Graph) -> Result<()> {
    for k in &graph.kernels {
        let Some(KernelPayload::Wgsl { shader, entry_point, bindings, workgroup_size, .. }) = &k.payload else {
            return Err(RunnerError::Unsupported {
                backend: NAME.to_string(),
                kernel: k.name.clone(),
                op: k.op.name().to_string(),
                detail: "the kernel has no WGSL payload (the converter generates none for it)".to_string(),
            });
        };
        let bad = |detail: String| invalid(format!("kernel `{}`: {detail}", k.name));
        if *shader as usize >= graph.shaders.len() {
            return Err(bad(format!("shader {shader} out of range")));
        }
        if entry_point.is_empty() || workgroup_size.contains(&0) {
            return Err(bad("empty entry point or workgroup size".into()));
        }
        for (i, b) in bindings.iter().enumerate() {
            if b.binding as usize != i {
                return Err(bad(format!("binding {} is not numbered {i}", b.binding)));
            }
            let t = graph
                .tensors
                .get(b.tensor as usize)
                .ok_or_else(|| bad(format!("binding {i}: no tensor {}", b.tensor)))?;
            if t.byte_size() == 0 {
                return Err(bad(format!("binding {i}: tensor `{}` is empty", t.name)));
            }
            if b.writable && !matches!(t.storage, Storage::Arena { .. }) {
                return Err(bad(format!("binding {i}: weight `{}` is bound writable", t.name)));
            }
        }
    }
    Ok(())
}
