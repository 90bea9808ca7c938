//! `cargo xtask exported`: the real exported models (issue 10) converted, run per backend at their recorded
//! shapes and compared with onnxruntime's recorded outputs; writes `fixtures/models/exported/RESULTS.md`.
//!
//! The models are `fixtures/models/exported/index.json`'s (committed) and `.cache/exported/index.json`'s (the
//! large ones, `fixtures/scripts/setup_cache.sh`). Each case is converted with every input's shape given
//! (`--input-shape`, which binds the symbols everywhere in the model), once per backend, so that a backend's
//! conversion failure does not hide the other's numbers.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::ConvertOptions;

use crate::backends::available_backends;
use crate::{npy, repo_root};

#[derive(Args)]
pub struct ExportedArgs {
    /// Backends to run, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "fallback,webgpu")]
    backends: Vec<String>,
    /// Only these models (repeatable).
    #[arg(long)]
    only: Vec<String>,
    /// The table to write (relative to the repository root); `-` writes none.
    #[arg(long, default_value = "fixtures/models/exported/RESULTS.md")]
    out: String,
}

/// One model of an index, with where its paths are relative to.
struct Model {
    entry: Value,
    base: PathBuf,
}

/// What one case gave on one backend.
enum Outcome {
    /// Every output within tolerance: the worst rel. L2 (and, for quantized models, the argmax agreement).
    Pass { rel_l2: f64, argmax: Option<f64> },
    /// It ran, but some output is out of tolerance.
    Fail { rel_l2: f64, argmax: Option<f64>, detail: String },
    /// It stopped before producing outputs: the stage and the first line of the error.
    Error { stage: &'static str, detail: String },
}

impl Outcome {
    fn passed(&self) -> bool {
        matches!(self, Outcome::Pass { .. })
    }

    fn cell(&self) -> String {
        let argmax = |a: &Option<f64>| a.map(|a| format!(", argmax {:.0} %", a * 100.0)).unwrap_or_default();
        match self {
            Outcome::Pass { rel_l2, argmax: a } => format!("{rel_l2:.1e}{}", argmax(a)),
            Outcome::Fail { rel_l2, argmax: a, detail } => format!("**{rel_l2:.1e}**{} ({detail})", argmax(a)),
            Outcome::Error { stage, detail } => format!("{stage}: {}", markdown_safe(detail)),
        }
    }
}

fn markdown_safe(s: &str) -> String {
    let s: String = s.replace('|', "\\|").replace('\n', " ");
    if s.chars().count() > 160 { format!("{}…", s.chars().take(160).collect::<String>()) } else { s }
}

fn load_index(path: &Path, base: &Path) -> Result<Vec<Model>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let index: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let models = index["models"].as_array().with_context(|| format!("{}: no `models` list", path.display()))?;
    Ok(models.iter().map(|entry| Model { entry: entry.clone(), base: base.to_path_buf() }).collect())
}

/// The committed models, then the cache's (when the cache has them).
fn models(root: &Path) -> Result<Vec<Model>> {
    let fixtures = root.join("fixtures");
    let mut all = load_index(&fixtures.join("models/exported/index.json"), &fixtures)?;
    let cache = std::env::var_os("WDNN_CACHE").map(PathBuf::from).unwrap_or_else(|| root.join(".cache"));
    let cached = cache.join("exported/index.json");
    if cached.exists() {
        all.extend(load_index(&cached, &cache.join("exported"))?);
    }
    Ok(all)
}

/// ‖a − e‖₂ / ‖e‖₂ over float values (both widened to f64); exact comparison for other dtypes (0 or 1).
fn rel_l2(actual: &Tensor, expected: &Tensor) -> Result<f64> {
    let floats = |t: &Tensor| -> Option<Vec<f64>> {
        match t.dtype() {
            wdnn_runner_core::spec::DType::F32 => t.to_vec::<f32>().ok().map(|v| v.iter().map(|&x| x as f64).collect()),
            wdnn_runner_core::spec::DType::F64 => t.to_vec::<f64>().ok(),
            _ => None,
        }
    };
    match (floats(actual), floats(expected)) {
        (Some(a), Some(e)) => {
            let (mut diff, mut norm) = (0f64, 0f64);
            for (x, y) in a.iter().zip(&e) {
                diff += (x - y).powi(2);
                norm += y.powi(2);
            }
            Ok(if norm == 0.0 { diff.sqrt() } else { (diff / norm).sqrt() })
        }
        _ => Ok(if actual.bytes() == expected.bytes() { 0.0 } else { 1.0 }),
    }
}

