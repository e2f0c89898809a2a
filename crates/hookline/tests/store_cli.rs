//! `hookline migrate`, `hookline check` and `hookline serve --no-migrate`, run as the real binary against
//! SQLite files whose schema version is read and set behind the binary's back (`PRAGMA user_version`),
//! and against PostgreSQL when `HOOKLINE_TEST_POSTGRES_URL` names a server (each test in a schema of its
//! own, dropped afterwards with `psql`). Without that variable the PostgreSQL tests print why and pass,
//! unless `HOOKLINE_REQUIRE_SERVICES=1`, which makes that a failure.
#![cfg(unix)]

mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use hookline_store::StoreUrl;
use serde_json::Value;
use support::{PostgresSchema, Sandbox, hookline, hookline_command};

/// The schema version this build writes, as the store reports it for a URL of that backend.
fn current(url: &str) -> u32 {
    hookline_store::current_schema_version(&StoreUrl::parse(url).unwrap())
}

fn user_version(path: &Path) -> u32 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

fn set_user_version(path: &Path, version: u32) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "hookline failed with {}:\n{}{}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

fn failed(output: &Output) -> (String, String) {
    assert!(
        !output.status.success(),
        "hookline should have failed:\n{}{}",
        stdout(output),
        stderr(output)
    );
    (stdout(output), stderr(output))
}

