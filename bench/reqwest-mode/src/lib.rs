//! The same minimal client for both modes: no proxy lookup, HTTP/1.1, rustls without roots
//! (plain HTTP needs none), a GET whose status and body length are printed.
pub fn tls() -> rustls::ClientConfig {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}
