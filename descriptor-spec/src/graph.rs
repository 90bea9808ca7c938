//! A backend's graph descriptor (SPEC §4): tensors, kernels in execution order, and the arena size from the static
//! memory plan.

use serde::{Deserialize, Serialize};

use crate::container::{self, FileKind};
use crate::op::Op;
use crate::packing::PackedLayout;
use crate::{DType, DescriptorError, FORMAT_MAJOR, FORMAT_MINOR, LoadLimits, Result};

/// Index of a tensor in [`Graph::tensors`].
pub type TensorId = u32;

/// A graph descriptor: everything a backend needs to run the model, except the weight values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The model's name.
    pub name: String,
    /// The backend this descriptor was generated for (`fallback`, `wasm`, `webgpu`, …).
    pub backend: String,
    /// Every tensor: model inputs and outputs, intermediates and weights.
    pub tensors: Vec<TensorDesc>,
    /// The model's inputs, in signature order. Each names an arena tensor the caller fills.
    pub inputs: Vec<IoBinding>,
    /// The model's outputs, in signature order.
    pub outputs: Vec<IoBinding>,
    /// Kernels in execution order.
    pub kernels: Vec<Kernel>,
    /// Size in bytes of the activation arena.
    pub arena_size: u64,
    /// Every arena offset is a multiple of this (a power of two).
    pub alignment: u32,
    /// Deduplicated shader sources referenced by kernel payloads (WebGPU: WGSL).
    #[serde(default)]
    pub shaders: Vec<String>,
}

/// A named model input or output bound to a tensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoBinding {
    /// The ONNX name.
    pub name: String,
    /// The tensor.
    pub tensor: TensorId,
}

/// A tensor: its type, shape and where its bytes live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorDesc {
    /// A name for messages (the ONNX value name where there is one).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Static shape; an empty shape is a scalar.
    pub shape: Vec<u64>,
    /// Where the values live.
    pub storage: Storage,
}

impl TensorDesc {
    /// Number of elements, saturating at `u64::MAX` (a validated graph never gets there: [`Graph::validate`]
    /// refuses tensors whose size overflows).
    pub fn numel(&self) -> u64 {
        self.checked_numel().unwrap_or(u64::MAX)
    }

    /// Size in bytes of the values in their native dtype, saturating like [`TensorDesc::numel`].
    pub fn byte_size(&self) -> u64 {
        self.checked_byte_size().unwrap_or(u64::MAX)
    }

    /// Number of elements, or None when the product overflows.
    pub fn checked_numel(&self) -> Option<u64> {
        crate::shape::numel(&self.shape)
    }

    /// Size in bytes, or None when it overflows.
    pub fn checked_byte_size(&self) -> Option<u64> {
        crate::shape::byte_size(&self.shape, self.dtype.size())
    }
}

/// Where a tensor's values live (SPEC §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Storage {
    /// In the activation arena at `offset`, `byte_size()` bytes long. Tensors whose lifetimes overlap never overlap
    /// in the arena, except where a kernel is declared to work in place.
    Arena {
        /// Byte offset, a multiple of the graph's alignment.
        offset: u64,
    },
    /// A weight from the weights file, by id.
    Weight {
        /// Index into the weights file's tensor list.
        id: u32,
    },
}

/// One kernel launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kernel {
    /// A name for messages (the ONNX node name where there is one).
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Input tensors, in the op's order.
    pub inputs: Vec<TensorId>,
    /// Output tensors (arena tensors).
    pub outputs: Vec<TensorId>,
    /// Backend-specific code for this kernel, if the backend uses generated code.
    #[serde(default)]
    pub payload: Option<KernelPayload>,
}

/// Backend-specific kernel code (SPEC §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum KernelPayload {
    /// A WGSL compute shader dispatch.
    Wgsl {
        /// Index into [`Graph::shaders`].
        shader: u32,
        /// Entry point name.
        entry_point: String,
        /// Workgroup size the shader declares.
        workgroup_size: [u32; 3],
        /// Number of workgroups to dispatch.
        dispatch: [u32; 3],
        /// Bindings of group 0, in binding order.
        bindings: Vec<Binding>,
    },
    /// Input 1 of the kernel (a `Conv`'s or `MatMul`'s weights) is one f32 array in a packed layout (SPEC §6.2),
    /// bias included; since format 1.1.
    Packed {
        /// The layout and its parameters.
        layout: PackedLayout,
        /// The shape of the weights before packing: `[O, C/G, KH, KW]` for a `Conv`, `[K, N]` for a `MatMul`.
        shape: Vec<u64>,
    },
    /// A payload kind this reader does not know.
    #[serde(other)]
    Unknown,
}

/// A buffer range bound to a shader binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The `@binding` number.
    pub binding: u32,
    /// The tensor whose bytes are bound.
    pub tensor: TensorId,
    /// Written by the kernel.
    pub writable: bool,
}

/// Only the names, to report unknown ops and functions once the typed decode found one.
#[derive(Deserialize)]
struct ShadowGraph {
    kernels: Vec<ShadowKernel>,
}

