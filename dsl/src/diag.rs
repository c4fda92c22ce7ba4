//! Diagnostics: an error at a place in the source, printed as
//! `file:line:column`, the source line and a caret under the culprit, then
//! what to do about it.

use std::fmt;

/// A byte range of the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The bytes `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        let clamp = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Span {
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A compile error: what is wrong, where, and (when there is one) the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where.
    pub span: Span,
    /// What is wrong, one sentence without a final period.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            help: None,
        }
    }

    /// Adds the fix.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span.start as usize)
    }

    /// The error as the compiler prints it: `file:line:col: error: ...`,
    /// the source line, a caret line and the help.
    pub fn render(&self, file: &str, source: &str) -> String {
        let start = floor_char(source, self.span.start as usize);
        let (line, col) = line_col(source, start);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let text = source[line_start..line_end].trim_end_matches('\r');
        let end = floor_char(source, (self.span.end as usize).clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let number = line.to_string();
        let pad = " ".repeat(number.len());
        // Tabs keep their width under the caret.
        let lead: String = source[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let mut out = format!(
            "{file}:{line}:{col}: error: {}\n{pad} |\n{number} | {}\n{pad} | {lead}{}",
            self.message,
            printable(text),
            "^".repeat(width)
        );
        if let Some(help) = &self.help {
            out.push_str(&format!("\n{pad} = help: {help}"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.help {
            write!(f, " (help: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Control characters would corrupt the terminal: show them escaped.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_line_and_a_caret_under_the_span() {
        let src = "parties a, b;\nfn main() -> bool @all { x }\n";
        let at = src.find('x').unwrap();
        let d = Diagnostic::new(Span::new(at, at + 1), "unknown name `x`").help("declare it");
        let r = d.render("t.quo", src);
        assert_eq!(
            r,
            "t.quo:2:26: error: unknown name `x`\n  |\n2 | fn main() -> bool @all { x }\n  |                          ^\n  = help: declare it"
        );
    }

    #[test]
    fn spans_past_the_end_or_inside_a_character_do_not_panic() {
        let src = "é\u{1}";
        for (s, e) in [(0, 1), (1, 2), (5, 9), (3, 0)] {
            let r = Diagnostic::new(Span::new(s, e), "m").render("f", src);
            assert!(r.starts_with("f:1:"), "{r}");
        }
    }
}
