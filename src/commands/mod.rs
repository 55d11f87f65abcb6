//! Subcommand implementations that touch files and standard streams.
//!
//! Owns the I/O edges of the command-line tools; each command composes the pure pipeline stages and
//! returns typed errors for `main` to print. Nothing here decides what a message means.

pub mod decode;
