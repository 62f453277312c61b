//! The core's session rules, driven directly with a recording outlet: no
//! sockets, no protocol layer.

use std::cell::{Cell, RefCell};
use std::num::NonZeroU16;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use ntex_bytes::Bytes;

use super::message::{Delivery, Message};
use super::*;
use crate::broker::live::LiveState;
use crate::broker::persist::{Loaded, Store as MessageStore};
use crate::state::store::Store;
use crate::state::{Role, User};

/// What a connection was sent, and a switch for its readiness.
#[derive(Default)]
struct Recorder {
    sent: RefCell<Vec<Delivery>>,
    released: RefCell<Vec<NonZeroU16>>,
    completed: RefCell<Vec<NonZeroU16>>,
    held: Cell<u64>,
    pump_later: Cell<usize>,
    ready: Cell<bool>,
    closed: Cell<Option<u8>>,
}

impl Outlet for Recorder {
    fn is_ready(&self) -> bool {
        self.ready.get()
    }
    fn send(&self, delivery: &Delivery, _now: Instant) -> Result<(), SendError> {
        self.sent.borrow_mut().push(delivery.clone());
        Ok(())
    }
    fn hold_until(&self, durable: u64) {
        self.held.set(self.held.get().max(durable));
    }
    fn send_release(&self, packet_id: NonZeroU16) -> Result<(), SendError> {
        self.released.borrow_mut().push(packet_id);
        Ok(())
    }
    fn send_complete(&self, packet_id: NonZeroU16) -> Result<(), SendError> {
        self.completed.borrow_mut().push(packet_id);
        Ok(())
    }
    fn wake_when_ready(&self) {}
    fn pump_later(&self) {
        self.pump_later.set(self.pump_later.get() + 1);
    }
    fn close(&self, reason: u8) {
        self.closed.set(Some(reason));
    }
}

impl Recorder {
    fn new() -> Rc<Self> {
        let recorder = Rc::new(Self::default());
        recorder.ready.set(true);
        recorder
    }
    fn payloads(&self) -> Vec<String> {
        self.sent
            .borrow()
            .iter()
            .map(|d| String::from_utf8_lossy(&d.message.payload).into_owned())
            .collect()
    }
}

/// A broker whose users `alice` and `bob` may read and write everything.
fn broker(limits: Limits) -> (tempfile::TempDir, Broker) {
    let dir = tempfile::tempdir().unwrap();
    let live = live_state(dir.path());
    (dir, Broker::new(live, limits, None))
}

/// The same with a message store in `dir`, and what the store held.
fn stored_broker(dir: &std::path::Path) -> (Broker, Arc<MessageStore>, Loaded) {
    let (store, loaded) = MessageStore::open(&dir.join("state.messages.redb")).unwrap();
    let broker = Broker::new(live_state(dir), Limits::default(), Some(store.clone()));
    (broker, store, loaded)
}

fn live_state(dir: &std::path::Path) -> Arc<LiveState> {
    let store = Store::new(dir.join("state.toml"));
    store
        .update(|state| {
            let mut role = Role::default();
            role.allow(&"readwrite:#".parse().unwrap());
            state.roles.insert("all".into(), role);
            let hash = crate::password::hash(
                "unused",
                crate::password::HashCost {
                    memory_kib: 64,
                    iterations: 1,
                    parallelism: 1,
                },
            );
            for name in ["alice", "bob"] {
                state.users.insert(
                    name.into(),
                    User::new(hash.clone(), vec!["all".into()], chrono::Utc::now()),
                );
            }
            Ok(())
        })
        .unwrap();
    Arc::new(LiveState::open(store).unwrap())
}

fn connect(
    broker: &mut Broker,
    client_id: &str,
    username: &str,
    clean_start: bool,
    outlet: &Rc<Recorder>,
) -> ConnectOutcome {
    broker
        .connect(ConnectRequest {
            address: None,
            protocol: "5",
            sent_client_id: Rc::from(""),
            certificate: None,
            client_id: client_id.into(),
            username: username.into(),
            clean_start,
            session_expiry: if clean_start { 0 } else { u32::MAX },
            receive_max: 100,
            will: None,
            outlet: outlet.clone(),
        })
        .0
}

