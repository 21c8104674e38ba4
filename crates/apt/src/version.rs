//! Debian version ordering, as dpkg's `verrevcmp` defines it (deb-version(7)): epoch
//! numerically, then the upstream version and the revision, each compared in alternating
//! non-digit and digit parts, where `~` sorts before everything, even the end of the part.

use std::cmp::Ordering;

/// Splits `[epoch:]upstream[-revision]`.
fn split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((up, rev)) => (epoch, up, rev),
        None => (epoch, rest, ""),
    }
}

/// dpkg's weight of a character in a non-digit part (0 for the end of the part).
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let mut first_diff: i32 = 0;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == 0 {
                first_diff = i32::from(a[i]) - i32::from(b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

/// Compares two Debian versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

/// A version relation of a dependency field: `<<`, `<=`, `=`, `>=`, `>>` (and the obsolete `<`
/// and `>`, which mean `<=` and `>=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<<`.
    Lt,
    /// `<=` (and the obsolete `<`).
    Le,
    /// `=`.
    Eq,
    /// `>=` (and the obsolete `>`).
    Ge,
    /// `>>`.
    Gt,
}

impl Op {
    /// The relation written as `s`.
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<<" => Op::Lt,
            "<=" | "<" => Op::Le,
            "=" => Op::Eq,
            ">=" | ">" => Op::Ge,
            ">>" => Op::Gt,
            _ => return None,
        })
    }

    /// Does `version` stand in this relation to `to`?
    pub fn holds(self, version: &str, to: &str) -> bool {
        let o = compare(version, to);
        match self {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Eq => o == Ordering::Equal,
            Op::Ge => o != Ordering::Less,
            Op::Gt => o == Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_examples() {
        // From deb-version(7) and dpkg's own test suite (t-version.c).
        let less = [
            ("1.0~rc1", "1.0"),
            ("1.0-0", "1.0-1"),
            ("1:0.9", "2:0.1"),
            ("0.9", "1:0.1"),
            ("1.0~~", "1.0~"),
            ("1.0~~a", "1.0~"),
            ("1.0~", "1.0"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1.2.3", "1.2.10"),
            ("2.30", "2.30+b1"),
            ("3.0.11-1~deb12u1", "3.0.11-1~deb12u2"),
            ("5.2.15-2+b8", "5.2.15-2+b13"),
            ("1:2.66-4+deb12u2+b2", "1:2.66-4+deb12u3+b1"),
            ("1.0~bpo12+1", "1.1~bpo12+1"),
        ];
        for (a, b) in less {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        }
        for (a, b) in [
            ("1.0", "1.0"),
            ("0:1.0", "1.0"),
            ("1.00", "1.0"),
            ("1.0-1", "1.0-01"),
            ("1.0", "1.0-0"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} = {b}");
        }
    }

    #[test]
    fn relations() {
        assert!(Op::Ge.holds("1.1", "1.0"));
        assert!(!Op::Lt.holds("1.0", "1.0"));
        assert!(Op::Le.holds("1.0", "1.0"));
        assert!(Op::Eq.holds("0:1.0", "1.0"));
        assert!(Op::Gt.holds("1.0+b1", "1.0"));
        assert_eq!(Op::parse("<"), Some(Op::Le));
        assert_eq!(Op::parse("=>"), None);
    }
}
