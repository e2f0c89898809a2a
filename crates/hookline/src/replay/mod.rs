//! `hookline replay`: POST stored deliveries again, byte for byte, to another webhook receiver (a
//! second hookline, a staging app, a local handler), oldest first; or, with `--to-sink`, queue stored
//! events again for one of the configured sinks ([`to_sink`]).
//!
//! Each body goes out exactly as it was stored, with the signature header it arrived with, so a receiver
//! with the same app secret verifies it as Meta's own; `--secret` re-signs instead, for a receiver that
//! has a development secret. The outcome of every POST is counted in [`tally`], which also writes the
//! summary.

mod tally;
mod to_sink;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hookline_meta::signature::{HEADER_SHA1, HEADER_SHA256, sign};
use hookline_store::{DeliveryQuery, EventStore, Outcome, StoredDelivery};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;

use crate::store::{StoreArgs, open_existing, runtime};
use crate::time::parse_ago_or_rfc3339;
use tally::{Sent, Tally};

/// Re-send stored deliveries to a webhook URL, oldest first, each body byte for byte; or queue stored
/// events again for a configured sink (--to-sink).
///
/// With --to, every delivery keeps its original X-Hub-Signature-256 (and Facebook-API-Version and
/// User-Agent), so the receiver must have the app secret that signed it; with --secret each body is
/// signed again with that secret instead. Quarantined deliveries (correctly signed, not JSON) are sent
/// too unless --skip-quarantined. Exits 1 when any POST was not answered 2xx, listing the first ones.
///
/// With --to-sink NAME and --config FILE, the stored events the sink has already dealt with (up to its
/// cursor) that its filter accepts are put in its outbox, due at once; the sink's worker in
/// `hookline serve` delivers them. --since, --until and --kind then choose events by their own time
/// and kind.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("target")
        .args(["to", "to_sink"])
        .required(true)
        .multiple(false)
))]
pub struct Args {
    /// Store URL, as given to `hookline serve` [default: with --to-sink the config file's database,
    /// else sqlite://hookline.db].
    #[arg(long, env = "HOOKLINE_DATABASE")]
    database: Option<String>,

    /// The receiver's webhook URL, e.g. http://127.0.0.1:8081/webhook (or give --to-sink instead).
    #[arg(long, value_name = "URL")]
    to: Option<reqwest::Url>,

    /// A [[sink]] of the config file to queue stored events for again (or give --to instead).
    #[arg(long, value_name = "NAME", requires = "config")]
    to_sink: Option<String>,

    /// The config file `hookline serve` runs with, which defines the --to-sink sink.
    #[arg(long, value_name = "FILE", env = "HOOKLINE_CONFIG")]
    config: Option<PathBuf>,

    /// Only deliveries received at or after this time (with --to-sink: events whose own time is at or
    /// after it): RFC 3339 (2026-01-05T10:00:00Z) or a duration ago (2h, 30m, 7days).
    #[arg(long, value_name = "TIME", value_parser = parse_ago_or_rfc3339)]
    since: Option<i64>,

    /// Only deliveries received before this time (with --to-sink: events whose own time is before it);
    /// same forms as --since.
    #[arg(long, value_name = "TIME", value_parser = parse_ago_or_rfc3339)]
    until: Option<i64>,

    /// Only deliveries holding at least one event of this kind (message, reaction, ...; with --to-sink:
    /// only events of this kind); repeat or separate with commas for several.
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    kind: Vec<String>,

    /// Sign each body with this app secret instead of sending its original signature.
    #[arg(long, env = "HOOKLINE_REPLAY_SECRET", hide_env_values = true)]
    secret: Option<String>,

    /// Leave out quarantined deliveries.
    #[arg(long)]
    skip_quarantined: bool,

    /// POSTs in flight at once; above 1 the receiver may see them out of order.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,

