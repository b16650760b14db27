//! `meshward`: the library's checks for services in any language, behind a proxy's
//! forward-auth call, configured by one TOML file (see the agent's README).
//!
//! ```text
//! meshward check meshward.toml   # read and check everything, say what would be served
//! meshward serve meshward.toml   # serve it
//! ```
#![forbid(unsafe_code)]

mod admin;
mod config;
mod decide;
mod forward_auth;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// meshward: authentication and authorization for services in any language, answering a
/// proxy's forward-auth call (nginx `auth_request`, Caddy `forward_auth`, Traefik
/// `ForwardAuth`). Logs go to stderr; set their level with RUST_LOG (default `info`).
#[derive(Parser)]
#[command(name = "meshward", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reads and checks the configuration file, loads every key and rules file, and says
    /// what it would serve. Exits 1 on the first mistake, naming the file, line and field.
    Check {
        /// The configuration file (TOML).
        file: PathBuf,
    },
    /// Serves the configuration file's listeners until interrupted (Ctrl-C or SIGTERM).
    Serve {
        /// The configuration file (TOML).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Check { file } => check(&file),
        Command::Serve { file } => serve(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("meshward: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load(file: &std::path::Path) -> Result<(Config, decide::Built), String> {
    let config = Config::load(file).map_err(|e| e.to_string())?;
    let built = decide::build(&config, &file.display().to_string()).map_err(|e| e.to_string())?;
    Ok((config, built))
}

fn check(file: &std::path::Path) -> Result<(), String> {
    let (config, built) = load(file)?;
    println!("{}: valid", file.display());
    for line in &built.summary {
        println!("  {line}");
    }
    if let Some(f) = &config.listeners.forward_auth {
        let proxies: Vec<String> = f.trusted_proxies.iter().map(ToString::to_string).collect();
        println!(
            "  forward-auth on {} for the proxies {}",
            f.listen,
            proxies.join(", ")
        );
    }
    if let Some(admin) = &config.listeners.admin {
        println!("  admin (/healthz, /readyz) on {}", admin.listen);
    }
    Ok(())
}

fn serve(file: &std::path::Path) -> Result<(), String> {
    let (config, built) = load(file)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(run(config, built))
}

async fn run(config: Config, built: decide::Built) -> Result<(), String> {
    let Some(forward) = config.listeners.forward_auth else {
        return Err("nothing to serve: add [listeners.forward_auth]".into());
    };
    let endpoint = Arc::new(forward_auth::Endpoint {
        engine: built.engine,
        trusted: forward.trusted_proxies,
    });
    let app = axum::Router::new()
        .fallback(forward_auth::check)
        .with_state(endpoint);
    let listener = tokio::net::TcpListener::bind(forward.listen)
        .await
        .map_err(|e| format!("listeners.forward_auth.listen {}: {e}", forward.listen))?;
    tracing::info!(target: "meshward::agent", listen = %forward.listen, "forward-auth listening");
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("forward-auth: {e}"))
    });
    if let Some(admin) = config.listeners.admin {
        let listener = tokio::net::TcpListener::bind(admin.listen)
            .await
            .map_err(|e| format!("listeners.admin.listen {}: {e}", admin.listen))?;
        tracing::info!(target: "meshward::agent", listen = %admin.listen, "admin listening");
        tasks.spawn(async move {
            axum::serve(listener, admin::routes())
                .with_graceful_shutdown(shutdown())
                .await
                .map_err(|e| format!("admin: {e}"))
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| format!("a listener stopped: {e}"))??;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
