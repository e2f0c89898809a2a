//! A JSON reader for the typed read of messaging events, the bulk of every delivery.
//!
//! serde_json restarts its string scan after every escape (~90 instructions each), and Meta's wire form
//! escapes every `/` and every non-ASCII character, so a Portuguese text or a CDN URL costs it dozens of
//! restarts. This reader finds the end of a string with `memchr2` and checks escapes as it jumps to them, and
//! hands strings to [`Text`](crate::text::Text) as serde_json's raw values, undecoded.
//!
//! It reads only the common shape of an event and declines the rest: any input it is not sure it reads
//! exactly as serde_json does (a number that is not a plain non-negative integer, an escaped member name, an
//! escaped string read as anything but raw JSON, a struct written as an array, nesting deeper than
//! [`MAX_DEPTH`], bytes that are not JSON). A declined read costs only the time spent so far: the caller
//! reads the event with serde_json instead. So whenever this reader succeeds, the value is the one serde_json
//! would have produced, and every error, position and message still comes from serde_json.

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::text::TEXT_TOKEN;

/// serde_json's name for its raw value type: a newtype struct of this name asks for the value's JSON text.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Events are a few levels deep. Deeper input is left to serde_json, which refuses nesting over 128 levels:
/// declining well before that keeps this reader from accepting what serde_json would refuse.
const MAX_DEPTH: usize = 64;

/// The reader declined: the input is not JSON, or not a shape it reads.
#[derive(Debug)]
pub(crate) struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("declined by the fast reader")
    }
}

impl std::error::Error for Declined {}

impl de::Error for Declined {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Declined
    }
}

type Result<T> = std::result::Result<T, Declined>;

