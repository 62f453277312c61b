//! Framing under the MQTT decoder: it gets whole packets only, and the
//! packets ntex-mqtt 9.0 gets wrong are answered here. A plain TCP
//! connection frames in its own I/O task (`mqtt::socket`); a TLS one through
//! the I/O layer `WholePackets`, above the TLS layer.
//!
//! Whole packets: ntex-mqtt 9.0 decodes a PUBLISH whose payload has not fully
//! arrived as a "streaming" publish followed by payload chunks, and its
//! dispatcher can run a chunk before the PUBLISH it belongs to when the
//! connection is waiting for room (the connection is then closed with a
//! protocol error, or the PUBLISH is delivered after the one behind it).
//! Holding back the unfinished tail of the read buffer until its packet is
//! complete means no PUBLISH is ever split, so that path is never taken. A
//! packet that declares more than the maximum packet size is passed on as it
//! comes, so that the decoder refuses it (and nothing waits to buffer it).
//!
//! Topic Alias 0 in a v5 PUBLISH gets DISCONNECT 0x94 here (MQTT-3.3.2-8);
//! the decoder would call it malformed (0x81).
//!
//! CONNECT: a 3.1.1 CONNECT with an empty client id and Clean Session 0 gets
//! CONNACK 2 here (MQTT-3.1.3-8); the decoder would close it without one.
//!
//! PUBREL: a client that reconnects re-sends PUBREL for the QoS 2 messages
//! whose PUBCOMP it did not get (MQTT-4.4.0-1 in 3.1.1, MQTT-4.4.0-1 in 5).
//! The message was routed when its PUBLISH arrived, but the decoder only
//! knows the packet ids of this connection: a 3.1.1 connection would be
//! closed on any other (the client would loop forever), and a v5 one would
//! get PUBCOMP 0x92 (Packet Identifier not found) for an id its session still
//! holds. The framer takes such a PUBREL and tells the session, which
//! forgets the id ([`Ack::Released`]) and answers with PUBCOMP once that is
//! on disk: the PUBCOMP frees the id for a new message, and a release lost
//! in a crash would have the next message with that id taken for a re-send
//! and dropped. (Before the login, with no session yet, the framer answers.)
//!
//! Acknowledgements of the broker's own deliveries (PUBACK, PUBREC, PUBCOMP)
//! never reach the decoder: ntex-mqtt 9.0's sink expects every
//! acknowledgement, of any kind, in the order the PUBLISHes went out, and
//! closes the connection on the first that is not (QoS 2 deliveries
//! interleaved with others, or more than its window outstanding, broke it).
//! The specification orders PUBACKs among themselves and PUBRECs among
//! themselves (MQTT-4.6.0-2, -3), not PUBCOMPs against PUBRECs. Here each
//! goes to the session through the connection's [`AckRoute`], by packet id,
//! in any order; the session answers a PUBREC with PUBREL (MQTT-4.3.3-3 in
//! 3.1.1, MQTT-4.3.3-7 in 5) once that is stored, unless a v5 reason code of
//! 0x80 or more ended the exchange (MQTT-4.3.3-4 in 5).

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::io;
use std::num::NonZeroU16;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use ntex_bytes::BytesMut;
use ntex_io::{FilterBuf, FilterLayer};

use crate::broker::persist::Durability;

/// What the framer knows of its connection.
#[derive(Debug, Default)]
struct Seen {
    /// The CONNECT's protocol level (4: 3.1.1, 5: 5), once seen.
    protocol: Option<u8>,
    /// Packet ids of QoS 2 PUBLISHes on this connection not yet released.
    unreleased: HashSet<u16>,
    /// The CONNECT was refused here; the connection is closing.
    refused: bool,
}

/// The start of an MQTT 3.1 CONNECT's variable header: protocol name MQIsdp.
const MQTT_3_1: &[u8] = b"\x00\x06MQIsdp";

/// Addresses an MQTT 3.1 client was logged for; cleared when it grows past
/// this, so a scan cannot fill memory.
const MAX_LOGGED_3_1: usize = 10_000;

