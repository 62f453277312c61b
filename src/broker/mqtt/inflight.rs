//! How much of one connection's input is being handled at once: at most so
//! many packets, and so many payload bytes, in the PUBLISH and control
//! services; past either, the connection's next packet is not read.
//!
//! ntex-mqtt's own middleware keeps the same two bounds. Ours differs in
//! memory only, because ntex keeps the allocation that holds a connection's
//! readiness future for the connection's whole life:
//! - the two waits come one after the other rather than side by side
//!   (nothing can take room meanwhile: nothing is called until the
//!   connection is ready);
//! - the service's own readiness future (ntex-mqtt's dispatcher's, 1.2 KiB)
//!   is boxed, so it is held only while it is being polled.
//!
//! Together they save 2.3 KiB per connected client (the broker bench's
//! memory figure), at the cost of one allocation per readiness check.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Context, Poll};

use ntex_mqtt::SizedRequest;
use ntex_service::{Ctx, Middleware, Service};
use ntex_util::task::LocalWaker;

/// Payload bytes in the services at once, past which reading waits (as
/// ntex-mqtt's default, `MqttServiceConfig::set_max_receive_size`).
pub const MAX_BYTES_IN_FLIGHT: usize = 65_535;

/// The middleware: `max_packets` and `max_bytes` at once (0: no bound).
#[derive(Debug, Clone, Copy)]
pub struct InFlight {
    pub max_packets: u16,
    pub max_bytes: usize,
}

impl<S, St> Middleware<S, St> for InFlight {
    type Service = InFlightService<S>;

    fn create(&self, _: &St, service: S) -> Self::Service {
        InFlightService {
            service,
            room: Room {
                max_packets: usize::from(self.max_packets),
                max_bytes: self.max_bytes,
                packets: Cell::new(0),
                bytes: Cell::new(0),
                waiting: LocalWaker::new(),
            },
            streaming: Cell::new(false),
        }
    }
}

pub struct InFlightService<S> {
    service: S,
    room: Room,
    /// A PUBLISH whose payload is still arriving in chunks: its chunks must
    /// get through whatever the bounds say, or the PUBLISH would wait forever
    /// for them while holding the room they need.
    streaming: Cell<bool>,
}

impl<S, St, Req> Service<St, Req> for InFlightService<S>
where
    S: Service<St, Req>,
    Req: SizedRequest + 'static,
{
    type Res = S::Res;
    type Error = S::Error;

    async fn ready(&self, ctx: Ctx<'_, Self, St>) -> Result<(), S::Error> {
        if !self.streaming.get() {
            poll_fn(|cx| self.room.poll_free(cx)).await;
        }
        // Boxed: see the module docs.
        Box::pin(ctx.ready(&self.service)).await
    }

    async fn call(&self, request: Req, ctx: Ctx<'_, Self, St>) -> Result<S::Res, S::Error> {
        if request.is_publish() {
            self.streaming.set(true);
        } else if !request.is_chunk() {
            self.streaming.set(false);
        }
        let bytes = if self.room.max_bytes > 0 {
            request.size() as usize
        } else {
            0
        };
        let _taken = self.room.take(bytes);
        ctx.call(&self.service, request).await
    }

    ntex_service::forward_shutdown!(St, service);
}

struct Room {
    max_packets: usize,
    max_bytes: usize,
    packets: Cell<usize>,
    bytes: Cell<usize>,
    /// The connection's readiness, when it waits for room.
    waiting: LocalWaker,
}

impl Room {
    fn is_free(&self) -> bool {
        (self.max_packets == 0 || self.packets.get() < self.max_packets)
            && (self.max_bytes == 0 || self.bytes.get() <= self.max_bytes)
    }

    fn poll_free(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.waiting.register(cx.waker());
        if self.is_free() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    fn take(&self, bytes: usize) -> Taken<'_> {
        self.packets.set(self.packets.get() + 1);
        self.bytes.set(self.bytes.get() + bytes);
        if !self.is_free() {
            // The dispatcher asks again, and now waits.
            self.waiting.wake();
        }
        Taken { room: self, bytes }
    }
}

/// Room taken by one packet until it is handled.
struct Taken<'a> {
    room: &'a Room,
    bytes: usize,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let room = self.room;
        let was_free = room.is_free();
        room.packets.set(room.packets.get() - 1);
        room.bytes.set(room.bytes.get() - self.bytes);
        if !was_free && room.is_free() {
            room.waiting.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(max_packets: usize, max_bytes: usize) -> Room {
        Room {
            max_packets,
            max_bytes,
            packets: Cell::new(0),
            bytes: Cell::new(0),
            waiting: LocalWaker::new(),
        }
    }

    #[test]
    fn packets_past_the_bound_wait_until_one_is_handled() {
        let room = room(2, 0);
        let first = room.take(10);
        assert!(room.is_free());
        let second = room.take(10);
        assert!(!room.is_free());
        drop(first);
        assert!(room.is_free());
        drop(second);
        assert_eq!(room.packets.get(), 0);
    }

    #[test]
    fn bytes_past_the_bound_wait_and_one_large_packet_still_passes() {
        let room = room(0, 100);
        // Room is checked before a packet is taken, so one packet larger than
        // the bound goes through alone rather than never.
        let large = room.take(500);
        assert!(!room.is_free());
        drop(large);
        assert!(room.is_free());
        let _a = room.take(60);
        let _b = room.take(40);
        assert!(room.is_free(), "at the bound is still free");
        let _c = room.take(1);
        assert!(!room.is_free());
    }

    #[test]
    fn no_bounds_means_always_free() {
        let room = room(0, 0);
        let _taken: Vec<_> = (0..1000).map(|_| room.take(1 << 20)).collect();
        assert!(room.is_free());
    }
}
