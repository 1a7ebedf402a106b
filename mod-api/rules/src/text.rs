//! Text from mods and from file names is data, never terminal control:
//! names must be printable to be accepted, and everything else a mod
//! writes is escaped before it reaches a log, the console or a UI.

use std::borrow::Cow;

/// Longest display name, version, type name or file stem, in bytes.
pub const MAX_NAME: usize = 128;

/// Cuts `s` to at most `max` bytes (on a character boundary), saying so.
pub fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let total = s.len();
        s.truncate(s.floor_char_boundary(max));
        s.push_str(&format!(" … ({total} bytes, cut)"));
    }
}

/// Whether `s` is a name a player can read: 1 to [`MAX_NAME`] bytes, not
/// blank, and nothing that is not shown as itself (control and format
/// characters, line and paragraph separators, zero-width and blank
/// fillers), so no name can pass for another or rewrite a log line.
pub fn printable(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_NAME {
        return Err(format!("must be 1 to {MAX_NAME} bytes long"));
    }
    if s.trim().is_empty() {
        return Err("is blank".into());
    }
    match s.chars().find(|c| invisible(*c)) {
        Some(c) => Err(format!(
            "holds {:?} (U+{:04X}), which is not shown as itself",
            c, c as u32
        )),
        None => Ok(()),
    }
}

/// Characters that are not shown as themselves: Unicode's control (Cc) and
/// format (Cf) categories, line and paragraph separators, and the
/// zero-width and blank fillers that pass for nothing.
pub fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E
            | 0x3164 | 0xFEFF | 0xFFA0 | 0x2800
            | 0x0600..=0x0605 | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x180B..=0x180F | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F
            | 0xFE00..=0xFE0F | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// `s` with every character that is not shown as itself written as an
/// escape (`\n`, `\u{1b}`), so a mod's text cannot break a log line, move
/// the cursor or pass for other text. Borrowed when nothing needed it.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_but(s, |_| false)
}

/// Like [`escape`], keeping line breaks: for multi-line text such as a
/// guest backtrace, kept as data for a UI to lay out.
pub fn escape_keeping_lines(s: &str) -> Cow<'_, str> {
    escape_but(s, |c| c == '\n')
}

fn escape_but(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| invisible(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if invisible(c) && !keep(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_is_not_shown_as_itself() {
        assert!(matches!(escape("plain text, émoji 🚀"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(escape("rtl\u{202e}"), "rtl\\u{202e}");
        assert_eq!(escape_keeping_lines("at f\nat g\u{7}"), "at f\nat g\\u{7}");
    }
}
