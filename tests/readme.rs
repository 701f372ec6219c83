//! The README states facts the code decides; these tests hold the two
//! together. `UPDATE_README=1 cargo test --test readme` rewrites the
//! generated parts.

const README: &str = include_str!("../README.md");

/// The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
fn section<'a>(text: &'a str, name: &str) -> (usize, usize, &'a str) {
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("README has no {begin}"))
        + begin.len();
    let stop = text
        .find(&end)
        .unwrap_or_else(|| panic!("README has no {end}"));
    (start, stop, &text[start..stop])
}

/// Holds a generated section to what the code makes (or, with
/// UPDATE_README set, rewrites it).
fn generated(name: &str, source: &str, made: String) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    // Re-read: another generated section may have been rewritten already.
    let readme = std::fs::read_to_string(path).unwrap();
    let (start, stop, listed) = section(&readme, name);
    if listed != made {
        if std::env::var("UPDATE_README").is_ok() {
            let mut updated = readme.clone();
            updated.replace_range(start..stop, &made);
            std::fs::write(path, updated).unwrap();
        } else {
            panic!(
                "README's {name} differ from {source}: run `UPDATE_README=1 cargo test --test readme`\n{made}"
            );
        }
    }
}

/// One test, so that UPDATE_README rewrites the sections one at a time.
#[test]
fn the_error_codes_are_the_codes_the_platform_sends() {
    generated(
        "error-codes",
        "kit::ErrorCode",
        kit::ErrorCode::markdown_table(),
    );
    generated(
        "gateway-error-codes",
        "gateway::error::CODES",
        gateway::error::codes_markdown_table(),
    );
}

/// The bytes a client sends for the example manifest's `MemberHome`: the
/// query in full, the trusted document's id, an APQ hash (compact JSON, as
/// clients send it).
#[test]
fn the_request_sizes_are_measured_from_the_manifest() {
    let manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(include_str!("../examples/trusted-documents.json")).unwrap();
    let (id, query) = manifest
        .iter()
        .find(|(_, body)| body.as_str().unwrap().starts_with("query MemberHome"))
        .expect("MemberHome is in the manifest");
    let variables = serde_json::json!({ "orders": 5 });
    let bytes = |body: serde_json::Value| serde_json::to_vec(&body).unwrap().len();
    let full = bytes(serde_json::json!({ "query": query, "variables": variables }));
    let by_id = bytes(serde_json::json!({ "documentId": id, "variables": variables }));
    let by_hash = bytes(serde_json::json!({
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id } },
        "variables": variables,
    }));
    generated(
        "request-bytes",
        "examples/trusted-documents.json",
        format!(
            "| the request carries | body bytes |\n| --- | --- |\n\
             | the query (`{{\"query\": …, \"variables\": …}}`) | {full} |\n\
             | the trusted document's id (`{{\"documentId\": …, \"variables\": …}}`) | {by_id} |\n\
             | an APQ hash (`{{\"extensions\": {{\"persistedQuery\": …}}, \"variables\": …}}`) | {by_hash} |\n"
        ),
    );
}

#[test]
fn the_readme_links_only_to_what_the_repository_holds() {
    assert!(
        !README.contains("../shared"),
        "a link out of the repository"
    );
    for target in README
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|t| !t.starts_with("http") && !t.starts_with('#'))
    {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(target);
        assert!(path.exists(), "README links to {target}, which is not here");
    }
}

/// The TOML a reader copies from "Configuration" and "Production" is a
/// configuration `bigmember` accepts (no unknown or misspelt key).
#[test]
fn the_readme_configuration_files_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for heading in ["## Configuration", "## Production"] {
        let start = README
            .find(&format!("\n{heading}\n"))
            .unwrap_or_else(|| panic!("README has no {heading}"));
        let rest = &README[start + heading.len() + 2..];
        let part = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        for block in part.split("```toml\n").skip(1) {
            let text = &block[..block.find("```").expect("a closed block")];
            let file = dir.path().join("bigmember.toml");
            std::fs::write(&file, text).unwrap();
            // As a reader runs it: `config check`, with what the block says
            // comes from the environment, from the repository's root (the
            // manifest path is relative).
            let mut check = std::process::Command::new(env!("CARGO_BIN_EXE_bigmember"));
            check
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .arg("--config")
                .arg(&file)
                .args(["config", "check"]);
            if text.contains("BIGMEMBER_AUTH__PLATFORM_SECRET") {
                check.env(
                    "BIGMEMBER_AUTH__PLATFORM_SECRET",
                    "from-a-secret-store-32-characters-at-least",
                );
            }
            let out = check.output().unwrap();
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{heading}: {said}\n{text}");
            let shown = String::from_utf8_lossy(&out.stdout);
            assert!(
                !shown.contains("from-a-secret-store"),
                "{heading}: a secret shown: {shown}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "one example under each heading");
}

/// The README's signature check for partners, run as a partner would run
/// it (python3), against signatures the platform makes: it accepts a fresh
/// one and refuses a changed body, another secret and an old timestamp.
#[test]
fn the_readme_webhook_signature_check_accepts_what_the_platform_signs() {
    let (_, _, listed) = section(README, "webhook-verify");
    let code = listed
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a python block")
        .lines()
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let secret = alliance::domain::webhooks::new_signing_secret();
    let body = r#"{"id":"evt_1","type":"points.earned","data":{"points":42}}"#;
    // Python's `verify` checks `t` against time.time(), the system clock, as
    // a partner's receiver does: only the offsets below matter, never the
    // hour, zone or date.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let fresh = alliance::domain::webhooks::signature(&secret, now, body.as_bytes());
    let old = alliance::domain::webhooks::signature(&secret, now - 3_600, body.as_bytes());
    let script = format!(
        "{code}\nimport sys\nsecret, header, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()\nprint(verify(secret, header, body))\n"
    );
    let run = |secret: &str, header: &str, body: &str| -> String {
        let out = std::process::Command::new("python3")
            .args(["-c", &script, secret, header, body])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(run(&secret, &fresh, body), "True");
    assert_eq!(run(&secret, &fresh, &body.replace("42", "43")), "False");
    assert_eq!(run("whsec_other", &fresh, body), "False");
    assert_eq!(run(&secret, &old, body), "False");
    assert_eq!(run(&secret, "v1=abc", body), "False");
}

/// Every GraphQL example in the README (a ```graphql block) is an
/// operation the gateway accepts and plans against the built-in
/// supergraph: no field, argument or input shape that does not exist.
#[tokio::test]
async fn the_readme_graphql_examples_are_valid_operations() {
    let gateway = gateway::Gateway::new(
        include_str!("../schema/supergraph.graphql"),
        gateway::GatewayConfig::default(),
    )
    .expect("the built-in supergraph loads");
    let mut examples = Vec::new();
    let mut current: Option<String> = None;
    for line in README.lines() {
        let trimmed = line.trim();
        match (&mut current, trimmed) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(_), "```") => examples.extend(current.take()),
            (Some(text), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(!examples.is_empty(), "the README has GraphQL examples");
    for example in examples {
        if let Err(refusal) = gateway.plan_text(&example, None).await {
            panic!("{example}\nis refused: {:?}", refusal.errors);
        }
    }
}
