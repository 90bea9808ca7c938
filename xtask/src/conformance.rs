//! `cargo xtask conformance`: the official ONNX backend node tests and the model-zoo graphs, per backend.
//!
//! Every case is converted with [`wdnn_transpiler::convert`] into a scratch bundle, loaded on one backend, run on
//! its test data and compared with the expected outputs. Each case ends in exactly one [`Class`]; nothing is
//! skipped silently. A full run (no `--filter`) writes `CONFORMANCE.md`; `--check` fails when a case listed in
//! `fixtures/conformance/passing-<backend>.txt` does not pass, and `--update` adds the newly passing cases to that
//! list (and, with `--allow-removals`, drops the listed cases that no longer pass: say why in the commit message).
//!
//! Cases:
//! - `node/test_<name>`: `CACHE/onnx-node-tests/node/test_<name>/` (`model.onnx`, `test_data_set_N/*.pb`), made by
//!   `fixtures/scripts/gen_onnx_node_tests.py` through `cargo xtask fixtures` (onnx==1.23.2).
//! - `zoo/<name>`: `fixtures/models/light/light_<name>.onnx` with `fixtures/expected/light/<name>.*.npy`.
//!
//! Comparison: the dtype and shape must be equal; floats must satisfy `|a − e| ≤ atol + rtol·|e|` (the defaults
//! per dtype are in [`default_tolerance`], per-op overrides with their reasons in [`TOLERANCE_OVERRIDES`]), with NaN
//! where and only where NaN is expected and infinities equal; integers and bools must be equal.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tract_onnx::pb::{ModelProto, TensorProto, type_proto};
use tract_onnx::prelude::Framework;
use wdnn_runner_core::spec::DType;
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::{ConvertError, ConvertOptions};

use crate::cli::{available_backends, repo_root};
use crate::npy;

/// The onnx release the node tests come from (pinned in fixtures/scripts/requirements.txt).
const ONNX_VERSION: &str = "1.23.2";

/// The zoo graphs of `fixtures/models/light`.
const ZOO: [&str; 9] = [
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
];

/// ONNX op types and the input slots they read as attributes (shapes, axes, sizes, pads, counts, OneHot's values,
/// BatchNormalization's statistics, which inference folds into an affine map). wdnn compiles static shapes, so a
/// graph input that reaches one of these slots (directly, or through ops other than `Shape` and `Size`) is bound to
/// its test value as an initializer before conversion ("frozen"); the report lists those cases.
const SHAPE_INPUTS: &[(&str, &[usize])] = &[
    ("AffineGrid", &[1]),
    ("BatchNormalization", &[1, 2, 3, 4]),
    ("CenterCropPad", &[1]),
    ("Col2Im", &[1, 2]),
    ("Compress", &[1]),
    ("ConstantOfShape", &[0]),
    ("CumProd", &[1]),
    ("DequantizeLinear", &[1, 2]),
    ("CumSum", &[1]),
    ("Dropout", &[1, 2]),
    ("Expand", &[1]),
    ("MaxUnpool", &[2]),
    ("OneHot", &[1, 2]),
    ("Pad", &[1, 2, 3]),
    ("QuantizeLinear", &[1, 2]),
    ("Range", &[0, 1, 2]),
    ("ReduceL1", &[1]),
    ("ReduceL2", &[1]),
    ("ReduceLogSum", &[1]),
    ("ReduceLogSumExp", &[1]),
    ("ReduceMax", &[1]),
    ("ReduceMean", &[1]),
    ("ReduceMin", &[1]),
    ("ReduceProd", &[1]),
    ("ReduceSum", &[1]),
    ("ReduceSumSquare", &[1]),
    ("Reshape", &[1]),
    ("ReverseSequence", &[1]),
    ("Resize", &[1, 2, 3]),
    ("Slice", &[1, 2, 3, 4]),
    ("Split", &[1]),
    ("Squeeze", &[1]),
    ("Tile", &[1]),
    ("TopK", &[1]),
    ("Trilu", &[1]),
    ("Unsqueeze", &[1]),
    ("Upsample", &[1]),
];

/// Looser tolerances for the cases that use an op: `(ONNX op type, rtol, atol, reason)`. A case takes the loosest
/// override among its ops.
pub(crate) const TOLERANCE_OVERRIDES: &[(&str, f64, f64, &str)] = &[];

