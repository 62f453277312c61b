//! A raw MQTT client for conformance tests: packets built byte by byte and
//! read back whole, so a test can check the exact bytes the broker sends (a
//! 2-byte PUBACK, a reason code, a property) and send what no client library
//! would.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// MQTT's variable byte integer.
pub fn varint(mut value: usize, out: &mut Vec<u8>) {
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            break;
        }
    }
}

fn string(text: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    out.extend_from_slice(text);
}

/// A whole packet from a first byte and a body.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    varint(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// v5 properties, encoded as they go on the wire.
#[derive(Default, Clone)]
pub struct Props(Vec<u8>);

impl Props {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn byte(mut self, id: u8, value: u8) -> Self {
        self.0.extend([id, value]);
        self
    }
    pub fn u16(mut self, id: u8, value: u16) -> Self {
        self.0.push(id);
        self.0.extend(value.to_be_bytes());
        self
    }
    pub fn u32(mut self, id: u8, value: u32) -> Self {
        self.0.push(id);
        self.0.extend(value.to_be_bytes());
        self
    }
    pub fn varint(mut self, id: u8, value: usize) -> Self {
        self.0.push(id);
        varint(value, &mut self.0);
        self
    }
    pub fn str(mut self, id: u8, value: &str) -> Self {
        self.0.push(id);
        string(value.as_bytes(), &mut self.0);
        self
    }
    pub fn pair(mut self, id: u8, key: &str, value: &str) -> Self {
        self.0.push(id);
        string(key.as_bytes(), &mut self.0);
        string(value.as_bytes(), &mut self.0);
        self
    }
    fn encode(&self, out: &mut Vec<u8>) {
        varint(self.0.len(), out);
        out.extend_from_slice(&self.0);
    }
}

/// Property identifiers (MQTT 5, 2.2.2.2).
pub mod prop {
    pub const PAYLOAD_FORMAT: u8 = 0x01;
    pub const MESSAGE_EXPIRY: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_ID: u8 = 0x0B;
    pub const SESSION_EXPIRY: u8 = 0x11;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const ASSIGNED_CLIENT_ID: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const WILL_DELAY: u8 = 0x18;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
}

pub struct Will<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    pub props: Props,
}

/// A CONNECT; `v5` adds the property sections.
pub struct Connect<'a> {
    pub v5: bool,
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub clean: bool,
    pub keep_alive: u16,
    pub props: Props,
    pub will: Option<Will<'a>>,
}

impl<'a> Connect<'a> {
    pub fn v3(client_id: &'a str, username: &'a str, password: &'a str) -> Self {
        Self {
            v5: false,
            client_id,
            username: Some(username),
            password: Some(password),
            clean: true,
            keep_alive: 60,
            props: Props::new(),
            will: None,
        }
    }
    pub fn v5(client_id: &'a str, username: &'a str, password: &'a str) -> Self {
        Self {
            v5: true,
            ..Self::v3(client_id, username, password)
        }
    }
    /// A 3.1.1 or a v5 CONNECT, for tests that run once with each.
    pub fn version(v5: bool, client_id: &'a str, username: &'a str, password: &'a str) -> Self {
        if v5 {
            Self::v5(client_id, username, password)
        } else {
            Self::v3(client_id, username, password)
        }
    }
    pub fn clean(mut self, clean: bool) -> Self {
        self.clean = clean;
        self
    }
    pub fn props(mut self, props: Props) -> Self {
        self.props = props;
        self
    }
    pub fn will(mut self, will: Will<'a>) -> Self {
        self.will = Some(will);
        self
    }
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        string(b"MQTT", &mut body);
        body.push(if self.v5 { 5 } else { 4 });
        let mut flags = 0u8;
        if self.clean {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (will.qos << 3) | if will.retain { 0x20 } else { 0 };
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        body.push(flags);
        body.extend(self.keep_alive.to_be_bytes());
        if self.v5 {
            self.props.encode(&mut body);
        }
        string(self.client_id.as_bytes(), &mut body);
        if let Some(will) = &self.will {
            if self.v5 {
                will.props.encode(&mut body);
            }
            string(will.topic.as_bytes(), &mut body);
            string(will.payload, &mut body);
        }
        if let Some(username) = self.username {
            string(username.as_bytes(), &mut body);
        }
        if let Some(password) = self.password {
            string(password.as_bytes(), &mut body);
        }
        packet(0x10, &body)
    }
}

