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
//! per dtype are in [`compare::default_tolerance`], per-op overrides with their reasons in
//! [`compare::TOLERANCE_OVERRIDES`]), with NaN where and only where NaN is expected and infinities equal; integers
//! and bools must be equal.
//!
//! Host: `--backend wasm` (and any column with `--node`) runs in the wasm32 npm package under Node
//! ([`crate::node`]: one long-lived Node process per worker serves all its cases), the others in this process.
//!
//! Modules: [`cases`] finds the cases and reads their data, [`freeze`] binds shape-like inputs, [`run`] converts,
//! loads and runs them, [`compare`] holds the tolerances, [`gate`] the passing lists, [`report`] the output.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::backends::available_backends;
use crate::repo_root;

mod cases;
mod compare;
mod freeze;
mod gate;
mod report;
mod run;

use cases::discover;
use gate::gate;
use report::{print_summary, report};
use run::{Host, run_all};

/// The backend whose column always runs in the wasm32 package under Node (its native build is a test convenience).
const NODE_ONLY: &str = "wasm";

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
    /// Run the column in the wasm32 package under Node (always so for `--backend wasm`); CONFORMANCE.md is then not
    /// written.
    #[arg(long)]
    node: bool,
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
            node: false,
        }
    }
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Class {
    Passed,
    /// The numbers (or dtypes, or shapes) differ.
    Failed,
    /// The converter reported an unsupported op, attribute, dtype or input kind, or a node the backend has no kernel
    /// for.
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
    /// Graph inputs bound to their test values before conversion (see [`freeze::SHAPE_INPUTS`]).
    frozen: Vec<String>,
}

impl Outcome {
    fn new(class: Class, detail: impl Into<String>) -> Outcome {
        Outcome { class, detail: detail.into(), frozen: vec![] }
    }
}

pub fn conformance(args: ConformanceArgs) -> Result<()> {
    let compiled: Vec<String> = available_backends().iter().map(|b| b.name().to_string()).collect();
    let backends: Vec<String> = if args.backend == "all" {
        let mut usable = Vec::new();
        // A variant (webgpu-f16) runs its base's conformance cases at another precision: only when named.
        let variants: Vec<&str> = wdnn_runner_core::VARIANTS.iter().map(|(v, _)| *v).collect();
        for b in available_backends().into_iter().filter(|b| !variants.contains(&b.name())) {
            match b.probe() {
                Ok(()) => usable.push(b.name().to_string()),
                Err(why) => println!("conformance: skipping backend {} (unavailable here: {why})", b.name()),
            }
        }
        usable
    } else if compiled.contains(&args.backend) || args.node || args.backend == NODE_ONLY {
        vec![args.backend.clone()]
    } else {
        bail!("unknown backend `{}` (compiled in: {}, or all)", args.backend, compiled.join(", "));
    };
    let cases = discover(&args.filter)?;
    if cases.is_empty() {
        bail!("no case matches the filter {:?}", args.filter);
    }
    let full = args.filter.is_empty() && !args.node;
    let mut results: Vec<(String, Vec<Outcome>)> = Vec::new();
    for backend in &backends {
        let start = Instant::now();
        // The wasm backend's column is the wasm32 build, in Node: what browsers run (also through `all`, so the
        // gate checks that build, not the native one).
        let host = if args.node || backend == NODE_ONLY { Host::Node(crate::node::package()?) } else { Host::Native };
        let outcomes = run_all(&cases, backend, args.jobs.max(1), &host)?;
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
