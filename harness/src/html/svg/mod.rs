//! The picture of a race: one SVG swimlane per thread on a shared time axis.
//!
//! What it models: nothing of the kernel; it draws a report's [`Timeline`]. The x axis is the
//! step index: each step of the threads is a column with its box in its thread's lane, and each
//! folded group (boot, a setup operation, fork, a quiescence operation) is one wider column.
//! Above each lane's boxes a band names the operation each run of steps belongs to; below them,
//! one bar row per lock the thread took shows when it held it (dark: exclusive, light: shared).
//! Under the lanes, one step chart per count of the finding's objects shows its values with the
//! kernel's symbolic labels (`S_BIAS + 1`), one row per distinct value. A preemption is a dashed
//! line at the switch with a mark in the stopped thread's lane; a wait for a held lock is a
//! dotted line in the waiting lane (and after the last step of an operation blocked for good in
//! a deadlock); a step the focused view leaves out is a narrow column without its glyph, so the
//! race fits on a screen; the failing step's column is shaded across the picture and
//! its box drawn in red. Every box, bar, mark and point has a `<title>` with its full text, which
//! a browser shows on hover.
//!
//! Invariant: the output is well-formed XML (every text escaped, every element closed) and a
//! pure function of the report; it has exactly one `class="lane"` rectangle per thread T0..Tn.

use std::fmt::Write as _;

use super::esc;
use crate::report::md::step_text;
use crate::report::Report;
use crate::timeline::{lock_base, result_of, Outcome, Row, SwitchKind, Timeline};

mod layout;

use layout::{
    fit, fold_label, kind, layout, step_title, Chart, Layout, AXIS_H, BAR_H, BAR_ROW, BOX_H,
    CHART_ROW, CHAR_W, GUTTER, GUTTER_CHARS, LANE_PAD, OP_BAND, PAD, STEP_W,
};

/// The SVG picture of a report's trace.
pub fn swimlanes(r: &Report, t: &Timeline) -> String {
    let trace = &r.trace;
    let n = trace.len();
    if n == 0 {
        return String::new();
    }
    let l = layout(t, n);
    let Layout {
        cols,
        col_of,
        width,
        height,
        lane_top,
        lanes_bottom,
        ..
    } = &l;
    let (width, height, lanes_bottom) = (*width, *height, *lanes_bottom);
    let lanes = t.threads + 1;
    let y = height - PAD;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"swimlanes\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"{}\">",
        esc(&format!(
            "swimlanes of {} under {}: {} threads, {} steps, {} preemptions",
            r.scenario.name,
            r.exploration.strategy,
            lanes,
            n,
            t.preemption_count()
        ))
    );
    let _ = writeln!(
        o,
        "<title>{}</title>",
        esc(&format!(
            "{} — {} ({})",
            r.scenario.name, r.verdict, r.exploration.strategy
        ))
    );

    // Lane backgrounds.
    for (th, top) in lane_top.iter().enumerate() {
        let bottom = lane_top.get(th + 1).copied().unwrap_or(lanes_bottom);
        let _ = writeln!(
            o,
            "<rect class=\"lane{}\" data-thread=\"{th}\" x=\"0\" y=\"{top:.1}\" width=\"{width:.0}\" height=\"{:.1}\"/>",
            if th % 2 == 1 { " odd" } else { "" },
            bottom - top
        );
    }
    // The failing step's column, across the picture.
    if let Some(f) = t.failing {
        let c = &cols[col_of[f]];
        let _ = writeln!(
            o,
            "<rect class=\"failing-band\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
            c.x,
            AXIS_H - 14.0,
            c.w,
            y - AXIS_H + 14.0,
            esc(&format!("the failing step, {}", trace[f].seq))
        );
    }

    axis(&mut o, r, t, &l);
    for th in 0..lanes {
        lane(&mut o, r, t, &l, th);
    }
    switch_marks(&mut o, r, t, &l);
    count_charts(&mut o, r, t, &l);
    o.push_str("</svg>\n");
    o
}

