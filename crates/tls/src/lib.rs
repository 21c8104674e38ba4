//! custos-tls: the TLS pieces every custos client shares (PostgreSQL, HTTP, RabbitMQ, Zulip), on
//! rustls with the ring provider.
//!
//! - [`Verifier`]: the server-certificate check — nothing, the chain, or the chain and the name —
//!   with the handshake signatures always verified. Root certificates come from files or the
//!   system's bundle, and are loaded on first use, so a plain-HTTP check never reads the
//!   system trust store (measured: loading it costs more than a whole local HTTP request).
//! - [`load_roots`]: PEM root files, `system` for Debian's bundle.
//! - [`not_after`]: the expiry time of a DER certificate, for certificate-age checks.

#![deny(missing_docs)]

mod expiry;

pub use expiry::not_after;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use rustls;

/// The system's trusted roots on Debian (ca-certificates).
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The crypto provider of every custos TLS connection.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Any certificate (`--insecure`, libpq's `prefer`); the handshake is still verified.
    Nothing,
    /// The chain must lead to a root (libpq's `verify-ca`).
    Chain,
    /// The chain, and the certificate must name the host (HTTPS, libpq's `verify-full`).
    ChainAndName,
}

/// Reads root certificates from PEM files; `system` means Debian's bundle.
pub fn load_roots(files: &[PathBuf]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for file in files {
        let path = if file.as_os_str() == "system" {
            Path::new(SYSTEM_ROOTS)
        } else {
            file.as_path()
        };
        let bad = |e: &dyn std::fmt::Display| {
            format!("root certificate file \"{}\": {e}", path.display())
        };
        if !path.exists() {
            return Err(format!(
                "root certificate file \"{}\" does not exist",
                path.display()
            ));
        }
        let before = roots.len();
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))?;
        for cert in certs {
            roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
        }
        if roots.len() == before {
            return Err(format!(
                "root certificate file \"{}\" holds no certificate",
                path.display()
            ));
        }
    }
    Ok(roots)
}

/// The server-certificate check of one connection setting. Roots are read on the first
/// handshake that needs them (or by [`Verifier::load`], to report a bad file before connecting).
#[derive(Debug)]
pub struct Verifier {
    check: Check,
    root_files: Vec<PathBuf>,
    chain: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    /// A verifier doing `check` against the roots in `root_files` (`system`: Debian's bundle),
    /// read on first use, when a chain is first verified.
    pub fn new(check: Check, root_files: Vec<PathBuf>) -> Verifier {
        Verifier {
            check,
            root_files,
            chain: OnceLock::new(),
            provider: provider(),
        }
    }

    /// Loads the roots now (when the check needs them); the error names the bad file.
    pub fn load(&self) -> Result<(), String> {
        if self.check == Check::Nothing {
            return Ok(());
        }
        self.chain().map(|_| ())
    }

    fn chain(&self) -> Result<&Arc<WebPkiServerVerifier>, String> {
        self.chain
            .get_or_init(|| {
                let roots = load_roots(&self.root_files)?;
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                    .build()
                    .map_err(|e| format!("root certificates: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A client configuration with this verifier and no client certificate.
    pub fn client_config(self) -> Result<rustls::ClientConfig, String> {
        let provider = self.provider.clone();
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(self))
            .with_no_client_auth())
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.check == Check::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        let chain = self.chain().map_err(Error::General)?;
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.check == Check::Chain => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS error in words for a status line: what failed, for which host.
pub fn describe_error(e: &Error, host: &str) -> String {
    use CertificateError as C;
    match e {
        Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => {
                format!("TLS: the certificate of {host} has expired")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("TLS: the certificate of {host} is not valid yet")
            }
            C::NotValidForName => format!("TLS: the certificate is not valid for {host}"),
            C::NotValidForNameContext { presented, .. } => format!(
                "TLS: the certificate is not valid for {host} (it names {})",
                presented
                    .iter()
                    .map(|p| bare_name(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            C::UnknownIssuer => {
                format!("TLS: the certificate of {host} is signed by an unknown CA")
            }
            C::Revoked => format!("TLS: the certificate of {host} is revoked"),
            C::BadSignature => format!("TLS: the certificate of {host} has a bad signature"),
            other => format!("TLS: the certificate of {host} is invalid ({other:?})"),
        },
        Error::AlertReceived(alert) => format!("TLS: {host} refused the handshake ({alert:?})"),
        Error::General(text) => format!("TLS: {text}"),
        Error::InvalidMessage(_) => {
            format!("TLS handshake with {host} failed: the server does not speak TLS ({e})")
        }
        other => format!("TLS handshake with {host} failed: {other}"),
    }
}

/// rustls lists names as `DnsName("a.example")` / `IpAddress(10.0.0.1)`: keep the name.
fn bare_name(presented: &str) -> &str {
    match presented.split_once('(') {
        Some((_, rest)) => rest.trim_end_matches(')').trim_matches('"'),
        None => presented,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_lose_their_decoration() {
        assert_eq!(bare_name("DnsName(\"a.custos.test\")"), "a.custos.test");
        assert_eq!(bare_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(bare_name("plain"), "plain");
    }

    #[test]
    fn system_roots_and_bad_files() {
        let roots = load_roots(&["system".into()]).unwrap();
        assert!(roots.len() > 50, "{}", roots.len());
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert_eq!(
            load_roots(std::slice::from_ref(&empty)).unwrap_err(),
            format!(
                "root certificate file \"{}\" holds no certificate",
                empty.display()
            )
        );
        let missing = dir.path().join("missing.crt");
        assert!(load_roots(&[missing])
            .unwrap_err()
            .ends_with("does not exist"));
    }

    #[test]
    fn roots_are_read_on_first_use() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("later.crt");
        // Building never touches the file; loading does.
        let v = Verifier::new(Check::ChainAndName, vec![missing.clone()]);
        assert!(v.load().unwrap_err().contains("does not exist"));
        // With no check, nothing is ever read.
        let v = Verifier::new(Check::Nothing, vec![missing]);
        assert_eq!(v.load(), Ok(()));
    }
}
