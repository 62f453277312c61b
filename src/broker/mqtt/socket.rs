//! A plain TCP connection's I/O: one task reads and writes the socket for
//! ntex-io, and frames what it reads on the way in (see `framing`).
//!
//! ntex-net's tokio driver starts two tasks per connection, one reading and
//! one writing, and framing as an I/O layer adds a buffer layer to ntex-io's
//! stack; ntex keeps all of it for the connection's whole life. One task that
//! frames as it reads keeps 0.6 KiB less per connected client (the broker
//! bench's memory figure). TLS connections keep ntex-net's driver: their
//! bytes can only be framed once decrypted, by the layer above TLS.
//!
//! The protocol with ntex-io is ntex-net's: the read side fills ntex's read
//! buffer while ntex says "ready" (it pauses reading when its buffer is full);
//! the write side hands the socket ntex's write pages while there are any, and
//! on shutdown flushes them before the connection stops. ntex also writes
//! directly through the handle, from the task that produced the bytes.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use ntex_bytes::{BytePage, BytesMut};
use ntex_io::{types, Handle, Io, IoContext, IoStream, IoTaskStatus, Readiness};
use ntex_service::cfg::SharedCfg;
use tokio::net::TcpStream;

use super::framing::Framer;

/// Spare room a read needs in a buffer before the buffer is grown.
const MIN_READ_ROOM: usize = 1024;
/// How much a buffer grows by when it has too little room: this, or what it
/// already holds if that is more (a large packet is copied few times).
const READ_GROWTH: usize = 16 * 1024;
/// The most one read asks for (the room is zeroed first).
const MAX_READ: usize = 64 * 1024;
/// At most this many of ntex's write pages go in one write call...
const WRITE_PAGES: usize = 16;
/// ...and pages stop being added once they hold this many bytes.
const WRITE_BYTES: usize = 64 * 1024;

/// An accepted plain TCP socket, ready for the protocol layer. The layer gets
/// whole packets only: the start of one is held back until the rest arrives
/// (one declared larger than `max_packet_size` is passed on as it comes, for
/// the decoder to refuse).
pub fn io(stream: std::net::TcpStream, cfg: SharedCfg, max_packet_size: usize) -> io::Result<Io> {
    stream.set_nonblocking(true)?;
    // MQTT packets are small and answered at once: no waiting to fill segments.
    stream.set_nodelay(true)?;
    let stream = TcpStream::from_std(stream)?;
    Ok(Io::new(
        Plain {
            stream,
            max_packet_size,
        },
        cfg,
    ))
}

struct Plain {
    stream: TcpStream,
    max_packet_size: usize,
}

impl IoStream for Plain {
    fn start(self, ctx: IoContext) -> Box<dyn Handle> {
        let peer = self.stream.peer_addr().ok().map(|peer| peer.ip());
        let socket = Rc::new(Socket {
            stream: self.stream,
            framer: Framer::new(self.max_packet_size).with_peer(peer),
            unfinished: RefCell::new(None),
            closing: Cell::new(false),
        });
        tokio::task::spawn_local(run(socket.clone(), ctx));
        Box::new(SocketHandle(socket))
    }
}

struct Socket {
    stream: TcpStream,
    framer: Framer,
    /// The start of a packet still arriving, held back from the decoder
    /// (only while there is one).
    unfinished: RefCell<Option<BytesMut>>,
    /// The framer refused the connection: it stops once its answer is out.
    closing: Cell<bool>,
}

/// What one read came to.
enum Read {
    /// Bytes arrived; there may be more.
    More,
    /// The socket has nothing more for now.
    Drained,
    /// ntex wants no more input until it has handled what it has.
    Paused,
    /// The connection is over (closed by the peer, refused, or failed).
    Stopped,
}

/// Where the write side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writing {
    Open,
    /// ntex asked to stop; `flush`: send what is buffered first.
    Closing {
        flush: bool,
    },
    Done,
}

