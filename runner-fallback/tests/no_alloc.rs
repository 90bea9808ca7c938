//! A run of the executor allocates nothing but its results when its kernels do not allocate.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{F32Unary, graph};
use wdnn_descriptor_spec::{OpKind, UnaryFn};
use wdnn_runner_core::{Executable, Tensor};
use wdnn_runner_fallback::{Executor, KernelTable};

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts this thread's allocations.
struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[test]
fn a_run_allocates_only_its_outputs() {
    let (mut g, w) = graph();
    // Only unary kernels, all plugged: neg, then relu in place (through the scratch copy), then neg again.
    g.kernels[2].op = g.kernels[0].op.clone();
    g.kernels[2].inputs = vec![2];
    let mut table = KernelTable::empty();
    table.plug(OpKind::Unary, F32Unary { name: "test.neg", fun: UnaryFn::Neg, f: |v| -v });
    table.plug(OpKind::Unary, F32Unary { name: "test.relu", fun: UnaryFn::Relu, f: |v| v.max(0.0) });
    let mut exe = Executor::new("test", &table, &g, &w).unwrap();
    let x = [Tensor::new(&[1, 4], &[1.0f32, -2.0, 3.0, -4.0]).unwrap()];
    let first = exe.run(&x).unwrap();
    assert_eq!(first[0].to_vec::<f32>().unwrap(), [-0.0, -2.0, -0.0, -4.0]);

    let before = ALLOCATIONS.with(Cell::get);
    let second = exe.run(&x).unwrap();
    let allocated = ALLOCATIONS.with(Cell::get) - before;
    assert_eq!(second, first);
    // The result vector, and the one output's shape and bytes.
    assert_eq!(allocated, 3);
}
