//! Misbehaving TCP peers for the deadline and error tests of every networked check: one that
//! accepts and never answers, one that answers a byte per second, one that resets, one that
//! closes without answering, one that sends a given reply (a body full of `|`, or 100 MB).
//! Each notes the connections it accepted, so a test can check that the client closed them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the peer does with each connection.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Accepts and never says a word.
    Silent,
    /// Reads the request, then sends `reply` one byte per second.
    Trickle(Vec<u8>),
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// Reads the request, then closes without a word (FIN).
    Close,
    /// Reads the request, sends `reply`, closes.
    Reply(Vec<u8>),
    /// Reads the request, sends HTTP 200 headers and then `bytes` of body as fast as the
    /// client reads.
    Huge(u64),
    /// Reads the request, sends `prefix` and then `bytes` more (`x`) as fast as the client
    /// reads: a reply that claims to be huge in any protocol.
    Flood(Vec<u8>, u64),
}

/// A peer with one [`Fault`], on a loopback port.
pub struct FaultServer {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    /// Connections the peer keeps open (silent, trickling, huge), watched for the client's close.
    open: Arc<Mutex<Vec<TcpStream>>>,
}

/// A TCP peer that accepts and never answers (kept under this name for the PostgreSQL tests).
pub struct SilentServer;

impl SilentServer {
    pub fn start() -> FaultServer {
        FaultServer::start(Fault::Silent)
    }
}

/// Reads an HTTP request's head (up to the blank line), or whatever comes within a second.
fn read_request(s: &mut TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

fn serve(fault: &Fault, mut s: TcpStream) {
    match fault {
        Fault::Silent => {}
        Fault::Trickle(reply) => {
            read_request(&mut s);
            for b in reply {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Fault::Reset => {
            read_request(&mut s);
            // SO_LINGER 0: close sends RST.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            use std::os::fd::AsRawFd;
            // SAFETY: setsockopt on our own open socket with a correctly sized struct.
            unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &linger as *const libc::linger as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            drop(s);
        }
        Fault::Close => {
            read_request(&mut s);
            drop(s);
        }
        Fault::Reply(reply) => {
            read_request(&mut s);
            let _ = s.write_all(reply);
        }
        Fault::Huge(bytes) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {bytes}\r\n\r\n"
            );
            serve(&Fault::Flood(head.into_bytes(), *bytes), s);
        }
        Fault::Flood(prefix, bytes) => {
            read_request(&mut s);
            if s.write_all(prefix).is_err() {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = *bytes;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                if s.write_all(&chunk[..n]).is_err() {
                    return;
                }
                left -= n as u64;
            }
        }
    }
}

impl FaultServer {
    pub fn start(fault: Fault) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a fault server");
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (keep, count) = (open.clone(), accepted.clone());
        // Watching a connection needs a second handle to it, which would keep the socket open
        // after the peer's own close: only the faults that keep connections open are watched.
        let watch = matches!(
            fault,
            Fault::Silent | Fault::Trickle(_) | Fault::Huge(_) | Fault::Flood(..)
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                if watch {
                    if let Ok(copy) = stream.try_clone() {
                        keep.lock().unwrap().push(copy);
                    }
                }
                let fault = fault.clone();
                std::thread::spawn(move || serve(&fault, stream));
            }
        });
        FaultServer {
            port,
            accepted,
            open,
        }
    }

    /// How many connections were accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// True once every accepted connection has been closed by the client (EOF or reset),
    /// waiting up to `within`.
    pub fn all_closed(&self, within: Duration) -> bool {
        let until = Instant::now() + within;
        let streams = self.open.lock().unwrap();
        streams.iter().all(|s| {
            let mut s = s;
            let mut buf = [0u8; 4096];
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                s.set_read_timeout(Some(left)).unwrap();
                match s.read(&mut buf) {
                    Ok(0) => return true,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return true,
                    Err(_) => return false,
                }
            }
        })
    }
}

/// A TLS peer serving one certificate on a loopback port (`openssl s_server -www`: it answers
/// any HTTP GET with a status page), for the certificate-failure tests.
pub struct TlsServer {
    pub port: u16,
    child: std::process::Child,
}

impl TlsServer {
    pub fn start(cert: &crate::certs::ServerCert) -> TlsServer {
        let port = crate::util::free_port().unwrap();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert.cert)
            .arg("-key")
            .arg(&cert.key)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server (apt-get install openssl)");
        let server = TlsServer { port, child };
        crate::util::wait_until("openssl s_server", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .unwrap();
        server
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
