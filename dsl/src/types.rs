//! Types, and values of those types as bits: parsing inputs from text and
//! printing outputs.
//!
//! Every type has a fixed width; a value is laid out least significant bit
//! first, an array element 0 first, a tuple field 0 first.
//!
//! `fix` is signed fixed point, Q47.16: 64-bit two's complement holding
//! `value * 2^16`, so its range is about ±1.4e14 with a step of 2^-16
//! (about 0.0000153).

use std::fmt;

use quorate_circuits::Bits;

/// Fractional bits of `fix`.
pub const FIX_FRAC: u32 = 16;
/// Width of `fix`.
pub const FIX_BITS: u32 = 64;

/// An integer type: `u8`..`u64`, `i8`..`i64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntTy {
    /// Two's complement when true.
    pub signed: bool,
    /// 8, 16, 32 or 64.
    pub bits: u32,
}

impl IntTy {
    /// The smallest value.
    pub fn min(self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }

    /// The largest value.
    pub fn max(self) -> i128 {
        if self.signed {
            (1i128 << (self.bits - 1)) - 1
        } else {
            (1i128 << self.bits) - 1
        }
    }
}

/// A type of the language.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `bool`.
    Bool,
    /// An integer.
    Int(IntTy),
    /// `fix`.
    Fix,
    /// `[T; N]`.
    Array(Box<Type>, usize),
    /// `(T, U, ...)`; `()` is the empty tuple.
    Tuple(Vec<Type>),
}

impl Type {
    /// The name of a scalar type, if `name` is one.
    pub fn scalar(name: &str) -> Option<Type> {
        Some(match name {
            "bool" => Type::Bool,
            "fix" => Type::Fix,
            _ => {
                let (signed, n) = match name.as_bytes().first()? {
                    b'u' => (false, &name[1..]),
                    b'i' => (true, &name[1..]),
                    _ => return None,
                };
                let bits = match n {
                    "8" => 8,
                    "16" => 16,
                    "32" => 32,
                    "64" => 64,
                    _ => return None,
                };
                Type::Int(IntTy { signed, bits })
            }
        })
    }

    /// Scalar values (bools, integers, `fix`) in a value of this type
    /// (saturating).
    pub fn leaves(&self) -> u64 {
        match self {
            Type::Bool | Type::Int(_) | Type::Fix => 1,
            Type::Array(t, n) => t.leaves().saturating_mul(*n as u64),
            Type::Tuple(ts) => ts.iter().map(Type::leaves).fold(0, u64::saturating_add),
        }
    }

    /// Bits in a value of this type (saturating).
    pub fn width(&self) -> u64 {
        match self {
            Type::Bool => 1,
            Type::Int(t) => u64::from(t.bits),
            Type::Fix => u64::from(FIX_BITS),
            Type::Array(t, n) => t.width().saturating_mul(*n as u64),
            Type::Tuple(ts) => ts.iter().map(Type::width).fold(0, u64::saturating_add),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Int(t) => write!(f, "{}{}", if t.signed { 'i' } else { 'u' }, t.bits),
            Type::Fix => f.write_str("fix"),
            Type::Array(t, n) => write!(f, "[{t}; {n}]"),
            Type::Tuple(ts) => {
                f.write_str("(")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                if ts.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A decoded value, for printing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A bool.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A `fix`: the raw two's complement word, `value * 2^16`.
    Fix(i64),
    /// An array.
    Array(Vec<Value>),
    /// A tuple.
    Tuple(Vec<Value>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Fix(raw) => f.write_str(&fix_to_string(*raw)),
            Value::Array(items) | Value::Tuple(items) => {
                let (open, close) = if matches!(self, Value::Array(_)) {
                    ("[", "]")
                } else {
                    ("(", ")")
                };
                f.write_str(open)?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(close)
            }
        }
    }
}

/// The exact decimal of a `fix` (at most 16 fractional digits).
pub fn fix_to_string(raw: i64) -> String {
    let neg = raw < 0;
    let mag = i128::from(raw).unsigned_abs();
    let int = mag >> FIX_FRAC;
    let mut frac = mag & ((1 << FIX_FRAC) - 1);
    let mut digits = String::new();
    while frac != 0 {
        frac *= 10;
        digits.push(char::from(b'0' + (frac >> FIX_FRAC) as u8));
        frac &= (1 << FIX_FRAC) - 1;
    }
    let sign = if neg { "-" } else { "" };
    if digits.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{digits}")
    }
}

/// `text` (digits with one optional point, optional leading `-`) as a raw
/// `fix`, rounded to the nearest step (ties away from zero).
pub fn parse_fix(text: &str) -> Option<i64> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
        || int.len() > 20
    {
        return None;
    }
    let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    // Only the first 30 fractional digits matter at 16 bits.
    let frac = &frac[..frac.len().min(30)];
    let scale = 10i128.checked_pow(frac.len() as u32)?;
    let f: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scaled = (f << FIX_FRAC) + scale / 2;
    let mag = (int << FIX_FRAC) + scaled / scale;
    let v = if neg { -mag } else { mag };
    i64::try_from(v).ok()
}

