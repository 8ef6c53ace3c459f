//! The server's rules over HTTP, on SQLite (and on PostgreSQL when MP_SESSION_TEST_POSTGRES is
//! set): login, WeChat's errcodes, refresh rotation and reuse, logout, expiry by the clock, JWKS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::sync::atomic::Ordering;

use futures_util::future::join_all;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use support::*;

fn token(reply: &Value) -> String {
    reply["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn a_code_logs_in_once_and_the_session_key_stays_on_the_server() {
    let w = world(&[]).await;
    let (status, first) = w.server.login(&w.wechat.mock.code("o-alice")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["isNewUser"], true);
    assert_eq!(first["expiresIn"], 600);
    assert_eq!(first["refreshExpiresIn"], 86400);
    assert!(first["refreshToken"].as_str().unwrap().len() >= 40);
    let (status, again) = w.server.login(&w.wechat.mock.code("o-alice")).await;
    assert_eq!(status, 200);
    assert_eq!(again["isNewUser"], false);
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    let (status, me) = w.server.call("GET", "/api/me", Some(&token(&first)), None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["userId"], first["user"]["id"]);
    assert_eq!(me["expiresAt"], (T0 + 600) * 1000);
    // session_key reached no reply, and the database holds it only sealed.
    let replies = format!("{first}{again}{me}");
    let keys = w.wechat.mock.session_keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2);
    for key in &keys {
        assert!(!replies.contains(key.as_str()), "a reply carries session_key");
    }
    if w.database.starts_with("sqlite:") {
        let bytes = std::fs::read(w.dir.path().join("mp-session.db")).unwrap();
        let wal = std::fs::read(w.dir.path().join("mp-session.db-wal")).unwrap_or_default();
        for key in &keys {
            let needle = key.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle),
                "session_key stored in the clear"
            );
        }
    }
    let (sealed_openid, sealed) =
        w.server.app.store.session_key_sealed(APPID, first["user"]["id"].as_str().unwrap()).await.unwrap().unwrap();
    let context = format!("session_key:{APPID}:{sealed_openid}");
    assert_eq!(
        w.server.app.keys.open(&context, &sealed).as_deref(),
        Some(keys[1].as_str()),
        "the newest session_key is kept"
    );
    assert_eq!(w.server.app.keys.open("session_key:other:o-alice", &sealed), None, "sealed for its own row only");
}

#[tokio::test]
async fn wechat_errcodes_pass_through_with_the_statuses_the_sdk_maps() {
    let w = world(&[]).await;
    let code = w.wechat.mock.code("o-bob");
    assert_eq!(w.server.login(&code).await.0, 200);
    let (status, used) = w.server.login(&code).await;
    assert_eq!((status, used["errcode"].as_i64()), (400, Some(40163)));
    let (status, invalid) = w.server.login("not-a-code").await;
    assert_eq!((status, invalid["errcode"].as_i64()), (400, Some(40029)));
    for (errcode, want) in [(45011, 429), (40226, 403), (-1, 503)] {
        w.wechat.mock.forced.lock().unwrap().push(errcode);
        let (status, body) = w.server.login(&w.wechat.mock.code("o-bob")).await;
        assert_eq!((status, body["errcode"].as_i64()), (want, Some(errcode)), "{body}");
    }
    let (status, body) = w.server.call("POST", "/auth/login", None, Some(json!({}))).await;
    assert_eq!((status, body["errcode"].as_i64()), (400, Some(40029)));
    let (status, body) = w.server.call("POST", "/auth/login", None, Some(Value::String("{".into()))).await;
    assert_eq!((status, body["errcode"].as_i64()), (400, Some(40029)));
}

