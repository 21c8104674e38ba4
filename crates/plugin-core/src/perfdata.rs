//! Performance data: `'label'=value[UOM];[warn];[crit];[min];[max]` (plugin-contract §4.4).
//!
//! - Labels: `'` and `=` (and control characters) are replaced with `_`; a label is quoted unless
//!   it is `[A-Za-z0-9_]+`; an empty label becomes `_`.
//! - Values: integers print as integers, others as the shortest decimal that reads back to the
//!   same number, never with an exponent; NaN and infinities print as `U` (not measured).
//! - UOM from a closed set (plus a validated escape hatch of letters and `%`).
//! - warn/crit are the user's ranges, canonically re-serialised; trailing empty fields dropped.

use crate::range::Range;
use crate::units::{format_number, number_prefix_len};
use std::fmt;

/// Unit of measurement of a perfdata value.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Uom {
    /// A plain number: a count of things.
    #[default]
    None,
    /// `s`
    Seconds,
    /// `ms`
    Milliseconds,
    /// `us`
    Microseconds,
    /// `%`
    Percent,
    /// `B`
    Bytes,
    /// `KB`
    Kilobytes,
    /// `MB`
    Megabytes,
    /// `GB`
    Gigabytes,
    /// `TB`
    Terabytes,
    /// A continuous counter (`c`).
    Counter,
    /// Any other unit: letters and `%` only (validated when built).
    Other(String),
}

impl Uom {
    /// The base unit of a dimension: seconds, bytes, percent, or none for counts.
    pub fn of(dim: crate::Dimension) -> Uom {
        match dim {
            crate::Dimension::Count => Uom::None,
            crate::Dimension::Time => Uom::Seconds,
            crate::Dimension::Bytes => Uom::Bytes,
            crate::Dimension::Percent => Uom::Percent,
        }
    }

    /// The unit as perfdata writes it (`s`, `B`, `%`, or nothing).
    pub fn as_str(&self) -> &str {
        match self {
            Uom::None => "",
            Uom::Seconds => "s",
            Uom::Milliseconds => "ms",
            Uom::Microseconds => "us",
            Uom::Percent => "%",
            Uom::Bytes => "B",
            Uom::Kilobytes => "KB",
            Uom::Megabytes => "MB",
            Uom::Gigabytes => "GB",
            Uom::Terabytes => "TB",
            Uom::Counter => "c",
            Uom::Other(s) => s,
        }
    }

    /// A UOM from its text; `None` if the text is not letters and `%`.
    pub fn parse(text: &str) -> Option<Uom> {
        let uom = match text {
            "" => Uom::None,
            "s" => Uom::Seconds,
            "ms" => Uom::Milliseconds,
            "us" => Uom::Microseconds,
            "%" => Uom::Percent,
            "B" => Uom::Bytes,
            "KB" => Uom::Kilobytes,
            "MB" => Uom::Megabytes,
            "GB" => Uom::Gigabytes,
            "TB" => Uom::Terabytes,
            "c" => Uom::Counter,
            other if other.chars().all(|c| c.is_ascii_alphabetic() || c == '%') => {
                Uom::Other(other.to_string())
            }
            _ => return None,
        };
        Some(uom)
    }
}

/// One perfdata item.
#[derive(Clone, Debug, PartialEq)]
pub struct Perfdata {
    /// The label (quoted on output when it needs to be).
    pub label: String,
    /// `None` (or a non-finite number) is printed as `U`: the value could not be measured.
    pub value: Option<f64>,
    /// The unit of the value.
    pub uom: Uom,
    /// The warning range, if any.
    pub warning: Option<Range>,
    /// The critical range, if any.
    pub critical: Option<Range>,
    /// The smallest possible value, if known.
    pub min: Option<f64>,
    /// The largest possible value, if known.
    pub max: Option<f64>,
}

impl Perfdata {
    /// A value with no unit, thresholds, min or max; the label is sanitised.
    pub fn new(label: impl AsRef<str>, value: f64) -> Perfdata {
        Perfdata {
            label: sanitize_label(label.as_ref()),
            value: Some(value),
            uom: Uom::None,
            warning: None,
            critical: None,
            min: None,
            max: None,
        }
    }

