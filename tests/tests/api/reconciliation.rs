//! Reconciliation, end to end over HTTP against the fake WeChat Pay: payouts are paid
//! through it, the daily job downloads the fake's fund-flow bill of the day (made from its
//! own ledger, with exceptions injected), checks its hash and reconciles it line by line;
//! finance reads the run, resolves exceptions in scope and exports them; the same day
//! reconciled again replaces the run without doubling anything and keeps the resolutions.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use gongyou_domain::clock::Clock;
use gongyou_providers::wechatpay::fake::{FakeFlow, FakeLedgerLine, BILL_BUSINESS_NAME};
use gongyou_tests::session::Session;
use serde_json::{json, Value};

use crate::claims::{body, inbox_categories, shanghai};
use crate::payouts::{pay, Pay};

/// The day the fixture pays on (members() sets the clock to 2026-04-20 10:00, Beijing).
pub(crate) fn pay_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 20).unwrap()
}

/// `n` riders with approved claims (1000.00 each), sent in one WeChat batch: their payout
/// ids, and each payout's out_bill_no.
async fn sent(p: &Pay, phones: &[(&str, &str)]) -> Vec<(String, String)> {
    let workers = p.f.members(phones).await;
    let mut payouts = Vec::new();
    for w in &workers {
        let (_, payout) = p.approved(w).await;
        payouts.push(payout);
    }
    let ids: Vec<&str> = payouts.iter().map(String::as_str).collect();
    p.approved_batch("wechat", &ids).await;
    p.run_jobs().await;
    let finance = p.f.staff("demo-finance").await;
    let mut out = Vec::new();
    for id in payouts {
        let (_, v) =
            p.f.get(&finance, &format!("/api/v1/finance/payouts/{id}"))
                .await;
        let bill = v["attempts"][0]["out_bill_no"].as_str().unwrap().to_owned();
        out.push((id, bill));
    }
    out
}

/// The next morning: the daily job queues yesterday's run, the worker reconciles it.
async fn reconcile_next_morning(p: &Pay) -> Value {
    p.f.app
        .clock
        .set(shanghai(2026, 4, 21, 10) + Duration::minutes(30));
    gongyou_services::reconcile::daily(&p.f.app.state.services)
        .await
        .unwrap();
    p.run_jobs().await;
    run_of(p, "wechat", pay_day()).await
}

pub(crate) async fn run_of(p: &Pay, channel: &str, date: NaiveDate) -> Value {
    let finance = p.f.staff("demo-finance").await;
    let (status, runs) =
        p.f.get(
            &finance,
            &format!("/api/v1/finance/reconciliations?channel={channel}&from={date}&to={date}"),
        )
        .await;
    assert_eq!(status, 200, "{runs}");
    let items = runs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one run per channel and day: {runs}");
    let id = items[0]["id"].as_str().unwrap();
    let (status, run) =
        p.f.get(&finance, &format!("/api/v1/finance/reconciliations/{id}"))
            .await;
    assert_eq!(status, 200, "{run}");
    run
}

