//! The socket under the PostgreSQL protocol, opened by custos and watched, because
//! tokio-postgres trusts the server: it reserves whatever length a message header claims and
//! waits for it, so a peer that is not PostgreSQL (or a hostile one) could make a check buffer
//! hundreds of megabytes (measured: 265 MiB of RSS in 5 s from a peer streaming junk), and its
//! errors for a peer that talks another protocol say only "bytes remaining on stream".
//!
//! [`Watched`] counts what the server sends and stops at [`MAX_BYTES`] (the checks' replies
//! are kilobytes), and checks the first bytes the way libpq does: the answer to the TLS request
//! is `S`, `N` or `E`; the first message is an authentication request (`R`), an error (`E`) or
//! a protocol version negotiation (`v`). Past those the bytes are TLS or protocol messages and
//! are only counted.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a server may send over one connection.
pub const MAX_BYTES: u64 = 64 << 20;

/// A TCP or Unix-domain connection to the server.
pub enum Socket {
    /// Over TCP.
    Tcp(tokio::net::TcpStream),
    /// Over a Unix-domain socket.
    Unix(tokio::net::UnixStream),
}

impl Socket {
    /// Connects to `host:port` (each address the name resolves to, in turn, as libpq does) or
    /// to the socket `<dir>/.s.PGSQL.<port>` when `host` is a directory.
    pub async fn open(host: &str, port: u16) -> io::Result<Socket> {
        if host.starts_with('/') {
            let path = format!("{}/.s.PGSQL.{port}", host.trim_end_matches('/'));
            return Ok(Socket::Unix(tokio::net::UnixStream::connect(path).await?));
        }
        let mut last = None;
        for addr in tokio::net::lookup_host((host, port)).await? {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(s) => {
                    // As tokio-postgres does: no Nagle delay on the small protocol messages.
                    s.set_nodelay(true)?;
                    return Ok(Socket::Tcp(s));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other(format!("{host} has no address"))))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// The one-byte answer to SSLRequest.
    TlsAnswer,
    /// The type of the server's first message.
    FirstMessage,
    /// Anything (TLS records, or messages after the first).
    Anything,
}

/// A [`Socket`] whose incoming bytes are counted and whose first bytes are checked.
pub struct Watched {
    socket: Socket,
    received: u64,
    expect: Expect,
}

impl Watched {
    /// `tls`: the client starts with SSLRequest (sslmode other than disable, over TCP).
    pub fn new(socket: Socket, tls: bool) -> Watched {
        Watched {
            socket,
            received: 0,
            expect: if tls {
                Expect::TlsAnswer
            } else {
                Expect::FirstMessage
            },
        }
    }

    /// Looks at newly received bytes; an error ends the connection with libpq's words.
    fn inspect(&mut self, new: &[u8]) -> io::Result<()> {
        self.received += new.len() as u64;
        if self.received > MAX_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the server sent more than {} MiB: not a PostgreSQL server's reply",
                    MAX_BYTES >> 20
                ),
            ));
        }
        for &b in new {
            self.expect = match (self.expect, b) {
                (Expect::Anything, _) => return Ok(()),
                (Expect::TlsAnswer, b'N') => Expect::FirstMessage,
                // `E`: a server too old for SSLRequest sends an error message.
                (Expect::TlsAnswer, b'S' | b'E') => Expect::Anything,
                (Expect::TlsAnswer, other) => {
                    return Err(invalid(format!(
                        "received invalid response to SSL negotiation: {}",
                        shown(other)
                    )))
                }
                (Expect::FirstMessage, b'R' | b'E' | b'v') => Expect::Anything,
                (Expect::FirstMessage, other) => {
                    return Err(invalid(format!(
                        "expected authentication request from server, but received {}",
                        shown(other)
                    )))
                }
            };
        }
        Ok(())
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A byte as libpq shows it (`%c`), escaped when it is not printable ASCII.
fn shown(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("\\x{b:02x}")
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = match &mut self.socket {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        };
        if let Poll::Ready(Ok(())) = polled {
            self.inspect(&buf.filled()[before..])?;
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.socket {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.socket {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.socket {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(tls: bool) -> Watched {
        // A socket is needed only to build one; inspect() never touches it.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        c.set_nonblocking(true).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        Watched::new(
            Socket::Tcp(tokio::net::TcpStream::from_std(c).unwrap()),
            tls,
        )
    }

    #[test]
    fn first_bytes_as_libpq_checks_them() {
        let mut w = watched(true);
        assert!(w.inspect(b"N").is_ok());
        assert!(w.inspect(b"R\0\0\0\x08\0\0\0\0").is_ok());
        assert!(w.inspect(b"anything at all").is_ok());
        let e = watched(true).inspect(b"HTTP/1.1 400").unwrap_err();
        assert_eq!(
            e.to_string(),
            "received invalid response to SSL negotiation: 'H'"
        );
        let e = watched(true).inspect(b"N\x1b[31m").unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected authentication request from server, but received \\x1b"
        );
        let e = watched(false).inspect(b"SSH-2.0").unwrap_err();
        assert!(e.to_string().ends_with("received 'S'"), "{e}");
        assert!(watched(true).inspect(b"S\x16\x03\x03").is_ok());
    }

    #[test]
    fn at_most_max_bytes() {
        let mut w = watched(false);
        let chunk = vec![0u8; 1 << 20];
        assert!(w.inspect(b"R").is_ok());
        for _ in 0..(MAX_BYTES >> 20) - 1 {
            assert!(w.inspect(&chunk).is_ok());
        }
        let e = w.inspect(&chunk).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the server sent more than 64 MiB"),
            "{e}"
        );
    }
}
