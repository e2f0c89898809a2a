//! `hookline demo` runs to its summary: every trigger kind goes through the signed HTTP path into the store
//! and the summary counts what was stored.

use std::process::{Command, Output};

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookline"))
        .arg("demo")
        .args(["--listen", "127.0.0.1:0", "--exit-after-summary"])
        .args(args)
        .env_remove("HOOKLINE_LOG")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The summary line that starts with `name`, split into words.
fn summary_line<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.lines()
        .map(str::trim_start)
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{out}"))
        .split_whitespace()
        .collect()
}

/// The number after `name` in a summary line's words (`page_inbox 1,` gives 1).
fn count_after(words: &[&str], name: &str) -> usize {
    let at = words
        .iter()
        .position(|w| *w == name)
        .unwrap_or_else(|| panic!("no {name} in {words:?}"));
    words[at + 1].trim_end_matches(',').parse().unwrap()
}

#[test]
fn demo_stores_one_event_of_every_trigger_kind_and_summarises_them() {
    let kinds = hookline_trigger::catalog().len();
    let out = stdout(&demo(&[]));
    assert!(
        out.contains(&format!(
            "Sent {kinds} signed deliveries, one per trigger kind (`hookline trigger --list`): {kinds} answered 200."
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Stored {kinds} distinct events from {kinds} deliveries:"
        )),
        "{out}"
    );
    let echoes = summary_line(&out, "echoes (out)");
    for source in ["this_app", "page_inbox", "other_app"] {
        assert!(count_after(&echoes, source) >= 1, "{echoes:?}");
    }
    let conversations = summary_line(&out, "conversations");
    assert!(conversations[1].parse::<usize>().unwrap() > 2, "{out}");
    assert!(conversations.join(" ").contains("instagram"), "{out}");
    let unknown = summary_line(&out, "unknown");
    assert!(unknown[1].parse::<usize>().unwrap() >= 1, "{out}");
    let reactions = summary_line(&out, "reactions");
    assert!(count_after(&reactions, "unreact") >= 1, "{reactions:?}");
    let inspector = out
        .lines()
        .find(|l| l.starts_with("Inspector: http://"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        inspector.contains("/  (sign in with the admin token demo-admin)"),
        "{inspector}"
    );
    assert!(
        !out.contains("Ctrl-C"),
        "--exit-after-summary must not offer to keep serving:\n{out}"
    );
}

#[test]
fn demo_with_a_database_keeps_what_it_stored_for_the_other_commands() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    stdout(&demo(&["--database", &url]));
    let listed = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(["events", "list", "--json", "--database", &url])
        .output()
        .unwrap();
    let events = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(events.lines().count(), hookline_trigger::catalog().len());
    for kind in hookline_trigger::catalog() {
        let wanted = format!("\"kind\":\"{}\"", kind.kind);
        assert!(
            events.contains(&wanted),
            "no stored {} event (from {})",
            kind.kind,
            kind.name
        );
    }
}
