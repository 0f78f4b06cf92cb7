//! Authentication: tokens, the caller of a request, passwords, one-time SMS codes, client
//! addresses. Authorization ("may this caller act on this object") is `crate::authz`.

pub mod caller;
pub mod client_ip;
pub mod password;
pub mod sessions;
pub mod sms_codes;
pub mod tokens;

pub use caller::{Caller, Principal, Subject};
