//! The gate: `fixtures/conformance/passing-<backend>.txt` lists the cases that must keep passing.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};

use super::cases::Case;
use super::{Class, ConformanceArgs, Outcome};
use crate::repo_root;

/// Checks and updates `fixtures/conformance/passing-<backend>.txt`; returns the listed cases that do not pass.
pub(super) fn gate(backend: &str, cases: &[Case], outcomes: &[Outcome], args: &ConformanceArgs) -> Result<Vec<String>> {
    let path = repo_root().join(format!("fixtures/conformance/passing-{backend}.txt"));
    let listed: BTreeSet<String> = match std::fs::read_to_string(&path) {
        Ok(text) => {
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let ran: BTreeMap<&str, &Outcome> = cases.iter().map(|c| c.name.as_str()).zip(outcomes).collect();
    let full = args.filter.is_empty();
    let mut broken = Vec::new();
    for name in &listed {
        match ran.get(name.as_str()) {
            Some(o) if o.class == Class::Passed => {}
            Some(o) => broken.push(format!("{backend} {name}: {}: {}", o.class.label(), o.detail)),
            None if full => broken.push(format!("{backend} {name}: no such case any more")),
            None => {}
        }
    }
    let passing: BTreeSet<String> =
        ran.iter().filter(|(_, o)| o.class == Class::Passed).map(|(n, _)| n.to_string()).collect();
    let new: Vec<&String> = passing.difference(&listed).collect();
    if args.update {
        let mut list = listed.clone();
        list.extend(passing.iter().cloned());
        if args.allow_removals {
            list.retain(|n| match ran.get(n.as_str()) {
                Some(o) => o.class == Class::Passed,
                None => !full,
            });
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut text = format!(
            "# Cases that pass on the {backend} backend: `cargo xtask conformance --check` fails when one does not.\n\
             # Maintained by `cargo xtask conformance --update`; a case leaves only with a reason in the commit message.\n"
        );
        for name in &list {
            text.push_str(name);
            text.push('\n');
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        let removed = listed.difference(&list).count();
        println!(
            "conformance: {}: {} cases listed ({} added, {removed} removed)",
            path.display(),
            list.len(),
            list.len() + removed - listed.len()
        );
    } else if !new.is_empty() {
        println!(
            "conformance: {backend}: {} passing case(s) are not in {} yet; `--update` adds them",
            new.len(),
            path.display()
        );
    }
    Ok(broken)
}
