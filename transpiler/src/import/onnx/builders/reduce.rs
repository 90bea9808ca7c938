//! `ReduceMax` and `ReduceMin`: tract's, except over an empty set.
//!
//! ONNX gives a reduction over no values its identity: −∞ for `ReduceMax` and +∞ for `ReduceMin` where the dtype
//! has infinities (false and true on bool, the dtype's extremes on integers). tract treats a zero-sized tensor as a
//! known constant and folds whatever reads it as soon as it wires it, and its Max and Min start from
//! `T::min_value()` and `T::max_value()`: ±f32::MAX for floats (on every backend), and an error on bool. So for a
//! float or bool input with no values and an output with some, [`EmptySet`] wires ONNX's constant instead; integer
//! inputs keep tract's, which is ONNX's.

use std::sync::OnceLock;

use tract_onnx::model::{Onnx, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Builder, Built, refuse};

/// tract's own `ReduceMax` and `ReduceMin` builders.
static TRACT_MAX: OnceLock<Option<Builder>> = OnceLock::new();
static TRACT_MIN: OnceLock<Option<Builder>> = OnceLock::new();

/// Registers [`reduce_max`] and [`reduce_min`] over tract's builders, which they wrap.
pub(super) fn register(onnx: &mut Onnx) {
    let (max, min) = (onnx.op_register.0.get("ReduceMax").copied(), onnx.op_register.0.get("ReduceMin").copied());
    TRACT_MAX.get_or_init(|| max);
    TRACT_MIN.get_or_init(|| min);
    onnx.op_register.insert("ReduceMax", reduce_max);
    onnx.op_register.insert("ReduceMin", reduce_min);
}

fn reduce_max(ctx: &ParsingContext, node: &NodeProto) -> Built {
    wrap(ctx, node, &TRACT_MAX, true)
}

fn reduce_min(ctx: &ParsingContext, node: &NodeProto) -> Built {
    wrap(ctx, node, &TRACT_MIN, false)
}

/// tract's op for `node`, inside an [`EmptySet`].
fn wrap(ctx: &ParsingContext, node: &NodeProto, tract: &OnceLock<Option<Builder>>, max: bool) -> Built {
    let Some(build) = tract.get().copied().flatten() else { return refuse(node, &node.op_type) };
    let (op, outputs) = build(ctx, node)?;
    match op.as_op().downcast_ref::<Box<dyn Expansion>>() {
        Some(inner) => Ok((expand(EmptySet { inner: inner.clone(), max }), outputs)),
        // Not an expansion (a later tract): nothing to wrap, tract's op as it is.
        None => Ok((op, outputs)),
    }
}

/// tract's Max (`max`) or Min reduction `inner`, which wires ONNX's identity as a constant when the input has no
/// values.
#[derive(Debug, Clone)]
struct EmptySet {
    inner: Box<dyn Expansion>,
    max: bool,
}

impl EmptySet {
    /// ONNX's result for these inputs when it is a constant tract gets wrong: float or bool values, none of them.
    fn identity(&self, model: &TypedModel, inputs: &[OutletId]) -> TractResult<Option<Tensor>> {
        let x = model.outlet_fact(inputs[0])?;
        // Values, or a symbolic shape (no constant then).
        if x.shape.as_concrete().is_none_or(|s| s.iter().product::<usize>() != 0) {
            return Ok(None);
        }
        let fill = if x.datum_type.is_float() {
            tensor0(if self.max { f64::NEG_INFINITY } else { f64::INFINITY }).cast_to_dt(x.datum_type)?.into_owned()
        } else if x.datum_type == bool::datum_type() {
            // Max is "any", Min is "all".
            tensor0(!self.max)
        } else {
            return Ok(None);
        };
        // The output's shape, from tract's own wiring in a scratch model (the axes and keepdims are its business).
        let mut scratch = TypedModel::default();
        let wires = inputs
            .iter()
            .enumerate()
            .map(|(ix, &i)| {
                let fact = model.outlet_fact(i)?;
                match &fact.konst {
                    Some(k) if ix > 0 => scratch.add_const(format!("input.{ix}"), k.clone()),
                    _ => scratch.add_source(format!("input.{ix}"), fact.without_value()),
                }
            })
            .collect::<TractResult<TVec<_>>>()?;
        let y = self.inner.wire("reduce", &mut scratch, &wires)?;
        let shape = scratch.outlet_fact(y[0])?.shape.as_concrete().map(|s| s.to_vec());
        match shape {
            Some(shape) if shape.iter().product::<usize>() > 0 => Ok(Some(fill.broadcast_scalar_to_shape(&shape)?)),
            _ => Ok(None),
        }
    }
}

impl Expansion for EmptySet {
    fn name(&self) -> StaticName {
        self.inner.as_ref().name()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        self.inner.as_ref().info()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        self.inner.as_ref().nboutputs()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.inner.as_ref().rules(s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        match self.identity(model, inputs)? {
            Some(value) => Ok(tvec![model.add_const(prefix, value)?]),
            None => self.inner.wire(prefix, model, inputs),
        }
    }
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::tensor_proto::DataType;
    use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension::Value as DimValue};
    use tract_onnx::pb::type_proto::{Tensor as TensorType, Value as TypeValue};
    use tract_onnx::pb::{
        AttributeProto, GraphProto, ModelProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
        ValueInfoProto, attribute_proto::AttributeType,
    };