    /// A value that could not be measured (`U`).
    pub fn unmeasured(label: impl AsRef<str>) -> Perfdata {
        Perfdata {
            value: None,
            ..Perfdata::new(label, 0.0)
        }
    }

    /// The same with a unit.
    pub fn uom(mut self, uom: Uom) -> Perfdata {
        self.uom = uom;
        self
    }

    /// The same with a warning range.
    pub fn warning(mut self, range: Option<Range>) -> Perfdata {
        self.warning = range;
        self
    }

    /// The same with a critical range.
    pub fn critical(mut self, range: Option<Range>) -> Perfdata {
        self.critical = range;
        self
    }

    /// Both ranges of a [`crate::Thresholds`].
    pub fn thresholds(self, t: &crate::Thresholds) -> Perfdata {
        self.warning(t.warning).critical(t.critical)
    }

    /// The same with a minimum.
    pub fn min(mut self, min: f64) -> Perfdata {
        self.min = Some(min);
        self
    }

    /// The same with a maximum.
    pub fn max(mut self, max: f64) -> Perfdata {
        self.max = Some(max);
        self
    }

    /// Parses a whole perfdata string (items separated by spaces), strictly: any item that does
    /// not follow the format is an error. Used by tests to read back what checks print.
    pub fn parse_list(text: &str) -> Result<Vec<Perfdata>, String> {
        let mut items = Vec::new();
        let mut rest = text.trim_start_matches(' ');
        while !rest.is_empty() {
            let (item, tail) = split_item(rest)?;
            items.push(Perfdata::parse(item)?);
            rest = tail.trim_start_matches(' ');
        }
        Ok(items)
    }

    /// Parses one item, strictly.
    // About 70 lines on purpose: one left-to-right pass over the item's grammar
    // ('label'=value[uom];warn;crit;min;max), each refusal saying where it stopped.
    pub fn parse(item: &str) -> Result<Perfdata, String> {
        let bad = |why: &str| format!("invalid perfdata '{item}': {why}");
        let (label, fields) = if let Some(quoted) = item.strip_prefix('\'') {
            let close = quoted.find('\'').ok_or_else(|| bad("unterminated quote"))?;
            let label = &quoted[..close];
            let after = quoted[close + 1..]
                .strip_prefix('=')
                .ok_or_else(|| bad("no '=' after the label"))?;
            (label, after)
        } else {
            let eq = item.find('=').ok_or_else(|| bad("no '='"))?;
            let label = &item[..eq];
            if label.contains(' ') {
                return Err(bad("a label with spaces must be quoted"));
            }
            (label, &item[eq + 1..])
        };
        if label.is_empty() {
            return Err(bad("empty label"));
        }
        if label.contains('=') || label.contains('\'') {
            return Err(bad("'=' or quote in the label"));
        }
        // A control character (a newline above all) or a `|` would split the output it
        // travels in.
        if label.chars().any(|c| c.is_control() || c == '|') {
            return Err(bad("control character or '|' in the label"));
        }
        let parts: Vec<&str> = fields.split(';').collect();
        if parts.len() > 5 {
            return Err(bad("more than five fields"));
        }
        let value_field = parts[0];
        let (value, uom) = if let Some(u) = value_field.strip_prefix('U') {
            if !u.is_empty() {
                return Err(bad("text after U"));
            }
            (None, Uom::None)
        } else {
            let n = number_prefix_len(value_field);
            if n == 0 {
                return Err(bad("the value is not a number"));
            }
            let v = plain_number(&value_field[..n]).map_err(|e| bad(&e))?;
            let uom = Uom::parse(&value_field[n..]).ok_or_else(|| bad("bad unit"))?;
            (Some(v), uom)
        };
        let field = |i: usize| parts.get(i).copied().filter(|s| !s.is_empty());
        let range = |i: usize| -> Result<Option<Range>, String> {
            field(i)
                .map(|s| Range::parse(s).map_err(|e| bad(&e.0)))
                .transpose()
        };
        let number = |i: usize| -> Result<Option<f64>, String> {
            field(i)
                .map(|s| {
                    if number_prefix_len(s) != s.len() {
                        return Err(bad(&format!("'{s}' is not a number")));
                    }
                    plain_number(s).map_err(|e| bad(&e))
                })
                .transpose()
        };
        Ok(Perfdata {
            label: label.to_string(),
            value,
            uom,
            warning: range(1)?,
            critical: range(2)?,
            min: number(3)?,
            max: number(4)?,
        })
    }
}

