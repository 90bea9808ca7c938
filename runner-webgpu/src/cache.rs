//! The pipeline cache, natively: what the driver compiled for a model's pipelines, kept in a file between processes
//! (wgpu's `PipelineCache`; Vulkan's `VkPipelineCache`), the way a browser keeps compiled shaders. A load with the
//! file gives its data to the driver, which then skips compiling the pipelines it already has.
//!
//! One file per adapter class and set of pipelines, under the directory [`crate::WebGpuOptions::pipeline_cache`]
//! names: `<wgpu's key for the adapter>-<hash>.bin`, where the hash covers the adapter's name and driver, whether
//! shaders are trusted, and every distinct pipeline's shader, entry point and access signature. The file is written
//! when the load did not start from complete data (a first load, or a file that was ignored), atomically (a
//! temporary file renamed over it), so that two processes loading at once each leave a whole file.
//!
//! A file is this module's header (magic, SHA-256 of the data) followed by what `PipelineCache::get_data` returned.
//! A file that does not check out (truncated, altered, another format) is ignored with a warning and replaced: the
//! load compiles as if there were none, and never fails or computes differently because of a cache file. wgpu
//! checks the data's own header too (the driver's cache UUID, the adapter), and starts empty where it does not match
//! (a driver update).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wdnn_descriptor_spec::Graph;

use crate::pipelines::PipelineKey;

/// The first bytes of a cache file.
const MAGIC: &[u8; 8] = b"WDNNPC01";
/// Magic and the data's SHA-256.
const HEADER: usize = 8 + 32;

/// How a load used the pipeline cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PipelineCacheState {
    /// No cache directory was given (or this is a browser, which caches by itself).
    #[default]
    Off,
    /// The adapter or its backend offers no pipeline cache (wgpu supports it on Vulkan).
    Unsupported,
    /// No file for this model and adapter yet: every pipeline compiled, and the file written.
    Cold,
    /// The pipelines were created from the file's data.
    Warm,
    /// A file was there but did not check out: ignored (with a warning), compiled cold, and the file replaced.
    Rejected,
    /// The file checked out but wgpu found its data stale (another driver version) and started empty: compiled
    /// cold, and the file replaced.
    Stale,
}

/// A model's cache file, read before its pipelines are created.
pub(crate) struct CacheFile {
    pub path: PathBuf,
    /// The file's data, where it checked out.
    pub data: Option<Vec<u8>>,
    pub state: PipelineCacheState,
    /// Why a file was ignored.
    pub warning: Option<String>,
}

/// The file name for `keys` on this adapter, or `None` where wgpu has no pipeline cache for the adapter's backend.
pub(crate) fn file_name(
    info: &wgpu::AdapterInfo,
    trusted: bool,
    graph: &Graph,
    keys: &[PipelineKey],
) -> Option<String> {
    let class = wgpu::util::pipeline_cache_key(info)?;
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"wdnn webgpu pipelines 1");
    field(info.name.as_bytes());
    field(format!("{:?} {} {}", info.backend, info.vendor, info.device).as_bytes());
    field(info.driver.as_bytes());
    field(info.driver_info.as_bytes());
    field(&[trusted as u8]);
    for (shader, entry, signature) in keys {
        field(graph.shaders.get(*shader as usize).map_or(&[][..], |s| s.as_bytes()));
        field(entry.as_bytes());
        field(&signature.iter().map(|&w| w as u8).collect::<Vec<u8>>());
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Some(format!("{class}-{hex}.bin"))
}

/// Reads the cache file at `path`: its data when it checks out, otherwise a state and a warning.
pub(crate) fn read(path: &Path) -> CacheFile {
    let done = |data, state, warning| CacheFile { path: path.to_path_buf(), data, state, warning };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return done(None, PipelineCacheState::Cold, None),
        Err(e) => {
            let warning = format!("pipeline cache {} cannot be read ({e}); compiling without it", path.display());
            return done(None, PipelineCacheState::Rejected, Some(warning));
        }
    };
    match check(&bytes) {
        Ok(()) => done(Some(bytes[HEADER..].to_vec()), PipelineCacheState::Warm, None),
        Err(why) => {
            let warning = format!("pipeline cache {} is ignored: {why}; compiling without it", path.display());
            done(None, PipelineCacheState::Rejected, Some(warning))
        }
    }
}

