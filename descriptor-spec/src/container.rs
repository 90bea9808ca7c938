//! The container every bundle file uses (SPEC §2): a fixed 56-byte header, a MessagePack *head* and an optional
//! *body*.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "WDNN"
//!      4     4  file kind: "MANI" (manifest), "GRPH" (graph descriptor), "WGHT" (weights)
//!      8     2  major version, u16 little-endian
//!     10     2  minor version, u16 little-endian
//!     12     4  flags, u32 little-endian, 0 in version 1
//!     16     8  head length H, u64 little-endian
//!     24    32  SHA-256 of the head
//!     56     H  head: MessagePack, structs encoded as maps with field names
//!   56+H     …  body: empty for MANI and GRPH; for WGHT the compressed weight chunks
//! ```
//!
//! Reading checks, in this order: magic, major version, length, head checksum. The body is checked by its owner
//! (the weights file checks each chunk), so that weights can be streamed.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{DescriptorError, FORMAT_MAJOR, Result};

/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 56;

/// The three kinds of file in a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The bundle manifest.
    Manifest,
    /// A backend's graph descriptor.
    Graph,
    /// A weights file.
    Weights,
}

impl FileKind {
    fn tag(self) -> &'static [u8; 4] {
        match self {
            FileKind::Manifest => b"MANI",
            FileKind::Graph => b"GRPH",
            FileKind::Weights => b"WGHT",
        }
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Manifest => "manifest",
            FileKind::Graph => "graph descriptor",
            FileKind::Weights => "weights",
        })
    }
}

/// The parsed fixed header of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Major version in the file.
    pub major: u16,
    /// Minor version in the file.
    pub minor: u16,
    /// Length of the MessagePack head.
    pub head_len: u64,
}

