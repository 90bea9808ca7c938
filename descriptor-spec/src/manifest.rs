//! The bundle manifest (SPEC §3): what the model is, where it came from, its signature, and the backend
//! descriptors the bundle holds.

use serde::{Deserialize, Serialize};

use crate::container::{self, FileKind};
use crate::{DType, DescriptorError, LoadLimits, Result, sha256_hex};

/// File name of the manifest inside a bundle directory.
pub const MANIFEST_FILE: &str = "manifest.wdnn";

/// The bundle manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The model's name.
    pub model_name: String,
    /// Hex SHA-256 of the source ONNX file.
    pub source_sha256: String,
    /// Name and version of the converter that wrote the bundle.
    pub converter: String,
    /// Model inputs, in order.
    pub inputs: Vec<TensorSignature>,
    /// Model outputs, in order.
    pub outputs: Vec<TensorSignature>,
    /// One entry per backend, in the converter's order of preference.
    pub backends: Vec<BackendEntry>,
    /// How to turn an image into the first input, for image models.
    #[serde(default)]
    pub preprocessing: Option<Preprocessing>,
}

/// Name, dtype and static shape of a model input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSignature {
    /// The ONNX name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Static shape.
    pub shape: Vec<u64>,
}

/// A backend's pair of files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendEntry {
    /// Backend name (`fallback`, `wasm`, `webgpu`).
    pub backend: String,
    /// The graph descriptor.
    pub graph: FileRef,
    /// The weights file; backends with identical weights may share one.
    pub weights: FileRef,
    /// The format features beyond version 1.0 that this descriptor needs (SPEC §2.3); a runner refuses an entry
    /// listing one it does not implement, naming it. Left out of the encoding when empty, so that a bundle that
    /// needs nothing new is byte for byte a 1.0 bundle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// The format features this reader implements (SPEC §2.3).
pub const KNOWN_FEATURES: &[&str] = &[PACKED_WEIGHTS];

/// The feature of a descriptor with `Packed` payloads (SPEC §6.2, since 1.1).
pub const PACKED_WEIGHTS: &str = "packed-weights";

impl BackendEntry {
    /// Refuses an entry that needs a feature this reader does not implement (SPEC §2.3), naming it.
    pub fn check_features(&self) -> Result<()> {
        match self.features.iter().find(|f| !KNOWN_FEATURES.contains(&f.as_str())) {
            Some(feature) => Err(DescriptorError::UnsupportedFeature {
                backend: self.backend.clone(),
                feature: feature.clone(),
                known: KNOWN_FEATURES.join(", "),
            }),
            None => Ok(()),
        }
    }
}

/// A file of the bundle, with what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// File name, relative to the bundle directory.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
}

impl FileRef {
    /// Describes `bytes` stored as `file`.
    pub fn describe(file: &str, bytes: &[u8]) -> FileRef {
        FileRef { file: file.to_string(), size: bytes.len() as u64, sha256: sha256_hex(bytes) }
    }

    /// Checks that `bytes` are this file: size first (a truncated download), then the hash (corruption).
    pub fn verify(&self, bytes: &[u8]) -> Result<()> {
        if bytes.len() as u64 != self.size {
            return Err(DescriptorError::Truncated {
                what: self.file.clone(),
                expected: self.size,
                found: bytes.len() as u64,
            });
        }
        let found = sha256_hex(bytes);
        if found != self.sha256 {
            return Err(DescriptorError::ChecksumMismatch {
                what: self.file.clone(),
                part: "the whole file".to_string(),
                expected: self.sha256.clone(),
                found,
            });
        }
        Ok(())
    }
}

/// Image preprocessing for the first input (NCHW, 3 channels, RGB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Resize so the shorter side has this length (bilinear), before the center crop.
    pub resize_short_side: u32,
    /// Center crop to `[height, width]`.
    pub crop: [u32; 2],
    /// Multiply 0..255 values by this first (1/255 gives 0..1).
    pub scale: f32,
    /// Then subtract this per channel.
    pub mean: [f32; 3],
    /// Then divide by this per channel.
    pub std: [f32; 3],
}

