//! `winograd`: a 3×3 convolution (stride 1, dilation 1, pads 1, one group, batch 1, NCHW, constant weight and
//! bias) with at least [`WebGpuTuning::winograd_channels`] input and output channels, on a map of at least
//! [`WebGpuTuning::winograd_extent`] rows and columns and of at least [`WebGpuTuning::winograd_mflop`] MFLOP, is
//! rewritten into Winograd's
//! F(2×2, 3×3): 16 products of 4×4 input tiles instead of 36 for each 2×2 block of outputs, 2.25× fewer
//! multiplications. The rewrite is made of ordinary ops, so the graph keeps its meaning on every runner:
//!
//! 1. `Pad` the input `[1, C, H, W]` to `[1, C, Hp, Wp]` (one zero row and column before, enough after that
//!    `Hp = 2 (TH + 1)` and `Wp = 2 TW + 2`, with `TH = ⌈H / 2⌉`, `TW = ⌈W / 2⌉` tiles);
//! 2. the **input transform** `Bᵀ d B` of every tile as one `Conv` of the padded channels stacked into one image
//!    `[1, 1, C Hp, Wp]` by the 16 filters `Bᵀ[ξ, i] Bᵀ[ν, j]` (4×4, stride 2, two zero rows after): the output
//!    `[1, 16, C (TH + 1), TW]` is `V [16, C, Q]` with `Q = (TH + 1) TW` — each channel's last tile row straddles
//!    the next channel and is computed for nothing (a Reshape, no copy, needs the rows contiguous);
//! 3. the **batched GEMM** `M[b] = U[b] V[b]` as one `MatMul` of the transformed weights `U = G g Gᵀ`
//!    (`[16, O, C]`, made here at convert time) by `V`; the bias is added to `M` at `(ξ, ν) = (1, 1)` only, which
//!    `Aᵀ` spreads with weight 1 over the four outputs of the tile;
//! 4. the **output transform** `Aᵀ M A` as one `ConvTranspose` of `M` seen as `[1, 16, O (TH + 1), TW]` by the
//!    filters `Aᵀ[i, ξ] Aᵀ[j, ν]` (2×2, stride 2) into `[1, 1, O 2 (TH + 1), 2 TW]`, with the convolution's epilogue;
//! 5. a `Slice` of its `[1, O, 2 (TH + 1), 2 TW]` view to the output `[1, O, H, W]`.
//!
//! Only epilogues of unary steps move to the output transform (their values are computed before the crop): a
//! convolution with a binary step (a residual add, a per-channel scale) is left to the implicit GEMM. The pass
//! runs before `split-k`, which then sees only the convolutions left. It is an optimization and may be skipped
//! (`--skip-pass winograd`, or `--webgpu-tuning winograd=0`); the result computes the same values up to fp32
//! rounding in another order (rel. L2 about 1e-7 on random data).

use wdnn_descriptor_spec::{DType, EpilogueStep, Op, PadMode};
use wdnn_runner_core::Tensor;

use super::internal;
use crate::codegen::webgpu::WebGpuTuning;
use crate::error::ConvertError;
use crate::ir::{Graph, Node};
use crate::passes::PassStats;

const PASS: &str = "winograd";

