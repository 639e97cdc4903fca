//! Untrusted text on its way to a terminal, a log line or an error message: every character
//! that could drive a terminal, start a new line or hide what the text says is escaped (`\n`,
//! `\u{1b}`, `\u{202e}`, see [`needs_escape`]), and the text is cut short, so it can fill
//! neither a screen nor a log. Every such path in zt uses these:
//!
//! - [`Printable`] (one value, in `format!`/`eprintln!` arguments) and [`PrintableList`]
//!   (several, comma-separated): the one way to put outside text into human output. Outside
//!   text is anything zt did not write itself: the IdP's claims and errors, the broker's
//!   answers and discovery document, certificates, `session.json` (written from those),
//!   posture evidence, the device-code prompt, error messages of parsers that quote their input.
//! - [`printable`], [`quoted`]: the same escaping with a caller-chosen length, as a `String`.
//!
//! `{:?}` on a string escapes at least the same characters (Rust's `Debug` escapes every
//! non-printable character) and stays acceptable where a value is shown quoted, but does not
//! cut. JSON output needs none of this: serde escapes it, and it carries values unchanged.
//!
//! Escaped output never contains a character that [`needs_escape`], so escaping twice changes
//! nothing: a message may escape a value that an earlier layer already escaped. A backslash is
//! kept as it is, so a value may contain a literal `\n`; that fools nobody's terminal.

use std::fmt;

/// How many characters of one value [`Printable`] shows; a longer value is cut (then `…`).
pub const SHOWN_CHARS: usize = 500;

/// Whether `c` must not reach a terminal or a log line as it is:
///
/// - control characters: C0 (`\n`, `\r`, ESC, BEL, …), DEL, and C1 (U+0080–U+009F, among them
///   U+009B, the one-byte CSI that some terminals obey like `ESC [`);
/// - bidirectional formatting (U+061C, U+200E/U+200F, U+202A–U+202E, U+2066–U+2069), which
///   reorders what follows on the line, so that the screen shows other text than the bytes;
/// - invisible characters that make two different values look the same: zero-width space,
///   joiners and non-joiner (U+200B–U+200D), word joiner and invisible operators
///   (U+2060–U+2064), U+FEFF, the soft hyphen U+00AD, U+180E, and the deprecated format
///   characters U+206A–U+206F;
/// - line and paragraph separators (U+2028, U+2029), interlinear annotations
///   (U+FFF9–U+FFFB) and tag characters (U+E0000–U+E007F).
///
/// Names in scripts that need a joiner (Persian, Indic) and emoji sequences show it escaped:
/// a security tool shows what a value is, not what it looks like.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `text` with the characters of [`needs_escape`] escaped, cut to `max_chars` characters
/// (then `…`).
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars));
    write_escaped(&mut out, text, max_chars).expect("writing to a String cannot fail");
    out
}

/// `text` cut to `max_chars` characters (then `…`) and quoted as Rust quotes a string:
/// quotes, backslashes and every character of [`needs_escape`] escaped.
pub fn quoted(text: &str, max_chars: usize) -> String {
    let mut cut: String = text.chars().take(max_chars).collect();
    if text.chars().nth(max_chars).is_some() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// One untrusted value for human output, escaped and cut at [`SHOWN_CHARS`]:
/// `eprintln!("identity: {}", Printable(&session.subject))`.
#[derive(Debug, Clone, Copy)]
pub struct Printable<'a>(pub &'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() {
            // Padding counts the escaped characters, as they are shown.
            return f.pad(&printable(self.0, SHOWN_CHARS));
        }
        write_escaped(f, self.0, SHOWN_CHARS)
    }
}

/// A comma-separated list of [`Printable`] values.
#[derive(Debug, Clone, Copy)]
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

