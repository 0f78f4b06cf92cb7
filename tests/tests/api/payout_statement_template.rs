//! The bank account statement's layout (对账单, reconciliation) in the payout settings: set
//! by a finance approver beside the bank file templates, read back (inherited by the orgs
//! below), checked like them (400 for a body of the wrong shape, 422 for a rule across
//! fields), and left as it is by a PUT that does not name it (older clients).

use gongyou_tests::session::{Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app, TestApp};
use serde_json::{json, Value};

use crate::claims::body;

async fn put(app: &TestApp, who: &Session, org: &str, b: &Value) -> (u16, Value) {
    body(
        app.client
            .put(app.url(&format!("/api/v1/finance/orgs/{org}/payout-settings")))
            .header("Authorization", who.bearer())
            .json(b)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get(app: &TestApp, who: &Session, org: &str) -> (u16, Value) {
    body(
        app.get_as(who, &format!("/api/v1/finance/orgs/{org}/payout-settings"))
            .await,
    )
    .await
}

/// The bank file templates every PUT here carries (the defaults, written out).
fn bank_templates() -> Value {
    json!({
        "bank_template": {"separator": ",", "encoding": "gbk"},
        "result_template": {"skip_rows": 1}
    })
}

fn with_statement(statement: Value) -> Value {
    let mut b = bank_templates();
    b["statement_template"] = statement;
    b
}

#[tokio::test]
async fn the_statement_layout_is_set_read_back_inherited_checked_and_kept() {
    let app = spawn_app().await;
    app.seed().await;
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    let sichuan = app.org_id("四川省总工会").await;
    let chengdu = app.org_id("成都市总工会").await;

    // Nothing set: the default layout.
    let (status, view) = get(&app, &finance, &sichuan).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["statement_template"],
        json!({
            "encoding": "gbk", "separator": ",", "skip_rows": 1, "date_column": 0,
            "time_column": 1,
            "amounts": {"kind": "debit_credit", "debit_column": 2, "credit_column": 3},
            "reference_columns": [8, 7], "serial_column": 9, "counterparty_column": 5
        })
    );

    // Set: omitted fields take the default; whole numbers written as floats are integers.
    let layout = json!({
        "encoding": "utf8", "separator": "|", "skip_rows": 3, "date_column": 1,
        "time_column": null,
        "amounts": {"kind": "signed", "amount_column": 4.0},
        "reference_columns": [6, 7], "serial_column": 0
    });
    let (status, view) = put(&app, &finance, &sichuan, &with_statement(layout)).await;
    assert_eq!(status, 200, "{view}");
    let stored = json!({
        "encoding": "utf8", "separator": "|", "skip_rows": 3, "date_column": 1,
        "time_column": null,
        "amounts": {"kind": "signed", "amount_column": 4},
        "reference_columns": [6, 7], "serial_column": 0, "counterparty_column": 5
    });
    assert_eq!(view["statement_template"], stored);
    let (status, view) = get(&app, &finance, &sichuan).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["statement_template"], stored);
    assert_eq!(view["set_at"], sichuan.as_str());
    // An org below reads its nearest ancestor's.
    let (status, view) = get(&app, &finance, &chengdu).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["statement_template"], stored);

    // A rule across fields: 422, nothing changed.
    for unusable in [
        json!({"date_column": 2, "amounts": {"kind": "signed", "amount_column": 2}}),
        json!({"amounts": {"kind": "debit_credit", "debit_column": 4, "credit_column": 4}}),
        json!({"serial_column": 8}),
    ] {
        let (status, problem) = put(&app, &finance, &sichuan, &with_statement(unusable)).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["code"], "payout.unusable_template", "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with("对账单格式不可用："),
            "{problem}"
        );
    }
    // The wrong shape: 400, nothing changed.
    for malformed in [
        json!(null),
        json!("gbk"),
        json!({"colour": "red"}),
        json!({"encoding": "gb18030"}),
        json!({"amounts": {"kind": "signed"}}),
        json!({"amounts": {"kind": "signed", "amount_column": 2, "debit_column": 3}}),
        json!({"reference_columns": [-1]}),
        json!({"date_column": 1.5}),
        json!({"separator": "||"}),
    ] {
        let (status, problem) =
            put(&app, &finance, &sichuan, &with_statement(malformed.clone())).await;
        assert_eq!(status, 400, "{malformed}: {problem}");
        assert_eq!(problem["code"], "payout.invalid_template", "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with("对账单格式无效："),
            "{problem}"
        );
    }
    let (_, view) = get(&app, &finance, &sichuan).await;
    assert_eq!(view["statement_template"], stored);

    // A PUT without the statement layout (an older client) keeps the stored one, and
    // changes the bank file templates.
    let mut older = bank_templates();
    older["result_template"]["skip_rows"] = json!(2);
    let (status, view) = put(&app, &finance, &sichuan, &older).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["result_template"]["skip_rows"], 2);
    assert_eq!(view["statement_template"], stored);
    let (_, view) = get(&app, &finance, &sichuan).await;
    assert_eq!(view["result_template"]["skip_rows"], 2);
    assert_eq!(view["statement_template"], stored);

    // An org below with settings of its own but no statement layout still reads its
    // ancestor's; once it sets one, its own.
    let (status, view) = put(&app, &finance, &chengdu, &bank_templates()).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["set_at"], chengdu.as_str());
    assert_eq!(view["statement_template"], stored);
    let (status, view) = put(
        &app,
        &finance,
        &chengdu,
        &with_statement(json!({"skip_rows": 0})),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["statement_template"]["skip_rows"], 0);
    assert_eq!(view["statement_template"]["encoding"], "gbk");
    let (_, view) = get(&app, &finance, &sichuan).await;
    assert_eq!(view["statement_template"], stored);
}

#[tokio::test]
async fn only_finance_approvers_in_scope_set_the_statement_layout() {
    let app = spawn_app().await;
    app.seed().await;
    let sichuan = app.org_id("四川省总工会").await;
    let reviewer = app.sign_in_staff("demo-reviewer", DEMO_PASSWORD).await;
    let (status, problem) = put(
        &app,
        &reviewer,
        &sichuan,
        &with_statement(json!({"skip_rows": 0})),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    let (_, view) = get(&app, &finance, &sichuan).await;
    assert_eq!(view["statement_template"]["skip_rows"], 1);
}
