//! What a check prints: the status line, long output and perfdata, as Nagios text or JSON.
//!
//! Nagios text (plugin-contract §2 and §7):
//!
//! ```text
//! <LABEL> <STATE> - <summary> | <perfdata>        (perfdata here when line 1 stays <= 1023 bytes)
//! <long output line>
//! ...
//! | <perfdata>                                     (otherwise: one final line starting with "| ")
//! ```
//!
//! - Text from anywhere is sanitised: `|` becomes `/`, control characters become spaces, and a
//!   newline in the summary starts the long output.
//! - The whole output fits a byte budget (default 4096), never cutting the status line. When
//!   perfdata and long output do not both fit, perfdata keeps at least half of the room left
//!   after line 1 (more if the long output needs less), the long output the rest; each is cut
//!   at whole items or lines, with a line saying how much was left out.

use crate::perfdata::Perfdata;
use crate::state::State;
use crate::units::format_number;

/// The result of one check run.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The state, and so the exit code.
    pub state: State,
    /// One line for the status line; extra lines (after a newline) become long output.
    pub summary: String,
    /// Long output, one entry per line.
    pub details: Vec<String>,
    /// Performance data, on line 1 or a last `| ` line.
    pub perfdata: Vec<Perfdata>,
    /// Replaces `<LABEL> <STATE>` at the start of line 1 (check_cron_file prints Zulip's
    /// `<state text>: <message>` instead).
    pub status_text: Option<String>,
    /// Print the summary and long output alone: no label, state or perfdata (a value for
    /// MRTG-style callers, check_postgres.pl's `--output=simple`, munin's values).
    pub plain: bool,
    /// Perfdata items the check left out before printing (see [`crate::PerfdataGroups`]); the
    /// output says how many, with those the budget cuts.
    pub perfdata_left_out: usize,
    /// Lines of long output the check left out before printing (a bounded [`Findings`]'
    /// least bad): counted with the lines the budget cuts.
    pub details_left_out: usize,
}

impl Report {
    /// The same report printed as its text alone, without label, state word or perfdata
    /// (munin's values, check_postgres.pl's dbstats lines); the exit code stays the state's.
    pub fn as_plain(mut self) -> Report {
        self.plain = true;
        self
    }

    /// A report with this state and summary.
    pub fn new(state: State, summary: impl Into<String>) -> Report {
        Report {
            state,
            summary: summary.into(),
            details: Vec::new(),
            perfdata: Vec::new(),
            status_text: None,
            plain: false,
            perfdata_left_out: 0,
            details_left_out: 0,
        }
    }

    /// An OK report.
    pub fn ok(summary: impl Into<String>) -> Report {
        Report::new(State::Ok, summary)
    }

    /// Adds a long-output line.
    pub fn detail(mut self, line: impl Into<String>) -> Report {
        self.details.push(line.into());
        self
    }

    /// Adds a perfdata item.
    pub fn perf(mut self, pd: Perfdata) -> Report {
        self.perfdata.push(pd);
        self
    }
}

/// Longest status-line summary kept, in bytes (the line is for pagers and dashboards).
pub const SUMMARY_LIMIT: usize = 400;
/// Perfdata stays on line 1 while line 1 fits NRPE v2's 1023-byte packets.
pub const LINE1_LIMIT: usize = 1023;
/// Default byte budget for the whole output: Nagios' documented 4 KiB.
pub const DEFAULT_OUTPUT_LIMIT: usize = 4096;

/// One judgement of a check (monitoring-plugins' `mp_subcheck`): its state, one line of summary,
/// long-output lines and perfdata, and a rank (how bad, within its state: messages waiting,
/// bytes used). A check made of several judgements builds its [`Report`] from them with
/// [`Findings`]: the worst state wins and the summary names the worst first.
#[derive(Clone, Debug, PartialEq)]
pub struct SubResult {
    /// The judgement's state.
    pub state: State,
    /// One line of summary.
    pub summary: String,
    /// Long-output lines.
    pub details: Vec<String>,
    /// Its perfdata items.
    pub perfdata: Vec<Perfdata>,
    /// How bad within its state (higher is named first).
    pub rank: f64,
}

