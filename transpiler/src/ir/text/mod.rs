//! The IR's text form: a complete, readable listing of a [`Graph`] and a parser back, so that tests can state a
//! graph before and after a pass as text (`passes::*` tests) and code generators can be snapshotted from small
//! graphs written by hand (`transpiler/tests/in/*.ir`).
//!
//! ```text
//! graph "tiny"
//! input %x: f32[1,2,4,4]
//! const #w: f32[2,2,1,1] = [1.0, 0.0, 0.0, 1.0]
//! const #b: f32[2] = splat(0.5)
//! %y: f32[1,2,4,4] = Conv{group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], channels_last: false, epilogue: [Unary{fun: Relu}]}(%x, #w, #b) @conv
//! output "y" = %y
//! view %a in %b at 256
//! ```
//!
//! - Values are `%name` (activations) or `#name` (constants), declared once with their dtype and shape: graph
//!   inputs on `input` lines, constants on `const` lines, node outputs where the node defines them. A value defined
//!   nowhere (only in a broken graph) is declared on a `value` line. Names that are not plain words are quoted
//!   (`%"onnx::Conv_1"`); when several values share a name, the later ones are told apart by `~1`, `~2`, … (not
//!   part of the name).
//! - Constants show their values when they have at most [`INLINE_VALUES`] elements, `splat(v)` when all are equal,
//!   and otherwise a deterministic summary (`<9408 values, sha256 1a2b…>`) that the parser refuses: a graph read
//!   from text spells its constants out. [`print_exact`] writes every value, for an exact round trip.
//! - Nodes are `outputs = Op{attributes}(inputs) @name` in execution order; the op's attributes are its serde form
//!   (see `attrs`), so every field of every op is shown, epilogue steps included. `@name` is left out when the node
//!   is named after its first output.
//! - `output "name" = %v` lines give the model's outputs in order, `view %v in %base at offset` lines the views.
//! - `//` starts a comment; line breaks inside brackets are ignored.
//!
//! Values that nothing mentions (what dead-code removal leaves in the arena) are not printed, and the parser
//! numbers values in the order they are declared; so `parse(print(g))` is `g` for a graph whose arena holds its
//! values in that order (inputs, constants, then node outputs), and `print(parse(text))` is `text` for any printed
//! text.

mod attrs;
mod parse;
mod print;

pub use parse::{ParseError, parse};
pub use print::{INLINE_VALUES, print, print_exact};

#[cfg(test)]
mod tests;
