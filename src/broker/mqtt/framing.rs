//! An I/O layer that hands the MQTT decoder whole packets only.
//!
//! ntex-mqtt 9.0 decodes a PUBLISH whose payload has not fully arrived as a
//! "streaming" publish followed by payload chunks, and its dispatcher can run
//! a chunk before the PUBLISH it belongs to when the connection is waiting
//! for room (the connection is then closed with a protocol error, or the
//! PUBLISH is delivered after the one behind it). Holding back the unfinished
//! tail of the read buffer until its packet is complete means no PUBLISH is
//! ever split, so that path is never taken.
//!
//! A packet that declares more than the maximum packet size is passed on as
//! it comes, so that the decoder refuses it (and nothing waits to buffer it).

use std::io;

use ntex_io::{FilterBuf, FilterLayer};

#[derive(Debug, Clone, Copy)]
pub struct WholePackets {
    /// Packets larger than this are not held back.
    pub max_packet_size: usize,
}

impl FilterLayer for WholePackets {
    fn process_read_buf(&self, buf: &FilterBuf<'_>) -> io::Result<()> {
        buf.with_read_buffers(|source, destination| {
            let Some(source) = source else {
                return;
            };
            let whole = complete_prefix(source, self.max_packet_size);
            if whole == 0 {
                return;
            }
            if whole == source.len() && destination.is_empty() {
                std::mem::swap(source, destination);
            } else {
                let packets = source.split_to(whole);
                destination.extend_from_slice(&packets);
            }
        });
        Ok(())
    }

    fn process_write_buf(&self, buf: &FilterBuf<'_>) -> io::Result<()> {
        buf.with_write_buffers(|source, destination| source.move_to(destination));
        Ok(())
    }
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
    use super::complete_prefix;

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
