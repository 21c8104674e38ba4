//! The result as metrics, for Prometheus: `--output-format openmetrics` on stdout, and
//! `--textfile` for node_exporter's textfile collector.
//!
//! The text is the subset both readers accept (node_exporter 1.5 and Prometheus parse the 0.0.4
//! text format; OpenMetrics readers need `# EOF`): gauges only, a HELP without quotes or
//! backslashes and a TYPE for every family, a `# UNIT` for families with a unit, no
//! timestamps, families never interleaved, `# EOF` last.
//!
//! Families (every one labelled `check`, the check's name without `check_`):
//! - `custos_check_state`: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the exit code);
//! - `custos_check_duration_seconds`: how long the run took;
//! - `custos_perfdata_seconds`, `custos_perfdata_bytes`, `custos_perfdata_ratio`,
//!   `custos_perfdata`: each perfdata item (label `label`), in base units as Prometheus' naming
//!   rules ask (milliseconds become seconds, kB and MB bytes, a percentage a ratio 0-1); a
//!   value that could not be measured is `NaN`; an unknown unit keeps its name in `unit`;
//! - `custos_perfdata_threshold_<unit>`: the finite ends of each item's warning and critical
//!   ranges, as series of their own (labels `level`, `bound` = `low`/`high`, `alert` =
//!   `outside`/`inside`): a range is text in Nagios and a label value cannot be compared in
//!   PromQL, so the bounds are numbers an alerting rule can use (`value > threshold`).
//!
//! Names that come from outside (queues, databases, tables) appear only in label values,
//! escaped (`\\`, `\"`, `\n`), never in metric names.

use crate::output::Report;
use crate::perfdata::{Perfdata, Uom};
use std::fmt::Write as _;

/// A label value, escaped for the text formats.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value: Go's float syntax (`NaN`, `+Inf`, no exponent-free surprises).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// The family suffix and factor to the base unit of a perfdata unit, and the unit's name
/// when it is not one Prometheus has a base unit for.
fn base(uom: &Uom) -> (&'static str, f64, Option<String>) {
    match uom {
        Uom::Seconds => ("_seconds", 1.0, None),
        Uom::Milliseconds => ("_seconds", 1e-3, None),
        Uom::Microseconds => ("_seconds", 1e-6, None),
        Uom::Percent => ("_ratio", 0.01, None),
        Uom::Bytes => ("_bytes", 1.0, None),
        // The plugin guidelines' KB, MB, ... are binary in the plugins that print them
        // (check_disk, check_swap).
        Uom::Kilobytes => ("_bytes", 1024.0, None),
        Uom::Megabytes => ("_bytes", 1024f64.powi(2), None),
        Uom::Gigabytes => ("_bytes", 1024f64.powi(3), None),
        Uom::Terabytes => ("_bytes", 1024f64.powi(4), None),
        Uom::None | Uom::Counter => ("", 1.0, None),
        Uom::Other(u) => ("", 1.0, Some(u.clone())),
    }
}

/// One family: TYPE, UNIT (when it has one), HELP, then its samples.
struct Family {
    name: String,
    help: &'static str,
    unit: &'static str,
    samples: Vec<String>,
}

