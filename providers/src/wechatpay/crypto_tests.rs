//! The crypto against vectors made by an independent implementation (Python's
//! `cryptography`, i.e. OpenSSL: `vectors/gen_vectors.py`), and OAEP against the `openssl` CLI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;

use super::crypto::*;

const VECTORS: &str = include_str!("vectors/vectors.json");
const KEY_PKCS8: &str = include_str!("vectors/test_key.pem");
const KEY_PKCS1: &str = include_str!("vectors/test_key_pkcs1.pem");
const PUBLIC: &str = include_str!("vectors/test_pub.pem");
const CERTIFICATE: &str = include_str!("vectors/test_cert.pem");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {field}"))
}

#[test]
fn our_request_signatures_equal_pythons_for_both_key_forms() {
    let v = vectors();
    for pem in [KEY_PKCS8, KEY_PKCS1] {
        let key = MerchantKey::from_pem(pem).unwrap();
        for request in v["requests"].as_array().unwrap() {
            let message = request_message(
                s(request, "method"),
                s(request, "url"),
                s(request, "timestamp").parse().unwrap(),
                s(request, "nonce"),
                s(request, "body"),
            );
            assert_eq!(message, s(request, "message"));
            // PKCS#1 v1.5 is deterministic: the same key and message give the same bytes.
            assert_eq!(
                key.sign(message.as_bytes()).unwrap(),
                s(request, "signature")
            );
        }
    }
}

#[test]
fn pythons_answer_signature_verifies_by_public_key_and_certificate_and_a_flip_does_not() {
    let v = vectors();
    let answer = &v["response"];
    let message = response_message(
        s(answer, "timestamp"),
        s(answer, "nonce"),
        s(answer, "body").as_bytes(),
    );
    assert_eq!(message, s(answer, "message").as_bytes());
    let signature = s(answer, "signature");
    let by_key = WechatPayKey::from_pem("PUB_KEY_ID_0114", PUBLIC).unwrap();
    let by_certificate = WechatPayKey::from_pem(s(&v, "certificate_serial"), CERTIFICATE).unwrap();
    assert!(by_key.is_public_key_id() && !by_certificate.is_public_key_id());
    for key in [&by_key, &by_certificate] {
        key.verify(&message, signature).unwrap();

        let mut flipped = BASE64.decode(signature).unwrap();
        flipped[17] ^= 0x01;
        assert_eq!(
            key.verify(&message, &BASE64.encode(&flipped)),
            Err(CryptoError::BadSignature)
        );
        let mut other = message.clone();
        other[3] ^= 0x01;
        assert_eq!(
            key.verify(&other, signature),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            key.verify(&message, &format!("{SIGNTEST_PREFIX}{signature}")),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            key.verify(&message, "not base64!"),
            Err(CryptoError::BadSignature)
        );
    }
    // The request vectors too (same key): our verification of Python's request signatures.
    for request in v["requests"].as_array().unwrap() {
        by_key
            .verify(s(request, "message").as_bytes(), s(request, "signature"))
            .unwrap();
    }
}

#[test]
fn a_certificate_under_another_serial_is_refused_at_load() {
    let err = WechatPayKey::from_pem("0123456789ABCDEF", CERTIFICATE).unwrap_err();
    assert!(err.to_string().contains("serial"), "{err}");
    // Case and leading zeros do not matter.
    let v = vectors();
    let lower = format!("00{}", s(&v, "certificate_serial").to_lowercase());
    WechatPayKey::from_pem(&lower, CERTIFICATE).unwrap();
}

#[test]
fn pythons_callback_resource_decrypts_and_tampering_is_refused() {
    let v = vectors();
    let aead = &v["aead"];
    let key = s(aead, "key").as_bytes();
    let plaintext = decrypt_resource(
        key,
        s(aead, "nonce"),
        s(aead, "associated_data"),
        s(aead, "ciphertext"),
    )
    .unwrap();
    assert_eq!(plaintext, s(aead, "plaintext").as_bytes());
    // Our sealing under the same nonce gives Python's bytes.
    assert_eq!(
        encrypt_resource(
            key,
            s(aead, "nonce"),
            s(aead, "associated_data"),
            s(aead, "plaintext").as_bytes()
        )
        .unwrap(),
        s(aead, "ciphertext")
    );

    let mut tampered = BASE64.decode(s(aead, "ciphertext")).unwrap();
    tampered[0] ^= 0x80;
    let tampered = BASE64.encode(tampered);
    assert_eq!(
        decrypt_resource(key, s(aead, "nonce"), s(aead, "associated_data"), &tampered),
        Err(CryptoError::Decrypt)
    );
    assert_eq!(
        decrypt_resource(key, s(aead, "nonce"), "transfer", s(aead, "ciphertext")),
        Err(CryptoError::Decrypt)
    );
    assert_eq!(
        decrypt_resource(
            b"0123456789abcdefghijklmnopqrstuV",
            s(aead, "nonce"),
            s(aead, "associated_data"),
            s(aead, "ciphertext")
        ),
        Err(CryptoError::Decrypt)
    );
    assert!(matches!(
        decrypt_resource(b"short", s(aead, "nonce"), "", s(aead, "ciphertext")),
        Err(CryptoError::Key(_))
    ));
}

