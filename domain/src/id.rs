//! Public identifiers: random, time-ordered UUIDv7 text, never sequential numbers, so an id
//! tells nothing about how many objects exist and can be generated before the insert.

/// A new public id (UUIDv7, lower-case hyphenated text).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_uuid_v7_text() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(a.len(), 36);
    }
}
