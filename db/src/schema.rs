//! diesel table definitions shared by both backends (only types both support: BIGINT,
//! INTEGER, TEXT, BOOLEAN, naive UTC TIMESTAMP). Kept by hand beside the migrations; the
//! schema-parity test checks that both backends' migrations produce the same tables.

diesel::table! {
    idempotency_keys (caller, idem_key) {
        caller -> Text,
        idem_key -> Text,
        request_hash -> Text,
        state -> Text,
        response_status -> Nullable<Integer>,
        response_headers -> Nullable<Text>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        locked_until -> Timestamp,
        expires_at -> Timestamp,
    }
}