pub fn publish(
    v5: bool,
    topic: &str,
    payload: &[u8],
    qos: u8,
    retain: bool,
    packet_id: u16,
    props: Props,
) -> Vec<u8> {
    let mut body = Vec::new();
    string(topic.as_bytes(), &mut body);
    if qos > 0 {
        body.extend(packet_id.to_be_bytes());
    }
    if v5 {
        props.encode(&mut body);
    }
    body.extend_from_slice(payload);
    packet(0x30 | (qos << 1) | u8::from(retain), &body)
}

/// SUBSCRIBE with (filter, options byte) pairs; for 3.1.1 the options byte is the QoS.
pub fn subscribe(v5: bool, packet_id: u16, filters: &[(&str, u8)], props: Props) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    if v5 {
        props.encode(&mut body);
    }
    for (filter, options) in filters {
        string(filter.as_bytes(), &mut body);
        body.push(*options);
    }
    packet(0x82, &body)
}

pub fn unsubscribe(v5: bool, packet_id: u16, filters: &[&str]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    if v5 {
        body.push(0);
    }
    for filter in filters {
        string(filter.as_bytes(), &mut body);
    }
    packet(0xA2, &body)
}

/// PUBACK (0x40), PUBREC (0x50), PUBREL (0x62) or PUBCOMP (0x70) with a packet id.
pub fn ack(first: u8, packet_id: u16) -> Vec<u8> {
    packet(first, &packet_id.to_be_bytes())
}

pub fn disconnect_v3() -> Vec<u8> {
    vec![0xE0, 0]
}

/// A plain DISCONNECT (v5: reason 0, no properties).
pub fn disconnect(v5: bool) -> Vec<u8> {
    if v5 {
        disconnect_v5(0, Props::new())
    } else {
        disconnect_v3()
    }
}

pub fn disconnect_v5(reason: u8, props: Props) -> Vec<u8> {
    let mut body = vec![reason];
    props.encode(&mut body);
    packet(0xE0, &body)
}

/// One packet as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub first: u8,
    pub body: Vec<u8>,
}

impl Packet {
    pub fn kind(&self) -> u8 {
        self.first >> 4
    }

    /// The whole packet's bytes, as on the wire.
    pub fn bytes(&self) -> Vec<u8> {
        packet(self.first, &self.body)
    }
}

/// A received PUBLISH, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: Option<u16>,
    /// v5 properties as (identifier, raw value bytes).
    pub props: Vec<(u8, Vec<u8>)>,
    pub payload: Vec<u8>,
}

impl Publish {
    pub fn prop(&self, id: u8) -> Option<&[u8]> {
        self.props
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| &v[..])
    }
    pub fn props_of(&self, id: u8) -> Vec<&[u8]> {
        self.props
            .iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, v)| &v[..])
            .collect()
    }
}