impl Family {
    fn new(name: String, help: &'static str, unit: &'static str) -> Family {
        Family {
            name,
            help,
            unit,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        self.samples.push(format!(
            "{}{{{}}} {}",
            self.name,
            labels.join(","),
            number(value)
        ));
    }

    fn write(&self, out: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        let _ = writeln!(out, "# TYPE {} gauge", self.name);
        if !self.unit.is_empty() {
            let _ = writeln!(out, "# UNIT {} {}", self.name, self.unit);
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        for s in &self.samples {
            out.push_str(s);
            out.push('\n');
        }
    }
}

/// The exposition of one run of `check` (its name, `check_` included or not).
pub fn render(check: &str, report: &Report, duration: f64) -> String {
    let check = check.strip_prefix("check_").unwrap_or(check);
    let mut state = Family::new(
        "custos_check_state".into(),
        "State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (its exit code).",
        "",
    );
    state.add(&[("check", check)], f64::from(report.state.code()));
    let mut took = Family::new(
        "custos_check_duration_seconds".into(),
        "How long the check ran.",
        "seconds",
    );
    took.add(&[("check", check)], duration);

    let units = [
        ("_seconds", "seconds"),
        ("_bytes", "bytes"),
        ("_ratio", "ratio"),
        ("", ""),
    ];
    let mut values: Vec<Family> = units
        .iter()
        .map(|(suffix, unit)| {
            Family::new(
                format!("custos_perfdata{suffix}"),
                "A performance data item of the check, in base units.",
                unit,
            )
        })
        .collect();
    let mut bounds: Vec<Family> = units
        .iter()
        .map(|(suffix, unit)| {
            Family::new(
                format!("custos_perfdata_threshold{suffix}"),
                "An end of a warning or critical range of a performance data item.",
                unit,
            )
        })
        .collect();
    for p in &report.perfdata {
        add_item(p, check, &units, &mut values, &mut bounds);
    }
    let mut out = String::new();
    state.write(&mut out);
    took.write(&mut out);
    for f in values.iter().chain(&bounds) {
        f.write(&mut out);
    }
    out.push_str("# EOF\n");
    out
}

fn add_item(
    p: &Perfdata,
    check: &str,
    units: &[(&str, &str)],
    values: &mut [Family],
    bounds: &mut [Family],
) {
    let (suffix, factor, unit) = base(&p.uom);
    let i = units
        .iter()
        .position(|(s, _)| *s == suffix)
        .unwrap_or(units.len() - 1);
    let mut labels: Vec<(&str, &str)> = vec![("check", check), ("label", &p.label)];
    if let Some(u) = &unit {
        labels.push(("unit", u));
    }
    values[i].add(&labels, p.value.map_or(f64::NAN, |v| v * factor));
    for (level, range) in [("warning", &p.warning), ("critical", &p.critical)] {
        let Some(r) = range else { continue };
        let alert = if r.inside { "inside" } else { "outside" };
        for (bound, end) in [("low", r.start), ("high", r.end)] {
            let Some(end) = end.filter(|e| e.is_finite()) else {
                continue;
            };
            let mut l = labels.clone();
            l.extend([("level", level), ("bound", bound), ("alert", alert)]);
            bounds[i].add(&l, end * factor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::Range;
    use crate::state::State;

    #[test]
    fn families_units_thresholds_and_escapes() {
        let mut r = Report::new(State::Warning, "x");
        r.perfdata = vec![
            Perfdata::new("time", 0.25)
                .uom(Uom::Seconds)
                .warning(Some(Range::parse("3").unwrap()))
                .critical(Some(Range::parse("12").unwrap())),
            Perfdata::new("latency", 250.0).uom(Uom::Milliseconds),
            Perfdata::new("backends_pct", 50.0).uom(Uom::Percent),
            Perfdata::new("size", 2.0).uom(Uom::Kilobytes),
            Perfdata::new("we\"ird\\q\nx", 7.0),
            Perfdata::unmeasured("gone"),
        ];
        let text = render("check_rabbitmq_queues", &r, 0.5);
        let expected = "\
# TYPE custos_check_state gauge
# HELP custos_check_state State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (its exit code).
custos_check_state{check=\"rabbitmq_queues\"} 1
# TYPE custos_check_duration_seconds gauge
# UNIT custos_check_duration_seconds seconds
# HELP custos_check_duration_seconds How long the check ran.
custos_check_duration_seconds{check=\"rabbitmq_queues\"} 0.5
";
        assert!(text.starts_with(expected), "{text}");
        for line in [
            "custos_perfdata_seconds{check=\"rabbitmq_queues\",label=\"time\"} 0.25",
            "custos_perfdata_seconds{check=\"rabbitmq_queues\",label=\"latency\"} 0.25",
            "custos_perfdata_ratio{check=\"rabbitmq_queues\",label=\"backends_pct\"} 0.5",
            "custos_perfdata_bytes{check=\"rabbitmq_queues\",label=\"size\"} 2048",
            "custos_perfdata{check=\"rabbitmq_queues\",label=\"gone\"} NaN",
            "custos_perfdata_threshold_seconds{check=\"rabbitmq_queues\",label=\"time\",level=\"warning\",bound=\"low\",alert=\"outside\"} 0",
            "custos_perfdata_threshold_seconds{check=\"rabbitmq_queues\",label=\"time\",level=\"critical\",bound=\"high\",alert=\"outside\"} 12",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        // Outside names only in label values, escaped.
        // (Perfdata::new turns the newline into `_`; escape's own cases are tested below.)
        assert!(text.contains(r#"label="we\"ird\\q_x""#), "{text}");
        assert!(text.ends_with("# EOF\n"));
        // Families are not interleaved: each name's lines are together.
        let names: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('{').next().unwrap_or(""))
            .collect();
        let mut seen: Vec<&str> = Vec::new();
        for n in names {
            if seen.last() != Some(&n) {
                assert!(!seen.contains(&n), "{n} interleaved in\n{text}");
                seen.push(n);
            }
        }
    }

    #[test]
    fn label_values_are_escaped_as_the_format_asks() {
        assert_eq!(escape("a\\b\"c\nd"), r#"a\\b\"c\nd"#);
        assert_eq!(escape("plain"), "plain");
    }
}
