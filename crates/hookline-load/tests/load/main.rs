//! Integration tests of the load engine: against a tiny responder written here, and against a real
//! hookline server whose store is then counted.

mod hookline_runs;
mod responder;
mod responder_runs;
