//! Running the cases on one backend: convert (with frozen inputs where needed), load, run every data set and
//! compare; workers share the case list, and a panic is caught and classified by the stage it interrupted.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tract_onnx::pb::{TensorProto, type_proto};
use wdnn_runner_core::spec::DType;
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::{ConvertError, ConvertOptions};

use super::cases::{Case, CaseKind, onnx_dtype, read_model, read_tensor_file};
use super::compare::{CASE_TOLERANCES, TOLERANCE_OVERRIDES, compare, default_tolerance};
use super::freeze::{frozen_inputs, write_frozen};
use super::{Class, Outcome};
use crate::backends::available_backends;
use crate::node::NodeWorker;
use crate::{npy, repo_root};

/// Where a column's bundles run.
#[derive(Clone, Debug)]
pub(super) enum Host {
    /// In this process, on the compiled-in backend.
    Native,
    /// In the wasm32 package (this folder) under Node: the build browsers get.
    Node(PathBuf),
}

/// A worker's way to load a case's bundle on the column's backend.
enum Runner<'a> {
    Native(&'a dyn Backend),
    Node { backend: &'a str, worker: RefCell<NodeWorker> },
}

/// A loaded case.
enum Loaded<'a> {
    Native(wdnn_runner_core::Session),
    Node { worker: &'a RefCell<NodeWorker>, inputs: Vec<String> },
}

impl Runner<'_> {
    fn name(&self) -> &str {
        match self {
            Runner::Native(backend) => backend.name(),
            Runner::Node { backend, .. } => backend,
        }
    }
}

impl Loaded<'_> {
    fn first_input(&self) -> String {
        match self {
            Loaded::Native(session) => session.inputs().first().map(|s| s.name.clone()).unwrap_or_default(),
            Loaded::Node { inputs, .. } => inputs.first().cloned().unwrap_or_default(),
        }
    }

    fn run(&mut self, inputs: &[(&str, Tensor)]) -> Result<Vec<(String, Tensor)>, String> {
        match self {
            Loaded::Native(session) => session.run(inputs).map_err(|e| e.to_string()),
            Loaded::Node { worker, .. } => worker.borrow_mut().run(inputs),
        }
    }
}

/// Runs every case on `backend` with `jobs` threads, in case order.
pub(super) fn run_all(cases: &[Case], backend: &str, jobs: usize, host: &Host) -> Result<Vec<Outcome>> {
    // Per process: two runs in one working tree must not share bundles.
    let scratch_root = repo_root().join("target/conformance").join(format!("{backend}-{}", std::process::id()));
    // Frozen-input models are written beside the workers' bundles, possibly before any conversion made the folder.
    std::fs::create_dir_all(&scratch_root).with_context(|| format!("creating {}", scratch_root.display()))?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; cases.len()]);
    let bar = ProgressBar::new(cases.len() as u64)
        .with_style(ProgressStyle::with_template("{prefix} [{elapsed}] {bar:30} {pos}/{len} {msg}")?);
    bar.set_prefix(format!("conformance {backend}"));
    // Panics are caught and classified; keep their messages out of the output.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    std::thread::scope(|scope| {
        for worker in 0..jobs {
            let (next, results, bar) = (&next, &results, &bar);
            let scratch = scratch_root.join(format!("worker{worker}"));
            scope.spawn(move || {
                // Each worker owns its backends (a backend need not be shareable between threads) or its Node
                // process.
                let backends = available_backends();
                let runner = match host {
                    Host::Native => {
                        let Some(chosen) = backends.iter().find(|b| b.name() == backend) else { return };
                        Runner::Native(chosen.as_ref())
                    }
                    Host::Node(package) => {
                        let worker = NodeWorker::new(package, &scratch.with_extension("node"));
                        Runner::Node { backend, worker: RefCell::new(worker) }
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    bar.set_message(case.name.clone());
                    let outcome = run_case(case, &runner, &scratch);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(outcome);
                    }
                    bar.inc(1);
                }
            });
        }
    });
    std::panic::set_hook(previous_hook);
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&scratch_root);
    let results = results.into_inner().map_err(|_| anyhow::anyhow!("a worker panicked"))?;
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Outcome::new(Class::RunnerError, "the case did not finish (worker died)")))
        .collect())
}

/// Which stage a panic interrupted.
#[derive(Clone, Copy)]
enum Stage {
    Convert,
    Run,
}

fn run_case(case: &Case, backend: &Runner, scratch: &Path) -> Outcome {
    let stage = std::cell::Cell::new(Stage::Convert);
    let result = catch_unwind(AssertUnwindSafe(|| match &case.kind {
        CaseKind::Node(dir) => run_node_case(dir, case, backend, scratch, &stage),
        CaseKind::Zoo { model, input, output } => run_zoo_case(model, input, output, backend, scratch, &stage),
    }));
    match result {
        Ok(outcome) => outcome,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            match stage.get() {
                Stage::Convert => Outcome::new(Class::ConverterError, format!("panic: {msg}")),
                Stage::Run => Outcome::new(Class::RunnerError, format!("panic: {msg}")),
            }
        }
    }
}

