//! The WebGPU code generator's knobs, for measurements on a given GPU. They are conversion options (never read
//! from the environment) and the report records them, so one command always writes the same bundle; the defaults
//! are what every bundle uses unless told otherwise.
//!
//! To keep convolutions whole, skip the `split-k` pass (`--skip-pass split-k`) rather than tune it away.

use std::str::FromStr;

use super::gemm::ENOUGH_THREADS;

/// How the WebGPU target sizes its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebGpuTuning {
    /// Invocations a GEMM tile should give before larger tiles are preferred.
    pub tile_threads: u64,
    /// Invocations below which the `split-k` pass splits a convolution along its input channels.
    pub split_threads: u64,
    /// The most values of C one GEMM invocation may hold in registers: 16 (4×4 blocks only), 32 (also 8×4 and
    /// 4×8) or 64 (also 8×8). Larger blocks read workgroup memory less per multiply-add.
    pub reg_tile: u64,
    /// Invocations a GEMM with register blocks larger than 4×4 must still give to be chosen.
    pub wide_threads: u64,
    /// GEMMs load the next K step into registers while they multiply the current one (0 or 1). On by default: on
    /// the H200 it cut the five benchmark models' GEMM time from 8.78 to 7.18 ms (BENCHMARKS.md, the tile sweep).
    pub prefetch: bool,
    /// 3×3 stride-1 convolutions become Winograd F(2×2, 3×3) (the `winograd` pass; 0 or 1).
    pub winograd: bool,
    /// The fewest input and output channels a convolution needs for the `winograd` pass to rewrite it. The transforms
    /// cost in proportion to the channels, the saved multiplications to their product: on the H200 (2026-12-04,
    /// BENCHMARKS.md) convolutions of 64 or 128 channels ran slower as Winograd (VGG-19's 64 → 64 at 224²: 0.377 ms
    /// against 0.179 direct; Inception v1's 64 → 192 at 56²: 0.089 against 0.065), those of 256 and 512 faster
    /// (256 → 256 at 56²: 0.177 against 0.222; 512 → 512 at 28²: 0.155 against 0.333).
    pub winograd_channels: u64,
    /// The smallest output height and width for the `winograd` pass: on small maps the tiles' padding (a tile row
    /// per channel, a column where the width is odd) eats the saving.
    pub winograd_extent: u64,
    /// The fewest MFLOP (2 per multiply-add of the direct convolution) for the `winograd` pass: below it the four
    /// extra dispatches of the rewrite cost about what the saved multiplications gain.
    pub winograd_mflop: u64,
    /// `webgpu-f16` only (the `webgpu` target ignores it and reports 0): GEMM tiles staged in workgroup memory as
    /// f16, and each K step's products summed in f16 (packed f16 multiply-adds where the GPU has them) before they
    /// are added to the f32 accumulators. Half the workgroup-memory traffic and twice the multiply-add rate, for a
    /// sum of 16 (or 8) products rounded in f16; off by default until measured (0 or 1).
    pub f16_tiles: bool,
}

impl Default for WebGpuTuning {
    fn default() -> Self {
        WebGpuTuning {
            tile_threads: ENOUGH_THREADS,
            split_threads: ENOUGH_THREADS,
            reg_tile: 16,
            wide_threads: ENOUGH_THREADS / 4,
            prefetch: true,
            winograd: true,
            winograd_channels: 256,
            winograd_extent: 8,
            winograd_mflop: 500,
            f16_tiles: false,
        }
    }
}

/// The knobs' names, as `FromStr` reads them and the report shows them.
const KNOBS: [&str; 10] = [
    "tile_threads",
    "split_threads",
    "reg_tile",
    "wide_threads",
    "prefetch",
    "winograd",
    "winograd_channels",
    "winograd_extent",
    "winograd_mflop",
    "f16_tiles",
];

