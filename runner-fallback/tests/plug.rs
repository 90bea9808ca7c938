//! The kernel table used from another crate, as a faster backend does: plug kernels over the reference table,
//! run a graph, and check both the numbers and the per-node kernel report.

mod common;

use common::{F32Unary, graph};
use wdnn_descriptor_spec::{OpKind, UnaryFn};
use wdnn_runner_core::{Executable, RunnerError, Tensor};
use wdnn_runner_fallback::{EvalError, Executor, KernelTable, NodeInfo, NodeKernel, OpKernel};

fn report(exe: &Executor) -> Vec<(String, String)> {
    exe.kernel_report().into_iter().map(|c| (c.node, c.kernel)).collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn run(exe: &mut Executor, x: &[f32]) -> Vec<f32> {
    let out = exe.run(&[Tensor::new(&[1, 4], x).unwrap()]).unwrap();
    out[0].to_vec::<f32>().unwrap()
}

#[test]
fn plugged_kernels_run_where_they_bind_and_the_reference_elsewhere() {
    let (g, w) = graph();
    let x = [1.0f32, -2.0, 3.0, -4.0];
    // c = relu(−x) + x.
    let want = [1.0f32, 0.0, 3.0, 0.0];

    let mut reference = Executor::new("test", &KernelTable::reference(), &g, &w).unwrap();
    assert_eq!(run(&mut reference, &x), want);
    assert_eq!(report(&reference), pairs(&[("neg", "reference"), ("relu", "reference"), ("add", "reference")]));

    // A wrong-on-purpose Neg (−2x) proves the plugged kernel is what ran; Relu is plugged too and runs in place.
    let mut table = KernelTable::reference();
    table.plug(OpKind::Unary, F32Unary { name: "test.neg2", fun: UnaryFn::Neg, f: |v| -2.0 * v });
    table.plug(OpKind::Unary, F32Unary { name: "test.relu", fun: UnaryFn::Relu, f: |v| v.max(0.0) });
    let names: Vec<&str> = table.kernels(OpKind::Unary).map(|k| k.name()).collect();
    assert_eq!(names, ["test.relu", "test.neg2", "reference"]);
    let mut fast = Executor::new("test", &table, &g, &w).unwrap();
    assert_eq!(report(&fast), pairs(&[("neg", "test.neg2"), ("relu", "test.relu"), ("add", "reference")]));
    // relu(−2x) + x.
    assert_eq!(run(&mut fast, &x), [1.0, 2.0, 3.0, 4.0]);
    // Runs repeat on the same arena.
    assert_eq!(run(&mut fast, &[-1.0, 0.0, 0.5, 2.0]), [1.0, 0.0, 0.5, 2.0]);
}

/// Binds every node and fails in a chosen way.
struct Failing(EvalError);

impl OpKernel for Failing {
    fn name(&self) -> &str {
        "test.failing"
    }
    fn bind(&self, _: &NodeInfo<'_>) -> Result<Option<Box<dyn NodeKernel>>, EvalError> {
        Err(self.0.clone())
    }
}

#[test]
fn binding_errors_and_empty_tables_name_the_node() {
    let (g, w) = graph();
    let mut table = KernelTable::reference();
    table.plug(OpKind::Binary, Failing(EvalError::Invalid("bad operand".into())));
    let err = Executor::new("test", &table, &g, &w).err().expect("the binding error fails the load");
    assert!(matches!(&err, RunnerError::Kernel { kernel, detail, .. } if kernel == "add" && detail == "bad operand"));

    let mut only_neg = KernelTable::empty();
    only_neg.plug(OpKind::Unary, F32Unary { name: "test.neg", fun: UnaryFn::Neg, f: |v| -v });
    let err = Executor::new("test", &only_neg, &g, &w).err().expect("relu has no kernel");
    assert!(
        matches!(&err, RunnerError::Unsupported { backend, kernel, op, .. }
            if backend == "test" && kernel == "relu" && op == "Unary"),
        "{err}"
    );
}
