//! Certificates for TLS tests, made by the test: a CA and server certificates it signs, with
//! chosen names and validity (one expiring soon, one expired), written as PEM files.

use anyhow::{Context as _, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// A test CA; its certificate is at `cert`.
pub struct TestCa {
    pub cert: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate and its key, as files.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// A CA named `name`, valid from yesterday for a year, written to `dir/<name>.crt`.
    pub fn new(dir: &Path, name: &str) -> Result<TestCa> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(365);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let path = dir.join(format!("{name}.crt"));
        std::fs::write(&path, cert.pem()).with_context(|| format!("writing {}", path.display()))?;
        Ok(TestCa {
            cert: path,
            issuer: Issuer::new(params, key),
        })
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid from `from` to `to`
    /// days relative to now (negative: in the past), written to `dir/<file>.crt` and `.key`.
    pub fn server(
        &self,
        dir: &Path,
        file: &str,
        names: &[&str],
        from_days: i64,
        to_days: i64,
    ) -> Result<ServerCert> {
        let mut params = server_params(names, from_days, to_days)?;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        ServerCert::write(dir, file, &cert, &key)
    }

    /// A self-signed server certificate for `names` (no CA vouches for it), valid from
    /// yesterday for a year, written to `dir/<file>.crt` and `.key`.
    pub fn self_signed(dir: &Path, file: &str, names: &[&str]) -> Result<ServerCert> {
        let params = server_params(names, -1, 365)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        ServerCert::write(dir, file, &cert, &key)
    }
}

/// Names (and the first as common name) and validity, relative to now in days.
fn server_params(names: &[&str], from_days: i64, to_days: i64) -> Result<CertificateParams> {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("custos"),
    );
    let now = OffsetDateTime::now_utc();
    params.not_before = now + Duration::days(from_days);
    params.not_after = now + Duration::days(to_days);
    Ok(params)
}

impl ServerCert {
    fn write(
        dir: &Path,
        file: &str,
        cert: &rcgen::Certificate,
        key: &KeyPair,
    ) -> Result<ServerCert> {
        let out = ServerCert {
            cert: dir.join(format!("{file}.crt")),
            key: dir.join(format!("{file}.key")),
        };
        std::fs::write(&out.cert, cert.pem())?;
        std::fs::write(&out.key, key.serialize_pem())?;
        Ok(out)
    }
}