/// The connection's one task: reading and writing until both are over.
async fn run(socket: Rc<Socket>, ctx: IoContext) {
    let mut reading = true;
    let mut writing = Writing::Open;
    poll_fn(|cx| {
        if reading && socket.poll_read(&ctx, cx).is_ready() {
            reading = false;
        }
        if writing != Writing::Done && socket.poll_write(&ctx, &mut writing, cx).is_ready() {
            writing = Writing::Done;
        }
        if reading || writing != Writing::Done {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    if !ctx.is_stopped() {
        ctx.stop(None);
    }
}

impl Socket {
    fn poll_read(&self, ctx: &IoContext, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match ready!(ctx.poll_read_ready(cx)) {
                Readiness::Ready => {}
                Readiness::Shutdown | Readiness::Terminate => return Poll::Ready(()),
            }
            if let Err(error) = ready!(self.stream.poll_read_ready(cx)) {
                ctx.stop(Some(error));
                return Poll::Ready(());
            }
            loop {
                match self.read(ctx) {
                    Read::More => {}
                    // The socket's readiness is cleared now: asking again
                    // registers this task for the next bytes.
                    Read::Drained => break,
                    // ntex wakes this task when it wants more.
                    Read::Paused => return Poll::Pending,
                    Read::Stopped => return Poll::Ready(()),
                }
            }
        }
    }

    /// One read from the socket; whole packets go on to ntex.
    fn read(&self, ctx: &IoContext) -> Read {
        let mut unfinished = self.unfinished.borrow_mut();
        let mut buf = ctx.get_read_buf();
        let start = buf.len();
        let result = match unfinished.as_mut() {
            // Reading straight into ntex's buffer; an unfinished packet at
            // its end is taken out below.
            None => read_into(&self.stream, &mut buf),
            Some(held) => read_into(&self.stream, held),
        };
        let mut replies = Vec::new();
        let mut drained = false;
        let status = match result {
            Ok(0) => {
                ctx.stop(None);
                Ok(0)
            }
            Ok(_) => {
                match unfinished.as_mut() {
                    None => {
                        let whole = self.framer.whole(&buf[start..], &mut replies);
                        let end = start + whole.len;
                        if end < buf.len() {
                            let mut held = BytesMut::new();
                            held.extend_from_slice(&buf[end..]);
                            *unfinished = Some(held);
                            buf.truncate(end);
                        }
                        if whole.all_dropped() {
                            // Only acknowledgements (a subscriber's usual read).
                            buf.truncate(start);
                        } else if !whole.edits.is_empty() {
                            let packets = buf[start..end].to_vec();
                            buf.truncate(start);
                            whole.pass_on(&packets, &mut buf);
                        }
                    }
                    Some(held) => {
                        let whole = self.framer.whole(held, &mut replies);
                        whole.pass_on(&held[..whole.len], &mut buf);
                        held.advance_to(whole.len);
                        if held.is_empty() {
                            *unfinished = None;
                        }
                    }
                }
                Ok(buf.len() - start)
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                drained = true;
                Ok(0)
            }
            Err(error) => Err(error),
        };
        drop(unfinished);
        let status = ctx.update_read_status(buf, status);
        if !replies.is_empty() {
            ctx.with_write_buf(|pages| pages.extend_from_slice(&replies));
            if self.framer.refused() {
                self.closing.set(true);
            }
            self.write(ctx);
        }
        if self.closing.get() {
            return Read::Stopped;
        }
        match status {
            IoTaskStatus::Io if drained => Read::Drained,
            IoTaskStatus::Io => Read::More,
            IoTaskStatus::Pause => Read::Paused,
            IoTaskStatus::Stop => Read::Stopped,
        }
    }

    fn poll_write(&self, ctx: &IoContext, writing: &mut Writing, cx: &mut Context<'_>) -> Poll<()> {
        if *writing == Writing::Open {
            match ready!(ctx.poll_write_ready(cx)) {
                Readiness::Ready => loop {
                    // Held until the store has written what they acknowledge.
                    ready!(self.framer.route().poll_writes(cx));
                    if let Err(error) = ready!(self.stream.poll_write_ready(cx)) {
                        ctx.update_write_status(Err(error));
                        return Poll::Ready(());
                    }
                    match self.write(ctx) {
                        IoTaskStatus::Io => {}
                        // All sent: ntex wakes this task when there is more.
                        IoTaskStatus::Pause => return Poll::Pending,
                        IoTaskStatus::Stop => return Poll::Ready(()),
                    }
                },
                Readiness::Shutdown => *writing = Writing::Closing { flush: true },
                Readiness::Terminate => *writing = Writing::Closing { flush: false },
            }
        }
        let Writing::Closing { flush } = *writing else {
            return Poll::Ready(());
        };
        if flush {
            ready!(self.framer.route().poll_writes(cx));
        }
        if !ctx.is_stopped() {
            match ready!(self.stream.poll_write_ready(cx)) {
                Ok(()) => {
                    if self.write(ctx) != IoTaskStatus::Stop {
                        ready!(ctx.shutdown(flush, cx));
                    }
                }
                Err(error) => {
                    ctx.update_write_status(Err(error));
                }
            }
        }
        if !ctx.is_stopped() {
            ctx.stop(None);
        }
        Poll::Ready(())
    }

    /// One write of ntex's pending pages to the socket. `Pause`: all sent.
    /// While the store holds the connection's writes nothing is written and
    /// ntex is told nothing: it wakes the task, which waits in `poll_write`.
    fn write(&self, ctx: &IoContext) -> IoTaskStatus {
        if self.framer.route().writes_held() {
            return IoTaskStatus::Io;
        }
        let result = ctx.with_write_buf(|pages| {
            let mut taken: [Option<BytePage>; WRITE_PAGES] = std::array::from_fn(|_| None);
            let (mut count, mut size) = (0, 0);
            while count < WRITE_PAGES && size < WRITE_BYTES {
                let Some(page) = pages.take() else {
                    break;
                };
                size += page.len();
                taken[count] = Some(page);
                count += 1;
            }
            if count == 0 {
                return Ok(false);
            }
            let written = {
                let mut slices = [IoSlice::new(&[]); WRITE_PAGES];
                for (slice, page) in slices.iter_mut().zip(taken.iter().flatten()) {
                    *slice = IoSlice::new(page);
                }
                self.stream.try_write_vectored(&slices[..count])
            };
            let outcome = match written {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the socket took no bytes",
                )),
                Ok(mut left) => {
                    for page in taken.iter_mut().flatten() {
                        let done = left.min(page.len());
                        page.advance_to(done);
                        left -= done;
                        if left == 0 {
                            break;
                        }
                    }
                    Ok(true)
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(false),
                Err(error) => Err(error),
            };
            // What the socket did not take goes back in front, in order.
            for page in taken[..count].iter_mut().rev() {
                if let Some(page) = page.take().filter(|page| !page.is_empty()) {
                    pages.prepend(page);
                }
            }
            outcome
        });
        let status = ctx.update_write_status(result);
        if status == IoTaskStatus::Pause && self.closing.get() {
            // The refusal is out: the connection ends here.
            ctx.stop(None);
        }
        status
    }
}

/// Reads what the socket has into the spare room at the end of `buf`.
fn read_into(stream: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    if buf.capacity() - buf.len() < MIN_READ_ROOM {
        buf.reserve(READ_GROWTH.max(buf.len()));
    }
    let start = buf.len();
    buf.resize(buf.capacity().min(start + MAX_READ), 0);
    let result = stream.try_read(&mut buf[start..]);
    buf.truncate(start + result.as_ref().map_or(0, |read| *read));
    result
}

/// What ntex-io holds of the socket: it asks for the peer's address, and
/// writes directly when a task has produced enough to send.
struct SocketHandle(Rc<Socket>);

impl Handle for SocketHandle {
    fn query(&self, id: TypeId) -> Option<Box<dyn Any>> {
        if id == TypeId::of::<types::PeerAddr>() {
            let peer = self.0.stream.peer_addr().ok()?;
            return Some(Box::new(types::PeerAddr(peer)));
        }
        self.0.framer.query(id)
    }

    fn write(&self, ctx: &IoContext) {
        self.0.write(ctx);
    }
}
