//! The lookup benchmarks' figures: each criterion benchmark's `new/estimates.json` (median and
//! median absolute deviation) and the writers' cycles the bench prints, read back and laid out
//! as the report's lookup and model tables (each design without and with a writer, beside the
//! anchors).
//!
//! Invariant: a figure missing from criterion's output is shown as missing, never made up.

use super::Res;
use mountcheck_model::LockDesign;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Deserialize)]
pub(super) struct Estimate {
    pub(super) point_estimate: f64,
}

#[derive(Deserialize)]
pub(super) struct Estimates {
    pub(super) median: Estimate,
    pub(super) median_abs_dev: Estimate,
}

/// (median ns, median absolute deviation ns) by (group, function, parameter).
pub(super) type Crit = BTreeMap<(String, String, usize), (f64, f64)>;

pub(super) fn read_criterion(dir: &Path) -> Res<Crit> {
    let mut out = Crit::new();
    let groups = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for g in groups.flatten().filter(|e| e.path().is_dir()) {
        let group = g.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(g.path()).into_iter().flatten().flatten() {
            let function = f.file_name().to_string_lossy().into_owned();
            for p in std::fs::read_dir(f.path()).into_iter().flatten().flatten() {
                let Ok(param) = p.file_name().to_string_lossy().parse::<usize>() else {
                    continue;
                };
                let est = p.path().join("new").join("estimates.json");
                let Ok(text) = std::fs::read_to_string(&est) else {
                    continue;
                };
                let e: Estimates =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", est.display()))?;
                out.insert(
                    (group.clone(), function.clone(), param),
                    (e.median.point_estimate, e.median_abs_dev.point_estimate),
                );
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
pub(super) struct WriterLine {
    pub(super) group: String,
    pub(super) kind: String,
    pub(super) design: String,
    pub(super) size: usize,
    pub(super) cycles: u64,
    pub(super) secs: f64,
}

/// Writer cycles/s by (group, design + kind, size).
pub(super) type Writers = BTreeMap<(String, String, usize), f64>;

pub(super) fn read_writers(path: &Path) -> Writers {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<WriterLine>(l).ok())
        .map(|w| {
            (
                (w.group, format!("{}{}", w.design, w.kind), w.size),
                w.cycles as f64 / w.secs,
            )
        })
        .collect()
}

pub(super) fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.1} ns")
    }
}

pub(super) fn cell(c: &Crit, group: &str, f: &str, p: usize) -> Option<(f64, f64)> {
    c.get(&(group.to_string(), f.to_string(), p)).copied()
}

pub(super) fn med(c: Option<(f64, f64)>) -> String {
    match c {
        Some((m, mad)) => format!("{} ±{:.0}%", ns(m), 100.0 * mad / m),
        None => "–".into(),
    }
}

pub(super) fn ratio(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> Option<f64> {
    Some(a?.0 / b?.0)
}

pub(super) fn x(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{r:.2}x"))
}

pub(super) fn pct(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{:.0}%", 100.0 * r))
}

/// The informative second anchor of every lookup table.
pub(super) const FX_ANCHOR: (&str, &str) = (
    "hashmap-fx",
    "HashMap with FxHash (the read-mostly tables' hasher; informative)",
);

/// One lookup table: the anchor(s), then each design without and with a writer.
pub(super) fn lookup_table(
    md: &mut String,
    c: &Crit,
    writers: &Writers,
    group: &str,
    unit: &str,
    sizes: &[usize],
    extra_anchors: &[(&str, &str)],
) {
    let _ = writeln!(
        md,
        "| {unit} | design | median ±MAD | vs HashMap | + writer: median ±MAD | vs HashMap | kept | writer cycles/s | + writer at ~1k/s: median ±MAD | kept | writer cycles/s |"
    );
    let _ = writeln!(
        md,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for &n in sizes {
        let anchor = cell(c, group, "hashmap", n);
        let _ = writeln!(
            md,
            "| {n} | **HashMap** (plain, unsynchronized) | {} | 1.00x | | | | | | | |",
            med(anchor)
        );
        for &(f, label) in extra_anchors {
            let a = cell(c, group, f, n);
            let _ = writeln!(
                md,
                "| {n} | {label} | {} | {} | | | | | | | |",
                med(a),
                x(ratio(a, anchor))
            );
        }
        for d in LockDesign::ALL {
            let plain = cell(c, group, d.name(), n);
            let busy = cell(c, group, &format!("{}+writer", d.name()), n);
            let paced = cell(c, group, &format!("{}+writer-1k", d.name()), n);
            let rate = |kind: &str| {
                writers
                    .get(&(group.to_string(), format!("{}{kind}", d.name()), n))
                    .map_or("–".into(), |r| format!("{r:.0}"))
            };
            let _ = writeln!(
                md,
                "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                d.name(),
                med(plain),
                x(ratio(plain, anchor)),
                med(busy),
                x(ratio(busy, anchor)),
                pct(ratio(plain, busy)),
                rate("+writer"),
                med(paced),
                pct(ratio(plain, paced)),
                rate("+writer-1k"),
            );
        }
    }
}

pub(super) fn model_table(md: &mut String, c: &Crit, group: &str, unit: &str, sizes: &[usize]) {
    let _ = writeln!(md, "| {unit} | global | rwlock | read-mostly |");
    let _ = writeln!(md, "|---:|---:|---:|---:|");
    for &n in sizes {
        let row: Vec<String> = LockDesign::ALL
            .iter()
            .map(|d| med(cell(c, group, d.name(), n)))
            .collect();
        let _ = writeln!(md, "| {n} | {} |", row.join(" | "));
    }
}