#[tokio::test]
async fn a_refresh_token_is_single_use_and_presenting_it_again_revokes_its_family() {
    let w = world(&[]).await;
    let (_, login) = w.server.login(&w.wechat.mock.code("o-carol")).await;
    let first = login["refreshToken"].as_str().unwrap().to_owned();
    let (status, rotated) = w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": first }))).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    // The world's clock has not moved: the new access token differs by its token id alone.
    assert_ne!(token(&rotated), token(&login));
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&rotated)), None).await.0, 200);
    // The first token again: refused, and the family ends, the live token of it included.
    let (status, reused) = w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": first }))).await;
    assert_eq!((status, reused["errcode"].as_i64()), (401, Some(40102)));
    let (status, _) = w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": second }))).await;
    assert_eq!(status, 401, "the family is revoked");
    assert_eq!(
        w.server.call("GET", "/api/me", Some(&token(&rotated)), None).await.0,
        401,
        "its access tokens stop on this server at once"
    );
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&login)), None).await.0, 401);
    let (status, _) = w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": "made-up" }))).await;
    assert_eq!(status, 401);
    let (status, _) = w.server.call("POST", "/auth/refresh", None, Some(json!({ "refresh": 1 }))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_rotate_it_once() {
    let w = world(&[]).await;
    let (_, login) = w.server.login(&w.wechat.mock.code("o-dan")).await;
    let refresh = login["refreshToken"].as_str().unwrap().to_owned();
    let calls = (0..8).map(|_| w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": refresh }))));
    let statuses: Vec<u16> = join_all(calls).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn access_tokens_expire_by_the_clock_and_refresh_tokens_outlive_them() {
    let w = world(&[]).await;
    let (_, login) = w.server.login(&w.wechat.mock.code("o-erin")).await;
    w.server.advance(599);
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&login)), None).await.0, 200);
    w.server.advance(1);
    let (status, body) = w.server.call("GET", "/api/me", Some(&token(&login)), None).await;
    assert_eq!((status, body["errcode"].as_i64()), (401, Some(40101)));
    let (status, rotated) =
        w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": login["refreshToken"] }))).await;
    assert_eq!(status, 200);
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&rotated)), None).await.0, 200);
    // A refresh token unused for its lifetime is refused.
    w.server.advance(86400);
    let (status, _) =
        w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": rotated["refreshToken"] }))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn logout_ends_the_session_and_its_refresh_tokens() {
    let w = world(&[]).await;
    let (_, login) = w.server.login(&w.wechat.mock.code("o-fay")).await;
    let (_, other) = w.server.login(&w.wechat.mock.code("o-fay")).await;
    assert_eq!(w.server.call("POST", "/auth/logout", Some(&token(&login)), None).await.0, 200);
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&login)), None).await.0, 401);
    assert_eq!(
        w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": login["refreshToken"] }))).await.0,
        401
    );
    assert_eq!(
        w.server.call("GET", "/api/me", Some(&token(&other)), None).await.0,
        200,
        "the user's other session lives on"
    );
    assert_eq!(w.server.call("POST", "/auth/logout", None, None).await.0, 401);
}

#[tokio::test]
async fn other_services_verify_the_access_token_from_the_jwks() {
    let w = world(&[]).await;
    let (_, login) = w.server.login(&w.wechat.mock.code("o-gus")).await;
    let (status, jwks) = w.server.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(status, 200);
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let header = jsonwebtoken::decode_header(&token(&login)).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding = DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false; // the test clock is in 2027
    let claims = jsonwebtoken::decode::<Value>(&token(&login), &decoding, &validation).unwrap().claims;
    assert_eq!(claims["sub"], login["user"]["id"]);
    assert_eq!(claims["exp"], T0 + 600);
    assert_eq!(claims["iss"], "mp-session-server");
    // A token with its payload changed does not verify anywhere.
    let jwt = token(&login);
    let parts: Vec<&str> = jwt.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64_claims(
            json!({ "iss": "mp-session-server", "sub": "someone-else", "sid": "x", "iat": T0, "exp": T0 + 600 })
        ),
        parts[2]
    );
    assert!(jsonwebtoken::decode::<Value>(&forged, &decoding, &validation).is_err());
    assert_eq!(w.server.call("GET", "/api/me", Some(&forged), None).await.0, 401);
}

