//! The wdnn transpiler: ONNX in, a descriptor bundle out.
//!
//! Data flows one way: [`import`] (the only module that knows ONNX and tract) builds the [`ir`]; the [`pipeline`]
//! runs the graph [`passes`], then per backend its schedule (its layout, the [`codegen`] target's own passes, the
//! memory passes); [`emit`] plans the memory ([`plan`]) and encodes a graph descriptor, with the target's payloads,
//! and a weights file. [`convert_to_memory`] returns the bundle's files with the manifest, [`write_bundle`] writes
//! them, and [`convert`] does both.
//!
//! Architecture invariant: conversion reads no environment variable. Every knob is a [`ConvertOptions`] field that
//! the summary reports, so the same ONNX file and options always give the same bytes.

pub mod codegen;
pub mod emit;
mod error;
pub mod import;
pub mod ir;
mod lossy;
pub mod passes;
pub mod pipeline;
pub mod plan;

use std::path::Path;
use std::time::Instant;

use wdnn_descriptor_spec::manifest::MANIFEST_FILE;
use wdnn_descriptor_spec::{BackendEntry, FileRef, Manifest, Preprocessing, TensorSignature, sha256_hex};

pub use codegen::{Layout, TargetOptions, WebGpuTuning};
pub use emit::WeightFormat;
pub use error::{ConvertError, Unsupported};

/// zstd level for weight chunks (SPEC §7 asks for 19 or more).
pub const DEFAULT_ZSTD_LEVEL: i32 = 19;

/// What to convert and how.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Static shapes for inputs with symbolic dimensions.
    pub input_shapes: Vec<(String, Vec<u64>)>,
    /// Values of symbolic dimensions by symbol name; with `input_shapes`, bound everywhere in the model.
    pub dims: Vec<(String, u64)>,
    /// Backends to write descriptors for, in order of preference.
    pub backends: Vec<String>,
    /// How large weights are stored.
    pub weights: WeightFormat,
    /// zstd level for weight chunks.
    pub zstd_level: i32,
    /// Image preprocessing to record in the manifest.
    pub preprocessing: Option<Preprocessing>,
    /// Which optimizer passes run.
    pub passes: pipeline::PassSelection,
    /// Force this activation layout on every backend (normally each backend chooses its own).
    pub layout: Option<Layout>,
    /// The targets' options (the WebGPU code generator's tuning); the summary reports them.
    pub targets: TargetOptions,
    /// Leave out of the bundle a backend that has no kernel for some node (the summary says why), instead of
    /// failing the conversion. It still fails when no backend is left.
    pub skip_unsupported_backends: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            input_shapes: vec![],
            dims: vec![],
            backends: vec!["fallback".to_string()],
            weights: WeightFormat::F32,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            preprocessing: None,
            passes: pipeline::PassSelection::default(),
            layout: None,
            targets: TargetOptions::default(),
            skip_unsupported_backends: false,
        }
    }
}

