//! The MQTT broker: a core of our own on ntex-mqtt's protocol layer, with
//! mqreg's logins and permissions.
//!
//! - [`core`] routes messages: sessions, subscriptions, queues, retained
//!   messages, wills; it knows nothing of sockets or of the registry;
//! - [`mqtt`] is the glue between ntex-mqtt's packets and the core;
//! - [`persist`] keeps retained messages and persistent sessions on disk for
//!   the core (one narrow interface: numbered changes, and when each is
//!   durable);
//! - [`policy`] is the one door to the registry: logins, with their log and
//!   audit lines;
//! - [`enrol`] takes registrations over HTTPS into the same requests;
//! - [`auth`] decides logins and records registrations (through [`recorder`],
//!   which writes them in batches);
//! - [`repeats`] turns a refusal repeated in a loop into one log line;
//! - [`flood`] shuts out addresses that keep failing to log in;
//! - [`certificates`] says which client certificates are trusted, and whom
//!   a presented one names;
//! - [`hash_pool`] runs argon2 on threads that yield to message traffic;
//! - [`acl`] turns roles into a session's concrete topic grants;
//! - [`live`] keeps the last good state and follows the file;
//! - [`control`] lets the control plane ask the network thread (clients,
//!   kicks, figures) without sharing its data;
//! - [`observe`] carries events and refused logins to the control plane,
//!   and [`metrics`] the figures;
//! - [`server`] starts, watches and stops it all.

pub mod acl;
pub mod auth;
pub mod certificates;
pub mod control;
pub mod core;
pub mod enrol;
pub mod flood;
pub mod hash_pool;
pub mod live;
pub mod metrics;
pub mod mqtt;
pub mod observe;
pub mod persist;
pub mod policy;
pub mod recorder;
pub mod repeats;
pub mod server;
