//! The pass pipeline, one line per pass. Each pass is verified after it runs and timed for the report.

use std::time::Instant;

use crate::error::ConvertError;
use crate::ir::{self, Graph};
use crate::passes::{self, PassStats};

/// What one pass did.
#[derive(Debug, Clone)]
pub struct PassReport {
    /// The pass name.
    pub name: &'static str,
    /// Kernels before the pass.
    pub nodes_before: usize,
    /// Kernels after the pass.
    pub nodes_after: usize,
    /// What it changed.
    pub stats: PassStats,
    /// Time taken.
    pub seconds: f64,
}

/// A graph pass of the pipeline.
pub struct Pass {
    /// Its name on the command line (`--skip-pass NAME`).
    pub name: &'static str,
    /// The pass.
    pub run: fn(&mut Graph) -> PassStats,
    /// Optimizations may be switched off; the others are needed for a valid descriptor.
    pub optional: bool,
}

/// The passes every conversion runs, in order.
pub const PASSES: &[Pass] = &[
    Pass { name: "fold-constants", run: passes::fold_constants::run, optional: true },
    Pass { name: "canonicalize", run: passes::canonicalize::run, optional: true },
    Pass { name: "affine-merge", run: passes::affine_merge::run, optional: true },
    Pass { name: "fuse-elementwise", run: passes::fuse_elementwise::run, optional: true },
    Pass { name: "dead-code", run: passes::dead_code::run, optional: true },
    Pass { name: "materialize-outputs", run: passes::materialize_outputs::run, optional: false },
];

/// The memory passes, run per backend after the graph passes (they depend on the backend's alignment and on what
/// its kernels can do).
pub const MEMORY_PASSES: &[&str] = &["concat-views", "reshape-views", "in-place"];

/// Which optional passes to skip.
#[derive(Debug, Clone, Default)]
pub struct PassSelection {
    /// Skip every optional pass.
    pub no_optimize: bool,
    /// Skip these passes by name.
    pub skip: Vec<String>,
}

impl PassSelection {
    /// True when the optional pass `name` should run.
    pub fn enabled(&self, name: &str) -> bool {
        !self.no_optimize && !self.skip.iter().any(|s| s == name)
    }

    /// Checks that every skipped name is a pass.
    pub fn validate(&self) -> Result<(), String> {
        let known: Vec<&str> =
            PASSES.iter().filter(|p| p.optional).map(|p| p.name).chain(MEMORY_PASSES.iter().copied()).collect();
        match self.skip.iter().find(|s| !known.contains(&s.as_str())) {
            Some(unknown) => Err(format!("unknown pass `{unknown}` (optional passes: {})", known.join(", "))),
            None => Ok(()),
        }
    }
}

/// Runs the selected passes over `graph`, verifying the IR after each one.
pub fn run(graph: &mut Graph, selection: &PassSelection) -> Result<Vec<PassReport>, ConvertError> {
    let mut reports = Vec::with_capacity(PASSES.len());
    for pass in PASSES {
        if pass.optional && !selection.enabled(pass.name) {
            continue;
        }
        reports.push(run_one(graph, pass.name, pass.run)?);
    }
    Ok(reports)
}

/// Runs one pass, verifies the result and reports it.
pub fn run_one(
    graph: &mut Graph,
    name: &'static str,
    pass: impl FnOnce(&mut Graph) -> PassStats,
) -> Result<PassReport, ConvertError> {
    let nodes_before = graph.nodes.len();
    let start = Instant::now();
    let stats = pass(graph);
    let seconds = start.elapsed().as_secs_f64();
    check(graph, name)?;
    Ok(PassReport { name, nodes_before, nodes_after: graph.nodes.len(), stats, seconds })
}

/// Verifies the IR, naming the stage that broke it.
pub fn check(graph: &Graph, stage: &str) -> Result<(), ConvertError> {
    ir::verify(graph).map_err(|errors| ConvertError::Internal {
        stage: stage.to_string(),
        detail: errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "),
    })
}
