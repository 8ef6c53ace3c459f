//! A small, strict JSON reader and the writers the core needs.
//!
//! Hand-written rather than serde_json because the SDK ships inside a 2 MB mini-program package:
//! the core reads only small documents (the login reply, the stored session, a login payload), and
//! this reader costs a fraction of serde_json's wasm size. It never panics: nesting is capped,
//! every index is checked, and any malformed input is an `Err`.

/// A parsed JSON value. Object members keep their order; a repeated key resolves to the last one.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The value, and the number as it was written, so that a kept reply is written back exactly,
    /// with no float formatting (which would cost the wasm several KB) and no precision lost.
    Number(f64, Box<str>),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Deeper documents are refused so hostile input cannot exhaust the (small) wasm stack.
const MAX_DEPTH: usize = 32;

impl Json {
    pub fn parse(text: &str) -> Result<Json, &'static str> {
        let mut p = Parser { bytes: text.as_bytes(), pos: 0 };
        let value = p.value(0)?;
        p.skip_ws();
        if p.pos != p.bytes.len() {
            return Err("trailing characters after the JSON value");
        }
        Ok(value)
    }

    /// The member named `key` of an object (the last one if repeated).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of member names, as given by a dotted option like `data.token`.
    pub fn get_path<'a>(&'a self, path: &[String]) -> Option<&'a Json> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n, _) => Some(*n),
            _ => None,
        }
    }

    /// An integer, given as a number or as a string of digits (some servers quote their errcodes).
    pub fn as_integer(&self) -> Option<i64> {
        let n = match self {
            Json::Number(n, _) => *n,
            Json::String(s) => parse_number(s.trim())?,
            _ => return None,
        };
        // 2^53: beyond it f64 no longer holds every integer.
        (n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0).then_some(n as i64)
    }
}

/// A decimal number (`-12`, `+7200`, `1.5`, `2e3`) as f64, without std's float parser: its
/// correctly rounded algorithms cost about 6 KB of wasm. Exact for integers up to 2^53, which is
/// all this SDK reads (lifetimes, timestamps, codes); fractions are within a few ulps.
pub fn parse_number(text: &str) -> Option<f64> {
    const MAX_EXACT: u64 = 1_000_000_000_000_000_000;
    let bytes = text.as_bytes();
    let (negative, mut pos) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let (mut mantissa, mut exponent, mut digits) = (0u64, 0i32, 0);
    let mut in_fraction = false;
    while let Some(&b) = bytes.get(pos) {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if mantissa < MAX_EXACT {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                    exponent -= i32::from(in_fraction);
                } else {
                    exponent += i32::from(!in_fraction); // digits past 19 only scale the value
                }
            }
            b'.' if !in_fraction => in_fraction = true,
            _ => break,
        }
        pos += 1;
    }
    if digits == 0 {
        return None;
    }
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        let exp_negative = match bytes.get(pos) {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let (mut exp, mut exp_digits) = (0i32, 0);
        while let Some(&b @ b'0'..=b'9') = bytes.get(pos) {
            exp = (exp * 10 + i32::from(b - b'0')).min(100_000);
            exp_digits += 1;
            pos += 1;
        }
        if exp_digits == 0 {
            return None;
        }
        exponent += if exp_negative { -exp } else { exp };
    }
    if pos != bytes.len() {
        return None;
    }
    if mantissa == 0 {
        return Some(if negative { -0.0 } else { 0.0 });
    }
    let scale = 10f64.powi(exponent.unsigned_abs().min(400) as i32);
    let magnitude = if exponent < 0 { mantissa as f64 / scale } else { mantissa as f64 * scale };
    let value = if negative { -magnitude } else { magnitude };
    value.is_finite().then_some(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect_literal(&mut self, literal: &[u8], value: Json) -> Result<Json, &'static str> {
        let end = self.pos + literal.len();
        if self.bytes.get(self.pos..end) == Some(literal) {
            self.pos = end;
            Ok(value)
        } else {
            Err("invalid literal")
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, &'static str> {
        if depth > MAX_DEPTH {
            return Err("JSON nested too deeply");
        }
        self.skip_ws();
        match self.peek() {
            None => Err("unexpected end of JSON"),
            Some(b'n') => self.expect_literal(b"null", Json::Null),
            Some(b't') => self.expect_literal(b"true", Json::Bool(true)),
            Some(b'f') => self.expect_literal(b"false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => self.array(depth),
            Some(b'{') => self.object(depth),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err("unexpected character in JSON"),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, &'static str> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bump() {
                Some(b',') => continue,
                Some(b']') => return Ok(Json::Array(items)),
                _ => return Err("expected ',' or ']' in array"),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, &'static str> {
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err("expected a member name in object");
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bump() != Some(b':') {
                return Err("expected ':' in object");
            }
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_ws();
            match self.bump() {
                Some(b',') => continue,
                Some(b'}') => return Ok(Json::Object(members)),
                _ => return Err("expected ',' or '}' in object"),
            }
        }
    }

    fn number(&mut self) -> Result<Json, &'static str> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        self.digits();
        let int_part = self.bytes.get(digits_start..self.pos).unwrap_or_default();
        if int_part.is_empty() || (int_part.len() > 1 && int_part.first() == Some(&b'0')) {
            return Err("invalid number");
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err("invalid number");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err("invalid number");
            }
        }
        let text = self.bytes.get(start..self.pos).and_then(|b| core::str::from_utf8(b).ok());
        match text.and_then(|t| Some((parse_number(t)?, t))) {
            Some((n, t)) if n.is_finite() => Ok(Json::Number(n, t.into())),
            _ => Err("invalid number"),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn string(&mut self) -> Result<String, &'static str> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            // Copy the run of plain characters in one go; the input is a &str, so any run that
            // stops at an ASCII byte is valid UTF-8.
            let run_start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            let run = self.bytes.get(run_start..self.pos).and_then(|b| core::str::from_utf8(b).ok());
            out.push_str(run.ok_or("invalid UTF-8 in string")?);
            match self.bump() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err("control character in string"),
                None => return Err("unterminated string"),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), &'static str> {
        let c = match self.bump() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let first = self.hex4()?;
                if (0xD800..0xDC00).contains(&first) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if self.bump() != Some(b'\\') || self.bump() != Some(b'u') {
                        return Err("unpaired surrogate in string");
                    }
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err("unpaired surrogate in string");
                    }
                    let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    char::from_u32(combined).ok_or("invalid escape")?
                } else {
                    char::from_u32(first).ok_or("unpaired surrogate in string")?
                }
            }
            _ => return Err("invalid escape in string"),
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, &'static str> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = self.bump().and_then(|b| (b as char).to_digit(16)).ok_or("invalid \\u escape")?;
            value = value * 16 + digit;
        }
        Ok(value)
    }
}

