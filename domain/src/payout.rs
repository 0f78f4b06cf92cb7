//! Payouts (支付): the states a payout moves through, its attempts' numbers at WeChat Pay,
//! what WeChat Pay's transfer states mean for it, and which failures may be retried under
//! the same number (facts: `shared/providers/wechatpay-transfers.md`).
//!
//! Everything here is pure. Money is fen. The services' payouts (ADR 019) build on it.

use serde::{Deserialize, Serialize};

/// Where a payout is: `pending → sending → (awaiting_confirmation →) paid | failed |
/// cancelled`; a failed or cancelled payout may be retried (a new attempt, back to
/// `pending`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// In an approved batch, not sent yet.
    Pending,
    /// An attempt is with the provider (or its outcome is not known yet).
    Sending,
    /// WeChat Pay waits for the rider to confirm receipt in the mini-program.
    AwaitingConfirmation,
    Paid,
    Failed,
    Cancelled,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 6] = [
        Self::Pending,
        Self::Sending,
        Self::AwaitingConfirmation,
        Self::Paid,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether an attempt is open: the money may still move.
    pub fn in_flight(self) -> bool {
        matches!(self, Self::Sending | Self::AwaitingConfirmation)
    }
}

/// A WeChat Pay merchant transfer's state, as its API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransferState {
    Accepted,
    Processing,
    WaitUserConfirm,
    Transfering,
    Success,
    Fail,
    Canceling,
    Cancelled,
}

impl TransferState {
    /// The state as WeChat Pay writes it (and as attempts store it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "ACCEPTED",
            Self::Processing => "PROCESSING",
            Self::WaitUserConfirm => "WAIT_USER_CONFIRM",
            Self::Transfering => "TRANSFERING",
            Self::Success => "SUCCESS",
            Self::Fail => "FAIL",
            Self::Canceling => "CANCELING",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// SUCCESS, FAIL and CANCELLED are final; every other state may still change.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Fail | Self::Cancelled)
    }

    /// What the state means for the payout.
    pub fn payout_status(self) -> PayoutStatus {
        match self {
            Self::Accepted | Self::Processing | Self::Transfering | Self::Canceling => {
                PayoutStatus::Sending
            }
            Self::WaitUserConfirm => PayoutStatus::AwaitingConfirmation,
            Self::Success => PayoutStatus::Paid,
            Self::Fail => PayoutStatus::Failed,
            Self::Cancelled => PayoutStatus::Cancelled,
        }
    }
}

/// An attempt's `out_bill_no`: its id's 32 hexadecimal digits (a UUID without hyphens: at
/// most 32 letters and digits, as WeChat Pay requires), unique per attempt. The same
/// number is sent again, with identical parameters, until a query shows the attempt failed
/// or was cancelled; only then does a new attempt (a new number) start.
pub fn out_bill_no(attempt_id: &uuid::Uuid) -> String {
    attempt_id.simple().to_string()
}

/// Whether `s` is an `out_bill_no` WeChat Pay accepts: 1 to 32 ASCII letters and digits.
pub fn valid_out_bill_no(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// From 2,000.00 yuan up, a transfer names the payee (`user_name`, encrypted).
pub const USER_NAME_FROM_FEN: i64 = 200_000;

/// The smallest transfer WeChat Pay makes: 0.10 yuan.
pub const MIN_TRANSFER_FEN: i64 = 10;

/// Whether a transfer of `amount_fen` must carry the payee's name.
pub fn needs_user_name(amount_fen: i64) -> bool {
    amount_fen >= USER_NAME_FROM_FEN
}

/// The remark shown to the rider (at most 32 characters, counted as characters).
pub fn transfer_remark(text: &str) -> String {
    text.chars().take(32).collect()
}

/// How a payout goes: a WeChat transfer, or the union's bank file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Wechat,
    Bank,
}

/// The channel of a payout of `amount_fen` to a WeChat payee: by WeChat within the
/// per-transfer limit (the merchant's scene sets it; `limit_fen`), by bank above it — never
/// split into several transfers.
pub fn channel_for_wechat_payee(amount_fen: i64, limit_fen: i64) -> Channel {
    if amount_fen > limit_fen {
        Channel::Bank
    } else {
        Channel::Wechat
    }
}

/// What to do after a create request that did not come back with a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Send again with the same `out_bill_no` and identical parameters (later).
    RetrySame,
    /// Query the bill by `out_bill_no` first: the transfer may exist.
    QueryFirst,
    /// The attempt failed for good (a refused parameter, no permission, a limit): a person
    /// decides; any new attempt gets a new number.
    Permanent,
}

/// The rule for a create request's failure: `status` the HTTP status (None: no answer,
/// e.g. a timeout), `code` WeChat Pay's error code when it gave one.
pub fn after_failure(status: Option<u16>, code: Option<&str>) -> AfterFailure {
    match (status, code) {
        // No answer, or an answer we cannot read: the transfer may have been accepted.
        (None, _) => AfterFailure::QueryFirst,
        (_, Some("SYSTEM_ERROR" | "FREQUENCY_LIMITED" | "NOT_ENOUGH")) => AfterFailure::RetrySame,
        (_, Some("PARAM_ERROR" | "INVALID_REQUEST" | "NO_AUTH")) => AfterFailure::Permanent,
        (Some(429), _) => AfterFailure::RetrySame,
        (Some(s), _) if s >= 500 => AfterFailure::QueryFirst,
        (Some(_), Some(_)) => AfterFailure::Permanent,
        (Some(_), None) => AfterFailure::QueryFirst,
    }
}

