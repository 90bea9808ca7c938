//! The pass pipeline: the one schedule every conversion runs. First the graph passes ([`GRAPH_PASSES`]), once;
//! then per backend its own schedule ([`backend_passes`]): the activation layout it asks for, the target's own
//! passes (weight layouts, splits), and the memory passes its kernels allow. Each pass is verified after it runs
//! and timed for the report; an optional pass can be skipped by name (`--skip-pass`), a required one cannot.

use std::time::Instant;

use crate::codegen::{self, BackendPass, Layout, Target, TargetOptions};
use crate::error::ConvertError;
use crate::ir::{self, Graph};
use crate::passes::{self, PassStats, concat_views, dead_code, fold_constants, in_place, reshape_views};

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

/// What a schedule did: a report per pass that ran, and the optional passes the selection skipped.
#[derive(Debug, Clone, Default)]
pub struct ScheduleReport {
    /// The passes that ran, in order.
    pub ran: Vec<PassReport>,
    /// The passes skipped (`--skip-pass`, `--no-optimize`), in schedule order.
    pub skipped: Vec<&'static str>,
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

/// The graph passes every conversion runs, in order, before any backend's schedule.
pub const GRAPH_PASSES: &[Pass] = &[
    Pass { name: "fold-constants", run: passes::fold_constants::run, optional: true },
    Pass { name: "canonicalize", run: passes::canonicalize::run, optional: true },
    Pass { name: "affine-merge", run: passes::affine_merge::run, optional: true },
    Pass { name: "fuse-elementwise", run: passes::fuse_elementwise::run, optional: true },
    Pass { name: "dead-code", run: passes::dead_code::run, optional: true },
    Pass { name: "materialize-outputs", run: passes::materialize_outputs::run, optional: false },
];

/// `target`'s schedule, in order:
/// - `layout` (required), when the activation layout (the target's own unless `layout` overrides it) is NHWC: the
///   NHWC rewrite, then constant folding (of the transposes it puts on constant operands) and dead-code removal;
/// - the target's own passes ([`Target::passes`]);
/// - the memory passes, which depend on the target's alignment and on what its kernels can do: `concat-views` (if
///   its kernels may write into slices of a concat), `reshape-views`, `in-place` (if its kernels may write over an
///   input).
pub fn backend_passes(target: &dyn Target, layout: Option<Layout>) -> Vec<BackendPass<'_>> {
    let mut schedule = Vec::new();
    if layout.unwrap_or(target.activation_layout()) == Layout::ChannelsLast {
        schedule.push(BackendPass { name: "layout", optional: false, run: Box::new(|g| Ok(channels_last(g))) });
    }
    schedule.extend(target.passes());
    if target.concat_views() {
        let alignment = target.alignment();
        let run = Box::new(move |g: &mut Graph| Ok(concat_views::run(g, alignment)));
        schedule.push(BackendPass { name: "concat-views", optional: true, run });
    }
    schedule.push(BackendPass { name: "reshape-views", optional: true, run: Box::new(|g| Ok(reshape_views::run(g))) });
    if target.in_place() {
        schedule.push(BackendPass { name: "in-place", optional: true, run: Box::new(|g| Ok(in_place::run(g))) });
    }
    schedule
}

