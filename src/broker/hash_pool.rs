//! The threads that run argon2, apart from the threads that route messages.
//!
//! A password check is ~15 ms of pure CPU. During a connect storm there are
//! hundreds of them queued, and on a small gateway they share the cores with
//! the async workers that carry every live client's messages. Two things keep
//! those messages on time:
//! - a fixed number of threads, so argon2 never takes more than `workers`
//!   cores, and each thread keeps its 19 MiB of working memory warm between
//!   checks (tokio's blocking pool would start and stop threads);
//! - the threads lower their own scheduling priority (nice 10), so when an
//!   async worker wakes up with a message to route, the kernel runs it first
//!   and argon2 gets what is left. Logins are then slower under load, never
//!   the message traffic.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// How much nicer than the message threads the argon2 threads are.
const NICENESS: libc::c_int = 10;

type Job = Box<dyn FnOnce() + Send>;

pub struct HashPool {
    jobs: mpsc::Sender<Job>,
}

impl HashPool {
    /// Starts `workers` threads (at least one). They end when the pool is dropped.
    pub fn new(workers: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("mqreg-argon2-{index}"))
                .spawn(move || {
                    lower_own_priority();
                    loop {
                        // The lock is held only while waiting for a job, not running it.
                        let job = queue.lock().unwrap().recv();
                        match job {
                            // A panic fails that one login (its caller sees the
                            // result dropped), not the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .expect("cannot start an argon2 thread");
        }
        Self { jobs }
    }

    /// Runs `work` on a pool thread, in arrival order, and waits for its result.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone (its client hung up); nothing to tell then.
            let _ = done.send(work());
        });
        self.jobs
            .send(job)
            .expect("argon2 threads never stop while the pool lives");
        result.await.expect("argon2 work panicked")
    }
}

/// On Linux, niceness belongs to each thread, and `nice` changes the calling
/// thread's only (relative to what the process was started with, capped at
/// 19). Raising it needs no privilege; if it fails anyway the pool still
/// works, only with less margin for the message threads.
fn lower_own_priority() {
    // nice() may legitimately return -1, so errno tells failure apart.
    // SAFETY: plain integer calls that touch no memory of ours.
    let failed = unsafe {
        *libc::__errno_location() = 0;
        libc::nice(NICENESS) == -1 && *libc::__errno_location() != 0
    };
    if failed {
        tracing::debug!(
            "cannot lower the argon2 thread's priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_concurrent_work_and_returns_each_result() {
        let pool = Arc::new(HashPool::new(2));
        let tasks: Vec<_> = (0..8u64)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.run(move || i * i).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        assert_eq!(results, vec![0, 1, 4, 9, 16, 25, 36, 49]);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_and_leaves_the_thread_working() {
        let pool = Arc::new(HashPool::new(1));
        let shared = pool.clone();
        let failed = tokio::spawn(async move { shared.run(|| -> u8 { panic!("bad hash") }).await });
        assert!(failed.await.is_err());
        assert_eq!(pool.run(|| 7).await, 7);
    }

    #[tokio::test]
    async fn its_threads_run_at_lower_priority_than_the_caller() {
        let pool = HashPool::new(1);
        // SAFETY: getpriority reads the calling thread's niceness.
        let theirs = pool
            .run(|| unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) })
            .await;
        let ours = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        assert!(
            theirs > ours || theirs == 19,
            "argon2 thread nice {theirs}, caller nice {ours}"
        );
    }
}
