//! A throwaway nginx (Debian's package) for the HTTP tests: plain HTTP on 127.0.0.1 and ::1,
//! HTTPS with certificates from a test CA and three SNI names on one port, redirects, auth and
//! error responses. Its own ports, config and directory; the machine's nginx is not touched.

use crate::certs::TestCa;
use crate::guard::{reap, stop_group_line, Guard};
use crate::util::{free_port, wait_until};
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const NGINX: &str = "/usr/sbin/nginx";

/// Where the test nginx is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Nginx {
    pub http_port: u16,
    pub https_port: u16,
    pub dir: PathBuf,
    /// The test CA that signed the HTTPS certificates.
    pub ca_cert: PathBuf,
    /// `user:password` accepted on /private/.
    pub user: String,
    pub password: String,
}

/// The HTTPS names, all served on `https_port` of 127.0.0.1 (use `--ip 127.0.0.1`).
pub const GOOD_NAME: &str = "a.custos.test";
/// Its certificate expires in 10 days.
pub const SOON_NAME: &str = "b.custos.test";
/// Its certificate expired yesterday.
pub const EXPIRED_NAME: &str = "expired.custos.test";

impl Nginx {
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// An https URL for one of the names above.
    pub fn https_url(&self, name: &str, path: &str) -> String {
        format!("https://{name}:{}{path}", self.https_port)
    }
}

fn config(n: &Nginx, as_root: bool, tls: &Path) -> String {
    let d = n.dir.display();
    let t = tls.display();
    let (http, https) = (n.http_port, n.https_port);
    let user = if as_root { "user nobody nogroup;" } else { "" };
    let site = |name: &str, file: &str, default: &str| {
        format!(
            "    server {{
        listen 127.0.0.1:{https} ssl{default};
        listen [::1]:{https} ssl{default};
        server_name {name};
        ssl_certificate {t}/{file}.crt;
        ssl_certificate_key {t}/{file}.key;
        root {d}/www;
    }}
"
        )
    };
    format!(
        "{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log off;
    default_type text/html;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{http};
        listen [::1]:{http};
        root {d}/www;
        location = /redirect {{ return 301 /index.html; }}
        location = /hop1 {{ return 302 /hop2; }}
        location = /hop2 {{ return 302 /hop3; }}
        location = /hop3 {{ return 302 /index.html; }}
        location = /loop-a {{ return 302 /loop-b; }}
        location = /loop-b {{ return 302 /loop-a; }}
        location = /to-https {{ return 302 https://$host:{https}/status/; }}
        location = /error {{ return 500 \"boom\\n\"; }}
        location = /unavailable {{ return 503 \"down for maintenance\\n\"; }}
        location = /echo {{ return 200 \"method=$request_method x-custos=$http_x_custos accept-encoding=$http_accept_encoding auth=$remote_user\\n\"; }}
        location = /credentials {{ return 200 \"authorization=$http_authorization cookie=$http_cookie x-custos=$http_x_custos\\n\"; }}
        location = /to-same-host {{ return 302 /credentials; }}
        location = /to-other-host {{ return 302 http://[::1]:{http}/credentials; }}
        location = /form {{
            if ($request_method = POST) {{ return 303 /form; }}
            return 200 \"form method=$request_method\\n\";
        }}
        location /private/ {{
            auth_basic \"custos\";
            auth_basic_user_file {d}/htpasswd;
        }}
    }}
{a}{b}{x}}}
",
        a = site(GOOD_NAME, "good", " default_server"),
        b = site(SOON_NAME, "soon", ""),
        x = site(EXPIRED_NAME, "expired", ""),
    )
}

/// Starts nginx under `base`, registering its shutdown with `guard`.
pub fn start(base: &Path, guard: &Guard) -> Result<Nginx> {
    if !Path::new(NGINX).exists() {
        anyhow::bail!("no {NGINX} (apt-get install nginx)");
    }
    let dir = base.join("nginx");
    let tls = dir.join("tls");
    for sub in [
        "www/status",
        "www/dists/stable",
        "www/private",
        "tmp",
        "tls",
    ] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let ca = TestCa::new(&tls, "custos-test-ca")?;
    ca.server(&tls, "good", &[GOOD_NAME], -1, 60)?;
    ca.server(&tls, "soon", &[SOON_NAME], -1, 10)?;
    ca.server(&tls, "expired", &[EXPIRED_NAME], -30, -1)?;
    let n = Nginx {
        http_port: free_port()?,
        https_port: free_port()?,
        dir: dir.clone(),
        ca_cert: ca.cert.clone(),
        user: "custos".into(),
        password: format!("pw-{}", std::process::id()),
    };
    let www = dir.join("www");
    std::fs::write(
        www.join("index.html"),
        "<html><body>custos test page</body></html>\n",
    )?;
    std::fs::write(www.join("status/index.html"), "<p>Checks running</p>\n")?;
    std::fs::write(
        www.join("dists/stable/Release"),
        "Origin: Zulip\nSuite: stable\nSHA256:\n 0123 456 main/binary-amd64/Packages\n 89ab 789 main/Contents-amd64\n",
    )?;
    std::fs::write(www.join("private/index.html"), "private page\n")?;
    std::fs::write(
        dir.join("htpasswd"),
        format!("{}:{{PLAIN}}{}\n", n.user, n.password),
    )?;
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(&n, as_root, &tls))?;
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting nginx")?;
    guard.on_cleanup(&stop_group_line(child.id(), "TERM"))?;
    reap(child);
    wait_until("nginx", Duration::from_secs(15), || {
        let ok = |p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
        (ok(n.http_port) && ok(n.https_port)).then_some(())
    })
    .with_context(|| {
        format!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        )
    })?;
    Ok(n)
}
