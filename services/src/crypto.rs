//! Sensitive personal information at rest (PIPL): AES-256-GCM encryption with the key id
//! stored beside each ciphertext, so keys can rotate, and an HMAC-SHA256 blind index for
//! uniqueness and lookup without decrypting.
//!
//! Both keys are derived from configured secrets (strings of at least 32 characters,
//! enforced by the configuration) with HKDF-SHA256, salt `gongyou/v1`, info
//! `pii-encryption` for the AES key and `pii-blind-index` for the index key.
//!
//! The blind index uses only the current secret: rotating it changes every index value,
//! so stored indexes must be recomputed (decrypt with the old key, index with the new).

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const HKDF_SALT: &[u8] = b"gongyou/v1";
const INFO_ENCRYPTION: &[u8] = b"pii-encryption";
const INFO_BLIND_INDEX: &[u8] = b"pii-blind-index";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("unknown key id")]
    UnknownKey,
    #[error("ciphertext malformed or tampered")]
    Invalid,
    /// AES-GCM refuses only inputs longer than 2^36 bytes; kept so encryption has no panic.
    #[error("encryption failed")]
    Encrypt,
}

/// A ciphertext and the id of the key that sealed it: store both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    /// Base64 (standard alphabet, padded, no newlines) of the 12-byte random nonce followed
    /// by the AES-GCM output (ciphertext and 16-byte tag).
    pub ciphertext: String,
}

/// Encrypts, decrypts and blind-indexes sensitive personal data. Cheap to clone.
#[derive(Clone)]
pub struct DataCrypto {
    keys: Arc<Keys>,
}

struct Keys {
    current: EncryptionKey,
    previous: Vec<EncryptionKey>,
    index_key: [u8; 32],
    /// The first previous secret's index key: during a rotation (`gongyou rotate-data-key`)
    /// rows not yet re-indexed still hold indexes under it, so lookups try both.
    previous_index_key: Option<[u8; 32]>,
}

struct EncryptionKey {
    id: String,
    cipher: Aes256Gcm,
}

impl EncryptionKey {
    fn from_secret(secret: &str) -> Self {
        let key = derive_key(secret, INFO_ENCRYPTION);
        let digest = Sha256::digest(key);
        Self {
            id: hex::encode(&digest[..8]),
            cipher: Aes256Gcm::new(&key.into()),
        }
    }
}

/// No key material: only the key ids, which are not secret.
impl std::fmt::Debug for DataCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous: Vec<&str> = self.keys.previous.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("DataCrypto")
            .field("key_id", &self.keys.current.id)
            .field("previous_key_ids", &previous)
            .finish_non_exhaustive()
    }
}

impl DataCrypto {
    /// `current` encrypts; `previous` (older secrets) still decrypt. The blind index always
    /// uses `current`.
    pub fn new(current: &str, previous: &[&str]) -> Self {
        let current_key = EncryptionKey::from_secret(current);
        let mut previous_keys: Vec<EncryptionKey> = Vec::with_capacity(previous.len());
        for secret in previous {
            let key = EncryptionKey::from_secret(secret);
            let known = key.id == current_key.id || previous_keys.iter().any(|k| k.id == key.id);
            if !known {
                previous_keys.push(key);
            }
        }
        Self {
            keys: Arc::new(Keys {
                current: current_key,
                previous: previous_keys,
                index_key: derive_key(current, INFO_BLIND_INDEX),
                previous_index_key: previous
                    .iter()
                    .find(|p| **p != current)
                    .map(|p| derive_key(p, INFO_BLIND_INDEX)),
            }),
        }
    }

    /// The current key's id: the first 16 hex characters of SHA-256 of the derived AES key.
    pub fn key_id(&self) -> &str {
        &self.keys.current.id
    }

