//! Payouts survive a crash of the worker that sends them: the real `gongyou worker` is
//! killed with SIGKILL in the middle of a batch, a fresh one takes the send job over once
//! its lease lapses, and every payout ends paid exactly once — the attempt the dead worker
//! left in flight is queried, not sent again under a new number.
//!
//! The workers are child processes on the test app's settings (its database, data dir and
//! Redis prefix); they run on the system clock while the app and the fake WeChat Pay share a
//! manual one (2026-04-20): the send job is due either way, answers of the fake are signed
//! on the system clock, and its callbacks go to the in-process app, on the shared clock.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gongyou_db::payouts::{Attempt, Payout};
use gongyou_domain::payout::TransferState;
use gongyou_providers::wechatpay::fake::CallbackMode;

use crate::payouts::{pay, Pay};

use gongyou_tests::gongyou_binary;

/// A `gongyou worker` process on a test app's settings; killed (SIGKILL) when dropped, so a
/// failing test leaves nothing running.
struct WorkerProcess {
    child: Child,
    log: PathBuf,
}

impl WorkerProcess {
    /// Starts `gongyou worker` with `settings` and a short lease, a check every second and a
    /// small pool; its output goes to `log`.
    fn start(settings: &HashMap<String, String>, log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("worker log file");
        let err = out.try_clone().expect("worker log file");
        let child = Command::new(gongyou_binary())
            .arg("worker")
            .env_clear()
            .envs(settings)
            .env("GONGYOU_JOB_LEASE_SECS", "3")
            .env("GONGYOU_JOB_POLL_MS", "100")
            .env("GONGYOU_PAYOUT_CHECK_SECS", "1")
            .env("GONGYOU_WORKER_CONCURRENCY", "2")
            .env("GONGYOU_DB_POOL_SIZE", "3")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("gongyou worker starts");
        Self { child, log }
    }

