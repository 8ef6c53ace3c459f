//! Cookie sessions (`cookie: 'sid'`): the session cookie in a response's `Set-Cookie`, however the
//! platform hands it over — the header (several cookies may arrive joined by commas in one value),
//! or WeChat's `cookies` array — as lines of text from the host adapter.
//!
//! Only what decides the session is read: the value, and the lifetime from `Max-Age` (which wins)
//! or `Expires`. `Max-Age` of zero or less, or an `Expires` in the past, clears the cookie.

use crate::core::protocol::Millis;

/// What a response says about the session cookie.
#[derive(Debug, Clone, PartialEq)]
pub enum CookieSet {
    /// A new value, with its lifetime in seconds when the cookie states one.
    Value { value: String, lifetime_s: Option<f64> },
    /// The server ended the session.
    Cleared,
}

/// The last `Set-Cookie` for `name` in `text` (lines, each one or more cookies joined by commas),
/// read at `now`; `None` when the response does not set it.
pub fn find(text: &str, name: &str, now: Millis) -> Option<CookieSet> {
    let mut found = None;
    for line in text.split('\n') {
        for cookie in split_joined(line) {
            if let Some(set) = read(cookie, name, now) {
                found = Some(set);
            }
        }
    }
    found
}

/// Splits a header value of cookies joined by commas. A comma inside `Expires=Wed, 21 Oct …` is
/// not a separator: a new cookie starts only where `name=` follows, before any `;` or `,`.
fn split_joined(line: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut parts = Vec::new();
    for (at, _) in line.match_indices(',') {
        let next = line.get(at + 1..).unwrap_or_default();
        let head = next.split([';', ',']).next().unwrap_or_default();
        if head.split_once('=').is_some_and(|(n, _)| !n.trim().is_empty() && !n.trim().contains(' ')) {
            parts.push(line.get(start..at).unwrap_or_default());
            start = at + 1;
        }
    }
    parts.push(line.get(start..).unwrap_or_default());
    parts.into_iter()
}

fn read(cookie: &str, name: &str, now: Millis) -> Option<CookieSet> {
    let mut attributes = cookie.split(';');
    let (key, value) = attributes.next()?.split_once('=')?;
    if key.trim() != name {
        return None;
    }
    let value = value.trim().trim_matches('"');
    let (mut max_age, mut expires) = (None, None);
    for attribute in attributes {
        let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("max-age") {
            max_age = whole_seconds(value);
        } else if key.eq_ignore_ascii_case("expires") {
            expires = http_date_ms(value);
        }
    }
    // RFC 6265 §5.3: Max-Age wins over Expires; an unreadable one is ignored.
    let lifetime_s = match (max_age, expires) {
        (Some(seconds), _) => Some(seconds),
        (None, Some(at)) => Some((at - now as f64) / 1000.0),
        (None, None) => None,
    };
    if value.is_empty() || lifetime_s.is_some_and(|s| s <= 0.0) {
        return Some(CookieSet::Cleared);
    }
    Some(CookieSet::Value { value: value.to_string(), lifetime_s })
}

fn whole_seconds(text: &str) -> Option<f64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.bytes().fold(0.0, |n, b| n * 10.0 + f64::from(b - b'0'));
    Some(if negative { -n } else { n })
}

/// An HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`, or with dashes `21-Oct-2026`) in ms since the
/// epoch.
fn http_date_ms(text: &str) -> Option<f64> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let rest = text.split_once(',').map_or(text, |(_, rest)| rest);
    let mut fields = rest.split([' ', '-']).filter(|f| !f.is_empty());
    let day = whole_seconds(fields.next()?)?;
    let month_name = fields.next()?.get(..3)?;
    let month = MONTHS.iter().position(|m| month_name.eq_ignore_ascii_case(m))?;
    let mut year = whole_seconds(fields.next()?)?;
    if year < 100.0 {
        year += if year < 70.0 { 2000.0 } else { 1900.0 };
    }
    let mut clock = fields.next()?.split(':').map(whole_seconds);
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if !(1.0..=31.0).contains(&day) || h > 23.0 || m > 59.0 || s > 60.0 {
        return None;
    }
    Some((days_from_civil(year, month as f64 + 1.0, day) * 86_400.0 + h * 3600.0 + m * 60.0 + s) * 1000.0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: f64, month: f64, day: f64) -> f64 {
    let y = if month <= 2.0 { year - 1.0 } else { year };
    let era = (y / 400.0).floor();
    let yoe = y - era * 400.0;
    let mp = if month > 2.0 { month - 3.0 } else { month + 9.0 };
    let doy = ((153.0 * mp + 2.0) / 5.0).floor() + day - 1.0;
    let doe = yoe * 365.0 + (yoe / 4.0).floor() - (yoe / 100.0).floor() + doy;
    era * 146_097.0 + doe - 719_468.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_800_000_000_000; // 2027-01-15T08:00:00Z

    #[test]
    fn reads_the_named_cookie_with_its_lifetime() {
        let set = find("other=1; Path=/, sid=abc; Max-Age=3600; HttpOnly", "sid", NOW);
        assert_eq!(set, Some(CookieSet::Value { value: "abc".into(), lifetime_s: Some(3600.0) }));
        assert_eq!(
            find("sid=abc; Path=/", "sid", NOW),
            Some(CookieSet::Value { value: "abc".into(), lifetime_s: None })
        );
        assert_eq!(find("sidx=abc", "sid", NOW), None);
        assert_eq!(find("", "sid", NOW), None);
    }

    #[test]
    fn expires_dates_with_commas_do_not_split_and_count_from_now() {
        let text =
            "sid=abc; Expires=Fri, 15 Jan 2027 09:00:00 GMT; Path=/, lang=zh; Expires=Sat, 16 Jan 2027 09:00:00 GMT";
        assert_eq!(find(text, "sid", NOW), Some(CookieSet::Value { value: "abc".into(), lifetime_s: Some(3600.0) }));
        let dashed = "sid=abc; expires=Friday, 15-Jan-27 09:00:00 GMT";
        assert_eq!(find(dashed, "sid", NOW), Some(CookieSet::Value { value: "abc".into(), lifetime_s: Some(3600.0) }));
        // Max-Age wins; an unreadable Expires is ignored.
        assert_eq!(
            find("sid=abc; Expires=Fri, 15 Jan 2027 09:00:00 GMT; Max-Age=60", "sid", NOW),
            Some(CookieSet::Value { value: "abc".into(), lifetime_s: Some(60.0) })
        );
        assert_eq!(
            find("sid=abc; Expires=soon", "sid", NOW),
            Some(CookieSet::Value { value: "abc".into(), lifetime_s: None })
        );
    }

    #[test]
    fn clearing_cookies_end_the_session_and_the_last_one_wins() {
        assert_eq!(find("sid=abc; Max-Age=0", "sid", NOW), Some(CookieSet::Cleared));
        assert_eq!(find("sid=abc; Max-Age=-1", "sid", NOW), Some(CookieSet::Cleared));
        assert_eq!(find("sid=; Path=/", "sid", NOW), Some(CookieSet::Cleared));
        assert_eq!(find("sid=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "sid", NOW), Some(CookieSet::Cleared));
        assert_eq!(
            find("sid=old\nsid=new; Max-Age=30", "sid", NOW),
            Some(CookieSet::Value { value: "new".into(), lifetime_s: Some(30.0) })
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(text in any::<String>(), now in any::<u64>()) {
            let _ = find(&text, "sid", now);
        }
    }
}