impl SubResult {
    /// A judgement with its state and summary.
    pub fn new(state: State, summary: impl Into<String>) -> SubResult {
        SubResult {
            state,
            summary: summary.into(),
            details: Vec::new(),
            perfdata: Vec::new(),
            rank: 0.0,
        }
    }

    /// An OK judgement.
    pub fn ok(summary: impl Into<String>) -> SubResult {
        SubResult::new(State::Ok, summary)
    }

    /// `value` judged against `thresholds`: OK with `what`, or the alert's state with `what`
    /// and why (`what (warning > 16MiB)`, the bounds in `dim`'s human form).
    pub fn judged(
        thresholds: &crate::Thresholds,
        value: f64,
        dim: crate::Dimension,
        what: impl Into<String>,
    ) -> SubResult {
        let what = what.into();
        match thresholds.alert(value, dim) {
            Some((state, why)) => SubResult::new(state, format!("{what} ({why})")),
            None if value.is_nan() => SubResult::new(State::Unknown, what),
            None => SubResult::ok(what),
        }
    }

    /// The same with a rank.
    pub fn ranked(mut self, rank: f64) -> SubResult {
        self.rank = rank;
        self
    }

    /// Adds a long-output line.
    pub fn detail(mut self, line: impl Into<String>) -> SubResult {
        self.details.push(line.into());
        self
    }

    /// Adds a perfdata item.
    pub fn perf(mut self, pd: Perfdata) -> SubResult {
        self.perfdata.push(pd);
        self
    }
}

/// What a check found: its sub-results, in the order found. The report's state is the worst
/// of them; the summary leads with the worst state, and within a state with the highest rank
/// (then in the order found), followed by what was measured.
#[derive(Debug, Default)]
pub struct Findings {
    items: Vec<SubResult>,
    /// [`Findings::bounded`]: how many are kept.
    keep: Option<usize>,
    /// How many were dropped (the least bad) to stay within `keep`.
    dropped: usize,
}

impl Findings {
    /// Findings that keep only the `n` worst (by state, then rank, then the order found) and
    /// count the others: for checks that judge thousands of things (queues), in memory that
    /// does not grow with them. The status line and the long output say how many more there
    /// are; the state is the worst, as always.
    pub fn bounded(n: usize) -> Findings {
        Findings {
            keep: Some(n.max(1)),
            ..Findings::default()
        }
    }

    /// Findings for a check that may judge thousands of things: bounded by what an output of
    /// `budget` bytes can print (a line of long output takes at least 16 bytes), unbounded
    /// without a budget (JSON). Checks pass [`crate::output_budget`].
    pub fn for_budget(budget: Option<usize>) -> Findings {
        match budget {
            Some(bytes) => Findings::bounded(bytes / 16),
            None => Findings::default(),
        }
    }

    /// Puts the findings' texts, worst first, in `report`'s long output, and the count of
    /// those a bounded set left out.
    pub fn details_into(&self, report: &mut Report) {
        report
            .details
            .extend(self.lines().into_iter().map(String::from));
        report.details_left_out += self.not_named();
    }

    /// Drops all but the `keep` worst.
    fn trim(&mut self) {
        if let Some(n) = self.keep.filter(|n| self.items.len() > *n) {
            self.items.sort_by(worst_first);
            self.dropped += self.items.len() - n;
            self.items.truncate(n);
        }
    }

    /// A finding that is only a state and a text.
    pub fn add(&mut self, state: State, text: impl Into<String>) {
        self.add_ranked(state, text, 0.0);
    }

    /// A finding with a rank: the higher, the earlier it is named within its state.
    pub fn add_ranked(&mut self, state: State, text: impl Into<String>, rank: f64) {
        self.push(SubResult::new(state, text).ranked(rank));
    }

