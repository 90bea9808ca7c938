//! `cargo xtask web`: the npm package `wdnn` in `target/web/wdnn/`.
//!
//! The crate `web/` (wasm-bindgen bindings over runner-core) is built for wasm32 in release, once per instruction
//! set, each into its own target folder (different target features must not share one):
//!
//! | build | target features | chosen when |
//! |---|---|---|
//! | `simd128/` | `+simd128` | always possible (Node 20, every current browser) |
//! | `relaxed-simd/` | `+simd128,+relaxed-simd` | `WebAssembly.validate` accepts a relaxed-SIMD instruction |
//! | `simd128-threads/` | `+simd128,+atomics,+bulk-memory`, shared memory | `env.wasm.numThreads` > 1 where threads work (Node; a cross-origin isolated page) |
//!
//! Each `.wasm` goes through `wasm-bindgen --target web` (ESM glue that works in Node 20 and browsers; the CLI
//! version must equal the pinned crate, 0.2.130), then `wasm-opt -O3` (inlining into a single caller limited, see
//! [`ONE_CALLER_INLINE_MAX`]) from the npm package `binaryen` when `web/node_modules` has it (`npm ci` in `web/`).
//! Debian's wasm-opt breaks wasm-bindgen's output and is never used.
//! The wrapper (`web/js/`: index.mjs, index.d.ts, cli.mjs, …) is copied beside them with a `package.json`.
//!
//! The threaded build needs a standard library compiled with atomics: `-Z build-std` (with `RUSTC_BOOTSTRAP=1` on
//! stable) from the `rust-src` component. Without `rust-src` it is skipped with a message and the package runs
//! single-threaded everywhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::repo_root;

/// The wasm-bindgen CLI version that matches the `wasm-bindgen` crate pinned in `web/Cargo.toml`.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// Build the npm package `wdnn` (target/web/wdnn/).
#[derive(Args)]
pub struct WebArgs {
    /// Where to write the package (default: TARGET/web/wdnn).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Build only the SIMD128 module (faster; the package then always uses it).
    #[arg(long)]
    pub no_relaxed: bool,
    /// Skip wasm-opt even when binaryen is installed.
    #[arg(long)]
    pub no_opt: bool,
    /// Do not make the threaded module.
    #[arg(long)]
    pub no_threads: bool,
}

/// One build of the module.
struct Flavor {
    /// The folder in the package, also the name `env.wasm.flavor` takes.
    name: &'static str,
    features: &'static str,
    wasm_opt_features: &'static [&'static str],
    /// Shared memory and a standard library built with atomics (`-Z build-std`).
    threads: bool,
}

/// What Rust's wasm32 target enables by default, which wasm-opt must be told (it does not read the target features).
const BASE_FEATURES: [&str; 7] = [
    "--enable-simd",
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-mutable-globals",
    "--enable-multivalue",
    "--enable-reference-types",
];

const FLAVORS: [Flavor; 3] = [
    Flavor { name: "simd128", features: "+simd128", wasm_opt_features: &[], threads: false },
    Flavor {
        name: "relaxed-simd",
        features: "+simd128,+relaxed-simd",
        wasm_opt_features: &["--enable-relaxed-simd"],
        threads: false,
    },
    Flavor {
        name: "simd128-threads",
        features: "+simd128,+atomics,+bulk-memory,+mutable-globals",
        wasm_opt_features: &["--enable-threads"],
        threads: true,
    },
];

/// The largest function (in Binaryen's IR nodes) that wasm-opt inlines into its only caller. Its default inlines
/// every such function, which merged rustc's separate functions into a few of 90–275 KB (runner-fallback's op
/// dispatch with every reference kernel in it, the load's future): V8 compiles a function whole, lazily at its first
/// call and again optimized once it is hot, and TurboFan took 0.5–1.4 s of CPU for each of those, in the background
/// during a model's first runs (Node 20 on 2 busy vCPUs: 4.6 s of optimizing compiles for SqueezeNet, 0.37 s with
/// this limit, all done before the first run; the module grows 0.5%, steady runs are no slower).
const ONE_CALLER_INLINE_MAX: &str = "200";

/// The threaded module's memory: imported (every worker instantiates the module over the same memory), shared, and
/// up to 4 GiB (the wasm32 limit: engines reserve address space, not memory). The TLS exports let wasm-bindgen give
/// each worker its own thread-local storage and stack.
const THREAD_LINK_ARGS: [&str; 7] = [
    "--shared-memory",
    "--import-memory",
    "--max-memory=4294967296",
    "--export=__wasm_init_tls",
    "--export=__tls_size",
    "--export=__tls_align",
    "--export=__tls_base",
];

/// The JavaScript files of the package, from `web/js/`.
const JS_FILES: [&str; 10] = [
    "index.mjs",
    "thread-worker.mjs",
    "index.d.ts",
    "tensor.mjs",
    "bundle.mjs",
    "worker.mjs",
    "worker-client.mjs",
    "npy.mjs",
    "cli.mjs",
    "README.md",
];

/// Cargo's target directory for this workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

/// The package folder `cargo xtask web` writes by default.
pub fn default_package_dir() -> PathBuf {
    target_dir().join("web/wdnn")
}

