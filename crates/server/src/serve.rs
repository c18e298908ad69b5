//! `switchboard serve`: open the store, build the routing snapshot, start the SIP listeners
//! and the call path, serve the APIs until SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use switchboard_dispatch::RouterOptions;

use switchboard_media::PortPool;

use crate::calls::CallPath;
use crate::calls::record::Recorder;
use crate::config::Settings;
use crate::http::{self, App, auth::Keys};
use crate::rooms::{RoomChange, Rooms};
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
    let service = ConfigService::open(store.clone(), options)
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
    // Agent workers' media URLs use the address a worker reached us at; this is the fallback.
    let agents = crate::agents::Agents::new(format!("ws://{addr}"));
    agents
        .reload_endpoints(&*store)
        .await
        .map_err(|e| format!("cannot load the media-stream agent endpoints: {e}"))?;
    agents.spawn_endpoint_refresher(store.clone(), crate::agents::ENDPOINTS_REFRESH_EVERY);
    let calls = start_call_path(&settings, service.clone(), store.clone(), agents.clone()).await?;
    println!(
        "switchboard {} listening on http://{addr} (storage: {})",
        env!("CARGO_PKG_VERSION"),
        service.store_description()
    );
    println!(
        "dashboard: http://{addr}/ (log in with an API key and its secret{})",
        if settings.dashboard.admin_password.is_some() {
            ", or the admin password"
        } else {
            ""
        }
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
    let dashboard = Arc::new(crate::dashboard::Dashboard::new(
        &settings.dashboard,
        &settings.keys,
    ));
    let app = App {
        dashboard,
        service,
        keys: Arc::new(keys),
        store,
        rooms: calls.rooms.clone(),
        live: calls.live.clone(),
        agents: agents.clone(),
        metrics: calls.metrics.clone(),
        live_gauges: {
            let calls = calls.clone();
            let agents = agents.clone();
            Arc::new(move || {
                let mut workers_by_agent = std::collections::BTreeMap::new();
                for w in agents.workers() {
                    *workers_by_agent.entry(w.agent_name).or_default() += 1;
                }
                crate::metrics::Live {
                    calls_by_rule: calls.live_by_rule(),
                    workers_by_agent,
                    sip: calls.sip_stats(),
                }
            })
        },
    };
    // No Nagle on the HTTP/WebSocket connections: agent audio is a stream of small frames,
    // and Nagle plus the peer's delayed ACK held them back ~40 ms (call setup at 100
    // calls/s took 50 ms instead of 2).
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        http::router(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("the HTTP server failed: {e}"))?;
    // Give the call-record writer a moment to store what is queued; calls still live are
    // closed as interrupted at the next start.
    tokio::time::sleep(crate::calls::record::FLUSH_EVERY * 20).await;
    println!("switchboard stopped");
    Ok(())
}

/// The digest nonce key: configured, or derived from the first API secret so that every
/// node sharing the keys accepts the others' nonces.
fn nonce_secret(settings: &Settings) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    if let Some(s) = &settings.call_path.nonce_secret {
        return s.as_bytes().to_vec();
    }
    let mut h = Sha256::new();
    h.update(b"switchboard sip nonce key\0");
    if let Some((k, s)) = settings.keys.iter().next() {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(s.as_bytes());
    }
    h.finalize().to_vec()
}

/// Closes the calls a previous run of this node left open, binds the SIP listeners and
/// starts taking calls.
async fn start_call_path(
    settings: &Settings,
    service: Arc<ConfigService>,
    store: Arc<dyn switchboard_store::Store>,
    agents: Arc<crate::agents::Agents>,
) -> Result<Arc<CallPath>, String> {
    let cp = &settings.call_path;
    let now = jiff::Timestamp::now().as_millisecond();
    match store.close_interrupted(&cp.node_id, now).await {
        Ok(0) => {}
        Ok(n) => println!(
            "closed {n} call(s) cut by the previous stop of node {} as interrupted",
            cp.node_id
        ),
        Err(e) => return Err(format!("cannot close the calls of the previous run: {e}")),
    }
    let (recorder, _writer) = Recorder::start(store.clone());
    let webhooks = crate::webhooks::Webhooks::start(&settings.webhooks, store.clone());
    let rooms = Arc::new(Rooms::default());
    {
        let webhooks = webhooks.clone();
        rooms.set_observer(move |change| {
            let (event, name, sid) = match change {
                RoomChange::Started { name, sid } => ("room.started", name, sid),
                RoomChange::Finished { name, sid } => ("room.finished", name, sid),
            };
            webhooks.emit(
                event,
                || serde_json::json!({"room_name": name, "room_sid": sid}),
            );
        });
    }
    let ports = Arc::new(PortPool::new(cp.rtp_ports.0, cp.rtp_ports.1).map_err(|e| {
        format!(
            "RTP port range {}-{} is not usable: {e}; set [media] rtp_ports or --rtp-ports",
            cp.rtp_ports.0, cp.rtp_ports.1
        )
    })?);
    let (sip, incoming) = switchboard_sip::transport::start(switchboard_sip::transport::TransportConfig {
        udp: cp.sip_udp.clone(),
        tcp: cp.sip_tcp.clone(),
        ..Default::default()
    })
    .await
    .map_err(|e| {
        format!(
            "cannot listen for SIP on udp {:?} / tcp {:?}: {e}; choose other addresses with --sip or [sip] udp / tcp",
            cp.sip_udp, cp.sip_tcp
        )
    })?;
    let udp: Vec<String> = sip.local_udp().iter().map(|a| a.to_string()).collect();
    let tcp: Vec<String> = sip.local_tcp().iter().map(|a| a.to_string()).collect();
    println!(
        "SIP on udp {} tcp {}; RTP ports {}-{} on {} (node {})",
        if udp.is_empty() {
            "-".into()
        } else {
            udp.join(",")
        },
        if tcp.is_empty() {
            "-".into()
        } else {
            tcp.join(",")
        },
        cp.rtp_ports.0,
        cp.rtp_ports.1,
        cp.advertise_ip,
        cp.node_id
    );
    let path = Arc::new(CallPath::new(
        service,
        store,
        rooms,
        recorder,
        cp.clone(),
        ports,
        Arc::new(crate::metrics::Metrics::default()),
        agents,
        webhooks,
        &nonce_secret(settings),
    ));
    path.set_sip(sip);
    tokio::spawn(path.clone().run(incoming));
    Ok(path)
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