/// Looser tolerances for single cases: `(case, rtol, atol, reason)`; they replace the op's.
pub(crate) const CASE_TOLERANCES: &[(&str, f64, f64, &str)] = &[
    (
        "node/test_averagepool_2d_ceil_last_window_starts_on_pad",
        0.0,
        1e-4,
        "the expected values are written to 4 decimals in the ONNX test",
    ),
    ("node/test_gridsample_bicubic", 0.0, 1e-4, "the expected values are written to 4 decimals in the ONNX test"),
];

/// Default `(rtol, atol)` for a float dtype.
fn default_tolerance(dtype: DType) -> (f64, f64) {
    match dtype {
        // Half precision has an 11-bit significand: one rounding is a relative error of 4.9e-4.
        DType::F16 => (2e-3, 1e-3),
        _ => (1e-4, 1e-6),
    }
}

/// Run the ONNX backend node tests and the zoo graphs on one or every backend, and report.
#[derive(Args)]
pub struct ConformanceArgs {
    /// `fallback`, another compiled-in backend, or `all` (every compiled-in backend that is available here).
    #[arg(long, default_value = "fallback")]
    backend: String,
    /// Fail when a case listed in fixtures/conformance/passing-<backend>.txt does not pass.
    #[arg(long)]
    check: bool,
    /// Add the newly passing cases to fixtures/conformance/passing-<backend>.txt.
    #[arg(long)]
    update: bool,
    /// With --update: also remove listed cases that no longer pass (give the reason in the commit message).
    #[arg(long, requires = "update")]
    allow_removals: bool,
    /// Only run cases whose name contains one of these strings (repeatable); CONFORMANCE.md is then not written.
    #[arg(long)]
    filter: Vec<String>,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Print every case that does not pass.
    #[arg(long, short)]
    verbose: bool,
}

impl ConformanceArgs {
    /// What `cargo xtask test` runs: `--backend all --check`.
    pub fn gate() -> ConformanceArgs {
        ConformanceArgs {
            backend: "all".to_string(),
            check: true,
            update: false,
            allow_removals: false,
            filter: vec![],
            jobs: 2,
            verbose: false,
        }
    }
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Class {
    Passed,
    /// The numbers (or dtypes, or shapes) differ.
    Failed,
    /// The converter reported an unsupported op, attribute, dtype or input kind.
    Unsupported,
    /// The converter failed otherwise (tract could not type the model, internal error, panic).
    ConverterError,
    /// The bundle did not load or run.
    RunnerError,
}

const CLASSES: [Class; 5] =
    [Class::Passed, Class::Failed, Class::Unsupported, Class::ConverterError, Class::RunnerError];

impl Class {
    fn label(self) -> &'static str {
        match self {
            Class::Passed => "passed",
            Class::Failed => "failed",
            Class::Unsupported => "unsupported at convert",
            Class::ConverterError => "converter error",
            Class::RunnerError => "runner error",
        }
    }
}

#[derive(Debug, Clone)]
struct Outcome {
    class: Class,
    detail: String,
    /// Graph inputs bound to their test values before conversion (see [`SHAPE_INPUTS`]).
    frozen: Vec<String>,
}

impl Outcome {
    fn new(class: Class, detail: impl Into<String>) -> Outcome {
        Outcome { class, detail: detail.into(), frozen: vec![] }
    }
}

enum CaseKind {
    Node(PathBuf),
    Zoo { model: PathBuf, input: PathBuf, output: PathBuf },
}

struct Case {
    /// `node/test_<name>` or `zoo/<name>`.
    name: String,
    kind: CaseKind,
    /// The ONNX op types the case tests, for the per-op table (an `_expanded` case counts for its original op).
    ops: Vec<String>,
}

fn cache_dir() -> PathBuf {
    std::env::var_os("WDNN_CACHE").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".cache"))
}

/// The op types of a model's top-level graph, deduplicated in order of appearance.
fn model_ops(model: &ModelProto) -> Vec<String> {
    let mut ops: Vec<String> = Vec::new();
    for node in model.graph.iter().flat_map(|g| &g.node) {
        if !ops.contains(&node.op_type) {
            ops.push(node.op_type.clone());
        }
    }
    ops
}

fn read_model(path: &Path) -> Result<ModelProto, String> {
    let path = path.to_path_buf();
    match catch_unwind(move || tract_onnx::onnx().proto_model_for_path(&path)) {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(e)) => Err(format!("not a valid ONNX model: {e}")),
        Err(_) => Err("not a valid ONNX model (the protobuf parser panicked)".to_string()),
    }
}

