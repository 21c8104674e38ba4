//! TLS against a real PostgreSQL with ssl = on and certificates made by the test (openssl):
//! libpq's sslmode rules, wrong names, unknown CAs, a server without TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_pg::{connect, ConnArgs, Env};
use plugin_core::{Context, State};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate it signed for `san`.
fn make_certs(dir: &Path, ca: &str, server: &str, san: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=custos-test-server",
            "-keyout",
            &format!("{server}.key"),
            "-out",
            &format!("{server}.csr"),
        ],
    );
    std::fs::write(
        dir.join(format!("{server}.ext")),
        format!("subjectAltName={san}\n"),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{server}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{server}.ext"),
            "-out",
            &format!("{server}.crt"),
        ],
    );
}

fn try_connect(
    pg: &custos_harness::Postgres,
    host: &str,
    extra: &str,
) -> Result<String, (State, String)> {
    let args = ConnArgs {
        dsn: Some(format!(
            "host={host} port={} user={} password={} dbname={} {extra}",
            pg.primary_port, pg.user, pg.password, pg.dbname
        )),
        ..Default::default()
    };
    let settings = args
        .settings_in(
            &Env {
                home: Some("/nonexistent".into()),
                ..Env::default()
            },
            "c",
        )
        .unwrap();
    match connect(&settings, &Context::new(Duration::from_secs(10), 0)) {
        Ok(client) => Ok(client
            .query_one("SELECT CASE WHEN ssl THEN 'tls' ELSE 'plain' END FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .unwrap()
            .get(0)),
        Err(e) => Err((e.state, e.message)),
    }
}

#[test]
fn sslmodes_against_a_tls_server() {
    let pg = custos_harness::private_postgres("pg-tls");
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    make_certs(dir, "ca", "server", "IP:127.0.0.1");
    make_certs(dir, "other-ca", "unused", "DNS:localhost");
    make_certs(dir, "name-ca", "named", "DNS:db.custos.invalid");
    // The server's key must belong to the server's OS user and be private.
    let data = &pg.primary_data;
    for (from, to) in [
        ("server.crt", "server.crt"),
        ("server.key", "server.key"),
        ("ca.crt", "ca.crt"),
    ] {
        std::fs::copy(dir.join(from), data.join(to)).unwrap();
        if let Some(u) = &pg.os_user {
            u.chown(&data.join(to)).unwrap();
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        data.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let mut c = pg.client(false).unwrap();
    c.batch_execute("ALTER SYSTEM SET ssl = on").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let ca = dir.join("ca.crt");
    let ca = ca.display();
    assert_eq!(
        try_connect(&pg, "127.0.0.1", "sslmode=disable"),
        Ok("plain".into())
    );
    assert_eq!(
        try_connect(&pg, "127.0.0.1", "sslmode=prefer"),
        Ok("tls".into())
    );
    assert_eq!(
        try_connect(&pg, "127.0.0.1", "sslmode=require"),
        Ok("tls".into())
    );
    assert_eq!(
        try_connect(
            &pg,
            "127.0.0.1",
            &format!("sslmode=verify-ca sslrootcert={ca}")
        ),
        Ok("tls".into())
    );
    assert_eq!(
        try_connect(
            &pg,
            "127.0.0.1",
            &format!("sslmode=verify-full sslrootcert={ca}")
        ),
        Ok("tls".into())
    );

    // An unknown CA: require with that root file behaves as verify-ca (libpq), and fails.
    let other = dir.join("other-ca.crt");
    for mode in ["require", "verify-ca", "verify-full"] {
        let (state, msg) = try_connect(
            &pg,
            "127.0.0.1",
            &format!("sslmode={mode} sslrootcert={}", other.display()),
        )
        .unwrap_err();
        assert_eq!(state, State::Critical, "{mode}: {msg}");
        assert!(
            msg.contains("UnknownIssuer") || msg.contains("unknown issuer"),
            "{mode}: {msg}"
        );
    }

    // A certificate for another name: verify-ca accepts it, verify-full does not.
    for f in ["named.crt", "named.key"] {
        std::fs::copy(dir.join(f), data.join(f.replace("named", "server"))).unwrap();
    }
    if let Some(u) = &pg.os_user {
        u.chown(&data.join("server.crt")).unwrap();
        u.chown(&data.join("server.key")).unwrap();
    }
    std::fs::set_permissions(
        data.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::copy(dir.join("name-ca.crt"), data.join("ca.crt")).unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let name_ca = dir.join("name-ca.crt");
    assert_eq!(
        try_connect(
            &pg,
            "127.0.0.1",
            &format!("sslmode=verify-ca sslrootcert={}", name_ca.display())
        ),
        Ok("tls".into())
    );
    let (state, msg) = try_connect(
        &pg,
        "127.0.0.1",
        &format!("sslmode=verify-full sslrootcert={}", name_ca.display()),
    )
    .unwrap_err();
    assert_eq!(state, State::Critical, "{msg}");
    assert!(
        msg.contains("NotValidForName") || msg.contains("not valid for name"),
        "{msg}"
    );

    // A server without TLS: require fails, prefer falls back.
    c.batch_execute("ALTER SYSTEM SET ssl = off").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        try_connect(&pg, "127.0.0.1", "sslmode=prefer"),
        Ok("plain".into())
    );
    let (state, msg) = try_connect(&pg, "127.0.0.1", "sslmode=require").unwrap_err();
    assert_eq!(state, State::Critical, "{msg}");
    assert!(msg.contains("server does not support TLS"), "{msg}");
}
