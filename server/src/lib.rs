//! mp-session-server: the server half of mp-session. `routes/` answers HTTP, `wechat` is the one
//! client of WeChat's API (`douyin` of Douyin's code exchange, `alipay` of Alipay's), `store/` is the SQL, `tokens` the JWTs, `keys` the server's secrets.

pub mod alipay;
pub mod config;
pub mod douyin;
pub mod error;
pub mod keys;
pub mod limits;
pub mod routes;
pub mod store;
pub mod tokens;
pub mod wechat;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::alipay::Alipay;
use crate::config::Config;
use crate::douyin::Douyin;
use crate::error::StartError;
use crate::keys::Keys;
use crate::limits::Limits;
use crate::store::Store;
use crate::tokens::Signer;
use crate::wechat::WeChat;

/// The server's clock in Unix seconds: the system's, or a hand-moved one in tests.
#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn now(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0),
            Clock::Manual(seconds) => seconds.load(Ordering::SeqCst),
        }
    }
}

/// Everything a route needs, shared by all of them.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: Keys,
    pub signer: Signer,
    pub wechat: WeChat,
    /// Configured with DOUYIN_APPID and DOUYIN_SECRET.
    pub douyin: Option<Douyin>,
    /// Configured with ALIPAY_APPID, ALIPAY_PRIVATE_KEY and ALIPAY_PUBLIC_KEY.
    pub alipay: Option<Alipay>,
    pub clock: Clock,
    pub limits: Limits,
    admin_token_hash: Option<String>,
}

impl App {
    /// Checks the configuration, creates the data directory, opens (and migrates) the database
    /// and loads or creates the keys. Every failure says what to fix.
    pub async fn start(config: Config, clock: Clock) -> Result<Arc<App>, StartError> {
        config.validate().map_err(StartError)?;
        std::fs::create_dir_all(&config.data_dir).map_err(|error| {
            StartError::new(format!("cannot create the data directory {}: {error}", config.data_dir.display()))
        })?;
        let keys = Keys::load(
            &config.data_dir,
            std::env::var("MP_SESSION_SIGNING_KEY").ok(),
            std::env::var("MP_SESSION_DATA_KEY").ok(),
        )?;
        let store = Store::connect(&config.database_url(), config.database_connections).await?;
        let owner = format!(
            "{}-{}",
            std::process::id(),
            keys.random_hex(6).map_err(|_| StartError::new("no system randomness"))?
        );
        let appid = config.wechat_appid.clone().unwrap_or_default();
        let secret = config.wechat_secret.clone().unwrap_or_default();
        let wechat = WeChat::new(&config.wechat_api_base, &appid, &secret, owner)
            .map_err(|error| StartError::new(format!("cannot build the HTTPS client: {error}")))?;
        let douyin = match (config.douyin_appid.as_deref(), config.douyin_secret.as_deref()) {
            (Some(appid), Some(secret)) if !appid.is_empty() && !secret.is_empty() => Some(
                Douyin::new(&config.douyin_api_base, appid, secret)
                    .map_err(|error| StartError::new(format!("cannot build the HTTPS client: {error}")))?,
            ),
            _ => None,
        };
        let alipay = match (
            config.alipay_appid.as_deref(),
            config.alipay_private_key.as_ref(),
            config.alipay_public_key.as_deref(),
        ) {
            (Some(appid), Some(private_key), Some(public_key)) if !appid.trim().is_empty() => Some(
                Alipay::new(&config.alipay_gateway, appid.trim(), &private_key.0, public_key).map_err(StartError)?,
            ),
            _ => None,
        };
        let signer = Signer::new(&keys);
        let limits = Limits::new(config.auth_rate_per_address, config.auth_rate_per_openid);
        let admin_token_hash = config.admin_token.as_deref().filter(|t| !t.is_empty()).map(keys::sha256_hex);
        Ok(Arc::new(App { config, store, keys, signer, wechat, douyin, alipay, clock, limits, admin_token_hash }))
    }

    pub fn is_admin(&self, presented: &str) -> bool {
        self.admin_token_hash.as_deref().is_some_and(|hash| hash == keys::sha256_hex(presented))
    }
}

/// Ended sessions are kept this long (for the operator to look at), then deleted.
pub const KEEP_ENDED_SESSIONS_S: i64 = 7 * 24 * 3600;

/// Hourly, in every process (the deletes are idempotent): ended sessions and their refresh
/// tokens, so the tables hold what is live plus a week.
async fn prune_forever(app: Arc<App>) {
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        match app.store.prune(app.clock.now() - KEEP_ENDED_SESSIONS_S).await {
            Ok((0, _)) => {}
            Ok((sessions, refresh_tokens)) => tracing::info!(sessions, refresh_tokens, "pruned ended sessions"),
            Err(error) => tracing::warn!(%error, "pruning ended sessions failed; next try in an hour"),
        }
    }
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = routes::router(app.clone());
    let pruning = tokio::spawn(prune_forever(app.clone()));
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    pruning.abort();
    app.store.close().await;
    Ok(())
}
