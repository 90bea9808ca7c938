//! The arena plan check (SPEC §4.4, §4.6): walk the kernels in order keeping, for every byte range of the arena, the
//! tensor that wrote it last, and require every read to find its tensor's bytes as they were produced.
//!
//! This one walk refuses every way a plan can lie: a tensor read before it is written (kernels out of order, a
//! cycle, a missing producer, an empty graph whose outputs are never written), a live tensor overwritten by another
//! (overlapping live tensors), and views that match no declared aliasing. A kernel must not read its own output, a
//! tensor is produced once, and a kernel's output overlaps one of its inputs only in place (SPEC §4.4 item 3).

use std::collections::BTreeMap;
use std::ops::Range;

use crate::graph::{Graph, Storage, TensorId};
use crate::op::Op;
use crate::{DescriptorError, Result};

/// Who produces a tensor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Producer {
    Nobody,
    ModelInput,
    Kernel(usize),
}

/// Non-overlapping byte ranges of the arena, each with the tensor that wrote it last.
#[derive(Default)]
struct LastWriter {
    /// start → (end, writer).
    ranges: BTreeMap<u64, (u64, TensorId)>,
}

impl LastWriter {
    /// Records that `writer` wrote `range`, splitting what it overlaps.
    fn write(&mut self, range: Range<u64>, writer: TensorId) {
        if range.is_empty() {
            return;
        }
        let overlapping: Vec<(u64, u64, TensorId)> = self
            .ranges
            .range(..range.end)
            .rev()
            .take_while(|(_, (end, _))| *end > range.start)
            .map(|(&s, &(e, w))| (s, e, w))
            .collect();
        for (s, e, w) in overlapping {
            self.ranges.remove(&s);
            if s < range.start {
                self.ranges.insert(s, (range.start, w));
            }
            if e > range.end {
                self.ranges.insert(range.end, (e, w));
            }
        }
        self.ranges.insert(range.start, (range.end, writer));
    }

    /// The pieces of `range` in order: each sub-range with its last writer, or None where nothing wrote it.
    fn pieces(&self, range: Range<u64>) -> Vec<(Range<u64>, Option<TensorId>)> {
        let mut out = Vec::new();
        let mut at = range.start;
        let first = self.ranges.range(..=range.start).next_back().filter(|(_, (e, _))| *e > range.start);
        let rest = self.ranges.range(range.start..range.end).filter(|(s, _)| **s != range.start);
        for (&s, &(e, w)) in first.into_iter().chain(rest) {
            let s = s.max(range.start);
            if s > at {
                out.push((at..s, None));
            }
            let e = e.min(range.end);
            out.push((s..e, Some(w)));
            at = e;
        }
        if at < range.end {
            out.push((at..range.end, None));
        }
        out
    }
}

fn arena_range(graph: &Graph, id: TensorId) -> Option<Range<u64>> {
    let t = &graph.tensors[id as usize];
    match t.storage {
        // Validated before: offset + byte size does not overflow.
        Storage::Arena { offset } => Some(offset..offset + t.byte_size()),
        Storage::Weight { .. } => None,
    }
}

fn overlap(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end && !a.is_empty() && !b.is_empty()
}

