//! The conformance suite: `tests/conformance/*.test` against the real
//! `augur` binary.
//!
//! Each file runs on its own fresh server (files run in parallel), top to
//! bottom: its databases are created, its `data` blocks written, its
//! statements run, and each `query` answer compared with InfluxDB 1.6.7's
//! recorded answer (or, for entries marked `differs`, with Augur's own
//! recorded answer). The format and the marks are described in
//! `tests/conformance/README.md`.
//!
//! `CONFORMANCE_BLESS=influxd` instead replays every file against a real
//! `influxd` this test starts and rewrites the expectations in place (and
//! lists where Augur now disagrees); `CONFORMANCE_BLESS=augur` rewrites
//! the `---- augur` blocks of `differs` entries from Augur's answers.
//! `CONFORMANCE_FILTER=name` runs only files whose name contains `name`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use augur_tests::conformance::{blocks, check_augur, run_file, test_files, Expected, Item, Mark, Outcome, TestFile};
use augur_tests::influxd::Influxd;
use augur_tests::jsoncmp::json_match;
use augur_tests::target::Target;
use augur_tests::Server;

/// Files run at once (each with its own server).
const PARALLEL: usize = 4;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

fn parse_all() -> Vec<TestFile> {
    let files = test_files(&conformance_dir());
    assert!(!files.is_empty(), "no .test files under {}", conformance_dir().display());
    files.iter().map(|p| TestFile::read(p).unwrap_or_else(|e| panic!("{e}"))).collect()
}

/// Runs `f` on every file, `PARALLEL` at a time; results in file order.
fn for_each_file<T: Send>(files: &[TestFile], f: impl Fn(&TestFile) -> T + Sync) -> Vec<T> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(files.len()) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().expect("lock");
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(file) = files.get(i) else { break };
                let r = f(file);
                results.lock().expect("lock")[i] = Some(r);
            });
        }
    });
    results.into_inner().expect("lock").into_iter().map(|r| r.expect("every file ran")).collect()
}

fn short(text: &str) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.len() > 160 {
        format!("{}…", &one_line[..one_line.char_indices().nth(160).map_or(one_line.len(), |(i, _)| i)])
    } else {
        one_line
    }
}

#[test]
fn conformance() {
    match std::env::var("CONFORMANCE_BLESS").unwrap_or_default().as_str() {
        "" => check(),
        "influxd" => bless_from_influxd(),
        "augur" => bless_from_augur(),
        other => panic!("CONFORMANCE_BLESS={other:?}: use `influxd` or `augur`"),
    }
}

fn check() {
    let files = parse_all();
    let runs = for_each_file(&files, |file| {
        let server = Server::start_default();
        let run = run_file(file, &Target::new(&server.base_url()), check_augur);
        let failed = !run.errors.is_empty() || run.entries.iter().any(|e| matches!(e.2, Outcome::Fail(_)));
        if failed {
            eprintln!("---- augur log for {} ----\n{}", file.path.display(), server.log_tail());
        }
        run
    });
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut now_pass = Vec::new();
    for (file, run) in files.iter().zip(&runs) {
        let name = file.path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        failures.extend(run.errors.iter().cloned());
        for (line, text, outcome, _) in &run.entries {
            let key = match outcome {
                Outcome::Pass => "identical to InfluxDB",
                Outcome::KnownDifference => "documented differences",
                Outcome::KnownBug => "known bugs",
                Outcome::Skipped => "skipped (not implemented)",
                Outcome::SkippedButPasses => {
                    now_pass.push(format!("{name}:{line}: {}", short(text)));
                    "skipped but now identical"
                }
                Outcome::Fail(why) => {
                    failures.push(format!("{name}:{line}: {}\n    {why}", short(text)));
                    "FAILED"
                }
            };
            *counts.entry(key).or_default() += 1;
        }
    }
    let total: usize = counts.values().sum();
    let summary = counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ");
    println!("conformance: {} files, {total} queries: {summary}", files.len());
    if !now_pass.is_empty() {
        println!("entries marked `skip` that now answer as InfluxDB (remove their `skip` line):");
        for p in &now_pass {
            println!("  {p}");
        }
    }
    assert!(failures.is_empty(), "{} conformance failures:\n{}", failures.len(), failures.join("\n"));
}

fn bless_from_influxd() {
    let files = parse_all();
    println!("blessing {} files from {}", files.len(), Influxd::version());
    let influxd = Influxd::start();
    let mut disagreements = Vec::new();
    for file in &files {
        influxd.target().drop_all_databases();
        let theirs = run_file(file, influxd.target(), |_, _| Outcome::Pass);
        assert!(theirs.errors.is_empty(), "influxd rejected setup steps:\n{}", theirs.errors.join("\n"));
        let answers: BTreeMap<usize, Expected> = theirs.entries.into_iter().map(|(l, _, _, a)| (l, a)).collect();
        let text = file.rewrite(|q| blocks(answers.get(&q.line), q.augur.as_ref()));
        std::fs::write(&file.path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", file.path.display()));

        // Where Augur answers otherwise, so the blessed file can be reviewed.
        let server = Server::start_default();
        let ours = run_file(file, &Target::new(&server.base_url()), |_, _| Outcome::Pass);
        let name = file.path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        for err in ours.errors {
            disagreements.push(format!("{name}: {err}"));
        }
        for item in &file.items {
            let Item::Query(q) = item else { continue };
            let Some((_, _, _, got)) = ours.entries.iter().find(|e| e.0 == q.line) else { continue };
            let Some(want) = answers.get(&q.line) else { continue };
            if !(want.status == got.status && json_match(&want.body, &got.body)) {
                let mark = match &q.mark {
                    Mark::None => "UNMARKED",
                    Mark::Skip(_) => "skip",
                    Mark::Differs(_) => "differs",
                    Mark::Bug(_) => "bug",
                };
                disagreements.push(format!(
                    "{name}:{} [{mark}] {}\n    influxd: {}\n    augur:   {}",
                    q.line,
                    short(&q.text),
                    want.block().trim_end().replace('\n', ""),
                    got.block().trim_end().replace('\n', "")
                ));
            }
        }
    }
    println!("{} entries where Augur differs from influxd:\n{}", disagreements.len(), disagreements.join("\n"));
}

fn bless_from_augur() {
    let files = parse_all();
    for file in &files {
        let server = Server::start_default();
        let run = run_file(file, &Target::new(&server.base_url()), |_, _| Outcome::Pass);
        let answers: BTreeMap<usize, Expected> = run.entries.into_iter().map(|(l, _, _, a)| (l, a)).collect();
        let text = file.rewrite(|q| {
            let own = if q.mark.has_own_answer() { answers.get(&q.line) } else { None };
            blocks(q.influxdb.as_ref(), own)
        });
        std::fs::write(&file.path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", file.path.display()));
    }
}