/// A kernel's payload as far as naming an unknown kind needs.
#[derive(Deserialize)]
struct ShadowPayloadKernel {
    name: String,
    #[serde(default)]
    payload: Option<ShadowPayload>,
}

#[derive(Deserialize)]
struct ShadowPayload {
    kind: String,
    #[serde(default)]
    layout: Option<ShadowLayout>,
}

#[derive(Deserialize)]
struct ShadowLayout {
    layout: String,
}

#[derive(Deserialize)]
struct ShadowPayloadGraph {
    kernels: Vec<ShadowPayloadKernel>,
}

#[derive(Deserialize)]
struct ShadowKernel {
    name: String,
    op: ShadowOp,
}

#[derive(Deserialize)]
struct ShadowOp {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    fun: Option<ShadowFn>,
    #[serde(default, alias = "steps")]
    epilogue: Vec<ShadowStep>,
}

#[derive(Deserialize)]
struct ShadowStep {
    step: String,
    #[serde(default)]
    fun: Option<ShadowFn>,
}

#[derive(Deserialize)]
struct ShadowFn {
    #[serde(rename = "fn")]
    name: String,
}

impl Graph {
    /// The oldest minor version that describes this graph: 1 when a kernel has a `Packed` payload (added in 1.1),
    /// else 0.
    pub fn format_minor(&self) -> u16 {
        let packed = self.kernels.iter().any(|k| matches!(k.payload, Some(KernelPayload::Packed { .. })));
        u16::from(packed)
    }

    /// The format features (SPEC §2.3) a runner needs for this graph, for its manifest entry.
    pub fn required_features(&self) -> Vec<String> {
        let packed = self.kernels.iter().any(|k| matches!(k.payload, Some(KernelPayload::Packed { .. })));
        if packed { vec![crate::manifest::PACKED_WEIGHTS.to_string()] } else { vec![] }
    }

    /// Encodes the graph as a GRPH container.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        container::write(FileKind::Graph, self.format_minor(), self, &[])
    }

    /// Decodes and validates a GRPH container with the default [`LoadLimits`]. `what` names the file in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Graph> {
        Graph::from_bytes_with(bytes, what, &LoadLimits::default())
    }

    /// Decodes and validates a GRPH container within `limits`.
    pub fn from_bytes_with(bytes: &[u8], what: &str, limits: &LoadLimits) -> Result<Graph> {
        let (graph, body): (Graph, _) = container::read(FileKind::Graph, bytes, what)?;
        if !body.is_empty() {
            let expected = (bytes.len() - body.len()) as u64;
            return Err(container::truncated(what, expected, bytes.len()));
        }
        if let Some(kernel) = graph.kernels.iter().find(|k| k.op.has_unknown()) {
            let head = &bytes[container::HEADER_LEN..];
            return Err(unknown_op_error(head, what, &kernel.name));
        }
        graph.validate_with(what, limits).map_err(|e| name_payload(e, &bytes[container::HEADER_LEN..], what))?;
        Ok(graph)
    }

    /// Checks the graph completely with the default [`LoadLimits`] (SPEC §4.5, §4.6): see [`crate::validate`].
    /// Every backend calls this (or [`Graph::validate_with`]) before it runs a kernel.
    pub fn validate(&self, what: &str) -> Result<()> {
        crate::validate::validate(self, what, &LoadLimits::default())
    }

    /// [`Graph::validate`] with the caller's limits.
    pub fn validate_with(&self, what: &str, limits: &LoadLimits) -> Result<()> {
        crate::validate::validate(self, what, limits)
    }
}

/// An unknown payload error with the kind's name read from the raw head (the typed graph only knows `Unknown`).
fn name_payload(error: DescriptorError, head: &[u8], what: &str) -> DescriptorError {
    let DescriptorError::UnknownPayload { what: w, kernel, major, minor, .. } = error else { return error };
    let kind = container::decode_head::<ShadowPayloadGraph>(head, what, "graph descriptor")
        .ok()
        .and_then(|g| g.kernels.into_iter().find(|k| k.name == kernel))
        .and_then(|k| k.payload)
        .map(|p| match p.layout {
            Some(l) if p.kind == "Packed" => format!("Packed/{}", l.layout),
            _ => p.kind,
        })
        .unwrap_or_else(|| "?".to_string());
    DescriptorError::UnknownPayload { what: w, kernel, kind, major, minor }
}