/// Logs an MQTT 3.1 client once per address: such a device never reaches
/// the registry, and without this line nobody would know why.
fn log_mqtt_3_1_once(peer: Option<std::net::IpAddr>) {
    static LOGGED: std::sync::Mutex<Option<HashSet<Option<std::net::IpAddr>>>> =
        std::sync::Mutex::new(None);
    let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    let logged = logged.get_or_insert_with(HashSet::new);
    if logged.len() >= MAX_LOGGED_3_1 {
        logged.clear();
    }
    if logged.insert(peer) {
        tracing::warn!(
            peer = %peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
            "an MQTT 3.1 client (protocol MQIsdp) was refused with CONNACK 1: mqreg speaks MQTT 3.1.1 and 5; set the client to 3.1.1 (mosquitto_pub -V mqttv311, Paho MQTTv311). Logged once per address"
        );
    }
}

/// An acknowledgement from the client, for its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// PUBACK, PUBCOMP, or a PUBREC that refused the message (v5): the
    /// delivery with this id is done.
    Done(NonZeroU16),
    /// PUBREC: the client has the QoS 2 message; PUBREL is owed.
    Received(NonZeroU16),
    /// PUBREL for a QoS 2 message the decoder does not track (all of them
    /// on v5): the session answers with PUBCOMP.
    Released(NonZeroU16),
}

/// Where a connection's acknowledgements go once it is logged in.
pub trait AckSink {
    fn acks(&self, acks: &[Ack]);
}

/// The connection's route to its session, bound by the CONNECT handler
/// (found with `Io::query::<Rc<AckRoute>>()`); acks before that are dropped,
/// since nothing was delivered yet.
#[derive(Default)]
pub struct AckRoute {
    sink: RefCell<Option<Rc<dyn AckSink>>>,
    /// Nothing more is written to the client until this store change is on
    /// disk (0: nothing held); see `persist`.
    gate: Cell<u64>,
    durability: RefCell<Option<Arc<Durability>>>,
    /// A task waits to resume the writes of a TLS connection.
    resume_scheduled: Cell<bool>,
    /// v5 QoS 2 PUBLISHes passed to the decoder as marked QoS 0 ones, in
    /// order, by packet id.
    exactly_once: RefCell<std::collections::VecDeque<NonZeroU16>>,
}

impl std::fmt::Debug for AckRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckRoute")
    }
}

impl AckRoute {
    pub fn bind(&self, sink: Rc<dyn AckSink>) {
        *self.sink.borrow_mut() = Some(sink);
    }

    /// Whether a session takes the acknowledgements (the client is logged in).
    pub fn is_bound(&self) -> bool {
        self.sink.borrow().is_some()
    }

    /// Where the store says how far it has written (once logged in, with
    /// persistence on).
    pub fn set_durability(&self, durability: Arc<Durability>) {
        *self.durability.borrow_mut() = Some(durability);
    }

    /// Holds what is written from now on until store change `number` is
    /// on disk: an acknowledgement never leaves before what it acknowledges
    /// is kept.
    pub fn hold_until(&self, number: u64) {
        if number > self.gate.get() {
            self.gate.set(number);
        }
    }

    /// Whether writes are held now.
    pub fn writes_held(&self) -> bool {
        let gate = self.gate.get();
        gate != 0
            && self
                .durability
                .borrow()
                .as_ref()
                .is_some_and(|durability| !durability.is_durable(gate))
    }

    /// Ready once writes may go on; else the task is woken when they may.
    pub fn poll_writes(&self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let gate = self.gate.get();
        if gate == 0 {
            return Poll::Ready(());
        }
        let ready = match self.durability.borrow().as_ref() {
            Some(durability) => durability.poll_durable(gate, cx),
            None => Poll::Ready(()),
        };
        if ready.is_ready() && self.gate.get() == gate {
            self.gate.set(0);
        }
        ready
    }

    /// The packet id of the next marked v5 QoS 2 PUBLISH (see
    /// `exactly_once_as_marked`); the PUBLISH service takes one per marked
    /// message, in the order they arrived.
    pub fn take_exactly_once(&self) -> Option<NonZeroU16> {
        self.exactly_once.borrow_mut().pop_front()
    }