/// F(2×2, 3×3) (Lavin & Gray): `Bᵀ` (4×4), `G` (4×3) and `Aᵀ` (2×4).
const BT: [[f32; 4]; 4] = [[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, -1.0, 1.0, 0.0], [0.0, 1.0, 0.0, -1.0]];
const G: [[f32; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
const AT: [[f32; 4]; 2] = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];
/// The tile position `(ξ, ν)` whose `Aᵀ` column is all ones: the bias goes there.
const BIAS_AT: usize = 4 + 1;

pub(super) fn run(graph: &mut Graph, tuning: &WebGpuTuning) -> Result<PassStats, ConvertError> {
    let nodes = std::mem::take(&mut graph.nodes);
    let mut out = Vec::with_capacity(nodes.len());
    let mut rewritten = 0;
    for node in nodes {
        if applies(graph, &node, tuning) {
            rewrite(graph, node, &mut out)?;
            rewritten += 1;
        } else {
            out.push(node);
        }
    }
    graph.nodes = out;
    Ok(PassStats::one("F(2x2,3x3) convolutions", rewritten))
}

/// Whether `node` is a convolution this pass rewrites.
fn applies(graph: &Graph, node: &Node, tuning: &WebGpuTuning) -> bool {
    if !tuning.winograd {
        return false;
    }
    let Op::Conv { group: 1, channels_last: false, strides, dilations, pads, epilogue } = &node.op else {
        return false;
    };
    if strides.iter().any(|&s| s != 1) || dilations.iter().any(|&d| d != 1) || pads != &[1, 1, 1, 1] {
        return false;
    }
    if !epilogue.iter().all(|s| matches!(s, EpilogueStep::Unary { .. })) || node.outputs.len() != 1 {
        return false;
    }
    let (Some(&x), Some(&w)) = (node.inputs.first(), node.inputs.get(1)) else { return false };
    let Some(weight) = graph.constant(w) else { return false };
    let bias = node.op.bias_input(node.inputs.len());
    if bias.is_some_and(|b| graph.constant(node.inputs[b]).is_none_or(|t| t.dtype() != DType::F32)) {
        return false;
    }
    if node.inputs.len() > 2 + usize::from(bias.is_some()) {
        return false;
    }
    let (xv, yv) = (graph.value(x), graph.value(node.outputs[0]));
    let s = weight.shape();
    if weight.dtype() != DType::F32 || xv.dtype != DType::F32 || yv.dtype != DType::F32 {
        return false;
    }
    if s.len() != 4 || s[2] != 3 || s[3] != 3 || xv.shape.len() != 4 || xv.shape[0] != 1 {
        return false;
    }
    if yv.shape != [1, s[0], xv.shape[2], xv.shape[3]] {
        return false;
    }
    let extent = xv.shape[2].min(xv.shape[3]);
    let mflop = 2 * s[0] * s[1] * 9 * xv.shape[2] * xv.shape[3] / 1_000_000;
    s[0] >= tuning.winograd_channels
        && s[1] >= tuning.winograd_channels
        && s[1] == xv.shape[1]
        && extent >= tuning.winograd_extent
        && mflop >= tuning.winograd_mflop
}

/// `U[b, o, c] = (G g[o, c] Gᵀ)[ξ, ν]` with `b = 4 ξ + ν`, from the `[O, C, 3, 3]` weights `g`.
fn transform_weights(g: &[f32], o: usize, c: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; 16 * o * c];
    for oc in 0..o {
        for ic in 0..c {
            let f = &g[(oc * c + ic) * 9..][..9];
            // G f: 4×3, then (G f) Gᵀ: 4×4; accumulated in f64 so that the stored filter is the exact one rounded.
            let mut gf = [[0.0f64; 3]; 4];
            for (i, row) in gf.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = (0..3).map(|k| G[i][k] as f64 * f[k * 3 + j] as f64).sum();
                }
            }
            for (i, row) in gf.iter().enumerate() {
                for j in 0..4 {
                    let v: f64 = (0..3).map(|k| row[k] * G[j][k] as f64).sum();
                    u[((i * 4 + j) * o + oc) * c + ic] = v as f32;
                }
            }
        }
    }
    u
}

/// The input transform's 16 filters `[16, 1, 4, 4]`: filter `4 ξ + ν` at `(i, j)` is `Bᵀ[ξ, i] Bᵀ[ν, j]`.
fn input_filters() -> Vec<f32> {
    let mut f = Vec::with_capacity(256);
    for xi in &BT {
        for nu in &BT {
            for &a in xi {
                f.extend(nu.iter().map(|&b| a * b));
            }
        }
    }
    f
}

/// The output transform's filters `[16, 1, 2, 2]` (ConvTranspose: `[in, out, kh, kw]`): `Aᵀ[i, ξ] Aᵀ[j, ν]`.
fn output_filters() -> Vec<f32> {
    let mut f = Vec::with_capacity(64);
    for xi in 0..4 {
        for nu in 0..4 {
            for row in &AT {
                for col in &AT {
                    f.push(row[xi] * col[nu]);
                }
            }
        }
    }
    f
}

fn constant(graph: &mut Graph, name: &str, shape: &[u64], values: &[f32]) -> Result<crate::ir::ValueId, ConvertError> {
    let t = Tensor::new(shape, values).map_err(|e| internal(PASS, e.to_string()))?;
    Ok(graph.add_constant(name, t))
}

