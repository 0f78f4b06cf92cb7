//! Notification categories, channels and the zh-CN templates they are rendered from.

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    MembershipApproved,
    MembershipRejected,
    MembershipSuspended,
    MembershipReinstated,
    TransferApproved,
    TransferRejected,
    /// A union's notice to many (campaigns), e.g. a heat-wave warning.
    Notice,
    /// To a station's managers: a worker reported a problem there (staff inbox only).
    StationReportReceived,
    /// The member enrolled in a protection plan (in the app or from a platform roster).
    PlanEnrolled,
    /// The member's claim came back: more documents or corrections are needed.
    ClaimReturned,
    /// The member's claim was approved (and confirmed where it needed to be): it is payable.
    ClaimApproved,
    ClaimRejected,
    /// To claims reviewers: claims in their scope have waited too long (staff inbox only).
    ClaimReviewOverdue,
    /// A WeChat transfer waits for the member to confirm receipt in the mini-program.
    PayoutAwaitingConfirmation,
    /// The member's claim was paid.
    PayoutPaid,
    /// A payment did not go through (refused, not confirmed in time, cancelled).
    PayoutFailed,
    /// Finance changed where the member's claim is paid to.
    PayoutPayeeChanged,
    /// A payout to the member's WeChat balance needs them to sign in through the mini-program
    /// once (no openid of the paying app yet).
    PayoutSignInNeeded,
    /// To finance approvers: a day's reconciliation found exceptions in their scope (staff
    /// inbox only).
    ReconciliationExceptions,
    /// To finance approvers: money left the paying account that Gongyou did not send (staff
    /// inbox, and SMS to a verified staff contact phone).
    ReconciliationUnexpectedMoney,
    /// To finance approvers: a day's statement is still missing past the deadline (staff
    /// inbox only).
    ReconciliationStatementMissing,
}