impl WebGpuTuning {
    /// Every knob with its value, for the report.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            (KNOBS[0], self.tile_threads.to_string()),
            (KNOBS[1], self.split_threads.to_string()),
            (KNOBS[2], self.reg_tile.to_string()),
            (KNOBS[3], self.wide_threads.to_string()),
            (KNOBS[4], u8::from(self.prefetch).to_string()),
            (KNOBS[5], u8::from(self.winograd).to_string()),
            (KNOBS[6], self.winograd_channels.to_string()),
            (KNOBS[7], self.winograd_extent.to_string()),
            (KNOBS[8], self.winograd_mflop.to_string()),
            (KNOBS[9], u8::from(self.f16_tiles).to_string()),
        ]
    }
}

/// `name=value` pairs, comma separated (`tile_threads=32768,split_threads=0`); knobs not named keep their defaults.
impl FromStr for WebGpuTuning {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut tuning = WebGpuTuning::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}`: expected NAME=VALUE"))?;
            let flag = match name.trim() {
                "prefetch" => Some(&mut tuning.prefetch),
                "winograd" => Some(&mut tuning.winograd),
                "f16_tiles" => Some(&mut tuning.f16_tiles),
                _ => None,
            };
            if let Some(flag) = flag {
                *flag = match value.trim() {
                    "0" => false,
                    "1" => true,
                    other => return Err(format!("{}={other}: expected 0 or 1", name.trim())),
                };
                continue;
            }
            let knob = match name.trim() {
                "tile_threads" => &mut tuning.tile_threads,
                "split_threads" => &mut tuning.split_threads,
                "reg_tile" => &mut tuning.reg_tile,
                "wide_threads" => &mut tuning.wide_threads,
                "winograd_channels" => &mut tuning.winograd_channels,
                "winograd_extent" => &mut tuning.winograd_extent,
                "winograd_mflop" => &mut tuning.winograd_mflop,
                other => {
                    return Err(format!(
                        "unknown webgpu tuning `{other}` (known: {}; to keep convolutions whole, skip the `split-k` \
                         pass)",
                        KNOBS.join(", ")
                    ));
                }
            };
            *knob = value.trim().parse().map_err(|e| format!("`{pair}`: {e}"))?;
        }
        if ![16, 32, 64].contains(&tuning.reg_tile) {
            return Err(format!("reg_tile={}: expected 16, 32 or 64", tuning.reg_tile));
        }
        Ok(tuning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_knobs_and_keeps_the_defaults_of_the_others() {
        let t: WebGpuTuning = "tile_threads=1024".parse().unwrap();
        assert_eq!(t, WebGpuTuning { tile_threads: 1024, ..WebGpuTuning::default() });
        let t: WebGpuTuning = " split_threads = 7 , tile_threads=3".parse().unwrap();
        assert_eq!((t.tile_threads, t.split_threads), (3, 7));
        assert_eq!("".parse::<WebGpuTuning>().unwrap(), WebGpuTuning::default());
        assert!("split_k=off".parse::<WebGpuTuning>().unwrap_err().contains("split-k"));
        assert!("tile_threads".parse::<WebGpuTuning>().unwrap_err().contains("NAME=VALUE"));
        assert!("tile_threads=-1".parse::<WebGpuTuning>().is_err());
        assert_eq!("reg_tile=64,wide_threads=9".parse::<WebGpuTuning>().unwrap().reg_tile, 64);
        assert!("reg_tile=48".parse::<WebGpuTuning>().unwrap_err().contains("16, 32 or 64"));
        assert!("prefetch=1".parse::<WebGpuTuning>().unwrap().prefetch);
        assert!("prefetch=yes".parse::<WebGpuTuning>().is_err());
        let t: WebGpuTuning = "winograd=0,winograd_channels=64".parse().unwrap();
        assert_eq!((t.winograd, t.winograd_channels), (false, 64));
        assert!("winograd=2".parse::<WebGpuTuning>().unwrap_err().contains("winograd=2"));
        assert!("f16_tiles=1".parse::<WebGpuTuning>().unwrap().f16_tiles);
        assert!("f16_tiles=2".parse::<WebGpuTuning>().unwrap_err().contains("f16_tiles=2"));
        assert_eq!(WebGpuTuning::default().settings()[0], ("tile_threads", "67584".to_string()));
    }
}