    /// A whole sub-result.
    pub fn push(&mut self, sub: SubResult) {
        self.items.push(sub);
        // Trimmed when twice the bound: sorting is paid once per `keep` findings.
        if self.keep.is_some_and(|n| self.items.len() >= 2 * n) {
            self.trim();
        }
    }

    /// Several sub-results (or none: an `Option`).
    pub fn extend(&mut self, subs: impl IntoIterator<Item = SubResult>) {
        for sub in subs {
            self.push(sub);
        }
    }

    /// The worst state found (OK when nothing was).
    pub fn state(&self) -> State {
        self.items
            .iter()
            .map(|s| s.state)
            .fold(State::Ok, State::worst)
    }

    /// How many findings there are (those a bounded set dropped included).
    pub fn len(&self) -> usize {
        self.items.len() + self.dropped
    }

    /// How many findings [`Findings::lines`] does not name (a bounded set's least bad).
    pub fn not_named(&self) -> usize {
        self.len() - self.lines().len()
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The sub-results, worst first (a stable order within a state and rank); a bounded set's
    /// worst `n`.
    pub fn sorted(&self) -> Vec<&SubResult> {
        let mut items: Vec<&SubResult> = self.items.iter().collect();
        items.sort_by(|a, b| worst_first(a, b));
        items.truncate(self.keep.unwrap_or(usize::MAX));
        items
    }

    /// The findings' texts, worst first.
    pub fn lines(&self) -> Vec<&str> {
        self.sorted()
            .into_iter()
            .map(|s| s.summary.as_str())
            .collect()
    }

    /// The findings, worst first, joined with `; `, followed by `measured` when given.
    pub fn summary(&self, measured: Option<&str>) -> String {
        self.summary_top(usize::MAX, measured)
    }

    /// The same, naming at most `n` findings and how many more there are (`and 95 more`), so
    /// that the status line stays short with thousands of findings.
    pub fn summary_top(&self, n: usize, measured: Option<&str>) -> String {
        let lines = self.lines();
        let more = self.len() - lines.len().min(n);
        let more = (more > 0).then(|| format!("and {more} more"));
        lines
            .into_iter()
            .take(n)
            .map(str::to_string)
            .chain(more)
            .chain(measured.map(str::to_string))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The report of all sub-results: the worst state, [`Findings::summary_top`] as the status
    /// line, then every sub-result's long output and perfdata in the order found.
    pub fn into_report(mut self, top: usize, measured: Option<&str>) -> Report {
        self.trim();
        let mut report = Report::new(self.state(), self.summary_top(top, measured));
        for s in self.items {
            report.details.extend(s.details);
            report.perfdata.extend(s.perfdata);
        }
        report
    }

    /// The sub-results themselves, in the order found (a bounded set's worst, worst first).
    pub fn into_subs(mut self) -> Vec<SubResult> {
        self.trim();
        self.items
    }
}

/// Worse state first, then higher rank; equal ones keep their order (a stable sort).
fn worst_first(a: &SubResult, b: &SubResult) -> std::cmp::Ordering {
    b.state.severity().cmp(&a.state.severity()).then(
        b.rank
            .partial_cmp(&a.rank)
            .unwrap_or(std::cmp::Ordering::Equal),
    )
}

/// Makes text safe for one output line: `|` → `/`, control characters (newlines, tabs, escapes)
/// → space.
pub fn sanitize_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut with `...`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Renders a report as Nagios plugin output. `label` is the check's label (`CRON_FILE`);
/// `limit` is the byte budget (0: unlimited). The result ends with a newline.
pub fn render_nagios(label: &str, report: &Report, limit: usize) -> String {
    if report.plain {
        let mut out = report.summary.clone();
        for d in &report.details {
            out.push('\n');
            out.push_str(d);
        }
        out.push('\n');
        return out;
    }
    // The summary's first line is the status line, the rest is long output.
    let mut summary_lines = report.summary.split('\n');
    let line1 = status_line(label, report, summary_lines.next().unwrap_or(""));
    let mut details: Vec<String> = summary_lines.map(sanitize_line).collect();
    for d in &report.details {
        details.extend(d.split('\n').map(sanitize_line));
    }
    let budget = if limit == 0 { usize::MAX } else { limit };
    let items: Vec<String> = report.perfdata.iter().map(ToString::to_string).collect();
    let room = perfdata_room(
        &items,
        &details,
        budget.saturating_sub(line1.len() + 1 + 3 + 1),
    );
    let (perf, dropped) = fit_items(items, room);
    let dropped = dropped + report.perfdata_left_out;
    if dropped > 0 {
        details.insert(
            0,
            format!("({dropped} perfdata items left out: output limit {limit} bytes)"),
        );
    }
    let perf_on_line1 = !perf.is_empty() && line1.len() + 3 + perf.len() <= LINE1_LIMIT;
    let mut out = line1;
    if perf_on_line1 {
        out.push_str(" | ");
        out.push_str(&perf);
    }
    out.push('\n');
    let tail = if perf.is_empty() || perf_on_line1 {
        String::new()
    } else {
        format!("| {perf}\n")
    };
    let left = budget.saturating_sub(out.len() + tail.len());
    out.push_str(&fit_lines(&details, left, limit, report.details_left_out));
    out.push_str(&tail);
    out
}

/// `<LABEL> <STATE> - <summary>` (or `<status text>: <summary>`), sanitised and the summary cut
/// at [`SUMMARY_LIMIT`].
fn status_line(label: &str, report: &Report, first: &str) -> String {
    let summary = truncate(&sanitize_line(first), SUMMARY_LIMIT);
    let head = match &report.status_text {
        Some(text) => format!("{}:", truncate(&sanitize_line(text), 64)),
        None => format!(
            "{} {}{}",
            label,
            report.state.name(),
            if summary.is_empty() { "" } else { " -" }
        ),
    };
    if summary.is_empty() {
        head
    } else {
        format!("{head} {summary}")
    }
}

/// Bytes the perfdata may take of `rest` (what line 1 leaves). When perfdata and long output
/// do not both fit, perfdata keeps at least half (more when the long output needs less), so
/// that thousands of perfdata items never crowd out every line of long output, nor the reverse;
/// when it is cut, room is kept for the line that says so.
fn perfdata_room(items: &[String], details: &[String], rest: usize) -> usize {
    let full = items.iter().map(|i| i.len() + 1).sum::<usize>();
    let details_len = details.iter().map(|d| d.len() + 1).sum::<usize>();
    let room = if full + details_len <= rest {
        full
    } else {
        full.min((rest / 2).max(rest.saturating_sub(details_len)))
    };
    if full > room {
        room.saturating_sub(80)
    } else {
        room
    }
}

/// The perfdata items that fit in `room` bytes, space-separated, and how many were left out
/// (whole items, in order: nothing after the first that does not fit).
fn fit_items(items: Vec<String>, room: usize) -> (String, usize) {
    let mut perf = String::new();
    let mut dropped = 0;
    for item in items {
        let add = item.len() + usize::from(!perf.is_empty());
        if dropped == 0 && perf.len() + add <= room {
            if !perf.is_empty() {
                perf.push(' ');
            }
            perf.push_str(&item);
        } else {
            dropped += 1;
        }
    }
    (perf, dropped)
}

/// The long-output lines that fit in `left` bytes, then a line saying how many were cut (those
/// that did not fit, and the `left_out` the check itself left out).
fn fit_lines(details: &[String], mut left: usize, limit: usize, left_out: usize) -> String {
    let mut out = String::new();
    let mut cut = left_out;
    for (i, line) in details.iter().enumerate() {
        let remaining_after = details.len() - i - 1 + left_out;
        let need = line.len() + 1;
        let marker_room = if remaining_after > 0 { 64 } else { 0 };
        if need + marker_room > left {
            cut += details.len() - i;
            break;
        }
        out.push_str(line);
        out.push('\n');
        left -= need;
    }
    if cut > 0 {
        let marker = format!("... {cut} more lines cut (output limit {limit} bytes)\n");
        if marker.len() <= left {
            out.push_str(&marker);
        }
    }
    out
}

/// A range as JSON: its canonical text and its parts (`null` for an infinite end).
#[derive(serde::Serialize)]
struct JsonRange {
    alert_inside: bool,
    end: Option<f64>,
    range: String,
    start: Option<f64>,
}

fn range_json(r: &Option<crate::Range>) -> Option<JsonRange> {
    r.map(|r| JsonRange {
        alert_inside: r.inside,
        end: r.end,
        range: r.to_string(),
        start: r.start,
    })
}

/// A number in JSON: integers as integers (`5`, not `5.0`), `null` when not finite.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum JsonNumber {
    Int(i64),
    Float(f64),
}

fn number_json(v: Option<f64>) -> Option<JsonNumber> {
    match v.filter(|x| x.is_finite()) {
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(JsonNumber::Int(x as i64)),
        Some(x) => Some(JsonNumber::Float(x)),
        None => None,
    }
}

/// One perfdata item in JSON (fields in alphabetical order, as before).
#[derive(serde::Serialize)]
struct JsonPerfdata<'a> {
    critical: Option<JsonRange>,
    label: &'a str,
    max: Option<JsonNumber>,
    min: Option<JsonNumber>,
    text: String,
    uom: &'a str,
    value: Option<JsonNumber>,
    warning: Option<JsonRange>,
}