/// A cursor over JSON text.
pub(crate) struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Reader {
            text,
            at: 0,
            depth: 0,
        }
    }

    /// How many bytes have been read.
    pub(crate) fn offset(&self) -> usize {
        self.at
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Result<u8> {
        let bytes = self.bytes();
        while let Some(&byte) = bytes.get(self.at) {
            if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                return Ok(byte);
            }
            self.at += 1;
        }
        Err(Declined)
    }

    /// Consumes `literal` (`null`, `true`, `false`), which starts at the cursor.
    fn literal(&mut self, literal: &[u8]) -> Result<()> {
        let end = self.at + literal.len();
        if self.bytes().get(self.at..end) != Some(literal) {
            return Err(Declined);
        }
        self.at = end;
        Ok(())
    }

    /// A string starting at the cursor: its text between the quotes, and whether it holds escapes.
    fn string(&mut self) -> Result<(&'a str, bool)> {
        let bytes = self.bytes();
        let start = self.at + 1;
        let mut at = start;
        let mut escaped = false;
        loop {
            at += find_special(bytes.get(at..).ok_or(Declined)?).ok_or(Declined)?;
            match bytes[at] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    at += escape_len(&bytes[at..])?;
                }
                // A raw control character: not JSON.
                _ => return Err(Declined),
            }
        }
        self.at = at + 1;
        // Both ends are ASCII quotes, so this never splits a character.
        self.text
            .get(start..at)
            .map(|s| (s, escaped))
            .ok_or(Declined)
    }

    /// A string without escapes, as serde_json hands out borrowed strings.
    fn plain_string(&mut self) -> Result<&'a str> {
        match self.string()? {
            (text, false) => Ok(text),
            // serde_json would decode it; surrogate escapes make that subtle, so it is left to serde_json.
            (_, true) => Err(Declined),
        }
    }

    /// A non-negative integer that fits a `u64`, as serde_json reads one: anything with a sign, a fraction,
    /// an exponent or more digits is declined (serde_json would read it as a float, or refuse it).
    fn integer(&mut self) -> Result<u64> {
        let bytes = self.bytes();
        let start = self.at;
        let digits = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = start + digits;
        let leading_zero = digits > 1 && bytes[start] == b'0';
        let fraction = matches!(bytes.get(end), Some(b'.' | b'e' | b'E'));
        if digits == 0 || leading_zero || fraction {
            return Err(Declined);
        }
        self.at = end;
        self.text[start..end].parse().map_err(|_| Declined)
    }

    /// Skips a number, checking JSON's grammar for it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn skip_number(&mut self) -> Result<()> {
        if self.bytes().get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        let start = self.at;
        let digits = self.digits();
        if digits == 0 || (digits > 1 && self.bytes()[start] == b'0') {
            return Err(Declined);
        }
        if self.bytes().get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(Declined);
            }
        }
        if let Some(b'e' | b'E') = self.bytes().get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes().get(self.at) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(Declined);
            }
        }
        Ok(())
    }

    /// Consumes a run of digits and says how long it was.
    fn digits(&mut self) -> usize {
        let count = self.bytes()[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.at += count;
        count
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        self.at += 1;
        if self.depth > MAX_DEPTH {
            return Err(Declined);
        }
        Ok(())
    }

    /// Consumes the byte that closes the current object or array.
    fn leave(&mut self, close: u8) -> Result<()> {
        if self.peek()? != close {
            return Err(Declined);
        }
        self.at += 1;
        self.depth -= 1;
        Ok(())
    }

    /// Before an item or member other than the first: the comma, and whether a value follows it.
    fn separator(&mut self, first: &mut bool, close: u8) -> Result<bool> {
        let byte = self.peek()?;
        if byte == close {
            return Ok(false);
        }
        if !std::mem::take(first) {
            if byte != b',' {
                return Err(Declined);
            }
            self.at += 1;
            // A comma right before the closing byte is not JSON.
            if self.peek()? == close {
                return Err(Declined);
            }
        }
        Ok(true)
    }

    fn colon(&mut self) -> Result<()> {
        if self.peek()? != b':' {
            return Err(Declined);
        }
        self.at += 1;
        Ok(())
    }

    /// Skips one value, checking that it is JSON.
    fn skip_value(&mut self) -> Result<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => {
                self.enter()?;
                let mut first = true;
                while self.separator(&mut first, b'}')? {
                    if self.peek()? != b'"' {
                        return Err(Declined);
                    }
                    self.string()?;
                    self.colon()?;
                    self.skip_value()?;
                }
                self.leave(b'}')
            }
            b'[' => {
                self.enter()?;
                let mut first = true;
                while self.separator(&mut first, b']')? {
                    self.skip_value()?;
                }
                self.leave(b']')
            }
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => Err(Declined),
        }
    }

    /// The JSON text of the next value, as serde_json hands raw values to `RawValue`.
    fn raw_value<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        self.peek()?;
        let start = self.at;
        self.skip_value()?;
        let raw = &self.text[start..self.at];
        visitor.visit_map(RawValueAccess { raw: Some(raw) })
    }

    /// A string for [`Text`](crate::text::Text): borrowed as it is when it has no escapes, else handed over as
    /// its JSON literal, the raw value `Text` keeps and decodes on first use.
    fn text<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        let start = self.at;
        match self.string()? {
            (text, false) => visitor.visit_borrowed_str(text),
            (_, true) => {
                let raw = Some(&self.text[start..self.at]);
                visitor.visit_newtype_struct(MapAccessDeserializer::new(RawValueAccess { raw }))
            }
        }
    }

    fn visit_object<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        self.enter()?;
        let value = visitor.visit_map(Members {
            reader: self,
            first: true,
        })?;
        self.leave(b'}')?;
        Ok(value)
    }

    fn visit_array<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        self.enter()?;
        let value = visitor.visit_seq(Items {
            reader: self,
            first: true,
        })?;
        self.leave(b']')?;
        Ok(value)
    }
}

