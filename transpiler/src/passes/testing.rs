//! The pass tests' harness, in rust-analyzer's style: `check(before, expect![[after]])` with the graph before the
//! pass in its text form (`ir::text`) and the text of the result, headed by what the pass reports. Refresh the
//! expectations with `UPDATE_EXPECT=1 cargo test -p wdnn-transpiler --lib`.

use std::fmt::Write;

use expect_test::Expect;

use super::PassStats;
use crate::ir::{self, Graph, text};

/// The graph written in `text`, which must parse and verify.
#[track_caller]
pub(crate) fn graph(text: &str) -> Graph {
    let graph = text::parse(text).unwrap_or_else(|e| panic!("test graph does not parse: {e}"));
    if let Err(errors) = ir::verify(&graph) {
        panic!("test graph does not verify: {errors:?}");
    }
    graph
}

/// Runs `pass` on the graph written in `before`, verifies the result and compares its text, with the pass's
/// counts as `//` lines above it, to `after`; returns the graph for further checks.
#[track_caller]
pub(crate) fn check(pass: impl FnOnce(&mut Graph) -> PassStats, before: &str, after: Expect) -> Graph {
    let mut g = graph(before);
    let stats = pass(&mut g);
    if let Err(errors) = ir::verify(&g) {
        panic!("the pass broke the IR: {errors:?}\n{g}");
    }
    let mut actual = String::new();
    for (what, count) in &stats.changes {
        writeln!(actual, "// {what}: {count}").ok();
    }
    let printed = text::print(&g);
    actual.push_str(&printed);
    after.assert_eq(&actual);
    // What the pass left reads back to the same text (when its constants are small enough to be written out).
    if let Ok(back) = text::parse(&printed) {
        assert_eq!(text::print(&back), printed, "the printed graph does not read back to itself");
    }
    g
}

/// The value named `name` (the first one, if several share it).
#[track_caller]
pub(crate) fn value(g: &Graph, name: &str) -> ir::ValueId {
    let index = g.values.iter().position(|v| v.name == name).unwrap_or_else(|| panic!("no value `{name}`"));
    ir::ValueId(index as u32)
}
