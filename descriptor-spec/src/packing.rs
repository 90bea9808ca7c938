//! Packed weight layouts: how a CPU backend's descriptor stores convolution and matrix weights, already arranged
//! for its micro-kernels, so that loading a model copies weights instead of rearranging them.
//!
//! These layouts are part of the format: a converter writes them at convert time and any runner that reads such a
//! descriptor must read the values exactly as described here. All layouts are dense `f32` arrays, listed
//! outermost first; a value past the end of a real dimension (a partial panel or block) is stored as `0.0`, so
//! that kernels may read whole panels unconditionally. `ceil(a / b)` is written `⌈a/b⌉`.
//!
//! | layout | source weights | packed length |
//! |---|---|---|
//! | [GEMM panels](gemm_panels) | `B` `[K, N]` (or `[N, K]`), bias `[N]` | `⌈N/NR⌉ · NR · (1 + K)` |
//! | [convolution panels](conv_panels) | `W` `[O, C/G, KH, KW]`, bias `[O]` | `G · ⌈(O/G)/NR⌉ · NR · (1 + KH·KW·C/G)` |
//! | [depthwise blocks](depthwise_blocks) | `W` `[C, 1, KH, KW]`, bias `[C]` | `⌈C/CB⌉ · CB · (1 + KH·KW)` |
//! | [Winograd panels](winograd_panels) | `W` `[O, C, 3, 3]`, bias `[O]` | `α² · ⌈O/NR⌉ · NR · (1 + C) + O` |
//!
//! The panel width `NR` and block width `CB` are parameters of the layout, recorded by the descriptor that uses it
//! (runner-wasm uses `NR = 8`, `CB = 8`).

use serde::{Deserialize, Serialize};

/// Which packed layout a kernel's weights are stored in, with the layout's parameters: the `weights` of a `Packed`
/// payload (SPEC §6.2). Encoded as a map whose key `layout` names the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "layout")]
pub enum PackedLayout {
    /// [GEMM panels](gemm_panels) of the `MatMul`'s constant `B`.
    GemmPanels {
        /// Panel width `NR`.
        nr: u32,
    },
    /// [Convolution panels](conv_panels) of an NHWC `Conv`.
    ConvPanels {
        /// Panel width `NR`.
        nr: u32,
    },
    /// [Depthwise blocks](depthwise_blocks) of an NHWC depthwise `Conv`.
    DepthwiseBlocks {
        /// Block width `CB`.
        cb: u32,
    },
    /// [Winograd panels](winograd_panels) of an NHWC 3×3 stride-1 `Conv`, for `F(m×m, 3×3)`.
    WinogradPanels {
        /// Output tile size `m`: 2 ([`WINOGRAD_F2`]) or 4 ([`WINOGRAD_F4`]).
        m: u32,
        /// Panel width `NR`.
        nr: u32,
    },
    /// A layout this reader does not know.
    #[serde(other)]
    Unknown,
}

/// A weight tensor whose size does not match the shape it was packed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackingError {
    /// The weights (or bias) hold another number of values than the shape says.
    #[error("packing {layout}: {what} has {found} values, expected {expected}")]
    Length {
        /// The layout being packed.
        layout: &'static str,
        /// Which array: `weights` or `bias`.
        what: &'static str,
        /// Values expected from the shape.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A shape parameter is zero or inconsistent (channels not divisible by the group, a zero panel width, …).
    #[error("packing {layout}: {reason}")]
    Shape {
        /// The layout being packed.
        layout: &'static str,
        /// What is wrong.
        reason: String,
    },
}

type Result<T> = std::result::Result<T, PackingError>;

fn check(layout: &'static str, what: &'static str, values: &[f32], expected: usize) -> Result<()> {
    if values.len() == expected {
        Ok(())
    } else {
        Err(PackingError::Length { layout, what, expected, found: values.len() })
    }
}

