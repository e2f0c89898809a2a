//! A full disk: the SQLite database lives on a small tmpfs that fills up under load.
//!
//! While it is full every post is answered 503 with `Retry-After` (never a 200 for a delivery that was not
//! stored) and the file stays sound (`PRAGMA integrity_check`). When space returns (the filesystem is
//! remounted bigger) the same server process accepts again, and the deliveries it refused are stored when
//! posted again.
//!
//! Space returns generously on purpose: in WAL mode the frames committed just before the disk filled
//! are copied into the database file once it can grow, so the first megabytes that come back go to that
//! backlog before they hold new deliveries (docs/faults.md has the figures).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::contents::{Store, check, integrity_check};
use crate::deliveries::{
    Answer, Delivery, Ledger, Load, client, join, lock, post, post_all, thousands,
};
use crate::rng::Rng;
use crate::serve;
use crate::support::Sandbox;

const DISK_MIB: u64 = 12;
/// The size the filesystem is remounted with when space returns.
const GROWN_MIB: u64 = 48;
const CLIENTS: usize = 8;
/// Bytes of text per message: bigger deliveries fill the disk in seconds.
const TEXT_LEN: usize = 1500;
/// 503s that show the disk is full, not just a passing refusal.
const FULL_REFUSALS: usize = 200;
/// Refused deliveries posted again once space returns (all of them could fill the disk again).
const RETRIED: usize = 200;
/// Generous limits for a machine busy with other tests: filling ~10 MiB, and taking writes again.
const FILL_LIMIT: Duration = Duration::from_secs(120);
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_never_a_wrong_200_and_ingest_resumes_when_space_returns() {
    let sandbox = Sandbox::new();
    let Some(disk) = SmallDisk::mount(sandbox.path(), DISK_MIB) else {
        return;
    };
    let db = disk.path().join("hookline.db");
    let store = Store::Sqlite(&db);
    let server = serve(&sandbox, &format!("sqlite://{}", db.display())).await;
    let webhook = server.url("/webhook");
    let seed = Rng::seed();
    let mut rng = Rng::new(seed);
    let ledger = Ledger::shared();
    let client = client(Duration::from_secs(30));

    // Fill it under load, and keep posting into the full disk for a while.
    let started = Instant::now();
    let mut load = Load::new(&client, webhook.clone(), &ledger);
    load.text_len = TEXT_LEN;
    let tasks = load.spawn(CLIENTS, "fill", &mut rng);
    let mut full_since: Option<Instant> = None;
    loop {
        let (refused, unexpected) = {
            let ledger = lock(&ledger);
            (ledger.refused, ledger.unexpected.len())
        };
        // Enough refusals; or answers that should not be; or a disk full for seconds with no 503 (a
        // server that answers 200 regardless): the checks below say which.
        let full_for_seconds = full_since.is_some_and(|t| t.elapsed() > Duration::from_secs(2));
        if refused >= FULL_REFUSALS || unexpected > 0 || full_for_seconds {
            break;
        }
        if full_since.is_none() && disk.free_bytes() < 64 * 1024 {
            full_since = Some(Instant::now());
        }
        assert!(
            started.elapsed() < FILL_LIMIT,
            "disk-full: expected the {DISK_MIB} MiB disk to fill within {FILL_LIMIT:?}, but {} KiB are free",
            disk.free_bytes() / 1024
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let filled_after = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    load.stop.store(true, Ordering::SeqCst);
    join(tasks).await;
    lock(&ledger).assert_only_200_and_503("disk-full: while the disk filled up");
    let free_when_full = disk.free_bytes();
    let verdict = check(&store.read(), &lock(&ledger));
    verdict.assert_clean("disk-full: while full");
    assert!(
        verdict.unacked_stored.is_empty(),
        "disk-full: expected no refused delivery to be stored (a 503 rolls it back), but {} are, e.g. {:?}",
        verdict.unacked_stored.len(),
        &verdict.unacked_stored[..verdict.unacked_stored.len().min(5)]
    );
    assert!(
        lock(&ledger).refused > 0,
        "disk-full: expected 503s once the disk was full ({} KiB free), but every post was answered 200",
        free_when_full / 1024
    );

    let integrity_when_full = integrity_check(&db);
    assert_eq!(
        integrity_when_full, "ok",
        "disk-full: expected PRAGMA integrity_check = ok on the full disk"
    );

    // Space returns: the same process takes writes again.
    disk.grow(GROWN_MIB);
    let returned = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let delivery = Delivery::random(&format!("after.{n}"), &mut rng, TEXT_LEN);
        let posted = post(&client, &webhook, &delivery).await;
        let accepted = matches!(posted.answer, Answer::Status { code: 200, .. });
        lock(&ledger).record(&delivery, &posted, false);
        if accepted {
            break;
        }
        lock(&ledger).assert_only_200_and_503("disk-full: after space returned");
        assert!(
            returned.elapsed() < RECOVERY_LIMIT,
            "disk-full: expected a 200 within {RECOVERY_LIMIT:?} of growing the disk ({} MiB free), \
             but {n} posts were refused",
            disk.free_bytes() / (1024 * 1024)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_after = returned.elapsed();
    let mut refused = lock(&ledger).unacked();
    let refused_total = refused.len();
    refused.truncate(RETRIED);
    let retried = refused.len();
    post_all(&client, &webhook, refused, &ledger).await;

    let verdict = check(&store.read(), &lock(&ledger));
    verdict.assert_clean("disk-full: after space returned");
    assert!(
        verdict.unacked_stored.is_empty(),
        "disk-full: expected the refused deliveries not posted again to stay unstored, but {} are stored",
        verdict.unacked_stored.len()
    );
    let integrity_after = integrity_check(&db);
    assert_eq!(
        integrity_after, "ok",
        "disk-full: expected PRAGMA integrity_check = ok after space returned"
    );
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "disk-full: expected /readyz to answer 200 once space returned"
    );
    server.stop().await;

    let ledger = lock(&ledger);
    eprintln!(
        "disk-full[sqlite on a {DISK_MIB} MiB tmpfs]: {} acked, {} lost, {} stored twice, 0 answers other than \
         200 and 503 (seed {seed}; {} posts, {} refused with 503 and Retry-After; full after {:.1} s with {} KiB \
         free; integrity_check ok while full and after; a 200 again {:.2} s after the disk grew to \
         {GROWN_MIB} MiB, without a restart; {retried} of the {} refused deliveries posted again, all stored once, \
         the others not stored)",
        thousands(verdict.acked),
        thousands(verdict.lost.len()),
        thousands(verdict.stored_twice.len()),
        thousands(ledger.posts),
        thousands(ledger.refused),
        filled_after.as_secs_f64(),
        free_when_full / 1024,
        recovered_after.as_secs_f64(),
        thousands(refused_total),
    );
}

/// A tmpfs of a few MiB mounted on a directory of the sandbox, unmounted when dropped (a panic included).
/// When a test fails, its files are first copied beside it, to be inspected.
struct SmallDisk {
    dir: PathBuf,
    copy_to: PathBuf,
}

impl SmallDisk {
    /// `None`, after saying why, when this process may not mount filesystems (not root); a failure
    /// under `HOOKLINE_REQUIRE_SERVICES=1`.
    fn mount(sandbox: &Path, mib: u64) -> Option<SmallDisk> {
        let dir = sandbox.join("small-disk");
        std::fs::create_dir(&dir).unwrap();
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .stdin(Stdio::null())
            .output();
        let refusal = match output {
            Ok(output) if output.status.success() => None,
            Ok(output) => Some(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
            Err(err) => Some(format!("cannot run mount: {err}")),
        };
        if let Some(reason) = refusal {
            assert_ne!(
                std::env::var("HOOKLINE_REQUIRE_SERVICES").as_deref(),
                Ok("1"),
                "HOOKLINE_REQUIRE_SERVICES=1 but a {mib} MiB tmpfs cannot be mounted for the disk-full test \
                 ({reason}); run the tests as root (or with CAP_SYS_ADMIN)"
            );
            eprintln!(
                "skipping the disk-full test: cannot mount a {mib} MiB tmpfs ({reason}); it needs root"
            );
            return None;
        }
        Some(SmallDisk {
            dir,
            copy_to: sandbox.join("small-disk-copy"),
        })
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// Remounts the filesystem with room for `mib` MiB, its files in place.
    fn grow(&self, mib: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "expected `mount -o remount,size={mib}m` to grow the small disk, but it exited with {status}"
        );
    }

    /// Bytes free on the filesystem, as `stat -f` reports them.
    fn free_bytes(&self) -> u64 {
        let output = Command::new("stat")
            .args(["-f", "-c", "%a %S"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let numbers: Vec<u64> = text
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        match numbers[..] {
            [blocks, size] => blocks * size,
            _ => panic!("stat -f answered {text:?}"),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::fs::create_dir_all(&self.copy_to);
            if let Ok(files) = std::fs::read_dir(&self.dir) {
                for file in files.flatten() {
                    let _ = std::fs::copy(file.path(), self.copy_to.join(file.file_name()));
                }
            }
        }
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a server not yet reaped): detach it now, freed when the last user goes.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}