    fn deliver(&self, acks: &[Ack]) {
        if acks.is_empty() {
            return;
        }
        let sink = self.sink.borrow().clone();
        if let Some(sink) = sink {
            sink.acks(acks);
        }
    }
}

/// One connection's framing, whoever moves its bytes: the I/O layer above
/// TLS (`WholePackets`) or a plain socket's own I/O task (`mqtt::socket`).
#[derive(Debug)]
pub struct Framer {
    /// Packets larger than this are not held back.
    max_packet_size: usize,
    seen: RefCell<Seen>,
    route: Rc<AckRoute>,
    /// The client's address, for the one log line about an MQTT 3.1 client.
    peer: Option<std::net::IpAddr>,
}

/// A change to the bytes passed on: `range` (of the whole packets) is
/// replaced by `with`, often nothing (a packet answered here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub with: Vec<u8>,
}

/// The whole packets at the front of newly arrived bytes.
#[derive(Debug, Default)]
pub struct Whole {
    /// How many leading bytes are whole packets (or are passed on as they
    /// come, see the module docs); the rest waits for more.
    pub len: usize,
    /// What is not passed on as it came (in order).
    pub edits: Vec<Edit>,
}

impl Whole {
    /// Appends `packets` (the `len` whole bytes) to `destination`, edited.
    pub fn pass_on(&self, packets: &[u8], destination: &mut BytesMut) {
        let mut at = 0;
        for edit in &self.edits {
            destination.extend_from_slice(&packets[at..edit.range.start]);
            destination.extend_from_slice(&edit.with);
            at = edit.range.end;
        }
        destination.extend_from_slice(&packets[at..]);
    }

    /// Whether nothing at all is passed on (a read of acknowledgements only).
    pub fn all_dropped(&self) -> bool {
        matches!(&self.edits[..], [edit] if edit.range == (0..self.len) && edit.with.is_empty())
    }
}

impl Framer {
    pub fn new(max_packet_size: usize) -> Self {
        Self {
            max_packet_size,
            seen: RefCell::default(),
            route: Rc::default(),
            peer: None,
        }
    }

    pub fn with_peer(mut self, peer: Option<std::net::IpAddr>) -> Self {
        self.peer = peer;
        self
    }

    pub fn route(&self) -> &Rc<AckRoute> {
        &self.route
    }

    /// Answers the CONNECT handler's query for the connection's ack route.
    pub fn query(&self, id: TypeId) -> Option<Box<dyn Any>> {
        (id == TypeId::of::<Rc<AckRoute>>()).then(|| Box::new(self.route.clone()) as Box<dyn Any>)
    }

    /// Frames `arrived`, the bytes after those already passed on; answers
    /// go to `replies`.
    pub fn whole(&self, arrived: &[u8], replies: &mut Vec<u8>) -> Whole {
        let len = complete_prefix(arrived, self.max_packet_size);
        if len == 0 {
            return Whole::default();
        }
        let mut acks = Vec::new();
        let edits = self.inspect(&arrived[..len], replies, &mut acks);
        self.route.deliver(&acks);
        Whole { len, edits }
    }

    /// The connection was refused here: once the replies are out, close it.
    pub fn refused(&self) -> bool {
        self.seen.borrow().refused
    }

