use crate::container::FileKind;

/// Result of decoding or validating descriptor data.
pub type Result<T, E = DescriptorError> = std::result::Result<T, E>;

/// Everything that can be wrong with a descriptor file. Each variant names what it found, so that a user can tell a
/// truncated download from a version mismatch from a converter bug.
#[derive(Debug, thiserror::Error)]
pub enum DescriptorError {
    /// The file does not start with the wdnn magic of the expected kind.
    #[error("{what}: not a wdnn {expected} file (magic {found:?})")]
    BadMagic {
        /// The file, as the caller named it.
        what: String,
        /// The kind of file that was expected.
        expected: FileKind,
        /// The first eight bytes found, lossily as text.
        found: String,
    },
    /// The file's major version is not one this reader implements.
    #[error(
        "{what}: format version {found_major}.{found_minor} is not supported by this runner (it reads version \
         {supported_major}.x); convert the model again with a matching converter, or update the runner"
    )]
    UnsupportedVersion {
        /// The file, as the caller named it.
        what: String,
        /// Major version in the file.
        found_major: u16,
        /// Minor version in the file.
        found_minor: u16,
        /// Major version this reader implements.
        supported_major: u16,
    },
    /// The file is shorter (or longer) than its header says.
    #[error("{what}: truncated or padded file: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file, as the caller named it.
        what: String,
        /// Length the header implies.
        expected: u64,
        /// Actual length.
        found: u64,
    },
    /// A checksum did not match: the bytes were corrupted in storage or transit.
    #[error("{what}: checksum mismatch in {part} (expected sha256 {expected}, found {found}): the file is corrupted")]
    ChecksumMismatch {
        /// The file, as the caller named it.
        what: String,
        /// Which part of the file (head, chunk N, the whole file).
        part: String,
        /// Expected hex sha256.
        expected: String,
        /// Computed hex sha256.
        found: String,
    },
    /// A kernel uses an op this reader does not know (a newer minor version, or a bad file).
    #[error("{what}: kernel `{kernel}` uses unknown op `{op}`; this runner implements format {major}.{minor}")]
    UnknownOp {
        /// The file, as the caller named it.
        what: String,
        /// Name of the kernel (usually the ONNX node name).
        kernel: String,
        /// The op name found.
        op: String,
        /// Major version this reader implements.
        major: u16,
        /// Minor version this reader implements.
        minor: u16,
    },
    /// A weight uses an encoding this reader does not know.
    #[error("{what}: weight `{weight}` uses unknown encoding `{encoding}`")]
    UnknownEncoding {
        /// The file, as the caller named it.
        what: String,
        /// Name of the weight tensor.
        weight: String,
        /// The encoding name found.
        encoding: String,
    },
    /// A kernel has a payload kind (or a packed layout) this reader does not know (SPEC §4.5 step 4).
    #[error(
        "{what}: kernel `{kernel}` has payload kind `{kind}`, which this runner does not know (it implements format \
         {major}.{minor})"
    )]
    UnknownPayload {
        /// The file, as the caller named it.
        what: String,
        /// Name of the kernel.
        kernel: String,
        /// The payload kind found (`kind`, or `Packed/<layout>` for an unknown packed layout).
        kind: String,
        /// Major version this reader implements.
        major: u16,
        /// Minor version this reader implements.
        minor: u16,
    },
    /// A manifest entry needs a format feature this reader does not implement (SPEC §2.3).
    #[error(
        "manifest: the `{backend}` descriptor needs format feature `{feature}`, which this runner does not \
         implement (it knows: {known}); update the runner"
    )]
    UnsupportedFeature {
        /// The backend entry.
        backend: String,
        /// The feature.
        feature: String,
        /// The features this runner implements.
        known: String,
    },
    /// The MessagePack head does not match the schema.
    #[error("{what}: malformed {part}: {detail}")]
    Malformed {
        /// The file, as the caller named it.
        what: String,
        /// Which structure failed to decode.
        part: String,
        /// The decoder's message.
        detail: String,
    },
    /// Decoded data is inconsistent (an id out of range, sizes that do not add up).
    #[error("{what}: invalid descriptor: {detail}")]
    Invalid {
        /// The file, as the caller named it.
        what: String,
        /// What is inconsistent.
        detail: String,
    },
    /// A kernel does not fit its op or the plan (SPEC §4.6): names the kernel by index and name, and the field.
    #[error("{what}: invalid descriptor: kernel #{index} {fault}")]
    InvalidKernel {
        /// The file, as the caller named it.
        what: String,
        /// The kernel's index in execution order.
        index: usize,
        /// The kernel, the field and what is wrong.
        fault: Box<KernelFault>,
    },
    /// A declared size is over the reader's load limits (SPEC §8.3); nothing was allocated for it.
    #[error("{what}: {field} of {value} exceeds the load limit of {limit}")]
    Limit {
        /// The file, as the caller named it.
        what: String,
        /// What was too large.
        field: String,
        /// The declared value.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// A manifest names a file that is not a plain file name inside the bundle (SPEC §3.2).
    #[error("manifest: file name {file:?} is not a plain file name inside the bundle: {reason}")]
    BadFileName {
        /// The name as the manifest gives it.
        file: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// A zstd chunk failed to decompress.
    #[error("{what}: weight chunk {chunk} does not decompress: {detail}")]
    Decompress {
        /// The file, as the caller named it.
        what: String,
        /// Chunk index.
        chunk: usize,
        /// The decoder's message.
        detail: String,
    },
    /// Encoding failed (writer side only).
    #[error("encoding {part}: {detail}")]
    Encode {
        /// What was being encoded.
        part: String,
        /// The encoder's message.
        detail: String,
    },
}

impl DescriptorError {
    /// The SPEC §8.1 error class a conformance test expects (`bad_magic`, `truncated`, …); `None` for an error of
    /// the writer, which no bundle causes.
    pub fn class(&self) -> Option<&'static str> {
        Some(match self {
            DescriptorError::BadMagic { .. } => "bad_magic",
            DescriptorError::UnsupportedVersion { .. } => "unsupported_version",
            DescriptorError::Truncated { .. } => "truncated",
            DescriptorError::ChecksumMismatch { .. } => "corrupted",
            DescriptorError::UnknownOp { .. } => "unknown_op",
            DescriptorError::UnknownEncoding { .. } => "unknown_encoding",
            DescriptorError::UnknownPayload { .. } => "unknown_payload",
            DescriptorError::UnsupportedFeature { .. } => "unsupported_feature",
            DescriptorError::Malformed { .. } | DescriptorError::Decompress { .. } => "malformed",
            DescriptorError::Invalid { .. } | DescriptorError::InvalidKernel { .. } => "inconsistent",
            DescriptorError::Limit { .. } => "limit_exceeded",
            DescriptorError::BadFileName { .. } => "bad_file_name",
            DescriptorError::Encode { .. } => return None,
        })
    }
}

/// What is wrong with one kernel (boxed in [`DescriptorError::InvalidKernel`] to keep the error small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFault {
    /// The kernel's name.
    pub kernel: String,
    /// The kernel's op.
    pub op: String,
    /// The field at fault (`inputs[1]`, `op.perm`, `payload.bindings[0]`…).
    pub field: String,
    /// What is wrong with it.
    pub detail: String,
}

impl std::fmt::Display for KernelFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` ({}), {}: {}", self.kernel, self.op, self.field, self.detail)
    }
}
