//! Decoding what clients send: the framing of the PostgreSQL v3 protocol and
//! the bodies of the frontend messages basalt understands.
//!
//! Two framings exist. Before startup completes, a packet is an `Int32`
//! length (counting itself) followed by a body whose first `Int32` is a code:
//! a protocol version (`3.0` = 196608) for StartupMessage, or one of the
//! magic numbers for SSLRequest, GSSENCRequest and CancelRequest. After
//! startup, every message is a one-byte type, an `Int32` length (counting
//! itself but not the type byte) and a body.
//!
//! pgwire's own frontend decoders read past the end of a truncated body with
//! `Buf::get_*`, which panics, and they decode strings lossily. Malformed
//! bytes must never panic the server, so this module frames messages itself,
//! copies exactly one body out of the read buffer, and parses it with a
//! bounds-checked [`BodyReader`]. Errors are split in two, as in PostgreSQL:
//! a broken frame ([`FrameError`]) leaves the stream unrecoverable and closes
//! the connection, while a malformed body inside an intact frame is an
//! ordinary `08P01` (or `22021` for invalid UTF-8) error and the connection
//! goes on.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{Error, Result, SqlState};

/// PostgreSQL's `PQ_LARGE_MESSAGE_LIMIT`: the most a Query, Parse, Bind or
/// CopyData body may hold (1 GiB - 1).
pub const LARGE_MESSAGE_LIMIT: usize = 0x3fff_ffff - 1;
/// PostgreSQL's `PQ_SMALL_MESSAGE_LIMIT`: the most any other message body,
/// and the startup packet, may hold.
pub const SMALL_MESSAGE_LIMIT: usize = 10_000;

/// The request code of SSLRequest.
pub const SSL_REQUEST_CODE: u32 = 80_877_103;
/// The request code of GSSENCRequest.
pub const GSSENC_REQUEST_CODE: u32 = 80_877_104;
/// The request code of CancelRequest.
pub const CANCEL_REQUEST_CODE: u32 = 80_877_102;

/// The only protocol major version basalt speaks.
pub const PROTOCOL_MAJOR: u16 = 3;

/// A frame that cannot be delimited: the connection must be closed because
/// the byte stream can no longer be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub message: String,
}

impl FrameError {
    fn new(message: impl Into<String>) -> FrameError {
        FrameError {
            message: message.into(),
        }
    }
}

/// Takes one startup-phase packet (length-prefixed, no type byte) off the
/// front of `buffer`. `Ok(None)` means more bytes are needed.
pub fn take_startup_packet(buffer: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
    if buffer.len() < 4 {
        return Ok(None);
    }
    let length = i32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]);
    // The body must at least hold the 4-byte request code.
    if length < 8 || length as usize - 4 > SMALL_MESSAGE_LIMIT {
        return Err(FrameError::new(format!(
            "invalid length of startup packet: {length}"
        )));
    }
    let length = length as usize;
    if buffer.len() < length {
        return Ok(None);
    }
    buffer.advance(4);
    Ok(Some(buffer.split_to(length - 4).freeze()))
}

/// A packet of the startup phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    SslRequest,
    GssEncRequest,
    CancelRequest,
    Startup {
        major: u16,
        minor: u16,
        parameters: Vec<(String, String)>,
    },
}

/// Decodes a startup-phase packet body (everything after the length).
pub fn decode_startup_packet(body: Bytes) -> Result<StartupPacket> {
    let mut reader = BodyReader::new(body);
    let code = reader.read_u32()?;
    match code {
        SSL_REQUEST_CODE => return Ok(StartupPacket::SslRequest),
        GSSENC_REQUEST_CODE => return Ok(StartupPacket::GssEncRequest),
        CANCEL_REQUEST_CODE => return Ok(StartupPacket::CancelRequest),
        _ => {}
    }
    let major = (code >> 16) as u16;
    let minor = (code & 0xffff) as u16;
    let mut parameters = Vec::new();
    if major == PROTOCOL_MAJOR {
        // Name/value pairs, ended by an empty name.
        loop {
            let name = reader.read_cstring()?;
            if name.is_empty() {
                break;
            }
            let value = reader.read_cstring()?;
            parameters.push((name, value));
        }
    }
    Ok(StartupPacket::Startup {
        major,
        minor,
        parameters,
    })
}

/// One frame of the post-startup phase: its type byte and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub body: Bytes,
}

/// The body limit of a message type, as in PostgreSQL's `SocketBackend`.
fn body_limit(kind: u8) -> usize {
    match kind {
        b'Q' | b'P' | b'B' | b'd' => LARGE_MESSAGE_LIMIT,
        _ => SMALL_MESSAGE_LIMIT,
    }
}