/// What a conversion produced, for the command line's summary.
#[derive(Debug, Clone)]
pub struct ConvertSummary {
    /// The model name.
    pub model_name: String,
    /// Kernels per op after the passes.
    pub op_census: Vec<(String, usize)>,
    /// Number of weight values (elements of all constants).
    pub parameters: u64,
    /// Size of the ONNX file.
    pub onnx_bytes: u64,
    /// Size of all bundle files.
    pub bundle_bytes: u64,
    /// Each file written, with its size.
    pub files: Vec<(String, u64)>,
    /// Per backend: its passes, kernels and memory plan.
    pub backends: Vec<BackendSummary>,
    /// The backends left out because they have no kernel for some node (`skip_unsupported_backends`).
    pub skipped_backends: Vec<SkippedBackend>,
    /// What each graph pass did, and the ones skipped.
    pub passes: pipeline::ScheduleReport,
    /// Seconds per stage.
    pub stages: Vec<(&'static str, f64)>,
}

/// One backend's descriptor in numbers.
#[derive(Debug, Clone)]
pub struct BackendSummary {
    /// The backend.
    pub backend: String,
    /// Kernels in its descriptor.
    pub kernels: usize,
    /// Kernels per op.
    pub census: Vec<(String, usize)>,
    /// Its memory plan.
    pub plan: plan::MemoryPlan,
    /// What each pass of its schedule did, and the ones skipped.
    pub passes: pipeline::ScheduleReport,
    /// The tuning its passes and code generator used (`Target::settings`).
    pub settings: Vec<(&'static str, String)>,
}

/// A backend left out of the bundle, and why.
#[derive(Debug, Clone)]
pub struct SkippedBackend {
    /// The backend.
    pub backend: String,
    /// Every op and node it has no kernel for, with the reasons.
    pub ops: Vec<Unsupported>,
}

/// A bundle's files in memory, by name, as [`write_bundle`] writes them (the manifest last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleFiles {
    /// File name and contents.
    pub files: Vec<(String, Vec<u8>)>,
}

impl BundleFiles {
    /// The contents of the file `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, bytes)| bytes.as_slice())
    }
}

/// Converts the ONNX model at `onnx` into a bundle in `out_dir`; `progress` hears each stage as it starts.
pub fn convert(
    onnx: &Path,
    out_dir: &Path,
    options: &ConvertOptions,
    mut progress: impl FnMut(&str),
) -> Result<ConvertSummary, ConvertError> {
    let (bundle, mut summary) = convert_to_memory(onnx, options, &mut progress)?;
    progress("writing bundle");
    let start = Instant::now();
    write_bundle(&bundle, out_dir)?;
    summary.stages.push(("write", start.elapsed().as_secs_f64()));
    Ok(summary)
}

/// Writes the files of `bundle` into `dir`, creating it.
pub fn write_bundle(bundle: &BundleFiles, dir: &Path) -> Result<(), ConvertError> {
    let write_err = |path: &Path, e: std::io::Error| ConvertError::Write {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    for (name, bytes) in &bundle.files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| write_err(&path, e))?;
    }
    Ok(())
}