    /// How long one POST may take.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// Deliveries read per query: bodies can be large (up to the server's 8 MiB cap).
const PAGE: usize = 64;

/// The store `hookline serve` uses when neither --database, HOOKLINE_DATABASE nor a config file says.
const DEFAULT_DATABASE: &str = "sqlite://hookline.db";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let (Some(since), Some(until)) = (args.since, args.until) {
        anyhow::ensure!(
            since < until,
            "--since is not before --until, so nothing can be in between"
        );
    }
    let Some(to) = args.to.clone() else {
        return to_sink::run(&args);
    };
    if args.secret.as_deref() == Some("") {
        anyhow::bail!("--secret is empty; give the app secret the receiver verifies with");
    }
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
    let store = open_existing(&StoreArgs { database })?;
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .build()
        .context("while setting up the HTTP client")?;
    let tally = runtime()?.block_on(async {
        let replayed = Replay::new(&args, to.clone(), client)
            .run(store.as_ref())
            .await;
        store.close().await;
        replayed
    })?;
    eprint!("{}", tally.summary(to.as_str(), args.secret.is_some()));
    Ok(if tally.all_accepted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One run of the command.
struct Replay<'a> {
    args: &'a Args,
    /// The receiver's webhook URL.
    to: reqwest::Url,
    client: reqwest::Client,
    progress: ProgressBar,
}

impl<'a> Replay<'a> {
    fn new(args: &'a Args, to: reqwest::Url, client: reqwest::Client) -> Self {
        let progress = if std::io::stderr().is_terminal() {
            let style = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} deliveries, {per_sec}, eta {eta} {msg}",
            )
            .expect("the template is valid");
            ProgressBar::new(0).with_style(style)
        } else {
            ProgressBar::hidden()
        };
        Replay {
            args,
            to,
            client,
            progress,
        }
    }

    fn query(&self, after_id: Option<i64>, with_body: bool) -> DeliveryQuery {
        DeliveryQuery {
            outcome: self.args.skip_quarantined.then_some(Outcome::Accepted),
            after_id,
            received_from_ms: self.args.since,
            received_until_ms: self.args.until,
            limit: if with_body { PAGE } else { 10_000 },
            with_body,
            ..DeliveryQuery::default()
        }
    }

    async fn run(&self, store: &dyn EventStore) -> anyhow::Result<Tally> {
        if !self.progress.is_hidden() {
            self.progress.set_length(self.count(store).await?);
        }
        let mut tally = Tally::default();
        let mut in_flight = JoinSet::new();
        let mut after = None;
        loop {
            let page = store
                .list_deliveries(self.query(after, true))
                .await
                .context("while reading deliveries")?;
            after = page.last().map(|d| d.id);
            let end = page.len() < PAGE;
            for delivery in page {
                if tally.receiver_unreachable() {
                    break;
                }
                if !self.wanted(&delivery) {
                    tally.skipped += 1;
                    self.progress.inc(1);
                    continue;
                }
                let request = self.request(&delivery, tally.started)?;
                in_flight.spawn(send(request, delivery.id));
                tally.started += 1;
                while in_flight.len() >= usize::from(self.args.concurrency) {
                    self.finish(&mut tally, in_flight.join_next().await)?;
                }
            }
            if end || tally.receiver_unreachable() {
                break;
            }
        }
        while let Some(done) = in_flight.join_next().await {
            self.finish(&mut tally, Some(done))?;
        }
        self.progress.finish_and_clear();
        Ok(tally)
    }

    fn finish(
        &self,
        tally: &mut Tally,
        done: Option<Result<Sent, tokio::task::JoinError>>,
    ) -> anyhow::Result<()> {
        if let Some(done) = done {
            tally.record(done.context("a POST stopped before it was answered")?);
            self.progress.inc(1);
            self.progress.set_message(tally.statuses());
        }
        Ok(())
    }

    /// Deliveries in the window, for the progress bar's length (ids only, no bodies).
    async fn count(&self, store: &dyn EventStore) -> anyhow::Result<u64> {
        let mut count = 0;
        let mut after = None;
        loop {
            let query = self.query(after, false);
            let limit = query.limit;
            let page = store.list_deliveries(query).await?;
            count += page.len() as u64;
            after = page.last().map(|d| d.id);
            if page.len() < limit {
                return Ok(count);
            }
        }
    }

    /// Whether `delivery` holds an event of a wanted kind (or no kind was asked for).
    fn wanted(&self, delivery: &StoredDelivery) -> bool {
        if self.args.kind.is_empty() {
            return true;
        }
        let body = delivery.body.as_deref().unwrap_or_default();
        // A quarantined body has no events, so it holds no kind.
        hookline_meta::parse(body).is_ok_and(|events| {
            events
                .iter()
                .any(|e| self.args.kind.iter().any(|k| k == e.kind_name()))
        })
    }

    /// The POST of `delivery`: its exact body and the headers Meta sent with it.
    fn request(
        &self,
        delivery: &StoredDelivery,
        sent_before: usize,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let body = delivery.body.clone().unwrap_or_default();
        let (header, signature) = match (&self.args.secret, &delivery.signature) {
            (Some(secret), _) => (HEADER_SHA256, sign(secret.as_bytes(), &body)),
            (None, Some(stored)) if stored.starts_with("sha1=") => (HEADER_SHA1, stored.clone()),
            (None, Some(stored)) => (HEADER_SHA256, stored.clone()),
            (None, None) => anyhow::bail!(
                "delivery {} was stored without a signature header, so it cannot be sent as it came; \
                 pass --secret to sign it with the receiver's app secret ({sent_before} deliveries \
                 were sent before it)",
                delivery.id
            ),
        };
        let mut request = self
            .client
            .post(self.to.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(header, signature)
            .header(
                reqwest::header::USER_AGENT,
                delivery.user_agent.as_deref().unwrap_or("hookline-replay"),
            );
        if let Some(version) = &delivery.api_version {
            request = request.header("Facebook-API-Version", version);
        }
        Ok(request.body(body))
    }
}

/// POSTs one delivery and reads the answer.
async fn send(request: reqwest::RequestBuilder, delivery_id: i64) -> Sent {
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            Sent::answered(delivery_id, status, &body)
        }
        Err(err) => Sent::failed(delivery_id, err),
    }
}
