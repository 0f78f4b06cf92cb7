use super::*;
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn benefit(payout: Payout, documents: Vec<DocumentKind>) -> Benefit {
    Benefit {
        code: "item".into(),
        name: "保障项目".into(),
        payout,
        illness_waiting_days: 30,
        accident_waiting_days: 0,
        documents,
    }
}

const DAILY: Payout = Payout::DailyAllowance {
    per_day_fen: 20_000,
    max_days: 30,
};

fn cover(payout: Payout, documents: Vec<DocumentKind>) -> Cover {
    Cover {
        effective_from: d(2026, 3, 1),
        effective_to: d(2026, 12, 31),
        benefit: benefit(payout, documents),
    }
}

fn stay(kind: IncidentType, on: NaiveDate, admitted: NaiveDate, out: NaiveDate) -> Incident {
    Incident {
        kind,
        occurred_on: on,
        admitted_on: Some(admitted),
        discharged_on: Some(out),
        claimed_cost_fen: None,
        invoice_numbers: Vec::new(),
    }
}

fn codes(a: &Assessment) -> Vec<&'static str> {
    a.failures.iter().map(|f| f.code).collect()
}

fn today() -> NaiveDate {
    d(2026, 7, 1)
}

#[test]
fn every_state_moves_only_along_the_documented_edges() {
    use ClaimStatus as S;
    let actions = [
        Action::Submit,
        Action::Resubmit,
        Action::Assign,
        Action::Return,
        Action::Approve {
            needs_confirmation: true,
        },
        Action::Approve {
            needs_confirmation: false,
        },
        Action::Confirm,
        Action::Reject,
        Action::Withdraw,
        Action::Paid,
        Action::PayoutFailed,
    ];
    let allowed: &[(S, Action, S)] = &[
        (S::Draft, Action::Submit, S::Submitted),
        (S::Returned, Action::Resubmit, S::Submitted),
        (S::Submitted, Action::Assign, S::UnderReview),
        (S::UnderReview, Action::Assign, S::UnderReview),
        (S::UnderReview, Action::Return, S::Returned),
        (S::UnderReview, actions[4], S::AwaitingConfirmation),
        (S::UnderReview, actions[5], S::Approved),
        (S::AwaitingConfirmation, Action::Confirm, S::Approved),
        (S::UnderReview, Action::Reject, S::Rejected),
        (S::AwaitingConfirmation, Action::Reject, S::Rejected),
        (S::Draft, Action::Withdraw, S::Withdrawn),
        (S::Submitted, Action::Withdraw, S::Withdrawn),
        (S::Returned, Action::Withdraw, S::Withdrawn),
        (S::UnderReview, Action::Withdraw, S::Withdrawn),
        (S::Approved, Action::Paid, S::Paid),
        (S::PayoutFailed, Action::Paid, S::Paid),
        (S::Approved, Action::PayoutFailed, S::PayoutFailed),
    ];
    for from in S::ALL {
        for action in actions {
            let expected = allowed
                .iter()
                .find(|(f, a, _)| *f == from && *a == action)
                .map(|(_, _, to)| *to);
            match (transition(from, action), expected) {
                (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} {action:?}"),
                (Err(e), None) => assert_eq!(e, IllegalTransition { from, action }),
                (got, want) => panic!("{from:?} {action:?}: got {got:?}, want {want:?}"),
            }
        }
    }
    // Decided claims are final for the claimant.
    for from in [
        S::AwaitingConfirmation,
        S::Approved,
        S::Rejected,
        S::Paid,
        S::Withdrawn,
    ] {
        assert!(transition(from, Action::Withdraw).is_err());
        assert!(transition(from, Action::Submit).is_err());
        assert!(transition(from, Action::Resubmit).is_err());
    }
}

