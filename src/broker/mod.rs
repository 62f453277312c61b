//! The MQTT broker: rmqtt, with mqreg's logins and permissions plugged in.

pub mod acl;
pub mod auth;
pub mod live;
