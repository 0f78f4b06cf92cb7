//! The cryptography of WeChat Pay APIv3:
//!
//! - requests are signed SHA256withRSA (PKCS#1 v1.5) with the merchant API key over
//!   `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` ([`request_message`], [`MerchantKey`],
//!   [`authorization`]);
//! - answers and callbacks are signed the same way by WeChat Pay over
//!   `TIMESTAMP\nNONCE\nBODY\n` ([`response_message`], [`WechatPayKey::verify`]) with its
//!   public key (id `PUB_KEY_ID_…`) or a platform certificate (id = its serial);
//! - a payee's name travels RSA-OAEP-SHA1 encrypted under one of those keys
//!   ([`WechatPayKey::encrypt_oaep_sha1`]);
//! - a callback's `resource` is AEAD_AES_256_GCM sealed with the 32-byte APIv3 key
//!   ([`decrypt_resource`]).
//!
//! Signing and verification are ring's; OAEP is the `rsa` crate's (ring has no RSA
//! encryption). [`FakeKey`] is the other side, for the fake server.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use x509_cert::der::{Decode, Encode};

/// The signature scheme's name, in `Authorization` and `Wechatpay-Signature-Type`.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The prefix of WeChat Pay's probe signatures: never genuine.
pub const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// The prefix of a WeChat Pay public key's id (other ids are platform certificate serials).
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// What went wrong with a key, a signature or a ciphertext. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("not a PEM block: {0}")]
    Pem(String),
    #[error("unusable key: {0}")]
    Key(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("signing failed")]
    Sign,
    #[error("encryption failed")]
    Encrypt,
    #[error("decryption failed")]
    Decrypt,
}

/// One PEM block: its label (`PRIVATE KEY`, `PUBLIC KEY`, `CERTIFICATE`…) and its bytes.
/// Lenient about line lengths, CR/LF and text around the block.
pub fn decode_pem(pem: &str) -> Result<(String, Vec<u8>), CryptoError> {
    let begin = pem
        .find("-----BEGIN ")
        .ok_or_else(|| CryptoError::Pem("no -----BEGIN line".into()))?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| CryptoError::Pem("unterminated BEGIN line".into()))?;
    let label = rest[..label_end].trim().to_owned();
    let body = &rest[label_end + "-----".len()..];
    let end_marker = format!("-----END {label}-----");
    let end = body
        .find(&end_marker)
        .ok_or_else(|| CryptoError::Pem(format!("no {end_marker} line")))?;
    let text: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if text.contains(':') {
        return Err(CryptoError::Pem(format!(
            "{label} has headers (an encrypted key?); give it unencrypted"
        )));
    }
    let der = BASE64
        .decode(text.as_bytes())
        .map_err(|_| CryptoError::Pem(format!("{label}: invalid base64")))?;
    Ok((label, der))
}

/// The string a request's signature covers: `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, `url`
/// being the path and query exactly as sent, `body` empty for a GET.
pub fn request_message(method: &str, url: &str, timestamp: i64, nonce: &str, body: &str) -> String {
    format!("{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The bytes an answer's or a callback's signature covers: `TIMESTAMP\nNONCE\nBODY\n`.
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// The `Authorization` header of a signed request.
pub fn authorization(
    mch_id: &str,
    nonce: &str,
    signature: &str,
    timestamp: i64,
    serial_no: &str,
) -> String {
    format!(
        "{SCHEME} mchid=\"{mch_id}\",nonce_str=\"{nonce}\",signature=\"{signature}\",\
         timestamp=\"{timestamp}\",serial_no=\"{serial_no}\""
    )
}

/// The fields of an `Authorization` header (see [`authorization`]); `None` when it is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationFields {
    pub mch_id: String,
    pub nonce: String,
    pub signature: String,
    pub timestamp: String,
    pub serial_no: String,
}

/// Parses an `Authorization` header of the [`SCHEME`].
pub fn parse_authorization(header: &str) -> Option<AuthorizationFields> {
    let params = header.strip_prefix(SCHEME)?.strip_prefix(' ')?;
    let mut fields = std::collections::HashMap::new();
    for part in params.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let value = value.strip_prefix('"')?.strip_suffix('"')?;
        fields.insert(name.trim(), value.to_owned());
    }
    Some(AuthorizationFields {
        mch_id: fields.remove("mchid")?,
        nonce: fields.remove("nonce_str")?,
        signature: fields.remove("signature")?,
        timestamp: fields.remove("timestamp")?,
        serial_no: fields.remove("serial_no")?,
    })
}

