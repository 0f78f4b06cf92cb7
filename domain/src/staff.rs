//! Staff accounts: roles, usernames, password rules.

use serde::{Deserialize, Serialize};

/// A staff role. Each is granted on an org subtree (a station manager's stations come with
/// the stations feature). Workers have no granted role: being a signed-in user is theirs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    StationManager,
    ClaimsReviewer,
    FinanceApprover,
    UnionAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::StationManager,
        Role::ClaimsReviewer,
        Role::FinanceApprover,
        Role::UnionAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::StationManager => "station_manager",
            Role::ClaimsReviewer => "claims_reviewer",
            Role::FinanceApprover => "finance_approver",
            Role::UnionAdmin => "union_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "station_manager" => Some(Role::StationManager),
            "claims_reviewer" => Some(Role::ClaimsReviewer),
            "finance_approver" => Some(Role::FinanceApprover),
            "union_admin" => Some(Role::UnionAdmin),
            _ => None,
        }
    }
}

/// A staff username: 3–32 characters of a–z, 0–9, `.`, `_`, `-`, starting with a letter,
/// exactly as written (sign-in compares case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Option<Self> {
        let name = input;
        let ok = (3..=32).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        ok.then(|| Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 10–128 characters, not only digits, not only letters.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(input: &str) -> Option<Self> {
        let len = input.chars().count();
        let has_digit = input.chars().any(|c| c.is_ascii_digit());
        let has_other = input.chars().any(|c| !c.is_ascii_digit());
        let has_non_letter = input.chars().any(|c| !c.is_alphabetic());
        ((10..=128).contains(&len) && has_digit && has_other && has_non_letter)
            .then(|| Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse("demo-admin").unwrap().as_str(),
            "demo-admin"
        );
        // Taken as sent: the caller lowercases (sign-in does), nothing is trimmed.
        assert!(Username::parse(" demo-admin ").is_none());
        assert!(Username::parse("Demo-Admin").is_none());
        for bad in ["ab", "1abc", "a b c", "王师傅", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(NewPassword::parse("gongyou-2026").is_some());
        for weak in ["short1", "12345678901", "abcdefghijk", "abcdefghijkl"] {
            assert!(NewPassword::parse(weak).is_none(), "{weak}");
        }
        assert_eq!(
            format!("{:?}", NewPassword::parse("gongyou-2026").unwrap()),
            "NewPassword([REDACTED])"
        );
    }

    #[test]
    fn roles_round_trip() {
        for role in [
            Role::StationManager,
            Role::ClaimsReviewer,
            Role::FinanceApprover,
            Role::UnionAdmin,
        ] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("worker"), None);
    }
}
