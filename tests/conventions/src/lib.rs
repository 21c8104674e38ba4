//! No code: the conventions live in this crate's tests (tests/conventions.rs).
