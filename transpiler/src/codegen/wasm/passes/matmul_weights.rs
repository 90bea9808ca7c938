//! `pack-matmul-weights`: a MatMul `A · B (+ C)` whose `B` is a constant f32 matrix (rank 2, either
//! `transpose_b`), `A` f32 and not transposed, gets `B` packed into
//! [GEMM panels](wdnn_descriptor_spec::packing::gemm_panels) of `NR` columns with `C` folded in as the panels'
//! bias when it is a constant along the output's columns (`[N]`, `[1, N]`).
//!
//! It leaves alone a MatMul with a variable `B`, a batched `B`, a transposed `A`, a `C` that varies along rows,
//! and one whose epilogue runner-wasm cannot fuse: those run on the reference kernels.

use wdnn_descriptor_spec::packing::{self, MatrixOrder, PackedLayout};
use wdnn_descriptor_spec::{DType, Op};

use super::{NR, bias, fusable, internal, replace_weights, unpacked_f32};
use crate::error::ConvertError;
use crate::ir::{Graph, Node};
use crate::passes::PassStats;

const PASS: &str = "pack-matmul-weights";

/// `B`'s values, `K`, `N`, their order and the folded bias of a MatMul this pass packs.
struct Packable {
    b: Vec<f32>,
    k: usize,
    n: usize,
    order: MatrixOrder,
    bias: Option<Vec<f32>>,
}

fn packable(graph: &Graph, node: &Node) -> Option<Packable> {
    let Op::MatMul { transpose_a: false, transpose_b, epilogue } = &node.op else { return None };
    let (&a, &w, &y) = (node.inputs.first()?, node.inputs.get(1)?, node.outputs.first()?);
    let (av, yv) = (graph.value(a), graph.value(y));
    let ws = &graph.value(w).shape;
    if av.dtype != DType::F32 || yv.dtype != DType::F32 || ws.len() != 2 || av.shape.is_empty() {
        return None;
    }
    let (k, n) = if *transpose_b { (ws[1], ws[0]) } else { (ws[0], ws[1]) };
    let rows = av.numel() / k.max(1);
    let shape_ok = av.shape.last() == Some(&k) && yv.shape.last() == Some(&n) && yv.numel() == rows * n;
    if !shape_ok || !fusable(graph, node, epilogue, &yv.shape) {
        return None;
    }
    let b = unpacked_f32(graph, w)?;
    let bias = bias(graph, node, epilogue, n as usize)?;
    let order = if *transpose_b { MatrixOrder::NK } else { MatrixOrder::KN };
    Some(Packable { b, k: k as usize, n: n as usize, order, bias })
}

pub(super) fn run(graph: &mut Graph) -> Result<PassStats, ConvertError> {
    let mut packed = 0;
    for i in 0..graph.nodes.len() {
        let Some(p) = packable(graph, &graph.nodes[i]) else { continue };
        let panels = packing::gemm_panels(&p.b, p.k, p.n, p.order, p.bias.as_deref(), NR as usize)
            .map_err(|e| internal(PASS, e.to_string()))?;
        let shape = vec![p.k as u64, p.n as u64];
        replace_weights(graph, i, panels, PackedLayout::GemmPanels { nr: NR }, shape, PASS)?;
        packed += 1;
    }
    Ok(PassStats::one("GEMM panels", packed))
}

#[cfg(test)]
mod tests {
    use super::super::testing::ramp;
    use super::*;
    use wdnn_runner_core::Tensor;

    /// `x [rows, 8] @ w (+ c)`, `w` `[8, 3]` or `[3, 8]` with `transpose_b`.
    fn matmul(rows: u64, transpose_b: bool, c_shape: Option<&[u64]>) -> Graph {
        let mut g = Graph::new("t");
        let x = g.add_value("x", DType::F32, &[rows, 8]);
        g.inputs.push(x);
        let shape = if transpose_b { [3, 8] } else { [8, 3] };
        let w = g.add_constant("w", Tensor::new(&shape, &ramp(24)).unwrap());
        let mut inputs = vec![x, w];
        if let Some(s) = c_shape {
            let n = s.iter().product::<u64>() as usize;
            inputs.push(g.add_constant("c", Tensor::new(s, &ramp(n)).unwrap()));
        }
        let y = g.add_value("y", DType::F32, &[rows, 3]);
        g.add_node("fc", Op::MatMul { transpose_a: false, transpose_b, epilogue: vec![] }, &inputs, &[y]);
        g.outputs.push(("y".into(), y));
        g
    }

    #[test]
    fn constant_matrices_get_panels_with_the_bias() {
        for transpose_b in [false, true] {
            let mut g = matmul(5, transpose_b, Some(&[1, 3][..]));
            assert_eq!(run(&mut g).unwrap(), PassStats::one("GEMM panels", 1));
            let w = g.nodes[0].inputs[1];
            assert_eq!(g.packed_layout(w), Some(PackedLayout::GemmPanels { nr: 8 }));
            let order = if transpose_b { MatrixOrder::NK } else { MatrixOrder::KN };
            let want = packing::gemm_panels(&ramp(24), 8, 3, order, Some(&ramp(3)), 8).unwrap();
            assert_eq!(g.constant_f32(w).unwrap(), want);
        }
    }

    #[test]
    fn a_bias_along_rows_keeps_the_matmul_unpacked() {
        let mut g = matmul(3, false, Some(&[3, 1][..]));
        let before = g.clone();
        run(&mut g).unwrap();
        assert_eq!(g, before);
    }
}
