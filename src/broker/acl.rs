//! What a connected client may do: its roles' permissions with `{username}` and
//! `{client_id}` filled in, computed once per state version rather than per packet.

use std::rc::Rc;

use crate::state::quotas::Quotas;
use crate::state::State;
use crate::topic;

/// The concrete filters a client may publish to and subscribe within.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// The state generation these were computed from.
    pub generation: u64,
    read: Box<[Rc<str>]>,
    write: Box<[Rc<str>]>,
    /// The user's quotas (the defaults for an unknown user).
    pub quotas: Quotas,
}

impl Grants {
    /// The grants of `username` connected as `client_id`; none for an unknown user.
    pub fn compute(state: &State, generation: u64, username: &str, client_id: &str) -> Self {
        let Some(user) = state.users.get(username) else {
            return Grants {
                generation,
                quotas: state.quotas,
                ..Grants::default()
            };
        };
        let (mut read, mut write) = (Vec::<Rc<str>>::new(), Vec::<Rc<str>>::new());
        for permission in state.permissions_of(user) {
            // A client id that could change a filter's meaning gets nothing from it.
            let Some(filter) = topic::substitute(&permission.filter, username, client_id) else {
                continue;
            };
            let filter: Rc<str> = Rc::from(filter);
            if permission.access.can_read() && !read.contains(&filter) {
                read.push(filter.clone());
            }
            if permission.access.can_write() && !write.contains(&filter) {
                write.push(filter);
            }
        }
        // Boxed slices without a vector's spare room, and a filter granted
        // both ways stored once: every connected client keeps its grants (the
        // broker bench's memory per client).
        Grants {
            generation,
            read: read.into_boxed_slice(),
            write: write.into_boxed_slice(),
            quotas: state.quotas_of(username),
        }
    }

    pub fn may_publish(&self, topic_name: &str) -> bool {
        self.write
            .iter()
            .any(|filter| topic::matches(filter, topic_name))
    }

    pub fn may_subscribe(&self, filter: &str) -> bool {
        self.read
            .iter()
            .any(|granted| topic::covers(granted, filter))
    }

    /// Whether a message on `topic_name` may reach this client: a subscription
    /// was granted once, but a revoked permission must stop deliveries too.
    pub fn may_receive(&self, topic_name: &str) -> bool {
        self.read
            .iter()
            .any(|filter| topic::matches(filter, topic_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Role, User};

    fn state() -> State {
        let mut state = State::default();
        let mut device = Role::default();
        device.allow(&"write:devices/{username}/#".parse().unwrap());
        device.allow(&"read:commands/{client_id}".parse().unwrap());
        state.roles.insert("device".into(), device);
        let mut watcher = Role::default();
        watcher.allow(&"read:devices/+/temp".parse().unwrap());
        state.roles.insert("watcher".into(), watcher);
        state.users.insert(
            "sensor1".into(),
            User::new(
                String::new(),
                vec!["device".into(), "watcher".into()],
                chrono::Utc::now(),
            ),
        );
        state
    }

    #[test]
    fn a_user_is_confined_to_its_own_name() {
        let grants = Grants::compute(&state(), 1, "sensor1", "c1");
        assert!(grants.may_publish("devices/sensor1/temp"));
        assert!(grants.may_publish("devices/sensor1"));
        assert!(!grants.may_publish("devices/sensor2/temp"));
        assert!(
            !grants.may_publish("devices/+/temp"),
            "literal plus in a topic is no wildcard"
        );
        assert!(grants.may_subscribe("commands/c1"));
        assert!(!grants.may_subscribe("commands/c2"));
        assert!(!grants.may_subscribe("commands/#"));
        assert!(grants.may_subscribe("devices/+/temp"));
        assert!(grants.may_subscribe("devices/sensor9/temp"));
        assert!(!grants.may_subscribe("devices/#"));
        assert!(grants.may_receive("devices/x/temp"));
        assert!(!grants.may_receive("devices/x/humidity"));
    }

    #[test]
    fn unknown_users_and_users_without_roles_get_nothing() {
        let mut state = state();
        assert_eq!(
            Grants::compute(&state, 3, "ghost", "c"),
            Grants {
                generation: 3,
                ..Grants::default()
            }
        );
        state.users.get_mut("sensor1").unwrap().roles.clear();
        let grants = Grants::compute(&state, 4, "sensor1", "c1");
        assert!(!grants.may_publish("devices/sensor1/temp"));
        assert!(!grants.may_subscribe("#"));
    }

    #[test]
    fn a_hostile_client_id_gets_nothing_from_client_id_filters() {
        let grants = Grants::compute(&state(), 1, "sensor1", "#");
        assert!(!grants.may_subscribe("commands/#"));
        assert!(!grants.may_subscribe("commands/x"));
        assert!(
            grants.may_publish("devices/sensor1/x"),
            "other permissions still hold"
        );
    }
}
