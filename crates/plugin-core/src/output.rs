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
    pub state: State,
    /// One line for the status line; extra lines (after a newline) become long output.
    pub summary: String,
    /// Long output, one entry per line.
    pub details: Vec<String>,
    pub perfdata: Vec<Perfdata>,
    /// Replaces `<LABEL> <STATE>` at the start of line 1 (check_cron_file prints Zulip's
    /// `<state text>: <message>` instead).
    pub status_text: Option<String>,
}

impl Report {
    pub fn new(state: State, summary: impl Into<String>) -> Report {
        Report {
            state,
            summary: summary.into(),
            details: Vec::new(),
            perfdata: Vec::new(),
            status_text: None,
        }
    }

    pub fn ok(summary: impl Into<String>) -> Report {
        Report::new(State::Ok, summary)
    }

    pub fn detail(mut self, line: impl Into<String>) -> Report {
        self.details.push(line.into());
        self
    }

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

/// What a check found, each with its state and a rank (how bad, within its state: messages
/// waiting, bytes used). The report's state is the worst of them; the summary leads with the
/// worst state, and within a state with the highest rank (then in the order found), followed by
/// what was measured.
#[derive(Debug, Default)]
pub struct Findings {
    items: Vec<(State, String, f64)>,
}

impl Findings {
    pub fn add(&mut self, state: State, text: impl Into<String>) {
        self.add_ranked(state, text, 0.0);
    }

    /// A finding with a rank: the higher, the earlier it is named within its state.
    pub fn add_ranked(&mut self, state: State, text: impl Into<String>, rank: f64) {
        self.items.push((state, text.into(), rank));
    }

    /// The worst state found (OK when nothing was).
    pub fn state(&self) -> State {
        self.items
            .iter()
            .map(|(s, _, _)| *s)
            .fold(State::Ok, State::worst)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The findings' texts, worst first.
    pub fn lines(&self) -> Vec<&str> {
        let mut items: Vec<&(State, String, f64)> = self.items.iter().collect();
        items.sort_by(|a, b| {
            b.0.severity()
                .cmp(&a.0.severity())
                .then(b.2.partial_cmp(&a.2).unwrap_or(std::cmp::Ordering::Equal))
        });
        items.into_iter().map(|(_, t, _)| t.as_str()).collect()
    }

    /// The findings, worst first, joined with `; `, followed by `measured` when given.
    pub fn summary(&self, measured: Option<&str>) -> String {
        self.summary_top(usize::MAX, measured)
    }

    /// The same, naming at most `n` findings and how many more there are (`and 95 more`), so
    /// that the status line stays short with thousands of findings.
    pub fn summary_top(&self, n: usize, measured: Option<&str>) -> String {
        let lines = self.lines();
        let more = lines.len().saturating_sub(n);
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
    // Split the summary: its first line is the status line, the rest is long output.
    let mut summary_lines = report.summary.split('\n');
    let first = summary_lines.next().unwrap_or("");
    let mut details: Vec<String> = summary_lines.map(sanitize_line).collect();
    for d in &report.details {
        details.extend(d.split('\n').map(sanitize_line));
    }
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
    let line1 = if summary.is_empty() {
        head
    } else {
        format!("{head} {summary}")
    };

    let budget = if limit == 0 { usize::MAX } else { limit };
    // After line 1, perfdata and long output share what is left. When both do not fit,
    // perfdata keeps at least half of it (and more when the long output needs less), so that
    // thousands of perfdata items never crowd out every line of long output, nor the reverse.
    let items: Vec<String> = report.perfdata.iter().map(ToString::to_string).collect();
    let full_len = items.iter().map(|i| i.len() + 1).sum::<usize>();
    let details_len = details.iter().map(|d| d.len() + 1).sum::<usize>();
    let rest = budget.saturating_sub(line1.len() + 1 + 3 + 1);
    let mut room_for_perf = if full_len + details_len <= rest {
        full_len
    } else {
        full_len.min((rest / 2).max(rest.saturating_sub(details_len)))
    };
    if full_len > room_for_perf {
        // Keep room for the line that says how many items were left out.
        room_for_perf = room_for_perf.saturating_sub(80);
    }
    let mut perf = String::new();
    let mut dropped_perf = 0;
    for item in items {
        let add = if perf.is_empty() {
            item.len()
        } else {
            item.len() + 1
        };
        if perf.len() + add <= room_for_perf && dropped_perf == 0 {
            if !perf.is_empty() {
                perf.push(' ');
            }
            perf.push_str(&item);
        } else {
            dropped_perf += 1;
        }
    }
    if dropped_perf > 0 {
        details.insert(
            0,
            format!("({dropped_perf} perfdata items left out: output limit {limit} bytes)"),
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

    // Long output in what is left, keeping room for a line that says what was cut.
    let mut left = budget.saturating_sub(out.len() + tail.len());
    for (i, line) in details.iter().enumerate() {
        let remaining_after = details.len() - i - 1;
        let need = line.len() + 1;
        let marker_room = if remaining_after > 0 { 64 } else { 0 };
        if need + marker_room <= left {
            out.push_str(line);
            out.push('\n');
            left -= need;
        } else {
            let cut = details.len() - i;
            let marker = format!("... {cut} more lines cut (output limit {limit} bytes)\n");
            if marker.len() <= left {
                out.push_str(&marker);
            }
            break;
        }
    }
    out.push_str(&tail);
    out
}

/// A range as JSON: its canonical text and its parts (`null` for an infinite end).
fn range_json(r: &Option<crate::Range>) -> serde_json::Value {
    match r {
        None => serde_json::Value::Null,
        Some(r) => serde_json::json!({
            "range": r.to_string(),
            "start": r.start,
            "end": r.end,
            "alert_inside": r.inside,
        }),
    }
}

fn number_json(v: Option<f64>) -> serde_json::Value {
    match v.filter(|x| x.is_finite()) {
        // Integers as integers, so `5` is not printed as `5.0`.
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => serde_json::json!(x as i64),
        Some(x) => serde_json::json!(x),
        None => serde_json::Value::Null,
    }
}

/// Renders a report as one JSON object (no byte budget: JSON is for programs).
pub fn render_json(check: &str, label: &str, report: &Report) -> String {
    let perfdata: Vec<serde_json::Value> = report
        .perfdata
        .iter()
        .map(|p| {
            serde_json::json!({
                "label": p.label,
                "value": number_json(p.value),
                "uom": p.uom.as_str(),
                "warning": range_json(&p.warning),
                "critical": range_json(&p.critical),
                "min": number_json(p.min),
                "max": number_json(p.max),
                "text": p.to_string(),
            })
        })
        .collect();
    let mut summary_lines = report.summary.split('\n');
    let summary = summary_lines.next().unwrap_or("").to_string();
    let details: Vec<&str> = summary_lines
        .chain(report.details.iter().flat_map(|d| d.split('\n')))
        .collect();
    let obj = serde_json::json!({
        "check": check,
        "label": label,
        "state": report.state.name(),
        "code": report.state.code(),
        "status_text": report.status_text,
        "summary": summary,
        "details": details,
        "perfdata": perfdata,
    });
    let mut s = obj.to_string();
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
        let v: serde_json::Value = serde_json::from_str(&render_json("check_x", "X", &r)).unwrap();
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
}