    use super::*;

    fn info(name: &str, dt: DataType, dims: &[i64]) -> ValueInfoProto {
        let dim = dims.iter().map(|&d| Dimension { value: Some(DimValue::DimValue(d)), ..Default::default() });
        let shape = TensorShapeProto { dim: dim.collect() };
        let tensor = TensorType { elem_type: dt as i32, shape: Some(shape) };
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto { value: Some(TypeValue::TensorType(tensor)), ..Default::default() }),
            ..Default::default()
        }
    }

    /// `op` over `axes` of an input of `dims`, with keepdims, at `opset` (axes an attribute before 18, an
    /// initializer from 18), through our builders, tract's typing and constant propagation: the output's fact.
    fn reduce(op: &str, opset: i64, dt: DataType, dims: &[i64], axes: &[i64], keepdims: i64) -> TypedFact {
        let mut node = NodeProto {
            op_type: op.into(),
            name: "r".into(),
            input: vec!["x".into()],
            output: vec!["y".into()],
            ..Default::default()
        };
        let attr = |name: &str, ints: Vec<i64>, i: i64, r#type: AttributeType| AttributeProto {
            name: name.into(),
            ints,
            i,
            r#type: r#type as i32,
            ..Default::default()
        };
        node.attribute.push(attr("keepdims", vec![], keepdims, AttributeType::Int));
        let mut initializer = vec![];
        if opset < 18 {
            node.attribute.push(attr("axes", axes.to_vec(), 0, AttributeType::Ints));
        } else {
            node.input.push("axes".into());
            initializer.push(TensorProto {
                name: "axes".into(),
                dims: vec![axes.len() as i64],
                data_type: DataType::Int64 as i32,
                int64_data: axes.to_vec(),
                ..Default::default()
            });
        }
        let graph = GraphProto {
            node: vec![node],
            input: vec![info("x", dt, dims)],
            output: vec![ValueInfoProto { name: "y".into(), ..Default::default() }],
            initializer,
            ..Default::default()
        };
        let proto = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: opset }],
            graph: Some(graph),
            ..Default::default()
        };
        let parsed = super::super::onnx().parse(&proto, None).unwrap();
        let mut typed = parsed.model.into_typed().unwrap();
        typed.prop_consts().unwrap();
        let typed = typed.into_compact().unwrap();
        typed.outlet_fact(typed.output_outlets().unwrap()[0]).unwrap().clone()
    }

    fn values<T: Datum + Copy>(fact: &TypedFact) -> Vec<T> {
        let k = fact.konst.as_ref().expect("a constant output");
        k.to_plain_array_view::<T>().unwrap().iter().copied().collect()
    }

    #[test]
    fn max_and_min_over_an_empty_set_are_infinite_and_keep_tracts_shape() {
        for opset in [13, 18] {
            let max = reduce("ReduceMax", opset, DataType::Float, &[2, 0, 4], &[1], 1);
            assert_eq!(max.shape.as_concrete(), Some(&[2usize, 1, 4][..]), "opset {opset}");
            assert_eq!(values::<f32>(&max), vec![f32::NEG_INFINITY; 8], "opset {opset}");
            let min = reduce("ReduceMin", opset, DataType::Float, &[2, 0, 4], &[1], 0);
            assert_eq!(min.shape.as_concrete(), Some(&[2usize, 4][..]), "opset {opset}");
            assert_eq!(values::<f32>(&min), vec![f32::INFINITY; 8], "opset {opset}");
        }
        let half = reduce("ReduceMax", 18, DataType::Float16, &[0, 3], &[0], 1);
        assert_eq!(values::<f16>(&half), vec![f16::NEG_INFINITY; 3]);
        // Bool from opset 20: Max is "any" (false over nothing), Min is "all" (true).
        assert_eq!(values::<bool>(&reduce("ReduceMax", 20, DataType::Bool, &[2, 0, 4], &[1], 1)), vec![false; 8]);
        assert_eq!(values::<bool>(&reduce("ReduceMin", 20, DataType::Bool, &[2, 0], &[1], 1)), vec![true; 2]);
        // Integers have no infinity: the dtype's extremes, which tract already gives.
        assert_eq!(values::<i32>(&reduce("ReduceMax", 18, DataType::Int32, &[0, 2], &[0], 0)), vec![i32::MIN; 2]);
    }

    #[test]
    fn max_and_min_over_values_or_into_nothing_are_tracts() {
        // Not empty: the graph keeps its reduction (no constant).
        let max = reduce("ReduceMax", 18, DataType::Float, &[2, 3], &[1], 1);
        assert!(max.konst.is_none());
        assert_eq!(max.shape.as_concrete(), Some(&[2usize, 1][..]));
        // An empty input reduced along a non-empty axis: an empty output, nothing to fill.
        let none = reduce("ReduceMin", 18, DataType::Float, &[0, 3], &[1], 1);
        assert_eq!(none.shape.as_concrete(), Some(&[0usize, 1][..]));
    }
}
