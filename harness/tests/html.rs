//! Integration tests of the rendered reports: a planted bug is explored by `mountcheck run`, its
//! JSON reports are rendered to HTML (`mountcheck __render-html`) and every page is checked as a
//! browser would parse it; the Markdown report of the bundled `get-super-no-pin` scenario under
//! loom puts the race on one screen. Only data in the reports is used: nothing is re-explored
//! for the pages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mountcheck"))
        .current_dir(workspace())
        .args(args)
        .output()
        .expect("run mountcheck");
    eprintln!(
        "--- mountcheck {}\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const PLANTED: &str = r#"name = "planted"
description = "get_super without the s_count pin races with umount."
variant = "get-super-no-pin"
expect = "use-after-free"
setup = ["mkdir /mnt", "mount ram0 /mnt"]
[[thread]]
ops = ["get_super ram0 as sb", "statfs sb", "drop_super sb"]
[[thread]]
ops = ["umount /mnt"]
"#;

/// A page, checked: HTML5 without parse errors, no script, nothing fetched.
fn check_page(path: &Path) -> String {
    let page = std::fs::read_to_string(path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", path.display());
    let errors = scraper::Html::parse_document(&page).errors;
    assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    assert!(!page.contains("<script"), "no script: {}", path.display());
    for fetch in ["src=", "href=\"http", "url(", "@import", "<link"] {
        assert!(
            !page.contains(fetch),
            "nothing fetched ({fetch}): {}",
            path.display()
        );
    }
    page
}

fn class_is(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|x| x == class))
}

#[test]
fn planted_bug_reports_render_to_valid_pages_with_lanes_failing_step_and_links() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("planted.toml");
    std::fs::write(&sc, PLANTED).unwrap();
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        sc.to_str().unwrap(),
        "--backend",
        "loom,pct",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let jsons: Vec<PathBuf> = ["loom", "pct"]
        .iter()
        .map(|b| reports.join(format!("planted--{b}.json")))
        .collect();
    let mut args = vec![
        "__render-html".to_string(),
        tmp.path().join("html").display().to_string(),
    ];
    args.extend(jsons.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run(&args).status.code(), Some(0));
    let html = tmp.path().join("html");

    for (b, json) in ["loom", "pct"].iter().zip(&jsons) {
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        let trace = report["trace"].as_array().unwrap();
        let page = check_page(&html.join(format!("planted--{b}.html")));
        let start = page.find("<svg").unwrap();
        let end = page.find("</svg>").unwrap() + "</svg>".len();
        let svg = roxmltree::Document::parse(&page[start..end]).expect("well-formed SVG");
        // One lane per thread of the trace.
        let threads = trace
            .iter()
            .map(|s| s["thread"].as_u64().unwrap())
            .max()
            .unwrap()
            + 1;
        let lanes = svg
            .descendants()
            .filter(|n| n.has_tag_name("rect") && class_is(n, "lane"))
            .count() as u64;
        assert_eq!(lanes, threads, "{b}");
        // The failing step's box exists and is highlighted.
        let failing = trace
            .iter()
            .find(|s| s["failing"] == true)
            .expect("the trace has its failing step");
        let seq = failing["seq"].as_u64().unwrap().to_string();
        let boxes: Vec<_> = svg
            .descendants()
            .filter(|n| n.attribute("data-seq") == Some(seq.as_str()))
            .collect();
        assert_eq!(boxes.len(), 1, "{b}");
        assert!(class_is(&boxes[0], "failing"), "{b}");
        // The preemptions drawn are those the header counts, and those the Markdown counts.
        let drawn = svg
            .descendants()
            .filter(|n| n.has_tag_name("g") && class_is(n, "preemption"))
            .count();
        let doc = scraper::Html::parse_document(&page);
        let sel = scraper::Selector::parse("span.preemptions").unwrap();
        let header: String = doc.select(&sel).next().unwrap().text().collect();
        assert_eq!(header.split(' ').next().unwrap(), drawn.to_string(), "{b}");
        let md = std::fs::read_to_string(json.with_extension("md")).unwrap();
        let marks = md.lines().filter(|l| l.starts_with("| ⇄ |")).count();
        assert_eq!(
            marks, drawn,
            "{b}: Markdown and HTML show the same preemptions"
        );
        assert!(md.contains(&format!(
            "{drawn} preemption{}",
            if drawn == 1 { "" } else { "s" }
        )));
    }

    // The index links every report, to files that exist.
    let index = check_page(&html.join("index.html"));
    let doc = scraper::Html::parse_document(&index);
    let a = scraper::Selector::parse("a[href]").unwrap();
    let hrefs: Vec<String> = doc
        .select(&a)
        .map(|e| e.value().attr("href").unwrap().to_string())
        .collect();
    assert_eq!(hrefs, vec!["planted--loom.html", "planted--pct.html"]);
    for h in &hrefs {
        assert!(html.join(h).is_file(), "{h} exists");
    }

    // Rendering is deterministic: the same reports give the same bytes.
    let again = tmp.path().join("again");
    let mut args = vec!["__render-html".to_string(), again.display().to_string()];
    args.extend(jsons.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run(&args).status.code(), Some(0));
    for b in ["loom", "pct"] {
        let name = format!("planted--{b}.html");
        assert_eq!(
            std::fs::read(html.join(&name)).unwrap(),
            std::fs::read(again.join(&name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn a_malformed_report_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\"schema\": \"mountcheck-report/1\",\n \"tool\": 3}\n",
    )
    .unwrap();
    let out_dir = tmp.path().join("html");
    let out = run(&[
        "__render-html",
        out_dir.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json:2:"), "{err}");
    assert!(!out_dir.exists());
}

#[test]
fn get_super_no_pin_under_loom_fits_on_one_screen_above_the_full_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let out = run(&[
        "run",
        "get-super-no-pin",
        "--backend",
        "loom",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let md = std::fs::read_to_string(reports.join("get-super-no-pin--loom.md")).unwrap();
    let full = md
        .find("## Full interleaving")
        .expect("the full trace is there");
    let above = &md[..full];
    // The summary table, with the failing operation marked.
    let summary = above.find("## Summary").expect("a summary");
    let focused = above
        .find("## Interleaving (focused")
        .expect("a focused view");
    assert!(summary < focused);
    let summary_rows: Vec<&str> = above[summary..focused]
        .lines()
        .filter(|l| l.starts_with('|'))
        .collect();
    assert!(summary_rows[0].starts_with("| setup (T0) | T1 | T2 |"));
    assert!(summary_rows
        .iter()
        .any(|l| l.contains("**✗ `get_super ram0 as sb`")));
    // At most 40 timeline rows, ending on the marked failing step.
    let rows: Vec<&str> = above[focused..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    assert!(
        !rows.is_empty() && rows.len() <= 40,
        "{} focused rows:\n{}",
        rows.len(),
        rows.join("\n")
    );
    assert!(rows.last().unwrap().contains("**✗ FAILS (use-after-free)"));
    assert!(rows.iter().any(|r| r.contains("**boot**")));
    // The complete trace is kept, collapsed.
    assert!(md[full..].contains("<details>"));
    let steps = md[full..]
        .lines()
        .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()))
        .count();
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("get-super-no-pin--loom.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(steps, json["trace"].as_array().unwrap().len());
}
