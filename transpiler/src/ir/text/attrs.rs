//! An op's attributes as a small tree, written and read through serde, so the text form covers every op, function
//! and field the format defines (and every one a later version adds) without a hand-written case per op.
//!
//! The tree mirrors the op's serde form, with one shortening: a map whose first key is an internal tag (`type` for
//! ops, `step` for epilogue steps, `fn` for functions) is written as the tagged name followed by its other fields
//! (`Clip{min: 0.0, max: 6.0}`, `Relu`). Reading it back, a tagged name offers its name under every tag key; the
//! enum that reads it takes its own and serde ignores the others, as it ignores any unknown field. Unit variants of
//! the plain enums (`ReduceFn`, `PadMode`, …) are strings on the wire and stay quoted strings here (`"Sum"`).
//!
//! Floats keep their type: an `f32` is written with the shortest digits that read back to the same `f32`.

use std::fmt::{self, Write};

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize};

/// The keys internally tagged enums of the format use for their tag.
const TAGS: [&str; 3] = ["type", "step", "fn"];

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Attr {
    /// `()`: a unit, or an absent option.
    Unit,
    /// `true` / `false`.
    Bool(bool),
    /// A number, kept as written: integers as integers, floats with the digits that read back exactly.
    Num(String),
    /// A quoted string.
    Str(String),
    /// `[a, b, …]`.
    Seq(Vec<Attr>),
    /// `{key: value, …}`.
    Map(Vec<(String, Attr)>),
    /// `Name` or `Name{key: value, …}`: a variant of an internally tagged enum.
    Tagged(String, Vec<(String, Attr)>),
}

/// Why a value could not be written or read as attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AttrError(pub(super) String);

impl fmt::Display for AttrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AttrError {}

impl ser::Error for AttrError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        AttrError(msg.to_string())
    }
}

impl de::Error for AttrError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        AttrError(msg.to_string())
    }
}

/// The attribute tree of `value`.
pub(super) fn to_attr<T: Serialize + ?Sized>(value: &T) -> Result<Attr, AttrError> {
    value.serialize(AttrSerializer)
}

/// Reads a `T` from its attribute tree.
pub(super) fn from_attr<'a, T: serde::Deserialize<'a>>(attr: &'a Attr) -> Result<T, AttrError> {
    T::deserialize(attr)
}

/// True when `s` can be written without quotes as a key or a tagged name.
pub(super) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(s, "true" | "false" | "inf" | "NaN")
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn fields(f: &mut fmt::Formatter<'_>, fields: &[(String, Attr)]) -> fmt::Result {
            f.write_char('{')?;
            for (i, (key, value)) in fields.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                if is_ident(key) {
                    f.write_str(key)?
                } else {
                    write!(f, "{key:?}")?
                }
                write!(f, ": {value}")?;
            }
            f.write_char('}')
        }
        match self {
            Attr::Unit => f.write_str("()"),
            Attr::Bool(b) => write!(f, "{b}"),
            Attr::Num(n) => f.write_str(n),
            Attr::Str(s) => write!(f, "{s:?}"),
            Attr::Seq(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Attr::Map(entries) => fields(f, entries),
            Attr::Tagged(name, entries) if entries.is_empty() => f.write_str(name),
            Attr::Tagged(name, entries) => {
                f.write_str(name)?;
                fields(f, entries)
            }
        }
    }
}

struct AttrSerializer;

/// Collects a sequence's items.
struct SeqBuilder(Vec<Attr>);

/// Collects a map's or a struct's entries; `variant` wraps them as an externally tagged variant.
struct MapBuilder {
    entries: Vec<(String, Attr)>,
    key: Option<String>,
    variant: Option<&'static str>,
}

