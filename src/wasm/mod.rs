//! The driver: runs the core on the platform. It feeds the core the clock and the platform's
//! answers, performs the effects the core asks for, keeps one timer for the core's deadlines, and
//! settles the JavaScript promises. Nothing here decides policy.
//!
//! Exception safety: a page can hand the platform functions that throw, re-enter the client from a
//! callback, or answer synchronously. So every JS call made from here returns a `Result` (or is
//! made on values this module built), and no `RefCell` borrow is held across one. Platform answers
//! reach the driver through two callbacks made once per wasm instance and bound per call to a
//! client id and an op: a client that is gone (disposed) is looked up, not found, and its late
//! answers are dropped — no closure is ever invoked after being freed.

mod interop;
mod platform;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::core::{
    AuthHeader, ConfigInput, Core, Effect, Millis, OpId, Outcome, Output, Payload, ResponseSummary, WaiterId,
};
use platform::Awaiting;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue) -> Result<JsValue, JsValue>;
    /// A function whose `bind` is given a number (a client id, 0/1 for failure/success, an op id):
    /// no JsValue is made for it.
    #[wasm_bindgen(extends = Function)]
    type Bindable;
    #[wasm_bindgen(method, js_name = bind)]
    fn bind_number(this: &Bindable, context: &JsValue, number: u32) -> Function;
}

fn now() -> Millis {
    js_sys::Date::now() as Millis
}

struct Driver {
    id: u32,
    core: Core,
    /// Shared (`Rc`) so that a call can take it out of the driver without a JS-side copy.
    platform: Rc<JsValue>,
    /// Promise callbacks of callers waiting for a login state.
    waiters: Vec<(WaiterId, Function, Function)>,
    /// Receives `onChange` events; the shim fans them out to the page's listeners.
    listener: Function,
    /// The armed timer: its deadline and its handle.
    timer: Option<(Millis, JsValue)>,
    /// This client's timer callback (the shared tick bound to its id), made once.
    tick: Function,
    /// The shared answer callback bound to this client and to success / failure, made once: a
    /// platform call binds only its op id to them.
    answer: Rc<(Function, Function)>,
    /// The JavaScript strings of the token header last sent (name, value), kept with the core's
    /// header they were made from: every send of a session reuses them.
    header: Option<(Rc<AuthHeader>, Rc<HeaderStrings>)>,
    /// Platform calls whose answer has not come yet, and what each answers; a second answer to
    /// the same op is ignored.
    awaiting: Vec<(OpId, Awaiting)>,
    /// Pages' requests: the platform method (`request`, `uploadFile`, `downloadFile`) and options.
    requests: Vec<(WaiterId, &'static str, Rc<JsValue>)>,
    /// Request tasks on the wire, for aborting them.
    tasks: Vec<(OpId, JsValue)>,
    /// The platform response being handed to the core, for the `Respond` it may cause.
    answering: Option<(OpId, JsValue)>,
    /// The frozen `{ token, expiresAt, reply? }` last handed out by `readySession`, by generation:
    /// warm calls reuse it instead of building an object and a token string each time.
    warm_view: Option<(u32, JsValue)>,
}

impl Drop for Driver {
    /// A client that goes away leaves no timer behind and nothing on the wire.
    fn drop(&mut self) {
        if let Some((_, handle)) = self.timer.take() {
            let _ = clear_timeout(&handle);
        }
        for (_, task) in self.tasks.drain(..) {
            platform::abort(&task);
        }
    }
}

type Shared = Rc<RefCell<Driver>>;

/// A token header's name and value as JavaScript strings.
type HeaderStrings = (JsValue, JsValue);

/// The callbacks every platform call and timer answers through, made once per wasm instance.
struct Callbacks {
    /// `answer(client, ok, op, response)`, `ok` being 1 for success and 0 for failure.
    answer: Closure<dyn Fn(u32, u32, u32, JsValue)>,
    /// `tick(client)`.
    tick: Closure<dyn Fn(u32)>,
}

thread_local! {
    /// Live clients by id. Only `Weak`s: a `Client` owns its driver.
    static CLIENTS: RefCell<Vec<(u32, Weak<RefCell<Driver>>)>> = const { RefCell::new(Vec::new()) };
    static NEXT_CLIENT: Cell<u32> = const { Cell::new(1) };
    static CALLBACKS: Callbacks = Callbacks {
        answer: Closure::new(|client: u32, ok: u32, op: u32, response: JsValue| {
            if let Some(shared) = find_client(client) {
                on_answer(&shared, OpId(op), ok == 1, response);
            }
        }),
        tick: Closure::new(|client: u32| {
            if let Some(shared) = find_client(client) {
                shared.borrow_mut().timer = None;
                shared.borrow_mut().core.handle_timeout(now());
                pump(&shared);
            }
        }),
    };
}

fn find_client(id: u32) -> Option<Shared> {
    CLIENTS.with(|clients| clients.borrow().iter().find(|(c, _)| *c == id).and_then(|(_, weak)| weak.upgrade()))
}

/// A login session client. JavaScript reaches it through the shim (`js/index.js`).
#[wasm_bindgen]
pub struct Client {
    shared: Shared,
}

impl Drop for Client {
    fn drop(&mut self) {
        let id = self.shared.borrow().id;
        CLIENTS.with(|clients| clients.borrow_mut().retain(|(c, _)| *c != id));
    }
}

#[wasm_bindgen]
impl Client {
    /// The JSON text of `createClient`'s options (the shim's plain copy, less `platform` and
    /// `wasmPath`), the platform object, a random seed for retry jitter, and the event listener.
    /// Throws the error object of `CONFIG_INVALID` when an option is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str, platform: JsValue, jitter_seed: u32, listener: Function) -> Result<Client, JsValue> {
        let config =
            ConfigInput::from_json(options).and_then(ConfigInput::validate).map_err(|e| interop::error_to_js(&e))?;
        let id = NEXT_CLIENT.with(|next| next.replace(next.get().wrapping_add(1)));
        let (tick, answer) = CALLBACKS.with(|c| {
            let tick = bind(c.tick.as_ref(), id);
            let answer = bind(c.answer.as_ref(), id);
            (tick, Rc::new((bind(&answer, 1), bind(&answer, 0))))
        });
        let driver = Driver {
            id,
            core: Core::new(config, jitter_seed),
            platform: Rc::new(platform),
            waiters: Vec::new(),
            listener,
            timer: None,
            tick,
            answer,
            header: None,
            awaiting: Vec::new(),
            requests: Vec::new(),
            tasks: Vec::new(),
            answering: None,
            warm_view: None,
        };
        let shared = Rc::new(RefCell::new(driver));
        CLIENTS.with(|clients| clients.borrow_mut().push((id, Rc::downgrade(&shared))));
        Ok(Client { shared })
    }

