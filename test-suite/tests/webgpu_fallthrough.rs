//! `auto` tries webgpu first and falls through to the reference backend, saying why, when there is no adapter
//! (forced here with WDNN_WEBGPU_DISABLE; in its own test binary because it sets the process environment).

mod common;

use common::*;
use wdnn_runner_core::{Backend, Bundle};
use wdnn_runner_fallback::FallbackBackend;
use wdnn_runner_webgpu::{DISABLE_ENV, WebGpuBackend};
use wdnn_transpiler::ConvertOptions;

#[test]
fn auto_falls_through_to_fallback_without_an_adapter() {
    // SAFETY: this test binary has this one test, so no other thread reads the environment meanwhile.
    unsafe { std::env::set_var(DISABLE_ENV, "1") };
    let options = ConvertOptions { backends: vec!["webgpu".into(), "fallback".into()], ..ConvertOptions::default() };
    let (bundle, _) = convert(&fixtures().join("models/light/light_squeezenet.onnx"), &options);
    let bundle = Bundle::open(&bundle).unwrap();
    let (webgpu, fallback) = (WebGpuBackend::default(), FallbackBackend);
    let order: [&dyn Backend; 2] = [&webgpu, &fallback];
    let session = wdnn_runner_core::load(&bundle, &order, |_, _| {}).unwrap();
    assert_eq!(session.backend(), "fallback");
    let skip = &session.skipped()[0];
    assert_eq!(skip.backend, "webgpu");
    assert!(skip.reason.contains(DISABLE_ENV), "{}", skip.reason);
}
