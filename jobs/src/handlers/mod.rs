//! One file per job: parse the payload (the registry does, typed), call one use-case, map
//! the outcome.

pub mod auto_approve;
pub mod claim_reminders;
pub mod dispatch;
pub mod fan_out;
pub mod housekeeping;
pub mod payouts;
pub mod reconcile;
pub mod roster_import;
pub mod rotate_data_key;
