//! The driver: runs the core on the host. It feeds the core the host's answers and the clock,
//! hands the host the effects the core asks for, asks it for one timer at the core's next deadline,
//! and settles the JavaScript promises. Nothing here decides policy.
//!
//! The host is one small JavaScript adapter per client (`js/host.js`, [`Host`]): it performs the
//! platform calls (storage, `wx.checkSession`, `wx.login`, the code exchange), the pages' requests
//! and the timer, and answers through `Client::answered`, `Client::sent`/`sendFailed` and
//! `Client::tick`. Only ids, numbers and strings cross (docs/boundary.md): the wasm never touches
//! the platform object or a page's data, and a warm request crosses four times.
//!
//! Exception safety: the host may answer inside the call, twice, or re-enter the client from a
//! callback. So every call to it returns a `Result`, no `RefCell` borrow is held across one, and
//! an answer to an op that is not awaited (again, or after a timeout) is ignored.

mod interop;
mod platform;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::core::{
    AuthHeader, BodyValue, ConfigInput, Core, Effect, Millis, OpId, Outcome, Output, Payload, PlatformFailure,
    RequestSpec, ResponseSummary, WaiterId,
};
use platform::Awaiting;

#[wasm_bindgen]
extern "C" {
    /// The host adapter of one client (`js/host.js`). Its methods catch what the platform and the
    /// page throw; only numbers and strings cross.
    pub type Host;
    /// Platform call `op` of `kind` (`platform::GET_STORAGE` …) with its strings: the storage key
    /// and value, or the exchange's URL and JSON body; `timeout_ms` for `wx.login` and the exchange.
    /// Answered by `Client::answered` with `op`, possibly inside the call.
    #[wasm_bindgen(method, catch)]
    fn call(
        this: &Host,
        op: u32,
        kind: u32,
        text: Option<&str>,
        more: Option<&str>,
        timeout_ms: u32,
    ) -> Result<(), JsValue>;
    /// Call `Client::tick` in `delay_ms`, replacing the timer armed before.
    #[wasm_bindgen(method, catch)]
    fn timer(this: &Host, delay_ms: f64) -> Result<(), JsValue>;
    /// Send page request `request` as platform call `op` to `url` (`None`: the same URL as the
    /// previous send, so the common case decodes no string), with the token header of `header`
    /// (0: none) and `timeout_ms`. The answer comes back through `Client::sent` or
    /// `Client::send_failed` with `op`.
    #[wasm_bindgen(method, catch)]
    fn send(this: &Host, request: u32, op: u32, url: Option<&str>, header: u32, timeout_ms: u32)
        -> Result<(), JsValue>;
    /// The token header of a new session, numbered `header`: sent once, used by every send of it.
    #[wasm_bindgen(method, catch, js_name = header)]
    fn session_header(this: &Host, header: u32, name: &str, value: &str) -> Result<(), JsValue>;
    /// Resolve page request `request` with the platform's answer to `op`.
    #[wasm_bindgen(method, catch)]
    fn respond(this: &Host, request: u32, op: u32) -> Result<(), JsValue>;
    /// Reject page request `request` with an error (a code and fields).
    #[wasm_bindgen(method, catch)]
    fn reject(this: &Host, request: u32, error: JsValue) -> Result<(), JsValue>;
    /// Abort the platform task of `op` (its request timed out); no answer is expected.
    #[wasm_bindgen(method, catch)]
    fn abort(this: &Host, op: u32) -> Result<(), JsValue>;
}

fn now() -> Millis {
    js_sys::Date::now() as Millis
}

