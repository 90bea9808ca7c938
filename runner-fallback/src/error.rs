//! Why a single op could not be evaluated.

/// An error of [`crate::eval`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The op, function or dtype combination is valid but not implemented here.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The inputs, attributes and output descriptions are inconsistent.
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Shorthand for [`EvalError::Invalid`].
pub(crate) fn invalid(detail: impl Into<String>) -> EvalError {
    EvalError::Invalid(detail.into())
}

/// Shorthand for [`EvalError::Unsupported`].
pub(crate) fn unsupported(detail: impl Into<String>) -> EvalError {
    EvalError::Unsupported(detail.into())
}

/// Result of the kernels.
pub(crate) type Result<T, E = EvalError> = std::result::Result<T, E>;
