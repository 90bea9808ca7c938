//! [`WasmBackend`]: runner-core's `Backend` over this crate's kernels, with runner-fallback's reference kernels
//! under them, so that every descriptor the fallback backend runs also runs here.
//!
//! Loading plans every kernel once ([`plan`]): a fast kernel where this crate has one for the op, dtypes and
//! shapes (convolutions and MatMuls from their packed weights, SPEC §6.2, or from portable weights packed now),
//! the reference kernel otherwise. [`WasmExecutable::report`] says which ran for each kernel. A run writes the
//! inputs into the one arena, then runs the kernels in order over it: fast kernels read and write arena slices
//! and the weights decoded at load, and allocate nothing; reference kernels copy their inputs out as fallback does
//! (see its backend for why) and allocate what the reference allocates.

mod plan;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashMap;

use wdnn_descriptor_spec::{DType, DescriptorError, Graph, Storage, TensorId};
use wdnn_runner_core::{Backend, Executable, Result, RunnerError, Tensor, Weights};
use wdnn_runner_fallback::{EvalError, eval};

use crate::elementwise;
use crate::epilogue::{Epilogue, Operand, Step};
use crate::parallel::{self, for_tiles};
use plan::{Fast, MAX_STEPS, PlanError, PlannedOperand, PlannedStep, Src, WeightStore};

const NAME: &str = "wasm";

/// Threads a kernel may use unless [`WasmExecutable::set_threads`] says otherwise: every thread of the pool on wasm32
/// (one without the threaded module), one natively, where other backends serve.
const DEFAULT_THREADS: usize = if cfg!(target_arch = "wasm32") { usize::MAX } else { 1 };

/// Elements below which an elementwise, pooling, softmax or reduction kernel runs on one thread: waking the pool
/// costs more than it saves.
const MIN_PARALLEL_ELEMENTS: usize = 1 << 14;

/// The SIMD CPU backend: WebAssembly SIMD128 on wasm32, SSE2 natively on x86_64.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasmBackend;

/// Which kernel runs one descriptor kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelReport {
    /// The kernel's name.
    pub kernel: String,
    /// Its op.
    pub op: String,
    /// What computes it: a fast kernel (`conv winograd F(4x4,3x3)`, `gemm`, …) or `reference`.
    pub path: String,
}

