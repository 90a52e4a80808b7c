//! Tests of the pages: they parse as HTML5 without errors, their tags balance, the SVG is
//! well-formed XML with one lane per thread, the failing step and the preemptions are drawn,
//! text is escaped, and rendering is deterministic.

use super::*;
use crate::timeline::fixtures;

/// Elements HTML writes without an end tag.
const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];

/// The page's parse errors (html5ever's tree builder, as browsers parse) and its unbalanced
/// tags (a small tokenizer: every element but the void ones and self-closed SVG ones must be
/// closed in order; the style sheet is skipped).
pub(crate) fn page_problems(page: &str) -> Vec<String> {
    let mut problems: Vec<String> = scraper::Html::parse_document(page)
        .errors
        .iter()
        .map(|e| format!("parse error: {e}"))
        .collect();
    if !page.starts_with("<!DOCTYPE html>") {
        problems.push("no <!DOCTYPE html>".into());
    }
    let mut stack: Vec<String> = Vec::new();
    let mut rest = page;
    while let Some(lt) = rest.find('<') {
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            problems.push("unterminated tag".into());
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match stack.pop() {
                Some(open) if open == name => {}
                other => problems.push(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "style" {
            match rest.find("</style>") {
                Some(end) => rest = &rest[end + "</style>".len()..],
                None => problems.push("unclosed <style>".into()),
            }
            continue;
        }
        stack.push(name);
    }
    if !stack.is_empty() {
        problems.push(format!("unclosed: {stack:?}"));
    }
    problems
}

/// The page's SVG, parsed as XML.
fn svg_of(page: &str) -> roxmltree::Document<'_> {
    let start = page.find("<svg").expect("the page has an SVG");
    let end = page.find("</svg>").expect("the SVG is closed") + "</svg>".len();
    roxmltree::Document::parse(&page[start..end]).expect("the SVG is well-formed XML")
}

fn has_class(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|x| x == class))
}

fn reports() -> Vec<Report> {
    vec![
        fixtures::get_super_race(),
        fixtures::deadlock(),
        fixtures::quiescence_leak(),
    ]
}

#[test]
fn every_report_page_parses_without_errors() {
    for r in reports() {
        let page = report_page(&r);
        let problems = page_problems(&page);
        assert!(problems.is_empty(), "{}: {problems:?}", r.scenario.name);
    }
}

#[test]
fn the_checker_sees_broken_markup() {
    let bad = "<!DOCTYPE html>\n<html lang=\"en\"><head><title>x</title></head><body><table><tr><td>a</tr></table><div></body></html>";
    assert!(!page_problems(bad).is_empty());
    assert!(
        !scraper::Html::parse_document(bad).errors.is_empty(),
        "the HTML5 parser reports misnested markup"
    );
    assert!(!page_problems("<html><body></body></html>").is_empty());
}

#[test]
fn the_svg_has_one_lane_per_thread_and_the_failing_step_highlighted() {
    for r in reports() {
        let t = Timeline::from_report(&r);
        let page = report_page(&r);
        let svg = svg_of(&page);
        let lanes: Vec<_> = svg
            .descendants()
            .filter(|n| n.has_tag_name("rect") && has_class(n, "lane"))
            .collect();
        let threads = r.trace.iter().map(|s| s.thread).max().unwrap() + 1;
        assert_eq!(lanes.len(), threads, "{}", r.scenario.name);
        for (i, l) in lanes.iter().enumerate() {
            assert_eq!(l.attribute("data-thread"), Some(i.to_string().as_str()));
        }
        let failing: Vec<_> = svg
            .descendants()
            .filter(|n| n.has_tag_name("g") && has_class(n, "failing"))
            .collect();
        match r.trace.iter().find(|s| s.failing) {
            Some(f) => {
                assert_eq!(failing.len(), 1, "{}", r.scenario.name);
                assert_eq!(
                    failing[0].attribute("data-seq"),
                    Some(f.seq.to_string().as_str())
                );
                assert!(has_class(&failing[0], "k-fail"));
                assert!(svg
                    .descendants()
                    .any(|n| n.has_tag_name("rect") && has_class(&n, "failing-band")));
            }
            None => assert!(failing.is_empty()),
        }
        let preemptions = svg
            .descendants()
            .filter(|n| n.has_tag_name("g") && has_class(n, "preemption"))
            .count();
        assert_eq!(preemptions, t.preemption_count(), "{}", r.scenario.name);
        assert!(page.contains(&format!(
            "<span class=\"preemptions\">{} preemption",
            t.preemption_count()
        )));
    }
}