#[test]
fn statuses_round_trip_and_the_limits_count_what_may_still_be_paid() {
    for s in ClaimStatus::ALL {
        assert_eq!(ClaimStatus::parse(s.as_str()), Some(s));
    }
    assert!(!ClaimStatus::Draft.counts_against_limits());
    assert!(!ClaimStatus::Rejected.counts_against_limits());
    assert!(!ClaimStatus::Withdrawn.counts_against_limits());
    assert!(ClaimStatus::UnderReview.counts_against_limits());
    assert!(ClaimStatus::Returned.counts_against_limits());
    assert!(ClaimStatus::Paid.counts_against_limits());
}

#[test]
fn a_hospital_stay_pays_its_days_within_the_days_left() {
    let docs = vec![DocumentKind::DischargeSummary];
    let c = cover(DAILY, docs.clone());
    let incident = stay(
        IncidentType::Accident,
        d(2026, 6, 1),
        d(2026, 6, 1),
        d(2026, 6, 6),
    );
    let a = assess(&incident, &docs, &c, &Used::default(), today());
    assert_eq!(codes(&a), Vec::<&str>::new());
    assert_eq!((a.days, a.amount_fen), (Some(5), 100_000));

    // 27 of 30 days used: 3 are paid.
    let used = Used {
        days: 27,
        ..Used::default()
    };
    let a = assess(&incident, &docs, &c, &used, today());
    assert_eq!((a.days, a.amount_fen), (Some(3), 60_000));
    assert!(a.failures.is_empty());

    // All used: refused, and nothing to pay.
    let used = Used {
        days: 30,
        ..Used::default()
    };
    let a = assess(&incident, &docs, &c, &used, today());
    assert_eq!(codes(&a), vec!["days_exhausted"]);
    assert_eq!(a.amount_fen, 0);

    // Discharged the day of admission: one day.
    assert_eq!(stay_days(d(2026, 6, 1), d(2026, 6, 1)), 1);
}

#[test]
fn every_failure_is_reported_at_once_each_with_its_sentence() {
    let docs_needed = vec![
        DocumentKind::IdFront,
        DocumentKind::MedicalRecordFrontPage,
        DocumentKind::DischargeSummary,
    ];
    let c = cover(DAILY, docs_needed);
    // An illness in the waiting period, a stay that ends before it begins, a stay that
    // overlaps an earlier claim's, two documents missing.
    let incident = stay(
        IncidentType::Illness,
        d(2026, 3, 10),
        d(2026, 3, 12),
        d(2026, 3, 11),
    );
    let a = assess(
        &incident,
        &[DocumentKind::IdFront],
        &c,
        &Used::default(),
        today(),
    );
    assert_eq!(
        codes(&a),
        vec![
            "waiting_period",
            "stay_invalid",
            "document_missing",
            "document_missing"
        ]
    );
    let details: Vec<&str> = a.failures.iter().map(|f| f.detail.as_str()).collect();
    assert_eq!(
        details[0],
        "疾病出险的等待期为 30 天，2026-03-31 起发生的疾病才在保障范围内"
    );
    assert_eq!(details[2], "缺少病案首页");
    assert_eq!(details[3], "缺少出院小结");

    // In the future, outside the cover, with half a stay.
    let incident = Incident {
        kind: IncidentType::Accident,
        occurred_on: d(2027, 1, 2),
        admitted_on: Some(d(2027, 1, 2)),
        discharged_on: None,
        claimed_cost_fen: None,
        invoice_numbers: Vec::new(),
    };
    let a = assess(
        &incident,
        &[],
        &cover(DAILY, vec![]),
        &Used::default(),
        today(),
    );
    assert_eq!(
        codes(&a),
        vec![
            "incident_in_future",
            "not_covered_on_incident_date",
            "stay_incomplete"
        ]
    );
}

