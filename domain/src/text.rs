//! Text people type (names, addresses, notices, reasons, campaign messages): what is
//! accepted, said once so that the server's check and the contract's JSON Schema are the
//! same rule.
//!
//! A [`TextRule`] counts characters (never bytes): at most `max` as sent, at least `min`
//! that are neither whitespace nor control characters. Control characters are refused
//! anywhere (a line break too, unless the rule is multi-line). What the server keeps is the
//! text trimmed of surrounding whitespace. [`TextRule::pattern`] is the same rule as a
//! regular expression (with `maxLength` for the length), for the API contract.

use std::ops::RangeInclusive;

/// Whitespace as Rust's `char::is_whitespace` (Unicode `White_Space`) knows it, spelled out
/// so that every regex engine reads the pattern alike.
const WHITESPACE: &str =
    r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters (Unicode `Cc`), which `char::is_control` refuses.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";

/// How text of one kind must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// Characters that are neither whitespace nor control characters, at least.
    pub min: usize,
    /// Characters in all, at most (as sent, before trimming).
    pub max: usize,
    /// Line breaks (`\n`) allowed.
    pub multiline: bool,
    /// Digits (ASCII and full-width) allowed.
    pub digits: bool,
}

impl TextRule {
    /// Free text of one or more lines.
    pub const fn text(min: usize, max: usize) -> Self {
        Self {
            min,
            max,
            multiline: true,
            digits: true,
        }
    }

    /// One line of text.
    pub const fn line(min: usize, max: usize) -> Self {
        Self {
            min,
            max,
            multiline: false,
            digits: true,
        }
    }

    /// A person's name: one line, no digits.
    pub const fn person_name(min: usize, max: usize) -> Self {
        Self {
            min,
            max,
            multiline: false,
            digits: false,
        }
    }

    fn allowed(&self, c: char) -> bool {
        let control_ok = !c.is_control() || (self.multiline && c == '\n');
        let digit_ok = self.digits || !(c.is_ascii_digit() || ('０'..='９').contains(&c));
        control_ok && digit_ok
    }

    /// The text trimmed, when it follows the rule.
    pub fn check(&self, value: &str) -> Option<String> {
        let significant = value
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .count();
        let ok = value.chars().count() <= self.max
            && significant >= self.min
            && value.chars().all(|c| self.allowed(c));
        ok.then(|| value.trim().to_owned())
    }

    /// Optional text: absent is None; otherwise it must follow the rule (`Err(())` when it
    /// does not), and what is blank once trimmed is None.
    #[allow(clippy::result_unit_err)]
    pub fn check_optional(&self, value: Option<&str>) -> Result<Option<String>, ()> {
        match value {
            None => Ok(None),
            Some(v) => self
                .check(v)
                .map(|t| (!t.is_empty()).then_some(t))
                .ok_or(()),
        }
    }

    /// The rule as an ECMA-262 / Python regular expression (the length limit is the
    /// schema's `maxLength`).
    pub fn pattern(&self) -> String {
        let digits = if self.digits { "" } else { "0-9０-９" };
        // Any allowed character, and one that counts towards `min`.
        let any = format!("[^{CONTROL}{digits}]");
        let any = if self.multiline {
            format!("(?:{any}|\\n)")
        } else {
            any
        };
        let significant = format!("[^{WHITESPACE}{CONTROL}{digits}]");
        let mut pattern = format!("^{any}*");
        for _ in 0..self.min {
            pattern.push_str(&format!("{significant}{any}*"));
        }
        pattern.push('$');
        pattern
    }
}

/// `value` trimmed, or None unless it is free text of `chars` characters (the start of the
/// range counting only characters that are not whitespace).
pub fn clean_text(value: &str, chars: RangeInclusive<usize>) -> Option<String> {
    TextRule::text(*chars.start(), *chars.end()).check(value)
}

