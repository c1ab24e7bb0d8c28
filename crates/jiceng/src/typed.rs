//! Text a person typed: what a field may hold whatever it means.

use crate::error::Error;

/// Characters nobody types: they come in pasted from elsewhere, or are put there to deceive.
fn hidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        // Direction overrides and isolates: `a\u{202e}gpj.exe` shows as "aexe.jpg".
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn zero_width(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// Refuses text a person could not have meant: control characters (tabs and line breaks
/// aside), direction overrides, and a value that looks empty but holds zero-width characters
/// (it would pass a "required" check as something). The JSON and form readers apply it to
/// every string they take, as do the case forms, Open311 filing ([`check_fields`]) and the
/// hotline import; `field` names the value in the reason.
pub fn check_typed(field: &str, s: &str) -> Result<(), Error> {
    match refusal(s) {
        None => Ok(()),
        Some(Refusal::Hidden) => Err(Error::invalid(
            field,
            format!("「{field}」含有不可见的控制字符（可能随复制带入），请删除后重新提交"),
        )),
        Some(Refusal::Blank) => Err(Error::invalid(
            field,
            format!("「{field}」只含有空白或不可见字符，请填写内容"),
        )),
    }
}

/// [`check_typed`] for every field of a form (url-encoded, multipart or Open311's), each
/// named by its own name. `next` is skipped: it is where to go after signing in, not text
/// anyone stores, and a bad one is dropped by the login rather than keeping a person from
/// signing in.
pub fn check_fields(fields: &[(String, String)]) -> Result<(), Error> {
    fields
        .iter()
        .filter(|(name, _)| name != "next")
        .try_for_each(|(name, value)| check_typed(name, value))
}

enum Refusal {
    Hidden,
    Blank,
}

fn refusal(s: &str) -> Option<Refusal> {
    // Most text (codes, numbers, base64 photos) is ASCII: one pass over the bytes.
    if s.is_ascii() {
        let plain = s
            .bytes()
            .all(|b| (b >= 0x20 && b != 0x7f) || matches!(b, b'\t' | b'\n' | b'\r'));
        return (!plain).then_some(Refusal::Hidden);
    }
    if s.chars().any(hidden) {
        return Some(Refusal::Hidden);
    }
    if s.chars().any(zero_width) && s.chars().all(|c| c.is_whitespace() || zero_width(c)) {
        return Some(Refusal::Blank);
    }
    None
}

/// Whether `s` passes [`check_typed`], without building the refusal.
pub fn is_typed(s: &str) -> bool {
    refusal(s).is_none()
}
