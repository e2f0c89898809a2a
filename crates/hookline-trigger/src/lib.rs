//! Synthetic deliveries: realistic webhook bodies for every event kind Meta sends, encoded exactly as Meta
//! encodes them, ready to sign and POST. `hookline trigger` sends one; `hookline demo` and `hookline load`
//! send many.
//!
//! Each [`Kind`] of the [`catalog`] is built from a one-event template copied from the shared fixtures.
//! [`build`] makes one delivery with fresh ids and the current time; a [`Template`] is encoded once and
//! rendered many times by patching fixed-width slots, for load. Pure: no async, no I/O.
//!
//! - [`catalog`] (`catalog.rs`): the entries and their aliases; [`find`] (`find.rs`) looks names up.
//! - [`Params`] (`params.rs`): ids, text, `--set` overrides (`set.rs`) and batch size.
//! - [`build`] / [`Built`] (`build.rs`): one-off deliveries.
//! - [`Template`] (`template.rs`): pre-encoded bodies and their rendering. Under it, `shape.rs` reads a
//!   template, `mark.rs` marks what changes per request, `slot.rs` writes it, `fresh.rs` makes ids in
//!   Meta's shapes, and `timefield.rs` knows which fields are times and in which unit.
//! - [`app_id_sets`] (`app.rs`): naming the receiver's own app instead of the templates'.
//! - [`TriggerError`] (`error.rs`).

mod app;
mod build;
mod catalog;
mod error;
mod find;
mod fresh;
mod mark;
mod params;
mod set;
mod shape;
mod slot;
mod template;
mod timefield;

pub use app::{TEMPLATE_APP_ID, app_id_sets};
pub use build::{Built, build};
pub use catalog::{Kind, catalog};
pub use error::TriggerError;
pub use find::find;
pub use params::{MAX_BATCH, MAX_USERS, Params};
pub use template::Template;