impl WasmBackend {
    /// Loads `graph` as [`Backend::load`] does, returning the concrete executable (for its kernel report).
    pub fn load_executable(&self, graph: &Graph, weights: &Weights) -> Result<WasmExecutable> {
        graph.validate("graph descriptor")?;
        if let Some(k) = graph.kernels.iter().find(|k| k.op.has_unknown()) {
            return Err(unsupported(&k.name, k.op.name(), "the op or one of its functions is unknown to this reader"));
        }
        let invalid = |detail: String| DescriptorError::Invalid { what: "weights".to_string(), detail };
        let arena_size = usize::try_from(graph.arena_size)
            .map_err(|_| invalid(format!("an arena of {} bytes does not fit memory", graph.arena_size)))?;
        let mut store = Store { weights, f32_index: HashMap::new(), values: Vec::new() };
        let mut kernels = Vec::with_capacity(graph.kernels.len());
        for k in &graph.kernels {
            let planned = plan::plan(graph, k, &mut store)
                .map_err(|PlanError(detail)| unsupported(&k.name, k.op.name(), &detail))?;
            kernels.push(planned);
        }
        // The reference kernels' weights, decoded once like fallback's.
        let mut reference_weights: HashMap<u32, Tensor> = HashMap::new();
        let reference_reads =
            graph.kernels.iter().zip(&kernels).filter(|(_, p)| p.is_none()).flat_map(|(k, _)| &k.inputs);
        let output_reads = graph.outputs.iter().map(|o| &o.tensor);
        {
            for &id in reference_reads.chain(output_reads) {
                if let Some(Storage::Weight { id: w }) = graph.tensors.get(id as usize).map(|t| t.storage)
                    && !reference_weights.contains_key(&w)
                {
                    let entry = weights.entry(w)?;
                    if entry.offset.checked_add(entry.length).is_none_or(|end| end > weights.stream.len() as u64) {
                        return Err(invalid(format!("weight `{}` lies outside the stream", entry.name)).into());
                    }
                    reference_weights.insert(w, weights.tensor(w)?);
                }
            }
        }
        let scratch = kernels
            .iter()
            .map(|k| match k {
                Some(Fast::Conv { conv, .. }) => conv.scratch_len(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        Ok(WasmExecutable {
            graph: graph.clone(),
            kernels,
            f32_weights: store.values,
            reference_weights,
            arena: vec![0.0; arena_size.div_ceil(4)],
            arena_bytes: arena_size,
            scratch: vec![0.0; scratch],
            threads: DEFAULT_THREADS,
        })
    }
}

impl Backend for WasmBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn probe(&self) -> std::result::Result<(), String> {
        Ok(())
    }

    fn load(&self, graph: &Graph, weights: &Weights) -> Result<Box<dyn Executable>> {
        #[cfg_attr(not(target_arch = "wasm32"), allow(unused_mut))]
        let mut executable = self.load_executable(graph, weights)?;
        // In a WebAssembly engine the first run would otherwise pay for compiling and optimizing the kernels.
        #[cfg(target_arch = "wasm32")]
        executable.warm_up()?;
        Ok(Box::new(executable))
    }
}

fn unsupported(kernel: &str, op: &str, detail: &str) -> RunnerError {
    RunnerError::Unsupported {
        backend: NAME.to_string(),
        kernel: kernel.to_string(),
        op: op.to_string(),
        detail: detail.to_string(),
    }
}

/// What [`WasmExecutable::warm_up`] ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarmUp {
    /// Fast kernels run.
    pub fast: usize,
    /// Reference kernels run.
    pub reference: usize,
    /// Reference kernels that refused zeros as input (they stay cold until the first run).
    pub refused: usize,
}

/// The planner's view of the weights: each f32 weight a fast kernel reads decoded once.
struct Store<'w> {
    weights: &'w Weights,
    f32_index: HashMap<u32, usize>,
    values: Vec<Vec<f32>>,
}

impl WeightStore for Store<'_> {
    fn f32_weight(&mut self, id: u32) -> std::result::Result<usize, PlanError> {
        if let Some(&i) = self.f32_index.get(&id) {
            return Ok(i);
        }
        let values = self.decode(id)?;
        self.values.push(values);
        self.f32_index.insert(id, self.values.len() - 1);
        Ok(self.values.len() - 1)
    }

    fn decode(&mut self, id: u32) -> std::result::Result<Vec<f32>, PlanError> {
        let tensor = self.weights.tensor(id).map_err(|e| PlanError(e.to_string()))?;
        tensor.to_vec::<f32>().map_err(|e| PlanError(e.to_string()))
    }

    fn add_weight(&mut self, values: Vec<f32>) -> usize {
        self.values.push(values);
        self.values.len() - 1
    }

    fn values(&self, index: usize) -> &[f32] {
        &self.values[index]
    }
}

/// A loaded graph: its kernels planned, weights decoded and arena allocated once.
pub struct WasmExecutable {
    graph: Graph,
    /// Per kernel: its fast kernel, or `None` for the reference.
    kernels: Vec<Option<Fast>>,
    f32_weights: Vec<Vec<f32>>,
    reference_weights: HashMap<u32, Tensor>,
    /// The arena, as f32 values so that f32 tensors (16-byte aligned offsets) are slices of it.
    arena: Vec<f32>,
    arena_bytes: usize,
    /// The convolutions' scratch, one slice per thread (see [`Scratch`]).
    scratch: Vec<f32>,
    /// The most threads a kernel may use.
    threads: usize,
}

impl WasmExecutable {
    /// Which kernel computes each descriptor kernel, in order.
    pub fn report(&self) -> Vec<KernelReport> {
        self.graph
            .kernels
            .iter()
            .zip(&self.kernels)
            .map(|(k, f)| KernelReport {
                kernel: k.name.clone(),
                op: k.op.name().to_string(),
                path: f.as_ref().map_or_else(|| "reference".to_string(), Fast::describe),
            })
            .collect()
    }

