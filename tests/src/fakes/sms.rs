//! A fake Tencent Cloud SMS `SendSms` endpoint (API 2021-01-11): `POST /` with the
//! `X-TC-*` headers and a TC3-HMAC-SHA256 `Authorization`. It does not verify the signature
//! (it does not know the secret), only that one is there; it records every message it
//! accepted (phone, TemplateId, TemplateParamSet) so tests can read the code a user was
//! sent, or the notice.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::lock;

#[derive(Default)]
struct State {
    /// (phone as sent, e.g. `+8613800000000`, TemplateId, TemplateParamSet) of every
    /// accepted message.
    sent: Vec<(String, String, Vec<String>)>,
    /// Error codes to answer the next requests with, in order.
    fail_next: VecDeque<String>,
    requests: usize,
}

/// The fake SMS provider. Point the application's Tencent SMS base URL at [`FakeSms::base_url`].
pub struct FakeSms {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeSms {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(method("POST"))
            .and(path("/"))
            .respond_with(SendSms {
                state: state.clone(),
            })
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// Every accepted message: the phone as sent (`+8613800000000`) and the template
    /// parameters (`[code, minutes]`).
    pub fn sent(&self) -> Vec<(String, Vec<String>)> {
        lock(&self.state)
            .sent
            .iter()
            .map(|(phone, _, params)| (phone.clone(), params.clone()))
            .collect()
    }

    /// Every accepted message: the phone as sent (`+8613800000000`), the TemplateId and the
    /// template parameters (empty when the request had no TemplateParamSet).
    pub fn sent_with_template(&self) -> Vec<(String, String, Vec<String>)> {
        lock(&self.state).sent.clone()
    }

    /// The code (first template parameter) of the last message to `phone11`
    /// (`13800000000`), whatever its template: after a notice to the same number, look the
    /// code up in [`FakeSms::sent_with_template`] instead.
    pub fn last_code_for(&self, phone11: &str) -> Option<String> {
        let wanted = format!("+86{}", phone11.trim_start_matches("+86"));
        lock(&self.state)
            .sent
            .iter()
            .rev()
            .find(|(phone, _, _)| *phone == wanted)
            .and_then(|(_, _, params)| params.first().cloned())
    }

    /// The next request (after the header checks) is answered with `Response.Error` carrying
    /// `code`, e.g. `LimitExceeded.PhoneNumberDailyLimit` or `FailedOperation.InsufficientBalanceInSmsPackage`.
    pub fn fail_next(&self, code: &str) {
        lock(&self.state).fail_next.push_back(code.to_owned());
    }

    /// How many requests reached the endpoint (accepted or not).
    pub fn requests(&self) -> usize {
        lock(&self.state).requests
    }
}

struct SendSms {
    state: Arc<Mutex<State>>,
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn error(code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id()}
    }))
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// `+86` followed by a mainland mobile number (11 digits starting with 1).
fn is_mainland_mobile(phone: &str) -> bool {
    phone.strip_prefix("+86").is_some_and(|n| {
        n.len() == 11 && n.starts_with('1') && n.bytes().all(|b| b.is_ascii_digit())
    })
}

