//! Notifications: the outbox every change writes to, the person's own inbox, devices and
//! preferences, campaigns to a subtree's members, and the dispatcher that delivers them.

pub mod campaigns;
pub mod dispatch;
pub mod inbox;
pub mod outbox;