    /// Runs every kernel once over the zeroed arena, then zeroes it again, so that the first real run is as fast
    /// as the ones after it; returns how many kernels of each kind ran.
    ///
    /// A WebAssembly engine compiles a function when it is first called (V8: lazily, with its baseline compiler
    /// Liftoff) and replaces it with optimized code only once it has run a while, in the background, for the
    /// calls after that (V8's dynamic tiering); a long kernel call keeps the baseline code to its end. Without this
    /// the first run of a model took 1.4–5× a steady run in Node 20. The load calls it on wasm32 only (native code
    /// is compiled ahead).
    ///
    /// The reference kernels run too: the first call into runner-fallback's evaluator compiles it (in a Node 20
    /// SqueezeNet run on a loaded machine the first kernel, a reference Transpose, took 66 ms instead of 1, most of
    /// the first run's excess). The fast kernels are f32 arithmetic with data-independent control flow, so zeros
    /// are a valid input for each; a reference kernel may refuse zeros where its result depends on the data (an
    /// index out of range): it is counted in `refused` and left cold, and the real run reports whatever it reports
    /// then. A fast kernel's error fails the warm-up. The arena's contents after it are what a fresh load has.
    pub fn warm_up(&mut self) -> Result<WarmUp> {
        let mut warm = WarmUp::default();
        for i in 0..self.kernels.len() {
            if self.kernels[i].is_some() {
                self.run_fast(i)?;
                warm.fast += 1;
            } else if self.run_reference(i).is_ok() {
                warm.reference += 1;
            } else {
                warm.refused += 1;
            }
        }
        self.arena.fill(0.0);
        self.scratch.fill(0.0);
        Ok(warm)
    }

