//! The MQTT broker: rmqtt, with mqreg's logins and permissions plugged in.
//!
//! - [`live`] keeps the last good state and follows the file;
//! - [`auth`] decides logins and records registrations (through [`recorder`],
//!   which writes them in batches);
//! - [`hash_pool`] runs argon2 on threads that yield to message traffic;
//! - [`acl`] turns roles into a session's concrete topic grants;
//! - [`hooks`] answers rmqtt's questions from those;
//! - [`server`] starts, watches and stops it all.

pub mod acl;
pub mod auth;
pub mod hash_pool;
pub mod hooks;
pub mod live;
pub mod recorder;
pub mod server;