fn check_bias(layout: &'static str, bias: Option<&[f32]>, n: usize) -> Result<()> {
    bias.map_or(Ok(()), |b| check(layout, "bias", b, n))
}

fn positive(layout: &'static str, name: &str, v: usize) -> Result<()> {
    if v == 0 { Err(PackingError::Shape { layout, reason: format!("{name} is zero") }) } else { Ok(()) }
}

/// How the rows of a matrix's source array are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixOrder {
    /// `B[k][n]` at `k · N + n` (a MatMul's right operand).
    KN,
    /// `B[k][n]` at `n · K + k` (ONNX `Gemm` with `transB`, a fully connected layer's `[out, in]` weights).
    NK,
}

/// Length of the [GEMM panels](gemm_panels) of a `K × N` matrix.
pub fn gemm_panels_len(k: usize, n: usize, nr: usize) -> usize {
    n.div_ceil(nr.max(1)) * nr * (1 + k)
}

/// **GEMM panels**: the right operand `B` (`K × N`) of `C = A · B + bias`, cut into `⌈N/NR⌉` panels of `NR`
/// columns.
///
/// Panel `p` covers columns `p·NR .. p·NR + NR` and is stored as `NR` bias values (`bias[p·NR + j]`, or `0.0`
/// without a bias) followed by `K` rows of `NR` values, row `k` holding `B[k][p·NR + j]` for `j` in `0..NR`.
/// Panels follow each other. A micro-kernel starts its accumulators from the panel's first row and then streams
/// one `NR`-wide row per step of `k`, with no stride arithmetic.
pub fn gemm_panels(
    b: &[f32],
    k: usize,
    n: usize,
    order: MatrixOrder,
    bias: Option<&[f32]>,
    nr: usize,
) -> Result<Vec<f32>> {
    const LAYOUT: &str = "GEMM panels";
    positive(LAYOUT, "NR", nr)?;
    check(LAYOUT, "weights", b, k * n)?;
    check_bias(LAYOUT, bias, n)?;
    let mut out = vec![0.0; gemm_panels_len(k, n, nr)];
    for (p, panel) in out.chunks_exact_mut(nr * (1 + k)).enumerate() {
        let cols = (p * nr..n.min(p * nr + nr)).enumerate();
        for (j, col) in cols {
            panel[j] = bias.map_or(0.0, |b| b[col]);
            for kk in 0..k {
                panel[nr * (1 + kk) + j] = match order {
                    MatrixOrder::KN => b[kk * n + col],
                    MatrixOrder::NK => b[col * k + kk],
                };
            }
        }
    }
    Ok(out)
}

/// The shape of a convolution's weights as packed: ONNX `[O, C/G, KH, KW]` with `G` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvWeights {
    /// Output channels `O`.
    pub out_channels: usize,
    /// Input channels `C` (all groups).
    pub in_channels: usize,
    /// Kernel height `KH`.
    pub kernel_h: usize,
    /// Kernel width `KW`.
    pub kernel_w: usize,
    /// Groups `G`, dividing both `O` and `C`.
    pub groups: usize,
}

impl ConvWeights {
    /// The reduction length of one group's GEMM: `KH · KW · C/G`.
    pub fn k(&self) -> usize {
        self.kernel_h * self.kernel_w * (self.in_channels / self.groups.max(1))
    }

    /// Output channels per group, `O/G`.
    pub fn group_out(&self) -> usize {
        self.out_channels / self.groups.max(1)
    }

    fn validate(&self, layout: &'static str) -> Result<()> {
        for (name, v) in [
            ("O", self.out_channels),
            ("C", self.in_channels),
            ("KH", self.kernel_h),
            ("KW", self.kernel_w),
            ("G", self.groups),
        ] {
            positive(layout, name, v)?;
        }
        if !self.out_channels.is_multiple_of(self.groups) || !self.in_channels.is_multiple_of(self.groups) {
            return Err(PackingError::Shape {
                layout,
                reason: format!(
                    "{} groups do not divide {} → {} channels",
                    self.groups, self.in_channels, self.out_channels
                ),
            });
        }
        Ok(())
    }
}

