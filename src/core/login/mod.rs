//! The login machine: the stored session, `wx.login`, the code exchange and storage, one login
//! shared by every caller, paced and retried; [`Core`] also drives the request scheduler.

mod machine;
pub mod pacing;

pub use machine::Core;
