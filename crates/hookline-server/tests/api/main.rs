//! API tests through real HTTP: a server on port 0 with its own store in a temporary directory.

mod admin_conversations;
mod admin_deliveries;
mod admin_events;
mod admin_stream;
mod apps;
mod bad_input;
mod handshake;
mod headers;
mod health;
mod helpers;
mod ingest;
mod inspector;
mod openapi;
mod postgres;
mod replies;
mod sinks;
mod slow_clients;
mod store_failures;
mod watchdog;
