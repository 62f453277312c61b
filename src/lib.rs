//! mqreg: an MQTT broker for edge gateways whose devices register themselves.
//!
//! The library holds everything but the command line: the state store, the
//! validation rules, the topic logic, and (in `broker`) the MQTT glue. The binary
//! in `main.rs` parses arguments and calls into it.

pub mod audit;
pub mod backoff;
pub mod bridge;
pub mod broker;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod http;
pub mod logging;
pub mod names;
pub mod ops;
pub mod output;
pub mod password;
pub mod pki;
pub mod state;
pub mod tls;
pub mod topic;