/// A perfdata number as plugin-contract §4.4 writes it: no exponent, finite.
fn plain_number(s: &str) -> Result<f64, String> {
    if s.contains(['e', 'E']) {
        return Err(format!("'{s}' has an exponent"));
    }
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("'{s}' is not a finite number"))
}

/// Splits off the first item of a perfdata string: up to the first space that is not inside a
/// quoted label.
fn split_item(s: &str) -> Result<(&str, &str), String> {
    let start = if let Some(q) = s.strip_prefix('\'') {
        let close = q
            .find('\'')
            .ok_or_else(|| format!("invalid perfdata '{s}': unterminated quote"))?;
        close + 2
    } else {
        0
    };
    match s[start..].find(' ') {
        Some(i) => Ok((&s[..start + i], &s[start + i..])),
        None => Ok((s, "")),
    }
}

/// Replaces what a label may not contain (`'`, `=`, `|`, control characters) with `_`; an empty
/// label becomes `_`.
pub fn sanitize_label(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| match c {
            '\'' | '=' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    if s.is_empty() {
        "_".to_string()
    } else {
        s
    }
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl fmt::Display for Perfdata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = sanitize_label(&self.label);
        if label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            f.write_str(&label)?;
        } else {
            write!(f, "'{label}'")?;
        }
        match finite(self.value) {
            Some(v) => write!(f, "={}{}", format_number(v), self.uom.as_str())?,
            None => f.write_str("=U")?,
        }
        let fields = [
            self.warning.map(|r| r.to_string()),
            self.critical.map(|r| r.to_string()),
            finite(self.min).map(format_number),
            finite(self.max).map(format_number),
        ];
        let used = fields
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        for field in &fields[..used] {
            write!(f, ";{}", field.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

/// Perfdata gathered under the output budget, in groups printed one after the other (a check's
/// most useful numbers first: each queue's messages, then its consumers, ...). A check that
/// reports on thousands of things (10,000 queues, six numbers each) keeps only what its output
/// can carry ([`crate::output_budget`]), so its memory does not grow with them, and
/// counts the rest: the output says how many items were left out. With no budget (JSON,
/// OpenMetrics, a textfile) every item is kept.
#[derive(Debug)]
pub struct PerfdataGroups {
    room: Option<usize>,
    /// Each group's items and their printed bytes (separators included).
    groups: Vec<(Vec<Perfdata>, usize)>,
    left_out: usize,
}

impl PerfdataGroups {
    /// `groups` groups under a budget of `room` bytes (`None`: keep everything); checks pass
    /// [`crate::output_budget`].
    pub fn new(groups: usize, room: Option<usize>) -> PerfdataGroups {
        PerfdataGroups {
            room,
            groups: (0..groups).map(|_| (Vec::new(), 0)).collect(),
            left_out: 0,
        }
    }

    /// Adds `pd` to the end of `group` if it fits after the groups before it; items of later
    /// groups that no longer fit are dropped (and counted).
    pub fn push(&mut self, group: usize, pd: Perfdata) {
        let Some(room) = self.room else {
            self.groups[group].0.push(pd);
            return;
        };
        let len = printed_len(&pd) + 1;
        let mut used: usize = self.groups[..=group].iter().map(|g| g.1).sum();
        if used + len > room {
            self.left_out += 1;
            return;
        }
        self.groups[group].0.push(pd);
        self.groups[group].1 += len;
        used += len;
        for (items, bytes) in &mut self.groups[group + 1..] {
            while *bytes > 0 && used + *bytes > room {
                let last = items.pop().map_or(0, |p| printed_len(&p) + 1);
                *bytes -= last;
                self.left_out += 1;
            }
            used += *bytes;
        }
    }

    /// How many items did not fit.
    pub fn left_out(&self) -> usize {
        self.left_out
    }

    /// Puts the items into `report` (after any it has), and the count of those left out.
    pub fn into_report(self, report: &mut crate::Report) {
        report.perfdata_left_out += self.left_out;
        for (items, _) in self.groups {
            report.perfdata.extend(items);
        }
    }
}

/// Bytes `pd` takes when printed (without allocating it).
fn printed_len(pd: &Perfdata) -> usize {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = fmt::write(&mut c, format_args!("{pd}"));
    c.0
}

/// The perfdata items of a check joined with single spaces.
pub fn format_list(items: &[Perfdata]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Range {
        Range::parse(s).unwrap()
    }

    #[test]
    fn peer_formatting_cases() {
        let cases = [
            // Python nagiosplugin tests/test_performance.py
            ("py-np", Perfdata::new("d", 10.0), "d=10"),
            ("py-np", Perfdata::new("d d", 10.0), "'d d'=10"),
            // py-np raises for these; we replace instead (plugin-contract §4.4)
            ("py-np (replaced)", Perfdata::new("d'", 10.0), "d_=10"),
            ("py-np (replaced)", Perfdata::new("d= x", 10.0), "'d_ x'=10"),
            // py-np's verbose example: FAKE OK - check summary | foo=1m;2;3 bar=1s;2;3
            (
                "py-np",
                Perfdata::new("bar", 1.0)
                    .uom(Uom::Seconds)
                    .warning(Some(r("2")))
                    .critical(Some(r("3"))),
                "bar=1s;2;3",
            ),
            // go-olorin: space_monkeys=200000c;10000;100000;0;4294967296
            (
                "go-olorin",
                Perfdata::new("space_monkeys", 200000.0)
                    .uom(Uom::Counter)
                    .warning(Some(r("10000")))
                    .critical(Some(r("100000")))
                    .min(0.0)
                    .max(4294967296.0),
                "space_monkeys=200000c;10000;100000;0;4294967296",
            ),
            // mp-perl drops trailing empties: data=5
            ("mp-perl", Perfdata::new("data", 5.0), "data=5"),
            // plugin-contract §4.4: no exponent, U for unmeasured, no trailing empties
            (
                "contract",
                Perfdata::new("big", 1e21),
                "big=1000000000000000000000",
            ),
            (
                "contract",
                Perfdata::new("tiny", 1e-7).uom(Uom::Seconds),
                "tiny=0.0000001s",
            ),
            ("contract", Perfdata::new("nan", f64::NAN), "nan=U"),
            (
                "contract",
                Perfdata::new("inf", f64::INFINITY).max(f64::INFINITY),
                "inf=U",
            ),
            ("contract", Perfdata::unmeasured("age"), "age=U"),
            ("contract", Perfdata::new("x", 1.0).min(0.0), "x=1;;;0"),
            ("contract", Perfdata::new("x", 1.0).max(10.0), "x=1;;;;10"),
            (
                "contract",
                Perfdata::new("x", 1.0).critical(Some(r("@0:5"))),
                "x=1;;@5",
            ),
            (
                "contract",
                Perfdata::new("x", 1.0).warning(Some(r("10:"))),
                "x=1;10:",
            ),
            ("contract", Perfdata::new("", 1.0), "_=1"),
            ("contract", Perfdata::new("a|b\nc", 1.0), "a_b_c=1"),
            (
                "contract",
                Perfdata::new("queue/shard-1", 3.0),
                "'queue/shard-1'=3",
            ),
            (
                "contract",
                Perfdata::new("t", 0.25).uom(Uom::Seconds),
                "t=0.25s",
            ),
            ("contract", Perfdata::new("neg0", -0.0), "neg0=0"),
        ];
        for (source, pd, want) in cases {
            assert_eq!(pd.to_string(), want, "{source}");
        }
    }

    #[test]
    fn list_format_and_parse() {
        let items = vec![
            Perfdata::new("time", 0.42)
                .uom(Uom::Seconds)
                .warning(Some(r("3")))
                .critical(Some(r("12")))
                .min(0.0),
            Perfdata::new("queue one", 5.0),
            Perfdata::unmeasured("size"),
        ];
        let text = format_list(&items);
        assert_eq!(text, "time=0.42s;3;12;0 'queue one'=5 size=U");
        assert_eq!(Perfdata::parse_list(&text).unwrap(), items);
    }

    #[test]
    fn strict_parser_rejects_garbage() {
        for bad in [
            "novalue",
            "a=",
            "a=x",
            "a=1;2;3;4;5;6",
            "'a=1",
            "a b=1",
            "a=1;foo",
            "a=1;;;zero",
            "a=1,5",
            "a=1.2.3",
            "a=1 5",
            "=1",
            "a=1;2:1",
            "a=Ux",
        ] {
            assert!(Perfdata::parse_list(bad).is_err(), "{bad:?}");
        }
        // Icinga/Nagios-style items that are valid.
        let ok = Perfdata::parse_list("'d d'=10 load1=0.5;1;2;0; x=U rate=5c").unwrap();
        assert_eq!(ok.len(), 4);
        assert_eq!(ok[1].min, Some(0.0));
        assert_eq!(ok[3].uom, Uom::Counter);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn number() -> impl Strategy<Value = f64> + Clone {
            prop_oneof![
                (-1_000_000_000i64..1_000_000_000).prop_map(|i| i as f64),
                -1e12f64..1e12,
            ]
        }

        fn range() -> impl Strategy<Value = Option<Range>> {
            proptest::option::of(crate::range::arb_range(number()))
        }

        fn uom() -> impl Strategy<Value = Uom> {
            prop_oneof![
                Just(Uom::None),
                Just(Uom::Seconds),
                Just(Uom::Milliseconds),
                Just(Uom::Percent),
                Just(Uom::Bytes),
                Just(Uom::Counter),
                Just(Uom::Kilobytes),
                "[A-Za-z]{1,3}".prop_map(|s| Uom::parse(&s).unwrap()),
            ]
        }

        fn perfdata() -> impl Strategy<Value = Perfdata> {
            (
                "[A-Za-z0-9_ ./:-]{1,20}",
                proptest::option::of(number()),
                uom(),
                range(),
                range(),
                proptest::option::of(number()),
                proptest::option::of(number()),
            )
                .prop_map(|(label, value, uom, warning, critical, min, max)| {
                    Perfdata {
                        label,
                        uom: if value.is_some() { uom } else { Uom::None },
                        value,
                        warning,
                        critical,
                        min,
                        max,
                    }
                })
        }

        proptest! {
            #[test]
            fn parse_format_is_identity(items in proptest::collection::vec(perfdata(), 1..5)) {
                let text = format_list(&items);
                let back = Perfdata::parse_list(&text).map_err(TestCaseError::fail)?;
                prop_assert_eq!(back, items, "text {}", text);
            }

            #[test]
            fn any_label_gives_parseable_output(label in ".{0,30}", v in number()) {
                let text = Perfdata::new(&label, v).to_string();
                prop_assert!(!text.contains('\n') && !text.contains('|'));
                let back = Perfdata::parse_list(&text).map_err(TestCaseError::fail)?;
                prop_assert_eq!(back.len(), 1);
            }
        }
    }

    #[test]
    fn groups_keep_what_the_budget_carries() {
        let item = |l: &str| Perfdata::new(l, 1.0); // "qN=1": 4 bytes + 1
        let mut g = PerfdataGroups::new(2, Some(20));
        g.push(1, item("c1"));
        g.push(1, item("c2"));
        g.push(0, item("m1"));
        g.push(0, item("m2"));
        g.push(0, item("m3")); // 15 bytes of messages: one consumer item left
        g.push(0, item("m4")); // 20: no consumer item left
        g.push(0, item("m5")); // does not fit
        g.push(1, item("c3")); // does not fit
        let mut r = crate::Report::ok("x");
        g.into_report(&mut r);
        let labels: Vec<&str> = r.perfdata.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["m1", "m2", "m3", "m4"]);
        assert_eq!(r.perfdata_left_out, 4);
        let mut all = PerfdataGroups::new(1, None);
        for i in 0..1000 {
            all.push(0, item(&format!("q{i}")));
        }
        assert_eq!(all.left_out(), 0);
    }
}
