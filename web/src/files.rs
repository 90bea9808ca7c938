//! A bundle handed over from JavaScript: the manifest's bytes at once, every other file fetched on demand.
//!
//! JavaScript reads the files (from disk in Node, by streaming `fetch` with per-chunk checks and the Cache API in a
//! browser, or from a map the application built), so the Rust side never does I/O. Two things keep that cheap:
//! [`FileSet`] asks its [`Fetch`] for a backend's files only once runner-core's async load has chosen that backend
//! (its probe passed), so a bundle's other descriptors are never downloaded, and it hands each file's bytes to
//! runner-core by moving them, so a 100 MB weights file is not held twice in the module's linear memory while it is
//! verified and decoded. [`needed_files`] tells a caller, from the manifest alone, which files a load may touch.

use std::collections::HashMap;
use std::sync::Mutex;

use wdnn_runner_core::spec::Manifest;
use wdnn_runner_core::spec::manifest::MANIFEST_FILE;
use wdnn_runner_core::{BundleSource, LocalFuture, Result, RunnerError};

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

/// Where the files a [`FileSet`] was not given come from: JavaScript's download (or map lookup) in the package.
/// Natively a fetcher is `Send + Sync` like every `BundleSource` (a bundle may be shared by threads); in a browser
/// it holds JavaScript functions and need not be.
pub trait Fetch: wdnn_runner_core::MaybeSendSync {
    /// The bytes of each of `files`, in that order.
    fn fetch<'a>(&'a self, files: &'a [String]) -> LocalFuture<'a, std::result::Result<Vec<Vec<u8>>, FetchError>>;
}

/// A file that could not be fetched (a network error, a damaged chunk, a missing entry), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    /// The file.
    pub file: String,
    /// What went wrong, as the fetcher says it (it names the chunk of a damaged weights file).
    pub message: String,
}

/// Bundle files in memory, each given out once: [`BundleSource::read`] moves the bytes out. A file that is not
/// (or no longer) held is asked of the [`Fetch`], if there is one, when runner-core's async load fetches a
/// backend's files; a second backend that shares a weights file gets it fetched again.
pub struct FileSet {
    files: Mutex<HashMap<String, Vec<u8>>>,
    fetch: Option<Box<dyn Fetch>>,
    origin: String,
}

impl FileSet {
    fn held(&self) -> std::io::Result<std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>>> {
        self.files.lock().map_err(|_| std::io::Error::other("the bundle's file set is poisoned"))
    }

    /// The files, by name. A name given twice keeps its last bytes.
    pub fn new(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> FileSet {
        FileSet {
            files: Mutex::new(files.into_iter().collect()),
            fetch: None,
            origin: "the files given to wdnn.load".to_string(),
        }
    }

    /// The files given (at least the manifest), the others fetched by `fetch` from `origin` (named in messages).
    pub fn with_fetch(
        files: impl IntoIterator<Item = (String, Vec<u8>)>,
        fetch: Box<dyn Fetch>,
        origin: impl Into<String>,
    ) -> FileSet {
        FileSet { fetch: Some(fetch), origin: origin.into(), ..FileSet::new(files) }
    }
}

impl BundleSource for FileSet {
    fn read(&self, file: &str) -> std::io::Result<Vec<u8>> {
        self.held()?.remove(file).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file among those given to wdnn.load")
        })
    }

    fn describe(&self) -> String {
        self.origin.clone()
    }

    fn fetch_async<'a>(&'a self, files: &'a [String]) -> LocalFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(fetch) = &self.fetch else { return Ok(()) };
            let missing: Vec<String> = {
                let held = self.held().map_err(|error| RunnerError::Io {
                    file: files.join(", "),
                    source_name: self.describe(),
                    error,
                })?;
                files.iter().filter(|f| !held.contains_key(f.as_str())).cloned().collect()
            };
            if missing.is_empty() {
                return Ok(());
            }
            let io = |file: String, message: String| RunnerError::Io {
                file,
                source_name: self.describe(),
                error: std::io::Error::other(message),
            };
            let bytes = fetch.fetch(&missing).await.map_err(|e| io(e.file, e.message))?;
            if bytes.len() != missing.len() {
                let message = format!("the fetcher gave {} files for {} asked", bytes.len(), missing.len());
                return Err(io(missing.join(", "), message));
            }
            self.held()
                .map_err(|error| RunnerError::Io { file: missing.join(", "), source_name: self.describe(), error })?
                .extend(missing.into_iter().zip(bytes));
            Ok(())
        })
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

    /// Serves `b` (and logs every request); anything else is an error naming the file.
    struct Logged(std::sync::Arc<Mutex<Vec<String>>>);

    impl Fetch for Logged {
        fn fetch<'a>(&'a self, files: &'a [String]) -> LocalFuture<'a, std::result::Result<Vec<Vec<u8>>, FetchError>> {
            self.0.lock().unwrap().extend(files.iter().cloned());
            let answer = files
                .iter()
                .map(|f| match f.as_str() {
                    "b" => Ok(vec![7]),
                    _ => Err(FetchError { file: f.clone(), message: "weight chunk 1 is corrupted".into() }),
                })
                .collect();
            Box::pin(std::future::ready(answer))
        }
    }

    #[test]
    fn files_not_held_are_fetched_once_asked_for_and_again_after_being_read() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let set = FileSet::with_fetch([("a".to_string(), vec![1])], Box::new(Logged(log.clone())), "https://x/");
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        crate::session::block_on(set.fetch_async(&names(&["a", "b"]))).unwrap();
        assert_eq!(*log.lock().unwrap(), ["b"]);
        assert_eq!(set.read("b").unwrap(), vec![7]);
        crate::session::block_on(set.fetch_async(&names(&["b"]))).unwrap();
        assert_eq!(*log.lock().unwrap(), ["b", "b"]);
        let err = crate::session::block_on(set.fetch_async(&names(&["c"]))).unwrap_err().to_string();
        assert!(err.contains("`c`") && err.contains("https://x/") && err.contains("chunk 1"), "{err}");
    }
}