    /// Lets each kernel use at most `threads` threads (at least one; on wasm32 no more than the pool has).
    /// Results do not depend on it.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// The threads a kernel uses now.
    pub fn threads(&self) -> usize {
        self.threads.min(parallel::available())
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: f32 has no invalid bit patterns and u8 no alignment; the length is within the allocation.
        unsafe { core::slice::from_raw_parts(self.arena.as_ptr().cast::<u8>(), self.arena_bytes) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; every byte pattern is a valid f32.
        unsafe { core::slice::from_raw_parts_mut(self.arena.as_mut_ptr().cast::<u8>(), self.arena_bytes) }
    }

    fn run_reference(&mut self, index: usize) -> Result<()> {
        let graph = &self.graph;
        let kernel = &graph.kernels[index];
        let owned: Vec<Cow<Tensor>> = kernel
            .inputs
            .iter()
            .map(|&id| read(graph, &self.reference_weights, self.bytes(), id))
            .collect::<Result<_>>()?;
        let refs: Vec<&Tensor> = owned.iter().map(|t| t.as_ref()).collect();
        let specs: Vec<(DType, Vec<u64>)> = kernel
            .outputs
            .iter()
            .map(|&id| graph.tensors.get(id as usize).map(|t| (t.dtype, t.shape.clone())))
            .collect::<Option<_>>()
            .ok_or_else(|| RunnerError::TensorData(format!("kernel `{}` has an unknown output", kernel.name)))?;
        let results = eval(&kernel.op, &refs, &specs).map_err(|e| {
            let (name, op) = (kernel.name.as_str(), kernel.op.name());
            match e {
                EvalError::Unsupported(detail) => unsupported(name, op, &detail),
                EvalError::Invalid(detail) => kernel_error(name, op, detail),
            }
        })?;
        drop(owned);
        let outputs = kernel.outputs.clone();
        for (&id, t) in outputs.iter().zip(&results) {
            let range = byte_range(&self.graph, id).filter(|r| r.len() == t.bytes().len());
            let dst = range.and_then(|r| self.bytes_mut().get_mut(r)).ok_or_else(|| {
                RunnerError::TensorData(format!("{} bytes do not fit the arena range of tensor {id}", t.bytes().len()))
            })?;
            dst.copy_from_slice(t.bytes());
        }
        Ok(())
    }

    fn run_fast(&mut self, index: usize) -> Result<()> {
        let Some(fast) = &self.kernels[index] else { return Ok(()) };
        let kernel = &self.graph.kernels[index];
        let fail = |detail: String| kernel_error(&kernel.name, kernel.op.name(), detail);
        let threads = self.threads();
        // Small kernels stay on one thread.
        let threads_for = |elements: usize| if elements < MIN_PARALLEL_ELEMENTS { 1 } else { threads };
        let weights = &self.f32_weights;
        let view = View { arena: self.arena.as_mut_ptr(), len: self.arena.len(), weights };
        match fast {
            Fast::Conv { conv, x, packed, y, steps } => {
                let (oh, ow) = conv.output_hw();
                let g = conv.geometry();
                let (m, n) = (g.batch * oh * ow, g.out_c);
                let per_thread = conv.scratch_len();
                let scratch = Scratch::new(&mut self.scratch, per_thread, threads);
                with_epilogue(steps, &view, m, n, |epilogue| {
                    for_tiles(threads, conv.tiles(), &|tiles, thread| {
                        // SAFETY: the threads write disjoint tiles of the output, its only range written (`View`);
                        // each thread has its own scratch.
                        let (y, scratch) = unsafe { (view.write(y), scratch.thread(thread)) };
                        conv.run(view.read(*x), &weights[*packed], y, scratch, epilogue, tiles)
                            .map_err(|e| e.to_string())
                    })
                })
                .map_err(fail)?;
            }
            Fast::Gemm { gemm, a, packed, y, steps } => {
                let (m, n, k) = (gemm.shape.m, gemm.shape.n, gemm.shape.k);
                with_epilogue(steps, &view, m, n, |epilogue| {
                    for_tiles(threads, gemm.tiles(), &|tiles, _| {
                        // SAFETY: as above.
                        let y = unsafe { view.write(y) };
                        gemm.run(view.read(*a), k, &weights[*packed], y, n, epilogue, tiles).map_err(|e| e.to_string())
                    })
                })
                .map_err(fail)?;
            }
            Fast::Pool { pool, x, y } => {
                for_tiles(threads_for(y.len()), pool.tiles(), &|tiles, _| {
                    // SAFETY: as above.
                    let y = unsafe { view.write(y) };
                    pool.run(view.read(*x), y, tiles).map_err(|e| e.to_string())
                })
                .map_err(fail)?
            }
            Fast::Unary { fun, x, y } => {
                let x = view.read(*x);
                for_tiles(threads_for(x.len()), x.len(), &|tiles, _| {
                    // SAFETY: as above.
                    let y = unsafe { view.write(y) };
                    elementwise::unary(*fun, x, y, tiles).map_err(|e| e.to_string())
                })
                .map_err(fail)?
            }
            Fast::Binary { fun, broadcast, a, b, y } => {
                for_tiles(threads_for(y.len()), broadcast.tiles(), &|tiles, _| {
                    // SAFETY: as above.
                    let y = unsafe { view.write(y) };
                    broadcast.run(*fun, view.read(*a), view.read(*b), y, tiles).map_err(|e| e.to_string())
                })
                .map_err(fail)?
            }
            Fast::Chain { x, y, cols, steps } => {
                let x = view.read(*x);
                let rows = x.len() / cols;
                with_epilogue(steps, &view, rows, *cols, |epilogue| {
                    for_tiles(threads_for(x.len()), rows, &|tiles, _| {
                        // SAFETY: as above.
                        let y = unsafe { view.write(y) };
                        elementwise::chain(epilogue, x, y, *cols, tiles).map_err(|e| e.to_string())
                    })
                })
                .map_err(fail)?;
            }
            Fast::Softmax { softmax, x, y } => {
                for_tiles(threads_for(y.len()), softmax.tiles(), &|tiles, _| {
                    // SAFETY: as above.
                    let y = unsafe { view.write(y) };
                    softmax.run(view.read(*x), y, tiles).map_err(|e| e.to_string())
                })
                .map_err(fail)?
            }
            Fast::Reduce { reduce, x, y } => {
                for_tiles(threads_for(view.read(*x).len()), reduce.tiles(), &|tiles, _| {
                    // SAFETY: as above.
                    let y = unsafe { view.write(y) };
                    reduce.run(view.read(*x), y, tiles).map_err(|e| e.to_string())
                })
                .map_err(fail)?
            }
            Fast::Copy { x, y } => {
                if x != y && x.end <= self.arena_bytes && y.end <= self.arena_bytes && x.len() == y.len() {
                    let bytes = self.arena.as_mut_ptr().cast::<u8>();
                    // SAFETY: both ranges lie in the arena (checked); `copy` allows overlap.
                    unsafe { core::ptr::copy(bytes.add(x.start), bytes.add(y.start), x.len()) };
                }
            }
        }
        Ok(())
    }
}

/// Per-thread scratch: `threads` slices of `per_thread` values of one buffer, grown (once, at the first run on a
/// larger pool) when the pool has more threads than it was sized for.
struct Scratch<'a> {
    base: *mut f32,
    per_thread: usize,
    buffer: core::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: each thread takes only its own slice (`thread`), so no value is shared.
unsafe impl Sync for Scratch<'_> {}

impl<'a> Scratch<'a> {
    fn new(buffer: &'a mut Vec<f32>, per_thread: usize, threads: usize) -> Scratch<'a> {
        let needed = per_thread.saturating_mul(threads);
        if buffer.len() < needed {
            buffer.resize(needed, 0.0);
        }
        Scratch { base: buffer.as_mut_ptr(), per_thread, buffer: core::marker::PhantomData }
    }

    /// Thread `thread`'s slice.
    ///
    /// # Safety
    /// `thread` is below the `threads` the buffer was sized for, and one thread at a time uses each slice.
    unsafe fn thread(&self, thread: usize) -> &'a mut [f32] {
        // SAFETY: in bounds by the caller's contract; slices of different threads are disjoint.
        unsafe { core::slice::from_raw_parts_mut(self.base.add(thread * self.per_thread), self.per_thread) }
    }
}

/// The arena and the f32 weights as a fast kernel sees them: slices of the one arena allocation.
///
/// Every arena range was checked against the arena when the descriptor was validated and planned, and a fast
/// kernel's output never overlaps its inputs (`plan::overlaps`), so a mutable slice of the output and any number
/// of shared ones (the inputs) may coexist while one kernel runs.
struct View<'a> {
    arena: *mut f32,
    len: usize,
    weights: &'a [Vec<f32>],
}

