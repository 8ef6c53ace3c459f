//! The session state machine: every rule of the login cycle, and no IO.
//!
//! Nothing here touches `wasm-bindgen`, `js-sys`, a clock or randomness. The driver calls the
//! input methods ([`Core::ensure_login`], [`Core::ensure_login_with`], [`Core::request`],
//! [`Core::logout`], [`Core::handle`], [`Core::handle_timeout`]) with the current time in
//! milliseconds, then **drains [`Core::poll_output`] until it returns `None`**, performing each
//! [`Effect`] and settling each waiter, and finally arms one timer for [`Core::poll_timeout`]. Each effect carries an [`OpId`];
//! its answer is handed back with that id, so an answer that arrives after its operation timed out
//! or was cancelled is recognised as stale and ignored.

pub mod backoff;
pub mod config;
pub mod error;
pub mod expiry;
pub mod json;
pub mod kept_reply;
mod machine;
mod options;
mod outbox;
pub mod pacing;
pub mod payload;
mod protocol;
pub mod reply;
mod requests;
pub mod stored;
mod target;
pub mod token;

pub use config::BodyValue;
pub use config::{Config, ConfigInput};
pub use error::{ErrorFields, PlatformFailure, SessionError};
pub use machine::Core;
pub use payload::Payload;
pub use protocol::*;
pub use requests::{AuthHeader, RequestSpec, ResponseSummary};
pub use token::{LoginCode, Token};
