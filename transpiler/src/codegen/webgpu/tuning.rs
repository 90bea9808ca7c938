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
}

impl Default for WebGpuTuning {
    fn default() -> Self {
        WebGpuTuning { tile_threads: ENOUGH_THREADS, split_threads: ENOUGH_THREADS }
    }
}

/// The knobs' names, as `FromStr` reads them and the report shows them.
const KNOBS: [&str; 2] = ["tile_threads", "split_threads"];

impl WebGpuTuning {
    /// Every knob with its value, for the report.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![(KNOBS[0], self.tile_threads.to_string()), (KNOBS[1], self.split_threads.to_string())]
    }
}

/// `name=value` pairs, comma separated (`tile_threads=32768,split_threads=0`); knobs not named keep their defaults.
impl FromStr for WebGpuTuning {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut tuning = WebGpuTuning::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}`: expected NAME=VALUE"))?;
            let knob = match name.trim() {
                "tile_threads" => &mut tuning.tile_threads,
                "split_threads" => &mut tuning.split_threads,
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
        assert_eq!(WebGpuTuning::default().settings()[0], ("tile_threads", "67584".to_string()));
    }
}