// SAFETY: the threads of one kernel read its inputs, which nothing writes meanwhile, and write disjoint tiles of its
// output (`parallel`): no value is written by one thread and read or written by another.
unsafe impl Sync for View<'_> {}

impl<'a> View<'a> {
    /// An input.
    fn read(&self, s: Src) -> &'a [f32] {
        match s {
            // SAFETY: in bounds, and not the output of the running kernel.
            Src::Arena { start, len } if start + len <= self.len => unsafe {
                core::slice::from_raw_parts(self.arena.add(start), len)
            },
            Src::Arena { .. } => &[],
            Src::Weight { index } => self.weights.get(index).map_or(&[], |w| w.as_slice()),
        }
    }

    /// The output.
    ///
    /// # Safety
    /// Called for the running kernel's output range, which no input of the kernel overlaps; where several threads
    /// hold it at once, each writes only the values of its own tiles.
    unsafe fn write(&self, r: &core::ops::Range<usize>) -> &'a mut [f32] {
        if r.end <= self.len {
            // SAFETY: in bounds; the caller guarantees it is the only view of these values that is written.
            unsafe { core::slice::from_raw_parts_mut(self.arena.add(r.start), r.len()) }
        } else {
            &mut []
        }
    }
}

/// Builds the epilogue of `steps` on the stack (no allocation) and calls `run` with it.
fn with_epilogue<'a>(
    steps: &[PlannedStep],
    view: &View<'a>,
    m: usize,
    n: usize,
    run: impl FnOnce(&Epilogue) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let Some(first) = steps.first() else { return run(&Epilogue::NONE) };
    let step = |s: &PlannedStep| match *s {
        PlannedStep::Unary(f) => Step::Unary(f),
        PlannedStep::Binary { fun, operand, operand_first } => Step::Binary {
            fun,
            operand: match operand {
                PlannedOperand::Scalar(src) => Operand::Scalar(view.read(src).first().copied().unwrap_or(0.0)),
                PlannedOperand::Channel(src) => Operand::Channel(view.read(src)),
                PlannedOperand::Full { src, row_stride } => Operand::Full { data: view.read(src), row_stride },
            },
            operand_first,
        },
    };
    let mut built = [step(first); MAX_STEPS];
    for (slot, s) in built.iter_mut().zip(steps).skip(1) {
        *slot = step(s);
    }
    let epilogue = Epilogue::new(&built[..steps.len()], m, n).map_err(|e| e.to_string())?;
    run(&epilogue)
}

