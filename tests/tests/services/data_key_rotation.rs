//! Data-key rotation (`gongyou rotate-data-key`): data written under key A, then the job
//! run by processes configured with B (and A as previous) leaves every value under B, every
//! blind-index lookup finding its person (during the walk too), and nothing needing A any
//! more; a walk stopped after one batch resumes from its checkpoint to the same end; a
//! second run changes nothing; the start is refused while values do not decrypt.

use std::collections::HashMap;

use futures_util::StreamExt;
use gongyou_db::idempotency::{self as idem, Begin, Lifetimes, StoredResponse};
use gongyou_db::staff as staff_db;
use gongyou_domain::phone::Phone;
use gongyou_services::accounts::contact_phone;
use gongyou_services::crypto::DataCrypto;
use gongyou_services::files::SealedFiles;
use gongyou_services::membership::{self, NewApplication};
use gongyou_services::page::PageRequest;
use gongyou_services::rotation::{self, Options, Started};
use gongyou_services::{Actor, Context};
use gongyou_tests::services::TestServices;
use gongyou_tests::session::{application, id_number};

const KEY_A: &str = "rotation-key-a-rotation-key-a-000000001";
const KEY_B: &str = "rotation-key-b-rotation-key-b-000000002";
const MEMBERS: usize = 4;
/// Stored responses (two-column key): (caller, key, body, sealed or stored plain).
const RESPONSES: [(&str, &str, &str, bool); 4] = [
    ("caller-1", "key-a", "{\"n\":1}", true),
    ("caller-1", "key-b", "{\"n\":2}", true),
    ("caller-2", "key-a", "{\"n\":3}", true),
    ("caller-2", "key-b", "{\"n\":4}", false),
];
const BODY_AAD: &str = "idempotent-response";

/// The same services over the same database, with other data keys.
fn with_keys(ctx: &Context, current: &str, previous: &[&str]) -> Context {
    let mut ctx = ctx.clone();
    ctx.crypto = DataCrypto::new(current, previous);
    ctx.sealed_files = SealedFiles::new(
        ctx.providers.files.clone(),
        ctx.crypto.clone(),
        ctx.db.clone(),
        ctx.clock.clone(),
    );
    ctx
}

struct Data {
    admin: Actor,
    /// (membership id, ID number) of the approved members.
    members: Vec<(String, String)>,
    /// The ID number of an application left pending.
    pending: String,
    staff_id: String,
    file_id: String,
    file_bytes: Vec<u8>,
}

/// Members with ID numbers (applied and approved through the use-cases), a pending
/// application, a staff member's contact phone (waiting for its code) and a sealed file,
/// all under key A.
async fn data_under_a(s: &TestServices) -> Data {
    let admin = s.staff("demo-sichuan-admin").await;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let user = s.user(&format!("1310000020{i}")).await;
        let id = id_number("510104", "19900101", &format!("{:03}", 11 + i * 10));
        let form: NewApplication = serde_json::from_value(application(&id, "510104")).unwrap();
        let applied = membership::apply(&s.ctx, &user, form).await.unwrap();
        let member = membership::approve(&s.ctx, &admin, applied.id)
            .await
            .unwrap();
        members.push((member.id, id));
    }
    let user = s.user("13100000299").await;
    let pending = id_number("510104", "19910202", "051");
    let form: NewApplication = serde_json::from_value(application(&pending, "510104")).unwrap();
    membership::apply(&s.ctx, &user, form).await.unwrap();

    contact_phone::set(&s.ctx, &admin, Phone::parse("13900000001").unwrap(), None)
        .await
        .unwrap();
    let staff_id = admin.staff_id().unwrap();

    let file_bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut writer = s.ctx.sealed_files.begin("roster", None).await.unwrap();
    writer.write(&file_bytes).await.unwrap();
    let file = writer.finish().await.unwrap();

    // Stored idempotent responses, sealed as the API seals them (one from before sealing).
    let a = DataCrypto::new(KEY_A, &[]);
    let now = s.ctx.now();
    for (caller, key, body, sealed) in RESPONSES {
        let body = if sealed {
            let e = a.encrypt(body, BODY_AAD).unwrap();
            format!("enc1:{}:{}", e.key_id, e.ciphertext)
        } else {
            body.to_owned()
        };
        s.ctx
            .db
            .run(move |conn| -> Result<(), gongyou_db::DbError> {
                assert_eq!(
                    idem::begin(conn, caller, key, "hash", now, Lifetimes::default())?,
                    Begin::Proceed
                );
                let response = StoredResponse {
                    status: 201,
                    headers: Vec::new(),
                    body,
                };
                idem::complete(conn, caller, key, &response)
            })
            .await
            .unwrap();
    }
    Data {
        admin,
        members,
        pending,
        staff_id,
        file_id: file.id,
        file_bytes,
    }
}

