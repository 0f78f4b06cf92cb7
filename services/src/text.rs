//! Every kind of text a request carries, named once: its [`TextRule`] (what the use-case
//! checks) and its JSON Schema (what `openapi.yaml` says), from the same value. A request
//! field names its kind with `#[schema(value_type = StationName, inline)]` and the use-case
//! checks it with `StationName::RULE`.

use gongyou_domain::text::TextRule;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

macro_rules! text_kinds {
    ($($(#[$doc:meta])* $name:ident = $rule:expr;)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl $name {
                pub const RULE: TextRule = $rule;
            }

            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    schema_of(&Self::RULE)
                }
            }

            impl utoipa::ToSchema for $name {}
        )+
    };
}

/// A string schema with the rule's length and pattern.
fn schema_of(rule: &TextRule) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(rule.max))
        .pattern(Some(rule.pattern()))
        .into()
}

text_kinds! {
    /// A station's name.
    StationName = TextRule::text(2, 40);
    /// A station's address.
    StationAddress = TextRule::text(2, 120);
    /// A station's notice.
    StationNotice = TextRule::text(0, 200);
    /// A worker's note on a report, or a manager's on its resolution.
    ReportNote = TextRule::text(0, 500);
    /// A campaign's title.
    CampaignTitle = TextRule::text(1, 40);
    /// A campaign's text.
    CampaignBody = TextRule::text(1, 500);
    /// Why a staff member decided (rejection, suspension, reinstatement).
    DecisionReason = TextRule::text(1, 200);
    /// Why an unmasked identity is read.
    ReadPurpose = TextRule::text(4, 200);
    /// An optional reason or note (transfers, withdrawal).
    OptionalNote = TextRule::text(0, 200);
    /// A person's real name.
    RealName = gongyou_domain::membership::REAL_NAME;
    /// An org's name.
    OrgName = gongyou_domain::org::ORG_NAME;
    /// A staff member's display name.
    DisplayName = TextRule::line(1, 64);
    /// A protection plan's name.
    PlanName = TextRule::line(2, 40);
    /// A protection plan's description.
    PlanDescription = TextRule::text(0, 2000);
    /// A benefit item's name.
    BenefitName = TextRule::line(2, 40);
    /// Where an incident happened.
    ClaimPlace = TextRule::text(1, 200);
    /// The hospital of a claim (sealed at rest).
    ClaimHospital = TextRule::text(0, 100);
    /// A claim's diagnosis (sealed at rest).
    ClaimDiagnosis = TextRule::text(0, 500);
    /// A reviewer's or approver's note on a decision, shown to the claimant.
    ReviewNote = TextRule::text(0, 500);
    /// Why finance changes a payout's payee (told to the rider).
    PayeeReason = TextRule::text(2, 200);
    /// A bank account holder's name.
    PayeeHolder = TextRule::line(1, 50);
    /// A bank and branch.
    PayeeBank = TextRule::line(1, 60);
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    #[test]
    fn a_kind_states_its_rule_in_the_schema() {
        let schema = serde_json::to_value(StationName::schema()).unwrap_or_default();
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["maxLength"], 40);
        assert_eq!(schema["pattern"], StationName::RULE.pattern());
    }
}
