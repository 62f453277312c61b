//! The MQTT broker: rmqtt, with mqreg's logins and permissions plugged in.
//!
//! - [`live`] keeps the last good state and follows the file;
//! - [`auth`] decides logins and records registrations (through [`recorder`],
//!   which writes them in batches);
//! - [`acl`] turns roles into a session's concrete topic grants;
//! - [`hooks`] answers rmqtt's questions from those;
//! - [`server`] starts, watches and stops it all.

pub mod acl;
pub mod auth;
pub mod hooks;
pub mod live;
pub mod recorder;
pub mod server;