    /// Resolves with `{ token, expiresAt, reply? }`, or rejects with an error object. `payload`
    /// is the JSON text of an object whose members the exchange sends beside the code; a login
    /// with one is always forced.
    #[wasm_bindgen(js_name = ensureLogin)]
    pub fn ensure_login(&self, force: bool, payload: Option<String>) -> Promise {
        let started = match payload {
            None => Ok(self.shared.borrow_mut().core.ensure_login(now(), force)),
            Some(text) => Payload::parse(&text).map(|p| self.shared.borrow_mut().core.ensure_login_with(now(), p)),
        };
        match started {
            Ok(waiter) => self.promise_for(waiter),
            Err(error) => Promise::reject(&interop::error_to_js(&error)),
        }
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

    /// `wx.request`, `wx.uploadFile` or `wx.downloadFile` (by `kind`) with the token and expiry
    /// handling; resolves with the platform's own success object. `options` is the shim's plain
    /// copy of the page's options (own data properties only), so reading it runs no page code.
    pub fn request(&self, kind: &str, options: JsValue) -> Promise {
        let kind: &'static str = match kind {
            "uploadFile" => "uploadFile",
            "downloadFile" => "downloadFile",
            _ => "request",
        };
        let started =
            interop::read_request(&options).and_then(|spec| self.shared.borrow_mut().core.request(now(), spec));
        match started {
            Ok(waiter) => {
                // Recorded before the core's effects are performed: the send looks its options up.
                self.shared.borrow_mut().requests.push((waiter, kind, Rc::new(options)));
                self.promise_for(waiter)
            }
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

/// Removes and returns the platform task of send `op`.
fn take_task(shared: &Shared, op: OpId) -> Option<JsValue> {
    take(&mut shared.borrow_mut().tasks, |(o, _)| *o == op).map(|(_, task)| task)
}

/// `function.bind(null, number)`.
fn bind(function: &JsValue, number: u32) -> Function {
    function.unchecked_ref::<Bindable>().bind_number(&JsValue::NULL, number)
}

/// `success`/`fail` for platform call `op`: this client's answer callbacks bound to `op`.
fn answer_callbacks(shared: &Shared, op: OpId) -> (Function, Function) {
    let answer = Rc::clone(&shared.borrow().answer);
    (bind(&answer.0, op.0), bind(&answer.1, op.0))
}

/// The JavaScript strings of `auth`'s name and value: made once per session (per header the core
/// builds), not once per send.
fn header_strings(shared: &Shared, auth: &Rc<AuthHeader>) -> Rc<HeaderStrings> {
    let mut driver = shared.borrow_mut();
    if let Some((made_from, strings)) = &driver.header {
        if Rc::ptr_eq(made_from, auth) {
            return Rc::clone(strings);
        }
    }
    let strings = Rc::new((JsValue::from_str(&auth.name), JsValue::from_str(auth.value.expose())));
    driver.header = Some((Rc::clone(auth), Rc::clone(&strings)));
    strings
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
                if let Some(task) = take_task(shared, op) {
                    platform::abort(&task);
                }
            }
            Some(Output::Effect { op, effect }) => {
                let (success, fail) = answer_callbacks(shared, op);
                let platform = Rc::clone(&shared.borrow().platform);
                let (awaiting, method, options) = platform::prepare(effect);
                shared.borrow_mut().awaiting.push((op, awaiting));
                // May answer synchronously: the answer finds `op` awaited and no borrow held.
                platform::call_with(&platform, method, &options, success, &fail);
            }
            Some(Output::Respond { waiter, result }) => {
                let response = {
                    let mut driver = shared.borrow_mut();
                    driver.requests.retain(|(w, _, _)| *w != waiter);
                    match (&result, &driver.answering) {
                        // Taken, not copied: the answer being handled settles this one request.
                        (Ok(op), Some((answered, _))) if op == answered => driver.answering.take().map(|(_, r)| r),
                        _ => None,
                    }
                };
                if let Some((_, resolve, reject)) = take_waiter(shared, waiter) {
                    let _ = match (result, response) {
                        (Ok(_), Some(response)) => resolve.call1(&JsValue::UNDEFINED, &response),
                        (Err(error), _) => reject.call1(&JsValue::UNDEFINED, &interop::error_to_js(&error)),
                        (Ok(_), None) => {
                            reject.call1(&JsValue::UNDEFINED, &JsValue::from_str("mp-session: response lost"))
                        }
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

/// Sends a page's request: its own options, the resolved URL and the token header.
fn send(shared: &Shared, op: OpId, waiter: WaiterId, url: &str, auth: Option<&Rc<AuthHeader>>, timeout_ms: u32) {
    let (success, fail) = answer_callbacks(shared, op);
    let header = auth.map(|auth| (auth.name.as_str(), header_strings(shared, auth)));
    let (platform, kind, options) = {
        let mut driver = shared.borrow_mut();
        let found =
            driver.requests.iter().find(|(w, _, _)| *w == waiter).map(|(_, kind, options)| (*kind, Rc::clone(options)));
        let Some((kind, options)) = found else { return };
        driver.awaiting.push((op, Awaiting::Send(kind)));
        // A placeholder until the platform returns its task: it may answer before it returns.
        driver.tasks.push((op, JsValue::UNDEFINED));
        (Rc::clone(&driver.platform), kind, options)
    };
    let header = header.as_ref().map(|(name, strings)| (*name, &strings.0, &strings.1));
    let options = interop::send_options(&options, url, header, timeout_ms);
    let task = platform::call_with(&platform, kind, &options, success, &fail);
    let mut driver = shared.borrow_mut();
    if let Some(entry) = driver.tasks.iter_mut().find(|(o, _)| *o == op) {
        entry.1 = task;
    }
}

/// The platform's answer to call `op` (through the bound `answer` callback).
fn on_answer(shared: &Shared, op: OpId, ok: bool, response: JsValue) {
    let (awaiting, body_field) = {
        let mut driver = shared.borrow_mut();
        let Some((_, awaiting)) = take(&mut driver.awaiting, |(o, _)| *o == op) else { return };
        (awaiting, driver.core.config().requests.expired_body_field.clone())
    };
    let Awaiting::Send(kind) = awaiting else {
        let outcome = platform::outcome(awaiting, ok, &response);
        shared.borrow_mut().core.handle(now(), op, outcome);
        pump(shared);
        return;
    };
    let (summary, response) = if ok {
        let summary = ResponseSummary {
            status: interop::field(&response, "statusCode").as_f64().map_or(0, |s| s as u16),
            body_code: body_field
                .as_ref()
                .and_then(|path| interop::body_code(&interop::field(&response, "data"), path)),
        };
        (Ok(summary), response)
    } else {
        (Err(platform::failure_from(kind, &response)), JsValue::UNDEFINED)
    };
    take_task(shared, op);
    shared.borrow_mut().answering = Some((op, response));
    shared.borrow_mut().core.handle(now(), op, Outcome::Sent(summary));
    pump(shared);
    shared.borrow_mut().answering = None;
}

fn rearm_timer(shared: &Shared) {
    let (wanted, armed) = {
        let driver = shared.borrow();
        (driver.core.poll_timeout(), driver.timer.as_ref().map(|(at, _)| *at))
    };
    // An armed timer due no later than the core's next deadline stays: firing early costs one
    // idle tick, while re-arming on every request (each has its own deadline) costs two timer
    // calls. With no deadline left it is cleared, so an idle client holds no timer.
    if let (Some(armed), Some(deadline)) = (armed, wanted) {
        if deadline >= armed {
            return;
        }
    }
    let previous = shared.borrow_mut().timer.take();
    if let Some((_, handle)) = previous {
        let _ = clear_timeout(&handle);
    }
    if let Some(deadline) = wanted {
        let tick = shared.borrow().tick.clone();
        let delay = deadline.saturating_sub(now()) as f64;
        // A setTimeout that throws (a page replaced it) leaves no timer: the next call re-arms.
        if let Ok(handle) = set_timeout(&tick, delay) {
            shared.borrow_mut().timer = Some((deadline, handle));
        }
    }
}