/// Optional free text of at most `max` characters: absent or blank is None; otherwise it
/// must follow [`clean_text`] (`Err(())` when it does not).
#[allow(clippy::result_unit_err)]
pub fn optional_text(value: Option<String>, max: usize) -> Result<Option<String>, ()> {
    TextRule::text(0, max).check_optional(value.as_deref())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_is_bounded_in_characters_trimmed_and_free_of_controls() {
        assert_eq!(clean_text("  驿站  ", 2..=40).as_deref(), Some("驿站"));
        assert_eq!(clean_text("驿", 2..=40), None);
        assert_eq!(clean_text(&"站".repeat(41), 2..=40), None);
        assert_eq!(
            clean_text(&format!(" {}", "站".repeat(40)), 2..=40),
            None,
            "the limit counts what was sent"
        );
        assert_eq!(
            clean_text("第一行\n第二行", 2..=40).as_deref(),
            Some("第一行\n第二行")
        );
        assert_eq!(clean_text("a\tb", 1..=40), None);
        assert_eq!(
            clean_text("\tab", 1..=40),
            None,
            "controls are refused at the ends too"
        );
        assert_eq!(optional_text(Some("   ".into()), 10), Ok(None));
        assert_eq!(optional_text(None, 10), Ok(None));
        assert_eq!(optional_text(Some("x".repeat(11)), 10), Err(()));
        let name = TextRule::person_name(2, 30);
        assert_eq!(name.check("张三").as_deref(), Some("张三"));
        assert_eq!(name.check("张三3"), None);
        assert_eq!(name.check("张三３"), None);
        assert_eq!(name.check("张\n三"), None);
        assert_eq!(TextRule::line(1, 10).check("a\nb"), None);
    }

    fn rules() -> [TextRule; 5] {
        [
            TextRule::text(2, 12),
            TextRule::text(0, 8),
            TextRule::line(1, 10),
            TextRule::person_name(2, 6),
            TextRule::text(4, 12),
        ]
    }

    proptest! {
        /// The contract's pattern (with maxLength) accepts exactly what the server accepts.
        #[test]
        fn the_pattern_is_the_rule(
            chars in proptest::collection::vec(
                prop_oneof![
                    Just(' '), Just('\n'), Just('\t'), Just('\u{3000}'), Just('\u{1c}'),
                    Just('\u{85}'), Just('7'), Just('７'), Just('a'), Just('张'), Just('\u{feff}'),
                ],
                0..16,
            )
        ) {
            let value: String = chars.into_iter().collect();
            for rule in rules() {
                let regex = Regex::new(&rule.pattern());
                let by_schema = value.chars().count() <= rule.max && regex.matches(&value);
                prop_assert_eq!(by_schema, rule.check(&value).is_some(), "{:?} {:?}", rule, value);
            }
        }
    }

    /// A tiny matcher for the patterns this module writes (anchored sequences of `[^…]`
    /// classes, `(?:…|\n)` groups and `*`), so the test needs no regex crate.
    struct Regex(Vec<(Class, bool)>);

    #[derive(Clone)]
    struct Class {
        negated_ranges: Vec<(char, char)>,
        or_newline: bool,
    }

    impl Class {
        fn matches(&self, c: char) -> bool {
            (self.or_newline && c == '\n')
                || !self
                    .negated_ranges
                    .iter()
                    .any(|(a, b)| (*a..=*b).contains(&c))
        }
    }

    impl Regex {
        fn new(pattern: &str) -> Self {
            let body = pattern
                .strip_prefix('^')
                .unwrap()
                .strip_suffix('$')
                .unwrap();
            let mut items = Vec::new();
            let mut rest = body;
            while !rest.is_empty() {
                let (class, after) = if let Some(r) = rest.strip_prefix("(?:") {
                    let end = r.find("|\\n)").unwrap();
                    let mut class = parse_class(&r[..end]);
                    class.or_newline = true;
                    (class, &r[end + 4..])
                } else {
                    let end = rest.find(']').unwrap();
                    (parse_class(&rest[..=end]), &rest[end + 1..])
                };
                let (star, after) = match after.strip_prefix('*') {
                    Some(a) => (true, a),
                    None => (false, after),
                };
                items.push((class, star));
                rest = after;
            }
            Self(items)
        }

        fn matches(&self, value: &str) -> bool {
            let chars: Vec<char> = value.chars().collect();
            fn go(items: &[(Class, bool)], chars: &[char]) -> bool {
                match items.split_first() {
                    None => chars.is_empty(),
                    Some(((class, true), rest)) => {
                        go(rest, chars)
                            || (chars.first().is_some_and(|c| class.matches(*c))
                                && go(items, &chars[1..]))
                    }
                    Some(((class, false), rest)) => {
                        chars.first().is_some_and(|c| class.matches(*c)) && go(rest, &chars[1..])
                    }
                }
            }
            go(&self.0, &chars)
        }
    }

    fn parse_class(class: &str) -> Class {
        let inner = class.strip_prefix("[^").unwrap().strip_suffix(']').unwrap();
        let mut chars = Vec::new();
        let mut it = inner.chars().peekable();
        while let Some(c) = it.next() {
            let c = if c == '\\' {
                match it.next().unwrap() {
                    't' => '\t',
                    'n' => '\n',
                    'r' => '\r',
                    'u' => {
                        let hex: String = (0..4).map(|_| it.next().unwrap()).collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap()
                    }
                    other => other,
                }
            } else {
                c
            };
            chars.push(c);
        }
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if i + 2 < chars.len() && chars[i + 1] == '-' {
                ranges.push((chars[i], chars[i + 2]));
                i += 3;
            } else {
                ranges.push((chars[i], chars[i]));
                i += 1;
            }
        }
        Class {
            negated_ranges: ranges,
            or_newline: false,
        }
    }
}