/// Converts the ONNX model at `onnx` into a bundle's files in memory; `progress` hears each stage as it starts.
pub fn convert_to_memory(
    onnx: &Path,
    options: &ConvertOptions,
    mut progress: impl FnMut(&str),
) -> Result<(BundleFiles, ConvertSummary), ConvertError> {
    let file = onnx.display().to_string();
    // Unknown backend and pass names fail before the (slow) import.
    for name in &options.backends {
        codegen::target(name, &options.targets)?;
    }
    options.passes.validate()?;
    let mut stages = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |stages: &mut Vec<(&'static str, f64)>, name: &'static str| {
        stages.push((name, clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };

    progress("reading ONNX");
    let source = std::fs::read(onnx).map_err(|e| ConvertError::Read { file: file.clone(), detail: e.to_string() })?;
    let import_options =
        import::onnx::ImportOptions { input_shapes: options.input_shapes.clone(), dims: options.dims.clone() };
    let graph = import::onnx::import(onnx, &import_options)?;
    pipeline::check(&graph, "import")?;
    lap(&mut stages, "import");
    let (bundle, mut summary) = convert_ir(graph, &source, options, progress)?;
    stages.append(&mut summary.stages);
    summary.stages = stages;
    Ok((bundle, summary))
}

/// Converts a graph already in the IR (imported from `source`, whose hash the manifest records) into a bundle's
/// files in memory: the pass pipeline, then each backend's schedule, descriptor and weights. Tests build graphs
/// directly and convert them through this.
pub fn convert_ir(
    mut graph: ir::Graph,
    source: &[u8],
    options: &ConvertOptions,
    mut progress: impl FnMut(&str),
) -> Result<(BundleFiles, ConvertSummary), ConvertError> {
    let targets =
        options.backends.iter().map(|name| codegen::target(name, &options.targets)).collect::<Result<Vec<_>, _>>()?;
    options.passes.validate()?;
    let mut stages = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |stages: &mut Vec<(&'static str, f64)>, name: &'static str| {
        stages.push((name, clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };
    pipeline::check(&graph, "input graph")?;

    progress("optimizing");
    let passes = pipeline::run(&mut graph, &options.passes)?;
    lap(&mut stages, "passes");

    let mut entries = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut backends = Vec::new();
    let mut skipped_backends = Vec::new();
    let mut first_gap = None;
    for target in &targets {
        progress(&format!("encoding {} descriptor and weights", target.name()));
        let (scheduled, schedule) = pipeline::run_backend(&graph, target.as_ref(), &options.passes, options.layout)?;
        let emitted = match emit::emit(&scheduled, target.as_ref(), options.weights, options.zstd_level) {
            Ok(emitted) => emitted,
            Err(ConvertError::UnsupportedKernels { backend, ops }) if options.skip_unsupported_backends => {
                skipped_backends.push(SkippedBackend { backend: backend.clone(), ops: ops.clone() });
                first_gap.get_or_insert(ConvertError::UnsupportedKernels { backend, ops });
                continue;
            }
            Err(e) => return Err(e),
        };
        let graph_file = format!("{}.graph.wdnn", target.name());
        // Backends whose weights encode identically share one file.
        let weights_file = match files.iter().find(|(_, bytes)| *bytes == emitted.weights) {
            Some((name, _)) => name.clone(),
            None => {
                let name = format!("{}.weights.wdnn", target.name());
                files.push((name.clone(), emitted.weights.clone()));
                name
            }
        };
        entries.push(BackendEntry {
            backend: target.name().to_string(),
            graph: FileRef::describe(&graph_file, &emitted.graph),
            weights: FileRef::describe(&weights_file, &emitted.weights),
            features: emitted.features.clone(),
        });
        files.push((graph_file, emitted.graph));
        backends.push(BackendSummary {
            backend: target.name().to_string(),
            kernels: emitted.kernels,
            census: emitted.census,
            plan: emitted.plan,
            passes: schedule,
            settings: target.settings(),
        });
    }
    if entries.is_empty()
        && let Some(gap) = first_gap
    {
        return Err(gap); // every backend was left out
    }
    lap(&mut stages, "encode");

    let signature = |v: ir::ValueId, name: &str| {
        let value = graph.value(v);
        TensorSignature { name: name.to_string(), dtype: value.dtype, shape: value.shape.clone() }
    };
    let manifest = Manifest {
        model_name: graph.name.clone(),
        source_sha256: sha256_hex(source),
        converter: format!("wdnn-transpiler {}", env!("CARGO_PKG_VERSION")),
        inputs: graph.inputs.iter().map(|&v| signature(v, &graph.value(v).name)).collect(),
        outputs: graph.outputs.iter().map(|(name, v)| signature(*v, name)).collect(),
        backends: entries,
        preprocessing: options.preprocessing.clone(),
    };
    files.push((MANIFEST_FILE.to_string(), manifest.to_bytes()?));

    let used: std::collections::BTreeSet<ir::ValueId> =
        graph.nodes.iter().flat_map(|n| n.inputs.iter().copied()).collect();
    let parameters = used.iter().filter(|&&v| graph.constant(v).is_some()).map(|&v| graph.value(v).numel()).sum();
    let summary = ConvertSummary {
        model_name: graph.name.clone(),
        op_census: graph.op_census(),
        parameters,
        onnx_bytes: source.len() as u64,
        bundle_bytes: files.iter().map(|(_, b)| b.len() as u64).sum(),
        files: files.iter().map(|(n, b)| (n.clone(), b.len() as u64)).collect(),
        backends,
        skipped_backends,
        passes,
        stages,
    };
    Ok((BundleFiles { files }, summary))
}