pub fn web(args: WebArgs) -> Result<PathBuf> {
    let root = repo_root();
    let out = args.out.unwrap_or_else(default_package_dir);
    check_wasm_bindgen()?;
    let wasm_opt = root.join("web/node_modules/.bin/wasm-opt");
    let wasm_opt = if args.no_opt {
        None
    } else if wasm_opt.exists() {
        Some(wasm_opt)
    } else {
        println!("web: wasm-opt skipped (binaryen is not installed: run `npm ci` in web/)");
        None
    };
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    let rust_src = rust_src_installed();
    if !args.no_threads && !rust_src {
        println!(
            "web: threaded module skipped: it needs the rust-src component for -Z build-std \
             (`rustup component add rust-src`); the package runs single-threaded"
        );
    }
    let wanted =
        |f: &&Flavor| !(args.no_relaxed && f.name == "relaxed-simd") && !(f.threads && (args.no_threads || !rust_src));
    for flavor in FLAVORS.iter().filter(wanted) {
        let wasm = build_module(flavor)?;
        let dir = out.join(flavor.name);
        let status = Command::new("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--out-name", "wdnn_web", "--out-dir"])
            .arg(&dir)
            .arg(&wasm)
            .status()
            .context("running wasm-bindgen")?;
        if !status.success() {
            bail!("wasm-bindgen failed on {} ({status})", wasm.display());
        }
        let module = dir.join("wdnn_web_bg.wasm");
        if let Some(wasm_opt) = &wasm_opt {
            let status = Command::new(wasm_opt)
                .arg("-O3")
                .args(["--one-caller-inline-max-function-size", ONE_CALLER_INLINE_MAX])
                .args(BASE_FEATURES)
                .args(flavor.wasm_opt_features)
                .arg(&module)
                .arg("-o")
                .arg(&module)
                .status()
                .context("running wasm-opt")?;
            if !status.success() {
                bail!("wasm-opt failed on {} ({status})", module.display());
            }
        }
        let size = std::fs::metadata(&module).map(|m| m.len()).unwrap_or(0);
        println!("web: {} module {} bytes", flavor.name, size);
    }
    for file in JS_FILES {
        let from = root.join("web/js").join(file);
        std::fs::copy(&from, out.join(file)).with_context(|| format!("copying {}", from.display()))?;
    }
    let manifest = std::fs::read_to_string(root.join("web/js/package.json")).context("reading web/js/package.json")?;
    let mut package: serde_json::Value = serde_json::from_str(&manifest).context("parsing web/js/package.json")?;
    package["version"] = serde_json::Value::String(env!("CARGO_PKG_VERSION").to_string());
    std::fs::write(out.join("package.json"), serde_json::to_string_pretty(&package)? + "\n")
        .context("writing package.json")?;
    println!("web: wrote the package {}", out.display());
    Ok(out)
}

fn check_wasm_bindgen() -> Result<()> {
    let hint = format!("install it with `cargo install wasm-bindgen-cli --version {WASM_BINDGEN_VERSION}`");
    let output =
        Command::new("wasm-bindgen").arg("--version").output().with_context(|| format!("no wasm-bindgen: {hint}"))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if !version.split_whitespace().any(|w| w == WASM_BINDGEN_VERSION) {
        bail!("wasm-bindgen is `{}`, the crate pins {WASM_BINDGEN_VERSION}: {hint}", version.trim());
    }
    Ok(())
}

/// Builds `web/` as a wasm32 cdylib with the flavor's target features; returns the `.wasm`.
fn build_module(flavor: &Flavor) -> Result<PathBuf> {
    let target = target_dir().join("web-build").join(flavor.name);
    let mut flags = vec!["-C".to_string(), format!("target-feature={}", flavor.features)];
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    if flavor.threads {
        for arg in THREAD_LINK_ARGS {
            flags.extend(["-C".to_string(), format!("link-arg={arg}")]);
        }
        // The prebuilt std is compiled without atomics and refuses shared memory: build it (stable allows the
        // unstable flag only with RUSTC_BOOTSTRAP).
        command.env("RUSTC_BOOTSTRAP", "1").args(["-Z", "build-std=panic_abort,std"]);
    }
    let status = command
        .current_dir(repo_root())
        .args(["rustc", "-p", "wdnn-web", "--lib", "--release", "--target", "wasm32-unknown-unknown"])
        .args(["--crate-type", "cdylib"])
        .env("CARGO_TARGET_DIR", &target)
        // Highest precedence of cargo's flag sources, so an outer RUSTFLAGS cannot leak in; host build scripts are
        // unaffected because a --target is given.
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
        .env_remove("RUSTFLAGS")
        // Size and speed over build time: one codegen unit with LTO; wasm32 aborts on panic anyway.
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .status()
        .context("running cargo for the wasm32 module")?;
    if !status.success() {
        bail!("building the {} module failed ({status})", flavor.name);
    }
    Ok(wasm_path(&target))
}

/// Whether the toolchain has the standard library's sources, which `-Z build-std` compiles.
fn rust_src_installed() -> bool {
    let sysroot = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    sysroot.is_some_and(|root| root.join("lib/rustlib/src/rust/library/std/Cargo.toml").is_file())
}

fn wasm_path(target: &Path) -> PathBuf {
    target.join("wasm32-unknown-unknown/release/wdnn_web.wasm")
}
