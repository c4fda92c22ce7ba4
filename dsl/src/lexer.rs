//! The lexer: source text to tokens with their spans.

use crate::diag::{Diagnostic, Span};

/// A token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A name.
    Ident(String),
    /// An integer literal (decimal, `0x` hex or `0b` binary).
    Int(u128),
    /// A decimal literal with a point, kept as written: a `fix` constant.
    Decimal(String),
    /// A keyword.
    Kw(Kw),
    /// Punctuation or an operator.
    P(&'static str),
    /// The end of the file.
    Eof,
}

/// Keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Kw {
    Parties,
    Fn,
    Let,
    Mut,
    If,
    Else,
    For,
    In,
    Const,
    Param,
    True,
    False,
    As,
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("parties", Kw::Parties),
    ("fn", Kw::Fn),
    ("let", Kw::Let),
    ("mut", Kw::Mut),
    ("if", Kw::If),
    ("else", Kw::Else),
    ("for", Kw::For),
    ("in", Kw::In),
    ("const", Kw::Const),
    ("param", Kw::Param),
    ("true", Kw::True),
    ("false", Kw::False),
    ("as", Kw::As),
];

/// Longest first, so `<<=` is not read as `<` `<=`.
const PUNCT: &[&str] = &[
    "<<=", ">>=", "..", "->", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "+=", "-=", "*=",
    "/=", "%=", "&=", "|=", "^=", "(", ")", "{", "}", "[", "]", ",", ";", ":", "@", "=", "<", ">",
    "+", "-", "*", "/", "%", "&", "|", "^", "!", ".",
];

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Int(v) => write!(f, "`{v}`"),
            Tok::Decimal(s) => write!(f, "`{s}`"),
            Tok::Kw(k) => {
                let name = KEYWORDS
                    .iter()
                    .find(|(_, x)| x == k)
                    .map_or("?", |(s, _)| s);
                write!(f, "`{name}`")
            }
            Tok::P(p) => write!(f, "`{p}`"),
            Tok::Eof => f.write_str("the end of the file"),
        }
    }
}

/// Source larger than this is refused (a program, not a data file).
pub const MAX_SOURCE: usize = 4 << 20;

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub fn lex(src: &str) -> Result<Vec<(Tok, Span)>, Diagnostic> {
    if src.len() > MAX_SOURCE {
        return Err(Diagnostic::new(
            Span::new(0, 0),
            format!(
                "the source is {} bytes, more than the limit of {MAX_SOURCE}",
                src.len()
            ),
        ));
    }
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if src[i..].starts_with("//") {
            i = src[i..].find('\n').map_or(b.len(), |k| i + k);
        } else if src[i..].starts_with("/*") {
            let Some(k) = src[i + 2..].find("*/") else {
                return Err(Diagnostic::new(Span::new(i, i + 2), "unterminated comment")
                    .help("close it with `*/`"));
            };
            i += k + 4;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &src[s..i];
            let tok = KEYWORDS
                .iter()
                .find(|(k, _)| *k == word)
                .map_or_else(|| Tok::Ident(word.to_owned()), |(_, kw)| Tok::Kw(*kw));
            out.push((tok, Span::new(s, i)));
        } else if c.is_ascii_digit() {
            let (tok, end) = number(src, i)?;
            out.push((tok, Span::new(i, end)));
            i = end;
        } else if let Some(p) = PUNCT.iter().find(|p| src[i..].starts_with(**p)) {
            out.push((Tok::P(p), Span::new(i, i + p.len())));
            i += p.len();
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            let end = i + ch.len_utf8();
            return Err(Diagnostic::new(
                Span::new(i, end),
                format!("unexpected character {ch:?}"),
            ));
        }
    }
    out.push((Tok::Eof, Span::new(b.len(), b.len())));
    Ok(out)
}

fn number(src: &str, s: usize) -> Result<(Tok, usize), Diagnostic> {
    let b = src.as_bytes();
    let (radix, digits_from) = match src.get(s..s + 2) {
        Some("0x") | Some("0X") => (16, s + 2),
        Some("0b") | Some("0B") => (2, s + 2),
        _ => (10, s),
    };
    let mut i = digits_from;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    // A decimal point followed by a digit makes a fix literal; `0..n` is a range.
    let decimal =
        radix == 10 && b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit);
    if decimal {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
        let text: String = src[s..i].chars().filter(|&c| c != '_').collect();
        if !text
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        {
            return Err(Diagnostic::new(
                Span::new(s, i),
                format!("malformed number `{}`", &src[s..i]),
            ));
        }
        return Ok((Tok::Decimal(text), i));
    }
    let digits: String = src[digits_from..i].chars().filter(|&c| c != '_').collect();
    let bad = || {
        Diagnostic::new(
            Span::new(s, i),
            format!("malformed number `{}`", &src[s..i]),
        )
    };
    if digits.is_empty() {
        return Err(bad());
    }
    match u128::from_str_radix(&digits, radix) {
        Ok(v) => Ok((Tok::Int(v), i)),
        Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => Err(Diagnostic::new(
            Span::new(s, i),
            format!("the number `{}` is too large", &src[s..i]),
        )
        .help("integers have at most 64 bits")),
        Err(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn numbers_ranges_and_operators() {
        assert_eq!(
            toks("0..n // c\n/* x */ 2.5"),
            vec![
                Tok::Int(0),
                Tok::P(".."),
                Tok::Ident("n".into()),
                Tok::Decimal("2.5".into()),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("0x1F <<= 1.50 0b101 a"),
            vec![
                Tok::Int(31),
                Tok::P("<<="),
                Tok::Decimal("1.50".into()),
                Tok::Int(5),
                Tok::Ident("a".into()),
                Tok::Eof
            ]
        );
        assert!(lex("0x1F_u").is_err());
        assert!(lex("/* open").is_err());
        assert!(lex("a # b").is_err());
    }
}