/// Finds members by ID number through the admins' search.
async fn found(ctx: &Context, admin: &Actor, id_number: &str) -> Vec<String> {
    let page = PageRequest::new(None, None).unwrap();
    membership::search(ctx, admin, Some(id_number.to_owned()), None, page)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.id)
        .collect()
}

async fn drain(ctx: &Context) {
    gongyou_tests::job_worker(ctx).drain().await.unwrap();
}

/// Everything is under B and works with B alone.
/// `applications`: how many applications the test made beyond `data_under_a`'s.
async fn assert_rotated(s: &TestServices, d: &Data, ctx_b: &Context, applications: i64) {
    let b = DataCrypto::new(KEY_B, &[]);
    let status = rotation::status(ctx_b).await.unwrap();
    assert_eq!(status.key_id, b.key_id());
    assert_eq!(status.remaining(), 0, "{status:#?}");
    for t in &status.tables {
        for c in &t.columns {
            for key in c.by_key.keys() {
                assert_eq!(key, b.key_id(), "{}.{} under {key}", t.table, c.column);
            }
        }
    }
    let counted = |table: &str| -> i64 {
        status
            .tables
            .iter()
            .find(|t| t.table == table)
            .map(|t| t.columns.iter().flat_map(|c| c.by_key.values()).sum())
            .unwrap_or(0)
    };
    assert_eq!(counted("memberships"), MEMBERS as i64);
    assert_eq!(
        counted("membership_applications"),
        MEMBERS as i64 + 1 + applications
    );
    assert_eq!(counted("staff"), 1);
    assert!(counted("stored_files") >= 1);

    // The old key can go: B alone decrypts and finds everything.
    let ctx_c = with_keys(&s.ctx, KEY_B, &[]);
    for (member_id, id) in &d.members {
        assert_eq!(
            found(&ctx_c, &d.admin, id).await,
            vec![member_id.to_owned()]
        );
        let identity = membership::read_identity(
            &ctx_c,
            &d.admin,
            member_id.clone(),
            "核实会员身份以办理业务",
        )
        .await
        .unwrap();
        assert_eq!(&identity.id_number, id);
    }
    // The pending application's index was recomputed too: a new application with the same
    // ID number is flagged as a conflict.
    let other = s.user("13100000298").await;
    let form: NewApplication = serde_json::from_value(application(&d.pending, "510104")).unwrap();
    let conflicting = membership::apply(&ctx_c, &other, form).await.unwrap();
    let flagged = membership::applications(
        &ctx_c,
        &d.admin,
        Some("pending"),
        Some(true),
        PageRequest::new(None, Some(200)).unwrap(),
    )
    .await
    .unwrap();
    assert!(
        flagged.items.iter().any(|a| a.id == conflicting.id),
        "the re-indexed application is found"
    );

    let staff_id = d.staff_id.clone();
    let stored = ctx_c
        .db
        .run(move |conn| staff_db::contact_phone(conn, &staff_id))
        .await
        .unwrap()
        .unwrap();
    let pending = stored.contact_phone_pending_enc.unwrap();
    assert!(pending.starts_with(&format!("{}:", b.key_id())));
    assert_eq!(
        contact_phone::unseal(&ctx_c, &d.staff_id, &pending)
            .unwrap()
            .as_str(),
        "13900000001"
    );

    let now = ctx_c.now();
    for (caller, key, body, sealed) in RESPONSES {
        let replay = ctx_c
            .db
            .run(move |conn| idem::begin(conn, caller, key, "hash", now, Lifetimes::default()))
            .await
            .unwrap();
        let Begin::Replay(stored) = replay else {
            panic!("{caller}/{key}: {replay:?}");
        };
        let opened = match stored.body.strip_prefix("enc1:") {
            Some(rest) => {
                assert!(sealed, "{caller}/{key}: a plain body stays plain");
                let (key_id, ciphertext) = rest.split_once(':').unwrap();
                assert_eq!(key_id, b.key_id());
                b.decrypt(key_id, ciphertext, BODY_AAD).unwrap()
            }
            None => {
                assert!(!sealed, "{caller}/{key}");
                stored.body
            }
        };
        assert_eq!(opened, body);
    }

    let mut stream = ctx_c.sealed_files.open(&d.file_id).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, d.file_bytes);

    // Idempotent: a second run changes nothing.
    let again = rotation::run(ctx_b, Options::default()).await.unwrap();
    assert_eq!(
        (
            again.reencrypted,
            again.indexes_recomputed,
            again.files_rewrapped,
            again.failed
        ),
        (0, 0, 0, 0),
        "{again:?}"
    );
    assert!(again.finished);
}

async fn start(ctx: &Context) -> Started {
    rotation::start(ctx, Some(2)).await.unwrap()
}

