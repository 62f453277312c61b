//! A hand-built MQTT 3.1.1 CONNECT, shared by the hostile-input tests and the
//! broker benchmark (which includes this file by path): raw bytes, so a test can
//! send what no client library would, and a storm costs the client next to nothing.

/// CONNECT with clean session, keep-alive 60 s, and raw (possibly invalid)
/// client id, username and password bytes.
pub fn connect_packet(client_id: &[u8], username: &[u8], password: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 60];
    for field in [client_id, username, password] {
        body.extend_from_slice(&(field.len() as u16).to_be_bytes());
        body.extend_from_slice(field);
    }
    let mut packet = vec![0x10];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        packet.push(byte);
        if len == 0 {
            break;
        }
    }
    packet.extend(body);
    packet
}
