//! `hookline trigger KIND`: build a realistic delivery of any event kind, sign it and POST it the way Meta
//! does, or print it. [`send`] is the POST, for other commands that deliver (`demo`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use hookline_meta::signature;
use hookline_trigger::{Built, Kind, Params, app_id_sets, build, catalog, find};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};

/// Where `trigger` posts by default: `hookline serve` with its default listen address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/webhook";

/// The `User-Agent` Meta's webhook deliveries carry.
pub const META_USER_AGENT: &str = "facebookexternalua";

/// The `Facebook-API-Version` sent with deliveries: the version seen on a captured Meta delivery.
pub const META_API_VERSION: &str = "v23.0";

/// Send a realistic webhook delivery of any kind, signed like Meta's, to a receiver.
///
/// The body is built from a template of the kind (`--list` shows them all) with fresh message ids and the
/// current time, so every call is a distinct event. It is encoded exactly as Meta encodes deliveries
/// (compact, lowercase \uXXXX escapes, \/), signed with HMAC-SHA256 of those bytes and POSTed with Meta's
/// headers (X-Hub-Signature-256, X-Hub-Signature, Facebook-API-Version, User-Agent: facebookexternalua).
/// The answer's status and one line per event sent (kind, mid or field, dedup key) are printed. A non-2xx
/// answer is printed with a hint and exits 1.
///
/// With --print nothing is sent: the body's exact bytes go to standard output (no newline added) and,
/// when a secret is given, the line `X-Hub-Signature-256: sha256=...` to standard error.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    hookline trigger message --secret S\n  \
    hookline trigger instagram.story_mention --user 6841123456789012 --to https://example.org/webhook\n  \
    hookline trigger echo.page_inbox --text 'On its way!'\n  \
    hookline trigger message.image --set message.attachments.0.payload.url=https://example.org/cat.png\n  \
    hookline trigger read --batch 50\n  \
    hookline trigger message --print --secret S > body.json 2> signature.txt")]
pub struct Args {
    /// The kind to send: message, message.image, echo.page_inbox, standby.read, instagram.story_mention,
    /// ... (see --list).
    #[arg(required_unless_present = "list")]
    kind: Option<String>,

    /// List every kind with its object and a line of description, and exit.
    // Not `exclusive`: clap would then refuse --list whenever HOOKLINE_APP_SECRET is set.
    #[arg(long, conflicts_with = "kind")]
    list: bool,

    /// The webhook URL to POST to.
    #[arg(long, value_name = "URL", default_value = DEFAULT_URL)]
    to: String,

    /// The app secret to sign with: the receiver's HOOKLINE_APP_SECRET (of a comma-separated list, the
    /// first is used). Required unless --print.
    #[arg(long, env = "HOOKLINE_APP_SECRET", hide_env_values = true)]
    secret: Option<String>,

    /// The Page or Instagram account id, in place of the template's wherever it appears.
    #[arg(long, value_name = "ID")]
    page: Option<String>,

    /// The user id (PSID or IGSID; for chat and checkbox plugin kinds the user_ref), as sender, or as
    /// recipient of echoes.
    #[arg(long, value_name = "ID")]
    user: Option<String>,

    /// The message text (or the echo's, edit's or comment's). An error for kinds without text.
    #[arg(long)]
    text: Option<String>,

    /// Set one field: a dot path relative to the event (message.text=hi,
    /// message.attachments.0.payload.url=https://...) or, starting with entry or object, to the body.
    /// VALUE is JSON when it parses as JSON, else a string. Repeatable; applied last.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,

    /// Send N distinct events of the kind in one POST, one entry each, as Meta batches (at most 1000).
    #[arg(long, value_name = "N", default_value_t = 1)]
    batch: usize,

    /// Write the body to standard output and the signature to standard error instead of sending.
    #[arg(long)]
    print: bool,

    /// The receiver's own app id (the first of a comma-separated list): echoes and handovers of "this
    /// app" carry it, so the receiver classifies them as its own.
    #[arg(long = "app-id", env = "HOOKLINE_APP_ID", value_delimiter = ',')]
    app_ids: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        match print_list(&mut std::io::stdout().lock()) {
            // `hookline trigger --list | head` closes the pipe early; that is not a failure.
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(err).context("while writing the list");
            }
            _ => return Ok(ExitCode::SUCCESS),
        }
    }
    let name = args.kind.as_deref().unwrap_or_default();
    let kind = find(name)?;
    let built = build(kind, &params(kind, &args))?;
    let secret = first(args.secret.as_deref());
    if args.print {
        return print(&built, secret);
    }
    let secret = secret.ok_or_else(|| {
        anyhow!(
            "no app secret to sign with: pass --secret S or set HOOKLINE_APP_SECRET to the secret the \
             receiver checks (for `hookline serve`, its --app-secret); or use --print to see the body"
        )
    })?;
    let client = client()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")?;
    let status = runtime.block_on(send(&client, &args.to, secret, built.body.clone()))?;
    println!("POST {} -> {status}", args.to);
    print_events(&built.body);
    Ok(ExitCode::SUCCESS)
}