#[tokio::test]
async fn the_job_moves_every_value_and_index_to_the_new_key() {
    let s = TestServices::start_with(HashMap::from([(
        "GONGYOU_DATA_KEY".to_owned(),
        KEY_A.to_owned(),
    )]))
    .await;
    let d = data_under_a(&s).await;

    // B alone cannot read what A wrote: refused, naming the columns.
    let ctx_c = with_keys(&s.ctx, KEY_B, &[]);
    let a_id = DataCrypto::new(KEY_A, &[]).key_id().to_owned();
    match start(&ctx_c).await {
        Started::Refused { undecryptable } => {
            for table in [
                "memberships",
                "membership_applications",
                "staff",
                "stored_files",
            ] {
                assert!(
                    undecryptable
                        .iter()
                        .any(|(t, _, key, _)| *t == table && *key == a_id),
                    "{table}: {undecryptable:?}"
                );
            }
        }
        other => panic!("not refused: {other:?}"),
    }

    // With A as previous: lookups work before the job has run.
    let ctx_b = with_keys(&s.ctx, KEY_B, &[KEY_A]);
    for (member_id, id) in &d.members {
        assert_eq!(
            found(&ctx_b, &d.admin, id).await,
            vec![member_id.to_owned()]
        );
    }
    // Before the job: a new application with a member's ID number is flagged through the
    // previous key's index, and cannot be approved while that membership lives.
    let (_, taken) = d.members.first().cloned().unwrap();
    let latecomer = s.user("13100000296").await;
    let form: NewApplication = serde_json::from_value(application(&taken, "510104")).unwrap();
    let dup = membership::apply(&ctx_b, &latecomer, form).await.unwrap();
    let flagged = membership::applications(
        &ctx_b,
        &d.admin,
        Some("pending"),
        Some(true),
        PageRequest::new(None, Some(200)).unwrap(),
    )
    .await
    .unwrap();
    assert!(
        flagged.items.iter().any(|a| a.id == dup.id),
        "flagged through the previous key's index"
    );
    let refused = membership::approve(&ctx_b, &d.admin, dup.id.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "membership.identity_in_use");
    let Started::Enqueued { job_id } = start(&ctx_b).await else {
        panic!("not enqueued");
    };
    // One at a time.
    assert!(matches!(
        start(&ctx_b).await,
        Started::AlreadyRunning { job_id: Some(ref j) } if *j == job_id
    ));
    drain(&ctx_b).await;
    let job = rotation::job(&ctx_b, job_id).await.unwrap().unwrap();
    assert_eq!(job.status, "done", "{:?}", job.last_error);
    assert_rotated(&s, &d, &ctx_b, 1).await;
}

#[tokio::test]
async fn a_walk_stopped_after_one_batch_resumes_from_its_checkpoint() {
    let s = TestServices::start_with(HashMap::from([(
        "GONGYOU_DATA_KEY".to_owned(),
        KEY_A.to_owned(),
    )]))
    .await;
    let d = data_under_a(&s).await;
    let ctx_b = with_keys(&s.ctx, KEY_B, &[KEY_A]);

    // A worker killed after its first batch: one row done, the checkpoint saved.
    let first = rotation::run(
        &ctx_b,
        Options {
            batch_size: 1,
            max_batches: Some(1),
        },
    )
    .await
    .unwrap();
    assert!(!first.finished);
    assert_eq!((first.reencrypted, first.indexes_recomputed), (1, 1));
    let status = rotation::status(&ctx_b).await.unwrap();
    let members = status
        .tables
        .iter()
        .find(|t| t.table == "memberships")
        .unwrap();
    let checkpoint = members.progress.clone().unwrap();
    assert!(!checkpoint.done);
    assert_eq!(checkpoint.reencrypted, 1);
    assert!(!checkpoint.last_key.is_empty());
    assert_eq!(members.remaining_decryptable, MEMBERS as i64 - 1);
    // Mid-way, lookups find rows under either key.
    for (member_id, id) in &d.members {
        assert_eq!(
            found(&ctx_b, &d.admin, id).await,
            vec![member_id.to_owned()]
        );
    }

    // The job resumes after it and finishes.
    assert!(matches!(start(&ctx_b).await, Started::Enqueued { .. }));
    drain(&ctx_b).await;
    let status = rotation::status(&ctx_b).await.unwrap();
    let progress = |table: &str| {
        status
            .tables
            .iter()
            .find(|t| t.table == table)
            .and_then(|t| t.progress.clone())
            .unwrap()
    };
    // Every row re-encrypted exactly once across both runs.
    let members = progress("memberships");
    assert!(members.done);
    assert_eq!(members.reencrypted, MEMBERS as i64);
    assert_eq!(members.reindexed, MEMBERS as i64);
    assert_eq!(
        progress("membership_applications").reencrypted,
        MEMBERS as i64 + 1
    );
    assert_eq!(progress("staff").reencrypted, 1);
    assert_eq!(progress("idempotency_keys").reencrypted, 3);
    assert_rotated(&s, &d, &ctx_b, 0).await;
}