fn accepted(outcome: ConnectOutcome) -> (u64, bool) {
    match outcome {
        ConnectOutcome::Accepted {
            serial,
            session_present,
        } => (serial, session_present),
        other => panic!("refused: {other:?}"),
    }
}

fn message(topic: &str, payload: &str, qos: u8, publisher: &str) -> Message {
    Message {
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos,
        retain: false,
        properties: None,
        expires_at: None,
        publisher: Some(publisher.into()),
    }
}

fn options(qos: u8) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        ..SubscriptionOptions::default()
    }
}

#[test]
fn session_present_follows_clean_start_and_takeover_closes_the_old_connection() {
    let (_dir, mut broker) = broker(Limits::default());
    let first = Recorder::new();
    let (serial, present) = accepted(connect(&mut broker, "c", "alice", false, &first));
    assert!(!present);
    let second = Recorder::new();
    let (_, present) = accepted(connect(&mut broker, "c", "alice", false, &second));
    assert!(present, "the same user resumes its session");
    assert_eq!(first.closed.get(), Some(reason::SESSION_TAKEN_OVER));
    assert!(
        broker.disconnected("c", serial).is_none(),
        "the old connection's end changes nothing"
    );
    let third = Recorder::new();
    let (_, present) = accepted(connect(&mut broker, "c", "alice", true, &third));
    assert!(!present, "clean start discards it");
}

#[test]
fn another_users_live_client_id_is_refused_and_its_holder_kept() {
    let (_dir, mut broker) = broker(Limits::default());
    let holder = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "c", "alice", false, &holder));
    let intruder = Recorder::new();
    assert_eq!(
        connect(&mut broker, "c", "bob", false, &intruder),
        ConnectOutcome::ClientIdInUse
    );
    assert_eq!(holder.closed.get(), None);
    // Once the holder is offline, bob gets a fresh session, not alice's.
    broker.disconnected("c", serial);
    let (_, present) = accepted(connect(&mut broker, "c", "bob", false, &intruder));
    assert!(!present);
}

#[test]
fn unacknowledged_deliveries_go_again_with_dup_and_their_ids() {
    let (_dir, mut broker) = broker(Limits::default());
    let sub = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "s", "bob", false, &sub));
    broker.subscribe("s", "t/#", options(1)).unwrap();
    broker.publish(message("t/1", "one", 1, "p"), None).unwrap();
    broker.publish(message("t/2", "two", 1, "p"), None).unwrap();
    let ids: Vec<_> = sub.sent.borrow().iter().map(|d| d.packet_id).collect();
    broker.acknowledged("s", serial, ids[0].unwrap());
    broker.disconnected("s", serial);
    let again = Recorder::new();
    let (_, present) = accepted(connect(&mut broker, "s", "bob", false, &again));
    assert!(present);
    broker.pump("s");
    let resent = again.sent.borrow();
    assert_eq!(resent.len(), 1, "only the unacknowledged one");
    assert_eq!(resent[0].packet_id, ids[1]);
    assert!(resent[0].dup);
}

#[test]
fn a_received_qos_2_delivery_is_owed_its_pubrel_after_a_reconnect() {
    // MQTT-4.4.0-1 (5) / MQTT-4.4.0-1 (3.1.1): on a resumed session the
    // server re-sends unacknowledged PUBLISHes and PUBRELs; a message whose
    // PUBREC came is never sent again as a PUBLISH (MQTT-4.3.3-3).
    let (_dir, mut broker) = broker(Limits::default());
    let sub = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "s", "bob", false, &sub));
    broker.subscribe("s", "t/#", options(2)).unwrap();
    broker.publish(message("t/1", "one", 2, "p"), None).unwrap();
    broker.publish(message("t/2", "two", 2, "p"), None).unwrap();
    let ids: Vec<_> = sub
        .sent
        .borrow()
        .iter()
        .map(|d| d.packet_id.unwrap())
        .collect();
    broker.received("s", serial, ids[0]);
    broker.disconnected("s", serial);
    let again = Recorder::new();
    accepted(connect(&mut broker, "s", "bob", false, &again));
    broker.pump("s");
    assert_eq!(
        *again.released.borrow(),
        [ids[0]],
        "PUBREL for the received one"
    );
    let resent = again.sent.borrow();
    assert_eq!(resent.len(), 1, "PUBLISH again only for the other");
    assert_eq!(resent[0].packet_id, Some(ids[1]));
    assert!(resent[0].dup);
}

