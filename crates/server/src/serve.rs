//! `switchboard serve`: open the store, build the routing snapshot, serve the APIs until
//! SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use switchboard_dispatch::RouterOptions;

use crate::config::Settings;
use crate::http::{self, App, auth::Keys};
use crate::service::ConfigService;

/// How often a node checks the store for other nodes' configuration writes.
const REFRESH_EVERY: Duration = Duration::from_millis(250);

pub async fn run(settings: Settings) -> Result<(), String> {
    let store = switchboard_store::open(&settings.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let options = RouterOptions {
        accept_trunkless_calls: settings.accept_trunkless_calls,
    };
    let service = ConfigService::open(store, options)
        .await
        .map_err(|e| format!("cannot load the configuration: {e}"))?;
    service.spawn_refresher(REFRESH_EVERY);
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}: {e}; choose another address with --http or [http] listen",
                settings.listen
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let keys = Keys::new(settings.keys.clone());
    println!(
        "switchboard {} listening on http://{addr} (storage: {})",
        env!("CARGO_PKG_VERSION"),
        service.store_description()
    );
    if settings.dev {
        for (k, s) in &settings.keys {
            println!(
                "development API key: {k}  secret: {s}  (use them as LIVEKIT_API_KEY / LIVEKIT_API_SECRET; not for production)"
            );
        }
    } else {
        println!("API keys: {}", keys.names().collect::<Vec<_>>().join(", "));
    }
    let app = App {
        service,
        keys: Arc::new(keys),
    };
    axum::serve(listener, http::router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("the HTTP server failed: {e}"))?;
    println!("switchboard stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
