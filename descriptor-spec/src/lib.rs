//! The wdnn graph descriptor format, version 1.
//!
//! A converted model is a *bundle*: a manifest plus, per backend, a graph descriptor and a weights file. Every file
//! is a [`container`] (magic, `major.minor`, a checksummed MessagePack head, an optional body). This crate holds the
//! types, the versioning rules and checked decoding; it is deliberately light (serde, rmp-serde, a pure-Rust zstd
//! decoder, sha2) so that any runner, including one compiled to `wasm32-unknown-unknown`, can depend on it.
//! Encoding weights needs the C zstd library and lives behind the `encode` feature.
//!
//! `SPEC.md` beside this crate is the normative description; the doc comments here cite its sections.
#![deny(missing_docs)]

pub mod container;
mod dtype;
mod error;
pub mod graph;
mod limits;
pub mod manifest;
pub mod op;
pub mod packing;
pub mod shape;
pub mod validate;
pub mod weights;

pub use container::FileKind;
pub use dtype::DType;
pub use error::{DescriptorError, KernelFault, Result};
pub use graph::{Binding, Graph, IoBinding, Kernel, KernelPayload, Storage, TensorDesc, TensorId};
pub use limits::LoadLimits;
pub use manifest::{BackendEntry, FileRef, KNOWN_FEATURES, Manifest, PACKED_WEIGHTS, Preprocessing, TensorSignature};
pub use op::{
    BinaryFn, EpilogueStep, NearestMode, Op, OpKind, PadMode, ReduceFn, ResizeCoordinates, ResizeMode, UnaryFn,
};
pub use weights::{ChunkDesc, Encoding, WeightEntry, WeightIndex};

/// The format's major version: a runner refuses any other (SPEC §2).
pub const FORMAT_MAJOR: u16 = 1;
/// The newest minor version this crate writes and fully understands (SPEC §2).
pub const FORMAT_MINOR: u16 = 1;

/// Hex-encoded SHA-256 of `bytes`, the form used in manifests.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
