//! A bundle handed over from JavaScript as (file name, bytes) pairs.
//!
//! JavaScript reads the files (from disk in Node, by `fetch` in a browser, or from a map the application built), so
//! the Rust side never does I/O. Two things keep that cheap: [`needed_files`] tells the wrapper, from the manifest
//! alone, which files a load with a given backend list can touch (a bundle's other descriptors are never read), and
//! [`FileSet`] hands each file's bytes to runner-core by moving them, so a 100 MB weights file is not held twice in
//! the module's linear memory while it is verified and decoded.

use std::cell::RefCell;
use std::collections::HashMap;

use wdnn_runner_core::spec::Manifest;
use wdnn_runner_core::spec::manifest::MANIFEST_FILE;
use wdnn_runner_core::{BundleSource, Result};

/// The files of a bundle that a load may read: the manifest, then the graph and weights of each backend in
/// `backends` (in that order) that the manifest lists. Backends the manifest lacks are left out here; the load
/// reports them as skipped.
pub fn needed_files(manifest: &[u8], backends: &[String]) -> Result<Vec<String>> {
    let manifest = Manifest::from_bytes(manifest, MANIFEST_FILE)?;
    let mut files = vec![MANIFEST_FILE.to_string()];
    for entry in backends.iter().filter_map(|b| manifest.backend(b)) {
        for file in [&entry.graph.file, &entry.weights.file] {
            if !files.contains(file) {
                files.push(file.clone());
            }
        }
    }
    Ok(files)
}

/// Bundle files in memory, each given out once: [`BundleSource::read`] moves the bytes out. runner-core reads every
/// file of a bundle at most once per load (the manifest when opening, a backend's two files when trying it), so a
/// second read of the same name means a bug and reports the file as missing.
pub struct FileSet {
    files: RefCell<HashMap<String, Vec<u8>>>,
}

impl FileSet {
    /// The files, by name. A name given twice keeps its last bytes.
    pub fn new(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> FileSet {
        FileSet { files: RefCell::new(files.into_iter().collect()) }
    }
}

impl BundleSource for FileSet {
    fn read(&self, file: &str) -> std::io::Result<Vec<u8>> {
        self.files.borrow_mut().remove(file).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file among those given to wdnn.load")
        })
    }

    fn describe(&self) -> String {
        "the files given to wdnn.load".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_is_given_out_once() {
        let set = FileSet::new([("a".to_string(), vec![1, 2]), ("b".to_string(), vec![3])]);
        assert_eq!(set.read("a").unwrap(), vec![1, 2]);
        assert_eq!(set.read("a").unwrap_err().kind(), std::io::ErrorKind::NotFound);
        assert_eq!(set.read("b").unwrap(), vec![3]);
        assert!(set.read("c").is_err());
    }

    #[test]
    fn a_damaged_manifest_is_an_error() {
        assert!(needed_files(b"not a manifest", &["fallback".to_string()]).is_err());
    }
}