impl Preprocessing {
    /// The ImageNet preprocessing of torchvision classifiers.
    pub fn imagenet() -> Preprocessing {
        Preprocessing {
            resize_short_side: 256,
            crop: [224, 224],
            scale: 1.0 / 255.0,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

impl Manifest {
    /// Encodes the manifest as a MANI container.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        // `features` is 1.1: a manifest that lists one is stamped 1.1, every other one stays 1.0 (SPEC §2.3).
        let minor = u16::from(self.backends.iter().any(|e| !e.features.is_empty()));
        container::write(FileKind::Manifest, minor, self, &[])
    }

    /// Decodes a MANI container and checks its file names and sizes against the default [`LoadLimits`]. `what`
    /// names the file in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Manifest> {
        Manifest::from_bytes_with(bytes, what, &LoadLimits::default())
    }

    /// [`Manifest::from_bytes`] within `limits`.
    pub fn from_bytes_with(bytes: &[u8], what: &str, limits: &LoadLimits) -> Result<Manifest> {
        let (manifest, body): (Manifest, _) = container::read(FileKind::Manifest, bytes, what)?;
        if !body.is_empty() {
            let expected = (bytes.len() - body.len()) as u64;
            return Err(container::truncated(what, expected, bytes.len()));
        }
        for entry in &manifest.backends {
            for file in [&entry.graph, &entry.weights] {
                check_file_name(&file.file)?;
                if file.size > limits.max_file_size {
                    return Err(DescriptorError::Limit {
                        what: what.to_string(),
                        field: format!("the size of `{}`", file.file),
                        value: file.size,
                        limit: limits.max_file_size,
                    });
                }
            }
        }
        Ok(manifest)
    }

    /// The entry of `backend`, if the bundle has one.
    pub fn backend(&self, backend: &str) -> Option<&BackendEntry> {
        self.backends.iter().find(|b| b.backend == backend)
    }
}

/// Longest file name a manifest may give.
pub const MAX_FILE_NAME: usize = 255;

/// Checks that `name` is a plain file name inside the bundle (SPEC §3.2): 1 to 255 characters from `A–Z a–z 0–9 . _
/// -`, not starting with `.`, and not a Windows device name. Names are joined to a directory natively and to a URL in
/// browsers, so anything that could leave the bundle (`/`, `\`, `..`, an absolute path, a drive, NUL, `%`, `?`) or
/// open a device (`/dev/zero`, `CON`) is refused, naming the file.
pub fn check_file_name(name: &str) -> Result<()> {
    let bad = |reason: &str| Err(DescriptorError::BadFileName { file: name.to_string(), reason: reason.to_string() });
    if name.is_empty() || name.len() > MAX_FILE_NAME {
        return bad("a name has 1 to 255 characters");
    }
    if name.contains(['/', '\\']) {
        return bad("path separators are not allowed");
    }
    if name.starts_with('.') {
        return bad("a name may not start with `.` (`.`, `..` and hidden files are refused)");
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return bad(&format!("character {c:?} is not allowed (only A-Z, a-z, 0-9, `.`, `_` and `-`)"));
    }
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        return bad("a device name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_file_checks() {
        let m = Manifest {
            model_name: "m".into(),
            source_sha256: sha256_hex(b"onnx"),
            converter: "test".into(),
            inputs: vec![TensorSignature { name: "x".into(), dtype: DType::F32, shape: vec![1, 3] }],
            outputs: vec![],
            backends: vec![BackendEntry {
                backend: "fallback".into(),
                graph: FileRef::describe("g", b"abc"),
                weights: FileRef::describe("w", b"def"),
                features: vec![],
            }],
            preprocessing: Some(Preprocessing::imagenet()),
        };
        let bytes = m.to_bytes().unwrap();
        assert_eq!(Manifest::from_bytes(&bytes, "t").unwrap(), m);
        let entry = m.backend("fallback").unwrap();
        assert!(entry.graph.verify(b"abc").is_ok());
        assert!(matches!(entry.graph.verify(b"ab"), Err(DescriptorError::Truncated { .. })));
        assert!(matches!(entry.graph.verify(b"abd"), Err(DescriptorError::ChecksumMismatch { .. })));
    }

    #[test]
    fn file_names_stay_inside_the_bundle() {
        for ok in ["fallback.graph.wdnn", "webgpu.weights.wdnn", "a", "model-1_f16.wdnn"] {
            assert!(check_file_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(256);
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "..",
            ".",
            "a/b",
            "a\\b",
            "C:x",
            "/dev/zero",
            "x\0",
            "x%2f",
            "x?y",
            "CON",
            "com1.txt",
            "lpt9",
            ".hidden",
            "é",
            &long,
        ] {
            let err = check_file_name(bad).unwrap_err();
            assert!(matches!(&err, DescriptorError::BadFileName { file, .. } if file == bad), "{bad}: {err}");
        }
    }

    #[test]
    fn manifest_with_an_escaping_name_is_refused() {
        let mut m = Manifest {
            model_name: "m".into(),
            source_sha256: sha256_hex(b"onnx"),
            converter: "test".into(),
            inputs: vec![],
            outputs: vec![],
            backends: vec![BackendEntry {
                backend: "fallback".into(),
                graph: FileRef::describe("../../etc/hostname", b"abc"),
                weights: FileRef::describe("w", b"def"),
                features: vec![],
            }],
            preprocessing: None,
        };
        let err = Manifest::from_bytes(&m.to_bytes().unwrap(), "m").unwrap_err();
        assert!(matches!(&err, DescriptorError::BadFileName { file, .. } if file == "../../etc/hostname"), "{err}");
        m.backends[0].graph = FileRef::describe("g", b"abc");
        m.backends[0].weights.size = 1 << 50;
        let err = Manifest::from_bytes(&m.to_bytes().unwrap(), "m").unwrap_err();
        assert!(matches!(&err, DescriptorError::Limit { .. }), "{err}");
    }
}
