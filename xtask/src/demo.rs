//! `cargo xtask demo`: the demo page (web/demo/) served with the package, the bundled models and the photos; and
//! `cargo xtask browser-test`: the same site driven by headless Chromium through playwright-core
//! (web/test/browser.test.mjs), one check per point of the browser issue.
//!
//! The site, by URL prefix:
//!
//! | prefix | what |
//! |---|---|
//! | `/demo/` | `web/demo/` (the page) |
//! | `/wdnn/` | the npm package (`cargo xtask web`) |
//! | `/models/` | bundles with every backend's descriptor: `mobilenetv2`, `multistyle26`, and `mobilenetv2-damaged` (one flipped byte) |
//! | `/images/`, `/labels/`, `/fixtures/` | the fixture photos, ImageNet labels, fixtures (inputs of the exactness checks) |
//! | `/expected/` | the native fallback backend's outputs the page must match |
//! | `/ort/`, `/onnx/` | onnxruntime-web's files and the ONNX models, for the side-by-side benchmark |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use clap::Args;
use wdnn_runner_core::{Backend, Bundle, Tensor};
use wdnn_transpiler::ConvertOptions;

use crate::serve::Site;
use crate::web::target_dir;
use crate::{npy, repo_root};

/// Serve the demo page.
#[derive(Args)]
pub struct DemoArgs {
    /// The port on 127.0.0.1.
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Serve without the COOP/COEP headers (the page is then not cross-origin isolated: single-threaded wasm).
    #[arg(long)]
    pub no_isolation: bool,
    /// Use the package already in TARGET/web/wdnn instead of bringing it up to date.
    #[arg(long)]
    pub no_build: bool,
}

/// The style network's checked styles (one-hot inputs committed in fixtures/expected/multistyle26).
pub const STYLES: [usize; 3] = [0, 9, 21];

/// Everything the site serves, prepared.
pub struct Prepared {
    pub package: PathBuf,
    pub models: PathBuf,
    pub expected: PathBuf,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Converts `onnx` into `out` with every backend's descriptor, unless `out` is newer than both the model and this
/// xtask binary (a changed converter converts again).
fn convert_if_stale(onnx: &Path, out: &Path, options: ConvertOptions) -> Result<()> {
    let manifest = out.join(wdnn_runner_core::spec::manifest::MANIFEST_FILE);
    let exe = std::env::current_exe().ok().and_then(|e| modified(&e));
    if let Some(made) = modified(&manifest)
        && modified(onnx).is_some_and(|m| m <= made)
        && exe.is_none_or(|e| e <= made)
    {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(out);
    let options = ConvertOptions {
        backends: wdnn_transpiler::codegen::BACKENDS.iter().map(|b| b.to_string()).collect(),
        skip_unsupported_backends: true,
        ..options
    };
    println!("demo: converting {} -> {}", onnx.display(), out.display());
    wdnn_transpiler::convert(onnx, out, &options, |_| {}).with_context(|| format!("converting {}", onnx.display()))?;
    Ok(())
}

/// A copy of `bundle` in `out` with one byte flipped in the middle of the body of `backend`'s weights file.
fn damaged_copy(bundle: &Path, out: &Path, backend: &str) -> Result<String> {
    std::fs::create_dir_all(out)?;
    let manifest = Bundle::open(bundle)?.manifest;
    let weights = manifest.backend(backend).context("the bundle lacks the backend to damage")?.weights.file.clone();
    for entry in std::fs::read_dir(bundle)? {
        let entry = entry?;
        let mut bytes = std::fs::read(entry.path())?;
        if entry.file_name().to_string_lossy() == weights {
            let at = bytes.len() * 2 / 3;
            bytes[at] ^= 0x10;
        }
        std::fs::write(out.join(entry.file_name()), bytes)?;
    }
    Ok(weights)
}

/// Builds the package, converts the models, writes the damaged bundle and the native reference outputs.
pub fn prepare(no_build: bool) -> Result<Prepared> {
    let root = repo_root();
    let package = if no_build && crate::web::default_package_dir().join("index.mjs").exists() {
        crate::web::default_package_dir()
    } else {
        crate::node::package()?
    };
    let demo = target_dir().join("demo");
    let models = demo.join("models");
    let fixtures = root.join("fixtures");
    let mobilenet = models.join("mobilenetv2");
    let options = ConvertOptions {
        preprocessing: Some(wdnn_runner_core::spec::Preprocessing::imagenet()),
        ..ConvertOptions::default()
    };
    convert_if_stale(&fixtures.join("models/mobilenetv2-imagenet.onnx"), &mobilenet, options)?;
    let style = models.join("multistyle26");
    let options = ConvertOptions {
        input_shapes: vec![("image".into(), vec![1, 3, 256, 256]), ("style_weights".into(), vec![26])],
        ..ConvertOptions::default()
    };
    convert_if_stale(&fixtures.join("models/multistyle26.onnx"), &style, options)?;
    damaged_copy(&mobilenet, &models.join("mobilenetv2-damaged"), "fallback")?;

    // The native fallback backend's stylized outputs: what the page must reproduce on every backend.
    let expected = demo.join("expected");
    std::fs::create_dir_all(&expected)?;
    let bundle = Bundle::open(&style)?;
    let reference: &dyn Backend = &wdnn_runner_fallback::FallbackBackend;
    let mut session = wdnn_runner_core::load(&bundle, &[reference], |_, _| {})?;
    let cases = fixtures.join("expected/multistyle26");
    let image = npy::read(&cases.join("content.input.npy"))?;
    for s in STYLES {
        let out = expected.join(format!("style{s}.fallback.npy"));
        if out.exists() && modified(&out) >= modified(&bundle_manifest(&style)) {
            continue;
        }
        let weights = npy::read(&cases.join(format!("style{s}.style_weights.npy")))?;
        let outputs = session.run(&[("image", image.clone()), ("style_weights", weights)])?;
        let stylized: &Tensor = &outputs[0].1;
        npy::write(stylized, &out)?;
    }
    Ok(Prepared { package, models, expected })
}

fn bundle_manifest(bundle: &Path) -> PathBuf {
    bundle.join(wdnn_runner_core::spec::manifest::MANIFEST_FILE)
}

/// The site over `prepared`.
pub fn site(prepared: &Prepared, isolated: bool) -> Site {
    let root = repo_root();
    let mounts = vec![
        ("/demo/".to_string(), root.join("web/demo")),
        ("/wdnn/".to_string(), prepared.package.clone()),
        ("/models/".to_string(), prepared.models.clone()),
        ("/expected/".to_string(), prepared.expected.clone()),
        ("/images/".to_string(), root.join("fixtures/images")),
        ("/labels/".to_string(), root.join("fixtures/labels")),
        ("/fixtures/".to_string(), root.join("fixtures")),
        ("/ort/".to_string(), root.join("web/node_modules/onnxruntime-web/dist")),
        ("/onnx/".to_string(), root.join("fixtures/models")),
    ];
    Site::new(mounts, isolated)
}

pub fn demo(args: DemoArgs) -> Result<()> {
    let prepared = prepare(args.no_build)?;
    let addr: SocketAddr = site(&prepared, !args.no_isolation).start(args.port)?;
    let isolation = if args.no_isolation { "without COOP/COEP" } else { "with COOP/COEP (cross-origin isolated)" };
    println!("demo: serving http://{addr}/demo/ {isolation}; Ctrl-C stops");
    loop {
        std::thread::park();
    }
}

/// The Chromium binary playwright drives (Debian's `chromium`; `WDNN_CHROMIUM` overrides).
fn chromium() -> Result<String> {
    if let Ok(path) = std::env::var("WDNN_CHROMIUM") {
        return Ok(path);
    }
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).exists() {
            return Ok(candidate.to_string());
        }
    }
    bail!("no Chromium: install it with `apt-get install -y chromium` (or set WDNN_CHROMIUM)")
}

