// Tiled GEMM: C[z][m][n] = sum over k of A(z, m, k) * B(z, k, n), then the epilogue in store_c.
// A workgroup computes a BM x BN tile of C with SPLIT groups of WM x WN invocations; each invocation holds $BLOCK
// block of C in registers. Every step stages a BKT = BK * SPLIT deep slice of A and B in workgroup memory (rows
// padded by one vec4 against bank conflicts); group g accumulates the g-th BK rows of it, and at the end the groups'
// partial sums are added in workgroup memory (split-K inside the workgroup: more invocations per tile for the small
// matrices of batch-1 inference). The loops over the staging slots and over BK are unrolled by the generator.
// load_a, load_b and store_c are generated per kernel (operand layouts, bounds, bias
// and epilogue), as are the constants.
const BM: u32 = $BMu;
const BN: u32 = $BNu;
const BK: u32 = $BKu;
const SPLIT: u32 = $SPLITu;
const BKT: u32 = BK * SPLIT;
const WN: u32 = $WNu;
const TT: u32 = $TTu;
const NT: u32 = $NTu;
const KT: u32 = $Ku;
const AV: u32 = BM / 4u + 1u;
const BV: u32 = BN / 4u + 1u;
const BOFF: u32 = BKT * AV;

var<workgroup> sm: array<vec4<$SME>, $SMV>;

@compute @workgroup_size($NT, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let z = wid.z;
    let ks = li / TT;
    let t = li % TT;
    let tm = t / WN;
    let tn = t % WN;
$DECL$MAIN    if (SPLIT > 1u) {
        if (ks > 0u) {
            let o = ((ks - 1u) * TT + t) * $NAu;
$PARK        }
        workgroupBarrier();
        if (ks == 0u) {
            for (var q = 1u; q < SPLIT; q++) {
                let o = ((q - 1u) * TT + t) * $NAu;
$GATHER            }
        }
    }
    if (ks == 0u) {
$STORE    }
}