/// Length of the [convolution panels](conv_panels) of `w`.
pub fn conv_panels_len(w: &ConvWeights, nr: usize) -> usize {
    w.groups * gemm_panels_len(w.k(), w.group_out(), nr)
}

/// **Convolution panels**: a convolution over NHWC activations as one GEMM per group (implicit GEMM).
///
/// Group `g`'s matrix has `K = KH·KW·C/G` rows and `N = O/G` columns: row `k = (ky·KW + kx)·(C/G) + c` (kernel
/// position major, input channel minor: the order in which an NHWC input row is read) and column `o` hold
/// `W[g·O/G + o][c][ky][kx]`; its bias is `bias[g·O/G ..]`. Each group's matrix is stored as [GEMM panels](gemm_panels)
/// and the groups follow each other. A 1×1 convolution's panels are the GEMM panels of `W` read as `[N, K]`.
pub fn conv_panels(weights: &[f32], w: &ConvWeights, bias: Option<&[f32]>, nr: usize) -> Result<Vec<f32>> {
    const LAYOUT: &str = "convolution panels";
    w.validate(LAYOUT)?;
    positive(LAYOUT, "NR", nr)?;
    let cg = w.in_channels / w.groups;
    let taps = w.kernel_h * w.kernel_w;
    check(LAYOUT, "weights", weights, w.out_channels * cg * taps)?;
    check_bias(LAYOUT, bias, w.out_channels)?;
    let (k, og) = (w.k(), w.group_out());
    let mut out = Vec::with_capacity(conv_panels_len(w, nr));
    let mut b = vec![0.0; k * og];
    for g in 0..w.groups {
        for o in 0..og {
            for c in 0..cg {
                for t in 0..taps {
                    b[(t * cg + c) * og + o] = weights[((g * og + o) * cg + c) * taps + t];
                }
            }
        }
        let group_bias = bias.map(|b| &b[g * og..(g + 1) * og]);
        out.extend(gemm_panels(&b, k, og, MatrixOrder::KN, group_bias, nr)?);
    }
    Ok(out)
}

/// Length of the [depthwise blocks](depthwise_blocks) of `channels` channels with `taps` kernel positions.
pub fn depthwise_blocks_len(channels: usize, taps: usize, cb: usize) -> usize {
    channels.div_ceil(cb.max(1)) * cb * (1 + taps)
}

/// **Depthwise blocks**: a depthwise convolution (`G = C = O`, weights `[C, 1, KH, KW]`) in blocks of `CB`
/// channels.
///
/// Block `b` covers channels `b·CB .. b·CB + CB` and is stored as `CB` bias values, then, for each kernel position
/// `t = ky·KW + kx` in order, the `CB` values `W[b·CB + j][0][ky][kx]`. A kernel keeps one block's bias and taps
/// contiguous while it walks the output pixels, reading `CB` input channels of an NHWC pixel per tap.
pub fn depthwise_blocks(
    weights: &[f32],
    channels: usize,
    kernel_h: usize,
    kernel_w: usize,
    bias: Option<&[f32]>,
    cb: usize,
) -> Result<Vec<f32>> {
    const LAYOUT: &str = "depthwise blocks";
    positive(LAYOUT, "CB", cb)?;
    let taps = kernel_h * kernel_w;
    check(LAYOUT, "weights", weights, channels * taps)?;
    check_bias(LAYOUT, bias, channels)?;
    let mut out = vec![0.0; depthwise_blocks_len(channels, taps, cb)];
    for (blk, block) in out.chunks_exact_mut(cb * (1 + taps)).enumerate() {
        for (j, c) in (blk * cb..channels.min(blk * cb + cb)).enumerate() {
            block[j] = bias.map_or(0.0, |b| b[c]);
            for t in 0..taps {
                block[cb * (1 + t) + j] = weights[c * taps + t];
            }
        }
    }
    Ok(out)
}

