use wdnn_descriptor_spec::{DType, DescriptorError};

use crate::backend::Skip;

/// Result of runner operations.
pub type Result<T, E = RunnerError> = std::result::Result<T, E>;

/// What can go wrong between opening a bundle and reading a model's outputs.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// A descriptor file is malformed, corrupted, truncated or of an unsupported version.
    #[error(transparent)]
    Descriptor(#[from] DescriptorError),
    /// A bundle file could not be read.
    #[error("cannot read `{file}` from {source_name}: {error}")]
    Io {
        /// The file inside the bundle.
        file: String,
        /// Where the bundle was read from.
        source_name: String,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The bundle does not hold a descriptor for the backend.
    #[error("the bundle has no `{backend}` descriptor (it has: {available})")]
    MissingDescriptor {
        /// The backend asked for.
        backend: String,
        /// The backends the bundle has.
        available: String,
    },
    /// The backend cannot run on this machine.
    #[error("backend `{backend}` is unavailable: {reason}")]
    Unavailable {
        /// The backend.
        backend: String,
        /// Why.
        reason: String,
    },
    /// The graph uses something this backend does not implement.
    #[error("backend `{backend}` does not support kernel `{kernel}` ({op}): {detail}")]
    Unsupported {
        /// The backend.
        backend: String,
        /// The kernel name.
        kernel: String,
        /// The op.
        op: String,
        /// What exactly.
        detail: String,
    },
    /// A backend selection names a backend nobody knows (a typo, or one this version of wdnn does not have).
    #[error("unknown backend `{name}` in {from} (known: {known})")]
    UnknownBackend {
        /// The name.
        name: String,
        /// Where the selection came from: the caller's selection or the `WDNN_BACKEND` variable.
        from: String,
        /// The backends known to this build, compiled in or not.
        known: String,
    },
    /// Every backend tried failed.
    #[error("no backend could load the model: {}", describe_skips(.attempts))]
    NoBackend {
        /// Why each backend was skipped, in the order tried.
        attempts: Vec<Skip>,
    },
    /// A model input was missing, repeated or unknown.
    #[error("input `{name}`: {detail}")]
    BadInput {
        /// The input name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A model input has the wrong dtype.
    #[error("input `{name}` has dtype {found}, the model expects {expected}")]
    InputDType {
        /// The input name.
        name: String,
        /// Expected dtype.
        expected: DType,
        /// Given dtype.
        found: DType,
    },
    /// A model input has the wrong shape.
    #[error("input `{name}` has shape {found:?}, the model expects {expected:?}")]
    InputShape {
        /// The input name.
        name: String,
        /// Expected shape.
        expected: Vec<u64>,
        /// Given shape.
        found: Vec<u64>,
    },
    /// A tensor's data does not match its dtype or shape.
    #[error("tensor data: {0}")]
    TensorData(String),
    /// A kernel failed while running.
    #[error("kernel `{kernel}` ({op}) failed: {detail}")]
    Kernel {
        /// The kernel name.
        kernel: String,
        /// The op.
        op: String,
        /// What happened.
        detail: String,
    },
}

impl RunnerError {
    /// The SPEC §8.1 error class a conformance test expects (`missing_backend`, `bad_input`, or the descriptor
    /// error's class); `None` for what is not a fault of the bundle or the inputs (an unavailable backend, an op
    /// this backend lacks, an I/O error).
    pub fn class(&self) -> Option<&'static str> {
        match self {
            RunnerError::Descriptor(e) => e.class(),
            RunnerError::MissingDescriptor { .. } => Some("missing_backend"),
            RunnerError::BadInput { .. } | RunnerError::InputDType { .. } | RunnerError::InputShape { .. } => {
                Some("bad_input")
            }
            _ => None,
        }
    }
}

fn describe_skips(attempts: &[Skip]) -> String {
    if attempts.is_empty() {
        return "no backend was given".to_string();
    }
    attempts.iter().map(|s| format!("{}: {}", s.backend, s.reason)).collect::<Vec<_>>().join("; ")
}