    /// Follows the packets of a connection; returns what it changes in them
    /// (in order), and appends its answers and the acknowledgements for the
    /// session.
    fn inspect(&self, packets: &[u8], replies: &mut Vec<u8>, acks: &mut Vec<Ack>) -> Vec<Edit> {
        let mut seen = self.seen.borrow_mut();
        let mut edits: Vec<Edit> = Vec::new();
        for (range, first, body) in split_packets(packets) {
            let id = body
                .get(..2)
                .and_then(|id| NonZeroU16::new(u16::from_be_bytes([id[0], id[1]])));
            let v5 = seen.protocol == Some(5);
            match first {
                0x10 if seen.protocol.is_none() && body.starts_with(MQTT_3_1) => {
                    // MQTT 3.1 (protocol name MQIsdp, level 3), which the
                    // decoder would close without a word: CONNACK 1,
                    // unacceptable protocol version, as 3.1 itself answers
                    // a level it does not support (3.1.1 MQTT-3.1.2-2).
                    replies.extend_from_slice(&[0x20, 0x02, 0x00, 0x01]);
                    skip(&mut edits, range.start..packets.len());
                    seen.refused = true;
                    log_mqtt_3_1_once(self.peer);
                    break;
                }
                0x10 if seen.protocol.is_none() => {
                    seen.protocol = body.get(6).copied();
                    if seen.protocol == Some(4) && empty_id_without_clean_session(body) {
                        // MQTT-3.1.3-8: CONNACK 2, then close (the decoder
                        // would close without a word).
                        replies.extend_from_slice(&[0x20, 0x02, 0x00, 0x02]);
                        skip(&mut edits, range.start..packets.len());
                        seen.refused = true;
                        break;
                    }
                }
                _ if first >> 4 == 3 => {
                    let qos = (first >> 1) & 3;
                    if v5 && topic_alias(body, qos) == Some(0) {
                        // MQTT-3.3.2-8: a Topic Alias of 0 is invalid; the
                        // decoder would call it malformed (0x81).
                        replies.extend_from_slice(&[0xE0, 0x01, 0x94]);
                        // Nothing after it reaches the decoder: the connection closes.
                        skip(&mut edits, range.start..packets.len());
                        seen.refused = true;
                        break;
                    }
                    if v5 && qos == 0 && first & 0x08 != 0 {
                        // MQTT-3.3.1-2: DUP is 0 for QoS 0. Cleared, since
                        // it marks the exactly-once messages below.
                        let mut cleared = packets[range.clone()].to_vec();
                        cleared[0] &= !0x08;
                        edits.push(Edit {
                            range,
                            with: cleared,
                        });
                    } else if v5 && qos == 2 {
                        if let Some((rewritten, id)) = exactly_once_as_marked(first, body) {
                            self.route.exactly_once.borrow_mut().push_back(id);
                            edits.push(Edit {
                                range,
                                with: rewritten,
                            });
                        }
                    } else if qos == 2 {
                        if let Some(id) = publish_packet_id(body) {
                            seen.unreleased.insert(id);
                        }
                    }
                }
                // PUBACK and PUBCOMP: the delivery is done.
                0x40 | 0x70 if seen.protocol.is_some() => {
                    if let Some(id) = id {
                        acks.push(Ack::Done(id));
                    }
                    skip(&mut edits, range);
                }
                // PUBREC: the session answers with PUBREL (once what it owes
                // is stored), unless a v5 reason code refused the message.
                0x50 if seen.protocol.is_some() => {
                    if let Some(id) = id {
                        let refused = v5 && body.get(2).is_some_and(|&code| code >= 0x80);
                        acks.push(if refused {
                            Ack::Done(id)
                        } else {
                            Ack::Received(id)
                        });
                    }
                    skip(&mut edits, range);
                }
                // PUBREL: on v5 always taken here (the decoder never saw
                // the PUBLISH, see `exactly_once_as_marked`); on 3.1.1 when
                // the decoder does not know the id. Once logged in, the
                // session answers with PUBCOMP after the release is on disk
                // (the id may then name a new message); before, here.
                0x62 => {
                    if let Some(id) = id {
                        if v5 || !seen.unreleased.remove(&id.get()) {
                            if !self.route.is_bound() {
                                replies.extend_from_slice(&[0x70, 0x02, body[0], body[1]]);
                            }
                            acks.push(Ack::Released(id));
                            skip(&mut edits, range);
                        }
                    }
                }
                _ => {}
            }
        }
        edits
    }
}

/// Drops `range`; adjacent drops make one edit (a subscriber's read is
/// often acknowledgements only).
fn skip(edits: &mut Vec<Edit>, range: Range<usize>) {
    match edits.last_mut() {
        Some(last) if last.range.end == range.start && last.with.is_empty() => {
            last.range.end = range.end;
        }
        _ => edits.push(Edit {
            range,
            with: Vec::new(),
        }),
    }
}

