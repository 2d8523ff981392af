//! Delivery benchmark: the engine (the shipped `skymailing worker`, release
//! build, next to this program in the target folder) sends a
//! RECIPIENTS-recipient mailing (default 50,000; 4 KB messages; 16 connections)
//! from PostgreSQL into Postfix's `smtp-sink`, and in the same run
//! `smtp-source -d -s 16` sends as many 4 KB messages into the same sink, for
//! the ceiling of this machine. Then 20 one-recipient mailings measure the time
//! from a mailing's scheduled start to its message's arrival. Run it with
//! `scripts/bench-delivery.sh`; the last line is
//! `delivery: ours=N msg/s smtp_source=N msg/s ratio=R peak_rss_mb=N start_latency_p99_ms=N
//! worker_cpu_ms_per_1000=N pg_cpu_ms_per_1000=N smtp_source_cpu_ms_per_1000=N`
//! (one line): the CPU milliseconds per 1,000 messages of our worker, of the
//! PostgreSQL server and of smtp-source.
//!
//! Start latency is measured at a recording SMTP server inside this program
//! (smtp-sink does not timestamp messages to the millisecond).

use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, SubsecRound, Utc};
use skymailing_bench::{Proc, wait_for};
use skymailing_core::ports::{MailingStore, MessageStore};
use skymailing_core::*;
use skymailing_smtp::testing::TestSmtpServer;
use skymailing_store_pg::PgStore;
use sqlx::Connection;

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn worker(db: &str, mail: &str) -> Proc {
    // 8 sends per batch × 2 batches side by side = 16 connections.
    skymailing_bench::worker(
        db,
        mail,
        &[
            ("SKYMAILING_CONCURRENCY", "8"),
            ("SKYMAILING_PARALLEL_BATCHES", "2"),
            ("SKYMAILING_BATCH_SIZE", "500"),
        ],
    )
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let recipients: i64 = std::env::var("RECIPIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let port: u16 = std::env::var("SINK_PORT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2626);

    // The sink.
    let sink = Proc(
        Command::new("smtp-sink")
            .args([
                "-u",
                "nobody",
                "-m",
                "256",
                &format!("127.0.0.1:{port}"),
                "1024",
            ])
            .spawn()
            .expect("smtp-sink (Debian package postfix) is installed"),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A fresh database.
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL (DATABASE_URL) is reachable");
    sqlx::query("DROP DATABASE IF EXISTS skymailing_bench_delivery WITH (FORCE)")
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE skymailing_bench_delivery")
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let db = format!("{base}/skymailing_bench_delivery");
    let store = PgStore::connect(&db).await.unwrap();

    // A 4 KB body, personalised, in lines of 60 characters as mail clients write them.
    let filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n".repeat(68);
    let body =
        format!("Dear {{{{ name }}}},\n\n{filler}\nUnsubscribe: {{{{ unsubscribe_url }}}}\n");
    let message = MessageDraft::parse("News for {{ name }}", &body, None).unwrap();
    // Set up a year ahead; moved below to a start a second ahead, once the worker runs.
    let far = (Utc::now() + chrono::Duration::days(365)).trunc_subsecs(6);
    let bulk = skymailing_bench::pg_mailing(&store, recipients, &message, far).await;
    let owner = bulk.owner;
    let first_client = bulk.client_ids[0];
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();

    // Our throughput: the whole pipeline from the scheduled start to the run's end.
    let worker_proc = worker(&db, &format!("smtp://127.0.0.1:{port}"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start: DateTime<Utc> = (Utc::now() + chrono::Duration::seconds(1)).trunc_subsecs(6);
    let (worker_cpu0, pg_cpu0) = (
        skymailing_bench::cpu_time(worker_proc.0.id()),
        skymailing_bench::postgres_cpu_time(),
    );
    let d = MailingDraft::new(
        "Throughput",
        bulk.message_id,
        bulk.client_ids.clone(),
        start,
        start + chrono::Duration::days(1),
        Periodicity::Once,
    )
    .unwrap();
    store
        .update_mailing(bulk.id, &d, Some(start), Utc::now())
        .await
        .unwrap();
    let (finished, sent): (DateTime<Utc>, i64) = wait_for(Duration::from_secs(900), async || {
        sqlx::query_as("SELECT finished_at, sent FROM runs WHERE finished_at IS NOT NULL")
            .fetch_optional(store.pool())
            .await
            .unwrap()
    })
    .await;
    assert_eq!(sent, recipients, "every delivery sent and recorded");
    let ours = recipients as f64 / (finished - start).to_std().unwrap().as_secs_f64();
    let rss = peak_rss_mb(worker_proc.0.id());
    // CPU per 1,000 messages: the worker's own, and the PostgreSQL server's
    // (all its processes, this program's polling included) over the run.
    let worker_cpu = skymailing_bench::ms_per_1000(
        skymailing_bench::cpu_time(worker_proc.0.id()) - worker_cpu0,
        recipients,
    );
    let pg_cpu = skymailing_bench::ms_per_1000(
        skymailing_bench::postgres_cpu_time().saturating_sub(pg_cpu0),
        recipients,
    );
    drop(worker_proc);
    println!(
        "ours: {recipients} messages in {:.2} s from the scheduled start to the run's end: {ours:.0} msg/s; worker peak RSS {rss:.1} MB; CPU per 1,000 messages: worker {worker_cpu:.0} ms, PostgreSQL {pg_cpu:.0} ms",
        (finished - start).num_milliseconds() as f64 / 1000.0
    );

    // The same pipeline signing every message with DKIM, per algorithm, on
    // the first DKIM_RECIPIENTS clients (default 10,000 or all).
    let dkim_n: usize = std::env::var("DKIM_RECIPIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
        .min(recipients as usize);
    let keys = tempfile::tempdir().unwrap();
    let mut dkim_rates = Vec::new();
    for (name, algorithm) in [
        ("rsa", skymailing_smtp::DkimAlgorithm::Rsa),
        ("ed25519", skymailing_smtp::DkimAlgorithm::Ed25519),
    ] {
        let key = skymailing_smtp::generate_key(algorithm).unwrap();
        let path = keys.path().join(format!("{name}.pem"));
        std::fs::write(&path, &key.private_pem).unwrap();
        let signing = skymailing_bench::worker(
            &db,
            &format!("smtp://127.0.0.1:{port}"),
            &[
                ("SKYMAILING_CONCURRENCY", "8"),
                ("SKYMAILING_PARALLEL_BATCHES", "2"),
                ("SKYMAILING_BATCH_SIZE", "500"),
                ("SKYMAILING_FROM", "Bench <bench@bench.example>"),
                ("SKYMAILING_DKIM_KEY", path.to_str().unwrap()),
                ("SKYMAILING_DKIM_SELECTOR", "bench"),
                ("SKYMAILING_DKIM_DOMAIN", "bench.example"),
            ],
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start: DateTime<Utc> = (Utc::now() + chrono::Duration::seconds(1)).trunc_subsecs(6);
        let d = MailingDraft::new(
            &format!("DKIM {name}"),
            bulk.message_id,
            bulk.client_ids[..dkim_n].to_vec(),
            start,
            start + chrono::Duration::days(1),
            Periodicity::Once,
        )
        .unwrap();
        let m = store
            .create_mailing(owner, &d, Some(start), Utc::now())
            .await
            .unwrap();
        let (finished,): (DateTime<Utc>,) = wait_for(Duration::from_secs(900), async || {
            sqlx::query_as(
                "SELECT finished_at FROM runs WHERE mailing_id = $1 AND finished_at IS NOT NULL",
            )
            .bind(m.id.0)
            .fetch_optional(store.pool())
            .await
            .unwrap()
        })
        .await;
        let rate = dkim_n as f64 / (finished - start).to_std().unwrap().as_secs_f64();
        drop(signing);
        println!("ours with DKIM ({name}): {dkim_n} messages signed and sent: {rate:.0} msg/s");
        dkim_rates.push(format!("{name}={rate:.0}"));
    }
    println!(
        "dkim: {} msg/s (unsigned {ours:.0} msg/s)",
        dkim_rates.join(" ")
    );

    // smtp-source into the same sink.
    let children_cpu0 = skymailing_bench::children_cpu_time();
    let started = Instant::now();
    let status = Command::new("smtp-source")
        .args([
            "-d",
            "-s",
            "16",
            "-m",
            &recipients.to_string(),
            "-l",
            "4096",
        ])
        .args([
            "-f",
            "bench@example.com",
            "-t",
            "sink@example.com",
            &format!("127.0.0.1:{port}"),
        ])
        .status()
        .expect("smtp-source (Debian package postfix) is installed");
    assert!(status.success());
    let source = recipients as f64 / started.elapsed().as_secs_f64();
    let source_cpu = skymailing_bench::ms_per_1000(
        skymailing_bench::children_cpu_time().saturating_sub(children_cpu0),
        recipients,
    );
    println!(
        "smtp-source -d -s 16: {recipients} messages of 4 KB in {:.2} s: {source:.0} msg/s; CPU per 1,000 messages {source_cpu:.0} ms",
        started.elapsed().as_secs_f64()
    );
    drop(sink);

    // Start latency: LATENCY_PROBES (default 20) one-recipient mailings
    // scheduled 1.5 s ahead each.
    let probes: usize = std::env::var("LATENCY_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .max(1);
    let recorder = TestSmtpServer::start();
    let latency_worker = worker(&db, &recorder.url());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut latencies = Vec::new();
    for i in 0..probes {
        let start = (Utc::now() + chrono::Duration::milliseconds(1500)).trunc_subsecs(6);
        let msg = store
            .create_message(
                owner,
                &MessageDraft::parse(&format!("Latency probe {i}"), "probe", None).unwrap(),
                Utc::now(),
            )
            .await
            .unwrap();
        let d = MailingDraft::new(
            &format!("Latency {i}"),
            msg.id,
            vec![first_client],
            start,
            start + chrono::Duration::hours(1),
            Periodicity::Once,
        )
        .unwrap();
        store
            .create_mailing(owner, &d, Some(start), Utc::now())
            .await
            .unwrap();
        let subject = format!("Latency probe {i}");
        let arrived: SystemTime = wait_for(Duration::from_secs(30), async || {
            recorder
                .received()
                .into_iter()
                .find(|r| r.parsed().subject() == Some(subject.as_str()))
                .map(|r| r.arrived_at)
        })
        .await;
        let arrived: DateTime<Utc> = arrived.into();
        latencies.push((arrived - start).num_microseconds().unwrap() as f64 / 1000.0);
    }
    drop(latency_worker);
    latencies.sort_by(f64::total_cmp);
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    println!(
        "start latency over {} mailings: min {:.1} ms, median {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        latencies[0],
        latencies[latencies.len() / 2],
        p99
    );

    store.pool().close().await;
    sqlx::query("DROP DATABASE IF EXISTS skymailing_bench_delivery WITH (FORCE)")
        .execute(&mut admin)
        .await
        .unwrap();
    println!(
        "delivery: ours={ours:.0} msg/s smtp_source={source:.0} msg/s ratio={:.2} peak_rss_mb={rss:.0} start_latency_p99_ms={p99:.0} worker_cpu_ms_per_1000={worker_cpu:.0} pg_cpu_ms_per_1000={pg_cpu:.0} smtp_source_cpu_ms_per_1000={source_cpu:.0}",
        ours / source
    );
}
