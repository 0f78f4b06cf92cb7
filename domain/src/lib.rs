//! Pure domain rules of Gongyou. Nothing here touches a database, the network or the
//! process environment, so every rule can be unit-tested directly.

pub mod bank_file;
pub mod bank_statement;
pub mod claim;
pub mod clock;
pub mod csv_records;
pub mod geo;
pub mod id;
pub mod id_number;
pub mod membership;
pub mod money;
pub mod notification;
pub mod org;
pub mod payout;
pub mod phone;
pub mod plan;
pub mod reconcile;
pub mod region;
pub mod roster;
pub mod staff;
pub mod station;
pub mod status;
pub mod text;
pub mod time;
pub mod wechat_bill;
