//! The input rules every runner applies, written once: a model's inputs are checked here whether they come through a
//! [`crate::Session`] (by name) or straight into a backend's executable (in graph order, as a browser may call it).

use wdnn_descriptor_spec::{DescriptorError, Graph, TensorSignature};

use crate::{Result, RunnerError, Tensor};

/// Checks `inputs`, given in the order of `signature`: their count, then each one's dtype and shape, naming the first
/// input that differs.
pub fn check_inputs(signature: &[TensorSignature], inputs: &[Tensor]) -> Result<()> {
    if inputs.len() != signature.len() {
        return Err(RunnerError::BadInput {
            name: signature.get(inputs.len()).map_or("?", |s| s.name.as_str()).to_string(),
            detail: format!("{} inputs given, the model has {}", inputs.len(), signature.len()),
        });
    }
    signature.iter().zip(inputs).try_for_each(|(sig, t)| check_input(sig, t))
}

/// Puts named `inputs` in the order of `signature`, checking that each is given exactly once, that no unknown name is
/// given, and each one's dtype and shape.
pub fn order_inputs(signature: &[TensorSignature], inputs: &[(&str, Tensor)]) -> Result<Vec<Tensor>> {
    if let Some((name, _)) = inputs.iter().find(|(n, _)| !signature.iter().any(|s| s.name == *n)) {
        let known: Vec<String> = signature.iter().map(|s| format!("`{}`", s.name)).collect();
        return Err(RunnerError::BadInput {
            name: name.to_string(),
            detail: format!("the model has no such input (its inputs: {})", known.join(", ")),
        });
    }
    let mut ordered = Vec::with_capacity(signature.len());
    for sig in signature {
        let mut given = inputs.iter().filter(|(n, _)| *n == sig.name);
        let (_, tensor) =
            given.next().ok_or_else(|| RunnerError::BadInput { name: sig.name.clone(), detail: "missing".into() })?;
        if given.next().is_some() {
            return Err(RunnerError::BadInput { name: sig.name.clone(), detail: "given twice".into() });
        }
        check_input(sig, tensor)?;
        ordered.push(tensor.clone());
    }
    Ok(ordered)
}

/// One input against its signature: the dtype first, then the shape.
fn check_input(sig: &TensorSignature, tensor: &Tensor) -> Result<()> {
    if tensor.dtype() != sig.dtype {
        return Err(RunnerError::InputDType { name: sig.name.clone(), expected: sig.dtype, found: tensor.dtype() });
    }
    if tensor.shape() != sig.shape.as_slice() {
        return Err(RunnerError::InputShape {
            name: sig.name.clone(),
            expected: sig.shape.clone(),
            found: tensor.shape().to_vec(),
        });
    }
    Ok(())
}

/// The signature of a graph descriptor's inputs (name, dtype and shape of each bound tensor), for an executable that
/// checks its positional inputs with [`check_inputs`].
pub fn input_signature(graph: &Graph) -> Result<Vec<TensorSignature>> {
    graph
        .inputs
        .iter()
        .map(|io| {
            let t = graph.tensors.get(io.tensor as usize).ok_or_else(|| DescriptorError::Invalid {
                what: "graph descriptor".into(),
                detail: format!("input `{}` names missing tensor {}", io.name, io.tensor),
            })?;
            Ok(TensorSignature { name: io.name.clone(), dtype: t.dtype, shape: t.shape.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::DType;

    fn sig(name: &str, shape: &[u64]) -> TensorSignature {
        TensorSignature { name: name.into(), dtype: DType::F32, shape: shape.to_vec() }
    }

    #[test]
    fn positional_checks_name_the_input() {
        let sigs = [sig("x", &[2]), sig("y", &[1])];
        let x = Tensor::new(&[2], &[1f32, 2.]).unwrap();
        let y = Tensor::new(&[1], &[3f32]).unwrap();
        assert!(check_inputs(&sigs, &[x.clone(), y.clone()]).is_ok());
        let err = check_inputs(&sigs, std::slice::from_ref(&x)).unwrap_err();
        assert!(matches!(&err, RunnerError::BadInput { name, .. } if name == "y"), "{err}");
        let err = check_inputs(&sigs, &[x.clone(), x.clone()]).unwrap_err();
        assert!(matches!(&err, RunnerError::InputShape { name, .. } if name == "y"), "{err}");
        let int = Tensor::new(&[1], &[3i32]).unwrap();
        let err = check_inputs(&sigs, &[x, int]).unwrap_err();
        assert!(matches!(&err, RunnerError::InputDType { name, .. } if name == "y"), "{err}");
    }

    #[test]
    fn named_inputs_are_ordered_once_each() {
        let sigs = [sig("x", &[1]), sig("y", &[1])];
        let a = Tensor::new(&[1], &[1f32]).unwrap();
        let b = Tensor::new(&[1], &[2f32]).unwrap();
        let ordered = order_inputs(&sigs, &[("y", b.clone()), ("x", a.clone())]).unwrap();
        assert_eq!(ordered, vec![a.clone(), b.clone()]);
        let missing = order_inputs(&sigs, &[("x", a.clone())]).unwrap_err();
        assert!(matches!(&missing, RunnerError::BadInput { name, detail } if name == "y" && detail == "missing"));
        let twice = order_inputs(&sigs, &[("x", a.clone()), ("x", a.clone()), ("y", b.clone())]).unwrap_err();
        assert!(matches!(&twice, RunnerError::BadInput { detail, .. } if detail == "given twice"));
        let unknown = order_inputs(&sigs, &[("z", a)]).unwrap_err();
        assert!(matches!(&unknown, RunnerError::BadInput { name, .. } if name == "z"));
        assert_eq!(unknown.to_string(), "input `z`: the model has no such input (its inputs: `x`, `y`)");
    }
}