impl Category {
    pub const ALL: [Category; 21] = [
        Category::MembershipApproved,
        Category::MembershipRejected,
        Category::MembershipSuspended,
        Category::MembershipReinstated,
        Category::TransferApproved,
        Category::TransferRejected,
        Category::Notice,
        Category::StationReportReceived,
        Category::PlanEnrolled,
        Category::ClaimReturned,
        Category::ClaimApproved,
        Category::ClaimRejected,
        Category::ClaimReviewOverdue,
        Category::PayoutAwaitingConfirmation,
        Category::PayoutPaid,
        Category::PayoutFailed,
        Category::PayoutPayeeChanged,
        Category::PayoutSignInNeeded,
        Category::ReconciliationExceptions,
        Category::ReconciliationUnexpectedMoney,
        Category::ReconciliationStatementMissing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::MembershipApproved => "membership_approved",
            Category::MembershipRejected => "membership_rejected",
            Category::MembershipSuspended => "membership_suspended",
            Category::MembershipReinstated => "membership_reinstated",
            Category::TransferApproved => "transfer_approved",
            Category::TransferRejected => "transfer_rejected",
            Category::Notice => "notice",
            Category::StationReportReceived => "station_report_received",
            Category::PlanEnrolled => "plan_enrolled",
            Category::ClaimReturned => "claim_returned",
            Category::ClaimApproved => "claim_approved",
            Category::ClaimRejected => "claim_rejected",
            Category::ClaimReviewOverdue => "claim_review_overdue",
            Category::PayoutAwaitingConfirmation => "payout_awaiting_confirmation",
            Category::PayoutPaid => "payout_paid",
            Category::PayoutFailed => "payout_failed",
            Category::PayoutPayeeChanged => "payout_payee_changed",
            Category::PayoutSignInNeeded => "payout_sign_in_needed",
            Category::ReconciliationExceptions => "reconciliation_exceptions",
            Category::ReconciliationUnexpectedMoney => "reconciliation_unexpected_money",
            Category::ReconciliationStatementMissing => "reconciliation_statement_missing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Critical categories reach every channel they use; preferences cannot switch them off.
    pub fn critical(self) -> bool {
        matches!(self, Category::MembershipSuspended)
    }

    /// Categories for staff: they reach the staff inbox only, and workers have no
    /// preference for them.
    pub fn staff_only(self) -> bool {
        matches!(
            self,
            Category::StationReportReceived
                | Category::ClaimReviewOverdue
                | Category::ReconciliationExceptions
                | Category::ReconciliationUnexpectedMoney
                | Category::ReconciliationStatementMissing
        )
    }

    /// Urgent categories also go by SMS.
    pub fn urgent(self) -> bool {
        matches!(self, Category::MembershipSuspended)
    }

    /// Staff categories that also go by SMS, to a staff member's verified contact phone.
    pub fn staff_sms(self) -> bool {
        matches!(self, Category::ReconciliationUnexpectedMoney)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The in-app inbox: always.
    Inbox,
    /// App push (JPush).
    Push,
    /// WeChat subscribe message (needs a subscription credit for the category's template).
    Wechat,
    /// SMS: urgent categories only.
    Sms,
}

impl Channel {
    pub const EXTERNAL: [Channel; 3] = [Channel::Push, Channel::Wechat, Channel::Sms];

    /// The external channels a category goes to.
    pub fn for_category(category: Category) -> Vec<Channel> {
        if category.staff_only() {
            return Vec::new();
        }
        let mut channels = vec![Channel::Push, Channel::Wechat];
        if category.urgent() {
            channels.push(Channel::Sms);
        }
        channels
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Inbox => "inbox",
            Channel::Push => "push",
            Channel::Wechat => "wechat",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inbox" => Some(Channel::Inbox),
            "push" => Some(Channel::Push),
            "wechat" => Some(Channel::Wechat),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// A rendered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    pub body: String,
}

fn field<'a>(params: &'a serde_json::Value, name: &str) -> &'a str {
    params.get(name).and_then(|v| v.as_str()).unwrap_or("")
}

/// Renders a category's zh-CN template with its parameters.
pub fn render(category: Category, params: &serde_json::Value) -> Rendered {
    let org = field(params, "org");
    let card = field(params, "card_number");
    let reason = field(params, "reason");
    let (title, body) = match category {
        Category::MembershipApproved => (
            "入会申请已通过".to_owned(),
            format!("您已成为{org}会员，会员卡号 {card}。"),
        ),
        Category::MembershipRejected => (
            "入会申请未通过".to_owned(),
            format!("您的入会申请未通过审核：{reason}。如有疑问请联系{org}。"),
        ),
        Category::MembershipSuspended => (
            "会籍已暂停".to_owned(),
            format!("您的会籍已暂停：{reason}。如有疑问请联系{org}。"),
        ),
        Category::MembershipReinstated => {
            ("会籍已恢复".to_owned(), format!("您在{org}的会籍已恢复。"))
        }
        Category::TransferApproved => (
            "转会已完成".to_owned(),
            format!("您已转入{org}，新会员卡号 {card}。"),
        ),
        Category::TransferRejected => (
            "转会未通过".to_owned(),
            format!(
                "您转入{org}的申请未通过{}。",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!("：{reason}")
                }
            ),
        ),
        Category::Notice => (
            field(params, "title").to_owned(),
            field(params, "body").to_owned(),
        ),
        // The worker's note stays on the report (where erasure reaches it), not in the
        // managers' inboxes.
        Category::StationReportReceived => (
            "驿站收到问题反馈".to_owned(),
            format!("{}：{}", field(params, "station"), field(params, "kind")),
        ),
        Category::PlanEnrolled => (
            "保障已到手".to_owned(),
            format!(
                "您已参加{}，保障证书号 {}，保障期 {} 至 {}。出险后可在“我的保障”中查看并申请。",
                field(params, "plan"),
                field(params, "certificate_no"),
                field(params, "from"),
                field(params, "to")
            ),
        ),
        Category::ClaimReturned => (
            "理赔申请需要补充材料".to_owned(),
            format!(
                "您的{}理赔申请被退回：{}。请在“我的理赔”中补充后重新提交。",
                field(params, "benefit"),
                field(params, "reason")
            ),
        ),
        Category::ClaimApproved => (
            "理赔申请已通过".to_owned(),
            format!(
                "您的{}理赔申请已通过，金额 {} 元，将尽快支付到您选择的收款账户。",
                field(params, "benefit"),
                field(params, "amount")
            ),
        ),
        Category::ClaimRejected => (
            "理赔申请未通过".to_owned(),
            format!(
                "您的{}理赔申请未通过：{}。如有疑问请联系所在工会。",
                field(params, "benefit"),
                field(params, "reason")
            ),
        ),
        Category::ClaimReviewOverdue => (
            "理赔申请等待审核已超时".to_owned(),
            format!(
                "您负责的范围内有 {} 件理赔申请等待审核超过 {} 小时，最早的自 {} 起等待。",
                field(params, "count"),
                field(params, "hours"),
                field(params, "oldest")
            ),
        ),
        Category::PayoutAwaitingConfirmation => (
            "理赔款待您确认收款".to_owned(),
            format!(
                "您的{}理赔款 {} 元已发出，请在 {} 前打开小程序“我的理赔款”确认收款，逾期将退回。",
                field(params, "benefit"),
                field(params, "amount"),
                field(params, "expires")
            ),
        ),
        Category::PayoutPaid => (
            "理赔款已到账".to_owned(),
            format!(
                "您的{}理赔款 {} 元已支付到{}。",
                field(params, "benefit"),
                field(params, "amount"),
                field(params, "payee")
            ),
        ),
        Category::PayoutFailed => (
            "理赔款支付未成功".to_owned(),
            format!(
                "您的{}理赔款 {} 元支付未成功：{}。工会财务将重新安排支付，如需更换收款账户请联系所在工会。",
                field(params, "benefit"),
                field(params, "amount"),
                field(params, "reason")
            ),
        ),
        Category::PayoutPayeeChanged => (
            "理赔款收款账户已变更".to_owned(),
            format!(
                "工会财务已将您的{}理赔款的收款账户改为{}，原因：{}。如非本人要求，请立即联系所在工会。",
                field(params, "benefit"),
                field(params, "payee"),
                field(params, "reason")
            ),
        ),
        Category::PayoutSignInNeeded => (
            "请登录小程序领取理赔款".to_owned(),
            format!(
                "您的{}理赔款 {} 元将转入微信零钱，请先在工友小程序中登录一次；也可联系所在工会改用您填写过的银行账户。",
                field(params, "benefit"),
                field(params, "amount")
            ),
        ),
        Category::ReconciliationExceptions => (
            "对账发现差异待处理".to_owned(),
            format!(
                "{}{}对账发现 {} 项差异待处理（金额不符、状态不符、账单缺失、重复等），请在对账页面逐项核对并处理。",
                field(params, "date"),
                field(params, "channel"),
                field(params, "count")
            ),
        ),
        Category::ReconciliationUnexpectedMoney => (
            "发现非本系统发起的资金支出".to_owned(),
            format!(
                "{}{}对账单中有 {} 笔共 {} 元支出不是工友系统发起的，请立即核查。",
                field(params, "date"),
                field(params, "channel"),
                field(params, "count"),
                field(params, "amount")
            ),
        ),
        Category::ReconciliationStatementMissing => (
            "对账单尚未取得".to_owned(),
            format!(
                "{}{}对账单截至 {} 仍未取得，当日支付尚未核对；请稍后重试或手工上传对账单。",
                field(params, "date"),
                field(params, "channel"),
                field(params, "deadline")
            ),
        ),
    };
    Rendered { title, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_their_fields() {
        let r = render(
            Category::MembershipApproved,
            &serde_json::json!({"org": "锦江区新就业形态劳动者工会", "card_number": "510104000000017"}),
        );
        assert_eq!(r.title, "入会申请已通过");
        assert_eq!(
            r.body,
            "您已成为锦江区新就业形态劳动者工会会员，会员卡号 510104000000017。"
        );
        let r = render(
            Category::TransferRejected,
            &serde_json::json!({"org": "青羊区工会"}),
        );
        assert_eq!(r.body, "您转入青羊区工会的申请未通过。");
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        assert!(Category::MembershipSuspended.critical());
        assert!(!Category::Notice.critical());
    }
}
