//! A scripted platform for the core: collects effects, lets a test answer them, and keeps a fake
//! clock. Nothing sleeps; time moves only when a test says so.
#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use mp_session::core::*;

pub const T0: Millis = 1_800_000_000_000;

pub fn config() -> ConfigInput {
    ConfigInput { base_url: Some("https://api.example.com".into()), ..Default::default() }
}

pub struct Harness {
    pub core: Core,
    pub now: Millis,
    pub effects: Vec<(OpId, Effect)>,
    pub settled: BTreeMap<WaiterId, Result<SessionView, SessionError>>,
    pub events: Vec<SessionEvent>,
    pub logged_out: Vec<WaiterId>,
    pub responded: BTreeMap<WaiterId, Result<OpId, SessionError>>,
    /// How many times each request was sent.
    pub sends: BTreeMap<WaiterId, usize>,
    pub logins: usize,
    pub exchanges: usize,
    /// The body of every code exchange, in order.
    pub bodies: Vec<String>,
    /// Every value written to storage, in order.
    pub writes: Vec<String>,
    /// The newest effect the core has emitted.
    pub newest_op: OpId,
}

impl Harness {
    pub fn new(input: ConfigInput) -> Self {
        let core = Core::new(input.validate().expect("valid config"), 42);
        Harness {
            core,
            now: T0,
            effects: vec![],
            settled: BTreeMap::new(),
            events: vec![],
            logged_out: vec![],
            responded: BTreeMap::new(),
            sends: BTreeMap::new(),
            logins: 0,
            exchanges: 0,
            bodies: vec![],
            writes: vec![],
            newest_op: OpId(0),
        }
    }

