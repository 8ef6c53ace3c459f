//! The server under test, on 127.0.0.1 with a hand-moved clock, beside a small mock of WeChat's
//! three APIs. The database is SQLite in a temp directory, or a fresh database on the PostgreSQL
//! server named by `MP_SESSION_TEST_POSTGRES` (scripts/test-server.sh starts a throwaway one).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use mp_session_server::config::Config;
use mp_session_server::{serve, App, Clock};
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::oneshot;

pub const APPID: &str = "wx-test-appid";
pub const SECRET: &str = "test-secret";
pub const ADMIN: &str = "admin-token-for-tests";

/// WeChat as the server sees it: codes issued here exchange once; the stable access token is
/// counted; errcodes can be queued.
#[derive(Default)]
pub struct MockWeChat {
    codes: Mutex<HashMap<String, (String, bool)>>,
    phone_codes: Mutex<HashMap<String, String>>,
    pub session_keys: Mutex<Vec<String>>,
    pub forced: Mutex<Vec<i64>>,
    pub token_fetches: AtomicU64,
    pub forced_refreshes: AtomicU64,
    live_token: Mutex<Option<String>>,
    serial: AtomicU64,
    /// When set, the next code2Session waits for `release` after signalling `arrived`.
    pub hold_next: std::sync::atomic::AtomicBool,
    pub arrived: tokio::sync::Notify,
    pub release: tokio::sync::Notify,
}

impl MockWeChat {
    pub fn code(&self, openid: &str) -> String {
        let code = format!("code-{}-{openid}", self.serial.fetch_add(1, Ordering::SeqCst));
        self.codes.lock().unwrap().insert(code.clone(), (openid.to_owned(), false));
        code
    }

    pub fn phone_code(&self, openid: &str) -> String {
        let code = format!("phone-{}", self.serial.fetch_add(1, Ordering::SeqCst));
        self.phone_codes.lock().unwrap().insert(code.clone(), openid.to_owned());
        code
    }

    /// WeChat invalidates the live access token (as another fetcher's force_refresh would).
    pub fn invalidate_token(&self) {
        *self.live_token.lock().unwrap() = None;
    }
}

async fn code2session(
    State(mock): State<Arc<MockWeChat>>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    if mock.hold_next.swap(false, Ordering::SeqCst) {
        mock.arrived.notify_one();
        mock.release.notified().await;
    }
    if let Some(errcode) = mock.forced.lock().unwrap().pop() {
        return Json(json!({ "errcode": errcode, "errmsg": "forced" }));
    }
    if query.get("appid").map(String::as_str) != Some(APPID) || query.get("secret").map(String::as_str) != Some(SECRET)
    {
        return Json(json!({ "errcode": 40125, "errmsg": "invalid appsecret" }));
    }
    let code = query.get("js_code").cloned().unwrap_or_default();
    let mut codes = mock.codes.lock().unwrap();
    let Some((openid, used)) = codes.get_mut(&code) else {
        return Json(json!({ "errcode": 40029, "errmsg": "invalid code" }));
    };
    if *used {
        return Json(json!({ "errcode": 40163, "errmsg": "code been used" }));
    }
    *used = true;
    let session_key = format!("SK{}{}", mock.serial.fetch_add(1, Ordering::SeqCst), openid.len());
    mock.session_keys.lock().unwrap().push(session_key.clone());
    Json(json!({ "openid": openid, "session_key": session_key }))
}

async fn stable_token(State(mock): State<Arc<MockWeChat>>, Json(body): Json<Value>) -> Json<Value> {
    if body["appid"] != APPID || body["secret"] != SECRET {
        return Json(json!({ "errcode": 40125, "errmsg": "invalid appsecret" }));
    }
    let n = mock.token_fetches.fetch_add(1, Ordering::SeqCst);
    if body["force_refresh"] == true {
        mock.forced_refreshes.fetch_add(1, Ordering::SeqCst);
    }
    let token = format!("AT{n}");
    *mock.live_token.lock().unwrap() = Some(token.clone());
    Json(json!({ "access_token": token, "expires_in": 7200 }))
}

async fn phone_number(
    State(mock): State<Arc<MockWeChat>>,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    if mock.live_token.lock().unwrap().as_deref() != query.get("access_token").map(String::as_str) {
        return Json(json!({ "errcode": 40001, "errmsg": "invalid credential" }));
    }
    let code = body["code"].as_str().unwrap_or_default();
    match mock.phone_codes.lock().unwrap().remove(code) {
        Some(openid) => Json(
            json!({ "errcode": 0, "phone_info": { "purePhoneNumber": format!("138{:08}", openid.len() * 1234567 % 100_000_000), "countryCode": "86" } }),
        ),
        None => Json(json!({ "errcode": 40029, "errmsg": "invalid code" })),
    }
}

