//! `matmul-layout`: a MatMul with a constant two-dimensional `B` gets `B` stored `[N, K]` (`transpose_b`) when `A`
//! has at most [`GEMV_ROWS`] rows (the matrix–vector kernel reads each output's weights contiguously), `[K, N]`
//! otherwise (the tiled GEMM loads rows of `B` along N).
//!
//! It only changes how a weight is stored, never what the MatMul computes; both kernels accept either layout, so it
//! may be skipped. Conv weights keep the ONNX layout `[O, I/group, k…]`, which is already the `[M, K]` operand of
//! the implicit GEMM.

use wdnn_descriptor_spec::Op;
use wdnn_runner_core::Tensor;

use super::internal;
use crate::error::ConvertError;
use crate::ir::Graph;
use crate::passes::PassStats;

/// MatMuls with at most this many rows use the matrix–vector kernel.
pub const GEMV_ROWS: u64 = 4;

pub(super) fn run(graph: &mut Graph) -> Result<PassStats, ConvertError> {
    let mut transposed = 0;
    for i in 0..graph.nodes.len() {
        let node = &graph.nodes[i];
        let Op::MatMul { transpose_a, transpose_b, .. } = node.op else { continue };
        let (Some(&a), Some(&b)) = (node.inputs.first(), node.inputs.get(1)) else { continue };
        let Some(weight) = graph.constant(b).filter(|t| t.shape().len() == 2) else { continue };
        let k = graph.value(a).shape.last().copied().unwrap_or(1);
        let rows_a = graph.value(a).numel() / k.max(1);
        let want_nk = rows_a <= GEMV_ROWS && !transpose_a;
        if transpose_b == want_nk {
            continue;
        }
        let weight = transpose_2d(weight)?;
        let name = format!("{}/webgpu_layout", graph.value(b).name);
        let id = graph.add_constant(&name, weight);
        let node = &mut graph.nodes[i];
        node.inputs[1] = id;
        if let Op::MatMul { transpose_b, .. } = &mut node.op {
            *transpose_b = want_nk;
        }
        transposed += 1;
    }
    Ok(PassStats::one("weights transposed", transposed))
}

/// `t` (shape `[R, C]`) transposed to `[C, R]`.
fn transpose_2d(t: &Tensor) -> Result<Tensor, ConvertError> {
    let (r, c) = (t.shape()[0] as usize, t.shape()[1] as usize);
    let size = t.dtype().size();
    let src = t.bytes();
    let mut out = vec![0u8; src.len()];
    for i in 0..r {
        for j in 0..c {
            let (from, to) = ((i * c + j) * size, (j * r + i) * size);
            out[to..to + size].copy_from_slice(&src[from..from + size]);
        }
    }
    Tensor::from_bytes(t.dtype(), &[c as u64, r as u64], out).map_err(|e| internal("matmul-layout", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::{DType, EpilogueStep, UnaryFn};

    /// `x [rows, 8] @ w [8, 3]` with a Relu epilogue.
    fn matmul(rows: u64) -> Graph {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[rows, 8]);
        g.inputs.push(x);
        let w = Tensor::new(&[8, 3], &(0..24).map(|v| v as f32).collect::<Vec<_>>()).unwrap();
        let w = g.add_constant("w", w);
        let y = g.add_value("y", DType::F32, &[rows, 3]);
        let op = Op::MatMul {
            transpose_a: false,
            transpose_b: false,
            epilogue: vec![EpilogueStep::Unary { fun: UnaryFn::Relu }],
        };
        g.add_node("fc", op, &[x, w], &[y]);
        g.outputs.push(("y".into(), y));
        g
    }

    #[test]
    fn few_rows_get_the_weight_stored_n_by_k() {
        let mut g = matmul(1);
        assert_eq!(run(&mut g).unwrap(), PassStats::one("weights transposed", 1));
        let node = &g.nodes[0];
        assert!(matches!(node.op, Op::MatMul { transpose_b: true, .. }));
        let t = g.constant(node.inputs[1]).unwrap();
        assert_eq!(t.shape(), &[3, 8]);
        assert_eq!(t.to_vec::<f32>().unwrap()[..3], [0.0, 3.0, 6.0]);
        assert_eq!(transpose_2d(t).unwrap().to_vec::<f32>().unwrap(), (0..24).map(|v| v as f32).collect::<Vec<_>>());
    }

    #[test]
    fn many_rows_keep_k_by_n() {
        let mut g = matmul(GEMV_ROWS + 1);
        assert_eq!(run(&mut g).unwrap(), PassStats::one("weights transposed", 0));
        assert_eq!(g.constant(g.nodes[0].inputs[1]).unwrap().shape(), &[8, 3]);
    }
}