/// The two-person rule of payout batches: whoever built a batch cannot approve it.
pub fn may_approve_batch(created_by: &str, approver: &str) -> bool {
    created_by != approver
}

/// Text of a bank transfer file's cell in `encoding`, or the first character that encoding
/// cannot write. encoding_rs's `encode` would silently write `&#NNNN;` for it (a payee's
/// name mangled in the bank's hands); this refuses instead.
pub fn encode_cell(text: &str, encoding: &'static encoding_rs::Encoding) -> Result<Vec<u8>, char> {
    let mut encoder = encoding.new_encoder();
    let capacity = encoder
        .max_buffer_length_from_utf8_without_replacement(text.len())
        .unwrap_or(text.len() * 4);
    let mut out = Vec::with_capacity(capacity);
    let (result, read) = encoder.encode_from_utf8_to_vec_without_replacement(text, &mut out, true);
    match result {
        encoding_rs::EncoderResult::InputEmpty => Ok(out),
        encoding_rs::EncoderResult::Unmappable(c) => Err(c),
        encoding_rs::EncoderResult::OutputFull => Err(text[read..]
            .chars()
            .next()
            .unwrap_or(char::REPLACEMENT_CHARACTER)),
    }
}

#[cfg(test)]
mod tests {

    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn transfer_states_are_written_as_wechat_pay_writes_them() {
        for state in [
            TransferState::Accepted,
            TransferState::Processing,
            TransferState::WaitUserConfirm,
            TransferState::Transfering,
            TransferState::Success,
            TransferState::Fail,
            TransferState::Canceling,
            TransferState::Cancelled,
        ] {
            assert_eq!(
                serde_json::to_value(state).ok(),
                Some(serde_json::Value::String(state.as_str().to_owned()))
            );
        }
    }

    #[test]
    fn states_round_trip_and_only_three_transfer_states_are_final() {
        for s in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(s.as_str()), Some(s));
        }
        let all = [
            TransferState::Accepted,
            TransferState::Processing,
            TransferState::WaitUserConfirm,
            TransferState::Transfering,
            TransferState::Success,
            TransferState::Fail,
            TransferState::Canceling,
            TransferState::Cancelled,
        ];
        let finals: Vec<_> = all.iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            finals,
            [
                &TransferState::Success,
                &TransferState::Fail,
                &TransferState::Cancelled
            ]
        );
        for s in all {
            // A final state ends the attempt; any other keeps it in flight.
            assert_eq!(s.is_final(), !s.payout_status().in_flight(), "{s:?}");
        }
        let parsed: TransferState = serde_json::from_str("\"WAIT_USER_CONFIRM\"").unwrap();
        assert_eq!(parsed.payout_status(), PayoutStatus::AwaitingConfirmation);
    }

    #[test]
    fn an_out_bill_no_is_32_letters_and_digits_and_unique_per_attempt() {
        let a = out_bill_no(&uuid::Uuid::now_v7());
        let b = out_bill_no(&uuid::Uuid::now_v7());
        assert_eq!(a.len(), 32);
        assert!(valid_out_bill_no(&a) && valid_out_bill_no(&b));
        assert_ne!(a, b);
        assert!(!valid_out_bill_no("0192f3c4-7a2b-7c3d-9e4f-5a6b7c8d9e0f"));
        assert!(!valid_out_bill_no(""));
        assert!(!valid_out_bill_no(&"a".repeat(33)));
    }

    #[test]
    fn names_from_two_thousand_yuan_remarks_cut_limits_never_split() {
        assert!(!needs_user_name(199_999));
        assert!(needs_user_name(200_000));
        assert_eq!(transfer_remark(&"理".repeat(40)).chars().count(), 32);
        assert_eq!(transfer_remark("工会理赔款"), "工会理赔款");
        assert_eq!(channel_for_wechat_payee(500_000, 500_000), Channel::Wechat);
        assert_eq!(channel_for_wechat_payee(500_001, 500_000), Channel::Bank);
    }

    #[test]
    fn bank_cells_are_written_whole_or_refused_with_the_character() {
        let gbk = encoding_rs::GBK;
        assert_eq!(
            encode_cell("张三", gbk).unwrap(),
            vec![0xD5, 0xC5, 0xC8, 0xFD]
        );
        // 𠮷 (U+20BB7, in some given names) has no GBK code: refused, not written as &#134071;.
        assert_eq!(encode_cell("吉𠮷", gbk), Err('𠮷'));
        assert_eq!(
            encode_cell("吉𠮷", encoding_rs::UTF_8).unwrap(),
            "吉𠮷".as_bytes()
        );
        assert!(may_approve_batch("finance-1", "finance-2"));
        assert!(!may_approve_batch("finance-1", "finance-1"));
    }

    #[test]
    fn only_known_transient_failures_are_sent_again_under_the_same_number() {
        use AfterFailure::*;
        assert_eq!(after_failure(None, None), QueryFirst);
        assert_eq!(after_failure(Some(500), Some("SYSTEM_ERROR")), RetrySame);
        assert_eq!(
            after_failure(Some(429), Some("FREQUENCY_LIMITED")),
            RetrySame
        );
        assert_eq!(after_failure(Some(403), Some("NOT_ENOUGH")), RetrySame);
        assert_eq!(after_failure(Some(400), Some("PARAM_ERROR")), Permanent);
        assert_eq!(after_failure(Some(403), Some("NO_AUTH")), Permanent);
        assert_eq!(after_failure(Some(502), None), QueryFirst);
        assert_eq!(after_failure(Some(400), None), QueryFirst);
    }
}
