//! Registrations written to the state file in batches.
//!
//! Each pending request is a change to the state file, and every change is a
//! locked read-modify-write with an fsync. One write per login would make a
//! flood of new devices queue behind the disk; instead one task takes every
//! attempt that is waiting, applies them all in one update, and answers each.
//!
//! A device retrying while it waits for approval (some client libraries
//! retry hundreds of times a second) would still rewrite the file on every
//! attempt, and gateways keep their state on SD cards and eMMC. So a request
//! seen again unchanged (same password, client id, protocol and peer IP) is
//! written at most once per interval (10 s by default): the repeats in
//! between are answered at once from the state as it is, counted in memory,
//! and written together when the interval is over. Anything new (a request,
//! a password, a client id, an address) is written at once, and so are the
//! counts of a request when it is.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::live::LiveState;
use crate::state::{LoginAttempt, Recorded};

/// Most attempts applied in one write.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<Recorded, String>>;

/// What the writer task is asked to do.
enum Request {
    Record(LoginAttempt, Reply),
    /// Write the counted repeats now (the broker is stopping).
    Flush(oneshot::Sender<()>),
}

pub struct Recorder {
    queue: mpsc::UnboundedSender<Request>,
}

impl Recorder {
    /// Starts the writer task; call within the runtime.
    pub fn start(live: Arc<LiveState>, repeat_interval: Duration) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(
            Writer {
                live,
                repeat_interval,
                written_at: HashMap::new(),
                deferred: HashMap::new(),
            }
            .run(waiting),
        );
        Self { queue }
    }

    /// Records one attempt; the error is the state file's, as text.
    pub async fn record(&self, attempt: LoginAttempt) -> Result<Recorded, String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request::Record(attempt, reply))
            .map_err(|_| "the registration writer stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the registration writer stopped".to_owned())?
    }

    /// Writes the repeats counted and not written yet, and waits for it.
    pub async fn flush(&self) {
        let (done, finished) = oneshot::channel();
        if self.queue.send(Request::Flush(done)).is_ok() {
            let _ = finished.await;
        }
    }
}

/// Repeats of one request not written yet: the latest stands for all.
struct Deferred {
    latest: LoginAttempt,
    times: u64,
}

struct Writer {
    live: Arc<LiveState>,
    repeat_interval: Duration,
    /// When each request was last written, by username (for the interval).
    written_at: HashMap<String, Instant>,
    deferred: HashMap<String, Deferred>,
}

/// One attempt to write: what it stands for, and who waits for the answer.
type Write = (LoginAttempt, u64, Option<Reply>);

impl Writer {
    async fn run(mut self, mut waiting: mpsc::UnboundedReceiver<Request>) {
        let mut tick = tokio::time::interval(self.repeat_interval.min(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = waiting.recv() => {
                    let Some(first) = received else {
                        break;
                    };
                    let mut batch = Vec::new();
                    let mut flushes = Vec::new();
                    let mut next = Some(first);
                    while let Some(request) = next.take() {
                        match request {
                            Request::Record(attempt, reply) => batch.push((attempt, reply)),
                            Request::Flush(done) => flushes.push(done),
                        }
                        if batch.len() < MAX_BATCH {
                            next = waiting.try_recv().ok();
                        }
                    }
                    let mut writes = self.sort_out(batch);
                    if !flushes.is_empty() {
                        writes.extend(self.all_deferred());
                    }
                    self.write(writes).await;
                    for done in flushes {
                        let _ = done.send(());
                    }
                }
                _ = tick.tick() => {
                    let due = self.due();
                    self.write(due).await;
                }
            }
        }
        // The broker is stopping: what was counted is written.
        let rest = self.all_deferred();
        self.write(rest).await;
    }

    fn all_deferred(&mut self) -> Vec<Write> {
        self.deferred
            .drain()
            .map(|(_, deferred)| (deferred.latest, deferred.times, None))
            .collect()
    }

    /// Answers the unchanged repeats of requests written within the
    /// interval at once, and returns the attempts to write now.
    fn sort_out(&mut self, batch: Vec<(LoginAttempt, Reply)>) -> Vec<Write> {
        let snapshot = self.live.snapshot();
        let now = Instant::now();
        let wall_now = chrono::Utc::now();
        let mut writes = Vec::new();
        for (attempt, reply) in batch {
            let recent = self
                .written_at
                .get(&attempt.username)
                .is_some_and(|at| now.duration_since(*at) < self.repeat_interval);
            if recent {
                if let Some(conflict) = snapshot.state.unchanged_repeat(&attempt, wall_now) {
                    let _ = reply.send(Ok(Recorded::Updated { conflict }));
                    match self.deferred.get_mut(&attempt.username) {
                        Some(deferred) => {
                            deferred.latest = attempt;
                            deferred.times += 1;
                        }
                        None => {
                            self.deferred.insert(
                                attempt.username.clone(),
                                Deferred {
                                    latest: attempt,
                                    times: 1,
                                },
                            );
                        }
                    }
                    continue;
                }
            }
            // Written now, with the repeats counted before it.
            let earlier = self
                .deferred
                .remove(&attempt.username)
                .map_or(0, |deferred| deferred.times);
            self.written_at.insert(attempt.username.clone(), now);
            writes.push((attempt, earlier + 1, Some(reply)));
        }
        writes
    }

    /// The counted repeats whose request's interval is over.
    fn due(&mut self) -> Vec<Write> {
        let now = Instant::now();
        let interval = self.repeat_interval;
        let written_at = &mut self.written_at;
        let mut due = Vec::new();
        self.deferred.retain(|username, deferred| {
            let waiting = written_at
                .get(username)
                .is_some_and(|at| now.duration_since(*at) < interval);
            if waiting {
                return true;
            }
            written_at.insert(username.clone(), now);
            due.push((deferred.latest.clone(), deferred.times, None));
            false
        });
        // Forget requests not written for a whole interval: the next attempt
        // of each is written at once anyway.
        let deferred = &self.deferred;
        self.written_at.retain(|username, at| {
            now.duration_since(*at) < interval || deferred.contains_key(username)
        });
        due
    }

    async fn write(&self, writes: Vec<Write>) {
        if writes.is_empty() {
            return;
        }
        let (attempts, replies): (Vec<(LoginAttempt, u64)>, Vec<Option<Reply>>) = writes
            .into_iter()
            .map(|(attempt, times, reply)| ((attempt, times), reply))
            .unzip();
        let writer = self.live.clone();
        let written = tokio::task::spawn_blocking(move || {
            writer.update(|state| {
                let now = chrono::Utc::now();
                attempts
                    .into_iter()
                    .map(|(attempt, times)| state.record_repeated_attempt(attempt, times, now))
                    .collect::<Vec<_>>()
            })
        })
        .await;
        let answers: Vec<Result<Recorded, String>> = match written {
            Ok(Ok(outcomes)) => outcomes.into_iter().map(Ok).collect(),
            Ok(Err(error)) => vec![Err(error.to_string()); replies.len()],
            Err(panic) => vec![Err(format!("the state update panicked: {panic}")); replies.len()],
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            match reply {
                Some(reply) => {
                    let _ = reply.send(answer);
                }
                None => {
                    if let Err(error) = answer {
                        tracing::error!(
                            "cannot write the repeated attempts of pending requests: {error}"
                        );
                    }
                }
            }
        }
    }
}
