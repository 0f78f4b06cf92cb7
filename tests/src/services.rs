//! Use-cases without HTTP: a services [`Context`] over its own database on this run's
//! backend (SQLite, or PostgreSQL + Redis when the test URLs are set), the demo hierarchy
//! seeded, and actors signed in through the real sign-in use-cases — for tests of rules that
//! live in `gongyou-services` and of job handlers.

use std::collections::HashMap;
use std::sync::Arc;

use gongyou_domain::clock::{Clock, ManualClock};
use gongyou_domain::phone::Phone;
use gongyou_services::accounts::principal::authenticate;
use gongyou_services::accounts::sign_in;
use gongyou_services::accounts::sms_codes::Purpose;
use gongyou_services::config::Config;
use gongyou_services::{Actor, Context};

use crate::session::DEMO_PASSWORD;
use crate::{test_env, TestEnv};

/// A services context on a fresh, migrated, seeded database.
pub struct TestServices {
    pub ctx: Context,
    /// The context's clock; move it to expire things.
    pub clock: ManualClock,
    _env: TestEnv,
}

impl TestServices {
    /// The demo hierarchy and staff seeded (password [`DEMO_PASSWORD`]).
    pub async fn start() -> Self {
        Self::start_with(HashMap::new()).await
    }

    /// As [`TestServices::start`], with these `GONGYOU_*` settings added to the test ones.
    pub async fn start_with(settings: HashMap<String, String>) -> Self {
        let env = test_env(settings);
        let config = Config::load(None, &env.env).expect("test configuration");
        let clock = ManualClock::starting_now();
        let ctx = Context::open(config, Arc::new(clock.clone()))
            .await
            .expect("services context");
        gongyou::seed::run(&ctx.db, &ctx.config, clock.now().naive_utc())
            .await
            .expect("seed");
        Self {
            ctx,
            clock,
            _env: env,
        }
    }

    /// A demo staff member signed in by password (`demo-admin`, `demo-sichuan-admin`, …).
    pub async fn staff(&self, username: &str) -> Actor {
        let tokens = sign_in::with_password(&self.ctx, username, DEMO_PASSWORD.to_owned(), None)
            .await
            .expect("staff sign-in");
        authenticate(&self.ctx, Some(&tokens.access_token))
            .await
            .expect("staff actor")
    }

    /// A worker's account (a `user`), signed in with an SMS code (created on first sign-in).
    pub async fn user(&self, phone: &str) -> Actor {
        let phone = Phone::parse(phone).expect("a mainland mobile number");
        let sent = sign_in::send_code(&self.ctx, &phone, Purpose::SignIn, None)
            .await
            .expect("code sent");
        let code = sent.dev_code.expect("dev echo is on in tests");
        let tokens = sign_in::with_sms(&self.ctx, phone, &code)
            .await
            .expect("worker sign-in");
        authenticate(&self.ctx, Some(&tokens.access_token))
            .await
            .expect("worker actor")
    }

    /// The id of the seeded org named `name`.
    pub async fn org_id(&self, name: &str) -> String {
        crate::org_id(&self.ctx.db, name).await
    }

    /// Runs every due job once over this context (deterministically, one after another).
    pub async fn drain_jobs(&self) -> usize {
        crate::job_worker(&self.ctx)
            .drain()
            .await
            .expect("jobs drained")
    }
}
