//! [`Executor`]: runs a graph descriptor over one static arena, each node on the kernel a [`KernelTable`] bound.
//!
//! Kernels read borrowed views of the arena and of the decoded weights, and write straight into their output
//! ranges; nothing is allocated per run but the returned outputs (and what a kernel allocates itself). The memory
//! plan may put a kernel in place (an output range that is, or overlaps, one of its inputs'): such an input is
//! copied into a scratch buffer sized at load, so every kernel sees its inputs intact while it writes.

use std::collections::HashMap;
use std::ops::Range;

use wdnn_descriptor_spec::{DescriptorError, Graph, Storage, TensorId, TensorSignature};
use wdnn_runner_core::{
    Executable, KernelChoice, Result, RunnerError, Tensor, TensorView, TensorViewMut, Weights, check_inputs,
    input_signature,
};

use crate::EvalError;
use crate::table::{KernelTable, NodeInfo, NodeKernel};

/// A graph loaded for repeated runs: weights decoded, arena and scratch allocated, every node bound to a kernel.
pub struct Executor {
    backend: String,
    graph: Graph,
    /// The graph's inputs, checked on every run with runner-core's rules (`check_inputs`).
    signature: Vec<TensorSignature>,
    weights: HashMap<u32, Tensor>,
    /// The activation arena; `u128` words so that every aligned offset is 16-byte aligned in memory.
    arena: Vec<u128>,
    arena_len: usize,
    /// Copies of inputs that a kernel overwrites.
    scratch: Vec<u128>,
    steps: Vec<Step>,
    /// Reused for each node's views, so that a run does not allocate them.
    input_views: Vec<TensorView<'static>>,
    output_views: Vec<TensorViewMut<'static>>,
    gaps: Vec<(usize, &'static [u8])>,
}

/// One node, bound.
struct Step {
    kernel: Box<dyn NodeKernel>,
    inputs: Vec<Source>,
    /// The output ranges in arena order, each with its tensor and its position among the node's outputs.
    outputs: Vec<(Range<usize>, TensorId)>,
    /// Swaps that put the outputs, taken in arena order, into the node's order.
    output_swaps: Vec<(usize, usize)>,
}

/// Where a node's input is read from.
enum Source {
    Weight(u32),
    Arena(Range<usize>),
    /// An input the node's outputs overlap: copied from the arena to scratch before the node runs.
    Copied {
        arena: Range<usize>,
        scratch: Range<usize>,
    },
}

/// Byte alignment of the views: enough for any SIMD load.
const ALIGN: usize = 16;

impl Executor {
    /// Loads `graph` with `weights`, binding each node to the first kernel of `table` that accepts it. `backend`
    /// names the backend in errors.
    pub fn new(backend: &str, table: &KernelTable, graph: &Graph, weights: &Weights) -> Result<Executor> {
        graph.validate("graph descriptor")?;
        let unsupported = |kernel: &str, op: &str, detail: String| RunnerError::Unsupported {
            backend: backend.to_string(),
            kernel: kernel.to_string(),
            op: op.to_string(),
            detail,
        };
        if let Some(k) = graph.kernels.iter().find(|k| k.op.has_unknown()) {
            let detail = "the op or one of its functions is unknown to this reader".to_string();
            return Err(unsupported(&k.name, k.op.name(), detail));
        }
        let weights = decode_weights(graph, weights)?;
        let invalid = |detail: String| DescriptorError::Invalid { what: "graph descriptor".to_string(), detail };
        let arena_len = usize::try_from(graph.arena_size)
            .map_err(|_| invalid(format!("an arena of {} bytes does not fit memory", graph.arena_size)))?;
        let mut steps = Vec::with_capacity(graph.kernels.len());
        let mut scratch_len = 0;
        for node in &graph.kernels {
            let info = NodeInfo::new(graph, node, &weights);
            let kernel = table
                .bind(&info)
                .map_err(|e| node_error(backend, node, e))?
                .ok_or_else(|| unsupported(&node.name, node.op.name(), "no kernel of the table accepts it".into()))?;
            let (step, scratch) = plan_step(graph, node, kernel).map_err(invalid)?;
            scratch_len = scratch_len.max(scratch);
            steps.push(step);
        }
        Ok(Executor {
            backend: backend.to_string(),
            graph: graph.clone(),
            signature: input_signature(graph)?,
            weights,
            arena: vec![0; arena_len.div_ceil(ALIGN)],
            arena_len,
            scratch: vec![0; scratch_len.div_ceil(ALIGN)],
            steps,
            input_views: Vec::new(),
            output_views: Vec::new(),
            gaps: Vec::new(),
        })
    }