fn discover(filter: &[String]) -> Result<Vec<Case>> {
    let node_dir = cache_dir().join("onnx-node-tests/node");
    if !node_dir.is_dir() {
        bail!("{} is missing: run `cargo xtask fixtures` first", node_dir.display());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&node_dir)
        .with_context(|| format!("listing {}", node_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("model.onnx").is_file())
        .collect();
    dirs.sort();
    let folder = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The ops of every node case's own model, for the `_expanded` cases' attribution.
    let own_ops: BTreeMap<String, Vec<String>> = dirs
        .iter()
        .map(|d| (folder(d), read_model(&d.join("model.onnx")).map(|m| model_ops(&m)).unwrap_or_default()))
        .collect();
    let mut cases = Vec::new();
    for dir in dirs {
        let test = folder(&dir);
        let original = test.find("_expanded").map(|i| &test[..i]).filter(|o| own_ops.contains_key(*o));
        let ops = original.and_then(|o| own_ops.get(o)).or_else(|| own_ops.get(&test)).cloned().unwrap_or_default();
        cases.push(Case { name: format!("node/{test}"), kind: CaseKind::Node(dir), ops });
    }
    let fixtures = repo_root().join("fixtures");
    for name in ZOO {
        let model = fixtures.join(format!("models/light/light_{name}.onnx"));
        let ops = read_model(&model).map(|m| model_ops(&m)).unwrap_or_default();
        let expected = fixtures.join("expected/light");
        cases.push(Case {
            name: format!("zoo/{name}"),
            kind: CaseKind::Zoo {
                model,
                input: expected.join(format!("{name}.input.npy")),
                output: expected.join(format!("{name}.output.npy")),
            },
            ops,
        });
    }
    cases.retain(|c| filter.is_empty() || filter.iter().any(|f| c.name.contains(f.as_str())));
    Ok(cases)
}

pub fn conformance(args: ConformanceArgs) -> Result<()> {
    let compiled: Vec<String> = available_backends().iter().map(|b| b.name().to_string()).collect();
    let backends: Vec<String> = if args.backend == "all" {
        let mut usable = Vec::new();
        for b in available_backends() {
            match b.probe() {
                Ok(()) => usable.push(b.name().to_string()),
                Err(why) => println!("conformance: skipping backend {} (unavailable here: {why})", b.name()),
            }
        }
        usable
    } else if compiled.contains(&args.backend) {
        vec![args.backend.clone()]
    } else {
        bail!("unknown backend `{}` (compiled in: {}, or all)", args.backend, compiled.join(", "));
    };
    let cases = discover(&args.filter)?;
    if cases.is_empty() {
        bail!("no case matches the filter {:?}", args.filter);
    }
    let full = args.filter.is_empty();
    let mut results: Vec<(String, Vec<Outcome>)> = Vec::new();
    for backend in &backends {
        let start = Instant::now();
        let outcomes = run_all(&cases, backend, args.jobs.max(1))?;
        let seconds = start.elapsed().as_secs_f64();
        print_summary(backend, &cases, &outcomes, seconds, args.verbose);
        results.push((backend.clone(), outcomes));
    }
    if full {
        let path = repo_root().join("CONFORMANCE.md");
        std::fs::write(&path, report(&cases, &results)).with_context(|| format!("writing {}", path.display()))?;
        println!("conformance: wrote {}", path.display());
    }
    let mut broken = Vec::new();
    for (backend, outcomes) in &results {
        broken.extend(gate(backend, &cases, outcomes, &args)?);
    }
    if args.check && !broken.is_empty() {
        bail!(
            "{} case(s) listed as passing no longer pass:\n  {}\n(if that is intended, run `cargo xtask conformance \
             --update --allow-removals` and give the reason in the commit message)",
            broken.len(),
            broken.join("\n  ")
        );
    }
    Ok(())
}

/// Checks and updates `fixtures/conformance/passing-<backend>.txt`; returns the listed cases that do not pass.
fn gate(backend: &str, cases: &[Case], outcomes: &[Outcome], args: &ConformanceArgs) -> Result<Vec<String>> {
    let path = repo_root().join(format!("fixtures/conformance/passing-{backend}.txt"));
    let listed: BTreeSet<String> = match std::fs::read_to_string(&path) {
        Ok(text) => {
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let ran: BTreeMap<&str, &Outcome> = cases.iter().map(|c| c.name.as_str()).zip(outcomes).collect();
    let full = args.filter.is_empty();
    let mut broken = Vec::new();
    for name in &listed {
        match ran.get(name.as_str()) {
            Some(o) if o.class == Class::Passed => {}
            Some(o) => broken.push(format!("{backend} {name}: {}: {}", o.class.label(), o.detail)),
            None if full => broken.push(format!("{backend} {name}: no such case any more")),
            None => {}
        }
    }
    let passing: BTreeSet<String> =
        ran.iter().filter(|(_, o)| o.class == Class::Passed).map(|(n, _)| n.to_string()).collect();
    let new: Vec<&String> = passing.difference(&listed).collect();
    if args.update {
        let mut list = listed.clone();
        list.extend(passing.iter().cloned());
        if args.allow_removals {
            list.retain(|n| match ran.get(n.as_str()) {
                Some(o) => o.class == Class::Passed,
                None => !full,
            });
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut text = format!(
            "# Cases that pass on the {backend} backend: `cargo xtask conformance --check` fails when one does not.\n\
             # Maintained by `cargo xtask conformance --update`; a case leaves only with a reason in the commit message.\n"
        );
        for name in &list {
            text.push_str(name);
            text.push('\n');
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        let removed = listed.difference(&list).count();
        println!(
            "conformance: {}: {} cases listed ({} added, {removed} removed)",
            path.display(),
            list.len(),
            list.len() + removed - listed.len()
        );
    } else if !new.is_empty() {
        println!(
            "conformance: {backend}: {} passing case(s) are not in {} yet; `--update` adds them",
            new.len(),
            path.display()
        );
    }
    Ok(broken)
}

/// Runs every case on `backend` with `jobs` threads, in case order.
fn run_all(cases: &[Case], backend: &str, jobs: usize) -> Result<Vec<Outcome>> {
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
                // Each worker owns its backends: a backend need not be shareable between threads.
                let backends = available_backends();
                let Some(chosen) = backends.iter().find(|b| b.name() == backend) else { return };
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    bar.set_message(case.name.clone());
                    let outcome = run_case(case, chosen.as_ref(), &scratch);
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

fn run_case(case: &Case, backend: &dyn Backend, scratch: &Path) -> Outcome {
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
        // The file is the case's (or its frozen copy): leave it out of the message.
        Err(ConvertError::Onnx { detail, .. }) => Err(Outcome::new(Class::ConverterError, short(&detail))),
        Err(e) => Err(Outcome::new(Class::ConverterError, short(&e.to_string()))),
    }
}

/// Loads the bundle at `scratch` on `backend`.
fn load(scratch: &Path, backend: &dyn Backend) -> Result<wdnn_runner_core::Session, Outcome> {
    let bundle = Bundle::open(scratch).map_err(|e| Outcome::new(Class::RunnerError, short(&e.to_string())))?;
    wdnn_runner_core::load(&bundle, &[backend], |_, _| {})
        .map_err(|e| Outcome::new(Class::RunnerError, short(&e.to_string())))
}

/// One data set of a node case: inputs and expected outputs, in graph order.
struct DataSet {
    /// Each input as read (for freezing) and as a tensor.
    inputs: Vec<(TensorProto, Tensor)>,
    outputs: Vec<Tensor>,
}

fn run_node_case(
    dir: &Path,
    case: &Case,
    backend: &dyn Backend,
    scratch: &Path,
    stage: &std::cell::Cell<Stage>,
) -> Outcome {
    match node_case(dir, case, backend, scratch, stage) {
        Ok(o) | Err(o) => o,
    }
}

fn node_case(
    dir: &Path,
    case: &Case,
    backend: &dyn Backend,
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
        let actual =
            session.run(&named).map_err(|e| with_frozen(Outcome::new(Class::RunnerError, short(&e.to_string()))))?;
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

/// The indices (into `inputs`, the graph inputs that are not initializers) of the inputs to freeze: those that
/// feed a [`SHAPE_INPUTS`] slot of a top-level node directly, and the integer ones that reach such a slot through
/// other ops (but `Shape` and `Size`, which only read a shape). A float input computed on (a quantization scale
/// derived from the data, say) stays an input.
fn frozen_inputs(model: &ModelProto, inputs: &[String]) -> Vec<usize> {
    let Some(graph) = model.graph.as_ref() else { return vec![] };
    let producer: BTreeMap<&str, &tract_onnx::pb::NodeProto> =
        graph.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    let integer = |name: &str| {
        let info = graph.input.iter().find(|i| i.name == name);
        let code = info.and_then(|i| i.r#type.as_ref()).and_then(|t| t.value.as_ref()).map(|v| match v {
            type_proto::Value::TensorType(t) => t.elem_type,
        });
        code.and_then(|c| onnx_dtype(c).ok()).is_some_and(|dt| !dt.is_float() && dt != DType::Bool)
    };
    // (value name, reached directly from the slot)
    let mut todo: Vec<(&str, bool)> = Vec::new();
    for node in &graph.node {
        if let Some((_, slots)) = SHAPE_INPUTS.iter().find(|(op, _)| *op == node.op_type) {
            let named = slots.iter().filter_map(|&s| node.input.get(s)).map(String::as_str).filter(|n| !n.is_empty());
            todo.extend(named.map(|n| (n, true)));
        }
    }
    let mut seen = BTreeSet::new();
    let mut frozen = BTreeSet::new();
    while let Some((name, direct)) = todo.pop() {
        if !seen.insert((name, direct)) {
            continue;
        }
        if let Some(i) = inputs.iter().position(|n| n == name) {
            if direct || integer(name) {
                frozen.insert(i);
            }
        } else if let Some(node) = producer.get(name)
            && !matches!(node.op_type.as_str(), "Shape" | "Size")
        {
            todo.extend(node.input.iter().map(String::as_str).filter(|n| !n.is_empty()).map(|n| (n, false)));
        }
    }
    frozen.into_iter().collect()
}

/// Writes `model` with each `(input, value)` turned from a graph input into an initializer; returns the path.
fn write_frozen(model: &ModelProto, bound: &[(&str, &TensorProto)], path: &Path) -> Result<PathBuf, Outcome> {
    use prost::Message;
    let mut model = model.clone();
    if let Some(graph) = model.graph.as_mut() {
        graph.input.retain(|i| !bound.iter().any(|(n, _)| *n == i.name));
        for (name, value) in bound {
            let mut t = (*value).clone();
            t.name = name.to_string();
            graph.initializer.push(t);
        }
    }
    std::fs::write(path, model.encode_to_vec())
        .map_err(|e| Outcome::new(Class::RunnerError, format!("writing {}: {e}", path.display())))?;
    Ok(path.to_path_buf())
}

fn run_zoo_case(
    model: &Path,
    input: &Path,
    output: &Path,
    backend: &dyn Backend,
    scratch: &Path,
    stage: &std::cell::Cell<Stage>,
) -> Outcome {
    let run = || -> Result<Outcome, Outcome> {
        let read = |p: &Path| npy::read(p).map_err(|e| Outcome::new(Class::RunnerError, format!("{e:#}")));
        let (x, expected) = (read(input)?, read(output)?);
        convert(model, scratch, backend.name(), vec![])?;
        stage.set(Stage::Run);
        let mut session = load(scratch, backend)?;
        let name = session.inputs().first().map(|s| s.name.clone()).unwrap_or_default();
        let actual =
            session.run(&[(name.as_str(), x)]).map_err(|e| Outcome::new(Class::RunnerError, short(&e.to_string())))?;
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

/// An ONNX `TensorProto.DataType` as a wdnn dtype, or the ONNX name of one wdnn does not have.
fn onnx_dtype(code: i32) -> Result<DType, String> {
    Ok(match code {
        1 => DType::F32,
        2 => DType::U8,
        3 => DType::I8,
        4 => DType::U16,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::I64,
        9 => DType::Bool,
        10 => DType::F16,
        11 => DType::F64,
        12 => DType::U32,
        13 => DType::U64,
        other => {
            let name = match other {
                8 => "string",
                14 => "complex64",
                15 => "complex128",
                16 => "bfloat16",
                17 => "float8e4m3fn",
                18 => "float8e4m3fnuz",
                19 => "float8e5m2",
                20 => "float8e5m2fnuz",
                21 => "uint4",
                22 => "int4",
                23 => "float4e2m1",
                24 => "float8e8m0",
                25 => "uint2",
                26 => "int2",
                _ => "unknown",
            };
            return Err(format!("{name} ({other})"));
        }
    })
}

/// Reads a TensorProto file (test data), and the host tensor it holds.
fn read_tensor_file(path: &Path) -> Result<(TensorProto, Tensor), Outcome> {
    let bad = |detail: String| Outcome::new(Class::RunnerError, format!("{}: {detail}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let proto = tract_onnx::tensor::proto_from_reader(file).map_err(|e| bad(format!("{e:?}")))?;
    let tensor = tensor_from_proto(&proto).map_err(|e| match e {
        ProtoError::Dtype(d) => Outcome::new(Class::Unsupported, format!("test data of dtype {d}")),
        ProtoError::Bad(d) => bad(d),
    })?;
    Ok((proto, tensor))
}

enum ProtoError {
    Dtype(String),
    Bad(String),
}

fn tensor_from_proto(t: &TensorProto) -> Result<Tensor, ProtoError> {
    let dtype = onnx_dtype(t.data_type).map_err(ProtoError::Dtype)?;
    let shape: Vec<u64> = t
        .dims
        .iter()
        .map(|&d| u64::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|e| ProtoError::Bad(e.to_string()))?;
    let numel: u64 = shape.iter().product();
    let bytes: Vec<u8> = if !t.raw_data.is_empty() || numel == 0 {
        t.raw_data.clone()
    } else {
        match dtype {
            DType::F32 => t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::F64 => t.double_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::I64 => t.int64_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::U32 => t.uint64_data.iter().flat_map(|&v| (v as u32).to_le_bytes()).collect(),
            DType::U64 => t.uint64_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            DType::I32 => t.int32_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            // int32_data holds the narrower types one per element (f16 as its bits).
            DType::I16 | DType::U16 | DType::F16 => {
                t.int32_data.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect()
            }
            DType::I8 | DType::U8 | DType::Bool => t.int32_data.iter().map(|&v| v as u8).collect(),
        }
    };
    Tensor::from_bytes(dtype, &shape, bytes).map_err(|e| ProtoError::Bad(e.to_string()))
}

/// Float values of a float tensor, widened.
fn floats(t: &Tensor) -> Option<Vec<f64>> {
    let b = t.bytes();
    Some(match t.dtype() {
        DType::F32 => b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect(),
        DType::F64 => b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
        DType::F16 => b.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64()).collect(),
        _ => return None,
    })
}

/// `None` when `actual` matches `expected`, else what differs.
fn compare(actual: &Tensor, expected: &Tensor, (rtol, atol): (f64, f64)) -> Option<String> {
    if actual.dtype() != expected.dtype() {
        return Some(format!("dtype {}, expected {}", actual.dtype(), expected.dtype()));
    }
    if actual.shape() != expected.shape() {
        return Some(format!("shape {:?}, expected {:?}", actual.shape(), expected.shape()));
    }
    let (Some(a), Some(e)) = (floats(actual), floats(expected)) else {
        if actual.bytes() == expected.bytes() {
            return None;
        }
        let size = actual.dtype().size().max(1);
        let differ = actual.bytes().chunks(size).zip(expected.bytes().chunks(size)).filter(|(x, y)| x != y).count();
        return Some(format!("{differ} of {} values differ (exact comparison)", actual.numel()));
    };
    let mut bad = 0usize;
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
        let ok = if x.is_nan() || y.is_nan() {
            x.is_nan() && y.is_nan()
        } else if x.is_infinite() || y.is_infinite() {
            x == y
        } else {
            (x - y).abs() <= atol + rtol * y.abs()
        };
        if !ok {
            bad += 1;
            let excess = if (x - y).is_nan() { f64::INFINITY } else { (x - y).abs() / (atol + rtol * y.abs()) };
            if worst.is_none_or(|(_, w)| excess > w) {
                worst = Some((i, excess));
            }
        }
    }
    let (i, _) = worst?;
    let max_abs = a.iter().zip(&e).map(|(x, y)| (x - y).abs()).filter(|d| !d.is_nan()).fold(0.0, f64::max);
    Some(format!(
        "{bad} of {} values out of tolerance (rtol {rtol:e}, atol {atol:e}); worst at {i}: {:e} vs expected {:e}; \
         max |a−e| {max_abs:.3e}",
        a.len(),
        a[i],
        e[i]
    ))
}

fn counts(outcomes: &[Outcome]) -> BTreeMap<Class, usize> {
    let mut n = BTreeMap::new();
    for o in outcomes {
        *n.entry(o.class).or_insert(0) += 1;
    }
    n
}

fn print_summary(backend: &str, cases: &[Case], outcomes: &[Outcome], seconds: f64, verbose: bool) {
    if verbose {
        for (case, o) in cases.iter().zip(outcomes) {
            if o.class != Class::Passed {
                println!("{backend} {}: {}: {}", case.name, o.class.label(), o.detail);
            }
        }
    }
    let n = counts(outcomes);
    let node = cases.iter().zip(outcomes).filter(|(c, o)| c.name.starts_with("node/") && o.class == Class::Passed);
    let zoo = cases.iter().zip(outcomes).filter(|(c, o)| c.name.starts_with("zoo/") && o.class == Class::Passed);
    let parts: Vec<String> = CLASSES.iter().map(|c| format!("{} {}", c.label(), n.get(c).unwrap_or(&0))).collect();
    println!(
        "conformance {backend}: {} cases in {seconds:.1} s: {} (node tests passed {}, zoo graphs passed {})",
        outcomes.len(),
        parts.join(", "),
        node.count(),
        zoo.count()
    );
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ").replace('`', "'")
}

/// CONFORMANCE.md: totals per backend and class, the per-op table, and every case that does not pass.
fn report(cases: &[Case], results: &[(String, Vec<Outcome>)]) -> String {
    let mut md = String::new();
    let node_cases = cases.iter().filter(|c| c.name.starts_with("node/")).count();
    let _ = writeln!(md, "# Conformance\n");
    let ran: Vec<&str> = results.iter().map(|(b, _)| b.as_str()).collect();
    let _ = writeln!(
        md,
        "Generated by `cargo xtask conformance` (`cargo xtask test` runs it with `--backend all`, every backend \
         available where it runs; this run: {}); do not edit. Cases: the {node_cases} official ONNX backend node tests \
         of onnx {ONNX_VERSION} (`fixtures/scripts/gen_onnx_node_tests.py`) and the {} model-zoo light graphs \
         (`fixtures/models/light`), each converted by the transpiler, run on the backend and compared with the \
         expected outputs. `fixtures/conformance/passing-<backend>.txt` lists the cases CI requires to keep passing.\n",
        ran.join(", "),
        cases.len() - node_cases
    );
    let _ = writeln!(
        md,
        "Floats match when `|a − e| ≤ atol + rtol·|e|` (f32 and f64: rtol 1e-4, atol 1e-6; f16: rtol 2e-3, atol \
         1e-3), NaN exactly where NaN is expected; integers and bools exactly; dtypes and shapes always.\n"
    );
    if !TOLERANCE_OVERRIDES.is_empty() || !CASE_TOLERANCES.is_empty() {
        let _ = writeln!(
            md,
            "Tolerance overrides (a case takes its own if listed, else the loosest among its ops' and the default):\n"
        );
        let _ = writeln!(md, "| op or case | rtol | atol | why |\n|---|---:|---:|---|");
        for (what, r, a, why) in TOLERANCE_OVERRIDES.iter().chain(CASE_TOLERANCES) {
            let _ = writeln!(md, "| {what} | {r:e} | {a:e} | {why} |");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Totals\n");
    let head: Vec<&str> = CLASSES.iter().map(|c| c.label()).collect();
    let _ = writeln!(md, "| backend | cases | {} | node tests passed | zoo graphs passed |", head.join(" | "));
    let _ = writeln!(md, "|---|---:|{}---:|---:|", "---:|".repeat(CLASSES.len()));
    for (backend, outcomes) in results {
        let n = counts(outcomes);
        let cells: Vec<String> = CLASSES.iter().map(|c| n.get(c).unwrap_or(&0).to_string()).collect();
        let passed = |prefix: &str| {
            cases.iter().zip(outcomes).filter(|(c, o)| c.name.starts_with(prefix) && o.class == Class::Passed).count()
        };
        let _ = writeln!(
            md,
            "| {backend} | {} | {} | {}/{node_cases} | {}/{} |",
            outcomes.len(),
            cells.join(" | "),
            passed("node/"),
            passed("zoo/"),
            cases.len() - node_cases
        );
    }
    let mut frozen: BTreeMap<&str, &[String]> = BTreeMap::new();
    for (_, outcomes) in results {
        for (case, o) in cases.iter().zip(outcomes) {
            if !o.frozen.is_empty() {
                frozen.insert(case.name.as_str(), &o.frozen);
            }
        }
    }
    let _ = writeln!(md, "\n## Frozen inputs\n");
    let slots: Vec<String> = SHAPE_INPUTS.iter().map(|(op, s)| format!("{op} {s:?}")).collect();
    let _ = writeln!(
        md,
        "wdnn compiles static shapes, so a graph input that feeds an input an operator reads as an attribute (a \
         shape, axes, sizes, pads, counts, scales: {}), or an integer graph input that reaches one through other ops \
         (but Shape and Size), is bound to its test value as an initializer before conversion. {} cases have such \
         inputs:\n",
        slots.join(", "),
        frozen.len()
    );
    for (case, names) in &frozen {
        let _ = writeln!(md, "- {case}: {}", names.join(", "));
    }
    let _ = writeln!(md, "\n## Per op\n");
    let _ = writeln!(
        md,
        "A case counts for every ONNX op type of its model; an `_expanded` node test (the op's function body) counts \
         for the op it expands. Zoo graphs count for all their ops.\n"
    );
    let backends: Vec<&str> = results.iter().map(|(b, _)| b.as_str()).collect();
    let cols: Vec<String> = backends.iter().map(|b| format!("passed ({b})")).collect();
    let _ = writeln!(md, "| op | cases | {} |", cols.join(" | "));
    let _ = writeln!(md, "|---|---:|{}", "---:|".repeat(backends.len()));
    let mut per_op: BTreeMap<&str, (usize, Vec<usize>)> = BTreeMap::new();
    for (i, case) in cases.iter().enumerate() {
        let ops: BTreeSet<&str> = if case.ops.is_empty() {
            BTreeSet::from(["(no op)"])
        } else {
            case.ops.iter().map(String::as_str).collect()
        };
        for op in ops {
            let entry = per_op.entry(op).or_insert_with(|| (0, vec![0; results.len()]));
            entry.0 += 1;
            for (b, (_, outcomes)) in results.iter().enumerate() {
                if outcomes[i].class == Class::Passed {
                    entry.1[b] += 1;
                }
            }
        }
    }
    for (op, (n, passed)) in &per_op {
        let cells: Vec<String> = passed.iter().map(|p| p.to_string()).collect();
        let _ = writeln!(md, "| {op} | {n} | {} |", cells.join(" | "));
    }
    for (backend, outcomes) in results {
        let _ = writeln!(md, "\n## Cases that do not pass on {backend}\n");
        let mut rows: Vec<(Class, &str, &str)> = cases
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| o.class != Class::Passed)
            .map(|(c, o)| (o.class, c.name.as_str(), o.detail.as_str()))
            .collect();
        rows.sort();
        if rows.is_empty() {
            let _ = writeln!(md, "None.");
            continue;
        }
        let _ = writeln!(md, "| case | class | detail |\n|---|---|---|");
        for (class, name, detail) in rows {
            let _ = writeln!(md, "| {name} | {} | {} |", class.label(), md_escape(detail));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_rules() {
        let t = |v: &[f32]| Tensor::new(&[v.len() as u64], v).unwrap();
        let tol = (1e-4, 1e-6);
        assert!(compare(&t(&[1.0, f32::NAN, f32::INFINITY]), &t(&[1.00005, f32::NAN, f32::INFINITY]), tol).is_none());
        assert!(compare(&t(&[1.0]), &t(&[1.001]), tol).is_some());
        assert!(compare(&t(&[0.0]), &t(&[f32::NAN]), tol).is_some());
        assert!(compare(&t(&[f32::NEG_INFINITY]), &t(&[f32::INFINITY]), tol).is_some());
        assert!(compare(&t(&[1.0, 2.0]), &t(&[1.0]), tol).unwrap().starts_with("shape"));
        let i = |v: &[i64]| Tensor::new(&[v.len() as u64], v).unwrap();
        assert!(compare(&i(&[1, 2]), &i(&[1, 2]), tol).is_none());
        assert!(compare(&i(&[1, 2]), &i(&[1, 3]), tol).unwrap().contains("1 of 2"));
    }

    #[test]
    fn tensor_proto_typed_fields() {
        let proto =
            TensorProto { dims: vec![2], data_type: 10, int32_data: vec![0x3c00, 0xc000], ..Default::default() };
        let t = tensor_from_proto(&proto).ok().unwrap();
        assert_eq!(floats(&t).unwrap(), vec![1.0, -2.0]);
        let proto = TensorProto { dims: vec![], data_type: 7, int64_data: vec![-5], ..Default::default() };
        assert_eq!(tensor_from_proto(&proto).ok().unwrap().to_vec::<i64>().unwrap(), vec![-5]);
        let proto = TensorProto { dims: vec![1], data_type: 16, ..Default::default() };
        assert!(matches!(tensor_from_proto(&proto), Err(ProtoError::Dtype(d)) if d.starts_with("bfloat16")));
    }
}
