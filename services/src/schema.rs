//! Schemas the derives cannot write: constraints a request's JSON Schema states so that a
//! client (and a fuzzer) knows exactly what is accepted.

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// A boolean that must be `true` (a consent).
pub fn must_be_true() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .build()
}
