//! The `wasm` target: the descriptor of runner-wasm, the SIMD128 CPU backend.
//!
//! - **Layout.** NHWC activations (the pipeline's `layout` pass), which its convolution, pooling and epilogue
//!   kernels read with channels contiguous.
//! - **Weights.** Packed at convert time by this target's passes ([`passes`]): Winograd-transformed filters, convolution
//!   panels, depthwise blocks and GEMM panels (SPEC §6.2), each kernel that reads packed weights marked by a
//!   `Packed` payload naming the layout. Kernels without one are portable kernels: the runner runs them with its
//!   own fast kernels where it has them and with the reference kernels otherwise.
//! - **Memory.** The static arena from the memory plan, 16-byte aligned (one SIMD128 vector). Concat and reshape
//!   views are allowed; in-place kernels are not, because the fast kernels read and write through separate slices.

pub mod passes;

use wdnn_descriptor_spec::{Graph as Descriptor, KernelPayload};

use super::{BackendPass, Layout, Target};
use crate::error::ConvertError;
use crate::ir::Graph;

/// The WebAssembly (and native SIMD) CPU backend.
pub struct Wasm;

impl Target for Wasm {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn alignment(&self) -> u64 {
        16
    }

    fn in_place(&self) -> bool {
        false
    }

    fn activation_layout(&self) -> Layout {
        Layout::ChannelsLast
    }

    fn passes(&self) -> Vec<BackendPass<'_>> {
        passes::passes()
    }

    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![("panel width NR", passes::NR.to_string()), ("depthwise block CB", passes::CB.to_string())]
    }

    /// Marks every kernel whose input 1 a packing pass replaced with a `Packed` payload naming the layout.
    fn finish(&self, graph: &Graph, descriptor: &mut Descriptor) -> Result<(), ConvertError> {
        let nodes = (0..graph.nodes.len()).filter(|&i| !crate::passes::is_elided(graph, i));
        for (i, kernel) in nodes.zip(descriptor.kernels.iter_mut()) {
            if let Some(p) = graph.nodes[i].inputs.get(1).and_then(|&w| graph.packed(w)) {
                kernel.payload = Some(KernelPayload::Packed { layout: p.layout, shape: p.shape.clone() });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::TargetOptions;
    use crate::pipeline::{PassSelection, run_backend};

    #[test]
    fn the_schedule_packs_after_the_layout() {
        let target = crate::codegen::target("wasm", &TargetOptions::default()).unwrap();
        let names: Vec<_> = crate::pipeline::backend_passes(target.as_ref(), None).iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            ["layout", "winograd-weights", "pack-conv-weights", "pack-matmul-weights", "concat-views", "reshape-views"]
        );
        // Skipping the packing passes leaves the portable weights.
        let g = passes::testing_graph();
        let skip = PassSelection {
            no_optimize: false,
            skip: ["winograd-weights", "pack-conv-weights", "pack-matmul-weights"].map(String::from).to_vec(),
        };
        let (unpacked, _) = run_backend(&g, &Wasm, &skip, None).unwrap();
        assert!(unpacked.packed.is_empty());
        let (packed, report) = run_backend(&g, &Wasm, &PassSelection::default(), None).unwrap();
        assert_eq!(packed.packed.len(), 1);
        assert!(report.ran.iter().any(|p| p.name == "pack-conv-weights" && p.stats.total() == 1));
    }
}
