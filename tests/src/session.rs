//! Signing in from tests, the way the apps do.

use serde_json::{json, Value};

use crate::TestApp;

/// The password of the demo staff in test apps.
pub const DEMO_PASSWORD: &str = "demo-password-2026";

/// Tokens of a session.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user: Value,
}

impl Session {
    pub fn from_json(body: &Value) -> Self {
        Self {
            access_token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh_token: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
            user: body["user"].clone(),
        }
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.access_token)
    }
}

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json_as(
        &self,
        session: &Session,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("Authorization", session.bearer())
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn patch_json_as(
        &self,
        session: &Session,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .header("Authorization", session.bearer())
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_as(&self, session: &Session, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("Authorization", session.bearer())
            .send()
            .await
            .expect("request sent")
    }

    /// Asks for an SMS code (dev echo on) and returns it.
    pub async fn sms_code(&self, phone: &str, purpose: &str) -> String {
        let response = self
            .post_json(
                "/api/v1/auth/sms-codes",
                &json!({"phone": phone, "purpose": purpose}),
            )
            .await;
        assert_eq!(response.status(), 202, "sms code for {phone}");
        let body: Value = response.json().await.expect("json");
        body["dev_code"]
            .as_str()
            .expect("dev_code in dev mode")
            .to_owned()
    }

    /// Signs a worker in by SMS code (creating the account the first time).
    pub async fn sign_in_worker(&self, phone: &str) -> Session {
        let code = self.sms_code(phone, "sign_in").await;
        let response = self
            .post_json(
                "/api/v1/auth/sessions/sms",
                &json!({"phone": phone, "code": code}),
            )
            .await;
        assert_eq!(response.status(), 200, "sign-in of {phone}");
        Session::from_json(&response.json().await.expect("json"))
    }

    /// Signs staff in with a password.
    pub async fn sign_in_staff(&self, username: &str, password: &str) -> Session {
        let response = self
            .post_json(
                "/api/v1/auth/sessions/password",
                &json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(response.status(), 200, "sign-in of {username}");
        Session::from_json(&response.json().await.expect("json"))
    }

    /// Seeds the demo hierarchy and demo staff (password [`DEMO_PASSWORD`]).
    pub async fn seed(&self) {
        gongyou::seed::run(
            &self.state.db,
            &self.state.config,
            self.clock_now().naive_utc(),
        )
        .await
        .expect("seed");
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use gongyou_domain::clock::Clock;
        self.clock.now()
    }

    /// The id of the seeded org with this name.
    pub async fn org_id(&self, name: &str) -> String {
        crate::org_id(&self.state.db, name).await
    }

    /// Creates a staff member through the admin API as `admin`; returns the new member's id.
    pub async fn create_staff(
        &self,
        admin: &Session,
        username: &str,
        home_org: &str,
        roles: &[(&str, &str)],
    ) -> String {
        let roles: Vec<Value> = roles
            .iter()
            .map(|(role, org)| json!({"role": role, "org_id": org}))
            .collect();
        let response = self
            .post_json_as(
                admin,
                "/api/v1/admin/staff",
                &json!({
                    "username": username,
                    "display_name": username,
                    "password": DEMO_PASSWORD,
                    "org_id": home_org,
                    "roles": roles,
                }),
            )
            .await;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 201, "create staff {username}: {text}");
        let body: Value = serde_json::from_str(&text).expect("json");
        body["id"].as_str().expect("id").to_owned()
    }
}

/// A well-formed resident ID number (check character computed).
pub fn id_number(region: &str, birth: &str, sequence: &str) -> String {
    let first17 = format!("{region}{birth}{sequence}");
    let check = gongyou_domain::id_number::check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// A membership application body.
pub fn application(id_number: &str, region: &str) -> Value {
    json!({
        "real_name": "张小龙",
        "id_number": id_number,
        "occupation": "delivery_rider",
        "platform": "meituan",
        "platform_worker_id": "MT-20260001",
        "region_code": region,
        "consents": {"personal_information": true, "sensitive_personal_information": true},
    })
}

impl TestApp {
    /// Applies as `worker`; returns the response.
    pub async fn apply(&self, worker: &Session, body: &Value) -> reqwest::Response {
        self.post_json_as(worker, "/api/v1/membership/applications", body)
            .await
    }

    /// A member of 锦江区: signs in, applies, gets approved by the 四川 admin.
    pub async fn new_member(&self, phone: &str, id_number: &str) -> (Session, Value) {
        let worker = self.sign_in_worker(phone).await;
        let response = self.apply(&worker, &application(id_number, "510104")).await;
        let status = response.status();
        let app: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "{app}");
        let admin = self
            .sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD)
            .await;
        let approved = self
            .post_json_as(
                &admin,
                &format!(
                    "/api/v1/admin/membership/applications/{}/approve",
                    app["id"].as_str().expect("id")
                ),
                &json!({}),
            )
            .await;
        assert_eq!(approved.status(), 200);
        (worker, approved.json().await.expect("json"))
    }
}