fn kernel_error(kernel: &str, op: &str, detail: String) -> RunnerError {
    RunnerError::Kernel { kernel: kernel.to_string(), op: op.to_string(), detail }
}

/// The arena byte range of an arena tensor.
fn byte_range(graph: &Graph, id: TensorId) -> Option<core::ops::Range<usize>> {
    let t = graph.tensors.get(id as usize)?;
    let Storage::Arena { offset } = t.storage else { return None };
    let start = usize::try_from(offset).ok()?;
    Some(start..start.checked_add(usize::try_from(t.byte_size()).ok()?)?)
}

/// Tensor `id`: a borrowed weight, or an owned copy of its arena bytes.
fn read<'a>(graph: &Graph, weights: &'a HashMap<u32, Tensor>, arena: &[u8], id: TensorId) -> Result<Cow<'a, Tensor>> {
    let missing = || RunnerError::TensorData(format!("tensor {id} cannot be read"));
    let t = graph.tensors.get(id as usize).ok_or_else(missing)?;
    match t.storage {
        Storage::Weight { id: w } => weights.get(&w).map(Cow::Borrowed).ok_or_else(missing),
        Storage::Arena { .. } => {
            let bytes = byte_range(graph, id).and_then(|r| arena.get(r)).ok_or_else(missing)?;
            Ok(Cow::Owned(Tensor::from_bytes(t.dtype, &t.shape, bytes.to_vec())?))
        }
    }
}

impl Executable for WasmExecutable {
    fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        if inputs.len() != self.graph.inputs.len() {
            return Err(RunnerError::BadInput {
                name: self.graph.inputs.get(inputs.len()).map_or("?", |b| b.name.as_str()).to_string(),
                detail: format!("{} inputs given, the model has {}", inputs.len(), self.graph.inputs.len()),
            });
        }
        for (i, t) in inputs.iter().enumerate() {
            let binding = &self.graph.inputs[i];
            let desc = &self.graph.tensors[binding.tensor as usize];
            if t.dtype() != desc.dtype {
                let (expected, found) = (desc.dtype, t.dtype());
                return Err(RunnerError::InputDType { name: binding.name.clone(), expected, found });
            }
            if t.shape() != desc.shape.as_slice() {
                let (expected, found) = (desc.shape.clone(), t.shape().to_vec());
                return Err(RunnerError::InputShape { name: binding.name.clone(), expected, found });
            }
            let name = binding.name.clone();
            let range = byte_range(&self.graph, binding.tensor).filter(|r| r.len() == t.bytes().len());
            let dst = range
                .and_then(|r| self.bytes_mut().get_mut(r))
                .ok_or_else(|| RunnerError::TensorData(format!("input `{name}` does not fit its arena range")))?;
            dst.copy_from_slice(t.bytes());
        }
        for i in 0..self.kernels.len() {
            if self.kernels[i].is_some() {
                self.run_fast(i)?;
            } else {
                self.run_reference(i)?;
            }
        }
        let graph = &self.graph;
        graph
            .outputs
            .iter()
            .map(|o| read(graph, &self.reference_weights, self.bytes(), o.tensor).map(Cow::into_owned))
            .collect()
    }
}
