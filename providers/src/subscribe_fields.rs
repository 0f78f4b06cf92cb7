//! Fitting values to the rules WeChat applies to the fields of a subscribe message
//! (`subscribeMessage.send`; a value that breaks its field's rule is refused with 47003).
//!
//! A field's rule comes from its keyword with the trailing digits removed (`thing1` →
//! `thing`, `character_string12` → `character_string`):
//!
//! | prefix | WeChat's rule | what [`fit`] does |
//! | --- | --- | --- |
//! | `thing` | ≤ 20 characters: Chinese, digits, letters, symbols | longer → first 19 + `…` |
//! | `phrase` | ≤ 5 Chinese characters only | drops other characters, keeps 5 |
//! | `name` | ≤ 10 Chinese characters, or ≤ 20 letters/symbols (mixed counts as Chinese) | keeps 10 if any Chinese, else 20 |
//! | `amount` | a currency sign + ≤ 10 digits, optional decimals, optional trailing `元` | keeps digits and the first `.`, appends `元` |
//! | `time`, `date` | 24-hour time and/or `YYYY年MM月DD日`, `~` for ranges | unchanged (format it yourself, e.g. `2026年07月15日 14:00`) |
//! | `character_string` | ≤ 32 digits, letters, symbols | keeps printable ASCII (no spaces), 32 |
//! | `number` | ≤ 32 digits, optional decimals | keeps digits and the first `.`, 32 |
//! | `letter` | ≤ 32 letters | keeps ASCII letters, 32 |
//! | `symbol` | ≤ 5 symbols | keeps characters that are neither letters, digits nor spaces, 5 |
//! | `phone_number` | ≤ 17 digits and symbols | keeps digits, `+` and `-`, 17 |
//! | `car_number` | ≤ 8, Chinese allowed first and last, letters/digits otherwise | keeps Chinese and ASCII letters/digits, 8 |
//! | anything else | — | keeps 20 characters |
//!
//! Every rule first turns control characters (new lines, tabs) into spaces and trims the
//! ends. Lengths are counted in characters, never bytes. A value with nothing left to keep
//! (an `amount` without digits, a `phrase` without Chinese) comes back empty, which WeChat
//! refuses (47003): no content is made up.

const THING_MAX: usize = 20;
const PHRASE_MAX: usize = 5;
const NAME_CHINESE_MAX: usize = 10;
const NAME_OTHER_MAX: usize = 20;
const LONG_FIELD_MAX: usize = 32;
const SYMBOL_MAX: usize = 5;
const PHONE_MAX: usize = 17;
const CAR_NUMBER_MAX: usize = 8;
const UNKNOWN_MAX: usize = 20;
const ELLIPSIS: char = '…';

/// `value` fitted to the rule of the subscribe-message field `keyword` (e.g. `"thing1"`,
/// `"amount2"`, `"time3"`, `"phrase4"`); see the module documentation for the rules.
pub fn fit(keyword: &str, value: &str) -> String {
    let value = clean(value);
    match rule_of(keyword) {
        "thing" => ellipsize(&value, THING_MAX),
        "phrase" => value
            .chars()
            .filter(|c| is_chinese(*c))
            .take(PHRASE_MAX)
            .collect(),
        "name" => {
            let max = if value.chars().any(is_chinese) {
                NAME_CHINESE_MAX
            } else {
                NAME_OTHER_MAX
            };
            truncate(&value, max).trim_end().to_owned()
        }
        "amount" => {
            let number = decimal(&value, usize::MAX);
            if number.is_empty() {
                number
            } else {
                format!("{number}元")
            }
        }
        "time" | "date" => value,
        "character_string" => value
            .chars()
            .filter(char::is_ascii_graphic)
            .take(LONG_FIELD_MAX)
            .collect(),
        "number" => decimal(&value, LONG_FIELD_MAX),
        "letter" => value
            .chars()
            .filter(char::is_ascii_alphabetic)
            .take(LONG_FIELD_MAX)
            .collect(),
        "symbol" => value
            .chars()
            .filter(|c| !c.is_alphanumeric() && !c.is_whitespace())
            .take(SYMBOL_MAX)
            .collect(),
        "phone_number" => value
            .chars()
            .filter(|c| c.is_ascii_digit() || matches!(c, '+' | '-'))
            .take(PHONE_MAX)
            .collect(),
        "car_number" => value
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || is_chinese(*c))
            .map(|c| c.to_ascii_uppercase())
            .take(CAR_NUMBER_MAX)
            .collect(),
        _ => truncate(&value, UNKNOWN_MAX).trim_end().to_owned(),
    }
}

