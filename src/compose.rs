//! `bigmember compose`: each service's SDL as served, written to
//! `schema/<service>.graphql`, then composed by the pinned reference composer
//! (`@theguild/federation-composition`, an npm package in `schema/`) into
//! `schema/supergraph.graphql`. Node is needed here and nowhere else.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use kit::config::Config;

use crate::cli::SERVICES;

/// Writes the subgraph SDLs and the supergraph into `dir`.
pub fn compose(config: &Config, dir: &Path) -> anyhow::Result<()> {
    if !dir.join("compose.mjs").exists() {
        bail!(
            "{} has no compose.mjs: run compose from the repository root or pass --schema-dir",
            dir.display()
        );
    }
    let mut subgraphs = Vec::new();
    for spec in SERVICES {
        let file = dir.join(format!("{}.graphql", spec.name));
        std::fs::write(&file, (spec.sdl)())
            .with_context(|| format!("cannot write {}", file.display()))?;
        println!("wrote {}", file.display());
        let service = config.service(spec.name)?;
        let url = match &service.url {
            Some(url) => format!("{}/graphql", url.trim_end_matches('/')),
            None => format!("http://{}:{}/graphql", config.host, service.port),
        };
        subgraphs.push(format!("{}={url}={}.graphql", spec.name, spec.name));
    }
    install_composer(dir)?;
    let status = Command::new("node")
        .current_dir(dir)
        .arg("compose.mjs")
        .arg("supergraph.graphql")
        .args(&subgraphs)
        .status()
        .context("cannot run node: `bigmember compose` needs Node.js 18 or newer on PATH")?;
    if !status.success() {
        bail!("composition failed (errors above); schema/supergraph.graphql was left as it was");
    }
    Ok(())
}

/// Installs the pinned composer from `package-lock.json` when missing.
fn install_composer(dir: &Path) -> anyhow::Result<()> {
    let installed: PathBuf = dir.join("node_modules/@theguild/federation-composition");
    if installed.exists() {
        return Ok(());
    }
    println!(
        "installing the pinned composer (npm ci) in {}",
        dir.display()
    );
    let status = Command::new("npm")
        .current_dir(dir)
        .args(["ci", "--no-audit", "--no-fund"])
        .status()
        .context("cannot run npm: `bigmember compose` needs Node.js and npm on PATH")?;
    if !status.success() {
        bail!("npm ci failed in {}", dir.display());
    }
    Ok(())
}