/// The step axis: folded groups' ranges, every tenth step and the failing one.
fn axis(o: &mut String, r: &Report, t: &Timeline, l: &Layout) {
    let Layout {
        rows,
        cols,
        col_of,
        width,
        ..
    } = l;
    let trace = &r.trace;
    let _ = writeln!(o, "<g class=\"axis\">");
    let _ = writeln!(
        o,
        "<text class=\"axis-title\" x=\"8\" y=\"{:.1}\">step</text>",
        AXIS_H - 8.0
    );
    let _ = writeln!(
        o,
        "<line class=\"axis-line\" x1=\"{GUTTER:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        AXIS_H - 3.0,
        width - PAD,
        AXIS_H - 3.0
    );
    let mut last_label_end = f64::MIN;
    for row in rows {
        let (label, c) = match *row {
            Row::Group(g) => {
                let g = &t.groups[g];
                (
                    format!("{}–{}", trace[g.first].seq, trace[g.last].seq),
                    &cols[col_of[g.first]],
                )
            }
            Row::Step(i) if trace[i].seq.is_multiple_of(10) || t.failing == Some(i) => {
                (trace[i].seq.to_string(), &cols[col_of[i]])
            }
            _ => continue,
        };
        let w = label.chars().count() as f64 * CHAR_W;
        if c.mid() - w / 2.0 < last_label_end + 4.0 {
            continue;
        }
        last_label_end = c.mid() + w / 2.0;
        let _ = writeln!(
            o,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            c.mid(),
            AXIS_H - 8.0,
            esc(&label)
        );
    }
    let _ = writeln!(o, "</g>");
}

/// One thread's lane: its operations, its boxes and folded groups, its lock bars.
fn lane(o: &mut String, r: &Report, t: &Timeline, l: &Layout, th: usize) {
    let Layout {
        cols,
        col_of,
        fold_col,
        width,
        lock_rows,
        lane_top,
        ..
    } = l;
    let trace = &r.trace;
    let n = trace.len();
    let top = lane_top[th];
    let box_y = top + OP_BAND;
    let _ = writeln!(o, "<g class=\"lane-content\" data-thread=\"{th}\">");
    let name = if th == 0 {
        "T0 (init)".to_string()
    } else {
        format!("T{th}")
    };
    let _ = writeln!(
        o,
        "<text class=\"lane-label\" x=\"8\" y=\"{:.1}\">{}</text>",
        box_y + 15.0,
        esc(&name)
    );
    // Operation bands: each run of steps of one operation, unless it is a folded group.
    let mut i = 0;
    while i < n {
        if trace[i].thread != th || !t.op_start[i] {
            i += 1;
            continue;
        }
        let mut last = i;
        let mut j = i + 1;
        while j < n && !(trace[j].thread == th && t.op_start[j]) {
            if trace[j].thread == th {
                last = j;
            }
            j += 1;
        }
        let folded = (i..=last).all(|k| {
            trace[k].thread != th || matches!(t.group_of[k], Some(g) if t.groups[g].folded)
        });
        if !folded {
            let (x1, x2) = (cols[col_of[i]].x + 1.0, cols[col_of[last]].end() - 1.0);
            let by = top + OP_BAND - 4.0;
            let mut title = trace[i].op.clone();
            if let Some(res) = result_of(&trace[last]) {
                let _ = write!(title, " = {res}");
            }
            let _ = write!(
                o,
                "<g class=\"op-band\"><title>{}</title><path d=\"M{x1:.1} {:.1} V{by:.1} H{x2:.1} V{:.1}\"/>",
                esc(&format!("T{th}: {title} (steps {}–{})", trace[i].seq, trace[last].seq)),
                by + 3.0,
                by + 3.0
            );
            let chars = ((x2 - x1 - 4.0) / CHAR_W).floor().max(0.0) as usize;
            let label = fit(&title, chars);
            if chars >= 3 {
                let _ = write!(
                    o,
                    "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    x1 + 2.0,
                    by - 3.0,
                    esc(&label)
                );
            }
            let _ = writeln!(o, "</g>");
        }
        i = j;
    }
    // Folded groups of this thread.
    for &(g, c) in fold_col {
        let grp = &t.groups[g];
        if grp.thread != th {
            continue;
        }
        let c = &cols[c];
        let mut title = format!(
            "steps {}–{} · T{th} · {}: {} ({} steps folded)",
            trace[grp.first].seq,
            trace[grp.last].seq,
            grp.phase.name(),
            fold_label(t, g),
            grp.steps()
        );
        for s in &trace[grp.first..=grp.last] {
            let _ = write!(title, "\n{}: {}", s.seq, step_text(s));
        }
        let label = fold_label(t, g);
        let chars = ((c.w - 10.0) / CHAR_W).floor().max(0.0) as usize;
        let _ = writeln!(
            o,
            "<g class=\"fold\" data-first=\"{}\" data-last=\"{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{box_y:.1}\" width=\"{:.1}\" height=\"{BOX_H:.1}\" rx=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
            trace[grp.first].seq,
            trace[grp.last].seq,
            esc(&title),
            c.x + 2.0,
            c.w - 4.0,
            c.mid(),
            box_y + 15.0,
            esc(&fit(&label, chars))
        );
    }
    // Step boxes.
    for (i, s) in trace.iter().enumerate() {
        if s.thread != th || matches!(t.group_of[i], Some(g) if t.groups[g].folded) {
            continue;
        }
        let c = &cols[col_of[i]];
        let (glyph, class) = kind(s);
        let mut classes = format!("step {class}");
        if s.failing {
            classes.push_str(" failing");
        } else if !t.kept[i] {
            classes.push_str(" dim");
        }
        if t.touches[i] {
            classes.push_str(" focus");
        }
        let (inset, text) = if c.w < STEP_W {
            (1.0, String::new())
        } else {
            (
                2.0,
                format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{glyph}</text>",
                    c.mid(),
                    box_y + 15.0
                ),
            )
        };
        let _ = writeln!(
            o,
            "<g class=\"{classes}\" data-seq=\"{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{box_y:.1}\" width=\"{:.1}\" height=\"{BOX_H:.1}\" rx=\"2\"/>{text}</g>",
            s.seq,
            esc(&step_title(s)),
            c.x + inset,
            c.w - 2.0 * inset
        );
    }
    // Lock bars.
    for (k, lock) in lock_rows[th].iter().enumerate() {
        let ly = box_y + BOX_H + LANE_PAD + k as f64 * BAR_ROW;
        let _ = writeln!(
            o,
            "<text class=\"lock-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            GUTTER - 6.0,
            ly + BAR_H - 0.5,
            esc(&fit(lock, GUTTER_CHARS))
        );
        for h in t
            .holds
            .iter()
            .filter(|h| h.thread == th && lock_base(&h.lock) == lock)
        {
            let x1 = cols[col_of[h.from]].x + 1.0;
            let x2 = h.to.map_or(width - PAD, |j| cols[col_of[j]].end() - 1.0);
            let mode = if h.lock.ends_with("(r)") { "r" } else { "w" };
            let until =
                h.to.map_or("the end".to_string(), |j| format!("step {}", trace[j].seq));
            let _ = writeln!(
                o,
                "<rect class=\"hold hold-{mode}\" x=\"{x1:.1}\" y=\"{ly:.1}\" width=\"{:.1}\" height=\"{BAR_H:.1}\"><title>{}</title></rect>",
                (x2 - x1).max(2.0),
                esc(&format!(
                    "T{th} holds {} from step {} to {until}",
                    h.lock, trace[h.from].seq
                ))
            );
        }
    }
    let _ = writeln!(o, "</g>");
}

