//! The driver: runs the core on the platform. It feeds the core the clock and the platform's
//! answers, performs the effects the core asks for, keeps one timer for the core's deadlines, and
//! settles the JavaScript promises. Nothing here decides policy.

mod interop;
mod platform;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::core::{Core, Millis, OpId, Output, WaiterId};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

fn now() -> Millis {
    js_sys::Date::now() as Millis
}

struct Driver {
    core: Core,
    platform: JsValue,
    /// Promise callbacks of callers waiting for a login state.
    waiters: Vec<(WaiterId, Function, Function)>,
    /// Receives `onChange` events; the shim fans them out to the page's listeners.
    listener: Function,
    /// The armed timer: its deadline and its handle.
    timer: Option<(Millis, JsValue)>,
    /// The one callback every timer calls; reused so no closure is leaked per timer.
    tick: Option<Closure<dyn FnMut()>>,
}

type Shared = Rc<RefCell<Driver>>;

/// A login session client. JavaScript reaches it through the shim (`js/index.js`).
#[wasm_bindgen]
pub struct Client {
    shared: Shared,
}

#[wasm_bindgen]
impl Client {
    /// `options` as given to `createClient` (less `platform` and `wasmPath`), the platform object,
    /// a random seed for retry jitter, and the event listener. Throws the error object of
    /// `CONFIG_INVALID` when an option is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, platform: JsValue, jitter_seed: u32, listener: Function) -> Result<Client, JsValue> {
        let config =
            interop::read_config(&options).and_then(|input| input.validate()).map_err(|e| interop::error_to_js(&e))?;
        let driver = Driver {
            core: Core::new(config, jitter_seed),
            platform,
            waiters: Vec::new(),
            listener,
            timer: None,
            tick: None,
        };
        let shared = Rc::new(RefCell::new(driver));
        let weak: Weak<RefCell<Driver>> = Rc::downgrade(&shared);
        let tick = Closure::<dyn FnMut()>::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.borrow_mut().timer = None;
                shared.borrow_mut().core.handle_timeout(now());
                pump(&shared);
            }
        });
        shared.borrow_mut().tick = Some(tick);
        Ok(Client { shared })
    }

    /// Resolves with `{ token, expiresAt }`, or rejects with an error object.
    #[wasm_bindgen(js_name = ensureLogin)]
    pub fn ensure_login(&self, force: bool) -> Promise {
        self.wait_for(|core| core.ensure_login(now(), force))
    }

    /// Clears the session in memory and in storage; resolves once storage is cleared.
    pub fn logout(&self) -> Promise {
        self.wait_for(|core| core.logout(now()))
    }

    /// A promise settled when the core settles the waiter `start` registers.
    fn wait_for(&self, start: impl FnOnce(&mut Core) -> WaiterId) -> Promise {
        let mut callbacks = None;
        let promise = Promise::new(&mut |resolve, reject| callbacks = Some((resolve, reject)));
        if let Some((resolve, reject)) = callbacks {
            let waiter = start(&mut self.shared.borrow_mut().core);
            self.shared.borrow_mut().waiters.push((waiter, resolve, reject));
            pump(&self.shared);
        }
        promise
    }
}

/// Removes and returns the promise callbacks of `waiter`.
fn take_waiter(shared: &Shared, waiter: WaiterId) -> Option<(WaiterId, Function, Function)> {
    let mut driver = shared.borrow_mut();
    let index = driver.waiters.iter().position(|(w, _, _)| *w == waiter);
    index.map(|i| driver.waiters.swap_remove(i))
}

/// Drains the core's outputs, performing each with no borrow held (a listener or a settled
/// promise may call back into the client), then re-arms the timer.
fn pump(shared: &Shared) {
    loop {
        let output = shared.borrow_mut().core.poll_output();
        match output {
            None => break,
            Some(Output::Effect { op, effect }) => {
                let platform = shared.borrow().platform.clone();
                let shared = Rc::clone(shared);
                spawn_local(async move {
                    let outcome = platform::perform(&platform, effect).await;
                    answer(&shared, op, outcome);
                });
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
                    let _ = resolve.call0(&JsValue::UNDEFINED);
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

fn answer(shared: &Shared, op: OpId, outcome: crate::core::Outcome) {
    shared.borrow_mut().core.handle(now(), op, outcome);
    pump(shared);
}

fn rearm_timer(shared: &Shared) {
    let mut driver = shared.borrow_mut();
    let wanted = driver.core.poll_timeout();
    if driver.timer.as_ref().map(|(deadline, _)| *deadline) == wanted {
        return;
    }
    if let Some((_, handle)) = driver.timer.take() {
        clear_timeout(&handle);
    }
    if let (Some(deadline), Some(tick)) = (wanted, driver.tick.as_ref()) {
        let delay = deadline.saturating_sub(now()) as f64;
        let handle = set_timeout(tick.as_ref().unchecked_ref(), delay);
        driver.timer = Some((deadline, handle));
    }
}
