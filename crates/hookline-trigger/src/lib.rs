//! Synthetic deliveries: realistic webhook bodies for every event kind Meta sends, encoded exactly as Meta
//! encodes them, ready to sign and POST. `hookline trigger` sends one; `hookline demo` and `hookline load`
//! send many.
//!
//! Each [`Kind`] of the [`catalog`] is built from a one-event template copied from the shared fixtures.
//!
//! - [`catalog`] (`catalog.rs`): the entries and their aliases; [`find`] (`find.rs`) looks names up.
//! - [`TriggerError`] (`error.rs`).

mod catalog;
mod error;
mod find;

pub use catalog::{Kind, catalog};
pub use error::TriggerError;
pub use find::find;