fn unknown_op_error(head: &[u8], what: &str, kernel: &str) -> DescriptorError {
    let op = container::decode_head::<ShadowGraph>(head, what, "graph descriptor")
        .ok()
        .and_then(|g| g.kernels.into_iter().find(|k| k.name == kernel))
        .map(|k| {
            let fun = |f: Option<ShadowFn>| f.map(|f| format!("/{}", f.name)).unwrap_or_default();
            let steps: Vec<String> = k.op.epilogue.into_iter().map(|s| format!("{}{}", s.step, fun(s.fun))).collect();
            let mut name = format!("{}{}", k.op.ty, fun(k.op.fun));
            if !steps.is_empty() {
                name.push_str(&format!(" (epilogue: {})", steps.join(", ")));
            }
            name
        })
        .unwrap_or_else(|| "?".to_string());
    DescriptorError::UnknownOp {
        what: what.to_string(),
        kernel: kernel.to_string(),
        op,
        major: FORMAT_MAJOR,
        minor: FORMAT_MINOR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{BinaryFn, EpilogueStep, UnaryFn};

    pub(crate) fn tiny_graph() -> Graph {
        let t = |name: &str, storage| TensorDesc { name: name.into(), dtype: DType::F32, shape: vec![1, 4], storage };
        Graph {
            name: "tiny".into(),
            backend: "fallback".into(),
            tensors: vec![
                t("x", Storage::Arena { offset: 0 }),
                t("w", Storage::Weight { id: 0 }),
                t("y", Storage::Arena { offset: 16 }),
            ],
            inputs: vec![IoBinding { name: "x".into(), tensor: 0 }],
            outputs: vec![IoBinding { name: "y".into(), tensor: 2 }],
            kernels: vec![Kernel {
                name: "add".into(),
                op: Op::MatMul {
                    transpose_a: false,
                    transpose_b: true,
                    epilogue: vec![
                        EpilogueStep::Unary { fun: UnaryFn::Clip { min: 0.0, max: 6.0 } },
                        EpilogueStep::Binary { fun: BinaryFn::Add, operand: 0, operand_first: false },
                    ],
                },
                inputs: vec![0, 1],
                outputs: vec![2],
                payload: None,
            }],
            arena_size: 32,
            alignment: 16,
            shaders: vec![],
        }
    }

    #[test]
    fn round_trip() {
        let g = tiny_graph();
        let bytes = g.to_bytes().unwrap();
        assert_eq!(Graph::from_bytes(&bytes, "t").unwrap(), g);
    }

    #[test]
    fn unknown_op_is_named() {
        let mut g = tiny_graph();
        g.kernels[0].op = Op::Unknown;
        // Encode a real future op by hand: the writer cannot produce `Unknown`, so rename `Where` in the bytes.
        g.kernels[0].op = Op::Where;
        let bytes = g.to_bytes().unwrap();
        let patched = patch_head(&bytes, b"Where", b"Fancy");
        let err = Graph::from_bytes(&patched, "m.graph").unwrap_err();
        assert!(
            matches!(&err, DescriptorError::UnknownOp { op, kernel, .. } if op == "Fancy" && kernel == "add"),
            "{err}"
        );
    }

    #[test]
    fn unknown_function_is_named() {
        let mut g = tiny_graph();
        g.kernels[0].op = Op::Unary { fun: UnaryFn::Tanh };
        let bytes = g.to_bytes().unwrap();
        let patched = patch_head(&bytes, b"Tanh", b"Tanx");
        let err = Graph::from_bytes(&patched, "m.graph").unwrap_err();
        assert!(err.to_string().contains("Unary/Tanx"), "{err}");
    }

    #[test]
    fn packed_payloads_round_trip_as_version_1_1() {
        let mut g = tiny_graph();
        assert_eq!(g.format_minor(), 0);
        assert_eq!(&g.to_bytes().unwrap()[10..12], &[0, 0]);
        g.tensors[1].shape = vec![4];
        g.kernels[0].payload =
            Some(KernelPayload::Packed { layout: PackedLayout::GemmPanels { nr: 8 }, shape: vec![4, 1] });
        let bytes = g.to_bytes().unwrap();
        assert_eq!(&bytes[10..12], &[1, 0]);
        assert_eq!(Graph::from_bytes(&bytes, "t").unwrap(), g);
        // An unknown layout is refused like an unknown payload kind.
        let patched = patch_head(&bytes, b"GemmPanels", b"FancyPanel");
        let err = Graph::from_bytes(&patched, "m.graph").unwrap_err();
        assert!(err.to_string().contains("payload kind"), "{err}");
        // Packed weights are one f32 array.
        g.tensors[1].shape = vec![2, 2];
        assert!(Graph::from_bytes(&g.to_bytes().unwrap(), "t").is_err());
    }

    #[test]
    fn out_of_arena_tensor_is_invalid() {
        let mut g = tiny_graph();
        g.arena_size = 20;
        let err = Graph::from_bytes(&g.to_bytes().unwrap(), "t").unwrap_err();
        assert!(matches!(err, DescriptorError::Invalid { .. }), "{err}");
    }

    /// Replaces `from` by `to` (same length) in the head and re-seals the head checksum.
    fn patch_head(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let head = &mut out[container::HEADER_LEN..];
        let at = head.windows(from.len()).position(|w| w == from).expect("pattern in head");
        head[at..at + from.len()].copy_from_slice(to);
        let sum = container::sha256_raw(&out[container::HEADER_LEN..]);
        out[24..56].copy_from_slice(&sum);
        out
    }
}
