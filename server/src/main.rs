//! `mp-session-server`: see `--help`, and "Deploying the server" in the README.

use clap::Parser;
use mp_session_server::config::Config;
use mp_session_server::{serve, App, Clock};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let logs = tracing_subscriber::fmt().with_target(false);
    if config.log_format == "json" {
        logs.json().with_current_span(false).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())).init();
    }
    let listen = config.listen;
    let app = match App::start(config, Clock::System).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("mp-session-server: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("mp-session-server: cannot listen on {listen}: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    // The bound address, not the configured one: with --listen 127.0.0.1:0 this is the port.
    let bound = listener.local_addr().map_or_else(|_| listen.to_string(), |addr| addr.to_string());
    tracing::info!(listen = %bound, database = app.store.kind, "listening");
    match serve(listener, app, shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped: requests in flight finished");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("mp-session-server: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// SIGTERM (what a supervisor sends) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
