//! custos-pg: PostgreSQL connection settings for custos checks, resolved the way libpq resolves
//! them, because the Rust `postgres` crate reads none of libpq's files:
//!
//! - [`dsn`]: `--dsn` as a keyword/value string or a `postgresql://` URI;
//! - [`pgpass`]: `~/.pgpass` / `PGPASSFILE`, with libpq's permission rule;
//! - [`service`]: `pg_service.conf` sections (`PGSERVICE`, `PGSERVICEFILE`, `PGSYSCONFDIR`);
//! - [`tls`]: libpq's sslmode and root certificate rules on rustls;
//! - [`stream`]: the socket, opened by custos and watched (a size cap on what the server
//!   sends, libpq's checks of its first bytes);
//! - [`settings`]: the precedence (options and DSN > service > `PG*` environment > defaults),
//!   Unix sockets by default (`/var/run/postgresql`, as the OS user), `application_name`
//!   `custos/<check>`.
//!
//! The password is never printed: it is a [`plugin_core::Secret`].

#![deny(missing_docs)]

pub mod connect;
pub mod dsn;
pub mod pgpass;
pub mod service;
pub mod settings;
pub mod stream;
pub mod tls;

pub use connect::{connect, Client, ConnArgs, RowExt};
pub use settings::{resolve, Defaults, Env, Settings, SslMode};
pub use tokio_postgres::Row;