fn base64_claims(claims: Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
}

#[tokio::test]
async fn one_new_openid_logging_in_many_times_at_once_is_one_user() {
    let w = world(&[]).await;
    let codes: Vec<String> = (0..12).map(|_| w.wechat.mock.code("o-same-instant")).collect();
    let replies = join_all(codes.iter().map(|code| w.server.login(code))).await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["user"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(replies.iter().filter(|(_, body)| body["isNewUser"] == true).count(), 1);
    let stats = w.server.app.store.stats().await.unwrap();
    assert_eq!((stats.users, stats.identities), (1, 1), "no orphan user row from the losers");
}

#[tokio::test]
async fn a_phone_login_binds_the_number_and_shares_one_access_token() {
    let w = world(&[]).await;
    let mock = &w.wechat.mock;
    let logins: Vec<(String, String)> =
        (0..6).map(|i| (mock.code(&format!("o-phone-{i}")), mock.phone_code(&format!("o-phone-{i}")))).collect();
    let replies = join_all(logins.iter().map(|(code, phone)| {
        w.server.call("POST", "/auth/login", None, Some(json!({ "code": code, "phoneCode": phone })))
    }))
    .await;
    for (status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
        let phone = body["user"]["phone"].as_str().unwrap();
        assert!(phone.starts_with("138") && phone.contains("****") && phone.len() == 11, "{phone}");
    }
    assert_eq!(mock.token_fetches.load(Ordering::SeqCst), 1, "one access-token fetch for six logins at once");
    // WeChat invalidates it: the next phone login replaces it once, with force_refresh.
    mock.invalidate_token();
    let (status, body) = w
        .server
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!({ "code": mock.code("o-phone-9"), "phoneCode": mock.phone_code("o-phone-9") })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((mock.token_fetches.load(Ordering::SeqCst), mock.forced_refreshes.load(Ordering::SeqCst)), (2, 1));
    // A bad phone code issues no session and creates no user.
    let before = w.server.app.store.stats().await.unwrap().users;
    let (status, body) = w
        .server
        .call("POST", "/auth/login", None, Some(json!({ "code": mock.code("o-new-person"), "phoneCode": "wrong" })))
        .await;
    assert_eq!((status, body["errcode"].as_i64()), (400, Some(40029)));
    assert_eq!(w.server.app.store.stats().await.unwrap().users, before);
}

#[tokio::test]
async fn password_accounts_are_made_by_the_admin_and_log_in_without_wechat() {
    let w = world(&[]).await;
    let account = json!({ "username": "demo", "password": "mp-session-demo" });
    assert_eq!(w.server.call("POST", "/admin/accounts", None, Some(account.clone())).await.0, 403);
    assert_eq!(w.server.call("POST", "/admin/accounts", Some("wrong"), Some(account.clone())).await.0, 403);
    let (status, created) = w.server.call("POST", "/admin/accounts", Some(ADMIN), Some(account.clone())).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(w.server.call("POST", "/admin/accounts", Some(ADMIN), Some(account.clone())).await.0, 409);
    let (status, login) = w.server.call("POST", "/auth/password", None, Some(account)).await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["user"]["id"], created["user"]["id"]);
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&login)), None).await.0, 200);
    for wrong in [
        json!({ "username": "demo", "password": "nope-nope" }),
        json!({ "username": "nobody", "password": "mp-session-demo" }),
    ] {
        let (status, body) = w.server.call("POST", "/auth/password", None, Some(wrong)).await;
        assert_eq!((status, body["errcode"].as_i64()), (401, Some(40103)));
    }
    let (status, body) = w.server.call("POST", "/auth/password", None, Some(Value::String("{".into()))).await;
    assert_eq!((status, body["errcode"].as_i64()), (400, Some(40000)), "a body that is not the JSON expected");
    let stored = w.server.app.store.account("demo").await.unwrap().unwrap().1;
    assert!(stored.starts_with("$argon2id$"), "{stored}");
}