/// A v5 QoS 2 PUBLISH rewritten as the QoS 0 PUBLISH the decoder gets: the
/// packet id taken out, DUP set as the mark (a real QoS 0 PUBLISH never has
/// it, see above). ntex-mqtt 9.0's v5 dispatcher never forgets the id of a
/// QoS 2 PUBLISH (its PUBREL path drops it without clearing it), so after
/// its Receive Maximum (16) such messages it closed the connection, and an
/// id reused after PUBCOMP got "Packet Identifier in use". The glue answers
/// the marked message with PUBREC itself (`v5::publish`), and PUBREL is
/// answered here.
fn exactly_once_as_marked(first: u8, body: &[u8]) -> Option<(Vec<u8>, NonZeroU16)> {
    let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let id_at = 2 + topic_len;
    let id = body.get(id_at..id_at + 2)?;
    let id = NonZeroU16::new(u16::from_be_bytes([id[0], id[1]]))?;
    let mut packet = Vec::with_capacity(body.len() + 3);
    // QoS 0, DUP as the mark, RETAIN kept.
    packet.push(0x30 | 0x08 | (first & 0x01));
    let mut length = body.len() - 2;
    loop {
        let byte = (length % 128) as u8;
        length /= 128;
        packet.push(if length > 0 { byte | 0x80 } else { byte });
        if length == 0 {
            break;
        }
    }
    packet.extend_from_slice(&body[..id_at]);
    packet.extend_from_slice(&body[id_at + 2..]);
    Some((packet, id))
}

/// The framer as an I/O layer, for connections whose bytes another layer
/// (TLS) turns into MQTT.
#[derive(Debug)]
pub struct WholePackets(Framer);

impl WholePackets {
    pub fn new(max_packet_size: usize, peer: Option<std::net::IpAddr>) -> Self {
        Self(Framer::new(max_packet_size).with_peer(peer))
    }
}

impl FilterLayer for WholePackets {
    fn query(&self, id: TypeId) -> Option<Box<dyn Any>> {
        self.0.query(id)
    }

    fn process_read_buf(&self, buf: &FilterBuf<'_>) -> io::Result<()> {
        let mut replies = Vec::new();
        buf.with_read_buffers(|source, destination| {
            let Some(source) = source else {
                return;
            };
            let whole = self.0.whole(source, &mut replies);
            if whole.len == 0 {
                return;
            }
            if whole.edits.is_empty() && whole.len == source.len() && destination.is_empty() {
                std::mem::swap(source, destination);
                return;
            }
            let packets = source.split_to(whole.len);
            whole.pass_on(&packets, destination);
        });
        if !replies.is_empty() {
            buf.with_write_buffers(|_, towards_socket| towards_socket.extend_from_slice(&replies));
        }
        if self.0.refused() {
            buf.io().close();
        }
        Ok(())
    }

    fn process_write_buf(&self, buf: &FilterBuf<'_>) -> io::Result<()> {
        let route = self.0.route();
        if route.writes_held() {
            // Kept here until the store has written what they acknowledge;
            // then a task sends them on.
            if !route.resume_scheduled.replace(true) {
                let route = route.clone();
                let io = buf.io().clone();
                tokio::task::spawn_local(async move {
                    std::future::poll_fn(|cx| route.poll_writes(cx)).await;
                    route.resume_scheduled.set(false);
                    let _ = io.send_buf();
                });
            }
            return Ok(());
        }
        buf.with_write_buffers(|source, destination| source.move_to(destination));
        Ok(())
    }
}

/// The packets in `bytes` (complete ones only): their range, first byte and body.
fn split_packets(bytes: &[u8]) -> impl Iterator<Item = (Range<usize>, u8, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let first = *bytes.get(at)?;
        let mut length = 0usize;
        let mut header = 1;
        loop {
            let byte = *bytes.get(at + header)?;
            length |= usize::from(byte & 0x7F) << (7 * (header - 1));
            header += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if header > 4 {
                return None;
            }
        }
        let end = at + header + length;
        let body = bytes.get(at + header..end)?;
        let range = at..end;
        at = end;
        Some((range, first, body))
    })
}

/// Whether a 3.1.1 CONNECT body has an empty client id and Clean Session 0.
fn empty_id_without_clean_session(body: &[u8]) -> bool {
    // Protocol name (6 bytes), level, flags, keep-alive (2), client id length (2).
    let (Some(&flags), Some(id_len)) = (body.get(7), body.get(10..12)) else {
        return false;
    };
    flags & 0x02 == 0 && id_len == [0, 0]
}