/// Runs web/test/browser.test.mjs against the site: `node --test` with the site's URL (isolated) and a second
/// server without COOP/COEP, the damaged file's name, and where the screenshots go.
pub fn browser_test() -> Result<()> {
    let root = repo_root();
    let chromium = chromium()?;
    if !root.join("web/node_modules/playwright-core").exists() {
        bail!("playwright-core is missing: run `npm ci` in web/");
    }
    let prepared = prepare(false)?;
    let isolated = site(&prepared, true);
    let addr = isolated.start(0)?;
    let plain = site(&prepared, false).start(0)?;
    let shots = target_dir().join("demo/screenshots");
    std::fs::create_dir_all(&shots)?;
    let status = Command::new(crate::node::node())
        .current_dir(root.join("web"))
        .args(["--test", "--test-reporter", "spec"])
        .arg(Path::new("test").join(crate::web_check::BROWSER_TESTS))
        .env("WDNN_SITE", format!("http://{addr}"))
        .env("WDNN_SITE_PLAIN", format!("http://{plain}"))
        .env("WDNN_CHROMIUM", chromium)
        .env("WDNN_SCREENSHOTS", &shots)
        .env("WDNN_STYLES", STYLES.map(|s| s.to_string()).join(","))
        .status()
        .context("running node --test web/test/browser.test.mjs")?;
    println!("browser-test: screenshots in {}", shots.display());
    if !status.success() {
        bail!("browser tests failed ({status})");
    }
    Ok(())
}

/// wdnn against onnxruntime-web in the same Chromium (web/bench/browser.mjs): cold start, steady run and gzip download
/// per backend on MobileNetV2; prints a markdown table for BENCHMARKS.md.
#[derive(Args)]
pub struct BenchBrowserArgs {
    /// Steady runs per configuration (the median is reported).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Configurations, comma separated: wdnn:webgpu, wdnn:wasm, wdnn:fallback, ort:wasm, ort:webgpu.
    #[arg(long, default_value = "wdnn:webgpu,wdnn:wasm,wdnn:fallback,ort:wasm,ort:webgpu")]
    pub configs: String,
}

pub fn bench_browser(args: BenchBrowserArgs) -> Result<()> {
    let root = repo_root();
    let chromium = chromium()?;
    let prepared = prepare(false)?;
    let addr = site(&prepared, true).start(0)?;
    let status = Command::new(crate::node::node())
        .current_dir(root.join("web"))
        .arg("bench/browser.mjs")
        .env("WDNN_SITE", format!("http://{addr}"))
        .env("WDNN_CHROMIUM", chromium)
        .env("WDNN_BENCH_RUNS", args.runs.to_string())
        .env("WDNN_BENCH_CONFIGS", &args.configs)
        .status()
        .context("running node web/bench/browser.mjs")?;
    if !status.success() {
        bail!("the browser benchmark failed ({status})");
    }
    Ok(())
}