#[test]
fn cover_and_waiting_period_edges() {
    let c = cover(DAILY, vec![]);
    let on = |day: NaiveDate, kind| {
        let a = assess(
            &stay(kind, day, day, day),
            &[],
            &c,
            &Used::default(),
            d(2027, 6, 1),
        );
        codes(&a)
    };
    // The cover's first and last days are covered; the days around them are not.
    assert_eq!(
        on(d(2026, 2, 28), IncidentType::Accident),
        vec!["not_covered_on_incident_date"]
    );
    assert_eq!(
        on(d(2026, 3, 1), IncidentType::Accident),
        Vec::<&str>::new()
    );
    assert_eq!(
        on(d(2026, 12, 31), IncidentType::Accident),
        Vec::<&str>::new()
    );
    assert_eq!(
        on(d(2027, 1, 1), IncidentType::Accident),
        vec!["not_covered_on_incident_date"]
    );
    // Illness waits 30 days from the first day of cover: covered from 2026-03-31.
    assert_eq!(
        on(d(2026, 3, 30), IncidentType::Illness),
        vec!["waiting_period"]
    );
    assert_eq!(
        on(d(2026, 3, 31), IncidentType::Illness),
        Vec::<&str>::new()
    );
}

#[test]
fn a_stay_already_claimed_cannot_be_claimed_again() {
    let c = cover(DAILY, vec![]);
    let used = Used {
        stays: vec![(d(2026, 6, 1), d(2026, 6, 5))],
        ..Used::default()
    };
    // A transfer: discharged on 6-5, admitted elsewhere on 6-5: two stays, no night shared.
    let transfer = stay(
        IncidentType::Accident,
        d(2026, 6, 5),
        d(2026, 6, 5),
        d(2026, 6, 9),
    );
    assert!(assess(&transfer, &[], &c, &used, today())
        .failures
        .is_empty());
    let overlapping = stay(
        IncidentType::Accident,
        d(2026, 6, 4),
        d(2026, 6, 4),
        d(2026, 6, 9),
    );
    assert_eq!(
        codes(&assess(&overlapping, &[], &c, &used, today())),
        vec!["stay_overlaps"]
    );
    let after = stay(
        IncidentType::Accident,
        d(2026, 6, 6),
        d(2026, 6, 6),
        d(2026, 6, 9),
    );
    assert!(assess(&after, &[], &c, &used, today()).failures.is_empty());
    // Still in hospital: wait for the discharge.
    let ongoing = stay(
        IncidentType::Accident,
        d(2026, 6, 28),
        d(2026, 6, 28),
        d(2026, 7, 3),
    );
    assert_eq!(
        codes(&assess(&ongoing, &[], &c, &used, today())),
        vec!["stay_not_over"]
    );
}

#[test]
fn a_lump_sum_is_paid_once_per_coverage_period() {
    let c = cover(
        Payout::LumpSum {
            amount_fen: 3_000_000,
        },
        vec![DocumentKind::AccidentProof],
    );
    let incident = Incident {
        kind: IncidentType::Accident,
        occurred_on: d(2026, 5, 1),
        admitted_on: None,
        discharged_on: None,
        claimed_cost_fen: None,
        invoice_numbers: Vec::new(),
    };
    let a = assess(
        &incident,
        &[DocumentKind::AccidentProof],
        &c,
        &Used::default(),
        today(),
    );
    assert_eq!((codes(&a), a.amount_fen), (vec![], 3_000_000));
    let used = Used {
        lump_sum: true,
        ..Used::default()
    };
    let a = assess(
        &incident,
        &[DocumentKind::AccidentProof],
        &c,
        &used,
        today(),
    );
    assert_eq!((codes(&a), a.amount_fen), (vec!["lump_sum_claimed"], 0));
}

