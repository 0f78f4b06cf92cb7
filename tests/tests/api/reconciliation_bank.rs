//! Reconciliation of the union's bank account, end to end over HTTP: riders' claims are paid
//! by bank (a bank batch, its GBK transfer file taken, the bank's result file imported), then
//! finance uploads the bank's statement of the day — GBK, in the default layout, our
//! `out_bill_no` in 用途/附言 — and the run judges it line by line: matched, another amount,
//! a line twice, a fee nobody sent, a payout the statement lacks; interest is other money in.
//! A file in another encoding is refused whole and leaves no run; the template the union that
//! owns the account sets (not one a union below sets) is the one a statement is read in, and
//! a second upload of the day replaces the run in place.

use gongyou_tests::session::Session;
use serde_json::{json, Value};

use crate::claims::{body, inbox_categories, shanghai};
use crate::payouts::{pay, Pay};
use crate::reconciliation::{items, pay_day, run_of};

/// A rider paid by bank.
struct Paid {
    payout: String,
    out_bill_no: String,
    name: &'static str,
    account: &'static str,
}

async fn payout(p: &Pay, id: &str) -> Value {
    let finance = p.f.staff("demo-finance").await;
    let (status, v) =
        p.f.get(&finance, &format!("/api/v1/finance/payouts/{id}"))
            .await;
    assert_eq!(status, 200, "{v}");
    v
}

/// A hospital-allowance claim (1000.00) of `worker` to a bank account, approved: its
/// payout's id (a bank payout of 1000.00).
async fn approved_to_bank(
    p: &Pay,
    worker: &Session,
    phone: &str,
    holder: &str,
    account: &str,
) -> String {
    let (_, id) = crate::payouts::approved_to_bank(p, worker, phone, holder, account).await;
    let v = payout(p, &id).await;
    assert_eq!(v["channel"], "bank", "{v}");
    assert_eq!(v["amount"], "1000.00", "{v}");
    id
}

/// Four riders of 锦江 paid by bank on 2026-04-20: one bank batch built and approved, its
/// GBK file (the default layout) taken, the bank's result file (the file echoed with
/// 处理结果 成功) imported; every payout paid.
async fn paid_by_bank(p: &Pay) -> Vec<Paid> {
    let riders = [
        ("13900001601", "601", "张三", "6222020402001230001"),
        ("13900001602", "602", "李四", "6222020402001230002"),
        ("13900001603", "603", "王五", "6222020402001230003"),
        ("13900001604", "604", "赵六", "6222020402001230004"),
    ];
    let phones: Vec<(&str, &str)> = riders.iter().map(|r| (r.0, r.1)).collect();
    let workers = p.f.members(&phones).await;
    let mut payouts = Vec::new();
    for (w, r) in workers.iter().zip(&riders) {
        payouts.push(approved_to_bank(p, w, r.0, r.2, r.3).await);
    }
    let ids: Vec<&str> = payouts.iter().map(String::as_str).collect();
    let batch = p.approved_batch("bank", &ids).await;

    // The transfer file, in the union's (default) layout: GBK, a header row.
    let finance = p.f.staff("demo-finance").await;
    let file =
        p.f.app
            .client
            .get(
                p.f.app
                    .url(&format!("/api/v1/finance/payout-batches/{batch}/bank-file")),
            )
            .header("Authorization", finance.bearer())
            .send()
            .await
            .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["x-rows"], "4");
    let bytes = file.bytes().await.unwrap().to_vec();
    let (text, _, malformed) = encoding_rs::GBK.decode(&bytes);
    assert!(!malformed);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(
        lines[0],
        "收款人姓名,收款账号,开户行,金额(元),用途,业务参考号"
    );

    let mut paid = Vec::new();
    for (id, r) in payouts.iter().zip(&riders) {
        let sent = payout(p, id).await;
        assert_eq!(sent["status"], "sending", "{sent}");
        assert_eq!(sent["attempts"][0]["channel"], "bank");
        let out_bill_no = sent["attempts"][0]["out_bill_no"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(out_bill_no.len(), 32);
        assert!(
            lines.iter().any(|l| l.starts_with(r.2)
                && l.contains(r.3)
                && l.ends_with(&format!(",1000.00,报销,{out_bill_no}"))),
            "{text}"
        );
        paid.push(Paid {
            payout: id.clone(),
            out_bill_no,
            name: r.2,
            account: r.3,
        });
    }

    // The bank's answer: the file echoed, 处理结果 and 失败原因 appended.
    let mut result = format!("{},处理结果,失败原因\r\n", lines[0]);
    for l in &lines[1..] {
        result.push_str(&format!("{l},成功,\r\n"));
    }
    let (status, report) = body(
        p.f.app
            .client
            .post(p.f.app.url(&format!(
                "/api/v1/finance/payout-batches/{batch}/bank-results"
            )))
            .header("Authorization", finance.bearer())
            .header("Content-Type", "text/csv")
            .body(gbk(&result))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["paid"], 4, "{report}");
    assert_eq!(report["errors"], json!([]));
    for r in &paid {
        let v = payout(p, &r.payout).await;
        assert_eq!(v["status"], "paid", "{v}");
        assert_eq!(v["attempts"][0]["state"], "SUCCESS", "{v}");
        // Final on the import's day (the clock still on 2026-04-20).
        assert!(
            v["attempts"][0]["final_at"]
                .as_str()
                .unwrap()
                .starts_with("2026-04-20T"),
            "{v}"
        );
        assert!(v["attempts"][0].get("reconciled").is_none(), "{v}");
    }
    paid
}

