use std::fmt;

/// Everything that can stop a conversion, each naming the file, op, node or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The model file is missing or cannot be read.
    #[error("{file}: cannot read the model: {detail}")]
    Read {
        /// The model file.
        file: String,
        /// The operating system's reason.
        detail: String,
    },
    /// The file is not a valid ONNX model (empty, truncated, not protobuf, inconsistent shapes).
    #[error("{file}: not a valid ONNX model: {detail}")]
    Onnx {
        /// The model file.
        file: String,
        /// tract's message chain.
        detail: String,
    },
    /// The model uses ops (or op configurations) wdnn does not support.
    #[error("{file}: unsupported ops:\n{}", UnsupportedList(.ops))]
    UnsupportedOps {
        /// The model file.
        file: String,
        /// Each unsupported op type with the nodes that use it.
        ops: Vec<Unsupported>,
    },
    /// An input still has a symbolic dimension (`ConvertOptions::input_shapes` fixes it).
    #[error("{file}: input `{input}` has the symbolic shape {shape}: give it a static shape ({input}=D0,D1,...)")]
    SymbolicInput {
        /// The model file.
        file: String,
        /// The input name.
        input: String,
        /// The shape as tract shows it.
        shape: String,
    },
    /// `ConvertOptions::input_shapes` names an input the model does not have, or has the wrong rank.
    #[error("{file}: the static shape given for input `{input}`: {detail}")]
    BadInputShape {
        /// The model file.
        file: String,
        /// The input named.
        input: String,
        /// What is wrong.
        detail: String,
    },
    /// `--input-shape` / `--dim` contradict each other or the model, or name nothing in it.
    #[error("{file}: {detail}")]
    ShapeBinding {
        /// The model file.
        file: String,
        /// The symbol, input and dimension at fault.
        detail: String,
    },
    /// A backend has no kernel for some nodes: every such op and node, with the reason.
    #[error("no {backend} kernel for:\n{}", UnsupportedList(.ops))]
    UnsupportedKernels {
        /// The backend.
        backend: String,
        /// Each op (with the reason it has no kernel) and the nodes that use it.
        ops: Vec<Unsupported>,
    },
    /// A backend name that no target has.
    #[error("unknown backend `{name}` (known: {known})")]
    UnknownBackend {
        /// The name asked for.
        name: String,
        /// The backends there are.
        known: String,
    },
    /// A pass name that no pass table has.
    #[error("unknown pass `{name}` (optional passes: {known})")]
    UnknownPass {
        /// The name asked for.
        name: String,
        /// The passes that may be skipped.
        known: String,
    },
    /// A pass that a valid descriptor needs was asked to be skipped.
    #[error("the pass `{name}` cannot be skipped: a valid descriptor needs it (optional passes: {known})")]
    RequiredPass {
        /// The pass.
        name: String,
        /// The passes that may be skipped.
        known: String,
    },
    /// An IR invariant broke: a converter bug.
    #[error("internal converter error after {stage}: {detail}")]
    Internal {
        /// Which stage produced the bad IR.
        stage: String,
        /// What broke.
        detail: String,
    },
    /// Writing the bundle failed.
    #[error("writing {path}: {detail}")]
    Write {
        /// The file being written.
        path: String,
        /// What failed.
        detail: String,
    },
    /// Encoding a descriptor failed.
    #[error(transparent)]
    Descriptor(#[from] wdnn_descriptor_spec::DescriptorError),
}

/// One unsupported op type and where it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The op type (and what about it is unsupported).
    pub op: String,
    /// Names of the nodes that use it.
    pub nodes: Vec<String>,
}

struct UnsupportedList<'a>(&'a [Unsupported]);

impl fmt::Display for UnsupportedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, u) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let shown: Vec<&str> = u.nodes.iter().take(8).map(String::as_str).collect();
            let more = if u.nodes.len() > 8 { format!(" and {} more", u.nodes.len() - 8) } else { String::new() };
            write!(f, "  {} ({} node(s): {}{more})", u.op, u.nodes.len(), shown.join(", "))?;
        }
        Ok(())
    }
}
