//! What the `gongyou` binary needs beyond the other crates: seeding the demo and reference
//! data (`seed`), and the generator of a realistic national set of rest stations
//! (`station_seed`). The commands themselves are in `main.rs`.

pub mod demo_claims;
pub mod seed;
pub mod station_seed;