/// Preemptions, waits for held locks, and operations blocked for good.
fn switch_marks(o: &mut String, r: &Report, t: &Timeline, l: &Layout) {
    let Layout {
        cols,
        col_of,
        marks,
        lane_top,
        lanes_bottom,
        ..
    } = l;
    let trace = &r.trace;
    // Switch marks: preemptions across the lanes, waits in the waiting lane.
    for (p, bx) in marks {
        let sw = &t.switches[*p];
        let top = lane_top[sw.from];
        let _ = writeln!(
            o,
            "<g class=\"preemption\" data-number=\"{}\"><title>{}</title><line class=\"preempt-line\" x1=\"{bx:.1}\" y1=\"{:.1}\" x2=\"{bx:.1}\" y2=\"{lanes_bottom:.1}\"/><rect class=\"preempt-mark\" x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"{BOX_H:.1}\"/><text class=\"preempt-label\" x=\"{bx:.1}\" y=\"13\" text-anchor=\"middle\">P{}</text></g>",
            sw.number,
            esc(&format!(
                "preemption {}: T{} stopped after step {} ({}); T{} runs instead",
                sw.number,
                sw.from,
                trace[sw.after].seq,
                trace[sw.after].op,
                sw.to
            )),
            17.0,
            bx - 3.0,
            top + OP_BAND,
            sw.number
        );
    }
    for sw in &t.switches {
        let SwitchKind::Blocked { lock, holder } = &sw.kind else {
            continue;
        };
        let bx = cols[col_of[sw.after]].end();
        let top = lane_top[sw.from];
        let what = match (lock, holder) {
            (Some(l), Some(h)) => format!("T{} waits for {l}, held by T{h}", sw.from),
            _ => format!("T{} is blocked (deadlock)", sw.from),
        };
        let _ = writeln!(
            o,
            "<g class=\"blocked\"><title>{}</title><line class=\"blocked-line\" x1=\"{bx:.1}\" y1=\"{:.1}\" x2=\"{bx:.1}\" y2=\"{:.1}\"/></g>",
            esc(&format!("{what} (after step {})", trace[sw.after].seq)),
            top + 2.0,
            top + OP_BAND + BOX_H + 2.0
        );
    }

    // Operations that never returned because their thread blocked (a deadlock): a wait mark
    // after the thread's last step.
    for c in &t.summary {
        for op in c.ops.iter().filter(|op| op.outcome == Outcome::Blocked) {
            let Some(last) = op.last else {
                continue;
            };
            let bx = cols[col_of[last]].end();
            let top = lane_top[c.thread];
            let _ = writeln!(
                o,
                "<g class=\"blocked\"><title>{}</title><line class=\"blocked-line\" x1=\"{bx:.1}\" y1=\"{:.1}\" x2=\"{bx:.1}\" y2=\"{:.1}\"/><text class=\"blocked-label\" x=\"{:.1}\" y=\"{:.1}\">blocked</text></g>",
                esc(&format!(
                    "T{} blocked in `{}` after step {}: it never returned",
                    c.thread, op.op, trace[last].seq
                )),
                top + 2.0,
                top + OP_BAND + BOX_H + 2.0,
                bx + 3.0,
                top + OP_BAND + 15.0
            );
        }
    }
}