#[test]
fn a_reimbursement_pays_its_share_within_both_caps_and_each_invoice_once() {
    let payout = Payout::Reimbursement {
        percent_bp: 8_000,
        per_claim_cap_fen: 500_000,
        yearly_cap_fen: 1_000_000,
    };
    let c = cover(payout, vec![DocumentKind::Invoice]);
    let claim = |cost: i64, invoices: &[&str]| Incident {
        kind: IncidentType::Accident,
        occurred_on: d(2026, 5, 1),
        admitted_on: None,
        discharged_on: None,
        claimed_cost_fen: Some(cost),
        invoice_numbers: invoices.iter().map(|s| (*s).to_owned()).collect(),
    };
    let docs = [DocumentKind::Invoice];
    // 80 % of 1,234.57 yuan = 987.656 → 987.65 (rounded down to the fen).
    let a = assess(
        &claim(123_457, &["A1"]),
        &docs,
        &c,
        &Used::default(),
        today(),
    );
    assert_eq!((codes(&a), a.amount_fen), (vec![], 98_765));
    // Capped per claim at 5,000.00.
    let a = assess(
        &claim(10_000_000, &["A1"]),
        &docs,
        &c,
        &Used::default(),
        today(),
    );
    assert_eq!(a.amount_fen, 500_000);
    // 8,000.00 of 10,000.00 used this period: 2,000.00 left.
    let used = Used {
        amount_fen: 800_000,
        invoice_numbers: ["B7".to_owned()].into(),
        ..Used::default()
    };
    let a = assess(&claim(10_000_000, &["A1"]), &docs, &c, &used, today());
    assert_eq!(a.amount_fen, 200_000);
    // An invoice claimed before, one given twice, no cost, no invoices.
    let a = assess(
        &claim(10_000, &["B7", "C1", "C1"]),
        &docs,
        &c,
        &used,
        today(),
    );
    assert_eq!(codes(&a), vec!["invoice_claimed", "invoice_claimed"]);
    let mut none = claim(0, &[]);
    none.claimed_cost_fen = None;
    let a = assess(&none, &[], &c, &used, today());
    assert_eq!(
        codes(&a),
        vec![
            "document_missing",
            "invoice_numbers_missing",
            "cost_missing"
        ]
    );
    // One invoice written three ways is one invoice; a blank number is no number.
    let a = assess(
        &claim(10_000, &["ab-123", "ＡＢ１２３", " "]),
        &docs,
        &c,
        &used,
        today(),
    );
    assert_eq!(codes(&a), vec!["invoice_claimed"]);
    let a = assess(&claim(10_000, &[" ", ""]), &docs, &c, &used, today());
    assert_eq!(codes(&a), vec!["invoice_numbers_missing"]);
    assert_eq!(normalize_invoice_number(" ｂ７ "), "B7");
    let a = assess(&claim(10_000, &["b 7"]), &docs, &c, &used, today());
    assert_eq!(codes(&a), vec!["invoice_claimed"], "matches B7 used before");
    // Nothing left.
    let spent = Used {
        amount_fen: 1_000_000,
        ..Used::default()
    };
    let a = assess(&claim(10_000, &["D1"]), &docs, &c, &spent, today());
    assert_eq!((codes(&a), a.amount_fen), (vec!["yearly_cap_reached"], 0));
}

#[test]
fn payees_are_checked_and_bank_accounts_masked() {
    assert_eq!(payee_failures(Some(&Payee::WechatBalance)), vec![]);
    let codes_of = |p: Option<&Payee>| -> Vec<&'static str> {
        payee_failures(p).into_iter().map(|f| f.code).collect()
    };
    assert_eq!(codes_of(None), vec!["payee_missing"]);
    let blank = Payee::Bank {
        holder: " ".into(),
        bank: "".into(),
        account: "6222021234567890123".into(),
    };
    assert_eq!(
        codes_of(Some(&blank)),
        vec!["payee_holder_missing", "payee_bank_missing"]
    );
    assert_eq!(
        parse_bank_account("6222 0212-3456 7890 123"),
        Ok("6222021234567890123".to_owned())
    );
    for bad in [
        "",
        "123456789",
        "6222０２１２３４５６７８９",
        "6222x21234567890",
        &"1".repeat(31),
    ] {
        assert_eq!(
            parse_bank_account(bad).map_err(|f| f.code),
            Err("bank_account_invalid"),
            "{bad:?}"
        );
    }
    assert_eq!(
        mask_bank_account("6222021234567890123"),
        "6222***********0123"
    );
    assert_eq!(mask_bank_account("1234567890"), "******7890");
    assert_eq!(mask_bank_account("12345678"), "********");
}