#[test]
fn the_race_fixture_draws_its_preemption_locks_and_counts() {
    let r = fixtures::get_super_race();
    let page = report_page(&r);
    let svg = svg_of(&page);
    let p: Vec<_> = svg
        .descendants()
        .filter(|n| n.has_tag_name("g") && has_class(n, "preemption"))
        .collect();
    assert_eq!(p.len(), 1);
    let title = p[0].first_element_child().unwrap().text().unwrap();
    assert_eq!(
        title,
        "preemption 1: T1 stopped after step 15 (get_super ram0 as sb); T2 runs instead"
    );
    // T2's hold of sb#4.s_umount for write, from step 22 to 24.
    assert!(svg.descendants().any(|n| has_class(&n, "hold-w")
        && n.first_element_child()
            .and_then(|t| t.text())
            .is_some_and(|t| t == "T2 holds sb#4.s_umount(w) from step 22 to step 24")));
    // The s_count chart with its symbolic values.
    let chart = svg
        .descendants()
        .find(|n| n.attribute("data-counter") == Some("s_count"))
        .expect("an s_count chart");
    let labels: Vec<&str> = chart
        .descendants()
        .filter(|n| has_class(n, "value-label"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(labels, vec!["0", "1", "S_BIAS", "S_BIAS + 1"]);
    // Folded boot and setup, expandable in the full table.
    assert!(page.contains(
        "<details><summary><span class=\"opname\">boot</span> (3 steps folded)</summary>"
    ));
}

#[test]
fn report_text_is_escaped() {
    let mut r = fixtures::get_super_race();
    r.scenario.description = "<script>alert('x')</script> & \"more\"".into();
    r.trace[16].action = "spin_lock(<b>&)".into();
    let page = report_page(&r);
    assert!(!page.contains("<script"));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"));
    assert!(!page.contains("<b>&"));
    assert!(page_problems(&page).is_empty());
    svg_of(&page);
}

#[test]
fn rendering_is_deterministic() {
    for r in reports() {
        assert_eq!(report_page(&r), report_page(&r.clone()));
    }
}

#[test]
fn a_clean_report_has_no_picture_but_a_valid_page() {
    let mut r = fixtures::get_super_race();
    r.finding = None;
    r.trace.clear();
    r.verdict = crate::verdict::Verdict::Clean;
    let page = report_page(&r);
    assert!(!page.contains("<svg"));
    assert!(page_problems(&page).is_empty());
}

#[test]
fn a_finding_without_a_trace_renders_in_both_formats() {
    // A crash: the child died before it could send a trace.
    let mut r = fixtures::get_super_race();
    r.trace.clear();
    if let Some(f) = &mut r.finding {
        f.finding.class = mountcheck_model::FindingClass::Crash;
        f.finding.object = None;
    }
    let page = report_page(&r);
    assert!(page_problems(&page).is_empty());
    assert!(page.contains("Finding: crash"));
    let md = crate::report::markdown(&r);
    assert!(md.contains("## Finding: crash"));
    assert!(!md.contains("## Summary"));
}

#[test]
fn the_index_links_each_report_and_marks_disagreements() {
    let rows = [
        report::Row {
            scenario: "a<b".into(),
            variant: "fixed".into(),
            lock_design: "global".into(),
            strategy: "loom".into(),
            verdict: crate::verdict::Verdict::Finding(mountcheck_model::FindingClass::Leak),
            stop: mountcheck_engine::Stop::Finding,
            executions: 3,
            replicas: 1,
            bounds: fixtures::get_super_race().exploration.bounds,
            expect: "clean".into(),
            ok: false,
            secs: 0.1,
            report: Some("/tmp/r/a--loom.json".into()),
            checker_error: None,
            linearizability: None,
            spec_secs: None,
        },
        report::Row {
            scenario: "b".into(),
            variant: "fixed".into(),
            lock_design: "global".into(),
            strategy: "pct".into(),
            verdict: crate::verdict::Verdict::Clean,
            stop: mountcheck_engine::Stop::Bound,
            executions: 2000,
            replicas: 1,
            bounds: fixtures::get_super_race().exploration.bounds,
            expect: "clean".into(),
            ok: true,
            secs: 0.1,
            report: None,
            checker_error: None,
            linearizability: None,
            spec_secs: None,
        },
    ];
    let entries: Vec<IndexEntry> = rows.iter().map(IndexEntry::from_row).collect();
    assert_eq!(entries[0].report.as_deref(), Some("a--loom.html"));
    let page = index_page("mountcheck run", &entries);
    assert!(
        page_problems(&page).is_empty(),
        "{:?}",
        page_problems(&page)
    );
    assert!(page.contains("<a href=\"a--loom.html\">a--loom.html</a>"));
    assert!(page.contains("<td>a&lt;b</td>"));
    assert!(page.contains("1 of 2 explorations"));
    assert!(page.contains("<td class=\"bad\">no</td>"));
}

#[test]
fn the_catalog_page_has_a_row_per_mutant_linking_its_reports() {
    let result = |backend: &str, fixed: bool, report: Option<&str>| CatalogResult {
        backend: backend.into(),
        fixed,
        outcome: if fixed { "clean".into() } else { "yes".into() },
        ok: true,
        executions: 7,
        report: report.map(str::to_string),
    };
    let entries = vec![
        CatalogEntry {
            mutant: "get-super-no-pin".into(),
            expected: "use-after-free".into(),
            description: "get_super returns without the pin".into(),
            see: "fs/super.c".into(),
            results: vec![
                result("loom", false, Some("catalog/get-super-no-pin--loom.html")),
                result("loom", true, None),
                result("pct", false, Some("catalog/get-super-no-pin--pct.html")),
                result("pct", true, None),
            ],
        },
        CatalogEntry {
            mutant: "missing-drop-super".into(),
            expected: "deadlock".into(),
            description: "ustat forgets drop_super".into(),
            see: "fs/open.c".into(),
            results: vec![result(
                "loom",
                false,
                Some("catalog/missing-drop-super--loom.html"),
            )],
        },
    ];
    let page = catalog_page("global", &entries);
    assert!(
        page_problems(&page).is_empty(),
        "{:?}",
        page_problems(&page)
    );
    let doc = scraper::Html::parse_document(&page);
    let rows = scraper::Selector::parse("table.catalog tbody tr").unwrap();
    assert_eq!(doc.select(&rows).count(), 2);
    let links = scraper::Selector::parse("a[href]").unwrap();
    let hrefs: Vec<&str> = doc
        .select(&links)
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(
        hrefs,
        vec![
            "catalog/get-super-no-pin--loom.html",
            "catalog/get-super-no-pin--pct.html",
            "catalog/missing-drop-super--loom.html"
        ]
    );
    let heads = scraper::Selector::parse("table.catalog th").unwrap();
    let heads: Vec<String> = doc.select(&heads).map(|h| h.text().collect()).collect();
    assert_eq!(heads, vec!["mutant", "finding", "loom", "pct", "see"]);
}

#[test]
fn write_report_page_writes_the_page_whole() {
    let dir = tempfile::tempdir().unwrap();
    let r = fixtures::get_super_race();
    let path = write_report_page(dir.path(), &r).unwrap();
    assert_eq!(path, dir.path().join("get-super-race--loom.html"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), report_page(&r));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no partial file left: {names:?}");
}