/// The rule name of a keyword: the keyword without its trailing ASCII digits.
fn rule_of(keyword: &str) -> &str {
    keyword.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// Control characters as spaces, ends trimmed.
fn clean(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The first `max` characters.
fn truncate(value: &str, max: usize) -> &str {
    match value.char_indices().nth(max) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

/// `value` if it has at most `max` characters, else its first `max - 1` and `…`.
fn ellipsize(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        return value.to_owned();
    }
    let kept = truncate(value, max.saturating_sub(1)).trim_end();
    format!("{kept}{ELLIPSIS}")
}

/// The digits of `value` with its first decimal point (dropped when no digit follows it,
/// `0` put before it when no digit precedes it), at most `max` characters.
fn decimal(value: &str, max: usize) -> String {
    let mut out = String::new();
    let mut seen_point = false;
    for c in value.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if c == '.' && !seen_point {
            seen_point = true;
            if out.is_empty() {
                out.push('0');
            }
            out.push('.');
        }
    }
    let mut out = truncate(&out, max).to_owned();
    if out.ends_with('.') {
        out.pop();
    }
    if out == "0" && !value.chars().any(|c| c.is_ascii_digit()) {
        // Only a decimal point: nothing to keep.
        out.clear();
    }
    out
}

/// A Chinese (CJK unified or compatibility) ideograph.
fn is_chinese(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'     // CJK Unified Ideographs
        | '\u{3400}'..='\u{4DBF}'   // Extension A
        | '\u{F900}'..='\u{FAFF}'   // Compatibility Ideographs
        | '\u{20000}'..='\u{2FA1F}' // Extensions B–F, Compatibility Supplement
        | '\u{30000}'..='\u{323AF}' // Extensions G–H
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_come_from_the_keyword_without_its_digits() {
        assert_eq!(rule_of("thing1"), "thing");
        assert_eq!(rule_of("thing12"), "thing");
        assert_eq!(rule_of("thing"), "thing");
        assert_eq!(rule_of("character_string3"), "character_string");
        assert_eq!(rule_of("phone_number10"), "phone_number");
        assert_eq!(rule_of("car_number4"), "car_number");
        assert_eq!(rule_of("date01"), "date");
    }

    #[test]
    fn things_keep_twenty_characters_then_ellipsize() {
        assert_eq!(fit("thing1", "水电安装"), "水电安装");
        let twenty = "一二三四五六七八九十一二三四五六七八九十";
        assert_eq!(twenty.chars().count(), 20);
        assert_eq!(fit("thing1", twenty), twenty);
        let long = format!("{twenty}多");
        let fitted = fit("thing2", &long);
        assert_eq!(fitted, "一二三四五六七八九十一二三四五六七八九…");
        assert_eq!(fitted.chars().count(), 20);
        // Characters, not bytes: 20 Chinese characters are 60 bytes.
        assert!(twenty.len() > 20);
        let ascii = "Plumbing repairs at Block 7, Room 301";
        assert_eq!(fit("thing3", ascii), "Plumbing repairs at…");
        assert_eq!(fit("thing3", ascii).chars().count(), 20);
        // No space before the ellipsis.
        assert_eq!(
            fit("thing3", "abcdefghijklmnopqr stuvwxyz"),
            "abcdefghijklmnopqr…"
        );
    }

    #[test]
    fn things_lose_new_lines_and_outer_spaces() {
        assert_eq!(fit("thing1", "  第一行\n第二行\t "), "第一行 第二行");
        assert_eq!(fit("thing1", ""), "");
    }

    #[test]
    fn phrases_keep_five_chinese_characters() {
        assert_eq!(fit("phrase4", "配送中"), "配送中");
        assert_eq!(fit("phrase4", "邀请金到账提醒"), "邀请金到账");
        assert_eq!(fit("phrase4", "已录用!"), "已录用");
        assert_eq!(fit("phrase4", "OK 已通过 2"), "已通过");
        assert_eq!(fit("phrase4", "已，通，过"), "已通过");
        assert_eq!(fit("phrase4", "accepted"), "");
        assert_eq!(fit("phrase4", "𠀀𠀁"), "𠀀𠀁");
    }

    #[test]
    fn names_are_ten_chinese_or_twenty_other_characters() {
        assert_eq!(fit("name1", "张三"), "张三");
        assert_eq!(
            fit("name1", "爱新觉罗玄烨康熙皇帝大清"),
            "爱新觉罗玄烨康熙皇帝"
        );
        assert_eq!(fit("name1", "Li Lei"), "Li Lei");
        assert_eq!(
            fit("name1", "Bartholomew Montgomery"),
            "Bartholomew Montgome"
        );
        // Mixed counts as Chinese.
        assert_eq!(fit("name1", "Tom汤姆Jerry杰瑞abc"), "Tom汤姆Jerry");
        // No trailing space after the cut.
        assert_eq!(
            fit("name1", "Abcdefghijklmnopqrs tuv"),
            "Abcdefghijklmnopqrs"
        );
    }

    #[test]
    fn amounts_are_numbers_in_yuan() {
        assert_eq!(fit("amount2", "350"), "350元");
        assert_eq!(fit("amount2", "350.50"), "350.50元");
        assert_eq!(fit("amount2", "￥350.50"), "350.50元");
        assert_eq!(fit("amount2", "¥1,234.5"), "1234.5元");
        assert_eq!(fit("amount2", "350元"), "350元");
        assert_eq!(fit("amount2", "300元/天"), "300元");
        assert_eq!(fit("amount2", "1.2.3"), "1.23元");
        assert_eq!(fit("amount2", ".5"), "0.5元");
        assert_eq!(fit("amount2", "12."), "12元");
        assert_eq!(fit("amount2", "面议"), "");
        assert_eq!(fit("amount2", "."), "");
        assert_eq!(fit("amount2", ""), "");
    }

    #[test]
    fn times_and_dates_are_kept() {
        assert_eq!(fit("time3", "2026年07月15日 14:00"), "2026年07月15日 14:00");
        assert_eq!(fit("time3", "14:00~18:00"), "14:00~18:00");
        assert_eq!(fit("date5", "2026年07月15日"), "2026年07月15日");
        assert_eq!(
            fit("date5", " 2026年07月15日 ~ 2026年07月20日\n"),
            "2026年07月15日 ~ 2026年07月20日"
        );
    }

    #[test]
    fn character_strings_keep_32_ascii_characters() {
        assert_eq!(fit("character_string1", "GY-2026-000123"), "GY-2026-000123");
        assert_eq!(fit("character_string1", "订单 GY 123"), "GY123");
        let long = "A".repeat(40);
        assert_eq!(fit("character_string1", &long), "A".repeat(32));
    }

    #[test]
    fn numbers_keep_32_digits_and_a_decimal_point() {
        assert_eq!(fit("number1", "339208499"), "339208499");
        assert_eq!(fit("number1", "第3期"), "3");
        assert_eq!(fit("number1", "12.50"), "12.50");
        assert_eq!(fit("number1", &"9".repeat(40)), "9".repeat(32));
        assert_eq!(fit("number1", "无"), "");
    }

    #[test]
    fn letters_keep_32_ascii_letters() {
        assert_eq!(fit("letter1", "ABC"), "ABC");
        assert_eq!(fit("letter1", "A1-B2 c3"), "ABc");
        assert_eq!(fit("letter1", &"z".repeat(33)), "z".repeat(32));
        assert_eq!(fit("letter1", "甲乙"), "");
    }

    #[test]
    fn symbols_keep_five() {
        assert_eq!(fit("symbol1", "★"), "★");
        assert_eq!(fit("symbol1", "a!@b#$%^&"), "!@#$%");
        assert_eq!(fit("symbol1", "1 2 3"), "");
    }

    #[test]
    fn phone_numbers_keep_17_digits_and_signs() {
        assert_eq!(
            fit("phone_number1", "+86-0766-66888866"),
            "+86-0766-66888866"
        );
        assert_eq!(fit("phone_number1", "138 0000 0000"), "13800000000");
        assert_eq!(fit("phone_number1", "(020) 1234-5678"), "0201234-5678");
        assert_eq!(fit("phone_number1", &"1".repeat(20)), "1".repeat(17));
    }

    #[test]
    fn car_numbers_keep_eight() {
        assert_eq!(fit("car_number1", "粤A8Z888挂"), "粤A8Z888挂");
        assert_eq!(fit("car_number1", "粤a·8z888"), "粤A8Z888");
        assert_eq!(fit("car_number1", "京A123456789"), "京A123456");
    }

    #[test]
    fn unknown_rules_keep_twenty_characters() {
        assert_eq!(fit("enum1", "待处理"), "待处理");
        let long = "汉".repeat(25);
        assert_eq!(fit("whatever7", &long), "汉".repeat(20));
        assert_eq!(fit("7", "abc"), "abc");
    }

    #[test]
    fn truncation_never_splits_a_character() {
        let emoji = "👷".repeat(30);
        assert_eq!(fit("thing1", &emoji).chars().count(), 20);
        assert_eq!(fit("unknown", &emoji).chars().count(), 20);
        assert_eq!(truncate("éé", 1), "é");
        assert_eq!(truncate("ab", 5), "ab");
        assert_eq!(ellipsize("abc", 1), "…");
    }
}
