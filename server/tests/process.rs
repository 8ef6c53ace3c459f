//! The binary as an operator runs it. Its log, read from a real process: one line per event,
//! text or JSON, and never a token, a refresh token, a session_key, a code or a whole phone
//! number. And SIGTERM: the listener closes, the request in flight finishes, the exit is clean.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use serde_json::{json, Value};
use support::*;

async fn post(url: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = reqwest::Client::new().post(format!("{url}{path}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap_or(Value::Null)
}

/// Logs in with a phone code, calls, refreshes, reuses a refresh token, logs out; returns every
/// secret that crossed the wire and the process's log.
async fn session_story(format: &str) -> (Vec<String>, Vec<String>) {
    let wechat = mock_wechat().await;
    let dir = tempfile::tempdir().unwrap();
    let database = database_for(dir.path()).await;
    let mut process = spawn(dir.path(), &database, &wechat.base, "logs", &[&format!("--log-format={format}")]);
    let (code, phone_code) = (wechat.mock.code("o-secretive"), wechat.mock.phone_code("o-secretive"));
    let login = post(&process.url, "/auth/login", None, json!({ "code": code, "phoneCode": phone_code })).await;
    let token = login["token"].as_str().unwrap().to_owned();
    let refresh = login["refreshToken"].as_str().unwrap().to_owned();
    let me = reqwest::Client::new().get(format!("{}/api/me", process.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let rotated = post(&process.url, "/auth/refresh", None, json!({ "refreshToken": refresh })).await;
    post(&process.url, "/auth/refresh", None, json!({ "refreshToken": refresh })).await; // reuse
    post(&process.url, "/auth/logout", Some(rotated["token"].as_str().unwrap()), json!({})).await;
    post(&process.url, "/auth/login", None, json!({ "code": code })).await; // a used code
    let mut secrets = vec![code, phone_code, token, refresh, rotated["refreshToken"].as_str().unwrap().to_owned()];
    secrets.extend(wechat.mock.session_keys.lock().unwrap().iter().cloned());
    secrets.push(format!("138{:08}", "o-secretive".len() * 1234567 % 100_000_000)); // the mock's number
    secrets.push("AT0".to_owned()); // the mock's access token
    process.child.kill().unwrap();
    process.child.wait().unwrap();
    let log = process.log.lock().unwrap().clone();
    (secrets, log)
}

fn assert_no_secret(secrets: &[String], log: &[String]) {
    assert!(log.len() >= 6, "one line per event: {log:#?}");
    for secret in secrets {
        assert!(secret.len() >= 3);
        for line in log {
            assert!(!line.contains(secret.as_str()), "the log holds a secret: {line}");
        }
    }
}

#[tokio::test]
async fn text_logs_name_events_and_never_a_secret() {
    let (secrets, log) = session_story("text").await;
    assert_no_secret(&secrets, &log);
    let text = log.join("\n");
    // The logout comes after the reuse revoked the session: a 401, as reuse detection intends.
    for event in [
        "phone bound",
        "login: code2Session ok",
        "refresh: rotated",
        "used refresh token was presented again",
        "401: no live session",
        "wechat refused",
    ] {
        assert!(text.contains(event), "no `{event}` line in:\n{text}");
    }
    assert!(text.contains("phone=138****"), "the phone appears masked");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let (secrets, log) = session_story("json").await;
    assert_no_secret(&secrets, &log);
    for line in &log {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(event["fields"]["message"].is_string() && event["level"].is_string(), "{line}");
    }
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_exits() {
    let wechat = mock_wechat().await;
    let dir = tempfile::tempdir().unwrap();
    let database = database_for(dir.path()).await;
    let mut process = spawn(dir.path(), &database, &wechat.base, "sigterm", &[]);
    let mock = wechat.mock.clone();
    mock.hold_next.store(true, std::sync::atomic::Ordering::SeqCst);
    let url = process.url.clone();
    let code = mock.code("o-patient");
    let in_flight = tokio::spawn(async move { post(&url, "/auth/login", None, json!({ "code": code })).await });
    mock.arrived.notified().await; // the login is waiting on WeChat
    let term = std::process::Command::new("kill").args(["-TERM", &process.child.id().to_string()]).status().unwrap();
    assert!(term.success());
    // The server stops accepting; its login in flight goes on until WeChat answers.
    let deadline = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while reqwest::get(format!("{}/healthz", process.url)).await.is_ok() {
            tokio::task::yield_now().await;
        }
    });
    deadline.await.expect("the listener closed after SIGTERM");
    mock.release.notify_one();
    let reply = in_flight.await.unwrap();
    assert!(reply["token"].is_string(), "the login in flight finished: {reply}");
    let status = process.child.wait().unwrap();
    assert!(status.success(), "a clean exit after SIGTERM: {status}");
    assert!(process.log.lock().unwrap().iter().any(|line| line.contains("requests in flight finished")));
}
