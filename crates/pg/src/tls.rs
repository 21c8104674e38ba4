//! TLS for the PostgreSQL connection, with libpq's sslmode semantics, on rustls (pure Rust, no
//! system OpenSSL to match; the ring provider):
//!
//! - `disable`, `allow`: no TLS (`allow` would only try TLS after a refusal; custos does not).
//! - `prefer`: TLS when the server offers it, certificate not checked (libpq's default).
//! - `require`: TLS or fail; the certificate is checked against the root certificate file only
//!   if that file exists (libpq: "behaves as verify-ca").
//! - `verify-ca`: the chain must lead to the root certificate file.
//! - `verify-full`: and the certificate must name the host.
//!
//! Root certificates: `sslrootcert` (or `PGSSLROOTCERT`), default `~/.postgresql/root.crt`;
//! `system` means the system's trusted roots (`/etc/ssl/certs/ca-certificates.crt`).

use crate::settings::{Settings, SslMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// The system's trusted roots on Debian (ca-certificates).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// The TLS connector for `settings`, or `None` when the connection goes without TLS. Errors are
/// configuration problems (a missing or unreadable root certificate file).
pub fn connector(
    settings: &Settings,
) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, String> {
    if settings.is_socket() {
        return Ok(None); // libpq never uses TLS over a Unix socket
    }
    let root_file = settings.sslrootcert.clone();
    let check = match settings.sslmode {
        SslMode::Disable | SslMode::Allow => return Ok(None),
        SslMode::Prefer => Check::Nothing,
        SslMode::Require if root_file.as_ref().is_some_and(|f| f.exists()) => Check::Chain,
        SslMode::Require => Check::Nothing,
        SslMode::VerifyCa => Check::Chain,
        SslMode::VerifyFull => Check::ChainAndName,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = match check {
        Check::Nothing => None,
        Check::Chain | Check::ChainAndName => {
            let file = root_file.ok_or("no root certificate file (set sslrootcert)")?;
            let roots = load_roots(&file)?;
            let chain =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("root certificate file \"{}\": {e}", file.display()))?;
            Some(chain)
        }
    };
    let verifier = Arc::new(Verifier {
        chain,
        check_name: check == Check::ChainAndName,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

fn load_roots(file: &std::path::Path) -> Result<RootCertStore, String> {
    let path = if file.as_os_str() == "system" {
        PathBuf::from(SYSTEM_ROOTS)
    } else {
        file.to_path_buf()
    };
    if !path.exists() {
        return Err(format!(
            "root certificate file \"{}\" does not exist; provide it, use sslrootcert=system, or change sslmode",
            path.display()
        ));
    }
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&path).map_err(|e| {
        format!(
            "cannot read root certificate file \"{}\": {e}",
            path.display()
        )
    })?;
    for cert in certs {
        let cert =
            cert.map_err(|e| format!("root certificate file \"{}\": {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("root certificate file \"{}\": {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "root certificate file \"{}\" holds no certificate",
            path.display()
        ));
    }
    Ok(roots)
}

/// The certificate check of one sslmode: no chain (`prefer`, `require` without a root file),
/// the chain only (`verify-ca`), or the chain and the name (`verify-full`). The handshake
/// signatures are always verified.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
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
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_roots_and_bad_files() {
        // Debian's ca-certificates bundle: many roots.
        let roots = load_roots(std::path::Path::new("system")).unwrap();
        assert!(roots.len() > 50, "{}", roots.len());
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert_eq!(
            load_roots(&empty).unwrap_err(),
            format!(
                "root certificate file \"{}\" holds no certificate",
                empty.display()
            )
        );
    }
}
