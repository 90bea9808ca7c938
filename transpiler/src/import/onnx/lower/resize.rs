//! Resampling: `Resize` with its scales made explicit, and `GridSample`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::resize::{CoordTransformer, Interpolator};
use tract_onnx::tract_core::ops::nn::{GridSample, InterpolationMode, PaddingMode as GridPaddingMode};
use tract_onnx_opl::resize::{CoordTransform, Nearest, Resize};
use wdnn_descriptor_spec::op::GridSamplePadding;
use wdnn_descriptor_spec::{NearestMode, Op, ResizeCoordinates, ResizeMode};

use super::super::{Lowered, Lowering, NotSupported, unsupported};

pub(super) fn lower<'m>(l: &mut Lowering<'m>, node: &'m TypedNode) -> Option<Lowered> {
    Some(if let Some(resize) = node.op_as::<Resize>() {
        l.lower_resize(node, resize)
    } else if let Some(gs) = node.op_as::<GridSample>() {
        l.lower_grid_sample(node, gs)
    } else {
        return None;
    })
}

impl Lowering<'_> {
    fn lower_resize(&mut self, node: &TypedNode, resize: &Resize) -> Lowered {
        if resize.antialias {
            return unsupported("Resize (antialias)");
        }
        let x = self.input(node, 0)?;
        let in_shape = self.graph.value(x).shape.clone();
        let out = OutletId::new(node.id, 0);
        let (_, out_shape) = self.fact(out)?.ok_or_else(|| NotSupported("Resize (symbolic output)".into()))?;
        let mut scales: Vec<f32> = in_shape.iter().zip(&out_shape).map(|(&i, &o)| o as f32 / i as f32).collect();
        if let Some(slot) = resize.optional_scales_input
            && let Ok(s) = self.input(node, slot)
            && let Some(c) = self.constant_of(s)
            && let Ok(given) = c.to_vec::<f32>()
            && given.len() == scales.len()
        {
            scales = given;
        }
        let mode = match resize.interpolator {
            Interpolator::Linear => ResizeMode::Linear,
            Interpolator::Nearest => ResizeMode::Nearest,
            Interpolator::Cubic => ResizeMode::Cubic,
        };
        let CoordTransform::Plain(transformer) = &resize.coord_transformer else {
            return unsupported("Resize (tf_crop_and_resize)");
        };
        let coordinates = match transformer {
            CoordTransformer::HalfPixel => ResizeCoordinates::HalfPixel,
            CoordTransformer::AlignCorners => ResizeCoordinates::AlignCorners,
            CoordTransformer::Asymmetric => ResizeCoordinates::Asymmetric,
            CoordTransformer::PytorchHalfPixel => ResizeCoordinates::PytorchHalfPixel,
            CoordTransformer::TfHalfPixelForNn => ResizeCoordinates::TfHalfPixelForNn,
            CoordTransformer::HalfPixelSymmetric => ResizeCoordinates::HalfPixelSymmetric,
        };
        let nearest = match resize.nearest {
            Nearest::Floor => NearestMode::Floor,
            Nearest::Ceil => NearestMode::Ceil,
            Nearest::RoundPreferFloor => NearestMode::RoundPreferFloor,
            Nearest::RoundPreferCeil => NearestMode::RoundPreferCeil,
        };
        let op = Op::Resize {
            mode,
            coordinates,
            nearest,
            scales,
            cubic_coeff_a: f32::from_bits(resize.cubic_coeff_a_bits),
            exclude_outside: resize.exclude_outside,
        };
        self.emit(node, op, &[x])
    }

    fn lower_grid_sample(&mut self, node: &TypedNode, gs: &GridSample) -> Lowered {
        let inputs = self.inputs(node)?;
        let mode = match gs.mode {
            InterpolationMode::Bilinear => ResizeMode::Linear,
            InterpolationMode::Nearest => ResizeMode::Nearest,
            InterpolationMode::Bicubic => ResizeMode::Cubic,
        };
        let padding = match gs.padding_mode {
            GridPaddingMode::Zeros => GridSamplePadding::Zeros,
            GridPaddingMode::Border => GridSamplePadding::Border,
            GridPaddingMode::Reflection => GridSamplePadding::Reflection,
        };
        self.emit(node, Op::GridSample { mode, padding, align_corners: gs.align_corners }, &inputs)
    }
}
