//! The server's integration tests in one binary (one link instead of six):
//! the JSON API, the pages, the HTTP surface, the browser walk, the command
//! line and the processes on PostgreSQL, a module each, over a shared
//! test server (`common`).

#[macro_use]
mod common;

mod api;
mod browser;
mod cli;
mod deliverability;
mod http;
mod lists;
mod pages;
mod scale_out;
