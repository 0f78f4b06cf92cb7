//! Accounts: signing in (SMS codes, WeChat, staff passwords), sessions and their refresh
//! tokens, step-up proofs, the caller's own view, binding a phone, a staff member's contact
//! phone, and authentication (what a session stands for, cached briefly and invalidated on
//! every change).

pub mod contact_phone;
pub mod password;
pub mod principal;
pub mod sessions;
pub mod sign_in;
pub mod sms_codes;
pub mod tokens;
pub mod views;

mod phone;
pub use phone::bind_phone_wechat;