/// The share of rows (over the last axis) whose argmax agrees.
fn argmax_agreement(actual: &Tensor, expected: &Tensor) -> Option<f64> {
    let (a, e) = (actual.to_vec::<f32>().ok()?, expected.to_vec::<f32>().ok()?);
    let n = *expected.shape().last()? as usize;
    if n == 0 || a.len() != e.len() {
        return None;
    }
    let argmax = |v: &[f32]| v.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).map(|(i, _)| i);
    let rows = e.len() / n;
    let same = a.chunks(n).zip(e.chunks(n)).filter(|(x, y)| argmax(x) == argmax(y)).count();
    Some(same as f64 / rows.max(1) as f64)
}

fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or_default().to_string()
}

/// Converts, loads and runs one case on one backend, and compares its outputs.
fn run_case(model: &Model, case: &Value, backend: &dyn Backend, scratch: &Path) -> Outcome {
    let onnx = model.base.join(model.entry["file"].as_str().unwrap_or_default());
    let quantized = model.entry["tolerance"].as_str() == Some("quantized");
    let tolerance = if quantized { 1e-2 } else { 1e-3 };
    let inputs: Vec<(String, Value)> =
        case["inputs"].as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    // Scalars need no shape (and some models declare them as `[1]`).
    let input_shapes = inputs
        .iter()
        .map(|(name, v)| {
            let shape: Vec<u64> =
                v["shape"].as_array().map(|s| s.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
            (name.clone(), shape)
        })
        .filter(|(_, shape)| !shape.is_empty())
        .collect();
    let _ = std::fs::remove_dir_all(scratch);
    let options = ConvertOptions {
        input_shapes,
        backends: vec![backend.name().to_string()],
        zstd_level: 3,
        ..ConvertOptions::default()
    };
    if let Err(e) = wdnn_transpiler::convert(&onnx, scratch, &options, |_| {}) {
        return Outcome::Error { stage: "convert", detail: first_line(&e.into()) };
    }
    let session = Bundle::open(scratch).and_then(|bundle| wdnn_runner_core::load(&bundle, &[backend], |_, _| {}));
    let mut session = match session {
        Ok(s) => s,
        Err(e) => return Outcome::Error { stage: "load", detail: first_line(&e.into()) },
    };
    let mut tensors = Vec::new();
    for (name, v) in &inputs {
        match npy::read(&model.base.join(v["file"].as_str().unwrap_or_default())) {
            Ok(t) => tensors.push((name.as_str(), t)),
            Err(e) => return Outcome::Error { stage: "inputs", detail: first_line(&e) },
        }
    }
    let outputs = match session.run(&tensors) {
        Ok(o) => o,
        Err(e) => return Outcome::Error { stage: "run", detail: first_line(&e.into()) },
    };
    let (mut worst, mut agreement, mut failures) = (0f64, None::<f64>, Vec::new());
    let expected = case["outputs"].as_object().cloned().unwrap_or_default();
    for (name, v) in &expected {
        let Some((_, actual)) = outputs.iter().find(|(n, _)| n == name) else {
            return Outcome::Error { stage: "run", detail: format!("no output `{name}`") };
        };
        let want = match npy::read(&model.base.join(v["file"].as_str().unwrap_or_default())) {
            Ok(t) => t,
            Err(e) => return Outcome::Error { stage: "outputs", detail: first_line(&e) },
        };
        if actual.shape() != want.shape() {
            failures.push(format!("`{name}` shape {:?}, expected {:?}", actual.shape(), want.shape()));
            worst = f64::INFINITY;
            continue;
        }
        let err = rel_l2(actual, &want).unwrap_or(f64::INFINITY);
        worst = worst.max(err);
        if err > tolerance {
            failures.push(format!("`{name}` {err:.2e}"));
        }
        if quantized && let Some(a) = argmax_agreement(actual, &want) {
            agreement = Some(agreement.map_or(a, |b: f64| b.min(a)));
            if a < 1.0 {
                failures.push(format!("`{name}` argmax {:.0} %", a * 100.0));
            }
        }
    }
    if failures.is_empty() {
        Outcome::Pass { rel_l2: worst, argmax: agreement }
    } else {
        Outcome::Fail { rel_l2: worst, argmax: agreement, detail: failures.join(", ") }
    }
}

/// A model's family, name, and per case its name and one outcome per backend.
type Row = (String, String, Vec<(String, Vec<Outcome>)>);

pub fn exported(args: ExportedArgs) -> Result<()> {
    let root = repo_root();
    let all = models(&root)?;
    let compiled = available_backends();
    let mut backends: Vec<&dyn Backend> = Vec::new();
    for name in &args.backends {
        let b = compiled.iter().find(|b| b.name() == name).with_context(|| format!("unknown backend `{name}`"))?;
        backends.push(b.as_ref());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let scratch = target.join("exported-bundles");
    let start = Instant::now();
    // Per model: family, then per case its name and one outcome per backend.
    let mut rows: Vec<Row> = Vec::new();
    for model in &all {
        let name = model.entry["model"].as_str().unwrap_or("?").to_string();
        if !args.only.is_empty() && !args.only.contains(&name) {
            continue;
        }
        let family = model.entry["family"].as_str().unwrap_or("").to_string();
        let mut cases = Vec::new();
        for case in model.entry["cases"].as_array().cloned().unwrap_or_default() {
            let case_name = case["case"].as_str().unwrap_or("?").to_string();
            let mut outcomes = Vec::new();
            for backend in &backends {
                let outcome = run_case(model, &case, *backend, &scratch.join(format!("{name}-{case_name}")));
                println!("{name:<28} {case_name:<14} {:<9} {}", backend.name(), outcome.cell());
                outcomes.push(outcome);
            }
            cases.push((case_name, outcomes));
        }
        rows.push((name, family, cases));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let table = report(&rows, &args.backends, start.elapsed().as_secs_f64());
    print!("{}", summary(&rows, &args.backends));
    if args.out != "-" {
        let path = root.join(&args.out);
        std::fs::write(&path, table).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

type Rows = [(String, String, Vec<(String, Vec<Outcome>)>)];

fn summary(rows: &Rows, backends: &[String]) -> String {
    let mut s = String::new();
    let cases: usize = rows.iter().map(|r| r.2.len()).sum();
    for (i, b) in backends.iter().enumerate() {
        let models = rows.iter().filter(|r| !r.2.is_empty() && r.2.iter().all(|c| c.1[i].passed())).count();
        let passed: usize = rows.iter().map(|r| r.2.iter().filter(|c| c.1[i].passed()).count()).sum();
        let _ = writeln!(s, "{b}: {models} / {} models (every case), {passed} / {cases} cases", rows.len());
    }
    s
}

fn report(rows: &Rows, backends: &[String], seconds: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# The real exported models on wdnn: results\n");
    let _ = writeln!(
        s,
        "Written by `cargo xtask exported` ({seconds:.0} s; models and cases from `fixtures/models/exported/index.json` \
         and the cache's `.cache/exported/index.json`, provenance in `fixtures/README.md`). Each case is converted for \
         one backend with every input's recorded shape (`--input-shape`, which binds the symbols everywhere in the \
         model), run, and each output compared with onnxruntime's recorded one: the cell is the worst rel. L2 over \
         the outputs. Tolerance: fp32 rel. L2 ≤ 1e-3; quantized ≤ 1e-2 and the same argmax over the last axis. \
         **Bold**: ran but out of tolerance. Otherwise the stage that failed and its error. The causes are analysed \
         in `TRIAGE.md`.\n"
    );
    let _ = writeln!(s, "## Summary\n");
    for line in summary(rows, backends).lines() {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(s, "\n## Per model and case\n");
    let _ = writeln!(s, "| model | family | case | {} |", backends.join(" | "));
    let _ = writeln!(s, "|---|---|---|{}", "---|".repeat(backends.len()));
    for (name, family, cases) in rows {
        for (case, outcomes) in cases {
            let cells: Vec<String> = outcomes.iter().map(Outcome::cell).collect();
            let _ = writeln!(s, "| {name} | {family} | {case} | {} |", cells.join(" | "));
        }
    }
    s
}
