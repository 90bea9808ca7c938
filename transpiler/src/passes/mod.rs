//! Graph passes: each a small function of the IR, in its own file, with a `//!` contract and its own tests.

pub mod affine_merge;
pub mod canonicalize;
pub mod concat_views;
pub mod dead_code;
pub mod fold_constants;
pub mod fuse_elementwise;
pub mod in_place;
pub mod layout;
pub mod materialize_outputs;
pub mod reshape_views;
#[cfg(test)]
mod testing;

/// True when node `i` needs no kernel because the memory passes made its output a view (a concat whose inputs
/// were written in place, a reshape of its input's bytes).
pub fn is_elided(graph: &crate::ir::Graph, i: usize) -> bool {
    concat_views::is_elided(graph, i) || reshape_views::is_elided(graph, i)
}

/// What a pass changed, for the per-pass report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Named counts of what changed (e.g. "constants folded": 12).
    pub changes: Vec<(String, usize)>,
}

impl PassStats {
    /// Stats with one named count.
    pub fn one(what: &str, count: usize) -> PassStats {
        PassStats { changes: vec![(what.to_string(), count)] }
    }

    /// The total number of changes.
    pub fn total(&self) -> usize {
        self.changes.iter().map(|(_, n)| n).sum()
    }
}