    pub fn drain(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Effect { op, effect } => {
                    self.newest_op = self.newest_op.max(op);
                    match &effect {
                        Effect::RequestCode { .. } => self.logins += 1,
                        Effect::PostCode { code, payload, .. } => {
                            self.exchanges += 1;
                            self.bodies.push(login_request_body(code, payload.as_ref()));
                        }
                        Effect::PostCredentials { body, .. } => {
                            self.exchanges += 1;
                            self.bodies.push(body.expose().to_string());
                        }
                        Effect::WriteStorage { value, .. } => self.writes.push(value.clone()),
                        Effect::Send { waiter, .. } => *self.sends.entry(*waiter).or_default() += 1,
                        _ => {}
                    }
                    self.effects.push((op, effect));
                }
                Output::Settle { waiter, result } => {
                    assert!(self.settled.insert(waiter, result).is_none(), "{waiter:?} settled twice");
                }
                Output::Event(e) => self.events.push(e),
                Output::LoggedOut { waiter } => self.logged_out.push(waiter),
                Output::Respond { waiter, result } => {
                    assert!(self.responded.insert(waiter, result).is_none(), "request {waiter:?} answered twice");
                }
            }
        }
    }

    pub fn ensure(&mut self, force: bool) -> WaiterId {
        let w = self.core.ensure_login(self.now, force);
        self.drain();
        w
    }

    /// A login whose exchange also sends `payload` (JSON text of an object).
    pub fn ensure_with(&mut self, payload: &str) -> WaiterId {
        let payload = Payload::parse(payload).expect("valid payload");
        let w = self.core.ensure_login_with(self.now, payload);
        self.drain();
        w
    }

    /// Exchanges on the wire now (code, refresh or account).
    pub fn exchanges_in_flight(&self) -> usize {
        self.effects
            .iter()
            .filter(|(_, e)| matches!(e, Effect::PostCode { .. } | Effect::PostCredentials { .. }))
            .count()
    }

    /// `ensureLogin({ freshSessionKey: true })`.
    pub fn ensure_fresh_key(&mut self) -> WaiterId {
        let w = self.core.ensure_fresh_key(self.now);
        self.drain();
        w
    }

    /// `login({ path, data })` with `data` as JSON text.
    pub fn login_account(&mut self, path: &str, data: &str) -> WaiterId {
        let data = Payload::account_data(data).expect("valid data");
        let w = self.core.login_account(self.now, path, data).expect("valid path");
        self.drain();
        w
    }

    /// Answers the refresh or account exchange on the wire: (url, body) it was posted with.
    pub fn reply_credentials(&mut self, status: u16, body: &str) -> (String, String) {
        let (op, effect) = self.take(|e| matches!(e, Effect::PostCredentials { .. }));
        let Effect::PostCredentials { url, body: sent, .. } = effect else { unreachable!() };
        self.answer(op, Outcome::Reply(Ok(HttpReply { status, body: body.into(), cookies: None })));
        (url, sent.expose().to_string())
    }

    /// Answers the code exchange with a reply that sets `cookies` (Set-Cookie lines).
    pub fn reply_with_cookies(&mut self, status: u16, body: &str, cookies: &str) {
        let (op, _) = self.take(|e| matches!(e, Effect::PostCode { .. }));
        self.answer(op, Outcome::Reply(Ok(HttpReply { status, body: body.into(), cookies: Some(cookies.into()) })));
    }

    /// Answers the send of request `waiter` with `status` and Set-Cookie lines.
    pub fn respond_with_cookies(&mut self, waiter: WaiterId, status: u16, cookies: &str) {
        let (op, _) = self.take(|e| matches!(e, Effect::Send { waiter: w, .. } if *w == waiter));
        let summary = ResponseSummary { status, body_code: None, cookies: Some(cookies.into()) };
        self.answer(op, Outcome::Sent(Ok(summary)));
    }

    pub fn abort(&mut self, waiter: WaiterId) {
        self.core.abort(self.now, waiter);
        self.drain();
    }

    /// The kept reply `w` was settled with.
    pub fn reply_of(&self, w: WaiterId) -> Option<String> {
        match self.settled.get(&w) {
            Some(Ok(view)) => view.reply.as_deref().cloned(),
            other => panic!("{w:?} not granted: {other:?}"),
        }
    }

    /// Removes and returns the first outstanding effect for which `pick` is true.
    pub fn take(&mut self, pick: impl Fn(&Effect) -> bool) -> (OpId, Effect) {
        let i = self
            .effects
            .iter()
            .position(|(_, e)| pick(e))
            .unwrap_or_else(|| panic!("no such effect in {:?}", self.effects));
        self.effects.remove(i)
    }

    pub fn answer(&mut self, op: OpId, outcome: Outcome) {
        self.core.handle(self.now, op, outcome);
        self.drain();
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.core.handle_timeout(self.now);
        self.drain();
    }

    /// Answers the storage read with `value`.
    pub fn read_storage(&mut self, value: StorageValue) {
        let (op, _) = self.take(|e| matches!(e, Effect::ReadStorage { .. }));
        self.answer(op, Outcome::StorageRead(value));
    }

    pub fn give_code(&mut self, code: &str) {
        let (op, _) = self.take(|e| matches!(e, Effect::RequestCode { .. }));
        self.answer(op, Outcome::Code(Ok(LoginCode::new(code.into()))));
    }

    pub fn reply(&mut self, status: u16, body: &str) {
        let (op, _) = self.take(|e| matches!(e, Effect::PostCode { .. }));
        self.answer(op, Outcome::Reply(Ok(HttpReply { status, body: body.into(), cookies: None })));
    }

    /// Storage empty, code issued, server grants `token` for `expires_in` seconds.
    pub fn cold_login(&mut self, token: &str, expires_in: u64) -> WaiterId {
        let w = self.ensure(false);
        self.read_storage(StorageValue::Missing);
        self.give_code("code-1");
        self.reply(200, &format!(r#"{{"token":"{token}","expiresIn":{expires_in}}}"#));
        w
    }

    pub fn token_of(&self, w: WaiterId) -> String {
        match self.settled.get(&w) {
            Some(Ok(view)) => view.token.expose().to_string(),
            other => panic!("{w:?} not granted: {other:?}"),
        }
    }

    pub fn error_of(&self, w: WaiterId) -> &SessionError {
        match self.settled.get(&w) {
            Some(Err(e)) => e,
            other => panic!("{w:?} did not fail: {other:?}"),
        }
    }

    pub fn has_effect(&self, pick: impl Fn(&Effect) -> bool) -> bool {
        self.effects.iter().any(|(_, e)| pick(e))
    }
}

impl Harness {
    pub fn request(&mut self, url: &str, method: &str) -> WaiterId {
        let spec = RequestSpec { url: url.into(), method: method.into(), timeout_ms: None };
        let w = self.core.request(self.now, spec).expect("valid request");
        self.drain();
        w
    }

    /// Sends on the wire: (op, waiter, auth header value).
    pub fn sends_in_flight(&self) -> Vec<(OpId, WaiterId, Option<String>)> {
        self.effects
            .iter()
            .filter_map(|(op, e)| match e {
                Effect::Send { waiter, auth, .. } => {
                    Some((*op, *waiter, auth.as_ref().map(|a| format!("{}: {}", a.name, a.value.expose()))))
                }
                _ => None,
            })
            .collect()
    }

    /// Answers the send of request `waiter` with `status`.
    pub fn respond_status(&mut self, waiter: WaiterId, status: u16) {
        let (op, _) = self.take(|e| matches!(e, Effect::Send { waiter: w, .. } if *w == waiter));
        self.answer(op, Outcome::Sent(Ok(ResponseSummary { status, body_code: None, cookies: None })));
    }

    pub fn login_now(&mut self, token: &str) {
        self.give_code("c");
        self.reply(200, &format!(r#"{{"token":"{token}","expiresIn":7200}}"#));
    }
}