/// Takes one typed frame off the front of `buffer`. `Ok(None)` means more
/// bytes are needed. An unknown type byte is rejected here, before waiting
/// for a body whose length field may itself be garbage.
pub fn take_frame(buffer: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    let Some(&kind) = buffer.first() else {
        return Ok(None);
    };
    if !is_known_message_type(kind) {
        return Err(FrameError::new(format!(
            "invalid frontend message type {kind}"
        )));
    }
    if buffer.len() < 5 {
        return Ok(None);
    }
    let length = i32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]);
    if length < 4 || length as usize - 4 > body_limit(kind) {
        return Err(FrameError::new(format!(
            "invalid message length {length} for message type {}",
            char::from(kind)
        )));
    }
    let total = 1 + length as usize;
    if buffer.len() < total {
        return Ok(None);
    }
    buffer.advance(5);
    let body = buffer.split_to(total - 5).freeze();
    Ok(Some(Frame { kind, body }))
}

/// Whether the frames already received in `buffer` reach a Sync without
/// another Execute (or Query, Flush, or anything else that could run a
/// statement or wait for the client) before it: then the statement being
/// executed is the last of its implicit transaction. Only Parse, Bind,
/// Describe and Close may come between; a frame that is incomplete or
/// malformed answers no, as does running out of bytes.
pub fn only_sync_follows(buffer: &[u8]) -> bool {
    let mut rest = buffer;
    loop {
        let [kind, a, b, c, d, ..] = *rest else {
            return false;
        };
        match kind {
            b'S' => return true,
            b'P' | b'B' | b'D' | b'C' => {}
            _ => return false,
        }
        let length = i32::from_be_bytes([a, b, c, d]);
        let Some(total) = usize::try_from(length)
            .ok()
            .filter(|length| *length >= 4)
            .map(|length| 1 + length)
        else {
            return false;
        };
        if rest.len() < total {
            return false;
        }
        rest = &rest[total..];
    }
}

fn is_known_message_type(kind: u8) -> bool {
    matches!(
        kind,
        b'Q' | b'P' | b'B' | b'D' | b'E' | b'C' | b'H' | b'S' | b'X' | b'd' | b'c' | b'f' | b'p'
    )
}

/// Which object a Describe or Close names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Statement,
    Portal,
}

/// A decoded frontend message of the post-startup phase.
#[derive(Debug, Clone, PartialEq)]
pub enum FrontendMessage {
    Query {
        sql: String,
    },
    Parse {
        name: String,
        sql: String,
        parameter_oids: Vec<u32>,
    },
    Bind {
        portal: String,
        statement: String,
        parameter_formats: Vec<i16>,
        parameters: Vec<Option<Bytes>>,
        result_formats: Vec<i16>,
    },
    Describe {
        target: Target,
        name: String,
    },
    Execute {
        portal: String,
        max_rows: i32,
    },
    Close {
        target: Target,
        name: String,
    },
    Flush,
    Sync,
    Terminate,
    /// CopyData, CopyDone, CopyFail: basalt never starts a COPY, so these
    /// are ignored, as PostgreSQL ignores stray copy messages.
    Copy,
    /// A password message although authentication is trust: a protocol violation.
    Password,
}

impl FrontendMessage {
    /// Whether the message belongs to the extended-query protocol, whose
    /// errors make the server skip messages until the next Sync.
    pub fn is_extended(&self) -> bool {
        matches!(
            self,
            FrontendMessage::Parse { .. }
                | FrontendMessage::Bind { .. }
                | FrontendMessage::Describe { .. }
                | FrontendMessage::Execute { .. }
                | FrontendMessage::Close { .. }
                | FrontendMessage::Flush
                | FrontendMessage::Sync
        )
    }
}

/// Whether a frame's type byte is an extended-query message, for deciding
/// the skip-until-Sync state when its body cannot be decoded.
pub fn is_extended_kind(kind: u8) -> bool {
    matches!(kind, b'P' | b'B' | b'D' | b'E' | b'C' | b'H' | b'S')
}