#[tokio::test]
async fn admin_revocation_ends_every_session_of_a_user() {
    let w = world(&[]).await;
    let (_, a) = w.server.login(&w.wechat.mock.code("o-hal")).await;
    let (_, b) = w.server.login(&w.wechat.mock.code("o-hal")).await;
    let user = a["user"]["id"].as_str().unwrap();
    assert_eq!(w.server.call("POST", &format!("/admin/users/{user}/revoke"), None, None).await.0, 403);
    let (status, body) = w.server.call("POST", &format!("/admin/users/{user}/revoke"), Some(ADMIN), None).await;
    assert_eq!((status, body["revoked"].as_i64()), (200, Some(2)));
    for reply in [&a, &b] {
        assert_eq!(w.server.call("GET", "/api/me", Some(&token(reply)), None).await.0, 401);
        assert_eq!(
            w.server
                .call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": reply["refreshToken"] })))
                .await
                .0,
            401
        );
    }
}

#[tokio::test]
async fn expire_access_retires_access_tokens_and_the_refresh_renews_them() {
    let w = world(&[]).await;
    let (_, login) = w.server.login(&w.wechat.mock.code("o-mo")).await;
    let user = login["user"]["id"].as_str().unwrap();
    let (status, body) = w.server.call("POST", &format!("/admin/users/{user}/expire-access"), Some(ADMIN), None).await;
    assert_eq!((status, body["sessions"].as_i64()), (200, Some(1)));
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&login)), None).await.0, 401);
    let (status, rotated) =
        w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": login["refreshToken"] }))).await;
    assert_eq!(status, 200, "the session lives on");
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&rotated)), None).await.0, 200);
    assert_eq!(w.server.call("POST", &format!("/admin/users/{user}/expire-access"), None, None).await.0, 403);
}

#[tokio::test]
async fn the_server_refuses_to_start_on_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("db").display());
    let refusal = |config| async move {
        match mp_session_server::App::start(config, mp_session_server::Clock::System).await {
            Ok(_) => panic!("started"),
            Err(error) => error.to_string(),
        }
    };
    let mut no_appid = config(dir.path(), &database, "https://api.weixin.qq.com", &[]);
    no_appid.wechat_appid = None;
    assert!(refusal(no_appid).await.contains("WECHAT_APPID"));
    let plain_http = config(dir.path(), &database, "http://wechat.example.com", &[]);
    assert!(refusal(plain_http).await.contains("https://"));
    let unreachable = config(dir.path(), "postgres://nobody@127.0.0.1:1/none", "https://api.weixin.qq.com", &[]);
    assert!(refusal(unreachable).await.contains("cannot open the database"));
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let unwritable = config(&file.join("data"), &database, "https://api.weixin.qq.com", &[]);
    assert!(refusal(unwritable).await.contains("cannot create the data directory"));
    let short = config(dir.path(), &database, "https://api.weixin.qq.com", &["--access-ttl=10"]);
    assert!(refusal(short).await.contains("ACCESS_TOKEN_TTL"));
    let half_douyin = config(dir.path(), &database, "https://api.weixin.qq.com", &["--douyin-appid=tt-x"]);
    assert!(refusal(half_douyin).await.contains("DOUYIN_APPID and DOUYIN_SECRET"));
    let plain_douyin = config(
        dir.path(),
        &database,
        "https://api.weixin.qq.com",
        &["--douyin-appid=tt-x", "--douyin-secret=s", "--douyin-api-base=http://douyin.example.com"],
    );
    assert!(refusal(plain_douyin).await.contains("DOUYIN_API_BASE must be https://"));
    let half_alipay = config(dir.path(), &database, "https://api.weixin.qq.com", &["--alipay-appid=2021x"]);
    assert!(refusal(half_alipay).await.contains("ALIPAY_APPID, ALIPAY_PRIVATE_KEY and ALIPAY_PUBLIC_KEY go together"));
    let alipay = ["--alipay-appid=2021x", "--alipay-private-key=bm90IGEga2V5", "--alipay-public-key=bm90IGEga2V5"];
    let bad_key = refusal(config(dir.path(), &database, "https://api.weixin.qq.com", &alipay)).await;
    assert!(bad_key.contains("ALIPAY_PRIVATE_KEY is not") && !bad_key.contains("bm90IGEga2V5"), "{bad_key}");
    let plain_alipay = [&alipay[..], &["--alipay-gateway=http://alipay.example.com/gateway.do"]].concat();
    assert!(refusal(config(dir.path(), &database, "https://api.weixin.qq.com", &plain_alipay))
        .await
        .contains("ALIPAY_GATEWAY must be https://"));
}