/// A fresh nonce: 32 upper-case hexadecimal digits.
pub fn new_nonce() -> String {
    format!("{:032X}", rand::random::<u128>())
}

/// The merchant API private key, which signs requests.
pub struct MerchantKey {
    key_pair: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for MerchantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MerchantKey([redacted])")
    }
}

impl MerchantKey {
    /// From a PEM: PKCS#8 `PRIVATE KEY` (as WeChat Pay ships it) or PKCS#1 `RSA PRIVATE KEY`.
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let (label, der) = decode_pem(pem)?;
        let key_pair = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            other => {
                return Err(CryptoError::Key(format!(
                    "expected a PRIVATE KEY or RSA PRIVATE KEY PEM, got {other}"
                )))
            }
        }
        .map_err(|e| CryptoError::Key(format!("RSA private key rejected: {e}")))?;
        Ok(Self {
            key_pair,
            rng: SystemRandom::new(),
        })
    }

    /// SHA256withRSA (PKCS#1 v1.5) of `message`, Base64.
    pub fn sign(&self, message: &[u8]) -> Result<String, CryptoError> {
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                message,
                &mut signature,
            )
            .map_err(|_| CryptoError::Sign)?;
        Ok(BASE64.encode(signature))
    }

    /// The public half, as PKCS#1 `RSAPublicKey` DER.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key_pair.public().as_ref().to_vec()
    }
}

/// A key WeChat Pay signs with (its public key or a platform certificate's), by its id.
#[derive(Clone)]
pub struct WechatPayKey {
    id: String,
    /// PKCS#1 `RSAPublicKey` DER, as ring verifies with.
    pkcs1_der: Vec<u8>,
    public: RsaPublicKey,
}

impl std::fmt::Debug for WechatPayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl WechatPayKey {
    /// From a `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1) or `CERTIFICATE` PEM. A
    /// certificate's serial must be `id` (hexadecimal, case and leading zeros aside).
    pub fn from_pem(id: &str, pem: &str) -> Result<Self, CryptoError> {
        let (label, der) = decode_pem(pem)?;
        let public = match label.as_str() {
            "PUBLIC KEY" => RsaPublicKey::from_public_key_der(&der)
                .map_err(|e| CryptoError::Key(format!("RSA public key rejected: {e}")))?,
            "RSA PUBLIC KEY" => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                RsaPublicKey::from_pkcs1_der(&der)
                    .map_err(|e| CryptoError::Key(format!("RSA public key rejected: {e}")))?
            }
            "CERTIFICATE" => {
                let certificate = x509_cert::Certificate::from_der(&der)
                    .map_err(|e| CryptoError::Key(format!("certificate unreadable: {e}")))?;
                let serial =
                    hex::encode_upper(certificate.tbs_certificate.serial_number.as_bytes());
                if normal_serial(&serial) != normal_serial(id) {
                    return Err(CryptoError::Key(format!(
                        "the certificate's serial is {serial}, not {id}"
                    )));
                }
                let spki = certificate
                    .tbs_certificate
                    .subject_public_key_info
                    .to_der()
                    .map_err(|e| CryptoError::Key(format!("certificate key unreadable: {e}")))?;
                RsaPublicKey::from_public_key_der(&spki).map_err(|e| {
                    CryptoError::Key(format!("certificate key is not an RSA key: {e}"))
                })?
            }
            other => {
                return Err(CryptoError::Key(format!(
                    "expected a PUBLIC KEY or CERTIFICATE PEM, got {other}"
                )))
            }
        };
        Self::from_public(id, public)
    }

    fn from_public(id: &str, public: RsaPublicKey) -> Result<Self, CryptoError> {
        let pkcs1_der = public
            .to_pkcs1_der()
            .map_err(|e| CryptoError::Key(format!("RSA public key unusable: {e}")))?
            .as_bytes()
            .to_vec();
        Ok(Self {
            id: id.to_owned(),
            pkcs1_der,
            public,
        })
    }

    /// The key's id: `PUB_KEY_ID_…` or a certificate serial.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this is a WeChat Pay public key (rather than a platform certificate's).
    pub fn is_public_key_id(&self) -> bool {
        self.id.starts_with(PUBLIC_KEY_ID_PREFIX)
    }

    /// Checks a Base64 SHA256withRSA signature of `message`. `WECHATPAY/SIGNTEST/` probes
    /// never verify.
    pub fn verify(&self, message: &[u8], signature_b64: &str) -> Result<(), CryptoError> {
        if signature_b64.starts_with(SIGNTEST_PREFIX) {
            return Err(CryptoError::BadSignature);
        }
        let signature = BASE64
            .decode(signature_b64.trim().as_bytes())
            .map_err(|_| CryptoError::BadSignature)?;
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.pkcs1_der)
            .verify(message, &signature)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// RSA-OAEP (SHA-1, MGF1-SHA-1) of `plaintext` under this key, Base64: how a payee's name
    /// is sent.
    pub fn encrypt_oaep_sha1(&self, plaintext: &str) -> Result<String, CryptoError> {
        let mut rng = rsa::rand_core::OsRng;
        let ciphertext = self
            .public
            .encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), plaintext.as_bytes())
            .map_err(|_| CryptoError::Encrypt)?;
        Ok(BASE64.encode(ciphertext))
    }
}

