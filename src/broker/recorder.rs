//! Registrations written to the state file in batches.
//!
//! Each pending request is a change to the state file, and every change is a
//! locked read-modify-write with an fsync. One write per login would make a
//! flood of new devices queue behind the disk; instead one task takes every
//! attempt that is waiting, applies them all in one update, and answers each.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::live::LiveState;
use crate::state::{LoginAttempt, Recorded};

/// Most attempts applied in one write.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<Recorded, String>>;

pub struct Recorder {
    queue: mpsc::UnboundedSender<(LoginAttempt, Reply)>,
}

impl Recorder {
    /// Starts the writer task; call within the runtime.
    pub fn start(live: Arc<LiveState>) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(live, waiting));
        Self { queue }
    }

    /// Records one attempt; the error is the state file's, as text.
    pub async fn record(&self, attempt: LoginAttempt) -> Result<Recorded, String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((attempt, reply))
            .map_err(|_| "the registration writer stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the registration writer stopped".to_owned())?
    }
}

async fn write_batches(
    live: Arc<LiveState>,
    mut waiting: mpsc::UnboundedReceiver<(LoginAttempt, Reply)>,
) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (attempts, replies): (Vec<LoginAttempt>, Vec<Reply>) = batch.into_iter().unzip();
        let writer = live.clone();
        let written = tokio::task::spawn_blocking(move || {
            writer.update(|state| {
                let now = chrono::Utc::now();
                attempts
                    .into_iter()
                    .map(|attempt| state.record_attempt(attempt, now))
                    .collect::<Vec<_>>()
            })
        })
        .await;
        match written {
            Ok(Ok(outcomes)) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Ok(Err(error)) => {
                let message = error.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
            Err(panic) => {
                for reply in replies {
                    let _ = reply.send(Err(format!("the state update panicked: {panic}")));
                }
            }
        }
    }
}
