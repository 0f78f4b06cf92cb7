//! Union membership: the member's side (`member`) and the union admins' side (`admin`).

pub mod admin;
pub mod member;