fn write_escaped(out: &mut impl fmt::Write, text: &str, max_chars: usize) -> fmt::Result {
    let mut chars = text.chars();
    for c in chars.by_ref().take(max_chars) {
        if needs_escape(c) {
            // `\n`, `\r`, `\t`, else `\u{…}`: never a character that needs escaping.
            for e in c.escape_default() {
                out.write_char(e)?;
            }
        } else {
            out.write_char(c)?;
        }
    }
    if chars.next().is_some() {
        out.write_char('…')?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a hostile identity provider or broker might send, one attack per entry, with how
    /// it must be shown.
    const HOSTILE: &[(&str, &str, &str)] = &[
        (
            "newline",
            "ok\nzt: Logged in as admin",
            r"ok\nzt: Logged in as admin",
        ),
        ("carriage return", "ok\rforged", r"ok\rforged"),
        ("CRLF", "ok\r\nforged", r"ok\r\nforged"),
        ("ESC CSI", "a\u{1b}[2Jb", r"a\u{1b}[2Jb"),
        ("OSC title", "\u{1b}]0;title\u{7}", r"\u{1b}]0;title\u{7}"),
        ("NUL, TAB, DEL", "a\0b\tc\u{7f}", r"a\u{0}b\tc\u{7f}"),
        ("C1 CSI", "a\u{9b}31mb", r"a\u{9b}31mb"),
        ("C1 NEL and OSC", "a\u{85}b\u{9d}c", r"a\u{85}b\u{9d}c"),
        ("RLO", "admin\u{202e}gpj.exe", r"admin\u{202e}gpj.exe"),
        (
            "bidi embeddings",
            "\u{202a}\u{202b}\u{202c}\u{202d}",
            r"\u{202a}\u{202b}\u{202c}\u{202d}",
        ),
        (
            "bidi isolates",
            "\u{2066}a\u{2067}b\u{2068}c\u{2069}",
            r"\u{2066}a\u{2067}b\u{2068}c\u{2069}",
        ),
        (
            "bidi marks",
            "\u{200e}\u{200f}\u{61c}",
            r"\u{200e}\u{200f}\u{61c}",
        ),
        (
            "zero-width",
            "ad\u{200b}m\u{200c}i\u{200d}n\u{2060}\u{feff}",
            r"ad\u{200b}m\u{200c}i\u{200d}n\u{2060}\u{feff}",
        ),
        ("soft hyphen", "ad\u{ad}min", r"ad\u{ad}min"),
        (
            "line separators",
            "a\u{2028}b\u{2029}c",
            r"a\u{2028}b\u{2029}c",
        ),
        ("tags", "a\u{e0041}", r"a\u{e0041}"),
    ];

    #[test]
    fn every_hostile_character_is_escaped_never_passed_on() {
        for (what, hostile, shown) in HOSTILE {
            assert_eq!(printable(hostile, 100), *shown, "{what}");
            assert_eq!(Printable(hostile).to_string(), *shown, "{what}");
            assert!(hostile.chars().any(needs_escape), "{what}");
            for out in [printable(hostile, 100), quoted(hostile, 100)] {
                assert!(!out.chars().any(needs_escape), "{what}: {out:?}");
                assert!(!out.contains('\n') && !out.contains('\u{1b}'), "{what}");
            }
        }
    }

    #[test]
    fn ordinary_text_is_shown_as_it_is() {
        for text in [
            "alice@example.com",
            "José Núñez",
            "Zoë 山田 Ωmega",
            "C:\\Users\\x",
            "sre, dev",
            "🙂 ok",
        ] {
            assert_eq!(Printable(text).to_string(), text);
            assert_eq!(printable(text, 100), text);
        }
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        for (what, hostile, _) in HOSTILE {
            let once = printable(hostile, 100);
            assert_eq!(printable(&once, 1000), once, "{what}");
        }
    }

    #[test]
    fn long_text_is_cut_with_a_mark() {
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("abc", 3), "abc");
        assert_eq!(quoted("abcdef", 3), "\"abc…\"");
        assert_eq!(quoted("a\"b", 10), "\"a\\\"b\"");
        let long = "x".repeat(1_000_000);
        let shown = Printable(&long).to_string();
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 1);
        assert!(shown.ends_with('…'));
        // Cut by characters, never inside one, and counted before escaping.
        let escapes = "\u{1b}".repeat(SHOWN_CHARS * 2);
        let shown = Printable(&escapes).to_string();
        assert_eq!(shown, format!("{}…", r"\u{1b}".repeat(SHOWN_CHARS)));
        assert_eq!(printable("ééé", 2), "éé…");
    }

    #[test]
    fn padding_counts_what_is_shown() {
        assert_eq!(format!("[{:<6}]", Printable("a\nb")), "[a\\nb  ]");
        assert_eq!(format!("[{}]", Printable("")), "[]");
    }

    #[test]
    fn lists_are_comma_separated() {
        let items = ["a".to_owned(), "b\tc".to_owned(), "\u{202e}d".to_owned()];
        assert_eq!(PrintableList(&items).to_string(), r"a, b\tc, \u{202e}d");
    }
}