pub(crate) async fn items(p: &Pay, who: &Session, run: &Value, query: &str) -> Vec<Value> {
    let id = run["id"].as_str().unwrap();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/finance/reconciliations/{id}/items?limit=2{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = p.f.get(who, &path).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn outcome_counts(run: &Value) -> BTreeMap<String, (u64, String)> {
    run["summary"]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["outcome"].as_str().unwrap().to_owned(),
                (
                    o["count"].as_u64().unwrap(),
                    o["statement_amount"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_bill_with_every_kind_of_exception_is_reconciled_item_by_item() {
    let p = pay().await;
    let phones = [
        ("13900001501", "501"),
        ("13900001502", "502"),
        ("13900001503", "503"),
        ("13900001504", "504"),
        ("13900001505", "505"),
        ("13900001506", "506"),
    ];
    let payouts = sent(&p, &phones).await;
    let bill = |i: usize| payouts[i].1.clone();
    // Five riders confirm (paid); the sixth has not yet (we hold it open).
    for (id, number) in &payouts[..5] {
        assert!(p.fake.confirm(number));
        p.until(id, "paid").await;
    }
    // 0: matched. 1: the bill says another amount. 2: missing from the bill. 3: twice on
    // the bill. 4: paid, then the money came back. 5: on the bill as paid while we hold it
    // open. And money out nobody sent.
    assert!(p.fake.change_line_amount(&bill(1), 99_900));
    assert!(p.fake.drop_line(&bill(2)));
    assert!(p.fake.duplicate_line(&bill(3)));
    assert!(p.fake.refund_line(&bill(4), None));
    let open = p.fake.bill(&bill(5)).unwrap();
    p.fake.inject_line(FakeLedgerLine {
        time: p.f.app.clock.now(),
        business_no: open.transfer_bill_no.clone(),
        flow_no: "1900000109202604200000009999".into(),
        business_name: BILL_BUSINESS_NAME.into(),
        business_type: BILL_BUSINESS_NAME.into(),
        flow: FakeFlow::Expense,
        amount_fen: 100_000,
        applicant: "system".into(),
        remark: "医疗互助金理赔".into(),
        voucher_no: bill(5),
    });
    let stranger = p.fake.inject_unexpected_line(pay_day(), 12_345);

    let run = reconcile_next_morning(&p).await;
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["channel"], "wechat");
    assert_eq!(run["source"], "download");
    assert_eq!(run["date"], "2026-04-20");
    // Downloaded once, gzip, hash checked.
    let downloads = p.fake.statement_downloads();
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    assert_eq!(downloads[0].account_type, "OPERATION");

    let summary = &run["summary"];
    // Lines out: 0, 1, 3 twice, 4, 5, the stranger = 7; in: 4's return.
    assert_eq!(summary["statement_out"]["count"], 7, "{summary}");
    assert_eq!(
        summary["statement_out"]["amount"], "6122.45",
        "1000 + 999 + 1000×2 + 1000 + 1000 + 123.45"
    );
    assert_eq!(summary["statement_in"]["count"], 1);
    assert_eq!(summary["statement_in"]["amount"], "1000.00");
    // Ours paid on the day: 0–4.
    assert_eq!(summary["our_paid"]["count"], 5);
    assert_eq!(summary["our_paid"]["amount"], "5000.00");
    assert_eq!(summary["totals_agree"], false);
    assert_eq!(summary["bill_summary_agrees"], true, "{summary}");
    assert_eq!(summary["unreadable_lines"], 0);
    let counts = outcome_counts(&run);
    assert_eq!(counts["matched"], (3, "3000.00".to_owned()), "{counts:?}");
    assert_eq!(counts["amount_mismatch"].0, 1);
    assert_eq!(counts["missing_from_statement"].0, 1);
    assert_eq!(counts["duplicate"].0, 1);
    assert_eq!(
        counts["status_mismatch"].0, 2,
        "the return of 4, the line of 5"
    );
    assert_eq!(counts["unexpected_in_statement"], (1, "123.45".to_owned()));
    assert_eq!(run["exceptions"], 6);
    assert_eq!(run["unresolved"], 6);
    let metrics = p.f.app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("\ngongyou_reconciliation_unresolved_exceptions 6\n"),
        "{metrics}"
    );

    // Item by item (pages of two, by line).
    let approver = p.f.staff("demo-approver").await;
    let all = items(&p, &approver, &run, "").await;
    let by_bill = |b: &str, outcome: &str| {
        all.iter()
            .find(|i| i["out_bill_no"] == b && i["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no {outcome} item for {b}: {all:#?}"))
            .clone()
    };
    let amount = by_bill(&bill(1), "amount_mismatch");
    assert_eq!(amount["statement_amount"], "999.00");
    assert_eq!(amount["our_amount"], "1000.00");
    assert_eq!(amount["held"], "paid");
    assert_eq!(amount["payout_id"], payouts[1].0.as_str());
    assert!(amount["line"].as_i64().unwrap() >= 2);
    let missing = by_bill(&bill(2), "missing_from_statement");
    assert_eq!(missing["line"], Value::Null);
    assert_eq!(missing["statement_amount"], Value::Null);
    assert_eq!(missing["our_amount"], "1000.00");
    let dup = by_bill(&bill(3), "duplicate");
    assert_eq!(dup["direction"], "out");
    let back = by_bill(&bill(4), "status_mismatch");
    assert_eq!(back["direction"], "in");
    assert_eq!(back["held"], "paid");
    let early = by_bill(&bill(5), "status_mismatch");
    assert_eq!(early["direction"], "out");
    assert_eq!(early["held"], "open");
    let unexpected: Vec<&Value> = all
        .iter()
        .filter(|i| i["outcome"] == "unexpected_in_statement")
        .collect();
    assert_eq!(unexpected.len(), 1);
    assert_eq!(unexpected[0]["provider_no"], stranger.business_no.as_str());
    assert_eq!(unexpected[0]["statement_amount"], "123.45");
    assert_eq!(unexpected[0]["payout_id"], Value::Null);
    assert_eq!(all.len(), 6);
    // Ids are unique and in line order.
    let ids: Vec<i64> = all.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted);

    // Filters: one outcome; the matched lines (with the payout each proved).
    let dups = items(&p, &approver, &run, "&outcome=duplicate").await;
    assert_eq!(dups.len(), 1);
    let matched = items(&p, &approver, &run, "&outcome=matched").await;
    let matched_bills: Vec<&str> = matched
        .iter()
        .map(|m| m["out_bill_no"].as_str().unwrap())
        .collect();
    assert_eq!(matched.len(), 3, "{matched:#?}");
    for i in [0, 3, 4] {
        assert!(
            matched_bills.contains(&bill(i).as_str()),
            "{i}: {matched:#?}"
        );
    }

    // The CSV of exceptions: a BOM, a header, one row each.
    let id = run["id"].as_str().unwrap();
    let response =
        p.f.app
            .get_as(
                &approver,
                &format!("/api/v1/finance/reconciliations/{id}/exceptions.csv"),
            )
            .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = response.bytes().await.unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 7, "{text}");
    assert!(rows[0].starts_with("序号,差异类型,账单行"));
    assert!(text.contains("非系统发起"));
    assert!(text.contains("金额不符"));

    // Finance approvers are told (inbox).
    assert!(inbox_categories(&p.f.app, &approver)
        .await
        .contains(&"reconciliation_exceptions".to_owned()));
    assert!(inbox_categories(&p.f.app, &approver)
        .await
        .contains(&"reconciliation_unexpected_money".to_owned()));

    // Nobody else reads it.
    let worker = p.f.fresh_session(phones[0].0).await;
    let (status, _) = p.f.get(&worker, "/api/v1/finance/reconciliations").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_same_day_reconciled_again_doubles_nothing_and_keeps_resolutions_in_scope() {
    let p = pay().await;
    let payouts = sent(&p, &[("13900001511", "511"), ("13900001512", "512")]).await;
    for (id, bill) in &payouts {
        assert!(p.fake.confirm(bill));
        p.until(id, "paid").await;
    }
    assert!(p.fake.change_line_amount(&payouts[1].1, 100_100));
    p.fake.inject_unexpected_line(pay_day(), 50_000);
    let run = reconcile_next_morning(&p).await;
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["exceptions"], 2);
    let id = run["id"].as_str().unwrap().to_owned();

    // A finance approver of another union (成都's 行业工会联合会, not 锦江) sees neither
    // exception and cannot resolve them.
    let admin = p.f.staff("demo-sichuan-admin").await;
    let hangye = p.f.app.org_id("成都市新就业形态行业工会联合会").await;
    p.f.app
        .create_staff(
            &admin,
            "fin-hangye",
            &hangye,
            &[("finance_approver", &hangye)],
        )
        .await;
    let other = p.f.staff("fin-hangye").await;
    assert!(items(&p, &other, &run, "").await.is_empty());
    // Nor may they replace the union's statement or reconcile the day again.
    let (status, refused) = upload(
        &p,
        &other,
        "wechat",
        "2026-04-20",
        p.fake.statement(pay_day()),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "auth.out_of_scope");
    let (status, refused) =
        p.f.post(
            &other,
            &format!("/api/v1/finance/reconciliations/{id}/rerun"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    let approver = p.f.staff("demo-approver").await;
    let all = items(&p, &approver, &run, "").await;
    assert_eq!(all.len(), 2);
    for item in &all {
        let seq = item["id"].as_i64().unwrap();
        let (status, refused) =
            p.f.post(
                &other,
                &format!("/api/v1/finance/reconciliations/{id}/items/{seq}/resolve"),
                json!({"note": "不是我们的"}),
            )
            .await;
        assert_eq!(status, 404, "{refused}");
        assert_eq!(refused["code"], "reconciliation.item_not_found");
    }
    // A rider's token, none of it.
    let worker = p.f.fresh_session("13900001511").await;
    let (status, _) =
        p.f.post(
            &worker,
            &format!(
                "/api/v1/finance/reconciliations/{id}/items/{}/resolve",
                all[0]["id"]
            ),
            json!({"note": "x"}),
        )
        .await;
    assert_eq!(status, 403);

    // demo-approver (四川) resolves the unexpected line.
    let unexpected = all
        .iter()
        .find(|i| i["outcome"] == "unexpected_in_statement")
        .unwrap();
    let seq = unexpected["id"].as_i64().unwrap();
    let path = format!("/api/v1/finance/reconciliations/{id}/items/{seq}/resolve");
    let (status, resolved) =
        p.f.post(&approver, &path, json!({"note": "银行手续费，已入账"}))
            .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["resolution"]["note"], "银行手续费，已入账");
    let (status, again) = p.f.post(&approver, &path, json!({"note": "再次"})).await;
    assert_eq!(status, 409, "{again}");
    let (status, blank) =
        p.f.post(
            &approver,
            &format!(
                "/api/v1/finance/reconciliations/{id}/items/{}/resolve",
                all.iter()
                    .find(|i| i["outcome"] == "amount_mismatch")
                    .unwrap()["id"]
            ),
            json!({"note": "   "}),
        )
        .await;
    assert_eq!(status, 422, "{blank}");
    let (_, run) =
        p.f.get(&approver, &format!("/api/v1/finance/reconciliations/{id}"))
            .await;
    assert_eq!(run["unresolved"], 1);

    // Reconciled again: the same run, the same items, the matched line once, the
    // resolution kept.
    let (status, queued) =
        p.f.post(
            &approver,
            &format!("/api/v1/finance/reconciliations/{id}/rerun"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["id"], id.as_str());
    p.run_jobs().await;
    let again = run_of(&p, "wechat", pay_day()).await;
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["status"], "done");
    assert_eq!(again["exceptions"], 2);
    assert_eq!(again["unresolved"], 1);
    assert_eq!(outcome_counts(&again)["matched"].0, 1);
    let all_again = items(&p, &approver, &again, "").await;
    assert_eq!(all_again.len(), 2);
    let kept = all_again
        .iter()
        .find(|i| i["outcome"] == "unexpected_in_statement")
        .unwrap();
    assert_eq!(kept["resolution"]["note"], "银行手续费，已入账");
    assert_eq!(
        items(&p, &approver, &again, "&outcome=matched").await.len(),
        1
    );
    // Uploading the same bill by hand replaces the run too.
    let bytes = p.fake.statement(pay_day());
    let response = upload(&p, &approver, "wechat", "2026-04-20", bytes).await;
    assert_eq!(response.0, 202, "{}", response.1);
    assert_eq!(response.1["id"], id.as_str());
    p.run_jobs().await;
    let third = run_of(&p, "wechat", pay_day()).await;
    assert_eq!(third["source"], "upload");
    assert_eq!(third["exceptions"], 2);
    assert_eq!(third["unresolved"], 1);
    assert_eq!(outcome_counts(&third)["matched"].0, 1);
}

pub(crate) async fn upload(
    p: &Pay,
    who: &Session,
    channel: &str,
    date: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    body(
        p.f.app
            .client
            .post(p.f.app.url(&format!(
                "/api/v1/finance/statements?channel={channel}&date={date}"
            )))
            .header("Authorization", who.bearer())
            .header("Content-Type", "text/csv")
            .body(bytes)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_bill_not_ready_is_looked_for_again_without_spending_attempts_then_overdue() {
    let p = pay().await;
    let payouts = sent(&p, &[("13900001521", "521")]).await;
    assert!(p.fake.confirm(&payouts[0].1));
    p.until(&payouts[0].0, "paid").await;
    p.fake.set_statement_not_ready(pay_day(), true);

    let run = reconcile_next_morning(&p).await;
    assert_eq!(run["status"], "waiting", "{run}");
    assert_eq!(run["failure"]["code"], "statement.not_ready");
    // The job waits for its next look, its attempts unspent.
    let admin = p.f.staff("demo-admin").await;
    let (status, jobs) = p.f.get(&admin, "/api/v1/admin/jobs?status=queued").await;
    assert_eq!(status, 200, "{jobs}");
    let job = jobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "reconcile.run")
        .unwrap_or_else(|| panic!("{jobs}"))
        .clone();
    assert_eq!(job["attempts"], 0, "{job}");
    // Ten looks later, still not dead, still waiting (before the deadline, 16:00).
    for _ in 0..10 {
        p.f.app.clock.advance(Duration::minutes(30));
        p.run_jobs().await;
    }
    let admin = p.f.staff("demo-admin").await;
    let (_, jobs) = p.f.get(&admin, "/api/v1/admin/jobs?status=dead").await;
    assert!(
        !jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["name"] == "reconcile.run"),
        "{jobs}"
    );
    let run = run_of(&p, "wechat", pay_day()).await;
    assert_eq!(run["status"], "waiting");
    // Past the deadline: overdue, and finance is told once.
    p.f.app
        .clock
        .set(shanghai(2026, 4, 21, 16) + Duration::minutes(1));
    p.run_jobs().await;
    let run = run_of(&p, "wechat", pay_day()).await;
    assert_eq!(run["status"], "overdue", "{run}");
    let approver = p.f.staff("demo-approver").await;
    let categories = inbox_categories(&p.f.app, &approver).await;
    assert_eq!(
        categories
            .iter()
            .filter(|c| *c == "reconciliation_statement_missing")
            .count(),
        1
    );
    p.f.app.clock.advance(Duration::minutes(31));
    p.run_jobs().await;
    let approver = p.f.staff("demo-approver").await;
    let categories = inbox_categories(&p.f.app, &approver).await;
    assert_eq!(
        categories
            .iter()
            .filter(|c| *c == "reconciliation_statement_missing")
            .count(),
        1,
        "told once"
    );
    // The bill comes: the next look reconciles it.
    p.fake.set_statement_not_ready(pay_day(), false);
    p.f.app.clock.advance(Duration::minutes(31));
    p.run_jobs().await;
    let run = run_of(&p, "wechat", pay_day()).await;
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["exceptions"], 0);
    assert_eq!(run["summary"]["totals_agree"], true);
}

#[tokio::test]
async fn a_bill_whose_hash_does_not_match_is_refused() {
    let p = pay().await;
    let payouts = sent(&p, &[("13900001531", "531")]).await;
    assert!(p.fake.confirm(&payouts[0].1));
    p.until(&payouts[0].0, "paid").await;
    p.fake.corrupt_statement_hash(pay_day(), true);
    let run = reconcile_next_morning(&p).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["failure"]["code"], "statement.hash_mismatch");
    assert_eq!(run["exceptions"], 0);
    assert_eq!(run["summary"], Value::Null);
    let approver = p.f.staff("demo-approver").await;
    assert!(items(&p, &approver, &run, "&outcome=matched")
        .await
        .is_empty());
    // WeChat Pay serves the right file later: reconciled then.
    p.fake.corrupt_statement_hash(pay_day(), false);
    p.f.app.clock.advance(Duration::minutes(31));
    p.run_jobs().await;
    let run = run_of(&p, "wechat", pay_day()).await;
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(outcome_counts(&run)["matched"].0, 1);
}

