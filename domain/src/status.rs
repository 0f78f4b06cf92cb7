//! The lifecycles of what Gongyou tracks, as state machines: each status is an enum with the
//! transitions it allows, persisted as its text (`as_str`, `TryFrom<String>`) by the storage
//! layer. A use-case asks `can_become` (or `transition`) before it writes a new status, so an
//! illegal move is refused in one place instead of being re-checked ad hoc per handler.

use std::fmt;

/// A status text that names no status of its kind (a corrupt row, or a stale client value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} status `{value}`")]
pub struct UnknownStatus {
    pub kind: &'static str,
    pub value: String,
}

/// A move the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {kind} cannot go from {from} to {to}")]
pub struct InvalidTransition {
    pub kind: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

/// What every status enum offers, for code that handles any of them (filters, listings).
pub trait Status: Copy + 'static {
    /// Every status of the kind.
    fn all() -> &'static [Self];
    /// The stored and serialized text.
    fn text(self) -> &'static str;
    fn from_text(text: &str) -> Option<Self>;
}

macro_rules! status_enum {
    (
        $(#[$meta:meta])*
        $name:ident ($kind:literal) { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
        transitions { $($from:ident => [$($to:ident),*]),* $(,)? }
    ) => {
        $(#[$meta])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every status, in lifecycle order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored and serialized text.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }

            /// Whether the lifecycle allows moving from `self` to `to`.
            pub fn can_become(self, to: Self) -> bool {
                #[allow(unreachable_patterns)]
                match self {
                    $(Self::$from => matches!(to, $(Self::$to)|*),)*
                    _ => false,
                }
            }

            /// `to`, when the lifecycle allows the move.
            pub fn transition(self, to: Self) -> Result<Self, InvalidTransition> {
                if self.can_become(to) {
                    Ok(to)
                } else {
                    Err(InvalidTransition { kind: $kind, from: self.as_str(), to: to.as_str() })
                }
            }

            /// Whether nothing can follow.
            pub fn is_final(self) -> bool {
                Self::ALL.iter().all(|to| !self.can_become(*to))
            }
        }

        impl Status for $name {
            fn all() -> &'static [Self] {
                Self::ALL
            }
            fn text(self) -> &'static str {
                self.as_str()
            }
            fn from_text(text: &str) -> Option<Self> {
                Self::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownStatus;
            fn try_from(text: String) -> Result<Self, UnknownStatus> {
                Self::parse(&text).ok_or(UnknownStatus { kind: $kind, value: text })
            }
        }

        impl From<$name> for String {
            fn from(status: $name) -> String {
                status.as_str().to_owned()
            }
        }
    };
}

status_enum! {
    /// A membership application: decided once, by an admin or the auto-approval rule, or
    /// withdrawn by the applicant while pending.
    ApplicationStatus ("application") {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
    }
    transitions {
        Pending => [Approved, Rejected, Withdrawn],
    }
}

status_enum! {
    /// A membership: suspended and reinstated by admins; withdrawn by the member for good.
    /// (A transfer moves an active membership to another union without changing its status.)
    MembershipStatus ("membership") {
        Active = "active",
        Suspended = "suspended",
        Withdrawn = "withdrawn",
    }
    transitions {
        Active => [Suspended, Withdrawn],
        Suspended => [Active, Withdrawn],
    }
}

impl MembershipStatus {
    /// Not withdrawn: the person is (still) a member, perhaps suspended.
    pub fn is_live(self) -> bool {
        self != Self::Withdrawn
    }
}

status_enum! {
    /// A transfer between unions: the receiving union decides; the member's withdrawal
    /// cancels it.
    TransferStatus ("transfer") {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        Cancelled = "cancelled",
    }
    transitions {
        Pending => [Approved, Rejected, Cancelled],
    }
}

status_enum! {
    /// A background job. A worker claims a due job (queued, failed and due again, or running
    /// with a lapsed lease: taken over), then records it done, failed (to be retried) or dead
    /// (out of attempts, or refused for good); a stopping worker releases it back to queued.
    /// An operator may send a dead or failed job back to the queue, to run now.
    JobStatus ("job") {
        Queued = "queued",
        Running = "running",
        Failed = "failed",
        Dead = "dead",
        Done = "done",
    }
    transitions {
        Queued => [Running],
        Running => [Running, Done, Failed, Dead, Queued],
        Failed => [Running, Queued],
        Dead => [Queued],
    }
}

impl JobStatus {
    /// Holds its dedup key: a job with the same key is not enqueued again meanwhile.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Queued | Self::Running | Self::Failed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn texts_round_trip_and_unknown_texts_are_refused() {
        for s in MembershipStatus::ALL {
            assert_eq!(MembershipStatus::try_from(s.as_str().to_owned()), Ok(*s));
        }
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(&String::from(*s)), Some(*s));
        }
        let err = ApplicationStatus::try_from("approve".to_owned()).unwrap_err();
        assert_eq!(err.to_string(), "unknown application status `approve`");
        assert_eq!(
            serde_json::to_value(TransferStatus::Cancelled).unwrap(),
            "cancelled"
        );
    }

    #[test]
    fn applications_are_decided_once() {
        use ApplicationStatus::*;
        assert!(Pending.can_become(Approved) && Pending.can_become(Rejected));
        assert!(!Approved.can_become(Rejected) && !Rejected.can_become(Approved));
        assert!(!Pending.can_become(Pending));
        assert!(Approved.is_final() && Rejected.is_final() && !Pending.is_final());
    }

    #[test]
    fn withdrawal_is_final_and_suspension_reversible() {
        use MembershipStatus::*;
        assert!(Active.can_become(Suspended) && Suspended.can_become(Active));
        assert!(Active.can_become(Withdrawn) && Suspended.can_become(Withdrawn));
        assert!(Withdrawn.is_final());
        assert_eq!(
            Withdrawn.transition(Active),
            Err(InvalidTransition {
                kind: "membership",
                from: "withdrawn",
                to: "active"
            })
        );
        assert!(!Active.can_become(Active), "suspending twice is not a move");
        assert!(Active.is_live() && Suspended.is_live() && !Withdrawn.is_live());
    }

    #[test]
    fn transfers_end_once() {
        use TransferStatus::*;
        for end in [Approved, Rejected, Cancelled] {
            assert!(Pending.can_become(end));
            assert!(end.is_final());
        }
    }

    #[test]
    fn jobs_run_before_they_end_and_finished_ones_are_not_requeued() {
        use JobStatus::*;
        assert!(
            !Queued.can_become(Done),
            "a job is claimed before it finishes"
        );
        assert!(Running.can_become(Failed) && Failed.can_become(Running));
        assert!(Dead.can_become(Queued) && !Done.can_become(Queued));
        assert!(Done.is_final());
        assert_eq!(
            JobStatus::ALL.iter().filter(|s| s.is_live()).count(),
            3,
            "queued, running and failed keep a dedup key"
        );
    }
}