fn read_varint(bytes: &[u8], at: &mut usize) -> usize {
    let mut value = 0usize;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= usize::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// Parses a v5 property section at `at`; returns (id, raw value) pairs.
pub fn parse_props(bytes: &[u8], at: &mut usize) -> Vec<(u8, Vec<u8>)> {
    let len = read_varint(bytes, at);
    let end = *at + len;
    let mut props = Vec::new();
    while *at < end {
        let id = bytes[*at];
        *at += 1;
        let size = match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => 1,
            0x13 | 0x21 | 0x22 | 0x23 => 2,
            0x02 | 0x11 | 0x18 | 0x27 => 4,
            0x0B => {
                let start = *at;
                read_varint(bytes, at);
                props.push((id, bytes[start..*at].to_vec()));
                continue;
            }
            0x26 => {
                let k = u16::from_be_bytes([bytes[*at], bytes[*at + 1]]) as usize;
                let v = u16::from_be_bytes([bytes[*at + 2 + k], bytes[*at + 3 + k]]) as usize;
                4 + k + v
            }
            _ => 2 + u16::from_be_bytes([bytes[*at], bytes[*at + 1]]) as usize,
        };
        props.push((id, bytes[*at..*at + size].to_vec()));
        *at += size;
    }
    props
}

pub struct Raw {
    pub stream: TcpStream,
    pub v5: bool,
    buffer: Vec<u8>,
}

impl Raw {
    pub fn open(port: u16, v5: bool) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            v5,
            buffer: Vec::new(),
        }
    }

    /// Opens a connection, sends `connect`, and returns it with the CONNACK.
    pub fn connect(port: u16, connect: &Connect) -> (Self, Packet) {
        let mut raw = Self::open(port, connect.v5);
        raw.send(&connect.encode());
        let connack = raw
            .recv(Duration::from_secs(30))
            .expect("a CONNACK within 30 s");
        assert_eq!(connack.kind(), 2, "expected CONNACK, got {connack:?}");
        (raw, connack)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// The next whole packet within `timeout`; `None` on timeout or close.
    pub fn recv(&mut self, timeout: Duration) -> Option<Packet> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(packet) = self.take_packet() {
                return Some(packet);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 65_536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None
                }
                Err(_) => return None,
            }
        }
    }

    /// The next packet of `kind` within `timeout`, skipping others.
    pub fn recv_kind(&mut self, kind: u8, timeout: Duration) -> Option<Packet> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let packet = self.recv(left)?;
            if packet.kind() == kind {
                return Some(packet);
            }
        }
    }

    /// The next PUBLISH within `timeout`, taken apart.
    pub fn recv_publish(&mut self, timeout: Duration) -> Option<Publish> {
        let packet = self.recv_kind(3, timeout)?;
        Some(self.parse_publish(&packet))
    }

    pub fn parse_publish(&self, packet: &Packet) -> Publish {
        let body = &packet.body;
        let qos = (packet.first >> 1) & 3;
        let len = u16::from_be_bytes([body[0], body[1]]) as usize;
        let topic = String::from_utf8(body[2..2 + len].to_vec()).unwrap();
        let mut at = 2 + len;
        let packet_id = (qos > 0).then(|| {
            at += 2;
            u16::from_be_bytes([body[at - 2], body[at - 1]])
        });
        let props = if self.v5 {
            parse_props(body, &mut at)
        } else {
            Vec::new()
        };
        Publish {
            topic,
            qos,
            retain: packet.first & 1 == 1,
            dup: packet.first & 8 == 8,
            packet_id,
            props,
            payload: body[at..].to_vec(),
        }
    }

    /// Whether the broker closes the connection within `timeout` (packets
    /// received meanwhile are returned, the last one possibly a DISCONNECT).
    pub fn closed_within(&mut self, timeout: Duration) -> (bool, Vec<Packet>) {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            while let Some(packet) = self.take_packet() {
                seen.push(packet);
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return (false, seen);
            };
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return (true, seen),
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return (false, seen)
                }
                Err(_) => return (true, seen),
            }
        }
    }

    fn take_packet(&mut self) -> Option<Packet> {
        if self.buffer.len() < 2 {
            return None;
        }
        let mut at = 1;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let byte = *self.buffer.get(at)?;
            at += 1;
            len |= usize::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        if self.buffer.len() < at + len {
            return None;
        }
        let first = self.buffer[0];
        let body = self.buffer[at..at + len].to_vec();
        self.buffer.drain(..at + len);
        Some(Packet { first, body })
    }
}