#[tokio::test]
async fn a_bill_uploaded_by_hand_is_read_as_written_and_a_bad_file_is_refused() {
    let p = pay().await;
    let payouts = sent(&p, &[("13900001541", "541"), ("13900001542", "542")]).await;
    for (id, bill) in &payouts {
        assert!(p.fake.confirm(bill));
        p.until(id, "paid").await;
    }
    let b0 = p.fake.bill(&payouts[0].1).unwrap();
    let b1 = p.fake.bill(&payouts[1].1).unwrap();
    // As WeChat Pay writes it: a BOM, every cell after a backtick, a remark with an
    // escaped line break, a top-up (money in, not ours), counts written `4.0`.
    let text = format!(
        "\u{feff}记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号\r\n\
         `2026-04-20 08:00:00,`4200000001202604200000000001,`1900000109202604200000000001,`充值,`充值,`收入,`5000.00,`15000.00,`finance,`账户充值,`\r\n\
         `2026-04-20 10:05:00,`{t0},`1900000109202604200000000002,`商家转账,`商家转账,`支出,`1000.00,`14000.00,`system,`医疗互助金\\r\\n理赔,`{o0}\r\n\
         `2026-04-20 10:06:00,`{t1},`1900000109202604200000000003,`商家转账,`商家转账,`支出,`1000.00,`13000.00,`system,`医疗互助金理赔,`{o1}\r\n\
         `2026-04-20 11:00:00,`1330000000000000000000000000000099,`1900000109202604200000000004,`商家转账,`商家转账,`支出,`88.00,`12912.00,`system,`?,`\r\n\
         资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n\
         `4.0,`1.0,`5000.00,`3.0,`2088.00\r\n",
        t0 = b0.transfer_bill_no,
        o0 = payouts[0].1,
        t1 = b1.transfer_bill_no,
        o1 = payouts[1].1,
    );
    p.f.app.clock.set(shanghai(2026, 4, 21, 9));
    let finance = p.f.staff("demo-finance").await;
    // A day not over yet is refused; so is a file that is not a bill.
    let (status, early) = upload(
        &p,
        &finance,
        "wechat",
        "2026-04-21",
        text.clone().into_bytes(),
    )
    .await;
    assert_eq!(status, 422, "{early}");
    assert_eq!(early["code"], "statement.day_not_over");
    let (status, bad) = upload(
        &p,
        &finance,
        "wechat",
        "2026-04-20",
        b"a,b,c\r\n1,2,3\r\n".to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["code"], "statement.unreadable");
    let (status, _) = p.f.get(&finance, "/api/v1/finance/reconciliations").await;
    assert_eq!(status, 200);

    let (status, queued) = upload(&p, &finance, "wechat", "2026-04-20", text.into_bytes()).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["source"], "upload");
    p.run_jobs().await;
    let run = run_of(&p, "wechat", pay_day()).await;
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["statement_lines"], 4);
    let summary = &run["summary"];
    assert_eq!(summary["bill_summary_agrees"], true, "{summary}");
    assert_eq!(summary["statement_other_in"]["count"], 1);
    assert_eq!(summary["statement_other_in"]["amount"], "5000.00");
    assert_eq!(summary["statement_out"]["count"], 3);
    let counts = outcome_counts(&run);
    assert_eq!(counts["matched"].0, 2, "{counts:?}");
    assert_eq!(counts["unexpected_in_statement"], (1, "88.00".to_owned()));
    assert_eq!(run["exceptions"], 1);
}