/// Whether `text` is written like a decimal (whatever its size).
fn parse_fix_digits(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
}

/// Why a value could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError(pub String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

/// Reads an integer: decimal (optionally negative) or `0x` hex.
pub fn parse_int(text: &str) -> Option<i128> {
    let t = text.trim().replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r.to_owned()),
        None => (false, t.clone()),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 32 {
            return None;
        }
        i128::from_str_radix(h, 16).ok()?
    } else {
        if body.is_empty() || body.len() > 38 || !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Reads a value of type `ty` from text: `true`/`false`, integers in decimal
/// or `0x` hex, decimals for `fix`, `[a, b, c]` for arrays and `(a, b)` for
/// tuples.
pub fn parse_value(text: &str, ty: &Type) -> Result<Bits, ValueError> {
    let mut bits = Vec::with_capacity(usize::try_from(ty.width()).unwrap_or(0).min(1 << 24));
    let mut p = ValueParser { s: text, pos: 0 };
    p.value(ty, &mut bits, 0)?;
    p.ws();
    if p.pos != text.len() {
        return Err(ValueError(format!(
            "unexpected `{}` after a value of type {ty}",
            p.rest_preview()
        )));
    }
    Ok(Bits::from_bools(&bits))
}

/// Reads an array of type `ty` from its elements' texts (as from a CSV
/// column).
pub fn parse_elements(items: &[&str], ty: &Type) -> Result<Bits, ValueError> {
    let Type::Array(elem, n) = ty else {
        return Err(ValueError(format!(
            "a list of values needs an array type, not {ty}"
        )));
    };
    if items.len() != *n {
        return Err(ValueError(format!(
            "{} values for an array of {n} ({ty})",
            items.len()
        )));
    }
    let mut bits = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let b = parse_value(item, elem).map_err(|e| ValueError(format!("element {i}: {e}")))?;
        bits.extend(b.iter());
    }
    Ok(Bits::from_bools(&bits))
}

struct ValueParser<'a> {
    s: &'a str,
    pos: usize,
}

