//! Indexing: gathers and scatters, `OneHot` and `Trilu` (as `Where` over constant masks).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{Gather, GatherElements, GatherNd, OneHot, ScatterElements, ScatterNd, Trilu};
use wdnn_descriptor_spec::{BinaryFn, DType, Op};
use wdnn_runner_core::Tensor;

use super::super::convert::{dtype_of, scatter_reduction, tensor_from_tract};
use super::super::{Lowered, Lowering, NotSupported, unsupported};

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    Some(if let Some(gather) = node.op_as::<Gather>() {
        l.lower_gather(node, gather)
    } else if let Some(gather) = node.op_as::<GatherElements>() {
        l.lower_gather_elements(node, gather)
    } else if let Some(g) = node.op_as::<GatherNd>() {
        l.lower_gather_nd(node, g)
    } else if let Some(sc) = node.op_as::<ScatterNd>() {
        l.lower_scatter_nd(node, sc)
    } else if let Some(sc) = node.op_as::<ScatterElements>() {
        l.lower_scatter_elements(node, sc)
    } else if let Some(one_hot) = node.op_as::<OneHot>() {
        l.lower_one_hot(node, one_hot)
    } else if let Some(trilu) = node.op_as::<Trilu>() {
        l.lower_trilu(node, trilu.upper)
    } else {
        return None;
    })
}

impl Lowering<'_> {
    fn lower_gather(&mut self, node: &TypedNode, gather: &Gather) -> Lowered {
        let inputs = self.inputs(node)?;
        self.emit(node, Op::Gather { axis: gather.axis as u32 }, &inputs)
    }

    fn lower_gather_elements(&mut self, node: &TypedNode, gather: &GatherElements) -> Lowered {
        let inputs = self.inputs(node)?;
        self.emit(node, Op::GatherElements { axis: gather.axis as u32 }, &inputs)
    }

    fn lower_gather_nd(&mut self, node: &TypedNode, g: &GatherNd) -> Lowered {
        let inputs = self.inputs(node)?;
        self.emit(node, Op::GatherNd { batch_dims: g.batch_dims as u32 }, &inputs)
    }

    fn lower_scatter_nd(&mut self, node: &TypedNode, sc: &ScatterNd) -> Lowered {
        let inputs = self.inputs(node)?;
        self.emit(node, Op::ScatterNd { reduction: scatter_reduction(sc.reduction) }, &inputs)
    }

    fn lower_scatter_elements(&mut self, node: &TypedNode, sc: &ScatterElements) -> Lowered {
        let inputs = self.inputs(node)?;
        let op = Op::ScatterElements { axis: sc.axis as u32, reduction: scatter_reduction(sc.reduction) };
        self.emit(node, op, &inputs)
    }

    /// ONNX `OneHot`: `Where(Equal(indices (negative ones + depth), range), on, off)`; out-of-range indices match no
    /// position and give `off` everywhere.
    fn lower_one_hot(&mut self, node: &TypedNode, one_hot: &OneHot) -> Lowered {
        let (_, out_shape) =
            self.fact(OutletId::new(node.id, 0))?.ok_or_else(|| NotSupported("OneHot (symbolic)".into()))?;
        let out_dtype = dtype_of(one_hot.on.datum_type())?;
        let mut x = self.input(node, 0)?;
        let name = node.name.clone();
        let value = self.graph.value(x).clone();
        if value.dtype != DType::I64 {
            // ONNX casts float (and other integer) indices to int64.
            x = self.emit_temp(&format!("{name}.indices"), Op::Cast, &[x], DType::I64, &value.shape);
        }
        let depth = one_hot.dim as i64;
        let scalar = |v: i64| Tensor::new(&[], &[v]).map_err(|e| NotSupported(e.to_string()));
        let zero = self.graph.add_constant(&format!("{name}.zero"), scalar(0)?);
        let depth_c = self.graph.add_constant(&format!("{name}.depth"), scalar(depth)?);
        let shape = value.shape.clone();
        let negative = self.emit_temp(
            &format!("{name}.negative"),
            Op::Binary { fun: BinaryFn::Less },
            &[x, zero],
            DType::Bool,
            &shape,
        );
        let wrapped = self.emit_temp(
            &format!("{name}.wrapped"),
            Op::Binary { fun: BinaryFn::Add },
            &[x, depth_c],
            DType::I64,
            &shape,
        );
        let fixed = self.emit_temp(&format!("{name}.fixed"), Op::Where, &[negative, wrapped, x], DType::I64, &shape);
        let mut unsqueezed = shape.clone();
        unsqueezed.insert(one_hot.axis, 1);
        let idx = self.emit_temp(&format!("{name}.unsqueeze"), Op::Reshape, &[fixed], DType::I64, &unsqueezed);
        let mut range_shape = vec![1u64; out_shape.len()];
        range_shape[one_hot.axis] = depth as u64;
        let range: Vec<i64> = (0..depth).collect();
        let range = Tensor::new(&range_shape, &range).map_err(|e| NotSupported(e.to_string()))?;
        let range = self.graph.add_constant(&format!("{name}.range"), range);
        let hit = self.emit_temp(
            &format!("{name}.hit"),
            Op::Binary { fun: BinaryFn::Equal },
            &[idx, range],
            DType::Bool,
            &out_shape,
        );
        let on = self.graph.add_constant(&format!("{name}.on"), tensor_from_tract(&one_hot.on)?);
        let off = self.graph.add_constant(&format!("{name}.off"), tensor_from_tract(&one_hot.off)?);
        if self.graph.value(on).dtype != out_dtype {
            return unsupported("OneHot (values dtype)");
        }
        self.emit(node, Op::Where, &[hit, on, off])
    }

    /// ONNX `Trilu` with a constant `k`: `Where(mask, x, 0)` with the triangle as a constant mask over the last two
    /// axes.
    fn lower_trilu(&mut self, node: &TypedNode, upper: bool) -> Lowered {
        let x = self.input(node, 0)?;
        let value = self.graph.value(x).clone();
        let k = self.konst(node, 1, "k")?;
        let k = k.cast_to_scalar::<i64>().map_err(|e| NotSupported(format!("Trilu k ({e})")))?;
        let rank = value.shape.len();
        if rank < 2 {
            return unsupported("Trilu (rank < 2)");
        }
        let (rows, cols) = (value.shape[rank - 2], value.shape[rank - 1]);
        let keep: Vec<bool> = (0..rows as i64)
            .flat_map(|r| (0..cols as i64).map(move |c| if upper { c >= r + k } else { c <= r + k }))
            .collect();
        let mask = Tensor::new(&[rows, cols], &keep).map_err(|e| NotSupported(e.to_string()))?;
        let mask = self.graph.add_constant(&format!("{}.mask", node.name), mask);
        let zero = self.graph.add_constant(&format!("{}.zero", node.name), Tensor::zeros(value.dtype, &[]));
        self.emit(node, Op::Where, &[mask, x, zero])
    }
}