/// The `layout` step: NHWC activations, with the constant transposes this adds folded and the dead nodes removed.
fn channels_last(graph: &mut Graph) -> PassStats {
    let mut stats = passes::layout::to_channels_last(graph);
    stats.changes.extend(fold_constants::run(graph).changes);
    stats.changes.extend(dead_code::run(graph).changes);
    stats
}

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

    /// Checks every skipped name against the pass tables (the graph passes and every backend's schedule): a name
    /// no table has, and a required pass, are errors.
    pub fn validate(&self) -> Result<(), ConvertError> {
        let known = known_passes();
        let optional =
            || known.iter().filter(|(_, optional)| *optional).map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        for name in &self.skip {
            match known.iter().find(|(n, _)| n == name) {
                None => return Err(ConvertError::UnknownPass { name: name.clone(), known: optional() }),
                Some((_, false)) => return Err(ConvertError::RequiredPass { name: name.clone(), known: optional() }),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Every pass the tables name, once, with whether it is optional: the graph passes, then each backend's schedule
/// (with NHWC activations, so that `layout` is listed).
pub fn known_passes() -> Vec<(&'static str, bool)> {
    let mut known: Vec<(&'static str, bool)> = GRAPH_PASSES.iter().map(|p| (p.name, p.optional)).collect();
    let options = TargetOptions::default();
    let names = codegen::BACKENDS.iter().chain(codegen::OPT_IN_BACKENDS);
    for target in names.filter_map(|name| codegen::target(name, &options).ok()) {
        for pass in backend_passes(target.as_ref(), Some(Layout::ChannelsLast)) {
            if !known.iter().any(|(n, _)| *n == pass.name) {
                known.push((pass.name, pass.optional));
            }
        }
    }
    known
}

/// Runs the selected graph passes over `graph`, verifying the IR after each one.
pub fn run(graph: &mut Graph, selection: &PassSelection) -> Result<ScheduleReport, ConvertError> {
    let mut report = ScheduleReport::default();
    for pass in GRAPH_PASSES {
        if pass.optional && !selection.enabled(pass.name) {
            report.skipped.push(pass.name);
            continue;
        }
        report.ran.push(run_one(graph, pass.name, |g| Ok((pass.run)(g)))?);
    }
    Ok(report)
}

/// Runs `target`'s schedule (as `selection` allows) over a copy of the optimized `graph`: the graph its descriptor
/// is emitted from.
pub fn run_backend(
    graph: &Graph,
    target: &dyn Target,
    selection: &PassSelection,
    layout: Option<Layout>,
) -> Result<(Graph, ScheduleReport), ConvertError> {
    let mut graph = graph.clone();
    let mut report = ScheduleReport::default();
    for pass in backend_passes(target, layout) {
        if pass.optional && !selection.enabled(pass.name) {
            report.skipped.push(pass.name);
            continue;
        }
        report.ran.push(run_one(&mut graph, pass.name, pass.run)?);
    }
    Ok((graph, report))
}

/// Runs one pass, verifies the result and reports it.
pub fn run_one(
    graph: &mut Graph,
    name: &'static str,
    pass: impl FnOnce(&mut Graph) -> Result<PassStats, ConvertError>,
) -> Result<PassReport, ConvertError> {
    let nodes_before = graph.nodes.len();
    let start = Instant::now();
    let stats = pass(graph)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(target: &str, layout: Option<Layout>) -> Vec<&'static str> {
        let target = codegen::target(target, &TargetOptions::default()).unwrap();
        backend_passes(target.as_ref(), layout).iter().map(|p| p.name).collect()
    }

    #[test]
    fn each_backend_has_its_schedule() {
        assert_eq!(names("fallback", None), ["concat-views", "reshape-views", "in-place"]);
        assert_eq!(
            names("webgpu", None),
            ["winograd", "split-k", "matmul-layout", "split-large-weights", "concat-views", "reshape-views"]
        );
        assert_eq!(names("fallback", Some(Layout::ChannelsLast))[0], "layout");
        assert_eq!(
            names("webgpu-f16", None),
            [
                "winograd",
                "split-k",
                "matmul-layout",
                "split-large-weights",
                "f16-storage",
                "concat-views",
                "reshape-views"
            ]
        );
    }

    #[test]
    fn a_pass_name_means_one_pass() {
        let graph: Vec<&str> = GRAPH_PASSES.iter().map(|p| p.name).collect();
        for backend in codegen::BACKENDS.iter().chain(codegen::OPT_IN_BACKENDS) {
            let schedule = names(backend, Some(Layout::ChannelsLast));
            for (i, name) in schedule.iter().enumerate() {
                assert!(!graph.contains(name), "`{name}` names a graph pass and a {backend} pass");
                assert!(!schedule[..i].contains(name), "`{name}` is twice in the {backend} schedule");
            }
        }
        let known = known_passes();
        for (i, (name, _)) in known.iter().enumerate() {
            assert!(!known[..i].iter().any(|(n, _)| n == name), "`{name}` is listed twice");
        }
    }

    #[test]
    fn skipping_checks_names_against_the_tables() {
        let skip =
            |names: &[&str]| PassSelection { no_optimize: false, skip: names.iter().map(|s| s.to_string()).collect() };
        assert!(skip(&["fuse-elementwise", "split-k", "matmul-layout", "in-place"]).validate().is_ok());
        let err = skip(&["no-such-pass"]).validate().unwrap_err();
        assert!(
            matches!(&err, ConvertError::UnknownPass { name, known } if name == "no-such-pass" && known.contains("split-k"))
        );
        for required in ["materialize-outputs", "split-large-weights", "layout"] {
            let err = skip(&[required]).validate().unwrap_err();
            assert!(matches!(&err, ConvertError::RequiredPass { name, .. } if name == required), "{err}");
        }
    }
}