/// The whole report in JSON, serialised item by item (no tree of values built first: 60,000
/// perfdata items take their text's size, not twenty times it).
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    check: &'a str,
    code: i32,
    details: Vec<&'a str>,
    label: &'a str,
    #[serde(serialize_with = "perfdata_json")]
    perfdata: &'a [Perfdata],
    state: &'a str,
    status_text: Option<&'a str>,
    summary: &'a str,
}

fn perfdata_json<S: serde::Serializer>(items: &&[Perfdata], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(items.iter().map(|p| JsonPerfdata {
        critical: range_json(&p.critical),
        label: &p.label,
        max: number_json(p.max),
        min: number_json(p.min),
        text: p.to_string(),
        uom: p.uom.as_str(),
        value: number_json(p.value),
        warning: range_json(&p.warning),
    }))
}

/// Renders a report as one JSON object (no byte budget: JSON is for programs).
pub fn render_json(check: &str, label: &str, report: &Report) -> String {
    let mut summary_lines = report.summary.split('\n');
    let summary = summary_lines.next().unwrap_or("");
    let details: Vec<&str> = summary_lines
        .chain(report.details.iter().flat_map(|d| d.split('\n')))
        .collect();
    let obj = JsonReport {
        check,
        code: report.state.code(),
        details,
        label,
        perfdata: &report.perfdata,
        state: report.state.name(),
        status_text: report.status_text.as_deref(),
        summary,
    };
    let mut s = serde_json::to_string(&obj).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// Seconds for messages: `1 second`, `10 seconds`, `0.5 seconds`.
pub fn seconds_phrase(secs: f64) -> String {
    if secs == 1.0 {
        "1 second".to_string()
    } else {
        format!("{} seconds", format_number(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_from_sub_results() {
        use crate::{Dimension, Range, Thresholds};
        let t = Thresholds::new(Some(Range::at_least(10.0)), Some(Range::at_least(20.0)));
        let mut f = Findings::default();
        f.push(SubResult::judged(&t, 5.0, Dimension::Count, "five").perf(Perfdata::new("a", 5.0)));
        f.push(
            SubResult::judged(&t, 12.0, Dimension::Count, "twelve")
                .detail("twelve's detail")
                .perf(Perfdata::new("b", 12.0)),
        );
        f.push(SubResult::judged(&t, 25.0, Dimension::Count, "twenty-five").ranked(1.0));
        f.push(SubResult::judged(
            &t,
            f64::NAN,
            Dimension::Count,
            "not measured",
        ));
        let lines: Vec<String> = f.lines().into_iter().map(String::from).collect();
        assert_eq!(
            lines,
            [
                "twenty-five (critical >= 20)",
                "twelve (warning >= 10)",
                "not measured",
                "five"
            ]
        );
        let r = f.into_report(2, Some("4 things"));
        assert_eq!(r.state, State::Critical);
        assert_eq!(
            r.summary,
            "twenty-five (critical >= 20); twelve (warning >= 10); and 2 more; 4 things"
        );
        assert_eq!(r.details, ["twelve's detail"]);
        assert_eq!(r.perfdata.len(), 2);
    }

    #[test]
    fn plain_reports_print_their_text_alone() {
        let mut r = Report::ok("42")
            .detail("second line")
            .perf(Perfdata::new("x", 1.0));
        r.plain = true;
        assert_eq!(render_nagios("X", &r, 4096), "42\nsecond line\n");
    }

    #[test]
    fn findings_lead_with_the_worst() {
        let mut f = Findings::default();
        assert_eq!(
            (f.state(), f.summary(Some("fine"))),
            (State::Ok, "fine".to_string())
        );
        f.add(State::Warning, "w1");
        f.add(State::Critical, "c1");
        f.add(State::Unknown, "u1");
        f.add(State::Warning, "w2");
        assert_eq!(f.state(), State::Critical);
        assert_eq!(f.summary(Some("measured")), "c1; w1; w2; u1; measured");
        assert_eq!(f.summary(None), "c1; w1; w2; u1");
    }

    #[test]
    fn ranked_findings_and_a_short_summary() {
        let mut f = Findings::default();
        for (i, n) in [5.0, 500.0, 50.0, 7.0].into_iter().enumerate() {
            f.add_ranked(State::Warning, format!("q{i} {n}"), n);
        }
        f.add_ranked(State::Critical, "big", 1.0);
        assert_eq!(f.lines(), ["big", "q1 500", "q2 50", "q3 7", "q0 5"]);
        assert_eq!(
            f.summary_top(2, Some("5 queues")),
            "big; q1 500; and 3 more; 5 queues"
        );
        assert_eq!(f.summary_top(5, None), "big; q1 500; q2 50; q3 7; q0 5");
        assert_eq!(f.len(), 5);
    }
    use crate::perfdata::Uom;
    use crate::Range;

    fn split(out: &str) -> (String, Vec<String>) {
        let mut lines: Vec<String> = out.lines().map(String::from).collect();
        let first = lines.remove(0);
        (first, lines)
    }

    #[test]
    fn status_line_with_perfdata() {
        let r = Report::ok("3 rows in fts_update_log table")
            .perf(Perfdata::new("rows", 3.0).critical(Some(Range::parse("5").unwrap())));
        assert_eq!(
            render_nagios("FTS_UPDATE_LOG", &r, 4096),
            "FTS_UPDATE_LOG OK - 3 rows in fts_update_log table | rows=3;;5\n"
        );
    }

    #[test]
    fn empty_summary_has_no_dash() {
        let r = Report::new(State::Warning, "");
        assert_eq!(render_nagios("X", &r, 0), "X WARNING\n");
    }

    #[test]
    fn pipes_and_control_characters_never_break_line_one() {
        let r = Report::new(State::Critical, "queue a|b\tfailed\x1b[31m\r")
            .detail("long | line\x07")
            .perf(Perfdata::new("q|1", 1.0));
        let out = render_nagios("Q", &r, 4096);
        assert_eq!(
            out,
            "Q CRITICAL - queue a/b failed [31m  | q_1=1\nlong / line \n"
        );
        assert_eq!(out.matches('|').count(), 1);
    }

    #[test]
    fn summary_newlines_become_long_output() {
        let mut r = Report::ok("first\nsecond\nthird");
        r.details.push("fourth".into());
        let (first, rest) = split(&render_nagios("X", &r, 0));
        assert_eq!(first, "X OK - first");
        assert_eq!(rest, ["second", "third", "fourth"]);
    }

    #[test]
    fn long_perfdata_moves_to_a_final_line() {
        let mut r = Report::ok("many queues").detail("q0 is fine");
        for i in 0..60 {
            r.perfdata
                .push(Perfdata::new(format!("queue_number_{i}"), i as f64).uom(Uom::None));
        }
        let out = render_nagios("Q", &r, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Q OK - many queues");
        assert_eq!(lines[1], "q0 is fine");
        assert!(lines[2].starts_with("| queue_number_0=0 "));
        assert_eq!(lines.len(), 3);
        let items = Perfdata::parse_list(&lines[2][2..]).unwrap();
        assert_eq!(items.len(), 60);
    }

    #[test]
    fn budget_cuts_long_output_before_perfdata() {
        let mut r = Report::new(State::Warning, "2000 problems");
        for i in 0..2000 {
            r.details
                .push(format!("problem number {i} with some words"));
        }
        r.perfdata.push(Perfdata::new("problems", 2000.0));
        let out = render_nagios("X", &r, 4096);
        assert!(out.len() <= 4096, "{} bytes", out.len());
        assert!(out.starts_with("X WARNING - 2000 problems | problems=2000\n"));
        assert!(out.contains("problem number 0 with some words\n"));
        let last = out.lines().last().unwrap();
        assert!(
            last.starts_with("... ") && last.ends_with("more lines cut (output limit 4096 bytes)"),
            "{last}"
        );
        let shown = out
            .lines()
            .filter(|l| l.starts_with("problem number"))
            .count();
        let cut: usize = last.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(shown + cut, 2000);
    }

    #[test]
    fn perfdata_and_long_output_share_the_budget() {
        let mut r = Report::new(State::Critical, "10000 problems");
        for i in 0..10000 {
            r.details.push(format!("queue q{i:05} has a problem"));
            r.perfdata.push(Perfdata::new(format!("q{i:05}"), i as f64));
        }
        let out = render_nagios("X", &r, 4096);
        assert!(out.len() <= 4096, "{} bytes", out.len());
        let lines: Vec<&str> = out.lines().collect();
        let shown = lines.iter().filter(|l| l.starts_with("queue q")).count();
        let perf = Perfdata::parse_list(&lines.last().unwrap()[2..]).unwrap();
        // Both sides keep a fair share: dozens of each.
        assert!(
            shown > 40 && perf.len() > 100,
            "{shown} lines, {} items",
            perf.len()
        );
        assert_eq!(
            lines[1],
            "(9821 perfdata items left out: output limit 4096 bytes)"
                .replace("9821", &(10000 - perf.len()).to_string())
        );
        assert_eq!(lines[2], "queue q00000 has a problem");
    }

    #[test]
    fn budget_keeps_whole_perfdata_items() {
        let mut r = Report::ok("10000 queues");
        for i in 0..10000 {
            r.perfdata.push(Perfdata::new(format!("q{i}"), i as f64));
        }
        let out = render_nagios("Q", &r, 4096);
        assert!(out.len() <= 4096, "{} bytes", out.len());
        let perf_line = out.lines().find(|l| l.starts_with("| ")).unwrap();
        let items = Perfdata::parse_list(&perf_line[2..]).unwrap();
        assert!(items.len() > 100 && items.len() < 10000);
        assert!(out.contains("perfdata items left out: output limit 4096 bytes"));
        // Unlimited keeps everything.
        let all = render_nagios("Q", &r, 0);
        let perf_line = all.lines().find(|l| l.starts_with("| ")).unwrap();
        assert_eq!(Perfdata::parse_list(&perf_line[2..]).unwrap().len(), 10000);
    }

    #[test]
    fn summary_is_cut() {
        let r = Report::ok("x".repeat(5000));
        let out = render_nagios("X", &r, 0);
        assert!(out.len() < SUMMARY_LIMIT + 20);
        assert!(out.trim_end().ends_with("..."));
        // Multi-byte characters are cut on a boundary.
        assert_eq!(truncate("ééééé", 6), "é...");
    }

    #[test]
    fn status_text_replaces_label_and_state() {
        let mut r = Report::new(State::Warning, "queues normal");
        r.status_text = Some("ok".into());
        assert_eq!(render_nagios("CRON_FILE", &r, 0), "ok: queues normal\n");
    }

    #[test]
    fn json_has_structured_perfdata() {
        let r = Report::new(State::Critical, "slow\nline two")
            .detail("line three")
            .perf(
                Perfdata::new("time", 12.5)
                    .uom(Uom::Seconds)
                    .warning(Some(Range::parse("3").unwrap()))
                    .critical(Some(Range::parse("~:12").unwrap()))
                    .min(0.0),
            );
        let out = render_json("check_x", "X", &r);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        // The same text as a tree of values gives (keys in order, integers as integers).
        assert_eq!(format!("{}\n", v), out);
        assert_eq!(v["check"], "check_x");
        assert_eq!(v["state"], "CRITICAL");
        assert_eq!(v["code"], 2);
        assert_eq!(v["summary"], "slow");
        assert_eq!(v["details"], serde_json::json!(["line two", "line three"]));
        let p = &v["perfdata"][0];
        assert_eq!(p["value"], 12.5);
        assert_eq!(p["uom"], "s");
        assert_eq!(p["min"], 0);
        assert_eq!(p["max"], serde_json::Value::Null);
        assert_eq!(p["warning"]["range"], "3");
        assert_eq!(p["warning"]["start"], 0.0);
        assert_eq!(p["critical"]["start"], serde_json::Value::Null);
        assert_eq!(p["critical"]["end"], 12.0);
        assert_eq!(p["text"], "time=12.5s;3;~:12;0");
    }

    #[test]
    fn bounded_findings_keep_the_worst_and_count_the_rest() {
        let mut f = Findings::bounded(3);
        for i in 0..1000 {
            f.add_ranked(State::Warning, format!("w{i}"), i as f64);
        }
        f.add(State::Critical, "c");
        f.add_ranked(State::Unknown, "u", 5.0);
        assert_eq!(f.len(), 1002);
        assert_eq!(f.state(), State::Critical);
        // Severity: CRITICAL, WARNING, UNKNOWN, OK (monitoring-plugins' order).
        assert_eq!(f.lines(), ["c", "w999", "w998"]);
        assert_eq!(f.not_named(), 999);
        assert_eq!(
            f.summary_top(2, Some("1002 queues")),
            "c; w999; and 1000 more; 1002 queues"
        );
        let mut ties = Findings::bounded(2);
        for t in ["a", "b", "c", "d", "e"] {
            ties.add(State::Critical, t);
        }
        assert_eq!(ties.lines(), ["a", "b"], "equal ones: the first found");
        assert_eq!(ties.into_subs().len(), 2);
    }

    #[test]
    fn details_left_out_by_the_check_are_said_when_the_rest_fits() {
        let mut r = Report::ok("fine");
        r.details = vec!["a".into()];
        r.details_left_out = 5;
        assert_eq!(
            render_nagios("X", &r, 4096),
            "X OK - fine\na\n... 5 more lines cut (output limit 4096 bytes)\n"
        );
        r.details.clear();
        assert_eq!(
            render_nagios("X", &r, 4096),
            "X OK - fine\n... 5 more lines cut (output limit 4096 bytes)\n"
        );
    }

    #[test]
    fn perfdata_left_out_by_the_check_is_said() {
        let mut r = Report::ok("fine").perf(Perfdata::new("a", 1.0));
        r.perfdata_left_out = 9999;
        assert_eq!(
            render_nagios("X", &r, 4096),
            "X OK - fine | a=1\n(9999 perfdata items left out: output limit 4096 bytes)\n"
        );
    }
}