/// Waits until everything written to `store` is durable, then closes it.
fn settle(store: &MessageStore) {
    store.close(std::time::Duration::from_secs(10));
}

#[test]
fn persistent_sessions_and_retained_messages_come_back_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut broker, store, loaded) = stored_broker(dir.path());
        broker.restore(loaded);
        let sub = Recorder::new();
        let (serial, _) = accepted(connect(&mut broker, "s", "bob", false, &sub));
        broker.subscribe("s", "t/#", options(2)).unwrap();
        assert!(
            broker.take_durable().is_some(),
            "the SUBACK waits for the store"
        );
        broker.disconnected("s", serial);
        for (n, qos) in [(1, 1), (2, 2), (3, 0), (4, 1)] {
            broker
                .publish(message("t/x", &n.to_string(), qos, "p"), None)
                .unwrap();
        }
        assert!(
            broker.take_durable().is_some(),
            "the PUBACK waits for the store"
        );
        let mut retained = message("r", "kept", 1, "p");
        retained.retain = true;
        broker.publish(retained, None).unwrap();
        settle(&store);
    }
    {
        let (mut broker, store, loaded) = stored_broker(dir.path());
        assert!(
            broker.restore(loaded).is_empty(),
            "3.1.1 sessions never expire"
        );
        let sub = Recorder::new();
        let (serial, present) = accepted(connect(&mut broker, "s", "bob", false, &sub));
        assert!(present, "the session outlived the restart");
        broker.pump("s");
        assert_eq!(
            sub.payloads(),
            ["1", "2", "4"],
            "QoS 0 is not kept for offline sessions"
        );
        // A QoS 2 delivery's id is stored before its PUBLISH leaves.
        assert!(sub.held.get() > 0);
        let sent: Vec<_> = sub.sent.borrow().clone();
        broker.acknowledged("s", serial, sent[0].packet_id.unwrap());
        broker.received("s", serial, sent[1].packet_id.unwrap());
        broker.subscribe("s", "r", options(1)).unwrap();
        broker.pump("s");
        assert_eq!(sub.payloads(), ["1", "2", "4", "kept"], "retained kept");
        settle(&store);
    }
    let (mut broker, _store, loaded) = stored_broker(dir.path());
    broker.restore(loaded);
    let sub = Recorder::new();
    accepted(connect(&mut broker, "s", "bob", false, &sub));
    broker.pump("s");
    // The acknowledged one is gone; the received QoS 2 one is owed its
    // PUBREL with its id; the other goes again. (Retained messages sent
    // because of a SUBSCRIBE are not owed across a restart: they are still
    // retained, for the next SUBSCRIBE.)
    assert_eq!(sub.payloads(), ["4"]);
    assert_eq!(sub.released.borrow().len(), 1);
}

