//! The session state machine: every rule of the login cycle, and no IO.
//!
//! Nothing here touches `wasm-bindgen`, `js-sys`, a clock or randomness. The driver calls the
//! input methods ([`Core::ensure_login`], [`Core::ensure_login_with`], [`Core::request`],
//! [`Core::logout`], [`Core::handle`], [`Core::handle_timeout`]) with the current time in
//! milliseconds, then **drains [`Core::poll_output`] until it returns `None`**, performing each
//! [`Effect`] and settling each waiter, and finally arms one timer for [`Core::poll_timeout`].
//! Each effect carries an [`OpId`]; its answer is handed back with that id, so an answer that
//! arrives after its operation timed out or was cancelled is recognised as stale and ignored.
//!
//! The parts, each importing only those listed before it:
//! - [`codec`]: the formats the core reads and writes (its JSON reader, the stored session, the
//!   login reply, the kept reply fields, a login payload);
//! - [`config`]: the options, read from their JSON text by one table and validated;
//! - `protocol`: the vocabulary between core and driver (ids, effects, outcomes, outputs), with
//!   `outbox` collecting outputs, and the shared rules of time ([`expiry`], [`backoff`]);
//! - `requests`: the request scheduler (token scoping, the concurrency cap, one replay);
//! - [`login`]: the login machine, [`Core`], which drives the scheduler through a narrow interface.

pub mod backoff;
pub mod codec;
pub mod config;
pub mod error;
pub mod expiry;
pub mod login;
mod outbox;
mod protocol;
mod requests;
pub mod token;

pub use codec::payload::Payload;
pub use config::BodyValue;
pub use config::{Config, ConfigInput};
pub use error::{ErrorFields, PlatformFailure, SessionError};
pub use login::Core;
pub use protocol::*;
pub use token::{LoginCode, Token};