struct Driver {
    core: Core,
    /// Performs every platform call, send and timer (shared, so a call can hold it with no borrow).
    host: Rc<Host>,
    /// Promise callbacks of callers waiting for a login state.
    waiters: Vec<(WaiterId, Function, Function)>,
    /// Receives `onChange` events; the shim fans them out to the page's listeners.
    listener: Function,
    /// The deadline the host's timer is armed for.
    timer: Option<Millis>,
    /// The token header last handed to the host, and its number there: every send of a session
    /// names it by that number.
    header: Option<(Rc<AuthHeader>, u32)>,
    /// Platform calls whose answer has not come yet, and what each answers; a second answer to
    /// the same op is ignored.
    awaiting: Vec<(OpId, Awaiting)>,
    /// Pages' requests: the core's waiter and the host's request id.
    requests: Vec<(WaiterId, u32)>,
    /// The URL of the latest request, for the next one that names none.
    last_url: String,
    /// The URL of the latest send, which the host keeps: a send to the same one names none.
    last_sent_url: String,
    /// The frozen `{ token, expiresAt, reply? }` last handed out by `readySession`, by generation:
    /// warm calls reuse it instead of building an object and a token string each time.
    warm_view: Option<(u32, JsValue)>,
}

type Shared = Rc<RefCell<Driver>>;

/// A login session client. JavaScript reaches it through the shim (`js/index.js`).
#[wasm_bindgen]
pub struct Client {
    shared: Shared,
}