/// The Topic Alias of a v5 PUBLISH body, if it has one.
fn topic_alias(body: &[u8], qos: u8) -> Option<u16> {
    let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let mut at = 2 + topic_len + if qos > 0 { 2 } else { 0 };
    let (length, used) = varint(body.get(at..)?)?;
    at += used;
    let end = at.checked_add(length)?;
    let properties = body.get(at..end)?;
    let mut at = 0;
    while at < properties.len() {
        let id = properties[at];
        at += 1;
        let size = match id {
            0x01 => 1, // payload format
            0x02 => 4, // message expiry
            0x23 => {
                let value = properties.get(at..at + 2)?;
                return Some(u16::from_be_bytes([value[0], value[1]]));
            }
            0x03 | 0x08 | 0x09 => {
                // content type, response topic, correlation data
                2 + usize::from(u16::from_be_bytes([
                    *properties.get(at)?,
                    *properties.get(at + 1)?,
                ]))
            }
            0x0B => varint(properties.get(at..)?)?.1, // subscription id
            0x26 => {
                // user property: two strings
                let key = usize::from(u16::from_be_bytes([
                    *properties.get(at)?,
                    *properties.get(at + 1)?,
                ]));
                let value_at = at + 2 + key;
                let value = usize::from(u16::from_be_bytes([
                    *properties.get(value_at)?,
                    *properties.get(value_at + 1)?,
                ]));
                4 + key + value
            }
            _ => return None, // not a PUBLISH property: the decoder's to refuse
        };
        at += size;
    }
    None
}