#[test]
fn a_payee_name_encrypted_by_us_is_decrypted_by_openssl() {
    let key = WechatPayKey::from_pem("PUB_KEY_ID_0114", PUBLIC).unwrap();
    let name = "张三丰";
    let ciphertext = key.encrypt_oaep_sha1(name).unwrap();
    let bytes = BASE64.decode(&ciphertext).unwrap();
    assert_eq!(bytes.len(), 256);
    // OAEP is randomised: the same name never encrypts the same twice.
    assert_ne!(key.encrypt_oaep_sha1(name).unwrap(), ciphertext);

    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    let in_path = dir.path().join("name.bin");
    std::fs::write(&key_path, KEY_PKCS8).unwrap();
    std::fs::write(&in_path, &bytes).unwrap();
    let output = std::process::Command::new("openssl")
        .args(["pkeyutl", "-decrypt", "-inkey"])
        .arg(&key_path)
        .arg("-in")
        .arg(&in_path)
        .args([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha1",
            "-pkeyopt",
            "rsa_mgf1_md:sha1",
        ])
        .output()
        .expect("the openssl CLI");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap(), name);

    // And the fake's side opens it too.
    let fake = FakeKey::from_pem("PUB_KEY_ID_0114", KEY_PKCS8).unwrap();
    assert_eq!(fake.decrypt_oaep_sha1(&ciphertext).unwrap(), name);
}

#[test]
fn bad_pems_are_refused_with_a_reason() {
    assert!(matches!(
        MerchantKey::from_pem(""),
        Err(CryptoError::Pem(_))
    ));
    assert!(matches!(
        MerchantKey::from_pem(
            "-----BEGIN PRIVATE KEY-----\nnot*base64\n-----END PRIVATE KEY-----\n"
        ),
        Err(CryptoError::Pem(_))
    ));
    assert!(matches!(
        MerchantKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        Err(CryptoError::Key(_))
    ));
    // A public key is not a private key, and the reverse.
    assert!(matches!(
        MerchantKey::from_pem(PUBLIC),
        Err(CryptoError::Key(_))
    ));
    assert!(matches!(
        WechatPayKey::from_pem("x", KEY_PKCS8),
        Err(CryptoError::Key(_))
    ));
    // CR/LF line ends and text around the block are fine.
    let crlf = format!("comment\r\n{}\r\n", KEY_PKCS8.replace('\n', "\r\n"));
    MerchantKey::from_pem(&crlf).unwrap();
    // Nothing secret in Debug.
    let key = MerchantKey::from_pem(KEY_PKCS8).unwrap();
    assert_eq!(format!("{key:?}"), "MerchantKey([redacted])");
}

#[test]
fn the_authorization_header_has_the_documented_shape_and_parses_back() {
    let header = authorization("1900009191", "593BEC0C", "c2ln", 1554208460, "1DDE55AD98E");
    assert_eq!(
        header,
        "WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\",nonce_str=\"593BEC0C\",\
         signature=\"c2ln\",timestamp=\"1554208460\",serial_no=\"1DDE55AD98E\""
    );
    let fields = parse_authorization(&header).unwrap();
    assert_eq!(fields.mch_id, "1900009191");
    assert_eq!(fields.nonce, "593BEC0C");
    assert_eq!(fields.signature, "c2ln");
    assert_eq!(fields.timestamp, "1554208460");
    assert_eq!(fields.serial_no, "1DDE55AD98E");
    assert!(parse_authorization("Bearer x").is_none());
    let nonce = new_nonce();
    assert_eq!(nonce.len(), 32);
    assert_ne!(nonce, new_nonce());
}