/// After a restart, a session's new deliveries take packet ids after the
/// last one it was sent, not from 1 again: a client may still hold an id
/// from before (see `Broker::restore`).
#[test]
fn packet_ids_go_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let last_before = {
        let (mut broker, store, loaded) = stored_broker(dir.path());
        broker.restore(loaded);
        let sub = Recorder::new();
        accepted(connect(&mut broker, "s", "bob", false, &sub));
        broker.subscribe("s", "t", options(2)).unwrap();
        for n in 0..5 {
            broker
                .publish(message("t", &n.to_string(), 2, "p"), None)
                .unwrap();
        }
        broker.pump("s");
        let last = sub.sent.borrow().last().unwrap().packet_id.unwrap();
        settle(&store);
        last
    };
    let (mut broker, _store, loaded) = stored_broker(dir.path());
    broker.restore(loaded);
    let sub = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "s", "bob", false, &sub));
    broker.pump("s");
    let resent: Vec<u16> = sub
        .sent
        .borrow()
        .iter()
        .map(|d| d.packet_id.unwrap().get())
        .collect();
    assert_eq!(resent, [1, 2, 3, 4, 5], "owed deliveries keep their ids");
    assert!(sub.sent.borrow().iter().all(|d| d.dup));
    // Every exchange completes, so any id would be free again.
    for id in resent {
        let id = NonZeroU16::new(id).unwrap();
        broker.received("s", serial, id);
        broker.acknowledged("s", serial, id);
    }
    broker.publish(message("t", "new", 2, "p"), None).unwrap();
    broker.pump("s");
    let sent = sub.sent.borrow();
    assert_eq!(
        sent[5].packet_id.unwrap().get(),
        last_before.get() + 1,
        "a new delivery takes the next id"
    );
}

#[test]
fn a_clean_session_leaves_nothing_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut broker, store, loaded) = stored_broker(dir.path());
        broker.restore(loaded);
        let sub = Recorder::new();
        let (serial, _) = accepted(connect(&mut broker, "s", "bob", false, &sub));
        broker.subscribe("s", "t", options(1)).unwrap();
        broker.publish(message("t", "one", 1, "p"), None).unwrap();
        broker.disconnected("s", serial);
        // The same client id with a clean session discards it.
        let (serial, present) = accepted(connect(&mut broker, "s", "bob", true, &sub));
        assert!(!present);
        broker.disconnected("s", serial);
        settle(&store);
    }
    let (_broker, _store, loaded) = stored_broker(dir.path());
    assert!(loaded.sessions.is_empty(), "{loaded:?}");
}

#[test]
fn qos_2_acknowledgements_in_any_order_free_the_window() {
    // PUBCOMP of a later delivery before the PUBREC of an earlier one is
    // allowed (MQTT-4.6.0-2 orders PUBACKs and PUBRECs only among
    // themselves); the window counts until PUBCOMP (MQTT-4.9.0-2 in 5).
    let (_dir, mut broker) = broker(Limits {
        max_inflight: 2,
        ..Limits::default()
    });
    let sub = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "s", "bob", true, &sub));
    broker.subscribe("s", "t", options(2)).unwrap();
    for n in 0..4 {
        broker
            .publish(message("t", &n.to_string(), 2, "p"), None)
            .unwrap();
    }
    assert_eq!(sub.payloads(), ["0", "1"]);
    let second = sub.sent.borrow()[1].packet_id.unwrap();
    broker.received("s", serial, second);
    assert_eq!(
        sub.payloads(),
        ["0", "1"],
        "PUBREC does not free the window"
    );
    broker.acknowledged("s", serial, second);
    assert_eq!(sub.payloads(), ["0", "1", "2"], "PUBCOMP does");
}

#[test]
fn a_qos_2_publish_re_sent_before_its_pubrel_is_routed_once() {
    // MQTT-4.3.3-2 (3.1.1) / MQTT-4.3.3-9 (5): until PUBREL, a PUBLISH with
    // the same packet id is acknowledged but not delivered onward again;
    // after it, the id names a new message. The ids are the session's, so
    // a reconnect keeps them.
    let (_dir, mut broker) = broker(Limits::default());
    let publisher = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "p", "alice", false, &publisher));
    let id = NonZeroU16::new(7).unwrap();
    assert!(broker.exactly_once_arrived("p", id));
    broker.disconnected("p", serial);
    accepted(connect(&mut broker, "p", "alice", false, &publisher));
    assert!(
        !broker.exactly_once_arrived("p", id),
        "the re-send after a reconnect"
    );
    broker.released("p", id);
    assert!(broker.exactly_once_arrived("p", id), "a new message");
}