#[wasm_bindgen]
impl Client {
    /// The JSON text of `createClient`'s options (the shim's plain copy, less `platform` and
    /// `wasmPath`), a random seed for retry jitter, the event listener and the host adapter.
    /// Throws the error object of `CONFIG_INVALID` when an option is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str, jitter_seed: u32, listener: Function, host: Host) -> Result<Client, JsValue> {
        let config =
            ConfigInput::from_json(options).and_then(ConfigInput::validate).map_err(|e| interop::error_to_js(&e))?;
        let driver = Driver {
            core: Core::new(config, jitter_seed),
            host: Rc::new(host),
            waiters: Vec::new(),
            listener,
            timer: None,
            header: None,
            awaiting: Vec::new(),
            requests: Vec::new(),
            last_url: String::new(),
            last_sent_url: String::new(),
            warm_view: None,
        };
        Ok(Client { shared: Rc::new(RefCell::new(driver)) })
    }
    /// Resolves with `{ token, expiresAt, reply? }`, or rejects with an error object. `payload`
    /// is the JSON text of an object whose members the exchange sends beside the code; a login
    /// with one is always forced.
    /// `fresh_key` asks for a session whose `session_key` WeChat vouches for
    /// (`freshSessionKey`).
    #[wasm_bindgen(js_name = ensureLogin)]
    pub fn ensure_login(&self, force: bool, payload: Option<String>, fresh_key: bool) -> Promise {
        let started = match payload {
            None if fresh_key => Ok(self.shared.borrow_mut().core.ensure_fresh_key(now())),
            None => Ok(self.shared.borrow_mut().core.ensure_login(now(), force)),
            Some(text) => Payload::parse(&text).map(|p| self.shared.borrow_mut().core.ensure_login_with(now(), p)),
        };
        self.promise_or_reject(started)
    }

    /// `login({ path, data })`: `data` is the JSON text of the page's plain copy. Resolves like
    /// `ensureLogin`.
    pub fn login(&self, path: &str, data: &str) -> Promise {
        let started =
            Payload::account_data(data).and_then(|data| self.shared.borrow_mut().core.login_account(now(), path, data));
        self.promise_or_reject(started)
    }

    /// The page aborted its request `request` (the shim's id): it rejects `ABORTED` through
    /// `Host::reject`, unless it is over already.
    pub fn abort(&self, now: f64, request: u32) {
        let waiter = self.shared.borrow().requests.iter().find(|(_, r)| *r == request).map(|(w, _)| *w);
        if let Some(waiter) = waiter {
            self.shared.borrow_mut().core.abort(now as Millis, waiter);
            pump(&self.shared);
        }
    }

    /// The session cookie's name in cookie mode (`cookie`), else `undefined`: the host then hands
    /// over the `Set-Cookie` lines of the replies and responses it sees.
    #[wasm_bindgen(js_name = cookieName)]
    pub fn cookie_name(&self) -> Option<String> {
        self.shared.borrow().core.config().requests.cookie.clone()
    }

    /// `{ token, expiresAt, reply? }` when `ensureLogin()` would resolve with it at once (the core
    /// decides: storage read, session valid and checked, no login running), else `undefined`.
    /// The shim answers warm calls with it and skips a promise round trip through the driver.
    #[wasm_bindgen(js_name = readySession)]
    pub fn ready_session(&self) -> JsValue {
        let mut driver = self.shared.borrow_mut();
        let now = now();
        let Some((ready, _)) = driver.core.ready_until(now) else { return JsValue::UNDEFINED };
        match &driver.warm_view {
            Some((generation, js)) if *generation == ready => js.clone(),
            _ => {
                let Some(view) = driver.core.ready_session(now) else { return JsValue::UNDEFINED };
                let js: JsValue =
                    js_sys::Object::freeze(interop::view_to_js(&view).unchecked_ref::<js_sys::Object>()).into();
                driver.warm_view = Some((view.generation, js.clone()));
                js
            }
        }
    }

    /// Until when (ms since the epoch) `readySession` keeps answering with its session, as long as
    /// no other method is called and no event is emitted; 0 when it has no answer now.
    #[wasm_bindgen(js_name = readyUntil)]
    pub fn ready_until(&self) -> f64 {
        self.shared.borrow().core.ready_until(now()).map_or(0.0, |(_, until)| until as f64)
    }

    /// Clears the session in memory and in storage; resolves once storage is cleared.
    pub fn logout(&self) -> Promise {
        let waiter = self.shared.borrow_mut().core.logout(now());
        self.promise_for(waiter)
    }

    /// Page request `request` (the shim's id; the shim keeps its options) to `url`, at `now` (the
    /// shim's `Date.now()`, one crossing less). `url` is left out (`undefined`) when it is the
    /// previous request's, so a page calling one endpoint copies no string per request. The core
    /// decides where it goes, whether it carries the token and how "expired" is handled; it ends
    /// with `Host::respond`, or `Host::reject` (at once for a request the core refuses).
    pub fn request(
        &self,
        now: f64,
        request: u32,
        url: Option<String>,
        method: Option<String>,
        timeout_ms: Option<f64>,
    ) {
        let method = method.unwrap_or_else(|| String::from("GET"));
        let started = {
            let mut driver = self.shared.borrow_mut();
            if let Some(url) = url {
                driver.last_url = url;
            }
            let url = driver.last_url.clone();
            driver.core.request(now as Millis, RequestSpec { url, method, timeout_ms })
        };
        match started {
            // Recorded before the core's effects are performed: the send looks its request id up.
            Ok(waiter) => self.shared.borrow_mut().requests.push((waiter, request)),
            Err(error) => {
                let host = Rc::clone(&self.shared.borrow().host);
                let _ = host.reject(request, interop::error_to_js(&error));
            }
        }
        pump(&self.shared);
    }

    /// The platform's success answer to send `op`, at `now`: its HTTP status and, when
    /// `expiredWhen.bodyField` is set (`bodyField`), the scalar the shim found there (a number,
    /// else NaN, or a string); in cookie mode `cookies`, its `Set-Cookie` lines, when it has any.
    pub fn sent(
        &self,
        now: f64,
        op: u32,
        status: f64,
        body_number: f64,
        body_text: Option<String>,
        cookies: Option<String>,
    ) {
        let body_code = match body_text {
            Some(text) => Some(BodyValue::Text(text)),
            None if body_number.is_nan() => None,
            None => Some(BodyValue::Number(body_number)),
        };
        let summary = ResponseSummary { status: status as u16, body_code, cookies };
        on_sent(&self.shared, now as Millis, OpId(op), Ok(summary));
    }

    /// The platform's failure answer to send `op`, at `now`: its `errMsg` and `errno` (NaN when it
    /// has none).
    #[wasm_bindgen(js_name = sendFailed)]
    pub fn send_failed(&self, now: f64, op: u32, errmsg: String, errno: f64) {
        let errno = (!errno.is_nan()).then_some(errno as i64);
        on_sent(&self.shared, now as Millis, OpId(op), Err(PlatformFailure { errmsg, errno }));
    }

    /// `expiredWhen.bodyField` as a dotted path: where the shim looks in a response body for the
    /// code that says the session expired. `undefined` when none is configured.
    #[wasm_bindgen(js_name = bodyField)]
    pub fn body_field(&self) -> Option<String> {
        self.shared.borrow().core.config().requests.expired_body_field.as_ref().map(|path| path.join("."))
    }

    /// The host's answer to platform call `op`, at `now`: `ok` as the platform's success or fail,
    /// `status` and `text` as `platform::outcome` reads them, `errno` the platform's (NaN: none),
    /// and in cookie mode `more`, the reply's `Set-Cookie` lines.
    // Scalars by design: one crossing with nothing to decode, rather than an object to read.
    #[allow(clippy::too_many_arguments)]
    pub fn answered(
        &self,
        now: f64,
        op: u32,
        ok: bool,
        status: f64,
        text: Option<String>,
        errno: f64,
        more: Option<String>,
    ) {
        let op = OpId(op);
        let awaiting = {
            let mut driver = self.shared.borrow_mut();
            match take(&mut driver.awaiting, |(o, a)| *o == op && *a != Awaiting::Send) {
                Some((_, awaiting)) => awaiting,
                None => return,
            }
        };
        let outcome = platform::outcome(awaiting, ok, status, text, errno, more);
        self.shared.borrow_mut().core.handle(now as Millis, op, outcome);
        pump(&self.shared);
    }

    /// The host's timer fired, at `now`.
    pub fn tick(&self, now: f64) {
        self.shared.borrow_mut().timer = None;
        self.shared.borrow_mut().core.handle_timeout(now as Millis);
        pump(&self.shared);
    }

    /// [`Client::promise_for`] the waiter, or a promise rejected with the error.
    fn promise_or_reject(&self, started: Result<WaiterId, crate::core::SessionError>) -> Promise {
        match started {
            Ok(waiter) => self.promise_for(waiter),
            Err(error) => Promise::reject(&interop::error_to_js(&error)),
        }
    }

    /// A promise settled when the core settles `waiter`; then performs what the core asked for.
    fn promise_for(&self, waiter: WaiterId) -> Promise {
        let mut callbacks = None;
        let promise = Promise::new(&mut |resolve, reject| callbacks = Some((resolve, reject)));
        if let Some((resolve, reject)) = callbacks {
            self.shared.borrow_mut().waiters.push((waiter, resolve, reject));
        }
        pump(&self.shared);
        promise
    }
}

