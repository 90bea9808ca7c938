use super::Target;

/// The reference backend interprets the portable kernel list as it is.
pub struct Fallback;

impl Target for Fallback {
    fn name(&self) -> &'static str {
        "fallback"
    }

    fn alignment(&self) -> u64 {
        16
    }
}
