#!/usr/bin/env python3
"""Test keys and vectors for providers::wechatpay, made with an implementation independent of
ours (Python's `cryptography`, i.e. OpenSSL). Run from this folder: `python3 gen_vectors.py`.
It rewrites every file it makes; commit them together (the Rust tests read them).

Made here:
- vectors.json and test_key*.pem: a test RSA key, the SHA256withRSA PKCS#1 v1.5 signatures of
  a request's and a response's signing strings, and an AEAD_AES_256_GCM callback resource.
- fake_*.pem: the fixed keys of the fake WeChat Pay server (its public-key pair, a platform
  certificate and its key, and the merchant key it hands to clients). TEST KEYS, NOT SECRET.
"""
import base64
import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))

# The serial number of the fake's platform certificate (hexadecimal, as WeChat Pay shows it).
PLATFORM_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"


def write(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(HERE, name), mode) as f:
        f.write(data)


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pkcs8_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pkcs1_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def spki_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(key, message):
    signature = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def certificate(key, serial_hex):
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com (test)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (test)"),
        ]
    )
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int(serial_hex, 16))
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650 * 3))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def main():
    # The vectors' key, in both private forms and as a public key and a certificate.
    key = new_key()
    write("test_key.pem", pkcs8_pem(key))
    write("test_key_pkcs1.pem", pkcs1_pem(key))
    write("test_pub.pem", spki_pem(key))
    write("test_cert.pem", certificate(key, "6AB3F1C2D4E5F60718293A4B5C6D7E8F90A1B2C3"))

    request_body = json.dumps(
        {
            "appid": "wxf636efh567hg4356",
            "out_bill_no": "0192f3c47a2b7c3d9e4f5a6b7c8d9e0f",
            "transfer_scene_id": "1000",
            "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
            "transfer_amount": 400000,
            "transfer_remark": "工会互助金",
            "notify_url": "https://example.com/v1/payouts/wechat/notify",
            "user_name": "ZmFrZQ==",
            "transfer_scene_report_infos": [
                {"info_type": "活动名称", "info_content": "互助"},
                {"info_type": "奖励说明", "info_content": "理赔"},
            ],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    post = {
        "method": "POST",
        "url": "/v3/fund-app/mch-transfer/transfer-bills",
        "timestamp": "1735689600",
        "nonce": "593BEC0C930BF1AFEB40B4A08C8FB242",
        "body": request_body,
    }
    get = {
        "method": "GET",
        "url": "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/0192f3c47a2b7c3d9e4f5a6b7c8d9e0f",
        "timestamp": "1735689601",
        "nonce": "C5AC0A5F9A5B4F5D8E1D2C3B4A596877",
        "body": "",
    }
    for request in (post, get):
        request["message"] = "{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n".format(**request)
        request["signature"] = sign(key, request["message"])

    response = {
        "timestamp": "1735689602",
        "nonce": "0D3A6A5E8F9B4C2D1E0F9A8B7C6D5E4F",
        "body": json.dumps(
            {
                "out_bill_no": "0192f3c47a2b7c3d9e4f5a6b7c8d9e0f",
                "transfer_bill_no": "1330000071100999991182020050700019480001",
                "create_time": "2025-01-01T08:00:02+08:00",
                "state": "WAIT_USER_CONFIRM",
                "package_info": "affffddafdfafddffda==",
            },
            separators=(",", ":"),
        ),
    }
    response["message"] = "{timestamp}\n{nonce}\n{body}\n".format(**response)
    response["signature"] = sign(key, response["message"])

    apiv3_key = "0123456789abcdefghijklmnopqrstuv"  # 32 bytes
    resource_plain = json.dumps(
        {
            "out_bill_no": "0192f3c47a2b7c3d9e4f5a6b7c8d9e0f",
            "transfer_bill_no": "1330000071100999991182020050700019480001",
            "state": "SUCCESS",
            "mch_id": "1900001109",
            "transfer_amount": 400000,
            "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
            "create_time": "2025-01-01T08:00:02+08:00",
            "update_time": "2025-01-01T08:05:00+08:00",
        },
        separators=(",", ":"),
    )
    aead_nonce = "fdasflkja484"  # 12 characters, as WeChat Pay sends
    associated_data = "mch_payment"
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(
        aead_nonce.encode(), resource_plain.encode(), associated_data.encode()
    )
    aead = {
        "key": apiv3_key,
        "nonce": aead_nonce,
        "associated_data": associated_data,
        "plaintext": resource_plain,
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }

    vectors = {
        "generated_by": "gen_vectors.py (Python cryptography, OpenSSL)",
        "key": "test_key.pem",
        "key_pkcs1": "test_key_pkcs1.pem",
        "public_key": "test_pub.pem",
        "certificate": "test_cert.pem",
        "certificate_serial": "6AB3F1C2D4E5F60718293A4B5C6D7E8F90A1B2C3",
        "requests": [post, get],
        "response": response,
        "aead": aead,
    }
    write("vectors.json", json.dumps(vectors, indent=2, ensure_ascii=False) + "\n")

    # The fake server's fixed keys.
    wechatpay = new_key()
    write("fake_wechatpay_key.pem", pkcs8_pem(wechatpay))
    write("fake_wechatpay_pub.pem", spki_pem(wechatpay))
    platform = new_key()
    write("fake_platform_key.pem", pkcs8_pem(platform))
    write("fake_platform_cert.pem", certificate(platform, PLATFORM_SERIAL))
    merchant = new_key()
    write("fake_merchant_key.pem", pkcs8_pem(merchant))
    write("fake_merchant_pub.pem", spki_pem(merchant))


if __name__ == "__main__":
    main()
