//! [`KernelTable`]: which implementation runs each op kind, in the shape of tract's `generic()` then `plug()`.
//!
//! [`KernelTable::reference`] fills every [`OpKind`] with the reference kernel; a faster backend then
//! [`plug`](KernelTable::plug)s its own kernels over some kinds. A plugged kernel is asked first and may decline a
//! node (a shape or dtype it has no fast path for), in which case the entry underneath serves it: so a backend built
//! on the reference table runs every graph the reference runs, and reports per node which kernel it chose.

use std::collections::HashMap;
use std::sync::Arc;

use wdnn_descriptor_spec::{Graph, Kernel, Op, OpKind, Storage, TensorDesc};
use wdnn_runner_core::{Tensor, TensorView, TensorViewMut};

use crate::EvalError;
use crate::reference::Reference;

/// An implementation of one op kind, registered in a [`KernelTable`].
pub trait OpKernel: Send + Sync {
    /// The implementation's name in kernel reports when its bound kernels do not say more.
    fn name(&self) -> &str;

    /// Prepares to run `node` (choosing an algorithm, packing weights, sizing scratch), or declines it with
    /// `Ok(None)` so that the table's next entry for the kind is asked. Called once per node, at load.
    fn bind(&self, node: &NodeInfo<'_>) -> Result<Option<Box<dyn NodeKernel>>, EvalError>;
}

/// An [`OpKernel`] bound to one node of a graph, run once per inference.
pub trait NodeKernel: Send {
    /// The name reported for the node: `reference`, `wasm.gemm4x8`…
    fn name(&self) -> &str;

    /// Computes the node: `inputs` and `outputs` are in the node's order, with the dtypes and shapes of its tensor
    /// descriptions. Every output byte must be written. An input never aliases an output: where the memory plan
    /// put a kernel in place, the executor hands the kernel a copy of that input.
    fn run(&mut self, inputs: &[TensorView<'_>], outputs: &mut [TensorViewMut<'_>]) -> Result<(), EvalError>;
}

/// What a kernel may know about its node when it is bound: the op, the tensor descriptions and constant inputs.
#[derive(Clone, Copy)]
pub struct NodeInfo<'a> {
    graph: &'a Graph,
    node: &'a Kernel,
    weights: &'a HashMap<u32, Tensor>,
}

impl<'a> NodeInfo<'a> {
    pub(crate) fn new(graph: &'a Graph, node: &'a Kernel, weights: &'a HashMap<u32, Tensor>) -> NodeInfo<'a> {
        NodeInfo { graph, node, weights }
    }

    /// The graph the node belongs to.
    pub fn graph(&self) -> &'a Graph {
        self.graph
    }

    /// The node: its name, op, tensor ids and payload.
    pub fn node(&self) -> &'a Kernel {
        self.node
    }

    /// The node's op.
    pub fn op(&self) -> &'a Op {
        &self.node.op
    }

    /// The description of input `i`.
    pub fn input(&self, i: usize) -> Option<&'a TensorDesc> {
        self.graph.tensors.get(*self.node.inputs.get(i)? as usize)
    }

    /// The description of output `i`.
    pub fn output(&self, i: usize) -> Option<&'a TensorDesc> {
        self.graph.tensors.get(*self.node.outputs.get(i)? as usize)
    }

    /// Input `i`'s values when it is a weight (decoded to its graph dtype), which stay the same for every run.
    pub fn constant(&self, i: usize) -> Option<TensorView<'a>> {
        match self.input(i)?.storage {
            Storage::Weight { id } => self.weights.get(&id).map(Tensor::view),
            Storage::Arena { .. } => None,
        }
    }
}

/// The kernels a backend runs, per op kind, the most preferred first.
#[derive(Clone)]
pub struct KernelTable {
    /// Indexed by `OpKind as usize`; each list is tried from its end (the last plugged) to its start.
    entries: Vec<Vec<Arc<dyn OpKernel>>>,
}

impl KernelTable {
    /// A table with no kernel at all: binding any node fails. Build a backend from [`KernelTable::reference`]
    /// instead unless it must refuse what it has no kernel for.
    pub fn empty() -> KernelTable {
        KernelTable { entries: vec![Vec::new(); OpKind::ALL.len()] }
    }

    /// The reference kernel for every op kind: what the `fallback` backend runs.
    pub fn reference() -> KernelTable {
        let mut table = KernelTable::empty();
        let reference: Arc<dyn OpKernel> = Arc::new(Reference);
        for entry in &mut table.entries {
            entry.push(reference.clone());
        }
        table
    }

    /// Puts `kernel` over the entries for `kind`: it is asked first and whatever it declines goes to them.
    pub fn plug(&mut self, kind: OpKind, kernel: impl OpKernel + 'static) -> &mut KernelTable {
        self.entries[kind as usize].push(Arc::new(kernel));
        self
    }

    /// The kernels registered for `kind`, the most preferred first.
    pub fn kernels(&self, kind: OpKind) -> impl Iterator<Item = &dyn OpKernel> {
        self.entries[kind as usize].iter().rev().map(|k| k.as_ref())
    }

    /// Binds `node` to the first kernel for its kind that accepts it; `None` when every one declines.
    pub fn bind(&self, node: &NodeInfo<'_>) -> Result<Option<Box<dyn NodeKernel>>, EvalError> {
        for kernel in self.kernels(node.op().kind()) {
            if let Some(bound) = kernel.bind(node)? {
                return Ok(Some(bound));
            }
        }
        Ok(None)
    }
}

impl std::fmt::Debug for KernelTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for kind in OpKind::ALL {
            let names: Vec<&str> = self.kernels(*kind).map(|k| k.name()).collect();
            map.entry(&kind.name(), &names);
        }
        map.finish()
    }
}
