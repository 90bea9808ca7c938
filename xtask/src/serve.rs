//! A small static file server for the demo and the browser tests: URL prefixes mapped to directories, with the
//! COOP/COEP headers that make a page cross-origin isolated (SharedArrayBuffer, so the threaded wasm build can be
//! used) and the MIME types a browser insists on (`application/wasm` for streaming compilation, JavaScript for
//! modules). Bound to 127.0.0.1 only; one thread per connection; GET and HEAD.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

/// What the server serves: `(prefix, directory)` pairs, longest prefix first.
#[derive(Clone)]
pub struct Site {
    mounts: Arc<Vec<(String, PathBuf)>>,
    /// Whether responses carry COOP/COEP (`--no-isolation` serves without them, to check the single-thread path).
    isolated: bool,
}

impl Site {
    /// A site from `(url prefix, directory)` pairs, e.g. `("/wdnn/", target/web/wdnn)`.
    pub fn new(mounts: Vec<(String, PathBuf)>, isolated: bool) -> Site {
        let mut mounts = mounts;
        mounts.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Site { mounts: Arc::new(mounts), isolated }
    }

    /// Starts serving on 127.0.0.1:`port` (0: any free port) in background threads; returns the address.
    pub fn start(&self, port: u16) -> Result<SocketAddr> {
        let listener = TcpListener::bind(("127.0.0.1", port)).with_context(|| format!("binding 127.0.0.1:{port}"))?;
        let addr = listener.local_addr()?;
        let site = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let site = site.clone();
                std::thread::spawn(move || {
                    let _ = site.answer(stream);
                });
            }
        });
        Ok(addr)
    }

    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let (prefix, dir) = self.mounts.iter().find(|(prefix, _)| path.starts_with(prefix.as_str()))?;
        let rest = Path::new(&path[prefix.len()..]);
        if rest.components().any(|c| !matches!(c, Component::Normal(_))) {
            return None;
        }
        let file = dir.join(rest);
        if file.is_dir() { Some(file.join("index.html")) } else { Some(file) }
    }

    fn answer(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        loop {
            let mut request = String::new();
            if reader.read_line(&mut request)? == 0 {
                return Ok(());
            }
            // Headers are read and ignored (no ranges, no conditional requests: every answer is whole and fresh).
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                    break;
                }
            }
            let mut parts = request.split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
            let path = percent_decode(target.split(['?', '#']).next().unwrap_or("/"));
            let mut out = &stream;
            if path == "/" {
                write_head(&mut out, "302 Found", "text/plain", 0, self.isolated, Some("/demo/"))?;
                continue;
            }
            let body = match (method, self.resolve(&path)) {
                ("GET" | "HEAD", Some(file)) => std::fs::read(&file).ok().map(|b| (b, content_type(&file))),
                _ => None,
            };
            match body {
                Some((bytes, kind)) => {
                    write_head(&mut out, "200 OK", kind, bytes.len(), self.isolated, None)?;
                    if method == "GET" {
                        out.write_all(&bytes)?;
                    }
                }
                None => {
                    let msg = format!("not found: {path}\n");
                    write_head(&mut out, "404 Not Found", "text/plain", msg.len(), self.isolated, None)?;
                    out.write_all(msg.as_bytes())?;
                }
            }
            out.flush()?;
        }
    }
}

fn write_head(
    out: &mut impl Write,
    status: &str,
    kind: &str,
    len: usize,
    isolated: bool,
    location: Option<&str>,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len}\r\nCache-Control: no-cache\r\n\
         Cross-Origin-Resource-Policy: same-origin\r\n"
    );
    if isolated {
        head.push_str("Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\n");
    }
    if let Some(to) = location {
        head.push_str(&format!("Location: {to}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `%XX` escapes decoded (file names here are ASCII; anything undecodable is kept as written).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_mounts_and_never_leave_them() {
        let site = Site::new(vec![("/a/".into(), PathBuf::from("/x")), ("/a/b/".into(), PathBuf::from("/y"))], true);
        assert_eq!(site.resolve("/a/b/c.txt"), Some(PathBuf::from("/y/c.txt")));
        assert_eq!(site.resolve("/a/c.txt"), Some(PathBuf::from("/x/c.txt")));
        assert_eq!(site.resolve("/a/../etc/passwd"), None);
        assert_eq!(site.resolve("/z"), None);
        assert_eq!(percent_decode("/a%20b%2"), "/a b%2");
    }
}