#[test]
fn pubcomp_leaves_once_the_release_is_stored() {
    // After PUBCOMP the client may reuse the id for a new message; were the
    // release not on disk by then, a crash would bring the id back as
    // awaiting PUBREL and that new message would be taken for a re-send.
    let dir = tempfile::tempdir().unwrap();
    let (mut broker, store, loaded) = stored_broker(dir.path());
    broker.restore(loaded);
    let publisher = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "p", "alice", false, &publisher));
    let id = NonZeroU16::new(7).unwrap();
    assert!(broker.exactly_once_arrived("p", id));
    let awaited = broker
        .take_durable()
        .expect("the id is stored before PUBREC");
    broker.complete("p", serial, id);
    assert!(
        publisher.held.get() > awaited,
        "PUBCOMP waits for the release's own change"
    );
    assert_eq!(*publisher.completed.borrow(), [id]);
    assert!(broker.exactly_once_arrived("p", id), "a new message");
    settle(&store);
}

#[test]
fn the_receive_maximum_bounds_what_is_in_flight() {
    let (_dir, mut broker) = broker(Limits {
        max_inflight: 2,
        ..Limits::default()
    });
    let sub = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "s", "bob", true, &sub));
    broker.subscribe("s", "t", options(1)).unwrap();
    for n in 0..5 {
        broker
            .publish(message("t", &n.to_string(), 1, "p"), None)
            .unwrap();
    }
    assert_eq!(sub.payloads(), ["0", "1"]);
    let first = sub.sent.borrow()[0].packet_id.unwrap();
    broker.acknowledged("s", serial, first);
    assert_eq!(sub.payloads(), ["0", "1", "2"], "one out, one in");
}

#[test]
fn a_full_queue_holds_the_publisher_then_a_stalled_reader_sheds() {
    let (_dir, mut broker) = broker(Limits {
        max_queued: 3,
        ..Limits::default()
    });
    let sub = Recorder::new();
    sub.ready.set(false); // a client that does not read
    let (serial, _) = accepted(connect(&mut broker, "s", "bob", true, &sub));
    broker.subscribe("s", "t", options(1)).unwrap();
    for n in 0..2 {
        assert!(broker
            .publish(message("t", &n.to_string(), 1, "p"), None)
            .unwrap()
            .full
            .is_empty());
    }
    let backlog = broker.publish(message("t", "2", 1, "p"), None).unwrap();
    assert_eq!(
        backlog.full.len(),
        1,
        "the third fills the queue: wait for room"
    );
    assert!(broker.is_full("s"));
    // The publisher gave up waiting: the oldest go, and nobody waits again.
    broker.shed("s");
    assert_eq!(broker.counters().dropped, 1);
    let backlog = broker.publish(message("t", "3", 1, "p"), None).unwrap();
    assert!(backlog.full.is_empty(), "a stalled reader holds nobody up");
    assert_eq!(broker.counters().dropped, 2);
    // It reads again: the newest messages, in order.
    sub.ready.set(true);
    broker.pump("s");
    assert_eq!(sub.payloads(), ["2", "3"]);
    let id = sub.sent.borrow()[0].packet_id.unwrap();
    broker.acknowledged("s", serial, id);
    sub.ready.set(false);
    for n in 4..7 {
        broker
            .publish(message("t", &n.to_string(), 1, "p"), None)
            .unwrap();
    }
    let backlog = broker.publish(message("t", "7", 1, "p"), None).unwrap();
    assert_eq!(
        backlog.full.len(),
        1,
        "reading again, it is waited for again"
    );
}

#[test]
fn offline_sessions_keep_qos_1_bounded_and_no_qos_0() {
    let (_dir, mut broker) = broker(Limits {
        max_queued: 2,
        ..Limits::default()
    });
    let sub = Recorder::new();
    let (serial, _) = accepted(connect(&mut broker, "s", "bob", false, &sub));
    broker.subscribe("s", "t", options(1)).unwrap();
    broker.disconnected("s", serial);
    broker.publish(message("t", "zero", 0, "p"), None).unwrap();
    for n in 0..3 {
        broker
            .publish(message("t", &n.to_string(), 1, "p"), None)
            .unwrap();
    }
    assert_eq!(broker.counters().dropped, 1);
    let back = Recorder::new();
    accepted(connect(&mut broker, "s", "bob", false, &back));
    broker.pump("s");
    assert_eq!(
        back.payloads(),
        ["1", "2"],
        "the oldest dropped, QoS 0 not kept"
    );
}