/// A Winograd minimal-filtering algorithm `F(m×m, 3×3)` (Lavin & Gray, 2016): `m×m` outputs of a 3×3 stride-1
/// convolution from an `α×α` input tile, `α = m + 2`, as `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Winograd {
    /// Output tile size `m`.
    pub m: usize,
    /// Input tile size `α = m + 2`.
    pub alpha: usize,
    /// The filter transform `G` (`α × 3`, row-major).
    pub g: &'static [f64],
    /// The input transform `Bᵀ` (`α × α`, row-major).
    pub bt: &'static [f64],
    /// The output transform `Aᵀ` (`m × α`, row-major).
    pub at: &'static [f64],
}

/// `F(2×2, 3×3)`, interpolation points 0, ±1, ∞: 2.25× fewer multiplications than direct convolution.
pub const WINOGRAD_F2: Winograd = Winograd {
    m: 2,
    alpha: 4,
    g: &[1.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0.0, 0.0, 1.0],
    bt: &[1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 1.0, 0.0, -1.0],
    at: &[1.0, 1.0, 1.0, 0.0, 0.0, 1.0, -1.0, -1.0],
};

/// `F(4×4, 3×3)`, interpolation points 0, ±1, ±2, ∞: 4× fewer multiplications than direct convolution.
pub const WINOGRAD_F4: Winograd = Winograd {
    m: 4,
    alpha: 6,
    #[rustfmt::skip]
    g: &[
        1.0 / 4.0, 0.0, 0.0,
        -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
        -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,
        1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
        1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,
        0.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    bt: &[
        4.0, 0.0, -5.0, 0.0, 1.0, 0.0,
        0.0, -4.0, -4.0, 1.0, 1.0, 0.0,
        0.0, 4.0, -4.0, -1.0, 1.0, 0.0,
        0.0, -2.0, -1.0, 2.0, 1.0, 0.0,
        0.0, 2.0, -1.0, -2.0, 1.0, 0.0,
        0.0, 4.0, 0.0, -5.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    at: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 1.0,
    ],
};

impl Winograd {
    /// `G g Gᵀ` of one 3×3 filter `g` (row-major), in f64, row-major `α × α`.
    pub fn transform_filter(&self, g: &[f32; 9]) -> Vec<f64> {
        let a = self.alpha;
        // t = G g  (α × 3), then u = t Gᵀ (α × α).
        let mut t = vec![0.0; a * 3];
        for i in 0..a {
            for j in 0..3 {
                t[i * 3 + j] = (0..3).map(|k| self.g[i * 3 + k] * g[k * 3 + j] as f64).sum();
            }
        }
        let mut u = vec![0.0; a * a];
        for i in 0..a {
            for j in 0..a {
                u[i * a + j] = (0..3).map(|k| t[i * 3 + k] * self.g[j * 3 + k]).sum();
            }
        }
        u
    }
}

/// Length of the [Winograd panels](winograd_panels) of a `C → O` convolution (bias included).
pub fn winograd_panels_len(wino: &Winograd, in_channels: usize, out_channels: usize, nr: usize) -> usize {
    wino.alpha * wino.alpha * gemm_panels_len(in_channels, out_channels, nr) + out_channels
}

/// **Winograd panels**: a 3×3, stride-1, ungrouped convolution's weights `[O, C, 3, 3]` transformed for
/// `wino` (`F(2×2, 3×3)` or `F(4×4, 3×3)`).
///
/// Each filter `W[o][c]` becomes `U = G · W[o][c] · Gᵀ` (`α × α`, computed in f64, then rounded to f32). For each
/// of the `α²` positions `ξ = i·α + j` in order, the `C × O` matrix `B_ξ[c][o] = U[o][c][i][j]` is stored as
/// [GEMM panels](gemm_panels) with a zero bias block (the bias is added after the output transform), and the
/// `O` bias values (zeros without a bias) follow the last panel set. The runner multiplies each input tile's
/// transform by `B_ξ`, then applies `Aᵀ · A` to the `α×α` products and adds the bias.
pub fn winograd_panels(
    weights: &[f32],
    bias: Option<&[f32]>,
    wino: &Winograd,
    in_channels: usize,
    out_channels: usize,
    nr: usize,
) -> Result<Vec<f32>> {
    const LAYOUT: &str = "Winograd panels";
    positive(LAYOUT, "NR", nr)?;
    positive(LAYOUT, "C", in_channels)?;
    positive(LAYOUT, "O", out_channels)?;
    check(LAYOUT, "weights", weights, out_channels * in_channels * 9)?;
    check_bias(LAYOUT, bias, out_channels)?;
    let aa = wino.alpha * wino.alpha;
    let mut u = vec![0.0f32; aa * in_channels * out_channels];
    for o in 0..out_channels {
        for c in 0..in_channels {
            let base = (o * in_channels + c) * 9;
            let mut g = [0.0; 9];
            g.copy_from_slice(&weights[base..base + 9]);
            for (xi, v) in wino.transform_filter(&g).into_iter().enumerate() {
                u[(xi * in_channels + c) * out_channels + o] = v as f32;
            }
        }
    }
    let mut out = Vec::with_capacity(winograd_panels_len(wino, in_channels, out_channels, nr));
    for b in u.chunks_exact(in_channels * out_channels) {
        out.extend(gemm_panels(b, in_channels, out_channels, MatrixOrder::KN, None, nr)?);
    }
    match bias {
        Some(b) => out.extend_from_slice(b),
        None => out.resize(out.len() + out_channels, 0.0),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_panels_put_bias_first_and_pad_the_last_panel() {
        // B = [[1, 2, 3], [4, 5, 6]] (K = 2, N = 3), NR = 2.
        let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let p = gemm_panels(&b, 2, 3, MatrixOrder::KN, Some(&[10.0, 20.0, 30.0]), 2).unwrap();
        assert_eq!(p, vec![10.0, 20.0, 1.0, 2.0, 4.0, 5.0, 30.0, 0.0, 3.0, 0.0, 6.0, 0.0]);
        let bt = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let q = gemm_panels(&bt, 2, 3, MatrixOrder::NK, None, 2).unwrap();
        assert_eq!(q, vec![0.0, 0.0, 1.0, 2.0, 4.0, 5.0, 0.0, 0.0, 3.0, 0.0, 6.0, 0.0]);
        assert_eq!(q.len(), gemm_panels_len(2, 3, 2));
    }

    #[test]
    fn conv_panels_order_kernel_position_then_channel() {
        // O = 2, C = 4, G = 2 (C/G = 2), 1×2 kernel: W[o][c][0][kx] = 100o + 10c + kx.
        let w = ConvWeights { out_channels: 2, in_channels: 4, kernel_h: 1, kernel_w: 2, groups: 2 };
        let weights: Vec<f32> = (0..2)
            .flat_map(|o| (0..2).flat_map(move |c| (0..2).map(move |kx| (100 * o + 10 * c + kx) as f32)))
            .collect();
        let p = conv_panels(&weights, &w, Some(&[7.0, 8.0]), 1).unwrap();
        // Group 0 (o = 0): bias 7, then k = (kx, c): (0,0) (0,1) (1,0) (1,1).
        // Group 1 (o = 1): bias 8, then the same order over its own filter.
        assert_eq!(p, vec![7.0, 0.0, 10.0, 1.0, 11.0, 8.0, 100.0, 110.0, 101.0, 111.0]);
        assert_eq!(p.len(), conv_panels_len(&w, 1));
    }

    #[test]
    fn depthwise_blocks_hold_bias_then_taps() {
        // C = 3, a 1×2 kernel, CB = 2: W[c][0][0][t] = 10c + t.
        let weights = [0.0, 1.0, 10.0, 11.0, 20.0, 21.0];
        let p = depthwise_blocks(&weights, 3, 1, 2, None, 2).unwrap();
        assert_eq!(p, vec![0.0, 0.0, 0.0, 10.0, 1.0, 11.0, 0.0, 0.0, 20.0, 0.0, 21.0, 0.0]);
        assert_eq!(p.len(), depthwise_blocks_len(3, 2, 2));
    }

    /// `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` must equal the direct correlation of `d` with `g`, for both algorithms.
    #[test]
    fn winograd_matrices_compute_a_correlation() {
        for wino in [WINOGRAD_F2, WINOGRAD_F4] {
            let (a, m) = (wino.alpha, wino.m);
            let g: [f32; 9] = std::array::from_fn(|i| (i as f32 * 0.37).sin());
            let d: Vec<f64> = (0..a * a).map(|i| (i as f64 * 0.71).cos()).collect();
            let u = wino.transform_filter(&g);
            let mul = |x: &[f64], rows: usize, inner: usize, y: &[f64], cols: usize, y_t: bool| -> Vec<f64> {
                let mut r = vec![0.0; rows * cols];
                for i in 0..rows {
                    for j in 0..cols {
                        r[i * cols + j] = (0..inner)
                            .map(|k| x[i * inner + k] * if y_t { y[j * inner + k] } else { y[k * cols + j] })
                            .sum();
                    }
                }
                r
            };
            // V = Bᵀ d B; M = U ⊙ V; Y = Aᵀ M A.
            let v = mul(&mul(wino.bt, a, a, &d, a, false), a, a, wino.bt, a, true);
            let prod: Vec<f64> = u.iter().zip(&v).map(|(u, v)| u * v).collect();
            let y = mul(&mul(wino.at, m, a, &prod, a, false), m, a, wino.at, m, true);
            for i in 0..m {
                for j in 0..m {
                    let direct: f64 = (0..3)
                        .flat_map(|ky| (0..3).map(move |kx| (ky, kx)))
                        .map(|(ky, kx)| d[(i + ky) * a + j + kx] * g[ky * 3 + kx] as f64)
                        .sum();
                    assert!((y[i * m + j] - direct).abs() < 1e-12, "F({m},3) at ({i},{j})");
                }
            }
        }
    }

    #[test]
    fn winograd_panels_are_one_gemm_panel_set_per_position() {
        let weights: Vec<f32> = (0..2 * 3 * 9).map(|i| i as f32).collect();
        let p = winograd_panels(&weights, Some(&[5.0, 6.0]), &WINOGRAD_F2, 3, 2, 8).unwrap();
        assert_eq!(&p[p.len() - 2..], &[5.0, 6.0]);
        assert_eq!(p.len(), winograd_panels_len(&WINOGRAD_F2, 3, 2, 8));
        // ξ = 0 is G's first row twice: U[o][c][0][0] = g[0][0], so B_0[c][o] = W[o][c][0][0].
        let b0 = &p[..8 * 4];
        assert_eq!(&b0[..8], &[0.0; 8]);
        assert_eq!(&b0[8..10], &[0.0, 27.0]);
        assert_eq!(&b0[16..18], &[9.0, 36.0]);
    }

    #[test]
    fn bad_lengths_and_shapes_are_errors() {
        assert!(matches!(
            gemm_panels(&[1.0; 5], 2, 3, MatrixOrder::KN, None, 8),
            Err(PackingError::Length { what: "weights", expected: 6, found: 5, .. })
        ));
        let w = ConvWeights { out_channels: 3, in_channels: 4, kernel_h: 1, kernel_w: 1, groups: 2 };
        assert!(matches!(conv_panels(&[0.0; 6], &w, None, 8), Err(PackingError::Shape { .. })));
        assert!(matches!(depthwise_blocks(&[0.0; 4], 2, 1, 2, Some(&[0.0]), 8), Err(PackingError::Length { .. })));
    }
}