/// Converts `model` into a fresh bundle at `scratch`.
fn convert(model: &Path, scratch: &Path, backend: &str, input_shapes: Vec<(String, Vec<u64>)>) -> Result<(), Outcome> {
    let _ = std::fs::remove_dir_all(scratch);
    let options = ConvertOptions {
        input_shapes,
        backends: vec![backend.to_string()],
        // The format is the same at any level; level 3 keeps 1900 conversions fast.
        zstd_level: 3,
        ..ConvertOptions::default()
    };
    match wdnn_transpiler::convert(model, scratch, &options, |_| {}) {
        Ok(_) => Ok(()),
        Err(ConvertError::UnsupportedOps { ops, .. }) => {
            let ops: Vec<String> = ops.into_iter().map(|u| u.op).collect();
            Err(Outcome::new(Class::Unsupported, ops.join("; ")))
        }
        // The backend has no kernel for some node: the case is unsupported there, not broken.
        Err(ConvertError::UnsupportedKernels { backend, ops }) => {
            let ops: Vec<String> = ops.into_iter().map(|u| u.op).collect();
            Err(Outcome::new(Class::Unsupported, format!("no {backend} kernel: {}", ops.join("; "))))
        }
        // The file is the case's (or its frozen copy): leave it out of the message.
        Err(ConvertError::Onnx { detail, .. }) => Err(Outcome::new(Class::ConverterError, short(&detail))),
        Err(e) => Err(Outcome::new(Class::ConverterError, short(&e.to_string()))),
    }
}

/// Loads the bundle at `scratch` on `runner`'s backend.
fn load<'a>(scratch: &Path, runner: &'a Runner) -> Result<Loaded<'a>, Outcome> {
    let error = |e: String| Outcome::new(Class::RunnerError, short(&e));
    match runner {
        Runner::Native(backend) => {
            let bundle = Bundle::open(scratch).map_err(|e| error(e.to_string()))?;
            let session = wdnn_runner_core::load(&bundle, &[*backend], |_, _| {}).map_err(|e| error(e.to_string()))?;
            Ok(Loaded::Native(session))
        }
        Runner::Node { backend, worker } => {
            let loaded = worker.borrow_mut().load(scratch, &[*backend]).map_err(error)?;
            Ok(Loaded::Node { worker, inputs: loaded.inputs })
        }
    }
}

/// One data set of a node case: inputs and expected outputs, in graph order.
struct DataSet {
    /// Each input as read (for freezing) and as a tensor.
    inputs: Vec<(TensorProto, Tensor)>,
    outputs: Vec<Tensor>,
}

fn run_node_case(dir: &Path, case: &Case, backend: &Runner, scratch: &Path, stage: &std::cell::Cell<Stage>) -> Outcome {
    match node_case(dir, case, backend, scratch, stage) {
        Ok(o) | Err(o) => o,
    }
}

