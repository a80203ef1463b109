//! The `polis` subcommands.

mod keys;

use std::process::ExitCode;

use anyhow::Context;

use crate::auth::api_keys;
use crate::clock::{Clock, SystemClock};
use crate::config::{
    ApiKeyCommand, ClerkImportArgs, Cli, Command, ExportCommand, ImportCommand, ReconcileCommand,
    ScopeArg, Settings,
};
use crate::domain::ApiKeyScope;
use crate::store::{self, ApiKeyRecord, Store};
use crate::{telemetry, AppState};

pub async fn run(cli: Cli) -> ExitCode {
    telemetry::init(cli.settings.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.settings).await,
        Command::Migrate => migrate(&cli.settings).await,
        Command::ApiKeys(command) => api_key_command(&cli.settings, command).await,
        Command::Import(ImportCommand::Clerk(args)) => import_clerk(&cli.settings, args).await,
        Command::Export(ExportCommand::Clerk(args)) => {
            crate::import::command::export_clerk(args).await
        }
        Command::Keys(command) => keys::run(&cli.settings, command).await,
        Command::Reconcile(ReconcileCommand::Identities) => {
            reconcile_identities(&cli.settings).await
        }
        Command::Openapi => {
            println!("{}", crate::http::openapi_json());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("polis: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open_store(settings: &Settings) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let store = store::connect_with(&settings.database_url, &settings.pool()).await?;
    store.migrate().await?;
    Ok(store)
}

async fn import_clerk(settings: &Settings, args: ClerkImportArgs) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    crate::import::command::import_clerk(store, settings, args).await
}

/// The periodic jobs of `polis serve`: event retention, and identity reconciliation when
/// configured.
fn start_housekeeping(state: &AppState) {
    crate::retention::start_event_pruner(state);
    if state.settings.reconcile_interval > 0 {
        let interval = std::time::Duration::from_secs(state.settings.reconcile_interval);
        crate::reconcile::start_periodic(state, interval);
    }
}

/// `polis reconcile identities`: one pass, its report on stdout.
async fn reconcile_identities(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let kratos = crate::auth::kratos::KratosClient::new(settings, settings.kratos_timeout())?;
    let report =
        crate::reconcile::reconcile_identities(store.as_ref(), &kratos, &SystemClock).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    open_store(settings).await?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    tracing::info!(settings = ?settings, "starting polis");
    let store = open_store(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let metrics_listener = bind_metrics(&settings).await?;
    let state = AppState::new(store, settings)?;
    start_housekeeping(&state);
    if let Some(metrics_listener) = metrics_listener {
        serve_metrics(metrics_listener, &state)?;
    }
    crate::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

async fn bind_metrics(settings: &Settings) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Some(addr) = settings.metrics_listen_addr.0 else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics listener on {addr}"))?;
    Ok(Some(listener))
}

/// Serves metrics in the background until shutdown begins.
fn serve_metrics(listener: tokio::net::TcpListener, state: &AppState) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "metrics at /metrics/prometheus");
    let lifecycle = state.lifecycle.clone();
    tokio::spawn(crate::serve_metrics(
        listener,
        state.metrics.clone(),
        async move { lifecycle.draining().await },
    ));
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn api_key_command(settings: &Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match command {
        ApiKeyCommand::Create { name, scope } => {
            let scope = match scope {
                ScopeArg::Admin => ApiKeyScope::Admin,
                ScopeArg::Read => ApiKeyScope::Read,
            };
            let key = api_keys::generate();
            store
                .create_api_key(ApiKeyRecord {
                    id: key.id,
                    name: name.clone(),
                    scope,
                    secret_hash: key.secret_hash,
                    created_at: SystemClock.now(),
                    revoked_at: None,
                })
                .await?;
            eprintln!(
                "Created API key {} ({name}, scope {}). It is shown once; store it now:",
                key.id,
                scope.as_str()
            );
            println!("{}", key.plaintext);
        }
        ApiKeyCommand::List => {
            println!(
                "{:<36}  {:<6}  {:<8}  {:<25}  NAME",
                "ID", "SCOPE", "STATUS", "CREATED"
            );
            for key in store.list_api_keys().await? {
                let status = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<36}  {:<6}  {:<8}  {:<25}  {}",
                    key.id,
                    key.scope.as_str(),
                    status,
                    key.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    key.name
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            if store.revoke_api_key(id, SystemClock.now()).await? {
                eprintln!("Revoked API key {id}.");
            } else {
                anyhow::bail!("no active API key with id {id}");
            }
        }
    }
    Ok(())
}
