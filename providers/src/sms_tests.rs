//! Tests of `sms`.
use super::*;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn settings(provider: SmsProvider, base_url: &str) -> SmsSettings {
    SmsSettings {
        provider,
        base_url: base_url.to_owned(),
        access_key_id: "AKIDtest".to_owned(),
        access_key_secret: SecretString::from("super-secret-key"),
        sign_name: "工友".to_owned(),
        template_id: "1234567".to_owned(),
        sdk_app_id: Some("1400000000".to_owned()),
        region: "ap-guangzhou".to_owned(),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

// ---- signing vectors

/// Tencent's published example (API signature v3, DescribeInstances on CVM, timestamp
/// 1551113065); the SecretKey is the documented one, asterisks included.
#[test]
fn tc3_reproduces_tencents_documented_example() {
    let payload = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    let headers = [
        ("content-type", "application/json; charset=utf-8"),
        ("host", "cvm.tencentcloudapi.com"),
    ];
    assert_eq!(
        sha256_hex(payload),
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
    let (canonical, signed) = tc3_canonical_request(&headers, payload);
    assert_eq!(
        canonical,
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
    assert_eq!(signed, "content-type;host");
    let to_sign = tc3_string_to_sign(1551113065, "cvm", &canonical);
    assert_eq!(
        to_sign,
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    );
    let authorization = tc3_authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        "Gu5t9xGARNpq86cd98joQYCN3*******",
        "cvm",
        &headers,
        payload,
        1551113065,
    );
    assert_eq!(
        authorization,
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    );
}

#[test]
fn tc3_dates_are_utc() {
    // 2019-02-26 00:44:25 in Beijing is still the 25th in UTC.
    assert_eq!(tc3_date(1551113065), "2019-02-25");
}

#[test]
fn tc3_signed_headers_are_sorted_and_lower_cased() {
    let (canonical, signed) = tc3_canonical_request(
        &[
            ("X-TC-Action", "SendSms"),
            ("host", "sms.tencentcloudapi.com"),
            ("content-type", TENCENT_CONTENT_TYPE),
        ],
        b"{}",
    );
    assert_eq!(signed, "content-type;host;x-tc-action");
    assert!(canonical.contains("host:sms.tencentcloudapi.com\nx-tc-action:sendsms\n\n"));
}

/// Aliyun's SMS documentation example (Format=XML, with OutId).
#[test]
fn aliyun_reproduces_the_documented_sms_example() {
    let params: BTreeMap<String, String> = [
        ("AccessKeyId", "testId"),
        ("Action", "SendSms"),
        ("Format", "XML"),
        ("OutId", "123"),
        ("PhoneNumbers", "15300000001"),
        ("RegionId", "cn-hangzhou"),
        ("SignName", "阿里云短信测试专用"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
        ("SignatureVersion", "1.0"),
        ("TemplateCode", "SMS_71390007"),
        ("TemplateParam", r#"{"customer":"test"}"#),
        ("Timestamp", "2017-07-12T02:42:19Z"),
        ("Version", "2017-05-25"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(
        aliyun_signature(&params, "testSecret"),
        "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    );
    assert_eq!(
        aliyun_signed_query(&params, "testSecret"),
        "Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
    );
}

/// Aliyun's RPC signature documentation example (DescribeRegions on ECS).
#[test]
fn aliyun_reproduces_the_documented_rpc_example() {
    let params: BTreeMap<String, String> = [
        ("AccessKeyId", "testid"),
        ("Action", "DescribeRegions"),
        ("Format", "XML"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2016-02-23T12:46:24Z"),
        ("Version", "2014-05-26"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(
        aliyun_signature(&params, "testsecret"),
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    );
}

#[test]
fn aliyun_encoding_follows_its_special_rules() {
    assert_eq!(aliyun_encode("a b*c~d"), "a%20b%2Ac~d");
    assert_eq!(aliyun_encode("/=&+"), "%2F%3D%26%2B");
    assert_eq!(aliyun_encode("-_."), "-_.");
}

#[test]
fn debug_never_shows_the_secret() {
    let s = settings(SmsProvider::Tencent, "https://sms.tencentcloudapi.com");
    let printed = format!("{s:?}");
    assert!(!printed.contains("super-secret-key"), "{printed}");
    let gateway = SmsGateway::new(s, client());
    assert!(!format!("{gateway:?}").contains("super-secret-key"));
}

#[test]
fn settings_validate() {
    let mut s = settings(SmsProvider::Tencent, "https://sms.tencentcloudapi.com");
    assert!(s.validate().is_ok());
    s.sdk_app_id = None;
    assert!(s.validate().unwrap_err().contains("sdk_app_id"));
    s.provider = SmsProvider::Aliyun;
    assert!(s.validate().is_ok());
    s.base_url = "nope".into();
    assert!(s.validate().unwrap_err().contains("base_url"));
}

#[test]
fn providers_deserialize_lower_case() {
    let p: SmsProvider = serde_json::from_str("\"aliyun\"").unwrap();
    assert_eq!(p, SmsProvider::Aliyun);
    let p: SmsProvider = serde_json::from_str("\"tencent\"").unwrap();
    assert_eq!(p, SmsProvider::Tencent);
}

// ---- Tencent over HTTP

fn tencent_ok() -> serde_json::Value {
    serde_json::json!({"Response": {
        "SendStatusSet": [{"SerialNo": "5000:1045710669157053657849499619", "PhoneNumber": "+8613800000000",
            "Fee": 1, "SessionContext": "", "Code": "Ok", "Message": "send success", "IsoCode": "CN"}],
        "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279"}})
}

fn tencent_status(code: &str) -> serde_json::Value {
    serde_json::json!({"Response": {
        "SendStatusSet": [{"SerialNo": "", "PhoneNumber": "+8613800000000", "Fee": 0,
            "SessionContext": "", "Code": code, "Message": "refused for +8613800000000", "IsoCode": "CN"}],
        "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279"}})
}

async fn tencent_server(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("X-TC-Action", "SendSms"))
        .and(header("X-TC-Version", "2021-01-11"))
        .and(header("X-TC-Region", "ap-guangzhou"))
        .and(header("Content-Type", TENCENT_CONTENT_TYPE))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn tencent_sends_a_signed_request() {
    let server = tencent_server(ResponseTemplate::new(200).set_body_json(tencent_ok())).await;
    let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
    gateway.send_code("13800000000", "123456").await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"PhoneNumberSet": ["+8613800000000"], "SmsSdkAppId": "1400000000",
            "SignName": "工友", "TemplateId": "1234567", "TemplateParamSet": ["123456", "5"]})
    );
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let timestamp: i64 = header("X-TC-Timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    let host = header("Host");
    let expected = tc3_authorization(
        "AKIDtest",
        "super-secret-key",
        "sms",
        &[
            ("content-type", TENCENT_CONTENT_TYPE),
            ("host", &host),
            ("x-tc-action", "sendsms"),
        ],
        &request.body,
        timestamp,
    );
    let authorization = header("Authorization");
    assert_eq!(authorization, expected);
    assert!(authorization.starts_with(&format!(
        "TC3-HMAC-SHA256 Credential=AKIDtest/{}/sms/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=",
        tc3_date(timestamp)
    )));
    assert!(!authorization.contains("super-secret-key"));
}

#[tokio::test]
async fn tencent_rejections_carry_the_code_and_mask_the_phone() {
    let server = tencent_server(
        ResponseTemplate::new(200)
            .set_body_json(tencent_status("InvalidParameterValue.IncorrectPhoneNumber")),
    )
    .await;
    let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
    match gateway.send_code("13800000000", "123456").await {
        Err(SmsError::Rejected { code, message }) => {
            assert_eq!(code, "InvalidParameterValue.IncorrectPhoneNumber");
            assert!(!message.contains("13800000000"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tencent_api_errors_are_rejections() {
    let server = tencent_server(ResponseTemplate::new(200).set_body_json(serde_json::json!(
        {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "The provided credentials could not be validated."},
         "RequestId": "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6"}}
    )))
    .await;
    let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
    match gateway.send_code("13800000000", "123456").await {
        Err(SmsError::Rejected { code, .. }) => {
            assert_eq!(code, "AuthFailure.SignatureFailure")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tencent_limits_are_rate_limits() {
    for answer in [
        tencent_status("LimitExceeded.PhoneNumberDailyLimit"),
        serde_json::json!({"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "too fast"}, "RequestId": "x"}}),
    ] {
        let server = tencent_server(ResponseTemplate::new(200).set_body_json(answer)).await;
        let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
        assert!(matches!(
            gateway.send_code("13800000000", "123456").await,
            Err(SmsError::RateLimited)
        ));
    }
}

#[tokio::test]
async fn tencent_server_errors_and_timeouts_are_unavailable() {
    let server = tencent_server(ResponseTemplate::new(500).set_body_string("oops")).await;
    let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
    assert!(matches!(
        gateway.send_code("13800000000", "123456").await,
        Err(SmsError::Unavailable(_))
    ));

    let slow = tencent_server(
        ResponseTemplate::new(200)
            .set_body_json(tencent_ok())
            .set_delay(Duration::from_secs(2)),
    )
    .await;
    let mut gateway = SmsGateway::new(settings(SmsProvider::Tencent, &slow.uri()), client());
    gateway.timeout = Duration::from_millis(200);
    match gateway.send_code("13800000000", "123456").await {
        Err(SmsError::Unavailable(reason)) => assert_eq!(reason, "timed out"),
        other => panic!("{other:?}"),
    }

    let mut no_app = settings(SmsProvider::Tencent, &server.uri());
    no_app.sdk_app_id = None;
    assert!(matches!(
        SmsGateway::new(no_app, client())
            .send_code("13800000000", "123456")
            .await,
        Err(SmsError::Unavailable(_))
    ));
}

// ---- Aliyun over HTTP

fn aliyun_settings(base_url: &str) -> SmsSettings {
    SmsSettings {
        region: "cn-hangzhou".to_owned(),
        template_id: "SMS_123456789".to_owned(),
        sdk_app_id: None,
        ..settings(SmsProvider::Aliyun, base_url)
    }
}

async fn aliyun_server(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .and(query_param("Action", "SendSms"))
        .and(query_param("Version", "2017-05-25"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

fn aliyun_answer(code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "Message": message, "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990",
        "Code": code, "BizId": "900619746936498440^0"
    }))
}

#[tokio::test]
async fn aliyun_sends_a_signed_request() {
    let server = aliyun_server(aliyun_answer("OK", "OK")).await;
    let gateway = SmsGateway::new(aliyun_settings(&server.uri()), client());
    gateway.send_code("13800000000", "654321").await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let params: BTreeMap<String, String> = requests[0]
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(params["AccessKeyId"], "AKIDtest");
    assert_eq!(params["PhoneNumbers"], "13800000000");
    assert_eq!(params["SignName"], "工友");
    assert_eq!(params["TemplateCode"], "SMS_123456789");
    assert_eq!(params["TemplateParam"], r#"{"code":"654321"}"#);
    assert_eq!(params["Format"], "JSON");
    assert_eq!(params["RegionId"], "cn-hangzhou");
    assert_eq!(params["SignatureMethod"], "HMAC-SHA1");
    assert_eq!(params["SignatureVersion"], "1.0");
    assert!(!params["SignatureNonce"].is_empty());
    let timestamp =
        chrono::NaiveDateTime::parse_from_str(&params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").unwrap();
    assert!(
        (chrono::Utc::now().naive_utc() - timestamp)
            .num_seconds()
            .abs()
            < 60
    );
    assert_eq!(
        params["Signature"],
        aliyun_signature(&params, "super-secret-key")
    );
    assert!(!requests[0].url.as_str().contains("super-secret-key"));
}

#[tokio::test]
async fn aliyun_nonces_differ_between_sends() {
    let server = aliyun_server(aliyun_answer("OK", "OK")).await;
    let gateway = SmsGateway::new(aliyun_settings(&server.uri()), client());
    gateway.send_code("13800000000", "1").await.unwrap();
    gateway.send_code("13800000000", "2").await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let nonce = |i: usize| {
        requests[i]
            .url
            .query_pairs()
            .find(|(k, _)| k == "SignatureNonce")
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    assert_ne!(nonce(0), nonce(1));
}

#[tokio::test]
async fn aliyun_errors_are_classified() {
    let server = aliyun_server(aliyun_answer(
        "isv.MOBILE_NUMBER_ILLEGAL",
        "非法手机号 13800000000",
    ))
    .await;
    let gateway = SmsGateway::new(aliyun_settings(&server.uri()), client());
    match gateway.send_code("13800000000", "123456").await {
        Err(SmsError::Rejected { code, message }) => {
            assert_eq!(code, "isv.MOBILE_NUMBER_ILLEGAL");
            assert_eq!(message, "非法手机号 138****0000");
        }
        other => panic!("{other:?}"),
    }

    let server = aliyun_server(aliyun_answer(
        "isv.BUSINESS_LIMIT_CONTROL",
        "触发小时级流控Permits:5",
    ))
    .await;
    let gateway = SmsGateway::new(aliyun_settings(&server.uri()), client());
    assert!(matches!(
        gateway.send_code("13800000000", "123456").await,
        Err(SmsError::RateLimited)
    ));

    let server = aliyun_server(
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched with our calculation.",
            "RequestId": "x"})),
    )
    .await;
    let gateway = SmsGateway::new(aliyun_settings(&server.uri()), client());
    assert!(matches!(
        gateway.send_code("13800000000", "123456").await,
        Err(SmsError::Rejected { code, .. }) if code == "SignatureDoesNotMatch"
    ));

    let server = aliyun_server(ResponseTemplate::new(500)).await;
    let gateway = SmsGateway::new(aliyun_settings(&server.uri()), client());
    assert!(matches!(
        gateway.send_code("13800000000", "123456").await,
        Err(SmsError::Unavailable(_))
    ));
}

// ---- any template

fn notice_params() -> Vec<String> {
    vec!["水电安装".to_owned(), "7月15日".to_owned()]
}

#[test]
fn aliyun_names_positional_params() {
    let param = aliyun_positional_param(&notice_params());
    let value: serde_json::Value = serde_json::from_str(&param).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"p1": "水电安装", "p2": "7月15日"})
    );
    let many: Vec<String> = (1..=11).map(|i| format!("v{i}")).collect();
    let value: serde_json::Value = serde_json::from_str(&aliyun_positional_param(&many)).unwrap();
    assert_eq!(value["p1"], "v1");
    assert_eq!(value["p10"], "v10");
    assert_eq!(value["p11"], "v11");
    assert_eq!(value.as_object().unwrap().len(), 11);
}

fn tencent_body_of(request: &wiremock::Request) -> serde_json::Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test]
async fn tencent_sends_any_template_with_its_params() {
    let server = tencent_server(ResponseTemplate::new(200).set_body_json(tencent_ok())).await;
    let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
    gateway
        .send_template("13800000000", "7654321", &notice_params())
        .await
        .unwrap();
    gateway
        .send_template("+8613900000000", "1111111", &[])
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        tencent_body_of(&requests[0]),
        serde_json::json!({"PhoneNumberSet": ["+8613800000000"], "SmsSdkAppId": "1400000000",
            "SignName": "工友", "TemplateId": "7654321", "TemplateParamSet": ["水电安装", "7月15日"]})
    );
    // No parameters: no TemplateParamSet.
    assert_eq!(
        tencent_body_of(&requests[1]),
        serde_json::json!({"PhoneNumberSet": ["+8613900000000"], "SmsSdkAppId": "1400000000",
            "SignName": "工友", "TemplateId": "1111111"})
    );
    // Signed like the codes.
    let authorization = requests[0]
        .headers
        .get("Authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(authorization.starts_with("TC3-HMAC-SHA256 Credential=AKIDtest/"));
}

#[tokio::test]
async fn send_code_is_send_template_with_the_configured_template_on_tencent() {
    let server = tencent_server(ResponseTemplate::new(200).set_body_json(tencent_ok())).await;
    let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
    gateway.send_code("13800000000", "123456").await.unwrap();
    gateway
        .send_template(
            "13800000000",
            "1234567",
            &["123456".to_owned(), "5".to_owned()],
        )
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(tencent_body_of(&requests[0]), tencent_body_of(&requests[1]));
}

#[tokio::test]
async fn tencent_template_errors_are_classified_and_masked() {
    let server = tencent_server(ResponseTemplate::new(200).set_body_json(tencent_status(
        "FailedOperation.TemplateIncorrectOrUnapproved",
    )))
    .await;
    let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
    match gateway
        .send_template("13800000000", "999", &notice_params())
        .await
    {
        Err(SmsError::Rejected { code, message }) => {
            assert_eq!(code, "FailedOperation.TemplateIncorrectOrUnapproved");
            assert!(!message.contains("13800000000"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let server = tencent_server(
        ResponseTemplate::new(200)
            .set_body_json(tencent_status("LimitExceeded.PhoneNumberThirtySecondLimit")),
    )
    .await;
    let gateway = SmsGateway::new(settings(SmsProvider::Tencent, &server.uri()), client());
    assert!(matches!(
        gateway
            .send_template("13800000000", "999", &notice_params())
            .await,
        Err(SmsError::RateLimited)
    ));
}

fn aliyun_query(request: &wiremock::Request) -> BTreeMap<String, String> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn aliyun_sends_any_template_with_named_params() {
    let server = aliyun_server(aliyun_answer("OK", "OK")).await;
    let gateway = SmsGateway::new(aliyun_settings(&server.uri()), client());
    gateway
        .send_template("13800000000", "SMS_987654321", &notice_params())
        .await
        .unwrap();
    gateway
        .send_template("13800000000", "SMS_111", &[])
        .await
        .unwrap();
    gateway.send_code("13800000000", "654321").await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let notice = aliyun_query(&requests[0]);
    assert_eq!(notice["TemplateCode"], "SMS_987654321");
    assert_eq!(notice["SignName"], "工友");
    assert_eq!(notice["PhoneNumbers"], "13800000000");
    let param: serde_json::Value = serde_json::from_str(&notice["TemplateParam"]).unwrap();
    assert_eq!(
        param,
        serde_json::json!({"p1": "水电安装", "p2": "7月15日"})
    );
    assert_eq!(
        notice["Signature"],
        aliyun_signature(&notice, "super-secret-key")
    );

    let bare = aliyun_query(&requests[1]);
    assert_eq!(bare["TemplateCode"], "SMS_111");
    assert!(!bare.contains_key("TemplateParam"));
    assert_eq!(
        bare["Signature"],
        aliyun_signature(&bare, "super-secret-key")
    );

    // The login code keeps its own `${code}` parameter and the configured template.
    let code = aliyun_query(&requests[2]);
    assert_eq!(code["TemplateCode"], "SMS_123456789");
    assert_eq!(code["TemplateParam"], r#"{"code":"654321"}"#);
}

#[tokio::test]
async fn aliyun_template_errors_are_classified() {
    let server = aliyun_server(aliyun_answer(
        "isv.SMS_TEMPLATE_ILLEGAL",
        "该账号下找不到对应模板",
    ))
    .await;
    let gateway = SmsGateway::new(aliyun_settings(&server.uri()), client());
    assert!(matches!(
        gateway.send_template("13800000000", "SMS_x", &notice_params()).await,
        Err(SmsError::Rejected { code, .. }) if code == "isv.SMS_TEMPLATE_ILLEGAL"
    ));
}

#[tokio::test]
async fn unreachable_providers_are_unavailable() {
    let server = MockServer::start().await;
    let uri = server.uri();
    drop(server);
    let gateway = SmsGateway::new(aliyun_settings(&uri), client());
    assert!(matches!(
        gateway.send_code("13800000000", "123456").await,
        Err(SmsError::Unavailable(_))
    ));
}
