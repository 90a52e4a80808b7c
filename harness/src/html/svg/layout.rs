//! Where everything of the picture goes: the columns of the time axis (a step of the focused
//! view, a step it leaves out, a folded group, the room at a preemption), the lanes with their
//! operation band, box row and lock bars, and the count charts below them; the sizes are named
//! constants, and the labels are cut to fit their room.
//!
//! Invariant: the layout is a pure function of the timeline; columns are laid left to right
//! without overlap, and every step of the trace has a column (the steps of a folded group share
//! one).

use crate::report::md::step_text;
use crate::timeline::{lock_base, lock_op, result_of, Outcome, Row, Timeline};
use mountcheck_model::oracle::Step;
use std::fmt::Write as _;

/// Width of the left column holding lane, lock and value labels.
pub(super) const GUTTER: f64 = 170.0;
/// Width of one step's column: a step of the focused view, and one the focused view leaves out
/// (drawn narrow, without its glyph, so the race fits on a screen).
pub(super) const STEP_W: f64 = 16.0;
pub(super) const DIM_W: f64 = 6.0;
/// Width of one character of the 10px monospace font the labels use.
pub(super) const CHAR_W: f64 = 6.1;
/// Bounds on a folded group's column width (its label is cut to fit; its title has it whole;
/// the summary table above names every setup operation).
pub(super) const FOLD_MIN_W: f64 = 48.0;
pub(super) const FOLD_MAX_W: f64 = 104.0;
/// Extra room at a preemption, so its line does not touch the boxes.
pub(super) const MARK_GAP: f64 = 10.0;
/// Height of the axis above the lanes.
pub(super) const AXIS_H: f64 = 46.0;
/// Height of a lane's operation band, box row and padding.
pub(super) const OP_BAND: f64 = 17.0;
pub(super) const BOX_H: f64 = 22.0;
pub(super) const LANE_PAD: f64 = 8.0;
/// Height of one lock bar and of its row.
pub(super) const BAR_H: f64 = 8.0;
pub(super) const BAR_ROW: f64 = 12.0;
/// Height of one value row of a count chart and of its heading.
pub(super) const CHART_ROW: f64 = 15.0;
pub(super) const CHART_HEAD: f64 = 26.0;
/// Room right of the last column and below the last chart.
pub(super) const PAD: f64 = 24.0;
/// Width of the `blocked` label right of a thread's last step.
pub(super) const BLOCKED_LABEL_W: f64 = 48.0;
/// Labels in the gutter are cut to this many characters.
pub(super) const GUTTER_CHARS: usize = 25;

/// One column of the picture.
pub(super) struct Col {
    pub(super) x: f64,
    pub(super) w: f64,
}

impl Col {
    pub(super) fn mid(&self) -> f64 {
        self.x + self.w / 2.0
    }
    pub(super) fn end(&self) -> f64 {
        self.x + self.w
    }
}

/// `s` cut to `n` characters, with an ellipsis when cut.
pub(super) fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else if n == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

/// The glyph and class of a step's box.
pub(super) fn kind(s: &Step) -> (&'static str, &'static str) {
    let a = s.action.as_str();
    if s.failing {
        ("✗", "k-fail")
    } else if result_of(s).is_some() {
        ("=", "k-ret")
    } else if let Some(op) = lock_op(a) {
        if op.acquire {
            ("L", "k-lock")
        } else {
            ("U", "k-unlock")
        }
    } else if a.starts_with("get ") {
        ("+", "k-get")
    } else if a.starts_with("put ") {
        ("−", "k-put")
    } else if a.starts_with("alloc ") {
        ("A", "k-alloc")
    } else if a.starts_with("free ") || a.starts_with("shut down ") {
        ("F", "k-free")
    } else if a.starts_with("join") {
        ("J", "k-note")
    } else {
        ("·", "k-note")
    }
}

/// The hover text of a step.
pub(super) fn step_title(s: &Step) -> String {
    format!(
        "step {} · T{} · {}\n{}",
        s.seq,
        s.thread,
        s.op,
        step_text(s)
    )
}

/// The label of a folded group.
pub(super) fn fold_label(t: &Timeline, g: usize) -> String {
    let g = &t.groups[g];
    let mut l = if g.op.is_empty() {
        "boot".to_string()
    } else {
        g.op.clone()
    };
    if let Some(res) = &g.result {
        let _ = write!(l, " = {res}");
    }
    let _ = write!(l, " ({})", g.steps());
    l
}