fn params(kind: &Kind, args: &Args) -> Params {
    let mut sets = match first(args.app_ids.first().map(String::as_str)) {
        Some(app_id) => app_id_sets(kind, app_id),
        None => Vec::new(),
    };
    sets.extend(args.sets.iter().cloned());
    Params {
        page: args.page.clone(),
        user: args.user.clone(),
        text: args.text.clone(),
        sets,
        batch: args.batch,
        users: None,
    }
}

/// The first non-empty item of a comma-separated list.
fn first(list: Option<&str>) -> Option<&str> {
    list?
        .split(',')
        .map(str::trim)
        .find(|item| !item.is_empty())
}

/// Every kind, aligned: name, object, description.
fn print_list(out: &mut impl Write) -> std::io::Result<()> {
    let width = catalog().iter().map(|k| k.name.len()).max().unwrap_or(0);
    for kind in catalog() {
        writeln!(
            out,
            "{:width$}  {:9}  {}",
            kind.name, kind.object, kind.description
        )?;
    }
    Ok(())
}

/// `--print`: the exact body on stdout, the signature header on stderr.
fn print(built: &Built, secret: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&built.body)
        .context("while writing the body")?;
    stdout.flush().context("while writing the body")?;
    if let Some(secret) = secret {
        eprintln!(
            "{}: {}",
            signature::HEADER_SHA256,
            signature::sign(secret.as_bytes(), &built.body)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per event: kind, mid (or a change's field), dedup key.
fn print_events(body: &[u8]) {
    let events = hookline_meta::parse(body).unwrap_or_default();
    let width = events
        .iter()
        .map(|e| e.kind_name().len())
        .max()
        .unwrap_or(0);
    for event in &events {
        let what = event.mid().or(event.field()).unwrap_or("-");
        println!(
            "  {:width$}  {what}  {}",
            event.kind_name(),
            event.dedup_key()
        );
    }
}

/// An HTTP client for [`send`].
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("while setting up the HTTP client")
}

/// POSTs `body` to `url` as Meta delivers webhooks: `Content-Type: application/json`, the body's
/// `X-Hub-Signature-256` (and legacy `X-Hub-Signature`) under `secret`, `Facebook-API-Version` and
/// `User-Agent: facebookexternalua`. The body must already be in Meta's wire form (as
/// `hookline_trigger::build` makes it); it is sent byte for byte.
///
/// Returns the status of a 2xx answer. Any other answer is an error holding the status, the answer's
/// body and a hint (a 401 means `secret` is not the receiver's app secret); an unreachable `url` is an
/// error naming it and suggesting `hookline serve`.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: Vec<u8>,
) -> anyhow::Result<StatusCode> {
    let sha256 = signature::sign(secret.as_bytes(), &body);
    let sha1 = signature::sign_sha1(secret.as_bytes(), &body);
    let response = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(signature::HEADER_SHA256, sha256)
        .header(signature::HEADER_SHA1, sha1)
        .header("Facebook-API-Version", META_API_VERSION)
        .header(USER_AGENT, META_USER_AGENT)
        .body(body)
        .send()
        .await
        .map_err(|err| unreachable(url, &err))?;
    let status = response.status();
    if status.is_success() {
        return Ok(status);
    }
    let answer = response.text().await.unwrap_or_default();
    let answer: String = answer.trim().chars().take(2000).collect();
    let mut message = if answer.is_empty() {
        format!("{url} answered {status} with an empty body")
    } else {
        format!("{url} answered {status}: {answer}")
    };
    if let Some(hint) = hint(status) {
        message.push_str("\nhint: ");
        message.push_str(hint);
    }
    Err(anyhow!(message))
}

fn unreachable(url: &str, err: &reqwest::Error) -> anyhow::Error {
    let cause = root_cause(err);
    if err.is_builder() {
        return anyhow!("--to `{url}` is not a URL hookline can POST to: {cause}");
    }
    if err.is_timeout() {
        return anyhow!("{url} did not answer within 30 s: {cause}");
    }
    anyhow!(
        "cannot connect to {url}: {cause}\nhint: is `hookline serve` running there? Start it (hookline serve \
         --app-secret S) or point --to at your receiver"
    )
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn hint(status: StatusCode) -> Option<&'static str> {
    Some(match status.as_u16() {
        401 => {
            "the receiver refused the signature: the secret used here (--secret or HOOKLINE_APP_SECRET) differs \
             from the receiver's HOOKLINE_APP_SECRET (`hookline serve --app-secret`)"
        }
        404 | 405 => {
            "no webhook at this path: `hookline serve` receives deliveries on /webhook and /webhook/{app}"
        }
        413 => {
            "the body is larger than the receiver accepts: send fewer events with a smaller --batch"
        }
        503 => {
            "the receiver could not store the delivery just now (Meta would retry): try again shortly"
        }
        _ => return None,
    })
}
