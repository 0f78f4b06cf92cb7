//! The per-message channel: campaigns' WeChat subscribe messages (ADR 021), one request
//! per message, against `wrk` on the same fake endpoint (see the benchmark's header).

use std::time::{Duration, Instant};

use gongyou_tests::fakes::wechat::FakeWechat;

use super::{campaign, count, exec, fresh_install, insert_members, org_id, spawn_worker, wrk_rate};

const TEMPLATE: &str = "tpl-bench-notice";

/// The body our dispatcher sends, to the load generator's own user.
fn wrk_body() -> String {
    serde_json::json!({
        "touser": "wrk-user",
        "template_id": TEMPLATE,
        "page": "pages/notifications/index",
        "data": {
            "thing1": {"value": "高温预警"},
            "thing2": {"value": "明日最高气温 39℃，请注意防暑，附近驿"},
            "time3": {"value": "2026年12月07日"},
        },
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    })
    .to_string()
}

async fn access_token(fake: &FakeWechat) -> String {
    let body: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/cgi-bin/stable_token", fake.base_url()))
        .json(&serde_json::json!({
            "grant_type": "client_credential",
            "appid": FakeWechat::APPID,
            "secret": FakeWechat::SECRET,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// The titles of `rounds` campaigns, distinct so the fake counts each campaign's messages
/// apart.
fn titles(run: &str, rounds: usize) -> Vec<String> {
    (1..=rounds)
        .map(|r| format!("高温预警{run}第{r}轮"))
        .collect()
}

/// Messages of these campaigns delivered: (distinct (openid, title) delivered, those
/// delivered more than once summed as extra deliveries).
fn tally(fake: &FakeWechat, titles: &[String]) -> (usize, u64) {
    titles.iter().fold((0, 0), |(distinct, extra), title| {
        let (d, e) = fake.reached_by_thing1(title);
        (distinct + d, extra + e as u64)
    })
}

pub async fn run(server: String, n: i64) {
    let (_dropper, url, data, db, mut pg) = fresh_install(&server).await;
    let fake = FakeWechat::start_for_load().await;
    fake.add_template(TEMPLATE);
    let token = access_token(&fake).await;

    // The load generator's rate against the fake's subscribe/send.
    let script = data.path().join("subscribe.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{}'\n",
            wrk_body()
        ),
    )
    .unwrap();
    fake.subscribe("wrk-user", TEMPLATE, u32::MAX);
    let send_url = format!(
        "{}/cgi-bin/message/subscribe/send?access_token={token}",
        fake.base_url()
    );
    let wrk = wrk_rate(&["-t2", "-c64", "-d20s"], &script, &send_url);
    let wrk_delivered = fake.delivered_total();
    assert!(
        wrk_delivered as f64 >= wrk * 15.0,
        "wrk's requests were not delivered messages ({wrk_delivered} for {wrk:.0} req/s)"
    );
    // Enough rounds that sending lasts at least 60 s even at wrk's own rate.
    let rounds: usize = super::env("GONGYOU_BENCH_ROUNDS").map_or_else(
        || (60.0 * wrk / n as f64).ceil() as usize + 1,
        |r| r.parse().unwrap(),
    );

    println!(
        "fixture: {n} members with a WeChat openid, {} subscribe credits each, no device …",
        2 * rounds
    );
    let started = Instant::now();
    insert_members(&mut pg, n, true);
    exec(
        &mut pg,
        &format!(
            "INSERT INTO wechat_subscription_credits (user_id, template_id, credits, updated_at)
             SELECT 'u' || lpad(g::text, 8, '0'), '{TEMPLATE}', {}, now() FROM generate_series(1, {n}) g",
            2 * rounds
        ),
    );
    // WeChat's side holds as many and some to spare: a message sent twice spends a credit
    // there, and the benchmark counts duplicates rather than the 43101s they would cause.
    for g in 1..=n {
        fake.subscribe(
            &format!("o{g:08}"),
            TEMPLATE,
            u32::try_from(3 * rounds).unwrap(),
        );
    }
    exec(&mut pg, "ANALYZE");
    println!("fixture ready in {:.1} s", started.elapsed().as_secs_f64());

    let wechat = [
        ("GONGYOU_WECHAT_APPID", FakeWechat::APPID.to_owned()),
        ("GONGYOU_WECHAT_SECRET", FakeWechat::SECRET.to_owned()),
        ("GONGYOU_WECHAT_BASE_URL", fake.base_url()),
        ("GONGYOU_WECHAT_TEMPLATES", format!("notice:{TEMPLATE}")),
    ];
    let name = url.rsplit('/').next().unwrap_or("bench").to_owned();
    let chengdu = org_id(&mut pg, "成都市总工会");
    let expected = rounds * usize::try_from(n).unwrap();

    // 1. Two workers, no kill: the sustained rate.
    let first = titles("A", rounds);
    let started = Instant::now();
    for title in &first {
        campaign(&db, &chengdu, title, Some(TEMPLATE)).await;
    }
    println!(
        "{rounds} campaigns of {n} fanned out in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut a = spawn_worker(&url, data.path(), &name, &wechat);
    let mut b = spawn_worker(&url, data.path(), &name, &wechat);
    let now = chrono::Utc::now();
    db.run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    let base = fake.delivered_total();
    let started = Instant::now();
    while fake.delivered_total() - base < expected {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "sending did not finish: {}/{expected}",
            fake.delivered_total() - base
        );
    }
    let sending = started.elapsed();
    let rate = expected as f64 / sending.as_secs_f64();
    let (distinct, extra) = tally(&fake, &first);
    for w in [&mut a, &mut b] {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status();
        let _ = w.wait();
    }
    // The machine is shared: wrk again right after (the workers stopped), and the ratio
    // against the mean of the two runs that bracket the sending (both printed).
    let wrk_before = wrk;
    let wrk_after = wrk_rate(&["-t2", "-c64", "-d20s"], &script, &send_url);
    let wrk = (wrk_before + wrk_after) / 2.0;
    println!(
        "2 workers, {expected} messages in {:.1} s (target ≥ 60 s): {rate:.0} messages/s = {:.0} % of wrk's {wrk:.0} req/s (mean of {wrk_before:.0} and {wrk_after:.0}; target ≥ 50 %)",
        sending.as_secs_f64(),
        100.0 * rate / wrk
    );

    // 2. The same with kill -9 of one worker a third of the way in, while it holds a batch
    // mid-send.
    let second = titles("B", rounds);
    for title in &second {
        campaign(&db, &chengdu, title, Some(TEMPLATE)).await;
    }
    let mut a = spawn_worker(&url, data.path(), &name, &wechat);
    let mut b = spawn_worker(&url, data.path(), &name, &wechat);
    let now = chrono::Utc::now();
    db.run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    let started = Instant::now();
    let mut killed: Option<(usize, i64)> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (reached, _) = tally(&fake, &second);
        if killed.is_none() && reached >= expected / 3 {
            let held = count(
                &mut pg,
                &format!(
                    "SELECT COUNT(*) AS n FROM campaign_subscribe_batches b JOIN jobs j \
                     ON b.claimed_by = 'dispatch-' || j.id \
                     WHERE b.status = 'sending' AND b.frozen IS NOT NULL AND b.progress < b.recipients \
                     AND j.locked_by LIKE '%-{}-%'",
                    a.id()
                ),
            );
            if held > 0 {
                a.kill().unwrap(); // SIGKILL
                let _ = a.wait();
                println!(
                    "killed one worker after {reached} messages, holding {held} batches mid-send"
                );
                killed = Some((reached, held));
            }
        }
        if killed.is_some() && reached >= expected {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "sending did not finish: {reached}/{expected}"
        );
    }
    let with_kill = started.elapsed();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &b.id().to_string()])
        .status();
    let _ = b.wait();
    let (killed_after, held) = killed.unwrap();
    let (distinct_b, extra_b) = tally(&fake, &second);
    let takeovers = count(
        &mut pg,
        "SELECT CAST(COALESCE(SUM(takeovers), 0) AS BIGINT) AS n FROM campaign_subscribe_batches",
    );
    let unfinished = count(
        &mut pg,
        "SELECT COUNT(*) AS n FROM campaign_subscribe_batches WHERE status <> 'sent'",
    );
    let retried = count(
        &mut pg,
        "SELECT CAST(COALESCE(SUM(retried + dead + skipped), 0) AS BIGINT) AS n FROM campaign_subscribe_batches",
    );
    let window = gongyou_services::notifications::dispatch::WINDOW
        + gongyou_services::notifications::dispatch::CHECKPOINT_EVERY;
    let bound = u64::try_from(takeovers).unwrap() * window as u64;

    println!();
    println!("subscribe messages: {rounds} campaigns to {n} members, one request per message");
    println!(
        "wrk -t2 -c64 -d20s against the fake subscribe/send   {wrk:.0} req/s (mean of {wrk_before:.0} before and {wrk_after:.0} after the sending)"
    );
    println!(
        "2 workers, {expected} messages in {:.1} s (target ≥ 60 s)   {rate:.0} messages/s = {:.0} % of wrk (target ≥ 50 %)",
        sending.as_secs_f64(),
        100.0 * rate / wrk
    );
    println!(
        "  distinct (member, campaign) reached {distinct} of {expected}; delivered twice {extra}"
    );
    println!(
        "with kill -9 after {killed_after} messages ({held} batches held): {expected} messages in {:.1} s; distinct reached {distinct_b} of {expected} (missing {}); delivered twice {extra_b}; takeovers {takeovers}; unrecorded window {window} a batch, bound {bound}; batches not sent {unfinished}; messages not sent in their batch {retried}",
        with_kill.as_secs_f64(),
        expected - distinct_b
    );
    assert_eq!(
        (distinct, extra),
        (expected, 0),
        "run without a kill: each once"
    );
    assert!(
        sending >= Duration::from_secs(60),
        "sending lasted under 60 s: raise GONGYOU_BENCH_ROUNDS"
    );
    assert_eq!(distinct_b, expected, "none missing after the kill");
    assert!(
        takeovers >= 1,
        "the killed worker's batches were taken over"
    );
    assert!(
        extra_b <= bound,
        "resends within the killed worker's window"
    );
    assert_eq!(
        (unfinished, retried),
        (0, 0),
        "every batch sent, every message in it"
    );
}