#[tokio::test]
async fn revoke_all_ends_every_session_and_pruning_deletes_ended_ones_after_a_week() {
    let w = world(&[]).await;
    let (_, a) = w.server.login(&w.wechat.mock.code("o-nan")).await;
    w.server.login(&w.wechat.mock.code("o-oli")).await;
    assert_eq!(w.server.call("POST", "/admin/revoke-all", None, None).await.0, 403);
    let (status, body) = w.server.call("POST", "/admin/revoke-all", Some(ADMIN), None).await;
    assert_eq!((status, body["revoked"].as_i64()), (200, Some(2)));
    assert_eq!(w.server.call("GET", "/api/me", Some(&token(&a)), None).await.0, 401);
    let (_, live) = w.server.login(&w.wechat.mock.code("o-nan")).await;
    let (_, rotated) =
        w.server.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": live["refreshToken"] }))).await;
    let store = &w.server.app.store;
    let week = mp_session_server::KEEP_ENDED_SESSIONS_S;
    assert_eq!(store.prune(T0 - 1).await.unwrap(), (0, 0), "nothing ended before now");
    w.server.advance(week + 1);
    assert_eq!(
        store.prune(w.server.clock.load(Ordering::SeqCst) - week).await.unwrap(),
        (2, 2),
        "the two revoked sessions, one token each"
    );
    // The live session keeps its tokens, the used one too (reuse detection needs it).
    assert_eq!(rotated["refreshToken"].as_str().map(str::len), Some(43));
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.live_sessions, stats.refresh_tokens_used), (1, 1));
}

