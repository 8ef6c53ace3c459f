//! Several real `mp-session-server` processes on one database, as a team scales out: 500 users
//! logging in at once through three processes, some at the same instant for the same openid,
//! then refreshing; one process killed with SIGKILL mid-load and restarted. On PostgreSQL when
//! MP_SESSION_TEST_POSTGRES is set (scripts/with-postgres.sh), else on one SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use support::*;

const USERS: usize = 500;
const LOGINS_PER_USER: usize = 3;
const IN_FLIGHT: usize = 96;

/// A refresh's (status, body), or None when the connection was cut.
type Answer = Option<(u16, Value)>;

async fn post(http: &reqwest::Client, url: &str, path: &str, body: Value) -> Result<(u16, Value), reqwest::Error> {
    let response = http.post(format!("{url}{path}")).json(&body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

async fn stats(http: &reqwest::Client, url: &str) -> Value {
    http.get(format!("{url}/admin/stats")).bearer_auth(ADMIN).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_database_agree_and_survive_a_kill() {
    let wechat = mock_wechat().await;
    let mock = wechat.mock.clone();
    let dir = tempfile::tempdir().unwrap();
    let database = database_for(dir.path()).await;
    let mut processes: Vec<Process> =
        (0..3).map(|i| spawn(dir.path(), &database, &wechat.base, &format!("p{i}"), &[])).collect();
    let urls: Vec<String> = processes.iter().map(|p| p.url.clone()).collect();
    let http = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT).build().unwrap();

    // Phase 1: every user logs in three times, each through another process; every fifth user
    // with a phone code (which needs WeChat's access token). The logins of one user are issued
    // together, so some meet at the same instant for the same openid.
    let mut logins = Vec::new();
    for user in 0..USERS {
        let openid = format!("o-scale-{user}");
        for n in 0..LOGINS_PER_USER {
            let mut body = json!({ "code": mock.code(&openid) });
            if user % 5 == 0 && n == 0 {
                body["phoneCode"] = json!(mock.phone_code(&openid));
            }
            logins.push((openid.clone(), urls[(user + n) % 3].clone(), body));
        }
    }
    let replies: Vec<(String, u16, Value)> = stream::iter(logins)
        .map(|(openid, url, body)| {
            let http = http.clone();
            async move {
                let (status, reply) = post(&http, &url, "/auth/login", body).await.unwrap();
                (openid, status, reply)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut user_of: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (openid, status, reply) in &replies {
        assert_eq!(*status, 200, "{reply}");
        user_of.entry(openid.clone()).or_default().insert(reply["user"]["id"].as_str().unwrap().to_owned());
    }
    assert!(user_of.values().all(|ids| ids.len() == 1), "an openid got two users");
    assert_eq!(user_of.values().flatten().collect::<BTreeSet<_>>().len(), USERS);
    assert_eq!(replies.iter().filter(|(_, _, r)| r["isNewUser"] == true).count(), USERS);
    let counts = stats(&http, &urls[0]).await;
    assert_eq!(
        (counts["users"].as_i64(), counts["identities"].as_i64()),
        (Some(USERS as i64), Some(USERS as i64)),
        "{counts}"
    );
    assert_eq!(mock.token_fetches.load(Ordering::SeqCst), 1, "one access-token fetch across three processes");
    assert_eq!(counts["accessTokenFetches"], 1);

    // Phase 2, the refreshes. Even sessions present their refresh token twice at once through
    // the two processes that stay up: one rotates it, the other is refused (and, as reuse,
    // revokes that session). Odd sessions refresh once, through all three processes in turn;
    // half-way through, process 1 is killed with SIGKILL, and the other two keep serving.
    let half = replies.len() / 2;
    let victim = Arc::new(std::sync::Mutex::new(Some(processes.remove(1))));
    let killed_url = urls[1].clone();
    let outcomes: Vec<(usize, Vec<Answer>)> = stream::iter(
        replies.iter().enumerate().map(|(i, (_, _, r))| (i, r["refreshToken"].as_str().unwrap().to_owned())),
    )
    .map(|(i, token)| {
        let (http, urls, victim, killed_url) = (http.clone(), urls.clone(), victim.clone(), killed_url.clone());
        async move {
            if i == half {
                if let Some(mut process) = victim.lock().unwrap().take() {
                    process.child.kill().unwrap(); // SIGKILL: no shutdown, connections cut
                    process.child.wait().unwrap();
                }
            }
            let body = json!({ "refreshToken": token });
            let results = if i % 2 == 0 {
                let (a, b) = futures_util::future::join(
                    post(&http, &urls[0], "/auth/refresh", body.clone()),
                    post(&http, &urls[2], "/auth/refresh", body),
                )
                .await;
                vec![Some(a.unwrap()), Some(b.unwrap())]
            } else {
                let url = &urls[(i / 2) % 3];
                let result = post(&http, url, "/auth/refresh", body).await;
                assert!(result.is_ok() || *url == killed_url, "a surviving process failed a refresh: {result:?}");
                vec![result.ok()]
            };
            (i, results)
        }
    })
    .buffer_unordered(IN_FLIGHT)
    .collect()
    .await;
    let mut rotated = Vec::new();
    let mut lost_to_the_kill = 0;
    for (i, results) in &outcomes {
        if i % 2 == 0 {
            let mut statuses: Vec<u16> = results.iter().map(|r| r.as_ref().unwrap().0).collect();
            statuses.sort();
            assert_eq!(statuses, [200, 401], "refresh token {i} presented twice at once");
        } else {
            match &results[0] {
                Some((200, reply)) => rotated.push((*i, reply.clone())),
                Some(other) => panic!("refresh {i} answered {other:?}"),
                None => lost_to_the_kill += 1,
            }
        }
    }
    assert!(lost_to_the_kill > 0, "the kill happened mid-load: some requests to process 1 were cut off");
    assert!(rotated.len() + lost_to_the_kill == replies.len() / 2);
    assert!(http.get(format!("{killed_url}/healthz")).send().await.is_err(), "the killed process is gone");

    // Restarted on the same database: nothing committed is lost. Each answered refresh's new
    // access token works through the restarted process; each twice-presented session stays
    // revoked; every refresh token was used at most once.
    let restarted = spawn(dir.path(), &database, &wechat.base, "p1-restarted", &[]);
    let counts = stats(&http, &restarted.url).await;
    assert_eq!(counts["users"].as_i64(), Some(USERS as i64));
    let used = counts["refreshTokensUsed"].as_i64().unwrap() as usize;
    let spent_for_sure = replies.len().div_ceil(2) + rotated.len();
    assert!(
        (spent_for_sure..=spent_for_sure + lost_to_the_kill).contains(&used),
        "{used} refresh tokens used; {spent_for_sure} answered"
    );
    let me = |token: String| {
        let (http, url) = (http.clone(), restarted.url.clone());
        async move { http.get(format!("{url}/api/me")).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    let fresh: Vec<u16> = stream::iter(rotated.iter().map(|(_, r)| r["token"].as_str().unwrap().to_owned()))
        .map(me)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    assert!(fresh.iter().all(|s| *s == 200), "a committed refresh was lost: {fresh:?}");
    let revoked: Vec<u16> =
        stream::iter(replies.iter().step_by(2).map(|(_, _, r)| r["token"].as_str().unwrap().to_owned()))
            .map(me)
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
    assert!(revoked.iter().all(|s| *s == 401), "a revocation was lost");
    processes.push(restarted);
    for mut process in processes {
        let _ = process.child.kill();
        let _ = process.child.wait();
    }
}
