//! Untrusted text on its way to a terminal, a log line or an error message: control
//! characters escaped (`\n`, `\u{1b}`), so a value can neither start a new log line nor drive
//! a terminal, and cut short, so it cannot fill one. Every such path in zt uses these.

use std::fmt;

/// `text` with control characters escaped, cut to `max_chars` characters (then `…`).
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars));
    for c in text.chars().take(max_chars) {
        push_escaped(&mut out, c);
    }
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// `text` cut to `max_chars` characters (then `…`) and quoted as Rust quotes a string:
/// quotes, backslashes and control characters escaped.
pub fn quoted(text: &str, max_chars: usize) -> String {
    let mut cut: String = text.chars().take(max_chars).collect();
    if text.chars().nth(max_chars).is_some() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// Displays untrusted text whole, with control characters escaped; for values that are
/// bounded already (policy names, groups) and go into a longer message.
pub struct Printable<'a>(pub &'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(self.0.len());
        for c in self.0.chars() {
            push_escaped(&mut out, c);
        }
        f.write_str(&out)
    }
}

/// A comma-separated list of [`Printable`] values.
pub struct PrintableList<'a>(pub &'a [String]);

impl fmt::Display for PrintableList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", Printable(item))?;
        }
        Ok(())
    }
}

fn push_escaped(out: &mut String, c: char) {
    if c.is_control() {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_never_passed_on() {
        let hostile = "ok\n2026-01-01 INFO forged\u{1b}[2J";
        for shown in [
            printable(hostile, 100),
            Printable(hostile).to_string(),
            quoted(hostile, 100),
        ] {
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
            assert!(
                shown.contains("\\n") && shown.contains("\\u{1b}"),
                "{shown}"
            );
        }
    }

    #[test]
    fn long_text_is_cut_with_a_mark() {
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("abc", 3), "abc");
        assert_eq!(quoted("abcdef", 3), "\"abc…\"");
        assert_eq!(quoted("a\"b", 10), "\"a\\\"b\"");
    }

    #[test]
    fn lists_are_comma_separated() {
        let items = ["a".to_owned(), "b\tc".to_owned()];
        assert_eq!(PrintableList(&items).to_string(), "a, b\\tc");
    }
}
