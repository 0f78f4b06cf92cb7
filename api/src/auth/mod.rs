//! The caller of a request: the `Caller` extractor (an access token → the services'
//! [`Actor`](gongyou_services::Actor)) and the client's address. Authentication and
//! authorization decisions themselves are the services' (`accounts::principal`, `authz`).

pub mod caller;
pub mod client_ip;

pub use caller::Caller;
