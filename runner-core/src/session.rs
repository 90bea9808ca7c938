use wdnn_descriptor_spec::TensorSignature;

use crate::backend::{Backend, Executable, KernelChoice, Skip};
use crate::inputs::order_inputs;
use crate::{Bundle, Result, RunnerError, Tensor};

/// A model loaded on one backend, ready to run.
pub struct Session {
    backend: String,
    skipped: Vec<Skip>,
    inputs: Vec<TensorSignature>,
    outputs: Vec<TensorSignature>,
    executable: Box<dyn Executable>,
}

/// Loads `bundle` on the first backend of `order` that is available and accepts the model, falling through on each
/// failure. The session reports the chosen backend and why every earlier one was skipped.
pub fn load(bundle: &Bundle, order: &[&dyn Backend], mut progress: impl FnMut(u64, u64)) -> Result<Session> {
    let mut skipped = Vec::new();
    for backend in order {
        let name = backend.name().to_string();
        if bundle.manifest.backend(&name).is_none() {
            skipped.push(Skip { backend: name, reason: "the bundle has no descriptor for it".to_string() });
            continue;
        }
        if let Err(reason) = backend.probe() {
            skipped.push(Skip { backend: name, reason: format!("unavailable: {reason}") });
            continue;
        }
        let loaded =
            bundle.load_backend(&name, &mut progress).and_then(|(graph, weights)| backend.load(&graph, &weights));
        match loaded {
            Ok(executable) => {
                return Ok(Session {
                    backend: name,
                    skipped,
                    inputs: bundle.manifest.inputs.clone(),
                    outputs: bundle.manifest.outputs.clone(),
                    executable,
                });
            }
            Err(e) => skipped.push(Skip { backend: name, reason: format!("failed to load: {e}") }),
        }
    }
    Err(RunnerError::NoBackend { attempts: skipped })
}

impl Session {
    /// The backend the model runs on.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The backends tried before this one, and why each was skipped.
    pub fn skipped(&self) -> &[Skip] {
        &self.skipped
    }

    /// Which implementation runs each kernel of the graph (empty when the backend does not report).
    pub fn kernel_report(&self) -> Vec<KernelChoice> {
        self.executable.kernel_report()
    }

    /// The model's inputs.
    pub fn inputs(&self) -> &[TensorSignature] {
        &self.inputs
    }

    /// The model's outputs.
    pub fn outputs(&self) -> &[TensorSignature] {
        &self.outputs
    }

    /// Runs the model on named inputs (each exactly once) and returns the named outputs in signature order.
    pub fn run(&mut self, inputs: &[(&str, Tensor)]) -> Result<Vec<(String, Tensor)>> {
        let ordered = order_inputs(&self.inputs, inputs)?;
        let outputs = self.executable.run(&ordered)?;
        Ok(self.outputs.iter().map(|s| s.name.clone()).zip(outputs).collect())
    }
}