/// The count charts of the finding's objects.
fn count_charts(o: &mut String, r: &Report, t: &Timeline, l: &Layout) {
    let Layout {
        cols,
        col_of,
        width,
        charts,
        ..
    } = l;
    let trace = &r.trace;
    for (s, Chart { top, h, values }) in t.counts.iter().zip(charts) {
        let rank_y = |v: i64| -> f64 {
            let k = values.iter().position(|(x, _)| *x == v).unwrap_or(0);
            top + h - 12.0 - k as f64 * CHART_ROW
        };
        let _ = writeln!(
            o,
            "<g class=\"chart\" data-object=\"{}\" data-counter=\"{}\">",
            esc(&s.object),
            esc(s.counter)
        );
        let _ = writeln!(
            o,
            "<rect class=\"chart-bg\" x=\"0\" y=\"{top:.1}\" width=\"{width:.0}\" height=\"{h:.1}\"/>"
        );
        let _ = writeln!(
            o,
            "<text class=\"chart-title\" x=\"8\" y=\"{:.1}\">{}</text>",
            top + 16.0,
            esc(&format!("{} {}", s.object, s.counter))
        );
        for (v, label) in values {
            let vy = rank_y(*v);
            let _ = writeln!(
                o,
                "<line class=\"grid\" x1=\"{GUTTER:.1}\" y1=\"{vy:.1}\" x2=\"{:.1}\" y2=\"{vy:.1}\"/><text class=\"value-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                width - PAD,
                GUTTER - 6.0,
                vy + 3.5,
                esc(&fit(label, GUTTER_CHARS))
            );
        }
        for e in t.object_events.iter().filter(|e| e.object == s.object) {
            let ex = cols[col_of[e.index]].mid();
            let _ = writeln!(
                o,
                "<g class=\"object-event ev-{}\"><title>{}</title><line x1=\"{ex:.1}\" y1=\"{:.1}\" x2=\"{ex:.1}\" y2=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                e.what.replace(' ', "-"),
                esc(&format!("step {}: {} {}", trace[e.index].seq, e.what, e.object)),
                top + 20.0,
                top + h - 4.0,
                ex + 3.0,
                top + 28.0,
                esc(e.what)
            );
        }
        if let Some((first, p0)) = s.points.first() {
            let mut d = format!(
                "M{:.1} {:.1}",
                cols[col_of[*first]].x,
                rank_y(p0.value_before)
            );
            for (i, p) in &s.points {
                let _ = write!(d, " H{:.1} V{:.1}", cols[col_of[*i]].mid(), rank_y(p.value));
            }
            let _ = write!(d, " H{:.1}", width - PAD);
            let _ = writeln!(o, "<path class=\"count-line\" d=\"{d}\"/>");
            for (i, p) in &s.points {
                let _ = writeln!(
                    o,
                    "<circle class=\"count-point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"><title>{}</title></circle>",
                    cols[col_of[*i]].mid(),
                    rank_y(p.value),
                    esc(&format!(
                        "step {} (T{}): {} {} -> {} {}",
                        trace[*i].seq, trace[*i].thread, p.counter, p.before, p.after, p.what
                    ))
                );
            }
        }
        let _ = writeln!(o, "</g>");
    }
}