/// Encodes `head` with field names and frames it as a container of `kind`, version `FORMAT_MAJOR.minor`, followed
/// by `body`. Writers stamp the oldest minor version whose features the file uses (SPEC §2.3), so that readers of
/// that version still read it.
pub fn write<T: Serialize>(kind: FileKind, minor: u16, head: &T, body: &[u8]) -> Result<Vec<u8>> {
    let head = rmp_serde::to_vec_named(head)
        .map_err(|e| DescriptorError::Encode { part: kind.to_string(), detail: e.to_string() })?;
    let mut out = Vec::with_capacity(HEADER_LEN + head.len() + body.len());
    out.extend_from_slice(b"WDNN");
    out.extend_from_slice(kind.tag());
    out.extend_from_slice(&FORMAT_MAJOR.to_le_bytes());
    out.extend_from_slice(&minor.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    out.extend_from_slice(&sha256_raw(&head));
    out.extend_from_slice(&head);
    out.extend_from_slice(body);
    Ok(out)
}

/// Checks magic and version and parses the fixed header. `what` names the file in errors.
pub fn read_header(kind: FileKind, bytes: &[u8], what: &str) -> Result<Header> {
    let magic_ok = bytes.len() >= 8 && &bytes[0..4] == b"WDNN" && &bytes[4..8] == kind.tag();
    if !magic_ok {
        let shown = &bytes[..bytes.len().min(8)];
        return Err(DescriptorError::BadMagic {
            what: what.to_string(),
            expected: kind,
            found: String::from_utf8_lossy(shown).into_owned(),
        });
    }
    if bytes.len() < 12 {
        return Err(truncated(what, HEADER_LEN as u64, bytes.len()));
    }
    let major = u16::from_le_bytes([bytes[8], bytes[9]]);
    let minor = u16::from_le_bytes([bytes[10], bytes[11]]);
    if major != FORMAT_MAJOR {
        return Err(DescriptorError::UnsupportedVersion {
            what: what.to_string(),
            found_major: major,
            found_minor: minor,
            supported_major: FORMAT_MAJOR,
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated(what, HEADER_LEN as u64, bytes.len()));
    }
    let head_len = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    Ok(Header { major, minor, head_len })
}

/// Reads a whole container: checks the header, the head checksum, and decodes the head. Returns the head and the
/// body. When `exact_body_len` is given, the body must have exactly that length.
pub fn read<'a, T: DeserializeOwned>(kind: FileKind, bytes: &'a [u8], what: &str) -> Result<(T, &'a [u8])> {
    let header = read_header(kind, bytes, what)?;
    let head_end = (HEADER_LEN as u64).saturating_add(header.head_len);
    if (bytes.len() as u64) < head_end {
        return Err(truncated(what, head_end, bytes.len()));
    }
    let head_end = head_end as usize;
    let head = &bytes[HEADER_LEN..head_end];
    let expected = &bytes[24..56];
    let found = sha256_raw(head);
    if expected != found.as_slice() {
        return Err(DescriptorError::ChecksumMismatch {
            what: what.to_string(),
            part: "head".to_string(),
            expected: hex(expected),
            found: hex(&found),
        });
    }
    let value = decode_head(head, what, &kind.to_string())?;
    Ok((value, &bytes[head_end..]))
}

/// Decodes a MessagePack head into `T`, mapping decoder errors to [`DescriptorError::Malformed`].
pub fn decode_head<T: DeserializeOwned>(head: &[u8], what: &str, part: &str) -> Result<T> {
    rmp_serde::from_slice(head).map_err(|e| DescriptorError::Malformed {
        what: what.to_string(),
        part: part.to_string(),
        detail: e.to_string(),
    })
}

pub(crate) fn truncated(what: &str, expected: u64, found: usize) -> DescriptorError {
    DescriptorError::Truncated { what: what.to_string(), expected, found: found as u64 }
}

pub(crate) fn sha256_raw(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Probe {
        name: String,
        values: Vec<u32>,
    }

    fn probe() -> Probe {
        Probe { name: "x".into(), values: vec![1, 2, 3] }
    }

    #[test]
    fn round_trip() {
        let bytes = write(FileKind::Graph, 0, &probe(), b"body").unwrap();
        let (back, body): (Probe, _) = read(FileKind::Graph, &bytes, "t").unwrap();
        assert_eq!(back, probe());
        assert_eq!(body, b"body");
    }

    #[test]
    fn wrong_magic_and_wrong_kind() {
        let mut bytes = write(FileKind::Graph, 0, &probe(), &[]).unwrap();
        let err = read::<Probe>(FileKind::Manifest, &bytes, "t").unwrap_err();
        assert!(matches!(err, DescriptorError::BadMagic { expected: FileKind::Manifest, .. }), "{err}");
        bytes[0] = b'X';
        let err = read::<Probe>(FileKind::Graph, &bytes, "t").unwrap_err();
        assert!(matches!(err, DescriptorError::BadMagic { .. }), "{err}");
    }

    #[test]
    fn future_major_names_both_versions() {
        let mut bytes = write(FileKind::Graph, 0, &probe(), &[]).unwrap();
        bytes[8..10].copy_from_slice(&7u16.to_le_bytes());
        let err = read::<Probe>(FileKind::Graph, &bytes, "model.graph").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, DescriptorError::UnsupportedVersion { found_major: 7, .. }));
        assert!(text.contains("7.0") && text.contains("1.x"), "{text}");
    }

    #[test]
    fn newer_minor_is_accepted() {
        let mut bytes = write(FileKind::Graph, 0, &probe(), &[]).unwrap();
        bytes[10..12].copy_from_slice(&9u16.to_le_bytes());
        assert!(read::<Probe>(FileKind::Graph, &bytes, "t").is_ok());
    }

    #[test]
    fn truncation_and_corruption_are_detected() {
        let bytes = write(FileKind::Graph, 0, &probe(), &[]).unwrap();
        for cut in [3, 20, HEADER_LEN, bytes.len() - 1] {
            let err = read::<Probe>(FileKind::Graph, &bytes[..cut], "t").unwrap_err();
            assert!(
                matches!(err, DescriptorError::Truncated { .. } | DescriptorError::BadMagic { .. }),
                "cut at {cut}: {err}"
            );
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        let err = read::<Probe>(FileKind::Graph, &flipped, "t").unwrap_err();
        assert!(matches!(err, DescriptorError::ChecksumMismatch { .. }), "{err}");
    }
}
