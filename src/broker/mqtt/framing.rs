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
//! PUBREL: a 3.1.1 client that reconnects re-sends PUBREL for the QoS 2
//! messages whose PUBCOMP it did not get (MQTT-4.4.0-1). The message was
//! routed when its PUBLISH arrived, but the decoder only knows the packet ids
//! of this connection and closes it on any other, so the client would loop
//! forever. The framer answers such a PUBREL with PUBCOMP itself (v5 clients
//! get PUBCOMP 0x92 from the decoder).

use std::cell::RefCell;
use std::collections::HashSet;
use std::io;
use std::ops::Range;

use ntex_bytes::BytesMut;
use ntex_io::{FilterBuf, FilterLayer};

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

/// One connection's framing, whoever moves its bytes: the I/O layer above
/// TLS (`WholePackets`) or a plain socket's own I/O task (`mqtt::socket`).
#[derive(Debug)]
pub struct Framer {
    /// Packets larger than this are not held back.
    max_packet_size: usize,
    seen: RefCell<Seen>,
}

/// The whole packets at the front of newly arrived bytes.
#[derive(Debug, Default)]
pub struct Whole {
    /// How many leading bytes are whole packets (or are passed on as they
    /// come, see the module docs); the rest waits for more.
    pub len: usize,
    /// Ranges of those answered here, not passed on (in order).
    pub dropped: Vec<Range<usize>>,
}

impl Whole {
    /// Appends `packets` (the `len` whole bytes) to `destination`, less the
    /// dropped ranges.
    pub fn pass_on(&self, packets: &[u8], destination: &mut BytesMut) {
        let mut at = 0;
        for range in &self.dropped {
            destination.extend_from_slice(&packets[at..range.start]);
            at = range.end;
        }
        destination.extend_from_slice(&packets[at..]);
    }
}

impl Framer {
    pub fn new(max_packet_size: usize) -> Self {
        Self {
            max_packet_size,
            seen: RefCell::default(),
        }
    }

    /// Frames `arrived`, the bytes after those already passed on; answers
    /// go to `replies`.
    pub fn whole(&self, arrived: &[u8], replies: &mut Vec<u8>) -> Whole {
        let len = complete_prefix(arrived, self.max_packet_size);
        if len == 0 {
            return Whole::default();
        }
        Whole {
            len,
            dropped: self.inspect(&arrived[..len], replies),
        }
    }

    /// The connection was refused here: once the replies are out, close it.
    pub fn refused(&self) -> bool {
        self.seen.borrow().refused
    }

    /// Follows the packets of a connection; returns the ranges it answers
    /// here instead of passing on (in order), and appends the answers.
    fn inspect(&self, packets: &[u8], replies: &mut Vec<u8>) -> Vec<Range<usize>> {
        let mut seen = self.seen.borrow_mut();
        let mut dropped = Vec::new();
        for (range, first, body) in split_packets(packets) {
            match first {
                0x10 if seen.protocol.is_none() => {
                    seen.protocol = body.get(6).copied();
                    if seen.protocol == Some(4) && empty_id_without_clean_session(body) {
                        // MQTT-3.1.3-8: CONNACK 2, then close (the decoder
                        // would close without a word).
                        replies.extend_from_slice(&[0x20, 0x02, 0x00, 0x02]);
                        dropped.push(range.start..packets.len());
                        seen.refused = true;
                        break;
                    }
                }
                _ if first >> 4 == 3 => {
                    let qos = (first >> 1) & 3;
                    if seen.protocol == Some(5) && topic_alias(body, qos) == Some(0) {
                        // MQTT-3.3.2-8: a Topic Alias of 0 is invalid; the
                        // decoder would call it malformed (0x81).
                        replies.extend_from_slice(&[0xE0, 0x01, 0x94]);
                        // Nothing after it reaches the decoder: the connection closes.
                        dropped.push(range.start..packets.len());
                        seen.refused = true;
                        break;
                    }
                    if qos == 2 {
                        if let Some(id) = publish_packet_id(body) {
                            seen.unreleased.insert(id);
                        }
                    }
                }
                0x62 if body.len() >= 2 => {
                    let id = u16::from_be_bytes([body[0], body[1]]);
                    if !seen.unreleased.remove(&id) && seen.protocol == Some(4) && body.len() == 2 {
                        replies.extend_from_slice(&[0x70, 0x02, body[0], body[1]]);
                        dropped.push(range);
                    }
                }
                _ => {}
            }
        }
        dropped
    }
}

/// The framer as an I/O layer, for connections whose bytes another layer
/// (TLS) turns into MQTT.
#[derive(Debug)]
pub struct WholePackets(Framer);

impl WholePackets {
    pub fn new(max_packet_size: usize) -> Self {
        Self(Framer::new(max_packet_size))
    }
}

impl FilterLayer for WholePackets {
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
            if whole.dropped.is_empty() && whole.len == source.len() && destination.is_empty() {
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
    use super::{complete_prefix, Framer};

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
        let dropped = framer.inspect(&stream, &mut replies);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0], connect_len + 11..connect_len + 15);
        assert_eq!(replies, [0x70, 0x02, 0, 9]);
    }

    #[test]
    fn an_empty_client_id_without_clean_session_gets_connack_2() {
        let framer = Framer::new(1024);
        let mut replies = Vec::new();
        let body = [0, 4, b'M', b'Q', b'T', b'T', 4, 0x00, 0, 60, 0, 0];
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend(body);
        assert_eq!(framer.inspect(&packet, &mut replies).len(), 1);
        assert_eq!(replies, [0x20, 0x02, 0x00, 0x02]);
        assert!(framer.seen.borrow().refused);
        // With a clean session, or with a client id, it is the decoder's.
        let framer = Framer::new(1024);
        replies.clear();
        assert!(framer.inspect(&connect(4), &mut replies).is_empty());
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
            framer.inspect(&stream, &mut replies).is_empty(),
            "alias 1 passes"
        );
        let mut stream = publish(0);
        stream.extend(publish(1));
        let dropped = framer.inspect(&stream, &mut replies);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0], 0..stream.len(), "it and what follows");
        assert_eq!(replies, [0xE0, 0x01, 0x94]);
        assert!(framer.seen.borrow().refused);
    }

    #[test]
    fn v5_pubrels_are_left_to_the_decoder() {
        let framer = Framer::new(1024);
        let mut replies = Vec::new();
        let mut stream = connect(5);
        stream.extend([0x62, 0x02, 0, 9]);
        assert!(framer.inspect(&stream, &mut replies).is_empty());
        assert!(replies.is_empty());
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
