//! Matched lines are stored a page of `PAGE_ENTRIES` a row (ADR 020): written in
//! `out_bill_no` order, read back across page boundaries, found by number, refused out of
//! order, dropped with the run's results.

use gongyou_db::reconcile::{self as db, Match, PAGE_ENTRIES};
use gongyou_db::DbError;
use gongyou_tests::services::TestServices;

/// Our numbers: 32 hex digits, ascending with `i`.
fn bill(i: usize) -> String {
    format!("{:032x}", (i as u128 + 1) * 0x1_0000_0001)
}

/// Every third line is money back; the rest money out.
fn line(i: usize) -> Match {
    Match {
        out_bill_no: bill(i),
        line: i as i64 + 2,
        out: i % 3 != 1,
    }
}

#[tokio::test]
async fn matched_lines_are_read_back_across_pages_and_found_by_number() {
    let s = TestServices::start().await;
    let n = 2 * PAGE_ENTRIES + 300;
    let result = s
        .ctx
        .db
        .run(move |conn| -> Result<(), DbError> {
            assert_eq!(
                db::write_matches(conn, "run-a", (0..n).map(line))?,
                n as u64
            );
            // Another run's pages are not this run's.
            assert_eq!(db::write_matches(conn, "run-b", (0..10).map(line))?, 10);

            // Everything, in order, whatever the step across page boundaries.
            for step in [1, 7, PAGE_ENTRIES - 1, PAGE_ENTRIES, PAGE_ENTRIES + 1, n] {
                let mut read: Vec<Match> = Vec::new();
                loop {
                    let after = read.last().map(|m| m.out_bill_no.clone());
                    let batch = db::matches_after(conn, "run-a", after.as_deref(), step)?;
                    assert!(batch.len() <= step);
                    if batch.is_empty() {
                        break;
                    }
                    read.extend(batch);
                }
                assert_eq!(read.len(), n, "step {step}");
                assert!(
                    read.iter().enumerate().all(|(i, m)| *m == line(i)),
                    "step {step}"
                );
            }
            // A cursor between two numbers, and one past the end.
            let between = format!("{}0", bill(PAGE_ENTRIES - 1));
            let next = db::matches_after(conn, "run-a", Some(&between), 2)?;
            assert_eq!(next, vec![line(PAGE_ENTRIES), line(PAGE_ENTRIES + 1)]);
            assert!(db::matches_after(conn, "run-a", Some("g"), 5)?.is_empty());

            // Found by number: first and last of each page, out only; none for money back,
            // an unknown number, or another run.
            let at = [
                0,
                1,
                PAGE_ENTRIES - 1,
                PAGE_ENTRIES,
                PAGE_ENTRIES + 1,
                2 * PAGE_ENTRIES,
                n - 2,
                n - 1,
            ];
            let wanted: Vec<String> = at
                .iter()
                .map(|&i| bill(i))
                .chain(["0".repeat(32), "f".repeat(32)])
                .collect();
            let mut found = db::matched_in(conn, &["run-a".to_owned()], &wanted)?;
            found.sort();
            let expected: Vec<(String, String)> = at
                .iter()
                .filter(|&&i| line(i).out)
                .map(|&i| (bill(i), "run-a".to_owned()))
                .collect();
            assert!(expected.len() >= 4 && expected.len() < at.len());
            assert_eq!(found, expected);
            assert!(db::matched_in(conn, &["run-c".to_owned()], &wanted)?.is_empty());

            // Out of order, or a number that would break a page: refused, nothing written.
            let backwards = [line(5), line(4)];
            assert!(db::write_matches(conn, "run-d", backwards.into_iter()).is_err());
            let odd = Match {
                out_bill_no: "a;b".into(),
                line: 2,
                out: true,
            };
            assert!(db::write_matches(conn, "run-d", [odd].into_iter()).is_err());

            // The run's results dropped: its pages too, the other run's kept.
            db::clear_results(conn, "run-a")?;
            assert!(db::matches_after(conn, "run-a", None, 10)?.is_empty());
            assert_eq!(db::matches_after(conn, "run-b", None, 100)?.len(), 10);
            Ok(())
        })
        .await;
    result.unwrap();
}