#[test]
fn what_other_claims_hold_counts_only_the_same_item_and_live_claims() {
    let prior =
        |status, enrollment: &str, item: &str, days, fen, stay, invoices: &[&str]| PriorClaim {
            id: format!("{enrollment}-{item}-{days}-{fen}"),
            status,
            enrollment_id: enrollment.into(),
            benefit_code: item.into(),
            days,
            amount_fen: fen,
            lump_sum: false,
            stay,
            invoice_numbers: invoices.iter().map(|s| (*s).to_owned()).collect(),
        };
    let june = Some((d(2026, 6, 1), d(2026, 6, 5)));
    let claims = vec![
        prior(
            ClaimStatus::Approved,
            "e1",
            "daily",
            4,
            80_000,
            june,
            &["a-1"],
        ),
        prior(
            ClaimStatus::UnderReview,
            "e1",
            "daily",
            2,
            40_000,
            None,
            &[],
        ),
        // Not counted: rejected, withdrawn, a draft.
        prior(ClaimStatus::Rejected, "e1", "daily", 9, 1, None, &["R1"]),
        prior(ClaimStatus::Withdrawn, "e1", "daily", 9, 1, None, &["W1"]),
        prior(ClaimStatus::Draft, "e1", "daily", 9, 1, None, &["D1"]),
        // Another item, another enrollment: only their invoices count.
        prior(
            ClaimStatus::Paid,
            "e1",
            "medical",
            0,
            500_000,
            june,
            &["M 7"],
        ),
        prior(
            ClaimStatus::Paid,
            "e0",
            "daily",
            30,
            600_000,
            None,
            &["OLD"],
        ),
    ];
    let used = used_by(&claims, "this-claim", "e1", "daily");
    assert_eq!((used.days, used.amount_fen), (6, 120_000));
    assert_eq!(used.stays, vec![(d(2026, 6, 1), d(2026, 6, 5))]);
    let mut invoices: Vec<&str> = used.invoice_numbers.iter().map(String::as_str).collect();
    invoices.sort();
    assert_eq!(invoices, vec!["A1", "M7", "OLD"]);
    assert!(!used.lump_sum);
    let mut lump = prior(
        ClaimStatus::AwaitingConfirmation,
        "e1",
        "death",
        0,
        3_000_000,
        None,
        &[],
    );
    lump.lump_sum = true;
    assert!(used_by(&[lump.clone()], "new", "e1", "death").lump_sum);
    assert!(!used_by(&[lump.clone()], "new", "e2", "death").lump_sum);
    // A returned claim resubmitted is not its own earlier claim.
    let id = lump.id.clone();
    assert!(!used_by(&[lump], &id, "e1", "death").lump_sum);
}

#[test]
fn large_approvals_need_a_second_person() {
    assert!(!needs_confirmation(
        DEFAULT_CONFIRM_THRESHOLD_FEN,
        DEFAULT_CONFIRM_THRESHOLD_FEN
    ));
    assert!(needs_confirmation(
        DEFAULT_CONFIRM_THRESHOLD_FEN + 1,
        DEFAULT_CONFIRM_THRESHOLD_FEN
    ));
    assert!(!may_confirm("staff-1", "staff-1"));
    assert!(may_confirm("staff-1", "staff-2"));
}

#[test]
fn a_missing_document_names_its_kind_and_stays_overlap_only_by_a_shared_night() {
    let c = cover(
        DAILY,
        vec![DocumentKind::IdFront, DocumentKind::DischargeSummary],
    );
    let incident = stay(
        IncidentType::Accident,
        d(2026, 6, 1),
        d(2026, 6, 1),
        d(2026, 6, 2),
    );
    let a = assess(&incident, &[], &c, &Used::default(), today());
    let subjects: Vec<Option<&str>> = a.failures.iter().map(|f| f.subject.as_deref()).collect();
    assert_eq!(subjects, vec![Some("id_front"), Some("discharge_summary")]);
    assert!(stays_overlap(
        (d(2026, 6, 1), d(2026, 6, 1)),
        (d(2026, 6, 1), d(2026, 6, 3))
    ));
    assert!(!stays_overlap(
        (d(2026, 6, 3), d(2026, 6, 3)),
        (d(2026, 6, 1), d(2026, 6, 3))
    ));
}