/// Removes and returns the first item `is_it` picks.
fn take<T>(items: &mut Vec<T>, is_it: impl Fn(&T) -> bool) -> Option<T> {
    let index = items.iter().position(is_it)?;
    Some(items.swap_remove(index))
}

/// Removes and returns the promise callbacks of `waiter`.
fn take_waiter(shared: &Shared, waiter: WaiterId) -> Option<(WaiterId, Function, Function)> {
    take(&mut shared.borrow_mut().waiters, |(w, _, _)| *w == waiter)
}

/// The number of `auth` in the host: a new session's header is handed over once, with a new
/// number; every later send of that session names it by number.
fn header_number(shared: &Shared, auth: &Rc<AuthHeader>) -> u32 {
    let (number, host) = {
        let mut driver = shared.borrow_mut();
        let number = match &driver.header {
            Some((made_from, number)) if Rc::ptr_eq(made_from, auth) => return *number,
            Some((_, number)) => number.wrapping_add(1).max(1),
            None => 1,
        };
        driver.header = Some((Rc::clone(auth), number));
        (number, Rc::clone(&driver.host))
    };
    let _ = host.session_header(number, &auth.name, auth.value.expose());
    number
}

/// Drains the core's outputs, performing each with no borrow held (a listener or a settled
/// promise may call back into the client), then re-arms the timer.
fn pump(shared: &Shared) {
    loop {
        let output = shared.borrow_mut().core.poll_output();
        match output {
            None => break,
            Some(Output::Effect { op, effect: Effect::Send { waiter, url, auth, timeout_ms } }) => {
                send(shared, op, waiter, &url, auth.as_ref(), timeout_ms);
            }
            Some(Output::Effect { op, effect: Effect::Abort }) => {
                let host = {
                    let mut driver = shared.borrow_mut();
                    take(&mut driver.awaiting, |(o, _)| *o == op);
                    Rc::clone(&driver.host)
                };
                let _ = host.abort(op.0);
            }
            Some(Output::Effect { op, effect }) => {
                let Some(call) = platform::prepare(effect) else { continue };
                let host = {
                    let mut driver = shared.borrow_mut();
                    driver.awaiting.push((op, call.awaiting));
                    Rc::clone(&driver.host)
                };
                // May answer synchronously: the answer finds `op` awaited and no borrow held.
                let _ = host.call(op.0, call.kind, call.text.as_deref(), call.more.as_deref(), call.timeout_ms);
            }
            Some(Output::Respond { waiter, result }) => {
                let (request, host) = {
                    let mut driver = shared.borrow_mut();
                    let request = take(&mut driver.requests, |(w, _)| *w == waiter).map(|(_, r)| r);
                    (request, Rc::clone(&driver.host))
                };
                if let Some(request) = request {
                    let _ = match result {
                        Ok(op) => host.respond(request, op.0),
                        Err(error) => host.reject(request, interop::error_to_js(&error)),
                    };
                }
            }
            Some(Output::Settle { waiter, result }) => {
                if let Some((_, resolve, reject)) = take_waiter(shared, waiter) {
                    let _ = match result {
                        Ok(view) => resolve.call1(&JsValue::UNDEFINED, &interop::view_to_js(&view)),
                        Err(error) => reject.call1(&JsValue::UNDEFINED, &interop::error_to_js(&error)),
                    };
                }
            }
            Some(Output::LoggedOut { waiter }) => {
                if let Some((_, resolve, _)) = take_waiter(shared, waiter) {
                    let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::UNDEFINED);
                }
            }
            Some(Output::Event(event)) => {
                let listener = shared.borrow().listener.clone();
                // A throwing listener must not break the session: ignore what it throws.
                let _ = listener.call1(&JsValue::UNDEFINED, &interop::event_to_js(&event));
            }
        }
    }
    rearm_timer(shared);
}

