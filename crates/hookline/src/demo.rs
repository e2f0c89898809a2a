//! `hookline demo`: a server on a throwaway store, one signed delivery of every trigger kind sent to it over
//! HTTP, a summary of what was stored, then serving until Ctrl-C so the newcomer can go on by hand.

mod summary;

use std::process::ExitCode;

use anyhow::Context;
use hookline_meta::{ParseOptions, Secret};
use hookline_server::{Config, Server};
use hookline_store::{DeliveryQuery, EventStore, Outcome};
use tokio::net::TcpListener;

use crate::{logging, signal, trigger};
use summary::Summary;

/// Try hookline in one command: serve on a temporary store, send one signed test delivery of every kind
/// through the real HTTP path, print what was stored, and keep serving until Ctrl-C.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to serve on; when its port is taken, a free port on the same host is used.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,

    /// Keep the store at this URL (sqlite://PATH) instead of a temporary file removed on exit.
    #[arg(long)]
    database: Option<String>,

    /// Print the summary and exit instead of serving until Ctrl-C.
    #[arg(long)]
    exit_after_summary: bool,

    #[command(flatten)]
    log: logging::LogArgs,
}

/// The demo server's credentials: printed, so the commands it suggests can be pasted as they are.
const SECRET: &str = "demo-secret";
const VERIFY_TOKEN: &str = "demo-token";
/// The demo server's admin token: the inspector's sign-in and the admin API's bearer token.
const ADMIN_TOKEN: &str = "demo-admin";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Only warnings: the demo's own output is the summary.
    logging::init_with_default(&args.log, "warn")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")?;
    runtime.block_on(demo(args))
}

async fn demo(args: Args) -> anyhow::Result<ExitCode> {
    let temp = tempfile::tempdir().context("while creating a temporary directory for the store")?;
    let database = match &args.database {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", temp.path().join("demo.db").display()),
    };
    let mut config = Config::with_secret(SECRET);
    config.database = database.clone();
    config.verify_token = vec![Secret::new(VERIFY_TOKEN)];
    config.admin_token = Some(Secret::new(ADMIN_TOKEN));
    config.app_id = vec![hookline_trigger::TEMPLATE_APP_ID.to_owned()];
    let listener = bind(&args.listen).await?;
    let server = Server::bind(&config, listener).await?;
    let base = format!("http://{}", server.local_addr()?);
    let url = format!("{base}/webhook");
    let store = server.store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    println!("hookline demo: serving {url}, store {database}\n");
    send_every_kind(&url).await?;
    let summary = summarise(store.as_ref(), &config.app_id).await?;
    println!("\n{summary}");
    println!("Inspector: {base}/  (sign in with the admin token {ADMIN_TOKEN})\n");

    if !args.exit_after_summary {
        print_next_steps(&url, &database, args.database.is_none());
        signal::stop_requested().await;
    }
    let _ = stop.send(());
    serving.await.context("the server task failed")??;
    Ok(ExitCode::SUCCESS)
}

/// Binds `listen`, or a free port on its host when that port is taken (another hookline, say).
async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(listen).await {
        Ok(listener) => Ok(listener),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            let host = listen.rsplit_once(':').map_or(listen, |(host, _)| host);
            TcpListener::bind((host, 0)).await.with_context(|| {
                format!("cannot listen on {host}: choose an address with --listen")
            })
        }
        Err(err) => Err(err)
            .with_context(|| format!("cannot listen on {listen}: choose an address with --listen")),
    }
}

/// POSTs one signed delivery of every trigger kind, in catalog order; any refusal stops the demo.
async fn send_every_kind(url: &str) -> anyhow::Result<()> {
    let client = trigger::client()?;
    let catalog = hookline_trigger::catalog();
    for kind in catalog {
        let built = hookline_trigger::build(kind, &hookline_trigger::Params::default())
            .with_context(|| format!("while building a {} delivery", kind.name))?;
        trigger::send(&client, url, SECRET, built.body)
            .await
            .with_context(|| format!("the demo server refused its {} delivery", kind.name))?;
    }
    println!(
        "Sent {n} signed deliveries, one per trigger kind (`hookline trigger --list`): {n} answered 200.",
        n = catalog.len()
    );
    Ok(())
}

/// Reads every accepted delivery back and counts the distinct events in them.
async fn summarise(store: &dyn EventStore, own_app_ids: &[String]) -> anyhow::Result<Summary> {
    let options = ParseOptions {
        own_app_ids: own_app_ids.to_vec(),
    };
    let mut summary = Summary::default();
    let mut after_id = None;
    loop {
        let page = store
            .list_deliveries(DeliveryQuery {
                outcome: Some(Outcome::Accepted),
                after_id,
                limit: 500,
                with_body: true,
                ..DeliveryQuery::default()
            })
            .await
            .context("while reading the demo's deliveries back")?;
        for delivery in &page {
            summary.deliveries += 1;
            let body = delivery.body.as_deref().unwrap_or_default();
            for event in hookline_meta::parse_with(body, &options).unwrap_or_default() {
                summary.add(&event);
            }
        }
        match page.last() {
            Some(last) => after_id = Some(last.id),
            None => break,
        }
    }
    Ok(summary)
}

fn print_next_steps(url: &str, database: &str, temporary: bool) {
    println!("Go on by hand while it runs, from another terminal:");
    let steps = [
        (
            "send another event (`hookline trigger --list` shows every kind)",
            format!("hookline trigger message --to {url} --secret {SECRET} --text 'hello'"),
        ),
        (
            "follow new events as they are stored",
            format!("hookline tail --database {database}"),
        ),
        (
            "list everything stored",
            format!("hookline events list --database {database}"),
        ),
        (
            "load it with unique signed deliveries for 10 s",
            format!("hookline load --url {url} --secret {SECRET}"),
        ),
        (
            "answer Meta's subscription check",
            format!(
                "curl '{url}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42'"
            ),
        ),
    ];
    for (why, command) in steps {
        println!("  # {why}\n  {command}");
    }
    if temporary {
        println!(
            "\nCtrl-C stops the server and deletes the temporary store (keep one with --database)."
        );
    } else {
        println!("\nCtrl-C stops the server.");
    }
}