/// The offset of the first byte that ends a plain run of string: `"`, `\\` or a control character. Eight
/// bytes at a time: most strings are short member names and ids, where setting up `memchr2` costs more than
/// the scan, and the text between escapes is short too.
fn find_special(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let found = special_bytes(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let special = |&b: &u8| b == b'"' || b == b'\\' || b < 0x20;
    chunks
        .remainder()
        .iter()
        .position(special)
        .map(|i| offset + i)
}

/// The high bit of each byte of `word` that is `"`, `\\` or below 0x20, at least of the lowest such byte:
/// bytes above it may be flagged wrongly by the borrow of the subtractions, so only the lowest flag counts.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x;
    // Flipping bit 1 maps `"` (0x22) to 0x20 and keeps the control characters below 0x20, while no other
    // byte lands below 0x21: one comparison finds both.
    let quote_or_control = below(word ^ (ONES * 2), 0x21);
    let backslash = below(word ^ (ONES * u64::from(b'\\')), 1);
    (quote_or_control | backslash) & (ONES << 7)
}

/// The length of the escape at the start of `bytes` (a backslash and what follows), if it is one JSON allows.
/// `\u` escapes of lone surrogates are allowed, as serde_json allows them in values it does not decode.
fn escape_len(bytes: &[u8]) -> Result<usize> {
    match bytes.get(1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(2),
        Some(b'u') => match bytes.get(2..6) {
            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => Ok(6),
            _ => Err(Declined),
        },
        _ => Err(Declined),
    }
}

/// Declines every listed method: types that ask for them are left to serde_json.
macro_rules! decline {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
            Err(Declined)
        })*
    };
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = Declined;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b'"' => visitor.visit_borrowed_str(self.plain_string()?),
            b'{' => self.visit_object(visitor),
            b'[' => self.visit_array(visitor),
            b'0'..=b'9' => visitor.visit_u64(self.integer()?),
            b'n' => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            _ => Err(Declined),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b't' | b'f' => self.deserialize_any(visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b'0'..=b'9' => visitor.visit_u64(self.integer()?),
            _ => Err(Declined),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b'"' => visitor.visit_borrowed_str(self.plain_string()?),
            _ => Err(Declined),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b'n' => self.deserialize_any(visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        match name {
            RAW_VALUE_TOKEN => self.raw_value(visitor),
            TEXT_TOKEN if self.peek()? == b'"' => self.text(visitor),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b'[' => self.visit_array(visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b'{' => self.visit_object(visitor),
            _ => Err(Declined),
        }
    }

    /// Objects only: serde_json also reads a struct from an array of its fields, which Meta never sends.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    /// Unit variants written as strings only.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek()? {
            b'"' => visitor.visit_enum(BorrowedStrDeserializer::new(self.plain_string()?)),
            _ => Err(Declined),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    decline! {
        deserialize_i128 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_bytes deserialize_byte_buf
    }
}

/// The members of an object; the reader stands after `{`.
struct Members<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
}

impl<'de> MapAccess<'de> for Members<'_, 'de> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !self.reader.separator(&mut self.first, b'}')? {
            return Ok(None);
        }
        if self.reader.peek()? != b'"' {
            return Err(Declined);
        }
        let name = self.reader.plain_string()?;
        seed.deserialize(MemberName(name)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.reader.colon()?;
        seed.deserialize(&mut *self.reader)
    }
}

/// The items of an array; the reader stands after `[`.
struct Items<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !self.reader.separator(&mut self.first, b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

/// A member name, already read. Only read as a string: serde_json can also read numbers and booleans out of
/// names, which no event type asks for.
struct MemberName<'a>(&'a str);

impl<'de> Deserializer<'de> for MemberName<'de> {
    type Error = Declined;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    decline! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf deserialize_option
        deserialize_unit deserialize_seq deserialize_map
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Declined)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Declined)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(Declined)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Declined)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Declined)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Declined)
    }
}

/// What serde_json gives `RawValue`'s visitor: a map of one member, its private token and the raw text.
struct RawValueAccess<'a> {
    raw: Option<&'a str>,
}

