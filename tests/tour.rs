//! The README's tour, run as a person runs it: its shell commands, taken
//! from README.md, pasted one by one with the answer lines under them into
//! bash and into an interactive zsh against a fresh `bigmember up --demo`
//! (the full demo), and each answer compared with the one the README shows
//! under it (`# → …`, where `…` stands for anything).
//! A read that does not match yet is asked again for a while: the services
//! learn of each other's facts through their feeds.
//!
//! zsh is the default shell on macOS; without it (and without CI=true)
//! only bash runs, and the test says so.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::Platform;

/// A tour command and the answer the README shows for it.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Option<String>,
}

/// The tour's steps: every ```sh block between the tour markers.
fn tour_steps() -> Vec<Step> {
    let readme = include_str!("../README.md");
    let start = readme.find("<!-- tour:begin -->").expect("tour markers");
    let end = readme.find("<!-- tour:end -->").expect("tour markers");
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    // Open `{ … }` and `if … fi` bodies: a command ends where they close.
    let mut depth = 0usize;
    for line in readme[start..end].lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_block = trimmed == "```sh" && !in_block;
            continue;
        }
        if !in_block || trimmed.is_empty() {
            continue;
        }
        if let Some(answer) = trimmed.strip_prefix("# →") {
            let last = steps.last_mut().expect("an answer follows a command");
            assert!(last.expected.is_none(), "one answer per command: {line}");
            last.expected = Some(answer.trim().to_owned());
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        if trimmed == "}" || trimmed == "fi" {
            depth = depth.saturating_sub(1);
        }
        if trimmed.ends_with('{') || trimmed.ends_with("then") {
            depth += 1;
        }
        pending.push_str(trimmed.trim_end_matches('\\'));
        if trimmed.ends_with('\\') {
            pending.push(' ');
            continue;
        }
        if depth > 0 {
            pending.push('\n');
            continue;
        }
        steps.push(Step {
            command: std::mem::take(&mut pending),
            expected: None,
        });
    }
    steps
}

/// Whether `text` is `pattern`, where `…` in the pattern stands for any run
/// of characters.
fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, rest) = parts.split_first().expect("split gives one part");
    let Some(mut tail) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return tail.is_empty();
    };
    for part in middle {
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.ends_with(last)
}

/// A shell reading commands from its stdin, as a terminal would give them.
struct Shell {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
}

const DONE: &str = "@@tour-step-done@@";

impl Shell {
    fn start(program: &str, args: &[&str], platform: &Platform) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(platform.dir.path())
            .envs(platform.env().iter().map(|(k, v)| (k, v)))
            .env("BIGMEMBER_LOG", "warn")
            .env("PS1", "")
            .env("PS2", "")
            .env("PROMPT_EOL_MARK", "")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let (tx, lines) = mpsc::channel();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    // An interactive shell returns the carriage at each
                    // prompt.
                    let line = line.replace('\r', "");
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stdin = child.stdin.take().unwrap();
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// Runs one command line; what it printed.
    fn run(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}\nprintf '\\n{DONE}\\n'").unwrap();
        self.stdin.flush().unwrap();
        let mut out = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no answer within 60 s to: {command}\n{out:?}"));
            if line == DONE {
                break;
            }
            out.push(line);
        }
        out.join("\n").trim().to_owned()
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tour in `shell` against a fresh full demo; panics at the first
/// answer that is not the README's.
async fn run_tour(program: &str, args: &[&str]) {
    let platform = Platform::start_full().await;
    let base = platform.graph_url().trim_end_matches("/graphql").to_owned();
    let binary = env!("CARGO_BIN_EXE_bigmember");
    let mut shell = Shell::start(program, args, &platform);
    let steps = tour_steps();
    assert!(steps.len() > 20, "the tour: {steps:?}");
    for step in &steps {
        let command = step
            .command
            .replace("http://127.0.0.1:4000", &base)
            .replace("cargo run -q --", binary);
        let Some(expected) = &step.expected else {
            shell.run(&command);
            continue;
        };
        // A person pastes the answer line too: the shell must take it for
        // a comment and print nothing.
        let pasted = shell.run(&format!("# → {expected}"));
        assert!(
            pasted.is_empty(),
            "{program}: the pasted answer line printed {pasted:?}"
        );
        // Reads may wait for a feed; writes are sent once. Right after a
        // first start the services are still reading the demo's feeds (the
        // README says up to a minute; on PostgreSQL on a busy 2-core
        // machine more): a read is asked again for up to 2 minutes.
        let retries = if command.starts_with("gql") && !command.contains("mutation") {
            480
        } else {
            0
        };
        let mut answer = shell.run(&command);
        for _ in 0..retries {
            if matches(expected, &answer) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            answer = shell.run(&command);
        }
        assert!(
            matches(expected, &answer),
            "{program}: the README says\n  {}\nanswers\n  {expected}\nbut it answered\n  {answer}",
            step.command
        );
    }
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn the_readme_tour_gives_its_answers_in_bash() {
    run_tour("bash", &["--norc", "--noprofile", "-s"]).await;
}

#[tokio::test]
async fn the_readme_tour_gives_its_answers_in_zsh() {
    if !have("zsh") {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI installs zsh: the tour must be tried in it"
        );
        eprintln!("zsh is not installed here: the tour ran in bash only");
        return;
    }
    // Interactive, as in a terminal (where `#` starts a comment only with
    // interactive_comments set), with empty prompts.
    run_tour("zsh", &["-f", "-i", "-s"]).await;
}

#[test]
fn the_answer_patterns_match_as_documented() {
    assert!(matches("{\"id\":\"…\"}", "{\"id\":\"01a\"}"));
    assert!(matches("a…c…e", "abcde"));
    assert!(!matches("a…c…e", "abcd"));
    assert!(!matches("{\"points\":136}", "{\"points\":137}"));
    assert!(matches("exact", "exact"));
    assert!(!matches("exact", "exactly"));
}