/// An MQTT variable byte integer: its value and how many bytes it took.
fn varint(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (index, &byte) in bytes.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

/// The packet id of a QoS 1 or 2 PUBLISH body (after its topic).
fn publish_packet_id(body: &[u8]) -> Option<u16> {
    let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let id = body.get(2 + topic_len..4 + topic_len)?;
    Some(u16::from_be_bytes([id[0], id[1]]))
}

/// The length of the longest prefix of `bytes` made of complete MQTT packets;
/// everything, when a packet claims more than `max` bytes or its length field
/// is malformed (the decoder then refuses it).
pub fn complete_prefix(bytes: &[u8], max: usize) -> usize {
    let mut at = 0;
    loop {
        if at == bytes.len() {
            return at;
        }
        // Fixed header: one type byte, then a variable length of 1 to 4 bytes.
        let mut length = 0usize;
        let mut header = 1;
        loop {
            let Some(&byte) = bytes.get(at + header) else {
                return at;
            };
            length |= usize::from(byte & 0x7F) << (7 * (header - 1));
            header += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if header > 4 {
                return bytes.len();
            }
        }
        if length > max {
            return bytes.len();
        }
        if bytes.len() - at < header + length {
            return at;
        }
        at += header + length;
    }
}

#[cfg(test)]
mod tests {
    use super::{complete_prefix, Ack, Edit, Framer};
    use std::num::NonZeroU16;
    /// The (start, end) of edits that drop what they cover.
    fn ranges(edits: &[Edit]) -> Vec<(usize, usize)> {
        edits
            .iter()
            .map(|edit| {
                assert!(edit.with.is_empty(), "a drop: {edit:?}");
                (edit.range.start, edit.range.end)
            })
            .collect()
    }

    #[test]
    fn a_v5_qos_2_publish_reaches_the_decoder_as_marked_qos_0_and_its_id_waits() {
        let framer = Framer::new(1024);
        let mut replies = Vec::new();
        let mut stream = connect(5);
        let at = stream.len();
        // QoS 2, DUP, RETAIN; topic "t", id 0x0102, no properties, payload "xy".
        stream.extend([0x3D, 0x08, 0, 1, b't', 1, 2, 0, b'x', b'y']);
        // A QoS 0 PUBLISH with DUP set (a protocol error): DUP cleared.
        stream.extend([0x38, 0x05, 0, 1, b't', 0, b'z']);
        let edits = framer.inspect(&stream, &mut replies, &mut Vec::new());
        assert_eq!(
            edits,
            [
                Edit {
                    range: at..at + 10,
                    with: vec![0x39, 0x06, 0, 1, b't', 0, b'x', b'y'],
                },
                Edit {
                    range: at + 10..at + 17,
                    with: vec![0x30, 0x05, 0, 1, b't', 0, b'z'],
                },
            ]
        );
        assert_eq!(framer.route.take_exactly_once(), NonZeroU16::new(0x0102));
        assert_eq!(framer.route.take_exactly_once(), None);
        // Its PUBREL is answered here, and the session told.
        let mut acks = Vec::new();
        let edits = framer.inspect(&[0x62, 0x02, 1, 2], &mut replies, &mut acks);
        assert_eq!(ranges(&edits), [(0, 4)]);
        assert_eq!(replies, [0x70, 0x02, 1, 2]);
        assert_eq!(acks, [Ack::Released(id(0x0102))]);
    }

    fn connect(level: u8) -> Vec<u8> {
        let body = [0, 4, b'M', b'Q', b'T', b'T', level, 0x02, 0, 60, 0, 1, b'c'];
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend(body);
        packet
    }

    #[test]
    fn an_unknown_pubrel_on_3_1_1_is_answered_here() {
        let framer = Framer::new(1024);
        let mut replies = Vec::new();
        let mut stream = connect(4);
        let connect_len = stream.len();
        // A QoS 2 PUBLISH with id 7, its PUBREL (the decoder's), then a
        // PUBREL for id 9, left over from an earlier connection.
        stream.extend([0x34, 0x05, 0, 1, b't', 0, 7]);
        stream.extend([0x62, 0x02, 0, 7]);
        stream.extend([0x62, 0x02, 0, 9]);
        let dropped = framer.inspect(&stream, &mut replies, &mut Vec::new());
        assert_eq!(dropped.len(), 1);
        assert_eq!(ranges(&dropped), [(connect_len + 11, connect_len + 15)]);
        assert_eq!(replies, [0x70, 0x02, 0, 9]);
    }

    #[test]
    fn an_empty_client_id_without_clean_session_gets_connack_2() {
        let framer = Framer::new(1024);
        let mut replies = Vec::new();
        let body = [0, 4, b'M', b'Q', b'T', b'T', 4, 0x00, 0, 60, 0, 0];
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend(body);
        assert_eq!(
            framer.inspect(&packet, &mut replies, &mut Vec::new()).len(),
            1
        );
        assert_eq!(replies, [0x20, 0x02, 0x00, 0x02]);
        assert!(framer.seen.borrow().refused);
        // With a clean session, or with a client id, it is the decoder's.
        let framer = Framer::new(1024);
        replies.clear();
        assert!(framer
            .inspect(&connect(4), &mut replies, &mut Vec::new())
            .is_empty());
        assert!(replies.is_empty());
    }

    #[test]
    fn topic_alias_0_gets_disconnect_0x94_and_others_pass() {
        let publish = |alias: u16| {
            // Topic "t", QoS 0, properties: user property k=v, topic alias.
            let props = [
                0x26,
                0,
                1,
                b'k',
                0,
                1,
                b'v',
                0x23,
                (alias >> 8) as u8,
                alias as u8,
            ];
            let mut body = vec![0, 1, b't', props.len() as u8];
            body.extend(props);
            body.push(b'x');
            let mut packet = vec![0x30, body.len() as u8];
            packet.extend(body);
            packet
        };
        let framer = Framer::new(1024);
        let mut replies = Vec::new();
        let mut stream = connect(5);
        stream.extend(publish(1));
        assert!(
            framer
                .inspect(&stream, &mut replies, &mut Vec::new())
                .is_empty(),
            "alias 1 passes"
        );
        let mut stream = publish(0);
        stream.extend(publish(1));
        let dropped = framer.inspect(&stream, &mut replies, &mut Vec::new());
        assert_eq!(dropped.len(), 1);
        assert_eq!(ranges(&dropped), [(0, stream.len())], "it and what follows");
        assert_eq!(replies, [0xE0, 0x01, 0x94]);
        assert!(framer.seen.borrow().refused);
    }

    #[test]
    fn an_unknown_v5_pubrel_is_completed_here_and_told_to_the_session() {
        let framer = Framer::new(1024);
        let mut replies = Vec::new();
        let mut acks = Vec::new();
        let mut stream = connect(5);
        stream.extend([0x62, 0x02, 0, 9]);
        let dropped = framer.inspect(&stream, &mut replies, &mut acks);
        assert_eq!(dropped.len(), 1);
        assert_eq!(replies, [0x70, 0x02, 0, 9]);
        assert_eq!(acks, [Ack::Released(id(9))]);
    }

    fn id(id: u16) -> NonZeroU16 {
        NonZeroU16::new(id).unwrap()
    }

    #[test]
    fn acknowledgements_of_deliveries_go_to_the_session_in_any_order() {
        // MQTT-4.6.0-2/-3 order PUBACKs and PUBRECs among themselves only: a
        // PUBCOMP may come before the PUBREC of a delivery sent earlier.
        for level in [4, 5] {
            let framer = Framer::new(1024);
            let mut replies = Vec::new();
            let mut acks = Vec::new();
            let mut stream = connect(level);
            let connect_len = stream.len();
            stream.extend([0x50, 0x02, 0, 2]); // PUBREC 2
            stream.extend([0x70, 0x02, 0, 2]); // PUBCOMP 2
            stream.extend([0x40, 0x02, 0, 1]); // PUBACK 1
            stream.extend([0xC0, 0x00]); // PINGREQ, the decoder's
            stream.extend([0x50, 0x02, 0, 3]); // PUBREC 3
            let dropped = framer.inspect(&stream, &mut replies, &mut acks);
            assert_eq!(
                ranges(&dropped),
                [
                    (connect_len, connect_len + 12),
                    (connect_len + 14, stream.len())
                ],
                "adjacent acknowledgements make one range"
            );
            assert_eq!(
                acks,
                [
                    Ack::Received(id(2)),
                    Ack::Done(id(2)),
                    Ack::Done(id(1)),
                    Ack::Received(id(3))
                ]
            );
            assert!(replies.is_empty(), "PUBRELs are the session's to send");
        }
    }

    #[test]
    fn a_v5_pubrec_with_an_error_code_ends_the_exchange_without_pubrel() {
        let framer = Framer::new(1024);
        let mut replies = Vec::new();
        let mut acks = Vec::new();
        let mut stream = connect(5);
        stream.extend([0x50, 0x03, 0, 4, 0x87]);
        framer.inspect(&stream, &mut replies, &mut acks);
        assert!(replies.is_empty());
        assert_eq!(acks, [Ack::Done(id(4))]);
    }

    #[test]
    fn only_whole_packets_pass() {
        let publish = [0x30, 0x03, 0, 1, b'a'];
        let ping = [0xC0, 0x00];
        let mut stream = publish.to_vec();
        stream.extend(ping);
        stream.extend(&publish[..3]);
        assert_eq!(complete_prefix(&stream, 1024), 7);
        assert_eq!(complete_prefix(&stream[..7], 1024), 7);
        assert_eq!(complete_prefix(&stream[..4], 1024), 0);
        assert_eq!(complete_prefix(&[0x30], 1024), 0, "type byte only");
        assert_eq!(complete_prefix(&[], 1024), 0);
    }

    #[test]
    fn multi_byte_lengths_are_read() {
        // Remaining length 200: 0xC8 0x01.
        let mut packet = vec![0x30, 0xC8, 0x01];
        packet.extend(vec![0u8; 200]);
        assert_eq!(complete_prefix(&packet, 1024), 203);
        assert_eq!(complete_prefix(&packet[..202], 1024), 0);
        assert_eq!(complete_prefix(&packet[..2], 1024), 0, "length incomplete");
    }

    #[test]
    fn oversize_and_malformed_packets_pass_through_for_the_decoder() {
        let mut big = vec![0x30, 0xC8, 0x01];
        big.extend(vec![0u8; 10]);
        assert_eq!(complete_prefix(&big, 100), big.len(), "over the maximum");
        let malformed = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        assert_eq!(complete_prefix(&malformed, 1 << 30), malformed.len());
    }
}