    /// SIGKILL, then reaps the process.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the worker");
        self.child.wait().expect("the killed worker is reaped");
    }

    /// Waits (at most 30 s) until the fake holds `n` bills.
    async fn until_bills(&mut self, p: &Pay, n: usize) {
        let started = Instant::now();
        while p.fake.bills().len() < n {
            self.assert_running();
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} bills after 30 s, not {n}:\n{}",
                p.fake.bills().len(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Panics (with the end of its log) if the process has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("worker status") {
            panic!("gongyou worker exited ({status}):\n{}", self.log_tail());
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A payout and its attempts.
type PayoutRow = (Payout, Vec<Attempt>);

/// Every payout of `batch`, with its attempts, straight from the database.
async fn batch_payouts(p: &Pay, batch: &str) -> Vec<PayoutRow> {
    let batch = batch.to_owned();
    p.f.app
        .state
        .db
        .run(move |conn| {
            let mut out = Vec::new();
            for payout in gongyou_db::payouts::of_batch(conn, &batch)? {
                let attempts = gongyou_db::payouts::attempts_of(conn, &payout.id)?;
                out.push((payout, attempts));
            }
            Ok::<_, gongyou_db::DbError>(out)
        })
        .await
        .unwrap()
}

/// The batch's send job (there is one).
async fn send_job(p: &Pay) -> gongyou_db::jobs::JobRow {
    let jobs =
        p.f.app
            .state
            .db
            .run(|conn| gongyou_db::jobs::list(conn, None, None, 1000))
            .await
            .unwrap();
    let mut sends = jobs.into_iter().filter(|j| j.name == "payouts.send");
    let job = sends.next().expect("the batch's send job");
    assert!(sends.next().is_none(), "one send job");
    job
}

/// How many payouts are in each status.
fn statuses(payouts: &[PayoutRow]) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (p, _) in payouts {
        *counts.entry(p.status.as_str()).or_default() += 1;
    }
    format!("{counts:?}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_in_the_middle_of_a_batch_leaves_every_payout_paid_exactly_once() {
    const N: usize = 12;
    gongyou_binary(); // before the setup: fail fast when it is not built
    let p = pay().await;
    let who: Vec<(String, String)> = (1..=N)
        .map(|i| (format!("139000008{i:02}"), format!("8{i:02}")))
        .collect();
    let refs: Vec<(&str, &str)> = who.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let workers = p.f.members(&refs).await;
    let mut claims = HashMap::new();
    for worker in &workers {
        let (claim, payout) = p.approved(worker).await;
        claims.insert(payout, (claim, worker.clone()));
    }
    let ids: Vec<&str> = claims.keys().map(String::as_str).collect();
    // Bills go straight to SUCCESS and call back; each create is answered 400 ms late (well
    // within the client's timeout), so the batch takes seconds to send.
    p.fake.set_auto_confirm(true);
    for _ in 0..N {
        p.fake.slow_next_create(Duration::from_millis(400));
    }
    let batch = p.approved_batch("wechat", &ids).await;
    let total_fen: i64 = batch_payouts(&p, &batch)
        .await
        .iter()
        .map(|(p, _)| p.amount_fen)
        .sum();
    assert_eq!(total_fen, 100_000 * N as i64);

    // The first worker sends two; the third's callback is held back, and the worker is
    // killed while that create is in flight: only a query can tell the next worker it went
    // through.
    let logs = p.f.app.data_dir.path();
    let mut first = WorkerProcess::start(p.f.app.settings(), logs.join("worker-1.log"));
    first.until_bills(&p, 2).await;
    p.fake.set_callbacks(CallbackMode::Suppressed);
    first.until_bills(&p, 3).await;
    first.kill();
    p.fake.set_callbacks(CallbackMode::Normal);
    let bills_at_kill = p.fake.bills().len();
    let at_kill = batch_payouts(&p, &batch).await;
    let unsent = at_kill.iter().filter(|(_, a)| a.is_empty()).count();
    assert!(
        bills_at_kill < N && unsent > 0,
        "the worker died mid-batch: {bills_at_kill} bills, {unsent} payouts without an attempt"
    );
    // The create in flight: its bill exists, the attempt's outcome is unknown.
    let in_flight: Vec<&Attempt> = at_kill
        .iter()
        .filter(|(p, _)| p.status == "sending")
        .flat_map(|(_, a)| a)
        .filter(|a| a.outcome_unknown && p.fake.bill(&a.out_bill_no).is_some())
        .collect();
    let in_flight = match in_flight.as_slice() {
        [a] => (*a).clone(),
        other => panic!("one create in flight when killed, not {other:?}"),
    };

    // A fresh worker takes the send job over once its lease lapses and finishes the batch.
    let mut second = WorkerProcess::start(p.f.app.settings(), logs.join("worker-2.log"));
    let started = Instant::now();
    let job = loop {
        let now = batch_payouts(&p, &batch).await;
        let job = send_job(&p).await;
        if now.iter().all(|(p, _)| p.status == "paid") && job.status == "done" {
            break job;
        }
        second.assert_running();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not every payout paid after 60 s ({}; the send job {}, attempt {}; {bills_at_kill} \
             bills when the first worker was killed):\n{}",
            statuses(&now),
            job.status,
            job.attempts,
            second.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(second);
    // Taken over, not enqueued again: the killed run and the one that finished.
    assert_eq!(job.attempts, 2, "{job:?}");
    // Read once the job is done (a late answer of WeChat Pay changes nothing).
    let done = batch_payouts(&p, &batch).await;

    // Each payout: one attempt, one create of its number, one SUCCESS bill of its amount.
    assert_eq!(done.len(), N);
    let mut numbers = HashSet::new();
    for (payout, attempts) in &done {
        assert_eq!(payout.status, "paid");
        assert_eq!(attempts.len(), 1, "{} has {attempts:?}", payout.id);
        let attempt = &attempts[0];
        assert!(attempt.final_at.is_some(), "{attempt:?}");
        let bill = p
            .fake
            .bill(&attempt.out_bill_no)
            .unwrap_or_else(|| panic!("no bill for {}", attempt.out_bill_no));
        assert_eq!(bill.state, TransferState::Success);
        assert_eq!(bill.amount_fen, payout.amount_fen);
        assert_eq!(
            p.fake.creates(&attempt.out_bill_no),
            1,
            "{}: queried, never sent again",
            attempt.out_bill_no
        );
        assert!(numbers.insert(attempt.out_bill_no.clone()));
    }
    // The one in flight was learnt by a query: no callback told of it, and it was not sent
    // again.
    let (_, attempts) = done
        .iter()
        .find(|(payout, _)| payout.id == in_flight.payout_id)
        .unwrap();
    assert_eq!(attempts[0].id, in_flight.id);
    assert_eq!(attempts[0].sends, 1);
    assert_eq!(attempts[0].state, "SUCCESS");
    assert!(p
        .fake
        .deliveries()
        .iter()
        .all(|d| d.out_bill_no != in_flight.out_bill_no));
    // The fake holds one bill per payout and no more, and paid the batch's total once.
    let bills = p.fake.bills();
    assert_eq!(bills.len(), N, "{bills:?}");
    let billed: HashSet<String> = bills.iter().map(|b| b.out_bill_no.clone()).collect();
    assert_eq!(billed.len(), N, "a number billed twice: {bills:?}");
    assert_eq!(billed, numbers);
    assert!(bills.iter().all(|b| b.state == TransferState::Success));
    assert_eq!(p.fake.total_paid_fen(), total_fen);

    // Every claim is paid; every payout was sent once and paid once.
    let finance = p.f.staff("demo-finance").await;
    for (payout, (claim, worker)) in &claims {
        let (status, c) = p.f.get(worker, &format!("/api/v1/claims/{claim}")).await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(c["status"], "paid", "{c}");
        let (status, events) =
            p.f.get(
                &finance,
                &format!("/api/v1/finance/payouts/{payout}/events"),
            )
            .await;
        assert_eq!(status, 200, "{events}");
        let actions: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        for once in ["send", "paid"] {
            assert_eq!(
                actions.iter().filter(|a| **a == once).count(),
                1,
                "{payout}: {actions:?}"
            );
        }
    }
}