/// Where a count chart goes and the values it shows.
pub(super) struct Chart {
    /// Top.
    pub(super) top: f64,
    /// Height.
    pub(super) h: f64,
    /// Its distinct values (number, label), lowest first; one row each.
    pub(super) values: Vec<(i64, String)>,
}

/// Where everything goes.
pub(super) struct Layout {
    /// The full view's rows (one column each, but preemption marks).
    pub(super) rows: Vec<Row>,
    /// The columns.
    pub(super) cols: Vec<Col>,
    /// Each step's column.
    pub(super) col_of: Vec<usize>,
    /// Each folded group's column: (group, column).
    pub(super) fold_col: Vec<(usize, usize)>,
    /// Each preemption's x: (switch, x).
    pub(super) marks: Vec<(usize, f64)>,
    /// Width of the picture.
    pub(super) width: f64,
    /// Each thread's lock rows, in order of first hold.
    pub(super) lock_rows: Vec<Vec<String>>,
    /// Each lane's top.
    pub(super) lane_top: Vec<f64>,
    /// Where the lanes end.
    pub(super) lanes_bottom: f64,
    /// Each count chart.
    pub(super) charts: Vec<Chart>,
    /// Height of the picture.
    pub(super) height: f64,
}

/// Lay the picture out: columns left to right, lanes then charts top to bottom.
pub(super) fn layout(t: &Timeline, n: usize) -> Layout {
    // Columns.
    let rows = t.rows(false);
    let mut cols: Vec<Col> = Vec::new();
    let mut col_of = vec![0usize; n];
    let mut fold_col: Vec<(usize, usize)> = Vec::new();
    let mut marks: Vec<(usize, f64)> = Vec::new();
    let mut x = GUTTER;
    for row in &rows {
        match *row {
            Row::Group(g) => {
                let label = fold_label(t, g);
                let w =
                    (label.chars().count() as f64 * CHAR_W + 14.0).clamp(FOLD_MIN_W, FOLD_MAX_W);
                for c in &mut col_of[t.groups[g].first..=t.groups[g].last] {
                    *c = cols.len();
                }
                fold_col.push((g, cols.len()));
                cols.push(Col { x, w });
                x += w;
            }
            Row::Step(i) => {
                let w = if t.kept[i] { STEP_W } else { DIM_W };
                col_of[i] = cols.len();
                cols.push(Col { x, w });
                x += w;
            }
            Row::Preemption(p) => {
                marks.push((p, x + MARK_GAP / 2.0));
                x += MARK_GAP;
            }
            Row::Hidden(_) => {}
        }
    }
    // Room for the label of an operation blocked for good, right of the last column.
    let blocked = t
        .summary
        .iter()
        .flat_map(|c| &c.ops)
        .any(|o| o.outcome == Outcome::Blocked);
    let width = x + PAD + if blocked { BLOCKED_LABEL_W } else { 0.0 };

    // Lanes: each thread's lock rows, in order of first hold.
    let lanes = t.threads + 1;
    let mut lock_rows: Vec<Vec<String>> = vec![Vec::new(); lanes];
    for h in &t.holds {
        let base = lock_base(&h.lock).to_string();
        if h.thread < lanes && !lock_rows[h.thread].contains(&base) {
            lock_rows[h.thread].push(base);
        }
    }
    let mut lane_top = Vec::with_capacity(lanes);
    let mut y = AXIS_H;
    for rows in &lock_rows {
        lane_top.push(y);
        y += OP_BAND + BOX_H + LANE_PAD + rows.len() as f64 * BAR_ROW + 4.0;
    }
    let lanes_bottom = y;

    // Charts: each count's distinct values, lowest first.
    let mut charts = Vec::new();
    for s in &t.counts {
        let mut values: Vec<(i64, String)> = Vec::new();
        if let Some((_, first)) = s.points.first() {
            values.push((first.value_before, first.before.clone()));
        }
        for (_, p) in &s.points {
            values.push((p.value, p.after.clone()));
        }
        values.sort();
        values.dedup_by(|a, b| a.0 == b.0);
        let h = CHART_HEAD + values.len().max(2) as f64 * CHART_ROW + 6.0;
        charts.push(Chart { top: y, h, values });
        y += h;
    }
    let height = y + PAD;

    Layout {
        rows,
        cols,
        col_of,
        fold_col,
        marks,
        width,
        lock_rows,
        lane_top,
        lanes_bottom,
        charts,
        height,
    }
}