/// `n` in decimal, without `core::fmt` (whose machinery costs the wasm about 2 KB).
pub fn decimal(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    digits.get(start..).map(|d| d.iter().map(|&b| b as char).collect()).unwrap_or_default()
}

/// Appends `s` as a JSON string literal, quotes included.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                for nibble in [(c as u32) >> 4, (c as u32) & 0xF] {
                    out.push(HEX.get(nibble as usize).map_or('0', |&b| b as char));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_every_u64_as_std_does() {
        for n in [0, 7, 10, 99, 1_764_633_600_000, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn numbers_parse_like_std_for_what_the_sdk_reads() {
        for text in ["0", "-0", "7200", "+7200", "-40101", "1795356000000", "9007199254740992", "1e3", "2E+2", "0e400"]
        {
            assert_eq!(parse_number(text), text.parse::<f64>().ok(), "{text}");
        }
        for text in ["7200.5", "0.001", "1.5e-3", "12345678901234567890123", "3.14159265358979"] {
            let (ours, std) = (parse_number(text).unwrap_or(f64::NAN), text.parse::<f64>().unwrap_or(0.0));
            assert!((ours - std).abs() <= std.abs() * 1e-15, "{text}: {ours} vs {std}");
        }
        for text in ["", "-", ".", "1e", "1e+", "abc", "1.2.3", "1x", "inf", "NaN", "1e999", "--1"] {
            assert_eq!(parse_number(text), None, "{text}");
        }
    }

    #[test]
    fn parses_the_documents_the_core_reads() {
        let v = Json::parse(r#" {"token":"a\"b","expiresIn":7200,"data":{"n":[1,-2.5e1,true,null]}} "#).unwrap();
        assert_eq!(v.get("token").and_then(Json::as_str), Some("a\"b"));
        assert_eq!(v.get("expiresIn").and_then(Json::as_integer), Some(7200));
        let path = ["data".to_string(), "n".to_string()];
        assert!(matches!(v.get_path(&path), Some(Json::Array(a)) if a.len() == 4));
        assert_eq!(Json::parse(r#""\ud83d\ude00\u4e2d""#).unwrap(), Json::String("😀中".into()));
    }

    #[test]
    fn refuses_malformed_and_hostile_input() {
        for bad in ["", "{", "[1,]", "01", "1.", "-", "\"\\ud800\"", "{\"a\" 1}", "nul", "1 2", "\"\u{1}\"", "1e999"] {
            assert!(Json::parse(bad).is_err(), "accepted {bad:?}");
        }
        let deep = "[".repeat(10_000);
        assert_eq!(Json::parse(&deep), Err("JSON nested too deeply"));
    }

    #[test]
    fn written_strings_read_back() {
        let original = "q\"uote\\ \n\t\u{1}中😀";
        let mut out = String::new();
        write_string(&mut out, original);
        assert_eq!(Json::parse(&out).unwrap(), Json::String(original.into()));
    }

    #[test]
    fn integers_accept_quoted_digits_but_not_fractions() {
        assert_eq!(Json::String("40029".into()).as_integer(), Some(40029));
        assert_eq!(Json::Number(-1.0, "-1".into()).as_integer(), Some(-1));
        assert_eq!(Json::Number(1.5, "1.5".into()).as_integer(), None);
        assert_eq!(Json::Number(1e300, "1e300".into()).as_integer(), None);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = Json::parse(&text);
        }

        #[test]
        fn never_panics_on_json_like_text(text in r#"[\[\]{}",:0-9eE.+\-tfnrul\\ ]{0,64}"#) {
            let _ = Json::parse(&text);
        }

        #[test]
        fn any_string_round_trips(s in any::<String>()) {
            let mut out = String::new();
            write_string(&mut out, &s);
            prop_assert_eq!(Json::parse(&out), Ok(Json::String(s)));
        }
    }
}