/// Whether `bytes` are a whole cache file.
fn check(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err("not a wdnn pipeline cache file".into());
    }
    if Sha256::digest(&bytes[HEADER..])[..] != bytes[8..HEADER] {
        return Err("its checksum does not match (truncated or altered)".into());
    }
    Ok(())
}

/// Writes `data` as the cache file at `path`, through a temporary file renamed over it.
pub(crate) fn write(path: &Path, data: &[u8]) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("writing pipeline cache {} failed: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut bytes = Vec::with_capacity(HEADER + data.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&Sha256::digest(data));
    bytes.extend_from_slice(data);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wdnn-pc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_written_file_reads_back_and_damage_is_refused() {
        let dir = scratch("roundtrip");
        let path = dir.join("x.bin");
        assert_eq!(read(&path).state, PipelineCacheState::Cold);
        write(&path, b"driver data").unwrap();
        let back = read(&path);
        assert_eq!(back.state, PipelineCacheState::Warm);
        assert_eq!(back.data.as_deref(), Some(&b"driver data"[..]));
        assert!(back.warning.is_none());

        let whole = std::fs::read(&path).unwrap();
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        for (what, bytes) in [
            ("truncated", whole[..whole.len() - 3].to_vec()),
            ("flipped", flipped),
            ("short", b"WDNN".to_vec()),
            ("foreign", vec![0u8; 100]),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            let r = read(&path);
            assert_eq!(r.state, PipelineCacheState::Rejected, "{what}");
            assert!(r.data.is_none(), "{what}");
            assert!(r.warning.as_deref().is_some_and(|w| w.contains("ignored")), "{what}: {:?}", r.warning);
        }
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_name_follows_the_adapter_and_the_shaders() {
        let info = wgpu::AdapterInfo {
            name: "gpu".into(),
            vendor: 1,
            device: 2,
            device_type: wgpu::DeviceType::DiscreteGpu,
            device_pci_bus_id: String::new(),
            driver: "d".into(),
            driver_info: "1.0".into(),
            backend: wgpu::Backend::Vulkan,
            subgroup_min_size: 32,
            subgroup_max_size: 32,
            transient_saves_memory: None,
            limit_bucket: None,
        };
        let mut graph = Graph {
            name: "g".into(),
            backend: "webgpu".into(),
            tensors: vec![],
            inputs: vec![],
            outputs: vec![],
            kernels: vec![],
            arena_size: 0,
            alignment: 256,
            shaders: vec!["a".into()],
        };
        let keys = vec![(0u32, "main".to_string(), vec![true, false])];
        let name = file_name(&info, false, &graph, &keys).unwrap();
        assert!(name.starts_with(&wgpu::util::pipeline_cache_key(&info).unwrap()), "{name}");
        assert_eq!(file_name(&info, false, &graph, &keys), Some(name.clone()), "deterministic");
        assert_ne!(file_name(&info, true, &graph, &keys).unwrap(), name, "trusted shaders compile differently");
        let newer = wgpu::AdapterInfo { driver_info: "1.1".into(), ..info.clone() };
        assert_ne!(file_name(&newer, false, &graph, &keys).unwrap(), name, "another driver");
        graph.shaders[0] = "b".into();
        assert_ne!(file_name(&info, false, &graph, &keys).unwrap(), name, "another shader");
        let gl = wgpu::AdapterInfo { backend: wgpu::Backend::Gl, ..info };
        assert_eq!(file_name(&gl, false, &graph, &keys), None, "no cache on GL");
    }
}
