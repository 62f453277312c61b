//! The control plane's way into the network thread.
//!
//! The core and every connection belong to the network thread and are never
//! shared (see `server`). The HTTP API runs on the tokio runtime; it asks
//! the network thread through a channel, and a task there answers from the
//! core between packets. A request costs the network thread one short turn.

use tokio::sync::{mpsc, oneshot};

use super::core::{ClientInfo, Shared, Stats};
use crate::error::{Error, Result};

/// Requests waiting for the network thread before more are refused.
const QUEUE: usize = 64;

enum Request {
    Clients(oneshot::Sender<Vec<ClientInfo>>),
    Kick(String, oneshot::Sender<bool>),
    Stats(oneshot::Sender<Stats>),
}

/// A handle on the running broker, for the control plane.
#[derive(Clone)]
pub struct BrokerHandle {
    requests: mpsc::Sender<Request>,
}

/// The network thread's end: [`Requests::serve`] answers until the broker stops.
pub struct Requests(mpsc::Receiver<Request>);

pub fn channel() -> (BrokerHandle, Requests) {
    let (requests, receiver) = mpsc::channel(QUEUE);
    (BrokerHandle { requests }, Requests(receiver))
}

fn unavailable() -> Error {
    Error::failure("the broker is stopping or too busy to answer; try again")
}

impl BrokerHandle {
    async fn ask<T>(&self, request: impl FnOnce(oneshot::Sender<T>) -> Request) -> Result<T> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .try_send(request(answer))
            .map_err(|_| unavailable())?;
        answered.await.map_err(|_| unavailable())
    }

    pub async fn clients(&self) -> Result<Vec<ClientInfo>> {
        self.ask(Request::Clients).await
    }

    /// Closes a client's connection (v5 DISCONNECT 0x98); false when no
    /// such client is connected.
    pub async fn kick(&self, client_id: &str) -> Result<bool> {
        let client_id = client_id.to_owned();
        self.ask(|answer| Request::Kick(client_id, answer)).await
    }

    pub async fn stats(&self) -> Result<Stats> {
        self.ask(Request::Stats).await
    }
}

impl Requests {
    /// Answers requests from the core; runs on the network thread.
    pub async fn serve(mut self, core: Shared) {
        while let Some(request) = self.0.recv().await {
            match request {
                Request::Clients(answer) => {
                    let _ = answer.send(core.borrow().clients());
                }
                Request::Kick(client_id, answer) => {
                    let _ = answer.send(core.borrow_mut().kick(&client_id));
                }
                Request::Stats(answer) => {
                    let _ = answer.send(core.borrow().stats());
                }
            }
        }
    }
}
