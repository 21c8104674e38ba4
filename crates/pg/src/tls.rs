//! TLS for the PostgreSQL connection, with libpq's sslmode semantics, on rustls (pure Rust, no
//! system OpenSSL to match; custos-tls holds the verifier shared with the HTTP clients):
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
use custos_tls::{Check, Verifier};

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
    let roots = match check {
        Check::Nothing => Vec::new(),
        _ => vec![root_file.ok_or("no root certificate file (set sslrootcert)")?],
    };
    let verifier = Verifier::new(check, roots);
    verifier.load().map_err(|e| {
        if e.ends_with("does not exist") {
            format!("{e}; provide it, use sslrootcert=system, or change sslmode")
        } else {
            e
        }
    })?;
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(
        verifier.client_config()?,
    )))
}
