//! Tensor type names as ONNX Runtime Web spells them (`new ort.Tensor('float32', data, dims)`), so that code written
//! for ORT passes the same strings to wdnn.

use wdnn_runner_core::spec::DType;

/// Every dtype with its ORT name, in one table both directions read.
const NAMES: [(DType, &str); 12] = [
    (DType::F32, "float32"),
    (DType::F16, "float16"),
    (DType::F64, "float64"),
    (DType::I8, "int8"),
    (DType::I16, "int16"),
    (DType::I32, "int32"),
    (DType::I64, "int64"),
    (DType::U8, "uint8"),
    (DType::U16, "uint16"),
    (DType::U32, "uint32"),
    (DType::U64, "uint64"),
    (DType::Bool, "bool"),
];

/// The ORT name of `dtype`.
pub fn ort_name(dtype: DType) -> &'static str {
    NAMES.iter().find(|(d, _)| *d == dtype).map(|(_, n)| *n).unwrap_or("unknown")
}

/// The dtype an ORT name stands for.
pub fn from_ort_name(name: &str) -> Option<DType> {
    NAMES.iter().find(|(_, n)| *n == name).map(|(d, _)| *d)
}

/// The ORT names, for error messages.
pub fn known_names() -> String {
    NAMES.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for (dtype, name) in NAMES {
            assert_eq!(from_ort_name(name), Some(dtype));
            assert_eq!(ort_name(dtype), name);
        }
        let mut names: Vec<&str> = NAMES.iter().map(|(_, n)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
        assert_eq!(from_ort_name("f32"), None);
    }
}