fn any_payout() -> impl Strategy<Value = Payout> {
    prop_oneof![
        (1i64..1_000_000, 1u32..400).prop_map(|(per_day_fen, max_days)| Payout::DailyAllowance {
            per_day_fen,
            max_days
        }),
        (1i64..100_000_000).prop_map(|amount_fen| Payout::LumpSum { amount_fen }),
        (1u32..=10_000, 1i64..10_000_000, 1i64..100_000_000).prop_map(
            |(percent_bp, per_claim_cap_fen, yearly_cap_fen)| Payout::Reimbursement {
                percent_bp,
                per_claim_cap_fen,
                yearly_cap_fen
            }
        ),
    ]
}

proptest! {
    /// Whatever the terms, the stay and what is used: the amount is never negative, never
    /// more than the period has left, within the per-claim cap, and a daily allowance is
    /// exactly its days times the rate, the days within both the stay and the days left.
    #[test]
    fn the_amount_stays_within_every_cap(
        payout in any_payout(),
        start in 0u32..300,
        length in 0u32..60,
        used_days in 0u32..400,
        used_fen in 0i64..100_000_000,
        cost in 1i64..1_000_000_000,
    ) {
        let c = cover(payout, vec![]);
        let admitted = d(2026, 3, 1) + chrono::Days::new(u64::from(start));
        let out = admitted + chrono::Days::new(u64::from(length));
        let incident = Incident {
            kind: IncidentType::Accident,
            occurred_on: admitted,
            admitted_on: Some(admitted),
            discharged_on: Some(out),
            claimed_cost_fen: Some(cost),
            invoice_numbers: vec!["N1".into()],
        };
        let used = Used { days: used_days, amount_fen: used_fen, ..Used::default() };
        let a = assess(&incident, &[], &c, &used, d(2027, 6, 1));
        prop_assert!(a.amount_fen >= 0);
        match payout {
            Payout::DailyAllowance { per_day_fen, max_days } => {
                let days = a.days.unwrap();
                prop_assert!(days <= max_days.saturating_sub(used_days));
                prop_assert!(days <= stay_days(admitted, out));
                prop_assert_eq!(a.amount_fen, per_day_fen * i64::from(days));
                prop_assert_eq!(
                    days == 0,
                    a.failures.iter().any(|f| f.code == "days_exhausted")
                );
            }
            Payout::LumpSum { amount_fen } => prop_assert_eq!(a.amount_fen, amount_fen),
            Payout::Reimbursement { percent_bp, per_claim_cap_fen, yearly_cap_fen } => {
                prop_assert!(a.amount_fen <= per_claim_cap_fen);
                prop_assert!(a.amount_fen <= (yearly_cap_fen - used_fen).max(0));
                prop_assert!(a.amount_fen <= reimbursement_fen(cost, percent_bp));
                // More cost never pays less.
                let more = Incident { claimed_cost_fen: Some(cost + 1), ..incident.clone() };
                prop_assert!(assess(&more, &[], &c, &used, d(2027, 6, 1)).amount_fen >= a.amount_fen);
            }
        }
    }

    /// A share rounded down: never more than the exact share, less by under one fen.
    #[test]
    fn a_share_is_rounded_down_to_the_fen(cost in 0i64..10_000_000_000, bp in 0u32..=10_000) {
        let share = i128::from(reimbursement_fen(cost, bp));
        let exact_times_10k = i128::from(cost) * i128::from(bp);
        prop_assert!(share * 10_000 <= exact_times_10k);
        prop_assert!(exact_times_10k < (share + 1) * 10_000);
    }
}