    /// Encrypts under the current key with a fresh random nonce. `aad` binds the
    /// ciphertext to its field (e.g. "id_number"); decrypt must be given the same.
    pub fn encrypt(&self, plaintext: &str, aad: &str) -> Result<Sealed, CryptoError> {
        let key = &self.keys.current;
        let nonce: [u8; NONCE_LEN] = rand::random();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: aad.as_bytes(),
        };
        let sealed = key
            .cipher
            .encrypt(&nonce.into(), payload)
            .map_err(|_| CryptoError::Encrypt)?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(Sealed {
            key_id: key.id.clone(),
            ciphertext: STANDARD.encode(bytes),
        })
    }

    /// [`DataCrypto::encrypt`] as one stored string, `key_id:ciphertext`.
    pub fn seal_text(&self, plaintext: &str, aad: &str) -> Result<String, CryptoError> {
        let sealed = self.encrypt(plaintext, aad)?;
        Ok(format!("{}:{}", sealed.key_id, sealed.ciphertext))
    }

    /// Opens what [`DataCrypto::seal_text`] stored, with the same `aad`.
    pub fn unseal_text(&self, stored: &str, aad: &str) -> Result<String, CryptoError> {
        let (key_id, ciphertext) = stored.split_once(':').ok_or(CryptoError::Invalid)?;
        self.decrypt(key_id, ciphertext, aad)
    }

    /// Decrypts what [`DataCrypto::encrypt`] sealed under `key_id` (current or previous)
    /// with the same `aad`.
    pub fn decrypt(
        &self,
        key_id: &str,
        ciphertext: &str,
        aad: &str,
    ) -> Result<String, CryptoError> {
        let key = std::iter::once(&self.keys.current)
            .chain(&self.keys.previous)
            .find(|k| k.id == key_id)
            .ok_or(CryptoError::UnknownKey)?;
        let bytes = STANDARD
            .decode(ciphertext)
            .map_err(|_| CryptoError::Invalid)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Invalid);
        }
        let (nonce, sealed) = bytes
            .split_at_checked(NONCE_LEN)
            .ok_or(CryptoError::Invalid)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Invalid)?;
        let payload = Payload {
            msg: sealed,
            aad: aad.as_bytes(),
        };
        let plaintext = key
            .cipher
            .decrypt(&nonce.into(), payload)
            .map_err(|_| CryptoError::Invalid)?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::Invalid)
    }

    /// Whether `key_id` is the current key's or a previous key's (its values decrypt).
    pub fn knows_key(&self, key_id: &str) -> bool {
        std::iter::once(&self.keys.current)
            .chain(&self.keys.previous)
            .any(|k| k.id == key_id)
    }

    /// The ids of the previous keys configured.
    pub fn previous_key_ids(&self) -> Vec<String> {
        self.keys.previous.iter().map(|k| k.id.clone()).collect()
    }

    /// The indexes to look `value` up by: the current key's, then, while a previous secret
    /// is configured, the first previous secret's (rows a rotation has not re-indexed yet).
    pub fn lookup_indexes(&self, kind: &str, value: &str) -> Vec<String> {
        let mut out = vec![self.blind_index(kind, value)];
        if let Some(key) = &self.keys.previous_index_key {
            out.push(blind_index_under(key, kind, value));
        }
        out
    }

    /// Deterministic: hex HMAC-SHA256 of `value` under the index key, domain-separated by
    /// `kind` (e.g. "id_number"), so equal values of different kinds do not collide.
    pub fn blind_index(&self, kind: &str, value: &str) -> String {
        blind_index_under(&self.keys.index_key, kind, value)
    }
}

fn blind_index_under(key: &[u8; 32], kind: &str, value: &str) -> String {
    let kind_len = (kind.len() as u64).to_be_bytes();
    let mac = hmac_sha256(key, &[&kind_len, kind.as_bytes(), value.as_bytes()]);
    hex::encode(mac)
}

/// HKDF-SHA256 (RFC 5869) of `secret` to one 32-byte key.
fn derive_key(secret: &str, info: &[u8]) -> [u8; 32] {
    hkdf_sha256_32(HKDF_SALT, secret.as_bytes(), info)
}

/// HKDF-SHA256 with a 32-byte output. Extract is the `hkdf` crate's; Expand to a single
/// hash length is T(1) = HMAC(PRK, info || 0x01), computed directly because the crate's
/// `expand` returns a `Result` (it fails only for outputs over 255 hash lengths). A test
/// checks this against the crate.
fn hkdf_sha256_32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), ikm);
    hmac_sha256(&prk.into(), &[info, &[1]])
}

