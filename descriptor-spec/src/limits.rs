//! Load limits (SPEC §8.3): the largest sizes a reader accepts before it allocates anything.
//!
//! A bundle is untrusted input: whoever serves it can also re-hash it, so a SHA-256 proves integrity in transit, not
//! that the sizes inside are sane. Every size a file declares is checked against the file's real length and against
//! these limits before memory is reserved for it, so that a hostile descriptor costs at most what the limits allow.

/// The largest sizes a reader accepts. The defaults admit every model wdnn targets (a browser's wasm32 heap is 4 GiB
/// at most) and refuse the absurd; a caller that knows its models may tighten or widen them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// Largest manifest file, in bytes.
    pub max_manifest_size: u64,
    /// Largest graph descriptor or weights file, in bytes.
    pub max_file_size: u64,
    /// Largest activation arena, in bytes.
    pub max_arena_size: u64,
    /// Largest decoded weight stream, in bytes.
    pub max_weight_stream: u64,
    /// Largest number of tensors in a graph.
    pub max_tensors: u64,
    /// Largest number of kernels in a graph.
    pub max_kernels: u64,
    /// Largest tensor rank.
    pub max_rank: u64,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_manifest_size: 16 << 20,
            max_file_size: 4 << 30,
            max_arena_size: 4 << 30,
            max_weight_stream: 4 << 30,
            max_tensors: 1 << 20,
            max_kernels: 1 << 20,
            max_rank: 16,
        }
    }
}
