//! Why a run could not start or had to stop. Per-request failures are not errors of the run: they are
//! counted in the report ([`crate::Errors`]).

use std::net::SocketAddr;

use thiserror::Error;

/// A run that did not produce a report.
#[derive(Debug, Error)]
pub enum LoadError {
    /// TLS is left out on purpose: a handshake and per-record encryption would cost the generator more
    /// than a small receiver spends on a request, so the figures would measure the client.
    #[error(
        "{url}: https is not supported; the load generator speaks plain HTTP/1.1 only, so that TLS costs \
         do not end up in the receiver's figures (load the receiver's plain-HTTP listener, or the TLS \
         terminator's backend)"
    )]
    Https { url: String },

    #[error("{url}: not a URL of the form http://host[:port][/path]: {reason}")]
    InvalidUrl { url: String, reason: &'static str },

    #[error("{url}: cannot resolve the host: {source}")]
    Resolve {
        url: String,
        #[source]
        source: std::io::Error,
    },

    /// Nothing answered: raised only while no request of the run has had a response, so a receiver that
    /// is down fails the run at once instead of turning every request into an error.
    #[error("{url}: cannot connect to {addr}: {source} (is the receiver running?)")]
    Connect {
        url: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid load settings: {0}")]
    Config(&'static str),

    #[error("cannot start the load threads: {0}")]
    Start(#[source] std::io::Error),

    #[error("a load thread panicked")]
    Panicked,
}