/// HMAC-SHA256 under a 32-byte key of the concatenated `parts`. HMAC pads a key shorter
/// than its 64-byte block with zeros; padding it here allows the infallible constructor.
fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = hmac::digest::Key::<HmacSha256>::default();
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut mac = <HmacSha256 as KeyInit>::new(&block);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "old-secret-old-secret-old-secret-0001";
    const NEW: &str = "new-secret-new-secret-new-secret-0002";

    fn crypto() -> DataCrypto {
        DataCrypto::new(NEW, &[])
    }

    #[test]
    fn round_trip() {
        let c = crypto();
        for value in ["11010519491231002X", "", "张三", &"x".repeat(10_000)] {
            let sealed = c.encrypt(value, "id_number").unwrap();
            assert_eq!(sealed.key_id, c.key_id());
            assert_eq!(
                c.decrypt(&sealed.key_id, &sealed.ciphertext, "id_number")
                    .unwrap(),
                value
            );
        }
    }

    #[test]
    fn ciphertext_is_base64_of_nonce_and_gcm_output() {
        let sealed = crypto().encrypt("11010519491231002X", "id_number").unwrap();
        assert!(!sealed.ciphertext.contains('\n'));
        assert!(!sealed.ciphertext.contains("11010519491231002X"));
        let bytes = STANDARD.decode(&sealed.ciphertext).unwrap();
        assert_eq!(bytes.len(), NONCE_LEN + 18 + TAG_LEN);
    }

    #[test]
    fn two_encryptions_of_the_same_value_differ() {
        let c = crypto();
        let a = c.encrypt("11010519491231002X", "id_number").unwrap();
        let b = c.encrypt("11010519491231002X", "id_number").unwrap();
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(a.key_id, b.key_id);
    }

    #[test]
    fn wrong_aad_fails() {
        let c = crypto();
        let sealed = c.encrypt("11010519491231002X", "id_number").unwrap();
        assert!(matches!(
            c.decrypt(&sealed.key_id, &sealed.ciphertext, "real_name"),
            Err(CryptoError::Invalid)
        ));
        assert!(matches!(
            c.decrypt(&sealed.key_id, &sealed.ciphertext, ""),
            Err(CryptoError::Invalid)
        ));
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let c = crypto();
        let sealed = c.encrypt("11010519491231002X", "id_number").unwrap();
        let bytes = STANDARD.decode(&sealed.ciphertext).unwrap();
        // Flipping any bit anywhere (nonce, ciphertext, tag) is detected.
        for i in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[i] ^= 0x01;
            let tampered = STANDARD.encode(tampered);
            assert!(
                matches!(
                    c.decrypt(&sealed.key_id, &tampered, "id_number"),
                    Err(CryptoError::Invalid)
                ),
                "byte {i}"
            );
        }
        let truncated = STANDARD.encode(&bytes[..bytes.len() - 1]);
        let too_short = STANDARD.encode(&bytes[..NONCE_LEN + TAG_LEN - 1]);
        for bad in [truncated.as_str(), too_short.as_str(), "", "not base64!"] {
            assert!(
                matches!(
                    c.decrypt(&sealed.key_id, bad, "id_number"),
                    Err(CryptoError::Invalid)
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn old_keys_still_decrypt_after_rotation() {
        let before = DataCrypto::new(OLD, &[]);
        let sealed = before.encrypt("11010519491231002X", "id_number").unwrap();

        let after = DataCrypto::new(NEW, &[OLD]);
        assert_ne!(after.key_id(), sealed.key_id);
        assert_eq!(
            after
                .decrypt(&sealed.key_id, &sealed.ciphertext, "id_number")
                .unwrap(),
            "11010519491231002X"
        );
        // New values are sealed under the new key.
        assert_eq!(
            after.encrypt("x", "id_number").unwrap().key_id,
            after.key_id()
        );

        // Once the old secret is dropped, its ciphertexts are refused by id.
        let dropped = DataCrypto::new(NEW, &[]);
        assert!(matches!(
            dropped.decrypt(&sealed.key_id, &sealed.ciphertext, "id_number"),
            Err(CryptoError::UnknownKey)
        ));
        assert!(matches!(
            after.decrypt("0000000000000000", &sealed.ciphertext, "id_number"),
            Err(CryptoError::UnknownKey)
        ));
    }

    #[test]
    fn a_ciphertext_under_another_key_with_its_id_swapped_fails() {
        let old = DataCrypto::new(OLD, &[]);
        let sealed = old.encrypt("11010519491231002X", "id_number").unwrap();
        let new = DataCrypto::new(NEW, &[OLD]);
        assert!(matches!(
            new.decrypt(new.key_id(), &sealed.ciphertext, "id_number"),
            Err(CryptoError::Invalid)
        ));
    }

    #[test]
    fn blind_index_is_deterministic_and_separated() {
        let c = crypto();
        let a = c.blind_index("id_number", "11010519491231002X");
        assert_eq!(a, c.blind_index("id_number", "11010519491231002X"));
        assert_eq!(a, crypto().blind_index("id_number", "11010519491231002X"));
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, c.blind_index("id_number", "110105194912310029"));
        assert_ne!(a, c.blind_index("phone", "11010519491231002X"));
        // The length prefix keeps kind and value apart.
        assert_ne!(c.blind_index("ab", "c"), c.blind_index("a", "bc"));
        // Another key, another index; previous secrets do not take part.
        let other = DataCrypto::new(OLD, &[]);
        assert_ne!(a, other.blind_index("id_number", "11010519491231002X"));
        let rotated = DataCrypto::new(NEW, &[OLD]);
        assert_eq!(a, rotated.blind_index("id_number", "11010519491231002X"));
    }

    #[test]
    fn lookup_indexes_include_the_previous_key_s_during_a_rotation() {
        let old = DataCrypto::new(OLD, &[]);
        let rotating = DataCrypto::new(NEW, &[OLD]);
        let v = "11010519491231002X";
        assert_eq!(
            old.lookup_indexes("id_number", v),
            [old.blind_index("id_number", v)]
        );
        assert_eq!(
            rotating.lookup_indexes("id_number", v),
            [
                rotating.blind_index("id_number", v),
                old.blind_index("id_number", v)
            ]
        );
        assert!(rotating.knows_key(old.key_id()) && rotating.knows_key(rotating.key_id()));
        assert!(!DataCrypto::new(NEW, &[]).knows_key(old.key_id()));
        assert_eq!(rotating.previous_key_ids(), [old.key_id().to_owned()]);
    }

    #[test]
    fn key_ids_differ_per_secret() {
        let old = DataCrypto::new(OLD, &[]);
        let new = DataCrypto::new(NEW, &[]);
        assert_ne!(old.key_id(), new.key_id());
        assert_eq!(old.key_id(), DataCrypto::new(OLD, &[NEW]).key_id());
        for id in [old.key_id(), new.key_id()] {
            assert_eq!(id.len(), 16);
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        let aes_key = derive_key(OLD, INFO_ENCRYPTION);
        assert_eq!(old.key_id(), &hex::encode(Sha256::digest(aes_key))[..16]);
    }

    #[test]
    fn debug_prints_no_secret() {
        let c = DataCrypto::new(NEW, &[OLD]);
        let debug = format!("{c:?}");
        assert!(debug.contains(c.key_id()));
        for secret in [NEW, OLD] {
            assert!(!debug.contains(secret));
            assert!(!debug.contains(&hex::encode(derive_key(secret, INFO_ENCRYPTION))));
            assert!(!debug.contains(&hex::encode(derive_key(secret, INFO_BLIND_INDEX))));
        }
        assert!(!debug.contains("index_key"));
    }

    #[test]
    fn key_derivation_is_hkdf_sha256() {
        // Against the `hkdf` crate's own expand.
        for (secret, info) in [(NEW, INFO_ENCRYPTION), (OLD, INFO_BLIND_INDEX)] {
            let mut expected = [0u8; 32];
            Hkdf::<Sha256>::new(Some(HKDF_SALT), secret.as_bytes())
                .expand(info, &mut expected)
                .unwrap();
            assert_eq!(derive_key(secret, info), expected);
        }
        // RFC 5869 test case 1 (the first 32 of its 42 output bytes).
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        assert_eq!(
            hex::encode(hkdf_sha256_32(&salt, &ikm, &info)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
        // The two keys of one secret differ.
        assert_ne!(
            derive_key(NEW, INFO_ENCRYPTION),
            derive_key(NEW, INFO_BLIND_INDEX)
        );
    }

    #[test]
    fn hmac_matches_the_mac_crate() {
        let key = [7u8; 32];
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"ab");
        mac.update(b"c");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(hmac_sha256(&key, &[b"a".as_slice(), b"bc"]), expected);
    }
}