impl ValueParser<'_> {
    fn ws(&mut self) {
        while self.s[self.pos..].starts_with(|c: char| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn rest_preview(&self) -> String {
        self.s[self.pos..].chars().take(20).collect()
    }

    fn eat(&mut self, c: char) -> bool {
        self.ws();
        if self.s[self.pos..].starts_with(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, ty: &Type) -> Result<(), ValueError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(ValueError(format!(
                "expected `{c}` in a value of type {ty}, found `{}`",
                self.rest_preview()
            )))
        }
    }

    fn atom(&mut self) -> &str {
        self.ws();
        let start = self.pos;
        while let Some(c) = self.s[self.pos..].chars().next() {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '+') {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        &self.s[start..self.pos]
    }

    fn value(&mut self, ty: &Type, out: &mut Vec<bool>, depth: usize) -> Result<(), ValueError> {
        if depth > 32 {
            return Err(ValueError("values nested too deeply".into()));
        }
        match ty {
            Type::Bool => match self.atom() {
                "true" => out.push(true),
                "false" => out.push(false),
                a => {
                    return Err(ValueError(format!(
                        "`{a}` is not a bool: use true or false"
                    )));
                }
            },
            Type::Int(t) => {
                let a = self.atom().to_owned();
                let v =
                    parse_int(&a).ok_or_else(|| ValueError(format!("`{a}` is not an integer")))?;
                if v < t.min() || v > t.max() {
                    return Err(ValueError(format!(
                        "{v} is out of range for {ty} ({}..={})",
                        t.min(),
                        t.max()
                    )));
                }
                let raw = v as u128;
                out.extend((0..t.bits).map(|i| raw >> i & 1 == 1));
            }
            Type::Fix => {
                let a = self.atom().to_owned();
                let raw = parse_fix(&a).ok_or_else(|| {
                    if parse_fix_digits(&a) {
                        ValueError(format!(
                            "{a} is out of range for fix (about -140737488355328..140737488355328)"
                        ))
                    } else {
                        ValueError(format!(
                            "`{a}` is not a fix value: write a decimal like -12.5"
                        ))
                    }
                })?;
                out.extend((0..FIX_BITS).map(|i| raw >> i & 1 == 1));
            }
            Type::Array(elem, n) => {
                self.expect('[', ty)?;
                for i in 0..*n {
                    if i > 0 {
                        self.expect(',', ty)?;
                    }
                    self.value(elem, out, depth + 1)?;
                }
                self.eat(',');
                if !self.eat(']') {
                    return Err(ValueError(format!(
                        "expected {n} elements for {ty}, found more or a malformed element at `{}`",
                        self.rest_preview()
                    )));
                }
            }
            Type::Tuple(items) => {
                self.expect('(', ty)?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        self.expect(',', ty)?;
                    }
                    self.value(t, out, depth + 1)?;
                }
                self.eat(',');
                self.expect(')', ty)?;
            }
        }
        Ok(())
    }
}

/// Decodes `bits` (at least `ty.width()` of them, from `offset`) as a value.
pub fn decode(ty: &Type, bits: &Bits) -> Value {
    let mut at = 0;
    decode_at(ty, bits, &mut at)
}

fn decode_at(ty: &Type, bits: &Bits, at: &mut usize) -> Value {
    let mut take = |n: u32| -> u128 {
        let mut v = 0u128;
        for i in 0..n as usize {
            if *at + i < bits.width() && bits.get(*at + i) {
                v |= 1 << i;
            }
        }
        *at += n as usize;
        v
    };
    match ty {
        Type::Bool => Value::Bool(take(1) == 1),
        Type::Int(t) => {
            let raw = take(t.bits);
            let v = if t.signed && raw >> (t.bits - 1) & 1 == 1 {
                raw as i128 - (1i128 << t.bits)
            } else {
                raw as i128
            };
            Value::Int(v)
        }
        Type::Fix => Value::Fix(take(FIX_BITS) as u64 as i64),
        Type::Array(elem, n) => Value::Array((0..*n).map(|_| decode_at(elem, bits, at)).collect()),
        Type::Tuple(ts) => Value::Tuple(ts.iter().map(|t| decode_at(t, bits, at)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_text_round_trips() {
        for (text, raw) in [
            ("1.5", 98304),
            ("-0.25", -16384),
            ("0.0000152587890625", 1),
            ("3", 196608),
        ] {
            assert_eq!(parse_fix(text), Some(raw), "{text}");
            assert_eq!(fix_to_string(raw), text);
        }
        assert_eq!(parse_fix("0.1"), Some(6554));
        assert_eq!(parse_fix("1e5"), None);
        assert_eq!(parse_fix("999999999999999999999"), None);
    }

    #[test]
    fn values_parse_and_decode() {
        let ty = Type::Tuple(vec![
            Type::Array(
                Box::new(Type::Int(IntTy {
                    signed: true,
                    bits: 8,
                })),
                3,
            ),
            Type::Bool,
            Type::Fix,
        ]);
        let bits = parse_value("([1, -2, 0x7f], true, -1.5)", &ty).unwrap();
        assert_eq!(bits.width(), 24 + 1 + 64);
        assert_eq!(decode(&ty, &bits).to_string(), "([1, -2, 127], true, -1.5)");
        assert!(parse_value("[1, 2]", &Type::Array(Box::new(Type::Bool), 2)).is_err());
        let u8t = Type::Int(IntTy {
            signed: false,
            bits: 8,
        });
        assert!(
            parse_value("256", &u8t)
                .unwrap_err()
                .0
                .contains("out of range")
        );
        assert!(parse_value("-1", &u8t).is_err());
        assert!(parse_value("1 2", &u8t).is_err());
    }
}