#[tokio::test]
async fn cookie_login_sets_the_sid_cookie_that_protected_routes_accept() {
    let w = world(&[]).await;
    let response = w
        .server
        .http
        .post(format!("{}/auth/cookie-login", w.server.url))
        .json(&json!({ "code": w.wechat.mock.code("o-ivy") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("sid=") && cookie.contains("Max-Age=600") && cookie.contains("HttpOnly"), "{cookie}");
    let body: Value = response.json().await.unwrap();
    assert!(body.get("token").is_none(), "cookie mode answers no token in the body");
    let sid = cookie.split(';').next().unwrap();
    let me = w
        .server
        .http
        .get(format!("{}/api/me", w.server.url))
        .header("cookie", format!("theme=dark; {sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me =
        w.server.http.get(format!("{}/api/me", w.server.url)).header("cookie", "sid=garbage").send().await.unwrap();
    assert_eq!(me.status(), 401);
}

#[tokio::test]
async fn the_profile_takes_a_clean_nickname_and_an_image_avatar() {
    let w = world(&[]).await;
    let (_, login) = w.server.login(&w.wechat.mock.code("o-jo")).await;
    let t = token(&login);
    let (status, body) = w.server.call("PUT", "/api/profile", Some(&t), Some(json!({ "nickname": "  小明  " }))).await;
    assert_eq!((status, body["user"]["nickname"].as_str()), (200, Some("小明")));
    for (nickname, errcode) in [
        (json!(""), 40202),
        (json!("x".repeat(21)), 40202),
        (json!("a\u{202e}b"), 40203),
        (json!("<b>"), 40203),
        (json!(5), 40201),
    ] {
        let (status, body) =
            w.server.call("PUT", "/api/profile", Some(&t), Some(json!({ "nickname": nickname }))).await;
        assert_eq!((status, body["errcode"].as_i64()), (400, Some(errcode)), "{nickname}");
    }
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[7u8; 100]].concat();
    let upload = |data: Vec<u8>| {
        let form =
            reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(data).file_name("a.png"));
        w.server.http.post(format!("{}/api/avatar", w.server.url)).bearer_auth(&t).multipart(form).send()
    };
    let response = upload(png.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let url = body["user"]["avatarUrl"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&w.server.url) && url.ends_with(".png"), "{url}");
    let file = w.server.http.get(&url).send().await.unwrap();
    assert_eq!(file.headers()["content-type"], "image/png");
    assert_eq!(file.bytes().await.unwrap().to_vec(), png);
    assert_eq!(upload(b"not an image".to_vec()).await.unwrap().status(), 415);
    assert_eq!(upload([b"GIF89a".as_slice(), &vec![0u8; 2 * 1024 * 1024 + 1]].concat()).await.unwrap().status(), 413);
    assert_eq!(
        w.server.http.get(format!("{}/files/avatars/nothing.png", w.server.url)).send().await.unwrap().status(),
        404
    );
    // A JSON body over 64 KB is refused before it is read whole.
    let (status, _) =
        w.server.call("PUT", "/api/profile", Some(&t), Some(json!({ "nickname": "x".repeat(70 * 1024) }))).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn logins_past_the_rate_limit_answer_429_with_retry_after() {
    let w = world(&["--auth-rate-per-address=3", "--auth-rate-per-openid=2"]).await;
    let statuses = [
        w.server.login(&w.wechat.mock.code("o-k1")).await.0,
        w.server.login(&w.wechat.mock.code("o-k1")).await.0,
        w.server.login(&w.wechat.mock.code("o-k1")).await.0,
    ];
    assert_eq!(statuses, [200, 200, 429], "per openid");
    let response = w
        .server
        .http
        .post(format!("{}/auth/login", w.server.url))
        .json(&json!({ "code": w.wechat.mock.code("o-k2") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429, "per address");
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    w.server.advance(60);
    assert_eq!(w.server.login(&w.wechat.mock.code("o-k2")).await.0, 200, "a new minute");
}

#[tokio::test]
async fn healthz_unknown_routes_and_wrong_methods() {
    let w = world(&[]).await;
    let (status, body) = w.server.call("GET", "/healthz", None, None).await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)));
    let want =
        if std::env::var("MP_SESSION_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) { "postgres" } else { "sqlite" };
    assert_eq!(body["database"], want, "the suite runs on the database it was asked for");
    let (status, body) = w.server.call("GET", "/nothing", None, None).await;
    assert_eq!((status, body["errcode"].as_i64()), (404, Some(40404)));
    let (status, body) = w.server.call("GET", "/auth/login", None, None).await;
    assert_eq!((status, body["errcode"].as_i64()), (405, Some(40405)), "a wrong method answers JSON too");
}

#[tokio::test]
async fn a_restart_keeps_users_sessions_and_keys() {
    let w = world(&[]).await;
    let (_, login) = w.server.login(&w.wechat.mock.code("o-lee")).await;
    let clock = w.server.clock.clone();
    w.server.stop().await;
    let again = Server::start(config(w.dir.path(), &w.database, &w.wechat.base, &[]), clock).await;
    assert_eq!(again.call("GET", "/api/me", Some(&token(&login)), None).await.0, 200, "the signing key persisted");
    assert_eq!(
        again.call("POST", "/auth/refresh", None, Some(json!({ "refreshToken": login["refreshToken"] }))).await.0,
        200
    );
}