impl<'de> MapAccess<'de> for RawValueAccess<'de> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.raw.is_none() {
            return Ok(None);
        }
        seed.deserialize(BorrowedStrDeserializer::new(RAW_VALUE_TOKEN))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let raw = self.raw.take().ok_or(Declined)?;
        seed.deserialize(BorrowedStrDeserializer::new(raw))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::LazyLock;

    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;
    use crate::messaging::Wire;

    /// The reader's read of the event at the start of `text` and where it ends; `None` when it declines.
    fn fast(text: &str) -> Option<(String, usize)> {
        let mut reader = Reader::new(text);
        let wire = Box::<Wire<'_>>::deserialize(&mut reader).ok()?;
        Some((format!("{wire:?}"), reader.offset()))
    }

    /// The same read by serde_json.
    fn slow(text: &str) -> Option<(String, usize)> {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Box<Wire<'_>>>();
        let wire = stream.next()?.ok()?;
        Some((format!("{wire:?}"), stream.byte_offset()))
    }

    /// Checks that the reader, when it reads `text`, reads what serde_json reads; says whether it read it.
    fn agrees(text: &str) -> bool {
        let fast = fast(text);
        if let Some(fast) = &fast {
            assert_eq!(Some(fast), slow(text).as_ref(), "{text}");
        }
        fast.is_some()
    }

    /// Every messaging event of every fixture, as written and in Meta's wire form.
    fn fixture_events() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut events = Vec::new();
        for dir in [root.clone(), root.join("extra")] {
            for path in std::fs::read_dir(dir).unwrap() {
                let path = path.unwrap().path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let body: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                let entries = body["entry"].as_array().cloned().unwrap_or_default();
                for entry in entries {
                    for array in ["messaging", "standby"] {
                        for event in entry[array].as_array().cloned().unwrap_or_default() {
                            events.push(serde_json::to_string_pretty(&event).unwrap());
                            let wire = crate::wire::encode(&event);
                            events.push(String::from_utf8(wire).unwrap());
                        }
                    }
                }
            }
        }
        events
    }

    #[test]
    fn finds_the_first_special_byte_wherever_it_is() {
        let naive = |bytes: &[u8]| {
            let special = |&b: &u8| b == b'"' || b == b'\\' || b < 0x20;
            bytes.iter().position(special)
        };
        for len in 0..20 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    // Every byte value, followed by every kind of neighbour a borrow could touch.
                    for next in [b'a', 0x5d, 0x23, 0x21, 0x00, 0xff] {
                        let mut bytes = vec![b'a'; len];
                        bytes[at] = byte;
                        if at + 1 < len {
                            bytes[at + 1] = next;
                        }
                        assert_eq!(find_special(&bytes), naive(&bytes), "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn reads_the_fixtures_as_serde_json_does() {
        let events = fixture_events();
        let read = events.iter().filter(|event| agrees(event)).count();
        // Only events with numbers other than plain non-negative integers are declined.
        assert!(read * 10 >= events.len() * 9, "{read} of {}", events.len());
        let body = include_str!("../benches/delivery_1300.json");
        let event = &body[body.find("[{\"sender").unwrap() + 1..];
        assert!(agrees(event));
    }

    #[test]
    fn declines_what_is_not_json() {
        let event = |message: &str| {
            format!(r#"{{"sender":{{"id":"1"}},"timestamp":5,"message":{message}}}"#)
        };
        for message in [
            r#"{"text":"a\x"}"#,
            r#"{"text":"a\u12"}"#,
            r#"{"text":"a\u12g4"}"#,
            "{\"text\":\"a\u{1}\"}",
            "{\"te\u{1f}xt\":\"a\"}",
            r#"{"text":"a",}"#,
            r#"{"text":"a" "mid":"b"}"#,
            r#"{"nlp":[1,]}"#,
            r#"{"nlp":[1 2]}"#,
            r#"{"nlp":{"a":1,}}"#,
            r#"{"nlp":{"a" 1}}"#,
            r#"{"nlp":{1:1}}"#,
            r#"{"nlp":01}"#,
            r#"{"nlp":-01}"#,
            r#"{"nlp":1.}"#,
            r#"{"nlp":.5}"#,
            r#"{"nlp":1e}"#,
            r#"{"nlp":1e+}"#,
            r#"{"nlp":-}"#,
            r#"{"nlp":nul}"#,
            r#"{"nlp":tru}"#,
            r#"{"nlp":+1}"#,
            r#"{"x":[[[[]]]}"#,
            r#"{"text":"a"#,
        ] {
            let event = event(message);
            assert!(fast(&event).is_none(), "{event}");
            assert!(slow(&event).is_none(), "{event}");
        }
    }

    #[test]
    fn declines_what_it_might_read_differently() {
        for event in [
            // Numbers serde_json reads as floats or signed integers.
            r#"{"timestamp":-1}"#,
            r#"{"timestamp":-0}"#,
            r#"{"timestamp":1.5}"#,
            r#"{"timestamp":1e3}"#,
            r#"{"timestamp":18446744073709551616}"#,
            // Escapes serde_json would decode.
            r#"{"sender":{"id":"\u0031"}}"#,
            r#"{"sender":{"id":"\ud800"}}"#,
            r#"{"s\u0065nder":{"id":"1"}}"#,
            // A struct as an array of its fields.
            r#"{"sender":["1"]}"#,
            // A repeated field: both refuse it (the event becomes `unknown`).
            r#"{"sender":{"id":"1"},"message":{"text":"a","text":"b"}}"#,
        ] {
            assert!(!agrees(event), "{event}");
        }
        let deep = |depth: usize| {
            let nested = "[".repeat(depth) + &"]".repeat(depth);
            format!(r#"{{"sender":{{"id":"1"}},"teleport":{nested}}}"#)
        };
        assert!(agrees(&deep(MAX_DEPTH - 1)));
        assert!(!agrees(&deep(MAX_DEPTH)));
        assert!(!agrees(&deep(200)));
    }

    #[test]
    fn reads_the_common_shapes() {
        for event in [
            r#"{"sender":{"id":"1"},"recipient":{"id":2},"timestamp":0,"message":{"mid":"m","text":"\u00e4\ud800\/","is_echo":true,"app_id":263902037430900,"metadata":null}}"#,
            r#" { "sender" : { "user_ref" : "u" } , "optin" : { "ref" : 7 , "user_ref" : "u" } } trailing"#,
            r#"{"sender":{"id":"1"},"timestamp":"1767610017000","teleport":{"a":[1,-2.5e-3,true,false,null,"\"",{}]}}"#,
            r#"{"sender":{"id":"1"},"reaction":{"mid":"m","action":"react","emoji":"\u2764","reaction":"love"}}"#,
            r#"{"sender":{"id":"1"},"message_edit":{"mid":"m","text":"t","num_edit":3}}"#,
            r#"{"message":{"attachments":[{"type":"image","payload":{"url":"https:\/\/x"}}],"quick_reply":{"payload":42}}}"#,
        ] {
            assert!(agrees(event), "{event}");
        }
    }

    /// Bytes that change how JSON reads.
    const ALPHABET: &[u8] = b"\"\\{}[]:,0123456789-+.eEtrufalsn u/\x01\x1f\xc3\xa4";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// A fixture event with a few bytes replaced, inserted or removed: wherever the reader reads it, it
        /// reads what serde_json reads.
        #[test]
        fn agrees_with_serde_json_on_damaged_events(
            pick in any::<prop::sample::Index>(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, any::<prop::sample::Index>()), 1..4),
        ) {
            static EVENTS: LazyLock<Vec<String>> = LazyLock::new(fixture_events);
            let mut bytes = pick.get(&EVENTS).clone().into_bytes();
            for (at, edit, byte) in edits {
                let at = at.index(bytes.len() + 1);
                let byte = *byte.get(ALPHABET);
                match edit {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                agrees(text);
            }
        }
    }
}
