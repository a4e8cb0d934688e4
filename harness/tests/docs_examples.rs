//! The example outputs in docs/*.md and README.md come from the real
//! commands, so they cannot drift from what the tool prints.
//!
//! An example is a marker line followed by a fenced block:
//!
//! ```text
//! <!-- $ entrybench report results/a.json results/b.json -->
//! ```text
//! ...what the command prints...
//! ```
//! ```
//!
//! The test runs every marked command (globs expanded from the repository
//! root, sorted) and compares its stdout with the block. A command names
//! the committed result files it reads one by one: `results/*.json` would
//! read a user's own runs too (`scripts/run.sh` writes there), and the
//! block would no longer be what the command prints for them. `<!-- live $ ...
//! -->` marks a command whose output depends on the machine (`detect`
//! without a dump): it must still run and succeed, but its block is only
//! rewritten, never compared. `UPDATE_DOCS=1` (what `scripts/gen-docs.sh`
//! sets) rewrites every block from the command instead of comparing.

mod common;

use common::root;
use std::path::{Path, PathBuf};

struct Example {
    /// Line index of the marker.
    marker: usize,
    live: bool,
    command: String,
    /// Line indices of the block's content: [start, end).
    body: (usize, usize),
}

fn examples(lines: &[&str], file: &Path) -> Vec<Example> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        let Some(inner) = t.strip_prefix("<!--").and_then(|s| s.strip_suffix("-->")) else {
            continue;
        };
        let inner = inner.trim();
        let (live, cmd) = match inner.strip_prefix("live $ ") {
            Some(c) => (true, c),
            None => match inner.strip_prefix("$ ") {
                Some(c) => (false, c),
                None => continue,
            },
        };
        assert!(
            lines.get(i + 1).is_some_and(|l| l.starts_with("```")),
            "{}:{}: a command marker must be followed by a fenced block",
            file.display(),
            i + 1
        );
        let end = (i + 2..lines.len())
            .find(|&j| lines[j].starts_with("```"))
            .unwrap_or_else(|| panic!("{}:{}: unclosed block", file.display(), i + 2));
        out.push(Example {
            marker: i,
            live,
            command: cmd.trim().to_string(),
            body: (i + 2, end),
        });
    }
    out
}

/// `entrybench ARGS` with each argument that holds a `*` expanded against
/// the repository root (sorted, as a shell would).
fn args_of(command: &str) -> Vec<String> {
    let mut words = command.split_whitespace();
    assert_eq!(words.next(), Some("entrybench"), "{command}");
    let mut args = Vec::new();
    for w in words {
        if w.starts_with("results/") {
            assert!(
                !w.contains(['*', '?', '[']),
                "`{command}`: name the committed result files, not {w}"
            );
            assert!(
                common::committed_names().iter().any(|c| c == w),
                "`{command}`: {w} is not a committed result file (results/README.md)"
            );
        }
        if w.contains('*') {
            let pattern = root().join(w);
            let mut hits: Vec<String> = glob::glob(pattern.to_str().unwrap())
                .unwrap()
                .map(|p| {
                    let p = p.unwrap();
                    p.strip_prefix(root())
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            hits.sort();
            assert!(!hits.is_empty(), "{w} matches nothing");
            args.extend(hits);
        } else {
            args.push(w.to_string());
        }
    }
    args
}

fn run(command: &str) -> String {
    let args = args_of(command);
    let out = common::entrybench()
        .current_dir(root())
        .args(&args)
        .output()
        .expect("entrybench runs");
    assert!(
        out.status.success(),
        "`{command}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_example_is_what_the_command_prints() {
    let update = std::env::var_os("UPDATE_DOCS").is_some_and(|v| v != "0");
    let mut checked = 0;
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let found = examples(&lines, &file);
        if found.is_empty() {
            continue;
        }
        let mut new: Vec<String> = Vec::new();
        let mut next = 0;
        for ex in &found {
            let printed = run(&ex.command);
            let want: Vec<&str> = printed.lines().collect();
            let have = &lines[ex.body.0..ex.body.1];
            // With the module loaded, `run` lists its ids too: what the
            // docs show is the machine without it.
            let machine_dependent = ex.live
                || (ex.command.starts_with("entrybench run")
                    && Path::new("/dev/entrybench").exists());
            if !update && !machine_dependent {
                assert!(
                    have == want.as_slice(),
                    "{}:{}: `{}` prints something else now; run scripts/gen-docs.sh\n--- now ---\n{printed}",
                    file.display(),
                    ex.marker + 1,
                    ex.command
                );
                checked += 1;
            }
            new.extend(lines[next..ex.body.0].iter().map(|s| s.to_string()));
            new.extend(want.iter().map(|s| s.to_string()));
            next = ex.body.1;
        }
        new.extend(lines[next..].iter().map(|s| s.to_string()));
        if update {
            std::fs::write(&file, new.join("\n") + "\n").unwrap();
        }
    }
    assert!(update || checked > 0, "no checked example in the docs");
}

#[test]
fn markers_are_found_and_parsed() {
    let text = "a\n<!-- $ entrybench size --explain -->\n```text\nx\ny\n```\n\
                <!-- live $ entrybench detect -->\n```\n```\n<!-- other -->\n";
    let lines: Vec<&str> = text.lines().collect();
    let ex = examples(&lines, Path::new("t.md"));
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].command, "entrybench size --explain");
    assert_eq!(ex[0].body, (3, 5));
    assert!(!ex[0].live);
    assert!(ex[1].live);
    assert_eq!(ex[1].body, (8, 8));
    assert_eq!(
        args_of("entrybench report testdata/profiles/feed-handler.t*ml"),
        vec!["report", "testdata/profiles/feed-handler.toml"]
    );
}

#[test]
fn result_globs_and_unlisted_results_are_refused() {
    for bad in [
        "entrybench report results/*.json",
        "entrybench report results/someone-elses-run.json",
    ] {
        let r = std::panic::catch_unwind(|| args_of(bad));
        assert!(r.is_err(), "{bad} accepted");
    }
    let listed = common::committed_names();
    let cmd = format!("entrybench report {}", listed.join(" "));
    assert_eq!(args_of(&cmd)[1..], listed[..]);
}

/// The list the tests read is exactly what git tracks under results/
/// (checked where the tree is a git checkout: a fresh clone, CI).
#[test]
fn committed_results_are_what_git_tracks() {
    let out = std::process::Command::new("git")
        .current_dir(root())
        .args(["ls-files", "--", "results/*.json"])
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        eprintln!("not a git checkout: results/README.md is the only list");
        return;
    };
    let mut tracked: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    tracked.sort();
    assert_eq!(tracked, common::committed_names());
}