    /// The graph being run.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
}

/// Decodes every weight once; tensors sharing a weight share its decoded values.
fn decode_weights(graph: &Graph, weights: &Weights) -> Result<HashMap<u32, Tensor>> {
    let invalid = |detail: String| DescriptorError::Invalid { what: "weights".to_string(), detail };
    let mut decoded: HashMap<u32, Tensor> = HashMap::new();
    for t in &graph.tensors {
        let Storage::Weight { id } = t.storage else {
            continue;
        };
        let w = match decoded.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                // `Weights::tensor` reads through the checked `Weights::entry`.
                e.insert(weights.tensor(id)?)
            }
        };
        if w.dtype() != t.dtype || w.shape() != t.shape.as_slice() {
            return Err(invalid(format!("tensor `{}` does not match weight {id}", t.name)).into());
        }
    }
    Ok(decoded)
}

/// The arena byte range of tensor `id`, or `None` for a weight.
fn arena_range(graph: &Graph, id: TensorId) -> std::result::Result<Option<Range<usize>>, String> {
    let t = graph.tensors.get(id as usize).ok_or_else(|| format!("tensor id {id} is out of range"))?;
    let Storage::Arena { offset } = t.storage else {
        return Ok(None);
    };
    let range = usize::try_from(offset)
        .ok()
        .zip(usize::try_from(t.byte_size()).ok())
        .and_then(|(start, len)| Some(start..start.checked_add(len)?));
    range.map(Some).ok_or_else(|| format!("tensor `{}` does not fit memory", t.name))
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Plans where `node` reads and writes; returns the step and the scratch bytes it needs.
fn plan_step(
    graph: &Graph,
    node: &wdnn_descriptor_spec::Kernel,
    kernel: Box<dyn NodeKernel>,
) -> std::result::Result<(Step, usize), String> {
    let mut outputs = Vec::with_capacity(node.outputs.len());
    for &id in &node.outputs {
        let range = arena_range(graph, id)?.ok_or_else(|| format!("kernel `{}` writes a weight", node.name))?;
        outputs.push((range, id));
    }
    // Arena order for carving the arena into disjoint slices; `order[i]` is the node position of slice `i`.
    let mut order: Vec<usize> = (0..outputs.len()).collect();
    order.sort_by_key(|&i| outputs[i].0.start);
    if let Some(w) = order.windows(2).find(|w| overlaps(&outputs[w[0]].0, &outputs[w[1]].0)) {
        return Err(format!("kernel `{}` has outputs {} and {} that overlap in the arena", node.name, w[0], w[1]));
    }
    let mut output_swaps = Vec::new();
    let mut at = order.clone();
    for want in 0..at.len() {
        let p = at.iter().position(|&i| i == want).unwrap_or(want);
        if p != want {
            at.swap(want, p);
            output_swaps.push((want, p));
        }
    }
    let outputs: Vec<(Range<usize>, TensorId)> = order.iter().map(|&i| outputs[i].clone()).collect();
    let mut inputs = Vec::with_capacity(node.inputs.len());
    let mut scratch = 0;
    for &id in &node.inputs {
        let source = match arena_range(graph, id)? {
            None => match graph.tensors[id as usize].storage {
                Storage::Weight { id: w } => Source::Weight(w),
                Storage::Arena { .. } => unreachable!("arena_range returns a range for arena tensors"),
            },
            Some(r) if outputs.iter().any(|(o, _)| overlaps(o, &r)) => {
                let start = scratch;
                scratch = (start + r.len()).next_multiple_of(ALIGN);
                Source::Copied { scratch: start..start + r.len(), arena: r }
            }
            Some(r) => Source::Arena(r),
        };
        inputs.push(source);
    }
    Ok((Step { kernel, inputs, outputs, output_swaps }, scratch))
}

/// Reuses a vector's allocation for elements of another lifetime (an in-place `collect` of an emptied vector).
fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector is empty")).collect()
}

