//! The formats the core reads and writes, each a pure function of text: its own JSON reader and
//! writers, the stored session, the login reply, the reply fields it keeps, a login payload.

pub mod cookie;
pub mod json;
pub mod kept_reply;
pub mod login_reply;
pub mod payload;
pub mod stored;
