//! Worker threads. Each owns the `Store`s of several mods and runs their
//! requests in the order the main thread sent them, so a frame costs one
//! wake-up per worker rather than one per mod. Compiling happens on short-
//! lived loader threads, never on the main thread, and an identical file is
//! compiled once.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::bindings::GameModPre;
use super::instance::{Instance, ModSpec};
use crate::host::HostState;
use crate::wire::{self, Fault, FaultKind, Hook, Reply, Request};

/// Messages to a worker thread.
enum Job {
    /// A compiled mod to instantiate and initialise (or why it could not be
    /// compiled); the worker answers `Ready` or `Failed` on `replies`.
    Start {
        id: usize,
        spec: ModSpec,
        prepared: Result<GameModPre<HostState>, Fault>,
        replies: Sender<Vec<u8>>,
    },
    /// A MessagePack [`Request`] for mod `id`.
    Request { id: usize, bytes: Vec<u8> },
}

/// The main thread's end of one mod.
pub(crate) struct Worker {
    id: usize,
    jobs: Sender<Job>,
    pub replies: Receiver<Vec<u8>>,
    /// Index of the worker thread that runs the mod.
    pub thread: usize,
}

impl Worker {
    /// Queues a request; false when the worker is gone or its queue is full.
    pub(crate) fn send(&self, request: &Request) -> bool {
        self.jobs
            .try_send(Job::Request {
                id: self.id,
                bytes: wire::encode(request),
            })
            .is_ok()
    }

    /// Queues an encoded request.
    pub(crate) fn send_bytes(&self, bytes: Vec<u8>) -> bool {
        self.jobs
            .try_send(Job::Request { id: self.id, bytes })
            .is_ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Every guest call is bounded by the epoch deadline, so the worker
        // sees this within one call's hard limit; nobody waits for it.
        self.send(&Request::Shutdown);
    }
}

/// Requests a worker thread may have queued.
const QUEUE: usize = 4096;

/// The worker threads of one app.
pub(crate) struct WorkerPool {
    threads: Vec<(Sender<Job>, JoinHandle<()>)>,
}

impl WorkerPool {
    /// Starts `count` worker threads.
    pub(crate) fn new(count: usize) -> std::io::Result<Self> {
        let mut threads = Vec::with_capacity(count);
        for i in 0..count.max(1) {
            let (tx, rx) = crossbeam_channel::bounded(QUEUE);
            let handle = std::thread::Builder::new()
                .name(format!("mod worker {i}"))
                .spawn(move || run(rx))?;
            threads.push((tx, handle));
        }
        Ok(Self { threads })
    }

    /// Loads the given mods: each is compiled on a loader thread, then
    /// started on worker thread `index % threads` (load order decides, so
    /// runs are repeatable). Returns the main thread's ends, in order.
    pub(crate) fn load(&self, specs: Vec<ModSpec>) -> std::io::Result<Vec<Worker>> {
        let (job_tx, job_rx) = crossbeam_channel::unbounded::<(usize, ModSpec, Sender<Vec<u8>>)>();
        let mut workers = Vec::with_capacity(specs.len());
        for (id, spec) in specs.into_iter().enumerate() {
            let thread = id % self.threads.len();
            let (rep_tx, rep_rx) = crossbeam_channel::bounded(2);
            workers.push(Worker {
                id,
                jobs: self.threads[thread].0.clone(),
                replies: rep_rx,
                thread,
            });
            // An unbounded queue is fine here: it holds at most one job per
            // file found at start-up.
            let _ = job_tx.send((id, spec, rep_tx));
        }
        drop(job_tx);
        let loaders = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(workers.len());
        let cache = Arc::new(CompileCache::default());
        for i in 0..loaders {
            let job_rx = job_rx.clone();
            let cache = cache.clone();
            let threads: Vec<Sender<Job>> = self.threads.iter().map(|(t, _)| t.clone()).collect();
            std::thread::Builder::new()
                .name(format!("mod loader {i}"))
                .spawn(move || {
                    for (id, spec, replies) in job_rx {
                        let prepared = cache.prepare(&spec);
                        let thread = &threads[id % threads.len()];
                        let _ = thread.send(Job::Start {
                            id,
                            spec,
                            prepared,
                            replies,
                        });
                    }
                })?;
        }
        Ok(workers)
    }