/// Decodes the body of a typed frame.
pub fn decode_message(frame: Frame) -> Result<FrontendMessage> {
    let mut reader = BodyReader::new(frame.body);
    let message = match frame.kind {
        b'Q' => FrontendMessage::Query {
            sql: reader.read_cstring()?,
        },
        b'P' => {
            let name = reader.read_cstring()?;
            let sql = reader.read_cstring()?;
            let count = reader.read_i16()?;
            let count = reader.checked_count(count, 4)?;
            let mut parameter_oids = Vec::with_capacity(count);
            for _ in 0..count {
                parameter_oids.push(reader.read_u32()?);
            }
            FrontendMessage::Parse {
                name,
                sql,
                parameter_oids,
            }
        }
        b'B' => {
            let portal = reader.read_cstring()?;
            let statement = reader.read_cstring()?;
            let count = reader.read_i16()?;
            let count = reader.checked_count(count, 2)?;
            let mut parameter_formats = Vec::with_capacity(count);
            for _ in 0..count {
                parameter_formats.push(reader.read_i16()?);
            }
            let count = reader.read_i16()?;
            let count = reader.checked_count(count, 4)?;
            let mut parameters = Vec::with_capacity(count);
            for _ in 0..count {
                let length = reader.read_i32()?;
                if length == -1 {
                    parameters.push(None);
                } else if length < 0 {
                    return Err(malformed(format!("invalid parameter length {length}")));
                } else {
                    parameters.push(Some(reader.read_bytes(length as usize)?));
                }
            }
            let count = reader.read_i16()?;
            let count = reader.checked_count(count, 2)?;
            let mut result_formats = Vec::with_capacity(count);
            for _ in 0..count {
                result_formats.push(reader.read_i16()?);
            }
            FrontendMessage::Bind {
                portal,
                statement,
                parameter_formats,
                parameters,
                result_formats,
            }
        }
        b'D' | b'C' => {
            let target = match reader.read_u8()? {
                b'S' => Target::Statement,
                b'P' => Target::Portal,
                other => {
                    return Err(malformed(format!(
                        "invalid {} message subtype {other}",
                        if frame.kind == b'D' {
                            "DESCRIBE"
                        } else {
                            "CLOSE"
                        }
                    )));
                }
            };
            let name = reader.read_cstring()?;
            if frame.kind == b'D' {
                FrontendMessage::Describe { target, name }
            } else {
                FrontendMessage::Close { target, name }
            }
        }
        b'E' => {
            let portal = reader.read_cstring()?;
            let max_rows = reader.read_i32()?;
            FrontendMessage::Execute { portal, max_rows }
        }
        b'H' => FrontendMessage::Flush,
        b'S' => FrontendMessage::Sync,
        b'X' => FrontendMessage::Terminate,
        b'd' | b'c' | b'f' => {
            // Copy payloads are opaque; nothing to check.
            return Ok(FrontendMessage::Copy);
        }
        b'p' => return Ok(FrontendMessage::Password),
        other => return Err(malformed(format!("invalid frontend message type {other}"))),
    };
    reader.finish()?;
    Ok(message)
}

/// A `08P01` error about a malformed message body.
fn malformed(message: impl Into<String>) -> Error {
    Error::sql(SqlState::PROTOCOL_VIOLATION, message)
}

/// Bounds-checked reads from one message body, in network byte order.
pub struct BodyReader {
    body: Bytes,
}

impl BodyReader {
    pub fn new(body: Bytes) -> BodyReader {
        BodyReader { body }
    }

    fn need(&self, count: usize) -> Result<()> {
        if self.body.remaining() < count {
            Err(malformed("insufficient data left in message"))
        } else {
            Ok(())
        }
    }

    pub fn read_u8(&mut self) -> Result<u8> {
        self.need(1)?;
        Ok(self.body.get_u8())
    }

    pub fn read_i16(&mut self) -> Result<i16> {
        self.need(2)?;
        Ok(self.body.get_i16())
    }

    pub fn read_i32(&mut self) -> Result<i32> {
        self.need(4)?;
        Ok(self.body.get_i32())
    }

    pub fn read_u32(&mut self) -> Result<u32> {
        self.need(4)?;
        Ok(self.body.get_u32())
    }

    pub fn read_bytes(&mut self, count: usize) -> Result<Bytes> {
        self.need(count)?;
        Ok(self.body.split_to(count))
    }

    /// A NUL-terminated string, which must be valid UTF-8 (the only client
    /// encoding basalt accepts).
    pub fn read_cstring(&mut self) -> Result<String> {
        let Some(end) = self.body.iter().position(|byte| *byte == 0) else {
            return Err(malformed("invalid string in message"));
        };
        let raw = self.body.split_to(end);
        self.body.advance(1);
        String::from_utf8(raw.to_vec()).map_err(|error| invalid_utf8(&raw, error.utf8_error()))
    }