/// Collects a tuple variant's items.
struct TupleVariantBuilder(&'static str, Vec<Attr>);

fn num(v: impl fmt::Display) -> Result<Attr, AttrError> {
    Ok(Attr::Num(v.to_string()))
}

impl ser::Serializer for AttrSerializer {
    type Ok = Attr;
    type Error = AttrError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = TupleVariantBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<Attr, AttrError> {
        Ok(Attr::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Attr, AttrError> {
        num(v)
    }
    fn serialize_i16(self, v: i16) -> Result<Attr, AttrError> {
        num(v)
    }
    fn serialize_i32(self, v: i32) -> Result<Attr, AttrError> {
        num(v)
    }
    fn serialize_i64(self, v: i64) -> Result<Attr, AttrError> {
        num(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Attr, AttrError> {
        num(v)
    }
    fn serialize_u16(self, v: u16) -> Result<Attr, AttrError> {
        num(v)
    }
    fn serialize_u32(self, v: u32) -> Result<Attr, AttrError> {
        num(v)
    }
    fn serialize_u64(self, v: u64) -> Result<Attr, AttrError> {
        num(v)
    }
    fn serialize_f32(self, v: f32) -> Result<Attr, AttrError> {
        // Debug writes the shortest digits that read back to the same f32 (and `inf`, `-inf`, `NaN`).
        Ok(Attr::Num(format!("{v:?}")))
    }
    fn serialize_f64(self, v: f64) -> Result<Attr, AttrError> {
        Ok(Attr::Num(format!("{v:?}")))
    }
    fn serialize_char(self, v: char) -> Result<Attr, AttrError> {
        Ok(Attr::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Attr, AttrError> {
        Ok(Attr::Str(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Attr, AttrError> {
        Ok(Attr::Seq(v.iter().map(|b| Attr::Num(b.to_string())).collect()))
    }
    fn serialize_none(self) -> Result<Attr, AttrError> {
        Ok(Attr::Unit)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Attr, AttrError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Attr, AttrError> {
        Ok(Attr::Unit)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Attr, AttrError> {
        Ok(Attr::Unit)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Attr, AttrError> {
        Ok(Attr::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<Attr, AttrError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Attr, AttrError> {
        Ok(Attr::Map(vec![(variant.to_string(), value.serialize(self)?)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, AttrError> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, AttrError> {
        Ok(SeqBuilder(Vec::with_capacity(len)))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder, AttrError> {
        Ok(SeqBuilder(Vec::with_capacity(len)))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<TupleVariantBuilder, AttrError> {
        Ok(TupleVariantBuilder(variant, Vec::new()))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapBuilder, AttrError> {
        Ok(MapBuilder { entries: Vec::new(), key: None, variant: None })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapBuilder, AttrError> {
        Ok(MapBuilder { entries: Vec::new(), key: None, variant: None })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<MapBuilder, AttrError> {
        Ok(MapBuilder { entries: Vec::new(), key: None, variant: Some(variant) })
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Attr;
    type Error = AttrError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AttrError> {
        self.0.push(to_attr(value)?);
        Ok(())
    }
    fn end(self) -> Result<Attr, AttrError> {
        Ok(Attr::Seq(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Attr;
    type Error = AttrError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AttrError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Attr, AttrError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Attr;
    type Error = AttrError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AttrError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Attr, AttrError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for TupleVariantBuilder {
    type Ok = Attr;
    type Error = AttrError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AttrError> {
        self.1.push(to_attr(value)?);
        Ok(())
    }
    fn end(self) -> Result<Attr, AttrError> {
        Ok(Attr::Map(vec![(self.0.to_string(), Attr::Seq(self.1))]))
    }
}

impl MapBuilder {
    fn finish(self) -> Attr {
        let mut entries = self.entries;
        let tagged = match entries.first() {
            Some((key, Attr::Str(name))) if TAGS.contains(&key.as_str()) && is_ident(name) => Some(name.clone()),
            _ => None,
        };
        let attr = match tagged {
            Some(name) => {
                entries.remove(0);
                Attr::Tagged(name, entries)
            }
            None => Attr::Map(entries),
        };
        match self.variant {
            Some(variant) => Attr::Map(vec![(variant.to_string(), attr)]),
            None => attr,
        }
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Attr;
    type Error = AttrError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), AttrError> {
        self.key = Some(match to_attr(key)? {
            Attr::Str(s) | Attr::Num(s) => s,
            other => return Err(AttrError(format!("map key {other} is not a string"))),
        });
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AttrError> {
        let key = self.key.take().ok_or_else(|| AttrError("map value without a key".into()))?;
        self.entries.push((key, to_attr(value)?));
        Ok(())
    }
    fn end(self) -> Result<Attr, AttrError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Attr;
    type Error = AttrError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), AttrError> {
        self.entries.push((key.to_string(), to_attr(value)?));
        Ok(())
    }
    fn end(self) -> Result<Attr, AttrError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = Attr;
    type Error = AttrError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), AttrError> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<Attr, AttrError> {
        Ok(self.finish())
    }
}

/// A number as the narrowest serde primitive that holds it.
fn visit_num<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, AttrError> {
    if let Ok(v) = text.parse::<u64>() {
        return visitor.visit_u64(v);
    }
    if let Ok(v) = text.parse::<i64>() {
        return visitor.visit_i64(v);
    }
    match text.parse::<f64>() {
        Ok(v) => visitor.visit_f64(v),
        Err(_) => Err(AttrError(format!("`{text}` is not a number"))),
    }
}

/// A map entry's value: an attribute, or a tagged variant's name offered under a tag key.
enum Entry<'a> {
    Attr(&'a Attr),
    Name(&'a str),
}

struct Entries<'a> {
    entries: std::vec::IntoIter<(&'a str, Entry<'a>)>,
    value: Option<Entry<'a>>,
}

impl<'a> Entries<'a> {
    fn new(tag: Option<&'a str>, fields: &'a [(String, Attr)]) -> Entries<'a> {
        let tags = tag.into_iter().flat_map(|name| TAGS.iter().map(move |&key| (key, Entry::Name(name))));
        let fields = fields.iter().map(|(key, value)| (key.as_str(), Entry::Attr(value)));
        Entries { entries: tags.chain(fields).collect::<Vec<_>>().into_iter(), value: None }
    }
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = AttrError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, AttrError> {
        let Some((key, value)) = self.entries.next() else { return Ok(None) };
        self.value = Some(value);
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, AttrError> {
        match self.value.take() {
            Some(Entry::Attr(attr)) => seed.deserialize(attr),
            Some(Entry::Name(name)) => seed.deserialize(de::value::BorrowedStrDeserializer::new(name)),
            None => Err(AttrError("map value without a key".into())),
        }
    }
}

struct Items<'a>(std::slice::Iter<'a, Attr>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = AttrError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, AttrError> {
        self.0.next().map(|attr| seed.deserialize(attr)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

impl<'de> IntoDeserializer<'de, AttrError> for &'de Attr {
    type Deserializer = &'de Attr;
    fn into_deserializer(self) -> &'de Attr {
        self
    }
}

impl<'de> de::Deserializer<'de> for &'de Attr {
    type Error = AttrError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AttrError> {
        match self {
            Attr::Unit => visitor.visit_unit(),
            Attr::Bool(b) => visitor.visit_bool(*b),
            Attr::Num(text) => visit_num(text, visitor),
            Attr::Str(s) => visitor.visit_borrowed_str(s),
            Attr::Seq(items) => visitor.visit_seq(Items(items.iter())),
            Attr::Map(fields) => visitor.visit_map(Entries::new(None, fields)),
            Attr::Tagged(name, fields) => visitor.visit_map(Entries::new(Some(name), fields)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AttrError> {
        match self {
            Attr::Unit => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    /// Externally tagged unit variants are strings; a bare name is accepted as well.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, AttrError> {
        match self {
            Attr::Str(name) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(name)),
            Attr::Tagged(name, fields) if fields.is_empty() => {
                visitor.visit_enum(de::value::BorrowedStrDeserializer::new(name))
            }
            other => Err(AttrError(format!("expected a variant name, found {other}"))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdnn_descriptor_spec::{EpilogueStep, Op, ReduceFn, UnaryFn};

    fn show<T: Serialize>(v: &T) -> String {
        to_attr(v).unwrap().to_string()
    }

    #[test]
    fn tagged_variants_print_by_name_and_plain_enums_as_strings() {
        assert_eq!(show(&Op::Unary { fun: UnaryFn::Relu }), "Unary{fun: Relu}");
        assert_eq!(
            show(&Op::Unary { fun: UnaryFn::Clip { min: 0.0, max: f32::INFINITY } }),
            "Unary{fun: Clip{min: 0.0, max: inf}}"
        );
        assert_eq!(show(&Op::Reduce { fun: ReduceFn::Sum, axes: vec![1, 2] }), r#"Reduce{fun: "Sum", axes: [1, 2]}"#);
        assert_eq!(show(&Op::Reshape), "Reshape");
        let step = EpilogueStep::Binary { fun: wdnn_descriptor_spec::BinaryFn::Add, operand: 2, operand_first: false };
        assert_eq!(show(&step), "Binary{fun: Add, operand: 2, operand_first: false}");
    }

    #[test]
    fn floats_read_back_to_the_same_bits() {
        for v in [0.1f32, 1e-7, -3.4028235e38, 1.0 / 3.0, f32::MIN_POSITIVE, 6.0] {
            let op = Op::Unary { fun: UnaryFn::LeakyRelu { alpha: v } };
            let attr = to_attr(&op).unwrap();
            assert_eq!(from_attr::<Op>(&attr).unwrap(), op, "{attr}");
        }
    }

    #[test]
    fn a_wrong_field_type_is_an_error() {
        let attr = Attr::Tagged("Softmax".into(), vec![("axis".into(), Attr::Str("x".into()))]);
        assert!(from_attr::<Op>(&attr).is_err());
    }
}