fn node_case(
    dir: &Path,
    case: &Case,
    backend: &Runner,
    scratch: &Path,
    stage: &std::cell::Cell<Stage>,
) -> Result<Outcome, Outcome> {
    let model_path = dir.join("model.onnx");
    let model = read_model(&model_path).map_err(|e| Outcome::new(Class::ConverterError, e))?;
    let graph = model.graph.as_ref().ok_or_else(|| Outcome::new(Class::ConverterError, "the model has no graph"))?;
    let initializers: BTreeSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&tract_onnx::pb::ValueInfoProto> =
        graph.input.iter().filter(|i| !initializers.contains(i.name.as_str())).collect();
    for (what, info) in inputs.iter().map(|i| ("input", *i)).chain(graph.output.iter().map(|o| ("output", o))) {
        match info.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => {
                onnx_dtype(t.elem_type).map_err(|e| Outcome::new(Class::Unsupported, format!("{what} dtype {e}")))?;
            }
            None => {
                return Err(Outcome::new(
                    Class::Unsupported,
                    format!("{what} `{}` is not a tensor (sequence, map or optional)", info.name),
                ));
            }
        }
    }
    let mut sets: Vec<DataSet> = Vec::new();
    let mut set_dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Outcome::new(Class::RunnerError, format!("listing {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("test_data_set_")))
        .collect();
    set_dirs.sort();
    if set_dirs.is_empty() {
        return Err(Outcome::new(Class::RunnerError, "the case has no test data set"));
    }
    for set_dir in &set_dirs {
        let read = |prefix: &str| -> Result<Vec<(TensorProto, Tensor)>, Outcome> {
            let mut tensors = Vec::new();
            for i in 0.. {
                let file = set_dir.join(format!("{prefix}_{i}.pb"));
                if !file.exists() {
                    break;
                }
                tensors.push(read_tensor_file(&file)?);
            }
            Ok(tensors)
        };
        let outputs = read("output")?.into_iter().map(|(_, t)| t).collect();
        sets.push(DataSet { inputs: read("input")?, outputs });
    }
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let frozen = frozen_inputs(&model, &names);
    let tolerance = |dtype: DType| {
        if let Some((_, r, a, _)) = CASE_TOLERANCES.iter().find(|(c, ..)| *c == case.name) {
            return (*r, *a);
        }
        let (mut rtol, mut atol) = default_tolerance(dtype);
        for (op, r, a, _) in TOLERANCE_OVERRIDES {
            if case.ops.iter().any(|o| o == op) {
                rtol = rtol.max(*r);
                atol = atol.max(*a);
            }
        }
        (rtol, atol)
    };
    let frozen_names: Vec<String> = frozen.iter().map(|&i| names[i].clone()).collect();
    let with_frozen = |mut o: Outcome| {
        o.frozen = frozen_names.clone();
        o
    };
    // The model is converted again only when a data set changes an input shape or a frozen value.
    let mut converted_for: Option<(Vec<Vec<u64>>, Vec<&TensorProto>)> = None;
    let mut session = None;
    for (k, set) in sets.iter().enumerate() {
        if set.inputs.len() != names.len() {
            return Err(Outcome::new(
                Class::RunnerError,
                format!("data set {k} has {} inputs, the model {}", set.inputs.len(), names.len()),
            ));
        }
        let runtime: Vec<usize> = (0..names.len()).filter(|i| !frozen.contains(i)).collect();
        let shapes: Vec<Vec<u64>> = runtime.iter().map(|&i| set.inputs[i].1.shape().to_vec()).collect();
        let values: Vec<&TensorProto> = frozen.iter().map(|&i| &set.inputs[i].0).collect();
        let key = (shapes, values);
        if converted_for.as_ref() != Some(&key) {
            stage.set(Stage::Convert);
            let fixed = runtime.iter().map(|&i| names[i].clone()).zip(key.0.iter().cloned()).collect();
            let source = if frozen.is_empty() {
                model_path.clone()
            } else {
                let bound: Vec<(&str, &TensorProto)> =
                    frozen.iter().map(|&i| names[i].as_str()).zip(key.1.iter().copied()).collect();
                write_frozen(&model, &bound, &scratch.with_extension("onnx")).map_err(with_frozen)?
            };
            convert(&source, scratch, backend.name(), fixed).map_err(with_frozen)?;
            stage.set(Stage::Run);
            session = Some(load(scratch, backend).map_err(with_frozen)?);
            converted_for = Some(key);
        }
        let Some(session) = session.as_mut() else { unreachable!("converted above") };
        let named: Vec<(&str, Tensor)> =
            runtime.iter().map(|&i| (names[i].as_str(), set.inputs[i].1.clone())).collect();
        let actual = session.run(&named).map_err(|e| with_frozen(Outcome::new(Class::RunnerError, short(&e))))?;
        if actual.len() != set.outputs.len() {
            let detail = format!("{} outputs, {} expected", actual.len(), set.outputs.len());
            return Err(with_frozen(Outcome::new(Class::Failed, detail)));
        }
        for (j, ((name, a), e)) in actual.iter().zip(&set.outputs).enumerate() {
            if let Some(diff) = compare(a, e, tolerance(e.dtype())) {
                let set = if sets.len() > 1 { format!("data set {k}, ") } else { String::new() };
                return Err(with_frozen(Outcome::new(Class::Failed, format!("{set}output {j} `{name}`: {diff}"))));
            }
        }
    }
    Ok(with_frozen(Outcome::new(Class::Passed, "")))
}

fn run_zoo_case(
    model: &Path,
    input: &Path,
    output: &Path,
    backend: &Runner,
    scratch: &Path,
    stage: &std::cell::Cell<Stage>,
) -> Outcome {
    let run = || -> Result<Outcome, Outcome> {
        let read = |p: &Path| npy::read(p).map_err(|e| Outcome::new(Class::RunnerError, format!("{e:#}")));
        let (x, expected) = (read(input)?, read(output)?);
        convert(model, scratch, backend.name(), vec![])?;
        stage.set(Stage::Run);
        let mut session = load(scratch, backend)?;
        let name = session.first_input();
        let actual = session.run(&[(name.as_str(), x)]).map_err(|e| Outcome::new(Class::RunnerError, short(&e)))?;
        let Some((out_name, a)) = actual.first() else {
            return Err(Outcome::new(Class::Failed, "no output"));
        };
        match compare(a, &expected, default_tolerance(DType::F32)) {
            Some(diff) => Err(Outcome::new(Class::Failed, format!("output `{out_name}`: {diff}"))),
            None => Ok(Outcome::new(Class::Passed, "")),
        }
    };
    match run() {
        Ok(o) | Err(o) => o,
    }
}

/// The first line of a message, at most 300 characters.
fn short(message: &str) -> String {
    let line = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut s: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        s.push('…');
    }
    s
}