    /// How many worker threads there are.
    pub(crate) fn len(&self) -> usize {
        self.threads.len()
    }
}

/// Compiled mods by file content, so copies of one file compile once.
#[derive(Default)]
struct CompileCache {
    done: std::sync::Mutex<HashMap<Arc<[u8]>, GameModPre<HostState>>>,
}

impl CompileCache {
    fn prepare(&self, spec: &ModSpec) -> Result<GameModPre<HostState>, Fault> {
        let bytes: Arc<[u8]> = std::fs::read(&spec.file)
            .map_err(|e| Fault {
                kind: FaultKind::Invalid,
                hook: Hook::Load,
                message: format!("cannot read the file: {e}"),
            })?
            .into();
        if let Some(pre) = self.done.lock().ok().and_then(|d| d.get(&bytes).cloned()) {
            return Ok(pre);
        }
        let pre = spec.runtime.prepare(&bytes)?;
        if let Ok(mut done) = self.done.lock() {
            done.insert(bytes, pre.clone());
        }
        Ok(pre)
    }
}

/// A mod as its worker thread holds it.
struct Hosted {
    spec: ModSpec,
    pre: GameModPre<HostState>,
    instance: Instance,
    replies: Sender<Vec<u8>>,
}

fn run(jobs: Receiver<Job>) {
    let mut mods: HashMap<usize, Hosted> = HashMap::new();
    // Replies are held until the queue is empty, so the main thread, which
    // collects them in one go, is woken once a frame rather than once a mod.
    let mut replies: Vec<(Sender<Vec<u8>>, Vec<u8>)> = Vec::new();
    let flush = |replies: &mut Vec<(Sender<Vec<u8>>, Vec<u8>)>| {
        for (to, bytes) in replies.drain(..) {
            let _ = to.try_send(bytes);
        }
    };
    while let Ok(job) = jobs.recv() {
        handle(job, &mut mods, &mut replies);
        while let Ok(job) = jobs.try_recv() {
            handle(job, &mut mods, &mut replies);
        }
        flush(&mut replies);
    }
}

fn handle(job: Job, mods: &mut HashMap<usize, Hosted>, out: &mut Vec<(Sender<Vec<u8>>, Vec<u8>)>) {
    {
        match job {
            Job::Start {
                id,
                spec,
                prepared,
                replies,
            } => {
                let started =
                    prepared.and_then(|pre| Instance::start(&spec, &pre).map(|i| (pre, i)));
                match started {
                    Ok((pre, instance)) => {
                        out.push((
                            replies.clone(),
                            wire::encode(&Reply::Ready(instance.manifest.clone())),
                        ));
                        mods.insert(
                            id,
                            Hosted {
                                spec,
                                pre,
                                instance,
                                replies,
                            },
                        );
                    }
                    Err(fault) => out.push((replies, wire::encode(&Reply::Failed(fault)))),
                }
            }
            Job::Request { id, bytes } => {
                let Some(hosted) = mods.get_mut(&id) else {
                    return;
                };
                let reply = match wire::decode::<Request>(&bytes) {
                    Ok(Request::Tick(tick)) => hosted.instance.tick(tick),
                    Ok(Request::Reload) => {
                        match hosted.instance.reload(&hosted.spec, &hosted.pre) {
                            Ok(fresh) => {
                                hosted.instance = fresh;
                                Reply::Reloaded
                            }
                            Err(fault) => Reply::Failed(fault),
                        }
                    }
                    Ok(Request::Shutdown) => {
                        mods.remove(&id);
                        return;
                    }
                    Err(e) => Reply::Failed(Fault {
                        kind: FaultKind::Unresponsive,
                        hook: Hook::Tick,
                        message: format!("the host sent a message the worker cannot read: {e}"),
                    }),
                };
                out.push((hosted.replies.clone(), wire::encode(&reply)));
            }
        }
    }
}
