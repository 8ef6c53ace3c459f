//! # mp-session
//!
//! A WeChat mini-program login session SDK. The page calls `await auth.ensureLogin()` and gets a
//! valid login state; behind it runs the cycle WeChat documents:
//!
//! 1. read the stored session (`wx.getStorage`); if it is there and not about to expire, done;
//! 2. optionally `wx.checkSession`;
//! 3. `wx.login` for a one-time code;
//! 4. `POST {code}` (with the page's payload, e.g. a phone code, when it gave one) to the
//!    developer's server, which exchanges it with `jscode2session`, keeps `session_key` to itself
//!    and answers its own token with a lifetime (and data such as the user, which `replyFields`
//!    keeps);
//! 5. store the token and its expiry (`wx.setStorage`), and hand it to every waiting caller.
//!
//! [`core`] holds every rule of that cycle as a pure state machine (no IO, no clock); `wasm`
//! (compiled for `wasm32` only) drives it with the platform's callbacks and exposes it to the
//! JavaScript shim in `js/`.

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// The mini-program runs the wasm on one thread; lol_alloc's free-list allocator is 1.9 KB smaller
/// (brotli) than std's dlmalloc, and no slower on the request path.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: a mini-program's wasm instance is only ever used from one JavaScript thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
