//! Tests of `config`.
use super::*;

fn env(pairs: &[(&str, &str)], dir: &Path) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.entry("GONGYOU_DATA_DIR".into())
        .or_insert_with(|| dir.display().to_string());
    map
}

const SECRET: &str = "0123456789abcdef0123456789abcdef-long-enough";

#[test]
fn defaults_then_file_then_environment() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = Config::load(None, &env(&[], dir.path())).unwrap();
    assert_eq!(defaults.http_addr, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(defaults.env, Environment::Dev);
    assert_eq!(defaults.database.backend(), Backend::Sqlite);
    assert_eq!(
        defaults.database.sqlite_path().unwrap(),
        dir.path().join("gongyou.db").to_string_lossy()
    );
    assert!(defaults.redis_url.is_none());
    assert!(defaults.sms_dev_echo);
    assert!(defaults.migrate_on_start);

    let file = dir.path().join("gongyou.toml");
    std::fs::write(
        &file,
        "http_addr = \"0.0.0.0:9000\"\nredis_prefix = \"from-file:\"\ndb_pool_size = 4\n",
    )
    .unwrap();
    let from_file = Config::load(Some(&file), &env(&[], dir.path())).unwrap();
    assert_eq!(from_file.http_addr, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(from_file.redis_prefix, "from-file:");
    assert_eq!(from_file.pool.max_size, 4);

    let from_env = Config::load(
        Some(&file),
        &env(
            &[
                ("GONGYOU_HTTP_ADDR", "127.0.0.1:7000"),
                ("GONGYOU_DB_POOL_SIZE", "7"),
                ("GONGYOU_DATABASE_URL", "postgres://localhost/gongyou"),
                ("GONGYOU_DEMO_PASSWORD", "0042"),
            ],
            dir.path(),
        ),
    )
    .unwrap();
    assert_eq!(from_env.http_addr, "127.0.0.1:7000".parse().unwrap());
    assert_eq!(from_env.pool.max_size, 7);
    // Not overridden by the environment: the file still counts.
    assert_eq!(from_env.redis_prefix, "from-file:");
    assert_eq!(from_env.database.backend(), Backend::Postgres);
    assert!(!from_env.migrate_on_start);
    // Strings stay strings: a numeric-looking password keeps its leading zeros.
    assert_eq!(from_env.demo_password.expose(), "0042");
    assert!(from_env.trusted_proxies.is_empty());
    let proxies = Config::load(
        None,
        &env(
            &[("GONGYOU_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")],
            dir.path(),
        ),
    )
    .unwrap();
    assert_eq!(proxies.trusted_proxies.len(), 2);
}

#[test]
fn bad_values_name_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        Config::load(None, &env(&[("GONGYOU_HTTP_ADDR", "nowhere")], dir.path())).unwrap_err();
    assert!(err.to_string().contains("GONGYOU_HTTP_ADDR"), "{err}");
    let err = Config::load(
        None,
        &env(&[("GONGYOU_DATABASE_URL", "mysql://x/y")], dir.path()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("GONGYOU_DATABASE_URL"), "{err}");
    let err =
        Config::load(None, &env(&[("GONGYOU_DB_POOL_SIZE", "many")], dir.path())).unwrap_err();
    assert!(err.to_string().contains("db_pool_size"), "{err}");
    let err =
        Config::load(None, &env(&[("GONGYOU_TOKEN_SECRET", "short")], dir.path())).unwrap_err();
    assert!(err.to_string().contains("GONGYOU_TOKEN_SECRET"), "{err}");
    let err = Config::load(
        None,
        &env(
            &[("GONGYOU_STATION_SEARCH_DEV_NOW", "2026-12-02 03:00")],
            dir.path(),
        ),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("GONGYOU_STATION_SEARCH_DEV_NOW"),
        "{err}"
    );
    let pinned = Config::load(
        None,
        &env(
            &[(
                "GONGYOU_STATION_SEARCH_DEV_NOW",
                "2026-12-02T03:00:00+08:00",
            )],
            dir.path(),
        ),
    )
    .unwrap();
    assert_eq!(
        pinned.station_search_now.map(|t| t.to_rfc3339()),
        Some("2026-12-01T19:00:00+00:00".to_owned())
    );
    let unset = Config::load(None, &env(&[], dir.path())).unwrap();
    assert_eq!(unset.station_search_now, None);
}

#[test]
fn production_refuses_dev_shortcuts() {
    let dir = tempfile::tempdir().unwrap();
    let good = [
        ("GONGYOU_ENV", "production"),
        ("GONGYOU_DATABASE_URL", "postgres://db/gongyou"),
        ("GONGYOU_TOKEN_SECRET", SECRET),
        ("GONGYOU_DATA_KEY", SECRET),
        ("GONGYOU_SMS_PROVIDER", "aliyun"),
        ("GONGYOU_SMS_ACCESS_KEY_ID", "LTAI-test"),
        ("GONGYOU_SMS_ACCESS_KEY_SECRET", "sms-secret"),
        ("GONGYOU_SMS_SIGN_NAME", "工友"),
        ("GONGYOU_SMS_TEMPLATE_ID", "SMS_000001"),
        ("GONGYOU_REDIS_URL", "redis://cache:6379"),
        ("GONGYOU_METRICS_ADDR", "0.0.0.0:9090"),
    ];
    let config = Config::load(None, &env(&good, dir.path())).unwrap();
    assert!(config.is_production());
    assert!(!config.sms_dev_echo);
    assert!(!config.token_secret.is_generated());

    let refused = |change: &[(&str, &str)], remove: &str| {
        let mut pairs = env(&good, dir.path());
        pairs.remove(remove);
        for (k, v) in change {
            pairs.insert((*k).into(), (*v).into());
        }
        match Config::load(None, &pairs) {
            Err(ConfigError::ProductionRefusal(reason)) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    };
    assert!(refused(&[], "GONGYOU_TOKEN_SECRET").contains("GONGYOU_TOKEN_SECRET"));
    assert!(refused(&[], "GONGYOU_DATA_KEY").contains("GONGYOU_DATA_KEY"));
    assert!(refused(&[], "GONGYOU_DATABASE_URL").contains("SQLite"));
    assert!(refused(&[("GONGYOU_DATABASE_URL", "sqlite://x.db")], "").contains("SQLite"));
    assert!(refused(&[("GONGYOU_SMS_DEV_ECHO", "true")], "").contains("SMS"));
    assert!(refused(
        &[(
            "GONGYOU_STATION_SEARCH_DEV_NOW",
            "2026-12-02T03:00:00+08:00"
        )],
        ""
    )
    .contains("GONGYOU_STATION_SEARCH_DEV_NOW"));
    assert!(refused(&[], "GONGYOU_SMS_PROVIDER").contains("GONGYOU_SMS_PROVIDER"));
    // Limits must hold across replicas: Redis, unless one replica is stated outright.
    assert!(refused(&[], "GONGYOU_REDIS_URL").contains("GONGYOU_REDIS_URL"));
    assert!(
        refused(&[("GONGYOU_SINGLE_REPLICA", "false")], "GONGYOU_REDIS_URL")
            .contains("GONGYOU_SINGLE_REPLICA")
    );
    // /metrics never on the public address in production.
    assert!(refused(&[], "GONGYOU_METRICS_ADDR").contains("GONGYOU_METRICS_ADDR"));

    let mut pairs = env(&good, dir.path());
    pairs.remove("GONGYOU_REDIS_URL");
    pairs.insert("GONGYOU_SINGLE_REPLICA".into(), "true".into());
    let single = Config::load(None, &pairs).unwrap();
    assert!(single.redis_url.is_none() && single.single_replica);

    // SQLite is allowed in production only when asked for explicitly.
    let mut pairs = env(&good, dir.path());
    pairs.insert("GONGYOU_DATABASE_URL".into(), "sqlite://x.db".into());
    pairs.insert("GONGYOU_ALLOW_SQLITE_IN_PRODUCTION".into(), "true".into());
    assert!(Config::load(None, &pairs).is_ok());
}

#[test]
fn secrets_never_print_and_dev_secrets_persist() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = env(
        &[
            ("GONGYOU_DATA_KEY", SECRET),
            ("GONGYOU_REDIS_URL", "redis://:hunter2@localhost"),
            ("GONGYOU_DATABASE_URL", "postgres://u:pgpass@localhost/db"),
            ("GONGYOU_WECHAT_APPID", "wx1"),
            ("GONGYOU_WECHAT_SECRET", "wechat-app-secret"),
        ],
        dir.path(),
    );
    let first = Config::load(None, &pairs).unwrap();
    let printed = format!("{first:?}");
    for secret in [
        SECRET,
        "hunter2",
        "pgpass",
        "wechat-app-secret",
        first.token_secret.expose(),
        first.demo_password.expose(),
    ] {
        assert!(!printed.contains(secret), "{secret} printed in {printed}");
    }
    assert!(first.token_secret.is_generated());
    assert!(first.token_secret.expose().len() >= 32);
    let second = Config::load(None, &pairs).unwrap();
    assert_eq!(first.token_secret.expose(), second.token_secret.expose());
    assert_eq!(first.demo_password.expose(), second.demo_password.expose());
    assert!(first.demo_password.is_generated());
}
