//! deb822 control data (dpkg's status file, apt's Packages and Release files, preferences):
//! stanzas separated by blank lines, `Field: value` lines, continuation lines starting with a
//! space or tab. Packages files are read as a stream in chunks, so that a 60 MB list costs a
//! buffer, not its size in memory.

use std::io::Read;

/// The value of `name` in one stanza (field names are case-insensitive), continuation lines
/// joined with `\n`.
pub fn field(stanza: &str, name: &str) -> Option<String> {
    let mut lines = stanza.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if line.starts_with([' ', '\t', '#']) || !key.eq_ignore_ascii_case(name) {
            continue;
        }
        let mut out = value.trim().to_string();
        while let Some(next) = lines.peek() {
            if !next.starts_with([' ', '\t']) {
                break;
            }
            out.push('\n');
            out.push_str(next.trim());
            lines.next();
        }
        return Some(out);
    }
    None
}

/// The stanzas of a whole (small) file; comment lines (`#`) dropped where `comments` is set.
pub fn stanzas(text: &str, comments: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if comments && line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Calls `each` with every stanza of a stream (as bytes, without the blank line), reading it
/// in chunks. Stops early when `each` returns an error.
pub fn each_stanza<R: Read, E: From<std::io::Error>>(
    mut reader: R,
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    const CHUNK: usize = 64 << 10;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
    let mut eof = false;
    while !eof {
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        let n = loop {
            match reader.read(&mut buf[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        };
        buf.truncate(start + n);
        eof = n == 0;
        // Every complete stanza in the buffer (all of it at the end of the stream).
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            let end = match memchr::memmem::find(rest, b"\n\n") {
                Some(i) => i + 1,
                None if eof => rest.len(),
                None => break,
            };
            let stanza = trim_newlines(&rest[..end]);
            if !stanza.is_empty() {
                each(stanza)?;
            }
            pos += end;
            // Blank lines between stanzas (more than one, or with spaces: rare).
            while pos < buf.len() && buf[pos] == b'\n' {
                pos += 1;
            }
            if pos >= buf.len() {
                break;
            }
        }
        buf.drain(..pos.min(buf.len()));
    }
    Ok(())
}

fn trim_newlines(mut s: &[u8]) -> &[u8] {
    while let [b'\n' | b'\r', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\n' | b'\r'] = s {
        s = rest;
    }
    s
}

/// The value of a one-line field in a stanza of bytes, fast: the stanza's first line when it
/// is that field (Package is first in Packages files), else a search.
pub fn first_field<'a>(stanza: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut at = 0;
    loop {
        let line_end = memchr::memchr(b'\n', &stanza[at..]).map_or(stanza.len(), |i| at + i);
        let line = &stanza[at..line_end];
        if line.len() > name.len()
            && line[name.len()] == b':'
            && line[..name.len()].eq_ignore_ascii_case(name)
        {
            return Some(trim(&line[name.len() + 1..]));
        }
        if line_end >= stanza.len() {
            return None;
        }
        at = line_end + 1;
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_continuations() {
        let s = "Package: a\nDescription: one\n two\n .\n three\nversion: 1.0\n";
        assert_eq!(field(s, "Package").as_deref(), Some("a"));
        assert_eq!(
            field(s, "description").as_deref(),
            Some("one\ntwo\n.\nthree")
        );
        assert_eq!(field(s, "Version").as_deref(), Some("1.0"));
        assert_eq!(field(s, "Depends"), None);
        let st = stanzas("# c\nPackage: a\n\n\n\nPackage: b\n# x\nPin: y\n", true);
        assert_eq!(st, vec!["Package: a\n", "Package: b\nPin: y\n"]);
    }

    #[test]
    fn stanzas_across_chunk_boundaries() {
        // Stanzas of every size around the chunk size, in a stream.
        let mut text = String::new();
        let mut names = Vec::new();
        for i in 0..3000 {
            let name = format!("pkg{i}");
            text.push_str(&format!(
                "Package: {name}\nVersion: 1.{i}\nDescription: {}\n\n",
                "x".repeat(i % 700)
            ));
            names.push(name);
        }
        let mut seen = Vec::new();
        each_stanza::<_, std::io::Error>(text.as_bytes(), |s| {
            seen.push(String::from_utf8(first_field(s, b"Package").unwrap().to_vec()).unwrap());
            assert!(first_field(s, b"Version").is_some());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, names);
        // No final blank line, and CRLF-free trailing spaces.
        let mut n = 0;
        each_stanza::<_, std::io::Error>(&b"Package: a\n\nPackage: b"[..], |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
    }
}
