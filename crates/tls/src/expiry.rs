//! When a certificate expires: `notAfter` from its DER encoding.
//!
//! Written here rather than taken from `x509-parser`: one field is needed, at a fixed place in
//! the structure (RFC 5280 §4.1: Certificate → tbsCertificate → [version] serialNumber signature
//! issuer validity → notAfter), and the parser crate would add a dozen dependencies to every
//! HTTP check for it. Anything unexpected is an error, never a guess.

/// One DER element: its tag and contents; the rest of the input after it.
fn element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let short = || "certificate: truncated DER".to_string();
    let (&tag, rest) = input.split_first().ok_or_else(short)?;
    let (&first, rest) = rest.split_first().ok_or_else(short)?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err("certificate: bad DER length".into());
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(short());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let (t, body, rest) = element(input)?;
    if t != tag {
        return Err(format!("certificate: expected {what}, found tag 0x{t:02x}"));
    }
    Ok((body, rest))
}

/// Seconds since the Unix epoch for an ASN.1 UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`), as RFC 5280 requires them (UTC, with seconds, no fraction).
fn asn1_time(tag: u8, body: &[u8]) -> Result<i64, String> {
    let text = std::str::from_utf8(body).map_err(|_| "certificate: time is not text")?;
    let digits = text
        .strip_suffix('Z')
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("certificate: unsupported time '{text}'"))?;
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: i16 = digits[..2].parse().unwrap_or(0);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (digits[..4].parse().unwrap_or(0), &digits[4..]),
        _ => return Err(format!("certificate: unsupported time '{text}'")),
    };
    let n = |i: usize| rest[i..i + 2].parse::<i8>().unwrap_or(-1);
    let dt = jiff::civil::DateTime::new(year, n(0), n(2), n(4), n(6), n(8), 0)
        .map_err(|e| format!("certificate: time '{text}': {e}"))?;
    let ts = dt
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| format!("certificate: time '{text}': {e}"))?;
    Ok(ts.timestamp().as_second())
}

/// The certificate's `notAfter`, in seconds since the Unix epoch.
pub fn not_after(der: &[u8]) -> Result<i64, String> {
    let (cert, _) = expect(der, 0x30, "a certificate")?;
    let (tbs, _) = expect(cert, 0x30, "tbsCertificate")?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2; // [0] version
    }
    rest = expect(rest, 0x02, "serialNumber")?.1;
    rest = expect(rest, 0x30, "signature algorithm")?.1;
    rest = expect(rest, 0x30, "issuer")?.1;
    let (validity, _) = expect(rest, 0x30, "validity")?;
    let (tag, body, rest) = element(validity)?;
    asn1_time(tag, body)?; // notBefore must be a valid time too
    let (tag, body, _) = element(rest)?;
    asn1_time(tag, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A self-signed certificate made by openssl with a known end date.
    fn openssl_cert(dir: &std::path::Path, days: &str) -> Vec<u8> {
        let out = dir.join(format!("c{days}.der"));
        let ok = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args([
                "-nodes",
                "-subj",
                "/CN=custos",
                "-days",
                days,
                "-outform",
                "DER",
            ])
            .arg("-keyout")
            .arg(dir.join("k.pem"))
            .arg("-out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        std::fs::read(out).unwrap()
    }

    fn openssl_enddate(dir: &std::path::Path, days: &str) -> i64 {
        let out = Command::new("openssl")
            .args([
                "x509", "-inform", "DER", "-noout", "-enddate", "-dateopt", "iso_8601",
            ])
            .arg("-in")
            .arg(dir.join(format!("c{days}.der")))
            .output()
            .unwrap();
        // notAfter=2026-12-02 13:14:15Z
        let text = String::from_utf8(out.stdout).unwrap();
        let iso = text
            .trim()
            .trim_start_matches("notAfter=")
            .replace(' ', "T");
        iso.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn reads_utctime_and_generalizedtime() {
        let dir = tempfile::tempdir().unwrap();
        // 10 days: UTCTime; 30000 days (past 2049): GeneralizedTime.
        for days in ["10", "30000"] {
            let der = openssl_cert(dir.path(), days);
            assert_eq!(
                not_after(&der).unwrap(),
                openssl_enddate(dir.path(), days),
                "{days}"
            );
        }
        let now = jiff::Timestamp::now().as_second();
        let ten = not_after(&openssl_cert(dir.path(), "10")).unwrap();
        assert!((ten - now - 10 * 86400).abs() < 60);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(not_after(b"").is_err());
        assert!(not_after(&[0x30, 0x82, 0xff]).is_err());
        assert!(not_after(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert_eq!(
            asn1_time(0x17, b"991231235959Z").unwrap(),
            "1999-12-31T23:59:59Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_second()
        );
        assert!(asn1_time(0x17, b"9912312359Z").is_err());
        assert!(asn1_time(0x18, b"20261301000000Z").is_err());
    }
}