#[test]
fn shared_subscriptions_alternate_and_no_local_skips_the_publisher() {
    let (_dir, mut broker) = broker(Limits::default());
    let a = Recorder::new();
    let b = Recorder::new();
    accepted(connect(&mut broker, "a", "alice", true, &a));
    accepted(connect(&mut broker, "b", "bob", true, &b));
    broker
        .subscribe("a", "$share/g/jobs/+", options(0))
        .unwrap();
    broker
        .subscribe("b", "$share/g/jobs/+", options(0))
        .unwrap();
    for n in 0..4 {
        broker
            .publish(message("jobs/x", &n.to_string(), 0, "p"), None)
            .unwrap();
    }
    assert_eq!(a.payloads().len(), 2);
    assert_eq!(b.payloads().len(), 2);
    let mut all = [a.payloads(), b.payloads()].concat();
    all.sort();
    assert_eq!(all, ["0", "1", "2", "3"]);

    broker
        .subscribe(
            "a",
            "echo",
            SubscriptionOptions {
                no_local: true,
                ..options(0)
            },
        )
        .unwrap();
    broker
        .publish(message("echo", "mine", 0, "a"), None)
        .unwrap();
    broker
        .publish(message("echo", "theirs", 0, "b"), None)
        .unwrap();
    assert_eq!(a.payloads().last().map(String::as_str), Some("theirs"));
    assert!(!a.payloads().contains(&"mine".to_owned()));
}

#[test]
fn overlapping_subscriptions_deliver_once_at_the_highest_qos_with_every_id() {
    let (_dir, mut broker) = broker(Limits::default());
    let sub = Recorder::new();
    accepted(connect(&mut broker, "s", "bob", true, &sub));
    for (filter, qos, id) in [("a/#", 0, 1), ("a/+", 1, 2)] {
        broker
            .subscribe(
                "s",
                filter,
                SubscriptionOptions {
                    subscription_id: Some(id),
                    ..options(qos)
                },
            )
            .unwrap();
    }
    broker.publish(message("a/b", "x", 1, "p"), None).unwrap();
    let sent = sub.sent.borrow();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].qos, 1);
    let mut ids = sent[0].subscription_ids.clone();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
}

#[test]
fn a_disconnect_ends_a_clean_session_at_once_and_drops_the_will() {
    let (_dir, mut broker) = broker(Limits::default());
    let outlet = Recorder::new();
    let (serial, _) = accepted(
        broker
            .connect(ConnectRequest {
                address: None,
                protocol: "5",
                sent_client_id: Rc::from(""),
                certificate: None,
                client_id: "c".into(),
                username: "alice".into(),
                clean_start: true,
                session_expiry: 0,
                receive_max: 10,
                will: Some(Will {
                    message: message("w", "gone", 0, "c"),
                    delay: std::time::Duration::ZERO,
                }),
                outlet: outlet.clone(),
            })
            .0,
    );
    let closed = broker
        .disconnect_requested("c", serial, false, None)
        .unwrap();
    assert!(closed.will.is_none());
    assert_eq!(broker.session_count(), 0);
    assert!(
        broker.disconnected("c", serial).is_none(),
        "the socket's close is a no-op"
    );
}

#[test]
fn shared_subscriptions_split_into_group_and_filter() {
    assert_eq!(parse_shared("a/b"), Some((None, "a/b")));
    assert_eq!(parse_shared("$share/g/a/#"), Some((Some("g"), "a/#")));
    assert_eq!(parse_shared("$share/g"), None);
    assert_eq!(parse_shared("$share//a"), None);
    assert_eq!(parse_shared("$share/g+/a"), None);
    assert_eq!(parse_shared("$share/g/"), None);
    assert_eq!(parse_shared("$shared/g/a"), Some((None, "$shared/g/a")));
}