impl Respond for SendSms {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = lock(&self.state);
        state.requests += 1;
        let signed = header(request, "authorization")
            .is_some_and(|a| a.starts_with("TC3-HMAC-SHA256 Credential="));
        if !signed {
            return error(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            );
        }
        if header(request, "x-tc-action") != Some("SendSms") {
            return error(
                "InvalidAction",
                "The action requested was invalid or not found.",
            );
        }
        if header(request, "x-tc-version") != Some("2021-01-11") {
            return error(
                "InvalidParameterValue",
                "The value of the header X-TC-Version is not supported.",
            );
        }
        if header(request, "x-tc-timestamp")
            .and_then(|t| t.parse::<i64>().ok())
            .is_none()
        {
            return error(
                "MissingParameter",
                "The request is missing a required parameter `X-TC-Timestamp`.",
            );
        }
        if let Some(code) = state.fail_next.pop_front() {
            return error(&code, "fake failure requested by the test");
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return error(
                "FailedOperation.JsonParseFail",
                "The request body is not JSON.",
            );
        };
        for field in ["SmsSdkAppId", "SignName", "TemplateId"] {
            if body[field].as_str().is_none_or(str::is_empty) {
                return error(
                    "MissingParameter",
                    &format!("The request is missing a required parameter `{field}`."),
                );
            }
        }
        let Some(phones) = strings(&body["PhoneNumberSet"]).filter(|p| !p.is_empty()) else {
            return error(
                "MissingParameter",
                "The request is missing a required parameter `PhoneNumberSet`.",
            );
        };
        let template_id = body["TemplateId"].as_str().unwrap_or_default().to_owned();
        let params = match &body["TemplateParamSet"] {
            Value::Null => Vec::new(),
            value => match strings(value) {
                Some(params) => params,
                None => {
                    return error(
                        "InvalidParameterValue.TemplateParameterFormatError",
                        "TemplateParamSet must be an array of strings.",
                    )
                }
            },
        };
        let statuses: Vec<Value> = phones
            .iter()
            .map(|phone| {
                if is_mainland_mobile(phone) {
                    state
                        .sent
                        .push((phone.clone(), template_id.clone(), params.clone()));
                    json!({"SerialNo": format!("5000:{}", uuid::Uuid::now_v7().simple()),
                        "PhoneNumber": phone, "Fee": 1, "SessionContext": "",
                        "Code": "Ok", "Message": "send success", "IsoCode": "CN"})
                } else {
                    json!({"SerialNo": "", "PhoneNumber": phone, "Fee": 0, "SessionContext": "",
                        "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                        "Message": "invalid mobile number", "IsoCode": ""})
                }
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "Response": {"SendStatusSet": statuses, "RequestId": request_id()}
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn send(fake: &FakeSms, action: &str, auth: &str, body: Value) -> Value {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{}/", fake.base_url()))
            .header("Authorization", auth)
            .header("X-TC-Action", action)
            .header("X-TC-Version", "2021-01-11")
            .header("X-TC-Timestamp", "1551113065")
            .header("X-TC-Region", "ap-guangzhou")
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn body(phone: &str, code: &str) -> Value {
        json!({"PhoneNumberSet": [phone], "SmsSdkAppId": "1400000000", "SignName": "工友",
            "TemplateId": "1", "TemplateParamSet": [code, "5"]})
    }

    const AUTH: &str = "TC3-HMAC-SHA256 Credential=AKID/2019-02-25/sms/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=00";

    #[tokio::test]
    async fn records_codes_and_fails_on_request() {
        let fake = FakeSms::start().await;
        let ok = send(&fake, "SendSms", AUTH, body("+8613800000000", "111111")).await;
        assert_eq!(ok["Response"]["SendStatusSet"][0]["Code"], "Ok");
        send(&fake, "SendSms", AUTH, body("+8613800000000", "222222")).await;
        assert_eq!(fake.last_code_for("13800000000").as_deref(), Some("222222"));
        assert_eq!(fake.last_code_for("13900000000"), None);
        assert_eq!(fake.sent().len(), 2);

        let bad = send(&fake, "SendSms", AUTH, body("+861380000", "1")).await;
        assert_eq!(
            bad["Response"]["SendStatusSet"][0]["Code"],
            "InvalidParameterValue.IncorrectPhoneNumber"
        );
        let unsigned = send(&fake, "SendSms", "", body("+8613800000000", "1")).await;
        assert_eq!(
            unsigned["Response"]["Error"]["Code"],
            "AuthFailure.SignatureFailure"
        );
        let wrong = send(&fake, "SendSmsX", AUTH, body("+8613800000000", "1")).await;
        assert_eq!(wrong["Response"]["Error"]["Code"], "InvalidAction");

        fake.fail_next("LimitExceeded.PhoneNumberDailyLimit");
        let limited = send(&fake, "SendSms", AUTH, body("+8613800000000", "3")).await;
        assert_eq!(
            limited["Response"]["Error"]["Code"],
            "LimitExceeded.PhoneNumberDailyLimit"
        );
        let again = send(&fake, "SendSms", AUTH, body("+8613800000000", "333333")).await;
        assert_eq!(again["Response"]["SendStatusSet"][0]["Code"], "Ok");
        assert_eq!(fake.last_code_for("13800000000").as_deref(), Some("333333"));
        assert_eq!(fake.sent().len(), 3);
        assert_eq!(fake.requests(), 7);
    }

    #[tokio::test]
    async fn records_the_template_of_each_message() {
        let fake = FakeSms::start().await;
        send(&fake, "SendSms", AUTH, body("+8613800000000", "111111")).await;
        let notice = json!({"PhoneNumberSet": ["+8613900000000"], "SmsSdkAppId": "1400000000",
            "SignName": "工友", "TemplateId": "2222", "TemplateParamSet": ["水电安装", "7月15日"]});
        send(&fake, "SendSms", AUTH, notice).await;
        let bare = json!({"PhoneNumberSet": ["+8613900000000"], "SmsSdkAppId": "1400000000",
            "SignName": "工友", "TemplateId": "3333"});
        send(&fake, "SendSms", AUTH, bare).await;
        assert_eq!(
            fake.sent_with_template(),
            vec![
                (
                    "+8613800000000".to_owned(),
                    "1".to_owned(),
                    vec!["111111".to_owned(), "5".to_owned()]
                ),
                (
                    "+8613900000000".to_owned(),
                    "2222".to_owned(),
                    vec!["水电安装".to_owned(), "7月15日".to_owned()]
                ),
                ("+8613900000000".to_owned(), "3333".to_owned(), vec![]),
            ]
        );
        assert_eq!(fake.sent()[1].1, vec!["水电安装", "7月15日"]);
        // The last message to the number had no parameters.
        assert_eq!(fake.last_code_for("13900000000"), None);
    }
}