/// Text in GBK (every character of it GBK has).
fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "{text}");
    bytes.into_owned()
}

/// UTF-16 with its BOM, little- or big-endian (a spreadsheet's "Unicode text").
fn utf16(text: &str, little: bool) -> Vec<u8> {
    let mut out = if little {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for unit in text.encode_utf16() {
        out.extend_from_slice(&if little {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    out
}

/// One line of the default layout: 交易日期, 交易时间, 借方发生额(支出), 贷方发生额(收入),
/// 余额, 对方户名, 对方账号, 摘要, 用途/附言, 流水号.
#[allow(clippy::too_many_arguments)]
fn default_row(
    time: &str,
    debit: &str,
    credit: &str,
    balance: &str,
    counterparty: &str,
    account: &str,
    summary: &str,
    purpose: &str,
    serial: &str,
) -> String {
    format!(
        "2026-04-20,{time},{debit},{credit},{balance},{counterparty},{account},{summary},{purpose},{serial}\r\n"
    )
}

const DEFAULT_HEADER: &str =
    "交易日期,交易时间,借方发生额(支出),贷方发生额(收入),余额,对方户名,对方账号,摘要,用途/附言,流水号\r\n";

/// The bank's statement of 2026-04-20 in the default layout (as text; the bank writes it
/// in GBK): line 2 pays rider 0 (a quoted amount with a thousands separator); line 3 pays
/// rider 1 999.00 instead of 1000.00; line 4 pays rider 3 (the reference in capitals, in
/// 附言 after other text); line 5 is a fee nobody sent; line 6 is line 4 again; line 7 is
/// interest (money in naming nothing of ours). Rider 2 is not on it.
fn default_statement(paid: &[Paid]) -> String {
    let mut text = DEFAULT_HEADER.to_owned();
    text.push_str(&default_row(
        "10:05:12",
        "\"1,000.00\"",
        "",
        "\"99,000.00\"",
        paid[0].name,
        paid[0].account,
        "代发",
        &format!("理赔款 {}", paid[0].out_bill_no),
        "202604200000001",
    ));
    text.push_str(&default_row(
        "10:06:40",
        "999.00",
        "0.00",
        "\"98,001.00\"",
        paid[1].name,
        paid[1].account,
        "代发",
        &format!("理赔款 {}", paid[1].out_bill_no),
        "202604200000002",
    ));
    text.push_str(&default_row(
        "10:07:03",
        "1000.00",
        "",
        "\"97,001.00\"",
        paid[3].name,
        paid[3].account,
        "代发",
        &format!(
            "医疗互助金理赔款/{}",
            paid[3].out_bill_no.to_ascii_uppercase()
        ),
        "202604200000003",
    ));
    text.push_str(&default_row(
        "10:30:00",
        "10.00",
        "",
        "\"96,991.00\"",
        "中国工商银行成都春熙路支行",
        "",
        "手续费",
        "代发业务手续费",
        "202604200000004",
    ));
    text.push_str(&default_row(
        "10:07:03",
        "1000.00",
        "",
        "\"95,991.00\"",
        paid[3].name,
        paid[3].account,
        "代发",
        &format!(
            "医疗互助金理赔款/{}",
            paid[3].out_bill_no.to_ascii_uppercase()
        ),
        "202604200000005",
    ));
    text.push_str(&default_row(
        "21:00:00",
        "",
        "12.34",
        "\"96,003.34\"",
        "",
        "",
        "结息",
        "活期利息",
        "202604200000006",
    ));
    text
}

async fn upload(p: &Pay, who: &Session, date: &str, bytes: Vec<u8>) -> (u16, Value) {
    crate::reconciliation::upload(p, who, "bank", date, bytes).await
}

/// The bank runs of the pay day.
async fn bank_runs(p: &Pay) -> Vec<Value> {
    let finance = p.f.staff("demo-finance").await;
    let day = pay_day();
    let (status, runs) =
        p.f.get(
            &finance,
            &format!("/api/v1/finance/reconciliations?channel=bank&from={day}&to={day}"),
        )
        .await;
    assert_eq!(status, 200, "{runs}");
    runs["items"].as_array().unwrap().clone()
}

/// The pay day's bank run, read whole.
async fn run_of_day(p: &Pay) -> Value {
    run_of(p, "bank", pay_day()).await
}

/// Each outcome's (count, statement amount, our amount).
fn outcome_figures(run: &Value) -> Vec<(String, u64, String, String)> {
    run["summary"]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["outcome"].as_str().unwrap().to_owned(),
                o["count"].as_u64().unwrap(),
                o["statement_amount"].as_str().unwrap().to_owned(),
                o["our_amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn figures(rows: &[(&str, u64, &str, &str)]) -> Vec<(String, u64, String, String)> {
    rows.iter()
        .map(|(o, n, s, ours)| ((*o).to_owned(), *n, (*s).to_owned(), (*ours).to_owned()))
        .collect()
}

/// The run an attempt was proved by, if any.
async fn reconciled(p: &Pay, payout_id: &str) -> Option<Value> {
    payout(p, payout_id).await["attempts"][0]
        .get("reconciled")
        .cloned()
}

/// A statement that cannot be GBK refused whole (422 `statement.unreadable`), no run left.
async fn refused(p: &Pay, who: &Session, what: &str, bytes: Vec<u8>) -> Value {
    let (status, problem) = upload(p, who, "2026-04-20", bytes).await;
    assert_eq!(status, 422, "{what}: {problem}");
    assert_eq!(problem["code"], "statement.unreadable", "{what}: {problem}");
    problem
}

#[tokio::test]
async fn a_gbk_bank_statement_is_reconciled_item_by_item_and_another_encoding_is_refused() {
    let p = pay().await;
    let paid = paid_by_bank(&p).await;
    let text = default_statement(&paid);

    // The next morning, finance uploads the statement of the day.
    p.f.app.clock.set(shanghai(2026, 4, 21, 9));
    let finance = p.f.staff("demo-finance").await;

    // Not GBK: refused whole, nothing kept, no run.
    let problem = refused(&p, &finance, "UTF-16LE", utf16(&text, true)).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("UTF-16"),
        "{problem}"
    );
    refused(&p, &finance, "UTF-16BE", utf16(&text, false)).await;
    let problem = refused(&p, &finance, "UTF-8", text.clone().into_bytes()).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("UTF-8"),
        "{problem}"
    );
    // Bytes that are nothing: a fixed pseudo-random block, 0xFF (never a GBK byte) in
    // every record of it.
    let mut noise = Vec::with_capacity(4200);
    let mut x: u32 = 0x9E37_79B9;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(0x80 | (x.to_le_bytes()[0] & 0x7F));
        if x % 61 == 0 {
            noise.extend_from_slice(b"\xFF\r\n");
        }
    }
    noise.extend_from_slice(b"\xFF\r\n");
    refused(&p, &finance, "noise", noise).await;
    assert!(bank_runs(&p).await.is_empty());

    // GBK, the default layout: taken.
    let bytes = gbk(&text);
    // 张三 in GBK is d5c5 c8fd.
    assert!(bytes.windows(4).any(|w| w == [0xd5, 0xc5, 0xc8, 0xfd]));
    let (status, queued) = upload(&p, &finance, "2026-04-20", bytes).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["channel"], "bank");
    assert_eq!(queued["source"], "upload");
    assert_eq!(queued["date"], "2026-04-20");
    p.run_jobs().await;
    let run = run_of_day(&p).await;
    assert_eq!(run["id"], queued["id"]);
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["source"], "upload");
    assert!(run["uploaded_by"].as_str().is_some(), "{run}");
    assert_eq!(run["failure"], Value::Null);
    assert_eq!(run["statement_lines"], 6, "{run}");
    assert_eq!(run["exceptions"], 4, "{run}");
    assert_eq!(run["unresolved"], 4);

    // The summary's figures.
    let summary = &run["summary"];
    assert_eq!(
        summary["statement_out"],
        json!({"count": 5, "amount": "4009.00"}),
        "1000 + 999 + 1000 + 10 + 1000: {summary}"
    );
    assert_eq!(
        summary["statement_in"],
        json!({"count": 0, "amount": "0.00"})
    );
    assert_eq!(
        summary["statement_other_in"],
        json!({"count": 1, "amount": "12.34"}),
        "the interest: {summary}"
    );
    assert_eq!(
        summary["our_paid"],
        json!({"count": 4, "amount": "4000.00"}),
        "{summary}"
    );
    assert_eq!(summary["totals_agree"], false);
    assert_eq!(summary["bill_summary_agrees"], Value::Null, "{summary}");
    assert_eq!(summary["unreadable_lines"], 0, "{summary}");
    assert_eq!(
        outcome_figures(&run),
        figures(&[
            ("matched", 2, "2000.00", "2000.00"),
            ("amount_mismatch", 1, "999.00", "1000.00"),
            ("status_mismatch", 0, "0.00", "0.00"),
            ("missing_from_statement", 1, "0.00", "1000.00"),
            ("unexpected_in_statement", 1, "10.00", "0.00"),
            ("duplicate", 1, "1000.00", "1000.00"),
        ]),
        "{summary}"
    );

    // Item by item, in line order; what the statement lacks after its last line.
    let all = items(&p, &finance, &run, "").await;
    let ids: Vec<i64> = all.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [3, 5, 6, 8], "{all:#?}");
    let other = &all[0];
    assert_eq!(other["outcome"], "amount_mismatch");
    assert_eq!(other["line"], 3);
    assert_eq!(other["direction"], "out");
    assert_eq!(other["statement_amount"], "999.00");
    assert_eq!(other["our_amount"], "1000.00");
    assert_eq!(other["held"], "paid");
    assert_eq!(other["payout_id"], paid[1].payout.as_str());
    assert_eq!(other["out_bill_no"], paid[1].out_bill_no.as_str());
    assert_eq!(other["reference"], paid[1].out_bill_no.as_str());
    assert_eq!(other["provider_no"], Value::Null);
    assert_eq!(other["booked_at"], "2026-04-20T10:06:40");
    assert!(other["attempt_id"].as_str().is_some(), "{other}");
    assert_eq!(other["resolution"], Value::Null);
    let fee = &all[1];
    assert_eq!(fee["outcome"], "unexpected_in_statement");
    assert_eq!(fee["line"], 5);
    assert_eq!(fee["direction"], "out");
    assert_eq!(fee["statement_amount"], "10.00");
    assert_eq!(fee["booked_at"], "2026-04-20T10:30:00");
    for absent in [
        "payout_id",
        "attempt_id",
        "out_bill_no",
        "reference",
        "our_amount",
        "held",
    ] {
        assert_eq!(fee[absent], Value::Null, "{absent}: {fee}");
    }
    let twice = &all[2];
    assert_eq!(twice["outcome"], "duplicate");
    assert_eq!(twice["line"], 6);
    assert_eq!(twice["direction"], "out");
    assert_eq!(twice["statement_amount"], "1000.00");
    assert_eq!(twice["our_amount"], "1000.00");
    assert_eq!(twice["payout_id"], paid[3].payout.as_str());
    assert_eq!(twice["out_bill_no"], paid[3].out_bill_no.as_str());
    assert_eq!(
        twice["reference"],
        paid[3].out_bill_no.as_str(),
        "read in lower case"
    );
    let missing = &all[3];
    assert_eq!(missing["outcome"], "missing_from_statement");
    assert_eq!(missing["line"], Value::Null);
    assert_eq!(missing["direction"], Value::Null);
    assert_eq!(missing["statement_amount"], Value::Null);
    assert_eq!(missing["booked_at"], Value::Null);
    assert_eq!(missing["our_amount"], "1000.00");
    assert_eq!(missing["held"], "paid");
    assert_eq!(missing["payout_id"], paid[2].payout.as_str());
    assert_eq!(missing["out_bill_no"], paid[2].out_bill_no.as_str());
    // One outcome at a time.
    let only = items(&p, &finance, &run, "&outcome=duplicate").await;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["id"], 6);

    // The matched lines, with the payouts they proved: riders 0 and 3 (its first line).
    let matched = items(&p, &finance, &run, "&outcome=matched").await;
    let proved: Vec<(i64, &str, &str, &str)> = matched
        .iter()
        .map(|m| {
            (
                m["line"].as_i64().unwrap(),
                m["payout_id"].as_str().unwrap(),
                m["out_bill_no"].as_str().unwrap(),
                m["statement_amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        proved,
        [
            (
                2,
                paid[0].payout.as_str(),
                paid[0].out_bill_no.as_str(),
                "1000.00"
            ),
            (
                4,
                paid[3].payout.as_str(),
                paid[3].out_bill_no.as_str(),
                "1000.00"
            ),
        ],
        "{matched:#?}"
    );
    assert!(matched
        .iter()
        .all(|m| m["outcome"] == "matched" && m["direction"] == "out" && m["id"] == m["line"]));

    // Each payout's attempt says where a statement proved it: only the matched ones.
    let run_id = run["id"].as_str().unwrap();
    for i in [0, 3] {
        assert_eq!(
            reconciled(&p, &paid[i].payout).await,
            Some(json!({"run_id": run_id, "date": "2026-04-20"})),
            "rider {i}"
        );
    }
    for i in [1, 2] {
        assert_eq!(reconciled(&p, &paid[i].payout).await, None, "rider {i}");
    }

    // Finance approvers are told: exceptions, and money out nobody sent.
    let approver = p.f.staff("demo-approver").await;
    let told = inbox_categories(&p.f.app, &approver).await;
    assert!(
        told.contains(&"reconciliation_exceptions".to_owned()),
        "{told:?}"
    );
    assert!(
        told.contains(&"reconciliation_unexpected_money".to_owned()),
        "{told:?}"
    );

    // Refusals after the run leave it as it was.
    refused(&p, &finance, "UTF-16LE again", utf16(&text, true)).await;
    let again = run_of_day(&p).await;
    assert_eq!(again["id"], run["id"]);
    assert_eq!(again["summary"], run["summary"]);
    assert_eq!(again["finished_at"], run["finished_at"]);
}

/// The account owner's statement layout (四川省总工会, over every finance approver): UTF-8,
/// a title line and a header, 0 流水号, 1 交易时间 (date and time), 2 对方户名, 3 附言,
/// 4 金额 (signed), 5 余额.
fn own_template() -> Value {
    json!({
        "encoding": "utf8", "separator": ",", "skip_rows": 2, "date_column": 1,
        "time_column": null,
        "amounts": {"kind": "signed", "amount_column": 4},
        "reference_columns": [3], "serial_column": 0, "counterparty_column": 2
    })
}

/// The same day in the account owner's layout, now complete: every rider once, the fee,
/// the interest.
fn own_statement(paid: &[Paid]) -> String {
    let mut text = "中国工商银行 账户明细查询 账号：4402 2090 0900 1234 567,起止日期：2026-04-20至2026-04-20\n\
                    流水号,交易时间,对方户名,附言,金额,余额\n"
        .to_owned();
    let mut balance: i64 = 10_000_000; // fen: 100,000.00 yuan
    let mut row = |serial: u32, time: &str, who: &str, note: &str, fen: i64| {
        balance += fen;
        let yuan = |f: i64| {
            format!(
                "{}{}.{:02}",
                if f < 0 { "-" } else { "" },
                f.abs() / 100,
                f.abs() % 100
            )
        };
        format!(
            "SN{serial:08},2026-04-20 {time},{who},{note},{},{}\n",
            yuan(fen),
            yuan(balance)
        )
    };
    for (i, r) in paid.iter().enumerate() {
        let line = row(
            u32::try_from(i).unwrap() + 1,
            &format!("10:0{i}:00"),
            r.name,
            &format!("理赔款{}", r.out_bill_no),
            -100_000,
        );
        text.push_str(&line);
    }
    text.push_str(&row(9, "10:30:00", "工商银行", "代发业务手续费", -1_000));
    text.push_str(&row(10, "21:00:00", "", "活期利息", 1_234));
    text
}

#[tokio::test]
async fn the_account_owners_statement_layout_is_honoured_and_a_second_upload_replaces_the_run() {
    let p = pay().await;
    let paid = paid_by_bank(&p).await;
    p.f.app.clock.set(shanghai(2026, 4, 21, 9));
    let finance = p.f.staff("demo-finance").await;

    // The day in the default layout first.
    let (status, first) = upload(&p, &finance, "2026-04-20", gbk(&default_statement(&paid))).await;
    assert_eq!(status, 202, "{first}");
    p.run_jobs().await;
    let run = run_of_day(&p).await;
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["exceptions"], 4);
    let run_id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(reconciled(&p, &paid[2].payout).await, None);

    let own = own_statement(&paid);
    let settings = |org: &str| format!("/api/v1/finance/orgs/{org}/payout-settings");
    let put = |org: String, b: Value| {
        let request =
            p.f.app
                .client
                .put(p.f.app.url(&settings(&org)))
                .header("Authorization", finance.bearer())
                .json(&b);
        async move { body(request.send().await.unwrap()).await }
    };

    // A union below the account's owner (成都市总工会) sets the layout for itself: the
    // account's statement is still read in the owner's (the default, GBK), so the UTF-8
    // file is refused.
    let chengdu = p.f.app.org_id("成都市总工会").await;
    let (status, view) = p.f.get(&finance, &settings(&chengdu)).await;
    assert_eq!(status, 200, "{view}");
    let mut b = json!({
        "bank_template": view["bank_template"].clone(),
        "result_template": view["result_template"].clone(),
        "statement_template": own_template(),
    });
    let (status, set) = put(chengdu.clone(), b.clone()).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["statement_template"]["encoding"], "utf8");
    let problem = refused(&p, &finance, "UTF-8 in GBK", own.clone().into_bytes()).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("UTF-8"),
        "{problem}"
    );

    // The owner (四川省总工会) sets it, its bank file templates sent back as they were.
    let sichuan = p.f.app.org_id("四川省总工会").await;
    let (status, view) = p.f.get(&finance, &settings(&sichuan)).await;
    assert_eq!(status, 200, "{view}");
    b["bank_template"] = view["bank_template"].clone();
    b["result_template"] = view["result_template"].clone();
    let (status, set) = put(sichuan.clone(), b).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["statement_template"], own_template(), "{set}");
    assert_eq!(set["bank_template"], view["bank_template"]);
    assert_eq!(set["result_template"], view["result_template"]);
    let (_, read) = p.f.get(&finance, &settings(&sichuan)).await;
    assert_eq!(read["statement_template"], own_template(), "{read}");

    // Now the GBK file is what is refused, and the run stays as it was.
    refused(&p, &finance, "GBK in UTF-8", gbk(&default_statement(&paid))).await;
    let unchanged = run_of_day(&p).await;
    assert_eq!(unchanged["id"], run_id.as_str());
    assert_eq!(unchanged["summary"], run["summary"]);
    assert_eq!(unchanged["exceptions"], 4);

    // The owner's layout: taken, the same run reconciled again in place.
    p.f.app.clock.set(shanghai(2026, 4, 21, 11));
    let finance = p.f.staff("demo-finance").await;
    let (status, second) = upload(&p, &finance, "2026-04-20", own.into_bytes()).await;
    assert_eq!(status, 202, "{second}");
    assert_eq!(second["id"], run_id.as_str(), "replaced in place");
    assert_eq!(second["status"], "queued");
    p.run_jobs().await;
    let run = run_of_day(&p).await;
    assert_eq!(run["id"], run_id.as_str());
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["source"], "upload");
    assert_eq!(run["statement_lines"], 6, "{run}");
    assert_eq!(run["exceptions"], 1, "{run}");
    assert_eq!(run["unresolved"], 1);
    let summary = &run["summary"];
    assert_eq!(
        summary["statement_out"],
        json!({"count": 5, "amount": "4010.00"}),
        "{summary}"
    );
    assert_eq!(
        summary["statement_other_in"],
        json!({"count": 1, "amount": "12.34"})
    );
    assert_eq!(
        summary["our_paid"],
        json!({"count": 4, "amount": "4000.00"})
    );
    assert_eq!(summary["unreadable_lines"], 0, "{summary}");
    assert_eq!(
        outcome_figures(&run),
        figures(&[
            ("matched", 4, "4000.00", "4000.00"),
            ("amount_mismatch", 0, "0.00", "0.00"),
            ("status_mismatch", 0, "0.00", "0.00"),
            ("missing_from_statement", 0, "0.00", "0.00"),
            ("unexpected_in_statement", 1, "10.00", "0.00"),
            ("duplicate", 0, "0.00", "0.00"),
        ]),
        "{summary}"
    );
    let all = items(&p, &finance, &run, "").await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["outcome"], "unexpected_in_statement");
    assert_eq!(
        all[0]["line"], 7,
        "after the title, the header and four riders"
    );
    assert_eq!(all[0]["statement_amount"], "10.00");
    assert_eq!(all[0]["booked_at"], "2026-04-20T10:30:00");
    // The matched lines are the new ones, once each (nothing doubled by the rerun).
    let matched = items(&p, &finance, &run, "&outcome=matched").await;
    let proved: Vec<(i64, &str)> = matched
        .iter()
        .map(|m| {
            (
                m["line"].as_i64().unwrap(),
                m["payout_id"].as_str().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(i64, &str)> = paid
        .iter()
        .enumerate()
        .map(|(i, r)| (i64::try_from(i).unwrap() + 3, r.payout.as_str()))
        .collect();
    assert_eq!(proved, expected, "{matched:#?}");
    // The payout the first statement lacked is proved now, by the same run.
    for r in &paid {
        assert_eq!(
            reconciled(&p, &r.payout).await,
            Some(json!({"run_id": run_id, "date": "2026-04-20"})),
            "{}",
            r.name
        );
    }

    // The owner goes back to the default layout: a rerun still reads the stored file in
    // the layout it was accepted in, and finds the same.
    let (_, view) = p.f.get(&finance, &settings(&sichuan)).await;
    let (status, reset) = body(
        p.f.app
            .client
            .put(p.f.app.url(&settings(&sichuan)))
            .header("Authorization", finance.bearer())
            .json(&json!({
                "bank_template": view["bank_template"].clone(),
                "result_template": view["result_template"].clone(),
                "statement_template": {},
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    let (status, queued) =
        p.f.post(
            &finance,
            &format!("/api/v1/finance/reconciliations/{run_id}/rerun"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    p.run_jobs().await;
    let again = run_of_day(&p).await;
    assert_eq!(again["status"], "done", "{again}");
    assert_eq!(again["failure"], Value::Null, "{again}");
    assert_eq!(again["summary"], run["summary"]);
    assert_eq!(
        items(&p, &finance, &again, "&outcome=matched").await.len(),
        paid.len()
    );
}