/// Checks the kernel order and the arena plan of a graph whose ids and ranges are already validated.
pub(super) fn check(graph: &Graph, what: &str) -> Result<()> {
    let mut producer = vec![Producer::Nobody; graph.tensors.len()];
    for io in &graph.inputs {
        producer[io.tensor as usize] = Producer::ModelInput;
    }
    for (index, k) in graph.kernels.iter().enumerate() {
        for (j, &o) in k.outputs.iter().enumerate() {
            let bad = |detail: String| super::kernel_error(what, index, graph, &format!("outputs[{j}]"), detail);
            let name = &graph.tensors[o as usize].name;
            match producer[o as usize] {
                Producer::Nobody => producer[o as usize] = Producer::Kernel(index),
                Producer::ModelInput => return Err(bad(format!("writes the model input `{name}`"))),
                Producer::Kernel(first) => {
                    return Err(bad(format!("writes tensor `{name}`, which kernel #{first} already produces")));
                }
            }
        }
    }
    let name = |id: TensorId| &graph.tensors[id as usize].name;
    let mut arena = LastWriter::default();
    for io in &graph.inputs {
        if let Some(r) = arena_range(graph, io.tensor) {
            arena.write(r, io.tensor);
        }
    }
    // Why a read of `id` at kernel `now` (None: after the last kernel) fails, if it does.
    let read = |arena: &LastWriter, id: TensorId, now: Option<usize>| -> Option<String> {
        let range = arena_range(graph, id)?;
        if range.is_empty() {
            return None;
        }
        let pieces = arena.pieces(range.clone());
        match producer[id as usize] {
            Producer::Kernel(k) if now.is_some_and(|now| k >= now) => {
                Some(format!("tensor `{}` is read before kernel #{k} writes it", name(id)))
            }
            Producer::Kernel(_) | Producer::ModelInput => {
                let clobbered = pieces.iter().find(|(_, w)| *w != Some(id));
                clobbered.map(|(r, w)| match w {
                    Some(w) => format!(
                        "tensor `{}` is still live but bytes {}..{} were overwritten by `{}`",
                        name(id),
                        r.start,
                        r.end,
                        name(*w)
                    ),
                    None => format!("tensor `{}` is never written", name(id)),
                })
            }
            Producer::Nobody => {
                // A view (§4.4): its bytes are produced tensors that lie wholly inside it and tile it.
                let fits = pieces.iter().all(|(r, w)| {
                    w.is_some_and(|w| {
                        producer[w as usize] != Producer::Nobody && arena_range(graph, w).is_some_and(|wr| wr == *r)
                    })
                });
                let later = || {
                    (0..graph.tensors.len() as u32).find_map(|t| match producer[t as usize] {
                        Producer::Kernel(k) if now.is_none_or(|now| k >= now) => {
                            arena_range(graph, t).filter(|r| overlap(r, &range)).map(|_| k)
                        }
                        _ => None,
                    })
                };
                (!fits).then(|| match pieces.iter().find(|(_, w)| w.is_none()) {
                    Some(_) if pieces.iter().all(|(_, w)| w.is_none()) => match later() {
                        Some(k) => format!("tensor `{}` is read before kernel #{k} writes its bytes", name(id)),
                        None => format!("tensor `{}` is read but no kernel or input produces it", name(id)),
                    },
                    _ => format!(
                        "tensor `{}` is neither produced nor a view of produced tensors (its bytes hold {})",
                        name(id),
                        pieces
                            .iter()
                            .map(|(r, w)| format!(
                                "{}..{}: {}",
                                r.start,
                                r.end,
                                w.map_or("nothing".to_string(), |w| format!("`{}`", name(w)))
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
            }
        }
    };
    for (index, k) in graph.kernels.iter().enumerate() {
        let bad = |field: String, detail: String| super::kernel_error(what, index, graph, &field, detail);
        for (j, &i) in k.inputs.iter().enumerate() {
            if k.outputs.contains(&i) {
                return Err(bad(format!("inputs[{j}]"), format!("reads its own output `{}`", name(i))));
            }
            if let Some(detail) = read(&arena, i, Some(index)) {
                return Err(bad(format!("inputs[{j}]"), detail));
            }
        }
        let in_place_op = matches!(k.op, Op::Unary { .. } | Op::Binary { .. } | Op::Elementwise { .. } | Op::Reshape);
        for (j, &o) in k.outputs.iter().enumerate() {
            let Some(out) = arena_range(graph, o) else { continue };
            for &i in &k.inputs {
                let Some(inp) = arena_range(graph, i) else { continue };
                if overlap(&out, &inp) && !(in_place_op && out == inp) {
                    return Err(bad(
                        format!("outputs[{j}]"),
                        format!(
                            "`{}` overlaps the input `{}`: only Unary, Binary, Elementwise and Reshape kernels work in \
                             place, over exactly their input's bytes",
                            name(o),
                            name(i)
                        ),
                    ));
                }
            }
            for &p in &k.outputs[..j] {
                if arena_range(graph, p).is_some_and(|r| overlap(&out, &r)) {
                    return Err(bad(
                        format!("outputs[{j}]"),
                        format!("`{}` overlaps the output `{}`", name(o), name(p)),
                    ));
                }
            }
        }
        for &o in &k.outputs {
            if let Some(r) = arena_range(graph, o) {
                arena.write(r, o);
            }
        }
    }
    for io in &graph.outputs {
        if let Some(detail) = read(&arena, io.tensor, None) {
            return Err(DescriptorError::Invalid {
                what: what.to_string(),
                detail: format!("model output `{}`: {detail}", io.name),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_writer_splits_and_reports_gaps() {
        let mut a = LastWriter::default();
        a.write(0..16, 1);
        a.write(32..64, 2);
        a.write(8..40, 3);
        assert_eq!(a.pieces(0..64), vec![(0..8, Some(1)), (8..40, Some(3)), (40..64, Some(2))]);
        assert_eq!(a.pieces(60..80), vec![(60..64, Some(2)), (64..80, None)]);
        assert_eq!(a.pieces(100..120), vec![(100..120, None)]);
        a.write(0..64, 4);
        assert_eq!(a.pieces(10..20), vec![(10..20, Some(4))]);
    }
}
