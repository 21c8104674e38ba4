//! WAL segment names and gaps in an archive directory.
//!
//! A segment file is named `TTTTTTTTXXXXXXXXYYYYYYYY` (timeline, then the segment number split
//! into "log" and "seg" halves, where each log holds `4 GiB / segment size` segments). Archives
//! written by `cp` hold the bare names, compressed ones add a suffix (`.gz`, `.zst`, ...), and a
//! pgBackRest repository adds `-<sha1>` and keeps them two directories down; all are read.
//! `.partial`, `.backup` and `.history` files are not segments. Timelines are merged by segment
//! number: after a switch the new timeline continues the same numbering.

use std::collections::HashSet;
use std::path::Path;

/// A parsed segment name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub timeline: u32,
    pub number: u64,
}

/// Segments per "log" for a segment size (16 MiB → 256).
pub fn per_log(segment_size: u64) -> u64 {
    0x1_0000_0000 / segment_size.max(1)
}

/// Parses the 24 hex digits at the start of `name` if what follows makes it a segment file.
pub fn parse(name: &str, segment_size: u64) -> Option<Segment> {
    let hex = name.get(..24)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let rest = &name[24..];
    let ok_suffix = rest.is_empty()
        || rest.starts_with('-')
        || matches!(
            rest,
            ".gz" | ".lz4" | ".zst" | ".zstd" | ".br" | ".bz2" | ".xz" | ".lzma"
        );
    if !ok_suffix {
        return None;
    }
    let timeline = u32::from_str_radix(&hex[..8], 16).ok()?;
    let log = u64::from_str_radix(&hex[8..16], 16).ok()?;
    let seg = u64::from_str_radix(&hex[16..24], 16).ok()?;
    let per = per_log(segment_size);
    if seg >= per {
        return None;
    }
    Some(Segment {
        timeline,
        number: log * per + seg,
    })
}

/// `000000010000000000000002.00000028.backup` (optionally compressed or with pgBackRest's
/// `-<sha1>`): the segment the base backup started in.
fn backup_history(name: &str, size: u64) -> Option<Segment> {
    let rest = name.get(24..)?;
    let offset = rest.strip_prefix('.')?.get(..8)?;
    if !offset.bytes().all(|b| b.is_ascii_hexdigit()) || !rest[9..].starts_with(".backup") {
        return None;
    }
    parse(&name[..24], size)
}

/// The file name of segment `number` on `timeline`.
pub fn name(timeline: u32, number: u64, segment_size: u64) -> String {
    let per = per_log(segment_size);
    format!("{timeline:08X}{:08X}{:08X}", number / per, number % per)
}

/// What an archive directory holds.
#[derive(Debug, Default)]
pub struct Archive {
    pub numbers: HashSet<u64>,
    pub newest: Option<Segment>,
    pub oldest: Option<Segment>,
    pub files: usize,
    /// The segment where the newest base backup started, from the `*.backup` history files
    /// PostgreSQL archives at the end of each base backup.
    pub newest_backup_start: Option<Segment>,
}

/// Reads the segment files in `dir` and up to two directory levels below it.
pub fn scan(dir: &Path, segment_size: u64) -> std::io::Result<Archive> {
    let mut archive = Archive::default();
    scan_into(dir, segment_size, 0, &mut archive)?;
    Ok(archive)
}

fn scan_into(dir: &Path, size: u64, depth: u8, a: &mut Archive) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let name = file_name.to_string_lossy();
        if let Some(seg) = parse(&name, size) {
            a.files += 1;
            a.numbers.insert(seg.number);
            if a.newest.is_none_or(|n| seg.number > n.number) {
                a.newest = Some(seg);
            }
            if a.oldest.is_none_or(|o| seg.number < o.number) {
                a.oldest = Some(seg);
            }
        } else if let Some(seg) = backup_history(&name, size) {
            if a.newest_backup_start.is_none_or(|n| seg.number > n.number) {
                a.newest_backup_start = Some(seg);
            }
        } else if depth < 2 && entry.file_type()?.is_dir() {
            scan_into(&entry.path(), size, depth + 1, a)?;
        }
    }
    Ok(())
}

/// Segment numbers in `from..=to` that the archive lacks (at most `limit` of them listed, and
/// the total count).
pub fn missing(a: &Archive, from: u64, to: u64, limit: usize) -> (Vec<u64>, u64) {
    let mut listed = Vec::new();
    let mut count = 0;
    for n in from..=to {
        if !a.numbers.contains(&n) {
            count += 1;
            if listed.len() < limit {
                listed.push(n);
            }
        }
    }
    (listed, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB16: u64 = 16 * 1024 * 1024;

    #[test]
    fn names_round_trip_across_log_boundaries() {
        let s = parse("0000000100000001000000FF", MB16).unwrap();
        assert_eq!((s.timeline, s.number), (1, 511));
        assert_eq!(name(1, 512, MB16), "000000010000000200000000");
        // 1 GiB segments: 4 per log.
        assert_eq!(
            parse("000000020000000A00000003", 1 << 30).unwrap().number,
            43
        );
        assert!(
            parse("000000010000000000000100", MB16).is_none(),
            "seg beyond the log"
        );
    }

    #[test]
    fn only_segment_files_count() {
        for good in [
            "000000010000000000000003",
            "000000010000000000000003.gz",
            "000000010000000000000003.zst",
            "000000010000000000000003-5f1c2e0d9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d.gz",
        ] {
            assert!(parse(good, MB16).is_some(), "{good}");
        }
        for bad in [
            "000000010000000000000003.partial",
            "000000010000000000000003.00000028.backup",
            "00000002.history",
            "archive_status",
            "00000001000000000000000G",
            "",
        ] {
            assert!(parse(bad, MB16).is_none(), "{bad}");
        }
    }

    #[test]
    fn gaps_are_found_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        for n in [3u64, 4, 6, 9, 255, 256] {
            std::fs::write(dir.path().join(name(1, n, MB16)), "").unwrap();
        }
        // A pgBackRest-style subdirectory and files that are not segments.
        let sub = dir.path().join("0000000100000000");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join(format!("{}-abc.gz", name(1, 5, MB16))), "").unwrap();
        std::fs::write(dir.path().join("00000002.history"), "").unwrap();
        std::fs::write(
            dir.path().join("000000010000000000000004.00000028.backup"),
            "",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("000000010000000000000003.00000100.backup"),
            "",
        )
        .unwrap();
        let a = scan(dir.path(), MB16).unwrap();
        assert_eq!(a.newest_backup_start.unwrap().number, 4);
        assert_eq!(
            (a.files, a.oldest.unwrap().number, a.newest.unwrap().number),
            (7, 3, 256)
        );
        let (listed, count) = missing(&a, 3, 10, 3);
        assert_eq!((listed, count), (vec![7, 8, 10], 3));
        let (_, count) = missing(&a, 3, 256, 1000);
        assert_eq!(count, 256 - 3 + 1 - 7);
    }
}