    /// Validates an element count read from the wire against the bytes
    /// left, so a bogus count cannot trigger a huge allocation.
    fn checked_count(&self, count: i16, element_size: usize) -> Result<usize> {
        if count < 0 {
            return Err(malformed(format!("invalid element count {count}")));
        }
        let count = count as usize;
        self.need(count * element_size)?;
        Ok(count)
    }

    /// Every byte of the body must have been consumed.
    pub fn finish(&self) -> Result<()> {
        if self.body.has_remaining() {
            Err(malformed("invalid message format"))
        } else {
            Ok(())
        }
    }
}

/// PostgreSQL's `22021` error for bytes that are not valid UTF-8.
pub fn invalid_utf8(raw: &[u8], error: std::str::Utf8Error) -> Error {
    let start = error.valid_up_to();
    let bad_length = error.error_len().unwrap_or(raw.len() - start).max(1);
    let shown: Vec<String> = raw[start..]
        .iter()
        .take(bad_length)
        .map(|byte| format!("0x{byte:02x}"))
        .collect();
    Error::sql(
        SqlState::CHARACTER_NOT_IN_REPERTOIRE,
        format!(
            "invalid byte sequence for encoding \"UTF8\": {}",
            shown.join(" ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    fn frame(kind: u8, body: &[u8]) -> BytesMut {
        let mut buffer = BytesMut::new();
        buffer.put_u8(kind);
        buffer.put_i32(body.len() as i32 + 4);
        buffer.put_slice(body);
        buffer
    }

    #[test]
    fn frames_wait_for_complete_bodies() {
        let mut buffer = frame(b'Q', b"select 1\0");
        let tail = buffer.split_off(6);
        assert_eq!(take_frame(&mut buffer), Ok(None));
        buffer.unsplit(tail);
        let taken = take_frame(&mut buffer).unwrap().unwrap();
        assert_eq!(taken.kind, b'Q');
        assert!(buffer.is_empty());
        assert_eq!(
            decode_message(taken).unwrap(),
            FrontendMessage::Query {
                sql: "select 1".into()
            }
        );
    }

    #[test]
    fn only_sync_follows_needs_a_received_sync_and_no_other_execute() {
        let joined = |frames: &[BytesMut]| -> Vec<u8> { frames.concat() };
        let sync = frame(b'S', b"");
        let execute = frame(b'E', b"\0\0\0\0\0");
        let bind = frame(b'B', b"\0\0\0\0\0\0\0\0");
        let describe = frame(b'D', b"Pportal\0");
        let close = frame(b'C', b"Sname\0");
        let parse = frame(b'P', b"\0select 1\0\0\0");
        assert!(only_sync_follows(&sync));
        assert!(only_sync_follows(&joined(&[
            describe.clone(),
            close.clone(),
            parse.clone(),
            bind.clone(),
            sync.clone()
        ])));
        // What follows the Sync does not matter: the scope ends there.
        assert!(only_sync_follows(&joined(&[sync.clone(), execute.clone()])));
        // Nothing received yet, or only part of the Sync.
        assert!(!only_sync_follows(b""));
        assert!(!only_sync_follows(&sync[..4]));
        // Another statement, a Flush (the client may wait before sending
        // more) or a simple Query before the Sync.
        assert!(!only_sync_follows(&joined(&[
            bind.clone(),
            execute,
            sync.clone()
        ])));
        assert!(!only_sync_follows(&joined(&[
            frame(b'H', b""),
            sync.clone()
        ])));
        assert!(!only_sync_follows(&joined(&[
            frame(b'Q', b"select 1\0"),
            sync.clone()
        ])));
        // A frame still arriving, or one whose length is garbage.
        let mut partial = bind.clone();
        partial.truncate(partial.len() - 1);
        assert!(!only_sync_follows(&partial));
        assert!(!only_sync_follows(&[
            b'B', 0xff, 0xff, 0xff, 0xff, b'S', 0, 0, 0, 4
        ]));
        assert!(!only_sync_follows(&[b'B', 0, 0, 0, 2, b'S', 0, 0, 0, 4]));
    }

    #[test]
    fn bad_lengths_and_types_are_frame_errors() {
        let mut short = BytesMut::from(&[b'Q', 0, 0, 0, 2][..]);
        assert!(take_frame(&mut short).is_err());
        let mut negative = BytesMut::from(&[b'S', 0xff, 0xff, 0xff, 0xff][..]);
        assert!(take_frame(&mut negative).is_err());
        let mut huge_sync = BytesMut::from(&[b'S', 0x10, 0, 0, 0][..]);
        assert!(take_frame(&mut huge_sync).is_err());
        let mut unknown = BytesMut::from(&[b'z'][..]);
        assert!(take_frame(&mut unknown).is_err());
        let mut startup = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0][..]);
        assert!(take_startup_packet(&mut startup).is_err());
    }

    #[test]
    fn truncated_bodies_are_errors_not_panics() {
        let cases: &[(u8, &[u8])] = &[
            (b'Q', b""),
            (b'Q', b"no terminator"),
            (b'Q', b"a\0trailing"),
            (b'P', b""),
            (b'P', b"a\0"),
            (b'P', b"a\0b\0"),
            (b'P', b"a\0b\0\0\x05"),
            (b'P', b"a\0b\0\xff\xff"),
            (b'B', b""),
            (b'B', b"\0\0"),
            (b'B', b"\0\0\0\x01"),
            (b'B', b"\0\0\0\0\0\x01\0\0\0\x09"),
            (b'B', b"\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0"),
            (b'B', b"\0\0\0\0\0\0"),
            (b'D', b""),
            (b'D', b"X\0"),
            (b'C', b"S"),
            (b'E', b""),
            (b'E', b"\0\0\0"),
            (b'S', b"x"),
        ];
        for (kind, body) in cases {
            let mut buffer = frame(*kind, body);
            let taken = take_frame(&mut buffer).unwrap().unwrap();
            let error = decode_message(taken).unwrap_err();
            assert_eq!(
                error.sqlstate(),
                SqlState::PROTOCOL_VIOLATION,
                "{kind} {body:?}"
            );
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let length = (next() % 48) as usize;
            let bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
            let mut buffer = BytesMut::from(&bytes[..]);
            let _ = take_startup_packet(&mut buffer.clone());
            if let Ok(Some(body)) = take_startup_packet(&mut buffer) {
                let _ = decode_startup_packet(body);
            }
            // Valid framing around a random body exercises every decoder.
            for kind in [b'Q', b'P', b'B', b'D', b'C', b'E', b'H', b'S', b'X'] {
                let mut framed = frame(kind, &bytes);
                if let Ok(Some(taken)) = take_frame(&mut framed) {
                    let _ = decode_message(taken);
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_is_22021() {
        let mut buffer = frame(b'Q', b"select '\xff'\0");
        let taken = take_frame(&mut buffer).unwrap().unwrap();
        let error = decode_message(taken).unwrap_err();
        assert_eq!(error.sqlstate().code(), "22021");
        assert!(error.to_string().contains("0xff"), "{error}");
    }

    #[test]
    fn bind_decodes_nulls_and_formats() {
        let mut body = BytesMut::new();
        body.put_slice(b"portal\0stmt\0");
        body.put_i16(1);
        body.put_i16(1);
        body.put_i16(2);
        body.put_i32(4);
        body.put_i32(7);
        body.put_i32(-1);
        body.put_i16(0);
        let mut buffer = frame(b'B', &body);
        let taken = take_frame(&mut buffer).unwrap().unwrap();
        let FrontendMessage::Bind {
            portal,
            statement,
            parameter_formats,
            parameters,
            result_formats,
        } = decode_message(taken).unwrap()
        else {
            panic!("expected Bind");
        };
        assert_eq!((portal.as_str(), statement.as_str()), ("portal", "stmt"));
        assert_eq!(parameter_formats, vec![1]);
        assert_eq!(
            parameters,
            vec![Some(Bytes::from_static(&[0, 0, 0, 7])), None]
        );
        assert!(result_formats.is_empty());
    }

    #[test]
    fn startup_packets() {
        let mut buffer = BytesMut::new();
        buffer.put_i32(8);
        buffer.put_u32(SSL_REQUEST_CODE);
        let body = take_startup_packet(&mut buffer).unwrap().unwrap();
        assert_eq!(
            decode_startup_packet(body).unwrap(),
            StartupPacket::SslRequest
        );

        let mut body = BytesMut::new();
        body.put_u32(196_608);
        body.put_slice(b"user\0alice\0database\0db\0\0");
        let mut buffer = BytesMut::new();
        buffer.put_i32(body.len() as i32 + 4);
        buffer.put_slice(&body);
        let body = take_startup_packet(&mut buffer).unwrap().unwrap();
        assert_eq!(
            decode_startup_packet(body).unwrap(),
            StartupPacket::Startup {
                major: 3,
                minor: 0,
                parameters: vec![
                    ("user".into(), "alice".into()),
                    ("database".into(), "db".into())
                ],
            }
        );
    }
}
