//! Unit tests of the CNI protocol layer, by area. Golden JSON files are in `golden/`.

mod args;
mod conf;
mod env;
mod requests;
mod results;
mod runtime;
