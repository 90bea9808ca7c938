//! Turning a photo into a model input, and class scores into the top classes.

use std::path::Path;

use anyhow::{Context, Result, bail};
use image::imageops::FilterType;
use wdnn_runner_core::Tensor;
use wdnn_runner_core::spec::Preprocessing;

/// Decodes `path` and applies `pre`: RGB, short side resized (bilinear), center crop, scale, mean/std, NCHW.
pub fn load(path: &Path, pre: &Preprocessing) -> Result<Tensor> {
    let img = image::open(path).with_context(|| format!("decoding image {}", path.display()))?.to_rgb8();
    let (w, h) = img.dimensions();
    let short = w.min(h) as f64;
    let scale = pre.resize_short_side as f64 / short;
    let (nw, nh) = ((w as f64 * scale).round() as u32, (h as f64 * scale).round() as u32);
    let resized = image::imageops::resize(&img, nw, nh, FilterType::Triangle);
    let [ch, cw] = pre.crop;
    if cw > nw || ch > nh {
        bail!("{}: the resized image ({nw}×{nh}) is smaller than the crop ({cw}×{ch})", path.display());
    }
    let (left, top) = ((nw - cw) / 2, (nh - ch) / 2);
    let plane = (ch * cw) as usize;
    let mut values = vec![0f32; 3 * plane];
    for y in 0..ch {
        for x in 0..cw {
            let p = resized.get_pixel(left + x, top + y);
            for c in 0..3 {
                let v = p[c] as f32 * pre.scale;
                values[c * plane + (y * cw + x) as usize] = (v - pre.mean[c]) / pre.std[c];
            }
        }
    }
    Ok(Tensor::new(&[1, 3, ch as u64, cw as u64], &values)?)
}

/// Class names from a JSON list (`["tench", …]`) or an object of index → comma-separated names.
pub fn labels(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    match json {
        serde_json::Value::Array(items) => Ok(items.iter().map(|v| v.as_str().unwrap_or("?").to_string()).collect()),
        serde_json::Value::Object(map) => {
            let mut pairs: Vec<(usize, String)> = map
                .iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.split(',').next()?.trim().to_string())))
                .collect();
            pairs.sort();
            Ok(pairs.into_iter().map(|(_, name)| name).collect())
        }
        _ => bail!("{}: expected a JSON list or object of class names", path.display()),
    }
}

/// The `k` best classes as (index, probability); logits are turned into probabilities with a softmax unless they
/// already sum to one.
pub fn top_k(scores: &[f32], k: usize) -> Vec<(usize, f32)> {
    let sum: f32 = scores.iter().sum();
    let is_probability = scores.iter().all(|v| *v >= 0.0) && (sum - 1.0).abs() < 1e-3;
    let probs: Vec<f32> = if is_probability {
        scores.to_vec()
    } else {
        let max = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = scores.iter().map(|v| (v - max).exp()).collect();
        let total: f32 = exp.iter().sum();
        exp.iter().map(|e| e / total).collect()
    };
    let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(k);
    ranked
}