/// Asks the host to send a page's request to `url`, with the token header when it has one.
fn send(shared: &Shared, op: OpId, waiter: WaiterId, url: &str, auth: Option<&Rc<AuthHeader>>, timeout_ms: u32) {
    let header = auth.map_or(0, |auth| header_number(shared, auth));
    let (request, host, same_url) = {
        let mut driver = shared.borrow_mut();
        let Some(&(_, request)) = driver.requests.iter().find(|(w, _)| *w == waiter) else { return };
        driver.awaiting.push((op, Awaiting::Send));
        let same_url = driver.last_sent_url == url;
        if !same_url {
            url.clone_into(&mut driver.last_sent_url);
        }
        (request, Rc::clone(&driver.host), same_url)
    };
    // May answer synchronously: the answer finds `op` awaited and no borrow held.
    let _ = host.send(request, op.0, (!same_url).then_some(url), header, timeout_ms);
}

/// The answer to send `op`, if it is still awaited (a second answer, or one after an abort, is not).
fn on_sent(shared: &Shared, now: Millis, op: OpId, answer: Result<ResponseSummary, PlatformFailure>) {
    let awaited = take(&mut shared.borrow_mut().awaiting, |(o, a)| *o == op && matches!(a, Awaiting::Send));
    if awaited.is_some() {
        shared.borrow_mut().core.handle(now, op, Outcome::Sent(answer));
        pump(shared);
    }
}

fn rearm_timer(shared: &Shared) {
    let (wanted, armed, host) = {
        let driver = shared.borrow();
        (driver.core.poll_timeout(), driver.timer, Rc::clone(&driver.host))
    };
    // An armed timer due no later than the core's next deadline stays, and so does one when no
    // deadline is left: firing early costs one idle tick, while re-arming on every request (each
    // has its own deadline) costs a crossing each time. An idle client's timer fires once more and
    // is then gone.
    if let Some(armed) = armed {
        if wanted.is_none_or(|deadline| deadline >= armed) {
            return;
        }
    }
    let Some(deadline) = wanted else { return };
    shared.borrow_mut().timer = Some(deadline);
    // A host whose timer throws (a page replaced setTimeout) leaves none: the next call re-arms.
    if host.timer(deadline.saturating_sub(now()) as f64).is_err() {
        shared.borrow_mut().timer = None;
    }
}
