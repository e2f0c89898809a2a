//! `hookline meta status`: each account's subscription and token permissions, as a table or JSON, with
//! the command or step that fixes each problem.

use std::process::ExitCode;

use hookline_server::config::Account;
use hookline_server::watchdog::check::{self, AccountStatus};
use serde::Serialize;

use super::{Setup, StatusArgs};

/// One account's line of the report.
#[derive(Debug, Serialize)]
struct Row {
    ok: bool,
    #[serde(flatten)]
    status: AccountStatus,
    /// What to do about each problem.
    fixes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    accounts: Vec<Row>,
}

pub(super) async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(&args.account, args.app_id.clone())?;
    let accounts = match setup.named_account(&args.account)? {
        Some(account) => vec![account],
        None => setup.config.accounts()?,
    };
    if accounts.is_empty() {
        anyhow::bail!(
            "no account to check: give --page ID (or --instagram ID) with its token in \
             HOOKLINE_META_TOKEN, or --config FILE with [[account]] sections"
        );
    }
    let client = setup.config.graph_client()?;
    let app_ids = setup.config.parse_options().own_app_ids;
    let mut rows = Vec::with_capacity(accounts.len());
    for account in &accounts {
        let status = check::check(&client, account, &app_ids).await;
        rows.push(row(status, account, setup.file.as_deref()));
    }
    let report = Report {
        ok: rows.iter().all(|r| r.ok),
        accounts: rows,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    let failing = report.accounts.iter().filter(|r| !r.ok).count();
    if failing == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let summary = format!(
        "hookline: {failing} of {} account(s) need attention",
        report.accounts.len()
    );
    if args.json {
        let fixes: Vec<String> = report
            .accounts
            .iter()
            .filter(|r| !r.ok)
            .flat_map(|r| {
                let label = format!("{} {}", r.status.kind.as_str(), r.status.account);
                r.fixes.iter().map(move |fix| format!("{label}: {fix}"))
            })
            .collect();
        eprintln!("{summary}: {}", fixes.join("; "));
    } else {
        eprintln!("{summary}; the fixes are listed above");
    }
    Ok(ExitCode::FAILURE)
}

fn row(status: AccountStatus, account: &Account, config: Option<&str>) -> Row {
    Row {
        ok: status.is_ok(),
        fixes: check::fixes(&status, account, config),
        status,
    }
}

/// A table of one line per account, then per account its field lists and fixes: field lists are too
/// long for a table column.
fn print_table(report: &Report) {
    let header = [
        "ACCOUNT",
        "KIND",
        "STATUS",
        "SUBSCRIBED",
        "MISSING FIELDS",
        "MISSING PERMISSIONS",
    ];
    let lines: Vec<[String; 6]> = report.accounts.iter().map(cells).collect();
    let mut widths = header.map(str::len);
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.len());
        }
    }
    let print = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    print(&header.map(str::to_owned));
    for line in &lines {
        print(line);
    }
    for row in &report.accounts {
        let status = &row.status;
        println!("\n{} {}", status.kind.as_str(), status.account);
        if status.error.is_none() {
            println!("  subscribed fields  {}", list(&status.subscribed_fields));
            println!("  missing fields     {}", list(&status.missing_fields));
        }
        for fix in &row.fixes {
            println!("  fix                {fix}");
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

fn count(items: &[String]) -> String {
    match items.len() {
        0 => "-".to_owned(),
        1 => "1 field".to_owned(),
        n => format!("{n} fields"),
    }
}

fn cells(row: &Row) -> [String; 6] {
    let status = &row.status;
    let unknown = || "?".to_owned();
    let (state, subscribed, missing, permissions) = if status.error.is_some() {
        ("error", unknown(), unknown(), unknown())
    } else {
        let state = if !status.subscribed {
            "not subscribed"
        } else if row.ok {
            "ok"
        } else {
            "incomplete"
        };
        let subscribed = if status.subscribed {
            count(&status.subscribed_fields)
        } else {
            "no".to_owned()
        };
        let permissions = status
            .missing_permissions
            .as_deref()
            .map_or_else(|| "not checked".to_owned(), list);
        (
            state,
            subscribed,
            count(&status.missing_fields),
            permissions,
        )
    };
    [
        status.account.clone(),
        status.kind.as_str().to_owned(),
        state.to_owned(),
        subscribed,
        missing,
        permissions,
    ]
}