fn rewrite(graph: &mut Graph, node: Node, out: &mut Vec<Node>) -> Result<(), ConvertError> {
    let Op::Conv { epilogue, .. } = node.op.clone() else {
        return Err(internal(PASS, "rewrite of a non-Conv".into()));
    };
    let (x, y) = (node.inputs[0], node.outputs[0]);
    let weight = graph.constant_f32(node.inputs[1]).ok_or_else(|| internal(PASS, "conv weight is not f32".into()))?;
    let (o, c) = {
        let s = graph.constant(node.inputs[1]).map(|t| t.shape().to_vec()).unwrap_or_default();
        (s[0], s[1])
    };
    let (h, w) = (graph.value(x).shape[2], graph.value(x).shape[3]);
    let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
    let (hp, wp) = (2 * (th + 1), 2 * tw + 2);
    let q = (th + 1) * tw;
    let name = |part: &str| format!("{}/winograd_{part}", node.name);
    let f32v = |graph: &mut Graph, part: &str, shape: &[u64]| graph.add_value(&name(part), DType::F32, shape);

    // 1. Pad.
    let padded = f32v(graph, "padded", &[1, c, hp, wp]);
    let pads = vec![0, 0, 1, 1, 0, 0, (hp - h - 1) as i64, (wp - w - 1) as i64];
    out.push(Node {
        name: name("pad"),
        op: Op::Pad { pads, mode: PadMode::Constant, value: 0.0 },
        inputs: vec![x],
        outputs: vec![padded],
    });
    let stacked = f32v(graph, "stacked", &[1, 1, c * hp, wp]);
    out.push(Node { name: name("stack"), op: Op::Reshape, inputs: vec![padded], outputs: vec![stacked] });

    // 2. Input transform.
    let bt = constant(graph, &name("bt"), &[16, 1, 4, 4], &input_filters())?;
    let tiles = f32v(graph, "tiles", &[1, 16, c * (th + 1), tw]);
    out.push(Node {
        name: name("input"),
        op: Op::Conv {
            group: 1,
            strides: vec![2, 2],
            dilations: vec![1, 1],
            pads: vec![0, 0, 2, 0],
            channels_last: false,
            epilogue: vec![],
        },
        inputs: vec![stacked, bt],
        outputs: vec![tiles],
    });
    let v = f32v(graph, "v", &[16, c, q]);
    out.push(Node { name: name("v"), op: Op::Reshape, inputs: vec![tiles], outputs: vec![v] });

    // 3. Batched GEMM, with the bias at (1, 1).
    let u_name = format!("{}/winograd_u", graph.value(node.inputs[1]).name);
    let u = constant(graph, &u_name, &[16, o, c], &transform_weights(&weight, o as usize, c as usize))?;
    let mut inputs = vec![u, v];
    if let Some(b) = node.op.bias_input(node.inputs.len()) {
        let bias = graph.constant_f32(node.inputs[b]).ok_or_else(|| internal(PASS, "conv bias is not f32".into()))?;
        let mut at = vec![0.0f32; 16 * o as usize];
        at[BIAS_AT * o as usize..][..o as usize].copy_from_slice(&bias);
        let bias_name = format!("{}/winograd_bias", graph.value(node.inputs[b]).name);
        inputs.push(constant(graph, &bias_name, &[16, o, 1], &at)?);
    }
    let m = f32v(graph, "m", &[16, o, q]);
    out.push(Node {
        name: name("gemm"),
        op: Op::MatMul { transpose_a: false, transpose_b: false, epilogue: vec![] },
        inputs,
        outputs: vec![m],
    });
    let m_image = f32v(graph, "m_image", &[1, 16, o * (th + 1), tw]);
    out.push(Node { name: name("m_image"), op: Op::Reshape, inputs: vec![m], outputs: vec![m_image] });

    // 4. Output transform with the epilogue.
    let at = constant(graph, &name("at"), &[16, 1, 2, 2], &output_filters())?;
    let full = f32v(graph, "full", &[1, 1, o * hp, 2 * tw]);
    out.push(Node {
        name: name("output"),
        op: Op::ConvTranspose {
            group: 1,
            strides: vec![2, 2],
            dilations: vec![1, 1],
            pads: vec![0, 0, 0, 0],
            channels_last: false,
            epilogue,
        },
        inputs: vec![m_image, at],
        outputs: vec![full],
    });
    let planes = f32v(graph, "planes", &[1, o, hp, 2 * tw]);
    out.push(Node { name: name("planes"), op: Op::Reshape, inputs: vec![full], outputs: vec![planes] });

    // 5. Crop.
    out.push(Node {
        name: name("crop"),
        op: Op::Slice { axes: vec![2, 3], starts: vec![0, 0], steps: vec![1, 1] },
        inputs: vec![planes],
        outputs: vec![y],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::UnaryFn;

    use super::super::rel_l2;

    fn conv3x3(c: u64, o: u64, h: u64, w: u64, bias: bool, epilogue: Vec<EpilogueStep>) -> Graph {
        let bias = bias.then(|| (0..o).map(|i| i as f32 / 8.0 - 1.0).collect());
        super::super::conv3x3((c, o, h, w), bias, None, epilogue)
    }

    fn input(c: u64, h: u64, w: u64) -> Tensor {
        let n = (c * h * w) as usize;
        Tensor::new(&[1, c, h, w], &(0..n).map(|i| (((i * 31) % 17) as f32 - 8.0) / 17.0).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn rewrites_a_3x3_convolution_keeping_its_values() {
        // Even and odd extents, with and without bias and epilogue.
        let cases = [
            (32, 8, 8, true, true),
            (32, 7, 5, true, false),
            (32, 6, 9, false, true),
            (32, 1, 2, false, false),
            (512, 14, 14, true, true),
        ];
        for (c, h, w, bias, relu) in cases {
            let epilogue = if relu { vec![EpilogueStep::Unary { fun: UnaryFn::Relu }] } else { vec![] };
            let original = conv3x3(c, 40, h, w, bias, epilogue);
            let mut g = original.clone();
            let small = WebGpuTuning {
                winograd_channels: 32,
                winograd_extent: 1,
                winograd_mflop: 0,
                ..WebGpuTuning::default()
            };
            let stats = run(&mut g, &small).unwrap();
            assert_eq!(stats, PassStats::one("F(2x2,3x3) convolutions", 1));
            let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.name()).collect();
            assert_eq!(
                ops,
                ["Pad", "Reshape", "Conv", "Reshape", "MatMul", "Reshape", "ConvTranspose", "Reshape", "Slice"]
            );
            crate::ir::verify(&g).unwrap();
            let x = input(c, h, w);
            let evaluate = super::super::evaluate;
            let (before, after) = (evaluate(&original, std::slice::from_ref(&x)), evaluate(&g, &[x]));
            let values = before[0].to_vec::<f32>().unwrap();
            assert!(values.iter().filter(|&&v| v > 0.0).count() * 4 > values.len(), "a test of zeros");
            let err = rel_l2(&after[0], &before[0]);
            // Measured: 2.5e-7 to 5.2e-7 with 32 channels, 1.1e-6 with 512 (the reference sums in another order).
            assert!(err < 3e-6, "{c} channels, {h}x{w}: rel L2 {err:e}");
        }
    }

    #[test]
    fn the_transforms_are_winograds() {
        // Bᵀ d B, G g Gᵀ and Aᵀ M A of one tile through the filters equal the direct 2×2 outputs of a 3×3 filter.
        let d: Vec<f32> = (0..16).map(|i| (i * i % 7) as f32 - 3.0).collect();
        let g: Vec<f32> = (0..9).map(|i| (i % 4) as f32 - 1.5).collect();
        let (bf, af, u) = (input_filters(), output_filters(), transform_weights(&g, 1, 1));
        let v: Vec<f32> = (0..16).map(|b| (0..16).map(|t| bf[b * 16 + t] * d[t]).sum()).collect();
        let m: Vec<f32> = (0..16).map(|b| u[b] * v[b]).collect();
        for i in 0..2 {
            for j in 0..2 {
                let y: f32 = (0..16).map(|b| af[b * 4 + i * 2 + j] * m[b]).sum();
                let direct: f32 = (0..3)
                    .flat_map(|r| (0..3).map(move |s| (r, s)))
                    .map(|(r, s)| g[r * 3 + s] * d[(i + r) * 4 + j + s])
                    .sum();
                assert!((y - direct).abs() < 1e-5, "({i}, {j}): {y} vs {direct}");
            }
        }
        // The bias slot's Aᵀ column is all ones.
        assert!((0..4).all(|t| af[BIAS_AT * 4 + t] == 1.0));
    }

    #[test]
    fn leaves_what_it_does_not_pay_or_cannot_do() {
        let residual =
            EpilogueStep::Binary { fun: wdnn_descriptor_spec::BinaryFn::Add, operand: 2, operand_first: false };
        // Each case but one condition would be rewritten (`any`); the default tuning leaves this small one.
        let any = WebGpuTuning { winograd_channels: 32, winograd_mflop: 0, ..WebGpuTuning::default() };
        let mut cases = vec![
            (conv3x3(8, 40, 8, 8, true, vec![]), any),
            (conv3x3(32, 40, 8, 8, true, vec![]), WebGpuTuning { winograd: false, ..any }),
            (conv3x3(32, 40, 8, 8, false, vec![residual]), any),
            (conv3x3(32, 40, 7, 16, true, vec![]), any),
            (conv3x3(32, 40, 8, 8, true, vec![]), WebGpuTuning::default()),
        ];
        let mut strided = conv3x3(32, 40, 8, 8, true, vec![]);
        if let Op::Conv { strides, .. } = &mut strided.nodes[0].op {
            *strides = vec![2, 2];
        }
        cases.push((strided, any));
        for (mut g, tuning) in cases {
            let before = g.clone();
            assert_eq!(run(&mut g, &tuning).unwrap(), PassStats::one("F(2x2,3x3) convolutions", 0));
            assert_eq!(g, before);
        }
    }
}