pub struct MockServer {
    pub base: String,
    pub mock: Arc<MockWeChat>,
}

pub async fn mock_wechat() -> MockServer {
    let mock = Arc::new(MockWeChat::default());
    let router = Router::new()
        .route("/sns/jscode2session", get(code2session))
        .route("/cgi-bin/stable_token", post(stable_token))
        .route("/wxa/business/getuserphonenumber", post(phone_number))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    MockServer { base, mock }
}

/// A database URL for one test: SQLite in `dir`, or a new database on the test PostgreSQL.
pub async fn database_for(dir: &std::path::Path) -> String {
    match std::env::var("MP_SESSION_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => {
            static SERIAL: AtomicU64 = AtomicU64::new(0);
            let name = format!(
                "t{}_{}_{}",
                std::process::id(),
                SERIAL.fetch_add(1, Ordering::SeqCst),
                dir.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "")
            );
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect(&format!("{server}/postgres"))
                .await
                .expect("connect to the test PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
            format!("{server}/{name}")
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("mp-session.db").display()),
    }
}

pub struct Server {
    pub url: String,
    pub app: Arc<App>,
    pub clock: Arc<AtomicI64>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

pub const T0: i64 = 1_800_000_000;

/// Flags as an operator would pass them.
pub fn config(data_dir: &std::path::Path, database: &str, wechat: &str, extra: &[&str]) -> Config {
    let mut args = vec![
        "mp-session-server".to_owned(),
        format!("--data-dir={}", data_dir.display()),
        format!("--database={database}"),
        format!("--wechat-api-base={wechat}"),
        format!("--wechat-appid={APPID}"),
        format!("--wechat-secret={SECRET}"),
        format!("--admin-token={ADMIN}"),
        "--access-ttl=600".to_owned(),
        "--refresh-ttl=86400".to_owned(),
        "--auth-rate-per-address=0".to_owned(),
        "--auth-rate-per-openid=0".to_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Config::try_parse_from(args).unwrap()
}

impl Server {
    pub async fn start(config: Config, clock: Arc<AtomicI64>) -> Server {
        let app = App::start(config, Clock::Manual(clock.clone())).await.unwrap_or_else(|e| panic!("start: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let served = app.clone();
        let done = tokio::spawn(async move {
            serve(listener, served, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Server { url, app, clock, http: reqwest::Client::new(), stop: Some(stop), done: Some(done) }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap();
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    /// (status, JSON body) of a request; `token` as a Bearer token.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn login(&self, code: &str) -> (u16, Value) {
        self.call("POST", "/auth/login", None, Some(json!({ "code": code }))).await
    }
}

/// A mock WeChat and one server on a fresh database in a temp directory.
pub struct World {
    pub wechat: MockServer,
    pub server: Server,
    pub dir: tempfile::TempDir,
    pub database: String,
}

pub async fn world(extra: &[&str]) -> World {
    let wechat = mock_wechat().await;
    let dir = tempfile::tempdir().unwrap();
    let database = database_for(dir.path()).await;
    let server = Server::start(config(dir.path(), &database, &wechat.base, extra), Arc::new(AtomicI64::new(T0))).await;
    World { wechat, server, dir, database }
}

pub fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

/// One server process: its log lines (stdout) are kept in `log`, its stderr goes to a file in
/// the data directory.
pub struct Process {
    pub child: Child,
    pub url: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

pub fn spawn(dir: &std::path::Path, database: &str, wechat: &str, name: &str, extra: &[&str]) -> Process {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mp-session-server"))
        .args([
            "--listen=127.0.0.1:0",
            &format!("--data-dir={}", dir.display()),
            &format!("--database={database}"),
            &format!("--wechat-api-base={wechat}"),
        ])
        .args([
            &format!("--wechat-appid={APPID}"),
            &format!("--wechat-secret={SECRET}"),
            &format!("--admin-token={ADMIN}"),
        ])
        .args(["--auth-rate-per-address=0", "--auth-rate-per-openid=0", "--database-connections=16"])
        .args(extra)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    // The process says where it listens once it is ready; read its log up to that line.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().unwrap_or_else(|| panic!("{name} exited before listening (see {name}.log)")).unwrap();
        // text: `… listening listen=127.0.0.1:PORT …`; json: `…"listen":"127.0.0.1:PORT"…`
        if let Some(rest) = line.split("listen=").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
        if let Some(rest) = line.split("\"listen\":\"").nth(1) {
            break format!("http://{}", rest.split('"').next().unwrap());
        }
    };
    // Keep reading, so the process never blocks on a full pipe.
    let log = Arc::new(Mutex::new(Vec::new()));
    let kept = log.clone();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| kept.lock().unwrap().push(line)));
    Process { child, url, log }
}