/// A certificate serial without case or leading zeros.
fn normal_serial(serial: &str) -> String {
    serial.trim().trim_start_matches('0').to_ascii_uppercase()
}

/// Opens a callback `resource`: AEAD_AES_256_GCM under the 32-byte APIv3 key, with its
/// `nonce` and `associated_data`; `ciphertext_b64` ends with the 16-byte tag.
pub fn decrypt_resource(
    apiv3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, CryptoError> {
    let cipher = aes256(apiv3_key)?;
    if nonce.len() != 12 {
        return Err(CryptoError::Decrypt);
    }
    let ciphertext = BASE64
        .decode(ciphertext_b64.as_bytes())
        .map_err(|_| CryptoError::Decrypt)?;
    cipher
        .decrypt(
            Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: &ciphertext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| CryptoError::Decrypt)
}

/// Seals a callback `resource` (the fake's side of [`decrypt_resource`]); `nonce` must be 12
/// bytes.
pub fn encrypt_resource(
    apiv3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, CryptoError> {
    let cipher = aes256(apiv3_key)?;
    if nonce.len() != 12 {
        return Err(CryptoError::Encrypt);
    }
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: plaintext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| CryptoError::Encrypt)?;
    Ok(BASE64.encode(ciphertext))
}

fn aes256(key: &[u8]) -> Result<Aes256Gcm, CryptoError> {
    Aes256Gcm::new_from_slice(key)
        .map_err(|_| CryptoError::Key(format!("the APIv3 key must be 32 bytes, not {}", key.len())))
}

/// WeChat Pay's side of a key: signs answers and callbacks, decrypts payees' names. For the
/// fake server and tests.
pub struct FakeKey {
    signer: MerchantKey,
    private: RsaPrivateKey,
    public: WechatPayKey,
}

impl std::fmt::Debug for FakeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKey")
            .field("id", &self.public.id)
            .finish_non_exhaustive()
    }
}

impl FakeKey {
    /// From a private key PEM (PKCS#8 or PKCS#1), under the key id `id`.
    pub fn from_pem(id: &str, pem: &str) -> Result<Self, CryptoError> {
        let signer = MerchantKey::from_pem(pem)?;
        let (label, der) = decode_pem(pem)?;
        let private = match label.as_str() {
            "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| e.to_string()),
            _ => RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| e.to_string()),
        }
        .map_err(|e| CryptoError::Key(format!("RSA private key rejected: {e}")))?;
        let public = WechatPayKey::from_public(id, private.to_public_key())?;
        Ok(Self {
            signer,
            private,
            public,
        })
    }

    pub fn id(&self) -> &str {
        self.public.id()
    }

    /// The verifying half.
    pub fn public(&self) -> &WechatPayKey {
        &self.public
    }

    /// SHA256withRSA of `message`, Base64.
    pub fn sign(&self, message: &[u8]) -> Result<String, CryptoError> {
        self.signer.sign(message)
    }

    /// Opens an RSA-OAEP-SHA1 Base64 ciphertext (a payee's name).
    pub fn decrypt_oaep_sha1(&self, ciphertext_b64: &str) -> Result<String, CryptoError> {
        let ciphertext = BASE64
            .decode(ciphertext_b64.as_bytes())
            .map_err(|_| CryptoError::Decrypt)?;
        let plaintext = self
            .private
            .decrypt(Oaep::new::<sha1::Sha1>(), &ciphertext)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::Decrypt)
    }
}