/// A config file with a secret, an `[[app]]` and two sinks (never contacted by `check`).
fn config_file(sandbox: &Sandbox, database: &str) -> String {
    let path = sandbox.path().join("hookline.toml");
    std::fs::write(
        &path,
        format!(
            r#"database = "{database}"
app_secret = ["new", "old"]
verify_token = "tok"

[[app]]
name = "shop"
app_secret = "shop-secret"

[[sink]]
name = "crm"
type = "http"
url = "http://127.0.0.1:9/hooks"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[[sink]]
name = "bus"
type = "nats"
url = "nats://127.0.0.1:9"
"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// `hookline check --json ...` as its JSON object, whatever the exit status.
fn check_json(args: &[&str]) -> (bool, Value) {
    let mut all = vec!["check", "--json"];
    all.extend(args);
    let output = hookline(&all);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}{}", stdout(&output), stderr(&output)));
    (output.status.success(), report)
}

/// Runs `hookline serve ARGS` on a free port, expecting it to exit by itself (it is killed, and the test
/// fails, if it is still running after 20 s, i.e. if it started serving).
fn serve_expecting_exit(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = hookline_command()
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .current_dir(sandbox.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "hookline serve {args:?} was still running after 20 s:\n{}",
                stderr(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn migrate_creates_a_new_sqlite_file_at_the_current_version_then_says_up_to_date() {
    let sandbox = Sandbox::new();
    let url = sandbox.store_url("new.db");
    let path = sandbox.path().join("new.db");
    let version = current(&url);
    assert!(version >= 1);

    let first = succeeded(&hookline(&["migrate", "--database", &url]));
    assert_eq!(
        first,
        format!("schema version 0 -> {version} ({url}, a new file)\n")
    );
    assert_eq!(user_version(&path), version);

    let second = succeeded(&hookline(&["migrate", "--database", &url]));
    assert_eq!(
        second,
        format!("schema version {version}, up to date ({url})\n")
    );
    assert_eq!(user_version(&path), version);
}

#[test]
fn migrate_takes_the_database_from_the_config_file_unless_told_otherwise() {
    let sandbox = Sandbox::new();
    let from_file = sandbox.store_url("from-file.db");
    let config = config_file(&sandbox, &from_file);
    let output = succeeded(&hookline(&["migrate", "--config", &config]));
    assert!(output.contains(&from_file), "{output}");
    assert!(sandbox.path().join("from-file.db").exists());

    let flag = sandbox.store_url("flag.db");
    let output = succeeded(&hookline(&[
        "migrate",
        "--config",
        &config,
        "--database",
        &flag,
    ]));
    assert!(output.contains(&flag), "{output}");
    assert!(sandbox.path().join("flag.db").exists());
}

#[test]
fn migrate_refuses_a_store_written_by_a_newer_hookline() {
    let sandbox = Sandbox::new();
    let url = sandbox.url();
    let version = current(&url);
    succeeded(&hookline(&["migrate", "--database", &url]));
    set_user_version(&sandbox.db(), version + 1);

    let (_, err) = failed(&hookline(&["migrate", "--database", &url]));
    assert!(err.contains("newer than this hookline"), "{err}");
    assert_eq!(user_version(&sandbox.db()), version + 1);

    let (out, _) = failed(&hookline(&[
        "check",
        "--app-secret",
        "x",
        "--database",
        &url,
    ]));
    let expected = format!(
        "schema  version {} of {version}, newer: upgrade hookline",
        version + 1
    );
    assert!(out.contains(&expected), "{out}");
}

#[test]
fn check_passes_on_a_valid_config_and_a_migrated_store_and_reports_the_version() {
    let sandbox = Sandbox::new();
    let url = sandbox.url();
    let version = current(&url);
    let config = config_file(&sandbox, &url);
    succeeded(&hookline(&["migrate", "--database", &url]));

    let out = succeeded(&hookline(&["check", "--config", &config]));
    for line in [
        format!("config  ok ({config})"),
        "listen  127.0.0.1:8080".to_owned(),
        "apps    /webhook: 2 secrets, 1 verify token".to_owned(),
        "        shop at /webhook/shop: 1 secret, no verify token".to_owned(),
        "sinks   crm (http), bus (nats)".to_owned(),
        format!("store   reachable: {url}"),
        format!("schema  version {version} of {version}, up to date"),
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "no line {line:?} in:\n{out}"
        );
    }

    let (ok, report) = check_json(&["--config", &config]);
    assert!(ok, "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["config"]["sinks"][1]["type"], "nats");
    assert_eq!(report["store"]["schema_version"], version);
    assert_eq!(report["store"]["current_version"], version);
    assert_eq!(report["store"]["schema"], "up_to_date");
}

#[test]
fn check_without_a_secret_fails_with_the_message_serve_gives() {
    let sandbox = Sandbox::new();
    let url = sandbox.url();
    succeeded(&hookline(&["migrate", "--database", &url]));

    let served = serve_expecting_exit(&sandbox, &["--database", &url], &[]);
    let (_, serve_says) = failed(&served);
    assert!(
        serve_says.contains("no app secret is configured") && serve_says.contains("--app-secret"),
        "{serve_says}"
    );
    let (out, check_says) = failed(&hookline(&["check", "--database", &url]));
    assert_eq!(check_says, serve_says);
    assert!(out.starts_with("config  invalid"), "{out}");

    let (ok, report) = check_json(&["--database", &url]);
    assert!(!ok);
    assert_eq!(report["config"]["ok"], false);
    let error = report["config"]["error"].as_str().unwrap();
    assert!(serve_says.contains(error), "{error}");
    assert!(report["store"].is_null());
}

#[test]
fn check_reports_a_missing_sqlite_file_and_does_not_create_it() {
    let sandbox = Sandbox::new();
    let url = sandbox.store_url("absent.db");
    let (out, err) = failed(&hookline(&[
        "check",
        "--app-secret",
        "x",
        "--database",
        &url,
    ]));
    assert!(
        out.contains(&format!(
            "no store yet at {url}; `hookline serve` or `hookline migrate` creates it"
        )),
        "{out}"
    );
    assert!(err.contains("no store yet"), "{err}");
    let left: Vec<_> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "check created {left:?}");

    let (ok, report) = check_json(&["--app-secret", "x", "--database", &url]);
    assert!(!ok);
    assert_eq!(report["store"]["exists"], false);
    assert!(!sandbox.path().join("absent.db").exists());
}

#[test]
fn check_reports_a_store_that_is_behind_without_migrating_it() {
    let sandbox = Sandbox::new();
    let url = sandbox.url();
    let version = current(&url);
    succeeded(&hookline(&["migrate", "--database", &url]));
    set_user_version(&sandbox.db(), version - 1);

    let (out, err) = failed(&hookline(&[
        "check",
        "--app-secret",
        "x",
        "--database",
        &url,
    ]));
    let expected = format!(
        "schema  version {} of {version}, behind: run `hookline migrate`",
        version - 1
    );
    assert!(out.contains(&expected), "{out}");
    assert!(err.contains("behind"), "{err}");
    assert_eq!(user_version(&sandbox.db()), version - 1, "check migrated");

    let (ok, report) = check_json(&["--app-secret", "x", "--database", &url]);
    assert!(!ok);
    assert_eq!(report["store"]["reachable"], true);
    assert_eq!(report["store"]["schema"], "behind");
    assert_eq!(report["store"]["schema_version"], version - 1);
}

#[test]
fn serve_with_migrations_off_refuses_a_store_that_is_behind() {
    let sandbox = Sandbox::new();
    let url = sandbox.url();
    let version = current(&url);
    succeeded(&hookline(&["migrate", "--database", &url]));
    set_user_version(&sandbox.db(), version - 1);
    let config = sandbox.path().join("no-migrate.toml");
    std::fs::write(
        &config,
        format!("database = \"{url}\"\napp_secret = \"x\"\nmigrate = false\n"),
    )
    .unwrap();
    let config = config.display().to_string();

    for (args, env) in [
        (
            vec!["--database", &url, "--app-secret", "x", "--no-migrate"],
            vec![],
        ),
        (
            vec!["--database", &url, "--app-secret", "x"],
            vec![("HOOKLINE_NO_MIGRATE", "1")],
        ),
        (vec!["--config", &config], vec![]),
    ] {
        let (_, err) = failed(&serve_expecting_exit(&sandbox, &args, &env));
        assert!(
            err.contains("run `hookline migrate`")
                && err.contains(&format!("schema version {}", version - 1)),
            "{args:?} {env:?}: {err}"
        );
        assert_eq!(
            user_version(&sandbox.db()),
            version - 1,
            "{args:?} migrated"
        );
    }

    // An empty file is a store at version 0: refused the same way, and left unmigrated.
    let empty = sandbox.path().join("empty.db");
    std::fs::File::create(&empty).unwrap();
    let empty_url = sandbox.store_url("empty.db");
    let served = serve_expecting_exit(
        &sandbox,
        &[
            "--database",
            &empty_url,
            "--app-secret",
            "x",
            "--no-migrate",
        ],
        &[],
    );
    let (_, err) = failed(&served);
    assert!(err.contains("hookline migrate"), "{err}");
    assert_eq!(user_version(&empty), 0);
}

#[test]
fn a_reading_command_refuses_a_store_that_is_behind_without_migrating_it() {
    let sandbox = Sandbox::new();
    let url = sandbox.url();
    let version = current(&url);
    succeeded(&hookline(&["migrate", "--database", &url]));
    set_user_version(&sandbox.db(), version - 1);

    let (out, err) = failed(&hookline(&["events", "list", "--database", &url]));
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("run `hookline migrate`")
            && err.contains(&format!("schema version {}", version - 1)),
        "{err}"
    );
    assert_eq!(
        user_version(&sandbox.db()),
        version - 1,
        "events list migrated"
    );
}

#[test]
fn a_password_in_the_url_is_never_printed() {
    let url = "postgres://hookline:pw-never-shown@127.0.0.1:1/db?connect_timeout=2&password=pw-never-shown";
    let (out, err) = failed(&hookline(&[
        "check",
        "--app-secret",
        "x",
        "--database",
        url,
    ]));
    assert!(
        out.contains("store   unreachable: postgres://hookline:***@127.0.0.1:1/db"),
        "{out}"
    );
    let (out_m, err_m) = failed(&hookline(&["migrate", "--database", url]));
    for text in [out, err, out_m, err_m] {
        assert!(!text.contains("pw-never-shown"), "{text}");
    }
}

#[test]
fn postgres_check_then_migrate_then_check() {
    let Some(pg) = PostgresSchema::new("postgres_check_then_migrate_then_check") else {
        return;
    };
    let url = pg.url();
    let version = current(&url);

    let (out, _) = failed(&hookline(&[
        "check",
        "--app-secret",
        "x",
        "--database",
        &url,
    ]));
    assert!(out.contains(&format!("store   reachable: {url}")), "{out}");
    let expected = format!("schema  version 0 of {version}, behind: run `hookline migrate`");
    assert!(out.contains(&expected), "{out}");
    assert!(!pg.exists(), "check created the schema");

    let first = succeeded(&hookline(&["migrate", "--database", &url]));
    assert_eq!(first, format!("schema version 0 -> {version} ({url})\n"));
    let applied = pg.psql(&format!(
        "SELECT version FROM {}.hookline_schema",
        pg.schema
    ));
    assert_eq!(applied, version.to_string());
    let second = succeeded(&hookline(&["migrate", "--database", &url]));
    assert_eq!(
        second,
        format!("schema version {version}, up to date ({url})\n")
    );

    let out = succeeded(&hookline(&[
        "check",
        "--app-secret",
        "x",
        "--database",
        &url,
    ]));
    let expected = format!("schema  version {version} of {version}, up to date");
    assert!(out.contains(&expected), "{out}");
    let (ok, report) = check_json(&["--app-secret", "x", "--database", &url]);
    assert!(ok, "{report}");
    assert_eq!(report["store"]["schema_version"], version);
}

#[test]
fn postgres_serve_with_migrations_off_refuses_a_schema_that_is_behind() {
    let Some(pg) =
        PostgresSchema::new("postgres_serve_with_migrations_off_refuses_a_schema_that_is_behind")
    else {
        return;
    };
    let url = pg.url();
    let version = current(&url);
    succeeded(&hookline(&["migrate", "--database", &url]));
    let behind = version - 1;
    pg.psql(&format!(
        "UPDATE {}.hookline_schema SET version = {behind}",
        pg.schema
    ));

    let sandbox = Sandbox::new();
    let served = serve_expecting_exit(
        &sandbox,
        &["--database", &url, "--app-secret", "x", "--no-migrate"],
        &[],
    );
    let (_, err) = failed(&served);
    assert!(
        err.contains("run `hookline migrate`") && err.contains(&format!("schema version {behind}")),
        "{err}"
    );
    let (ok, report) = check_json(&["--app-secret", "x", "--database", &url, "--no-migrate"]);
    assert!(!ok);
    assert_eq!(report["store"]["schema"], "behind");
    assert_eq!(report["store"]["schema_version"], behind);
}
