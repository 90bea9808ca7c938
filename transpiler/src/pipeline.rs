//! The pass pipeline, one line per pass. Each pass is verified in debug builds and timed for the report.

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

/// A pass: a name and a function of the graph.
pub type Pass = (&'static str, fn(&mut Graph) -> PassStats);

/// The passes every conversion runs, in order.
pub const PASSES: &[Pass] = &[
    ("fold-constants", passes::fold_constants::run),
    ("dead-code", passes::dead_code::run),
    ("materialize-outputs", passes::materialize_outputs::run),
];

/// Runs `passes` over `graph`, verifying the IR after each one.
pub fn run(graph: &mut Graph, passes: &[Pass]) -> Result<Vec<PassReport>, ConvertError> {
    let mut reports = Vec::with_capacity(passes.len());
    for (name, pass) in passes {
        let nodes_before = graph.nodes.len();
        let start = Instant::now();
        let stats = pass(graph);
        let seconds = start.elapsed().as_secs_f64();
        check(graph, name)?;
        reports.push(PassReport { name, nodes_before, nodes_after: graph.nodes.len(), stats, seconds });
    }
    Ok(reports)
}

/// Verifies the IR, naming the stage that broke it.
pub fn check(graph: &Graph, stage: &str) -> Result<(), ConvertError> {
    ir::verify(graph).map_err(|errors| ConvertError::Internal {
        stage: stage.to_string(),
        detail: errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "),
    })
}