fn node_error(backend: &str, node: &wdnn_descriptor_spec::Kernel, e: EvalError) -> RunnerError {
    let (kernel, op) = (node.name.clone(), node.op.name().to_string());
    match e {
        EvalError::Unsupported(detail) => RunnerError::Unsupported { backend: backend.to_string(), kernel, op, detail },
        EvalError::Invalid(detail) => RunnerError::Kernel { kernel, op, detail },
    }
}

impl Executable for Executor {
    fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let Executor {
            backend,
            graph,
            signature,
            weights,
            arena,
            arena_len,
            scratch,
            steps,
            input_views,
            output_views,
            gaps,
        } = self;
        check_inputs(signature, inputs)?;
        let arena: &mut [u8] = &mut bytemuck::cast_slice_mut::<u128, u8>(arena)[..*arena_len];
        let scratch: &mut [u8] = bytemuck::cast_slice_mut::<u128, u8>(scratch);
        let data_error = |id: TensorId| RunnerError::TensorData(format!("tensor {id} cannot be read"));
        for (binding, t) in graph.inputs.iter().zip(inputs) {
            let range = arena_range(graph, binding.tensor).map_err(RunnerError::TensorData)?;
            let dst = range.and_then(|r| arena.get_mut(r)).ok_or_else(|| data_error(binding.tensor))?;
            dst.copy_from_slice(t.bytes());
        }
        for (step, node) in steps.iter_mut().zip(&graph.kernels) {
            for source in &step.inputs {
                if let Source::Copied { arena: a, scratch: s } = source {
                    scratch[s.clone()].copy_from_slice(&arena[a.clone()]);
                }
            }
            let scratch: &[u8] = scratch;
            // Carve the arena into the outputs and the read-only gaps around them.
            let mut outs: Vec<TensorViewMut<'_>> = recycle(std::mem::take(output_views));
            let mut free: Vec<(usize, &[u8])> = recycle(std::mem::take(gaps));
            let mut rest: &mut [u8] = &mut *arena;
            let mut base = 0;
            for (range, id) in &step.outputs {
                let (gap, tail) = std::mem::take(&mut rest).split_at_mut(range.start - base);
                let (out, tail) = tail.split_at_mut(range.len());
                free.push((base, gap));
                let t = &graph.tensors[*id as usize];
                outs.push(TensorViewMut::new(t.dtype, &t.shape, out)?);
                (rest, base) = (tail, range.end);
            }
            free.push((base, rest));
            for &(a, b) in &step.output_swaps {
                outs.swap(a, b);
            }
            let mut ins: Vec<TensorView<'_>> = recycle(std::mem::take(input_views));
            for (source, &id) in step.inputs.iter().zip(&node.inputs) {
                let t = &graph.tensors[id as usize];
                let view = match source {
                    Source::Weight(w) => weights.get(w).ok_or_else(|| data_error(id))?.view(),
                    Source::Copied { scratch: s, .. } => TensorView::new(t.dtype, &t.shape, &scratch[s.clone()])?,
                    Source::Arena(r) => {
                        let (start, gap) = free
                            .iter()
                            .find(|(start, gap)| *start <= r.start && r.end <= start + gap.len())
                            .ok_or_else(|| data_error(id))?;
                        TensorView::new(t.dtype, &t.shape, &gap[r.start - start..r.end - start])?
                    }
                };
                ins.push(view);
            }
            step.kernel.run(&ins, &mut outs).map_err(|e| node_error(backend, node, e))?;
            *input_views = recycle(ins);
            *output_views = recycle(outs);
            *gaps = recycle(free);
        }
        let arena: &[u8] = arena;
        graph
            .outputs
            .iter()
            .map(|o| {
                let t = &graph.tensors[o.tensor as usize];
                match t.storage {
                    Storage::Weight { id } => weights.get(&id).cloned().ok_or_else(|| data_error(o.tensor)),
                    Storage::Arena { .. } => {
                        let range = arena_range(graph, o.tensor).map_err(RunnerError::TensorData)?;
                        let bytes = range.and_then(|r| arena.get(r)).ok_or_else(|| data_error(o.tensor))?;
                        Tensor::from_bytes(t.dtype, &t.shape, bytes.to_vec())
                    }
                }
            })
            .collect()
    }

    fn kernel_report(&self) -> Vec<KernelChoice> {
        self.steps
            .iter()
            .zip(&self.graph.kernels)
            .map(|(step, node)| KernelChoice {
                node: node.name.clone(),
                op: node.op.name().to_string(),
                kernel: step.kernel.name().to_string(),
            })
            .collect()
    }
}
