//! Worker threads. They share one queue of requests and one table of the
//! mods' `Store`s: any idle worker runs the next request, so a mod that is
//! slow or loops holds one thread to its deadline and the others go on
//! running every other mod. When every worker is held by a long call while
//! requests wait, the courier starts a spare worker, so even as many slow
//! mods as there are workers make no other mod late. A worker holds its
//! replies until the queue is empty, so a frame costs about one wake-up per
//! worker rather than one per mod. Compiling happens on short-lived loader
//! threads, never on the main thread, and an identical file is compiled
//! once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::contract::ModPre;
use super::disk_cache::{Digest32, digest};
use super::engine::read_mod_file;
use super::gauge::Gauge;
use super::instance::{Instance, ModSpec, SwapError};
use crate::fault::{Fault, FaultKind, Hook};
use crate::protocol::{Reply, Request};
use crate::registry::LoadPhase;

/// Messages to the worker threads.
enum Job {
    /// A compiled mod to instantiate and initialise (or why it could not be
    /// compiled); the worker answers `Ready` or `Failed` on `replies`.
    Start {
        id: usize,
        spec: ModSpec,
        prepared: Result<ModPre, Fault>,
        replies: Sender<(u64, Reply)>,
        gauge: Arc<Gauge>,
    },
    /// A [`Request`] for mod `id`, numbered `seq`.
    Request {
        id: usize,
        seq: u64,
        request: Request,
    },
    /// Swap mod `id` to new code, keeping its state: `save` on the running
    /// instance, a fresh one from `pre` with `init`, then `restore`. If the
    /// new one fails, the old one goes on. Numbered `seq` like a request.
    Swap {
        id: usize,
        seq: u64,
        spec: Box<ModSpec>,
        pre: ModPre,
    },
}

/// The main thread's end of one mod.
pub(crate) struct Worker {
    id: usize,
    jobs: Sender<Job>,
    /// Replies, each with the number of the request it answers (0 for the
    /// start-up reply).
    replies: Receiver<(u64, Reply)>,
    /// The number of the last request sent.
    sent: u64,
    /// Where its loading stands, what its last tick cost.
    gauge: Arc<Gauge>,
}

impl Worker {
    /// What the mod's loader and worker say without a message.
    pub(crate) fn gauge(&self) -> &Arc<Gauge> {
        &self.gauge
    }

    /// Queues a request; false when the worker is gone or its queue is full.
    pub(crate) fn send(&mut self, request: Request) -> bool {
        let seq = self.sent + 1;
        let sent = self
            .jobs
            .try_send(Job::Request {
                id: self.id,
                seq,
                request,
            })
            .is_ok();
        if sent {
            self.sent = seq;
        }
        sent
    }

    /// The reply to the last request, if it has come. Replies to earlier
    /// requests (a tick given up on as unresponsive, say) are dropped.
    pub(crate) fn try_recv(&self) -> Option<Reply> {
        while let Ok((seq, reply)) = self.replies.try_recv() {
            if seq == self.sent {
                return Some(reply);
            }
        }
        None
    }

    /// Queues a swap of the mod to the code in `pre` (see [`Job::Swap`]);
    /// false when the worker is gone or its queue is full.
    pub(crate) fn send_swap(&mut self, spec: ModSpec, pre: ModPre) -> bool {
        let seq = self.sent + 1;
        let sent = self
            .jobs
            .try_send(Job::Swap {
                id: self.id,
                seq,
                spec: Box::new(spec),
                pre,
            })
            .is_ok();
        if sent {
            self.sent = seq;
        }
        sent
    }

    /// Waits up to `wait` for the reply to the last request.
    pub(crate) fn recv_timeout(&self, wait: std::time::Duration) -> Option<Reply> {
        let until = std::time::Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.replies.recv_timeout(left) {
                Ok((seq, reply)) if seq == self.sent => return Some(reply),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Every guest call is bounded by the epoch deadline, so the worker
        // sees this within one call's hard limit; nobody waits for it.
        let _ = self.send(Request::Shutdown);
    }
}

/// Requests the workers may have queued.
const QUEUE: usize = 4096;

/// Every mod's `Store` and compiled code, by id, shared by the workers.
/// Each mod has a lock of its own: a worker holds it while it runs one of
/// the mod's requests, so one mod's requests never run at once. `None`
/// marks a mod let go while it was still compiling.
type Mods = Mutex<HashMap<usize, Option<Arc<Mutex<Hosted>>>>>;

/// The worker threads of one app.
pub(crate) struct WorkerPool {
    jobs: Sender<Job>,
    /// Workers started at first (spares come and stay as needed).
    count: usize,
    /// Tells the courier to end.
    stop: Arc<AtomicBool>,
    /// The id the next mod gets in the workers' table.
    next_id: AtomicUsize,
    /// Compiled mods by file content, for every load and update.
    cache: Arc<CompileCache>,
    /// The queue of the loader threads, which read and compile files.
    compiles: Sender<CompileJob>,
}

/// Reading and compiling one file, on a loader thread.
type CompileJob = Box<dyn FnOnce() + Send>;

/// Loader threads: as many as cores, at most four. Files wait in one queue
/// for them, so whatever the mods folder does (a thousand files dropped
/// at once, a file rewritten a hundred times a second) the threads and the
/// files held in memory stay bounded; the compile itself runs on the
/// plugin's low-priority compiler pool.
fn start_loaders() -> std::io::Result<Sender<CompileJob>> {
    let (jobs, queue) = crossbeam_channel::unbounded::<CompileJob>();
    let loaders = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    for i in 0..loaders {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("mod loader {i}"))
            .spawn(move || {
                for job in queue {
                    job();
                }
            })?;
    }
    Ok(jobs)
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Spare workers the courier may start beyond the first ones.
const SPARES: usize = 16;

/// A call running this long holds its worker: when every worker is held
/// and requests wait, a spare is started.
const HELD: Duration = Duration::from_millis(5);

/// What the workers share: the queue, the mods, each worker's held replies
/// and how many workers run.
struct Shared {
    queue: Receiver<Job>,
    mods: Mods,
    outboxes: Box<[Mutex<Outbox>]>,
    started: AtomicUsize,
    /// The workers' nice value, when they run below the game's threads.
    nice: Option<i32>,
}

impl Shared {
    /// Starts worker number `i`.
    fn start_worker(self: &Arc<Self>, i: usize) -> std::io::Result<()> {
        let shared = self.clone();
        std::thread::Builder::new()
            .name(format!("mod worker {i}"))
            .spawn(move || {
                if let Some(nice) = shared.nice {
                    crate::worker::engine::lower_priority(nice);
                }
                run(i, &shared)
            })?;
        Ok(())
    }
}

impl WorkerPool {
    /// Starts `count` worker threads, at the nice value `nice` when given
    /// (see [`ModSettings::worker_nice`](crate::ModSettings::worker_nice)).
    pub(crate) fn new(count: usize, nice: Option<i32>) -> std::io::Result<Self> {
        let count = count.max(1);
        let (jobs, queue) = crossbeam_channel::bounded(QUEUE);
        let shared = Arc::new(Shared {
            queue,
            mods: Mods::default(),
            outboxes: (0..count + SPARES).map(|_| Mutex::default()).collect(),
            started: AtomicUsize::new(count),
            nice,
        });
        for i in 0..count {
            shared.start_worker(i)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("mod reply courier".into())
                .spawn(move || courier(&shared, &stop))?;
        }
        Ok(Self {
            jobs,
            count,
            stop,
            next_id: AtomicUsize::new(0),
            cache: Arc::default(),
            compiles: start_loaders()?,
        })
    }

    /// Loads the given mods: each is compiled on a loader thread, then
    /// instantiated by a worker. Returns the main thread's ends, in order.
    pub(crate) fn load(&self, specs: Vec<ModSpec>) -> std::io::Result<Vec<Worker>> {
        let mut workers = Vec::with_capacity(specs.len());
        for spec in specs {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            // Room for a late reply to a request given up on, and the next.
            let (replies, rep_rx) = crossbeam_channel::bounded(4);
            let gauge = Arc::new(Gauge::queued());
            workers.push(Worker {
                id,
                jobs: self.jobs.clone(),
                replies: rep_rx,
                sent: 0,
                gauge: gauge.clone(),
            });
            let cache = self.cache.clone();
            let jobs = self.jobs.clone();
            self.queue_compile(Box::new(move || {
                let prepared = cache.prepare(&spec, &gauge);
                gauge.set_phase(Some(LoadPhase::Instantiating));
                let _ = jobs.send(Job::Start {
                    id,
                    spec,
                    prepared,
                    replies,
                    gauge,
                });
            }))?;
        }
        Ok(workers)
    }

    /// Reads and compiles a mod's file on a loader thread, for an update of
    /// a running mod, telling `gauge` how it goes; the result comes on the
    /// returned channel.
    pub(crate) fn compile(
        &self,
        spec: &ModSpec,
        gauge: &Arc<Gauge>,
    ) -> std::io::Result<Receiver<Result<ModPre, Fault>>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let cache = self.cache.clone();
        let spec = spec.clone();
        let gauge = gauge.clone();
        gauge.set_phase(Some(LoadPhase::Queued));
        self.queue_compile(Box::new(move || {
            let prepared = cache.prepare(&spec, &gauge);
            gauge.set_phase(Some(LoadPhase::Instantiating));
            let _ = tx.send(prepared);
        }))?;
        Ok(rx)
    }

    fn queue_compile(&self, job: CompileJob) -> std::io::Result<()> {
        self.compiles
            .send(job)
            .map_err(|_| std::io::Error::other("the mod loader threads stopped"))
    }

    /// How many worker threads there are at least.
    pub(crate) fn len(&self) -> usize {
        self.count
    }
}

/// Compiled mods by the digest of their file, so copies of one file
/// compile once; the disk cache behind it keeps them across runs.
#[derive(Default)]
struct CompileCache {
    done: std::sync::Mutex<CompiledByDigest>,
}

/// The latest compiled files, at most [`KEPT_IN_MEMORY`] of them (a mod
/// updated again and again does not keep every version it had).
#[derive(Default)]
struct CompiledByDigest {
    pre: HashMap<Digest32, ModPre>,
    order: std::collections::VecDeque<Digest32>,
}

/// Compiled files kept in memory for copies and reloads beyond the mods
/// that run them.
const KEPT_IN_MEMORY: usize = 32;

impl CompileCache {
    /// Reads the mod (a lone file, or a package whole) and compiles its
    /// component, or takes it compiled from memory when the same bytes
    /// were compiled before; a package's `mod.toml` and assets come with it.
    fn prepare(&self, spec: &ModSpec, gauge: &Gauge) -> Result<ModPre, Fault> {
        gauge.set_phase(Some(LoadPhase::Reading));
        let invalid = |message| Fault {
            kind: FaultKind::Invalid,
            hook: Hook::Load,
            message,
        };
        let package = if crate::package::is_lone(&spec.file) {
            read_mod_file(&spec.file, &spec.folder, spec.limits.file_bytes).map(|component| {
                crate::package::Package {
                    component,
                    ..Default::default()
                }
            })
        } else {
            crate::package::read_package(&spec.file, spec.limits.package())
        }
        .map_err(invalid)?;
        let mut pre = self.compiled(spec, &package.component, gauge)?;
        if let Some(manifest) = package.manifest {
            if crate::worker::contract::served(&manifest.contract) != Some(pre.contract) {
                return Err(invalid(format!(
                    "`mod.toml` says its component is built for contract {}, but it is built \
                     for {}",
                    crate::text::escape(&manifest.contract),
                    pre.contract
                )));
            }
            pre.package = Some(Arc::new(manifest));
        }
        pre.assets = Arc::new(crate::package::prepare_assets(
            &package.assets,
            spec.limits.assets(),
        ));
        Ok(pre)
    }

    /// The component in `bytes`, compiled (or taken compiled from memory).
    fn compiled(&self, spec: &ModSpec, bytes: &[u8], gauge: &Gauge) -> Result<ModPre, Fault> {
        let file = digest(bytes);
        if let Some(pre) = self
            .done
            .lock()
            .ok()
            .and_then(|d| d.pre.get(&file).cloned())
        {
            return Ok(pre);
        }
        let mut pre = spec.runtime.prepare(bytes, &file, gauge)?;
        pre.digest = file;
        if let Ok(mut done) = self.done.lock()
            && done.pre.insert(file, pre.clone()).is_none()
        {
            done.order.push_back(file);
            while done.order.len() > KEPT_IN_MEMORY {
                if let Some(old) = done.order.pop_front() {
                    done.pre.remove(&old);
                }
            }
        }
        Ok(pre)
    }
}

/// A mod as its worker thread holds it.
struct Hosted {
    spec: ModSpec,
    pre: ModPre,
    /// The live instance; `None` after a fault until the main thread asks
    /// for a restart (the broken one is dropped at once, with its memory).
    instance: Option<Instance>,
    /// The mod's state as its `save` gave it at the start of a tick, to
    /// resume from after a fault (see [`Checkpoint`]).
    checkpoint: Option<Checkpoint>,
    /// The mod's tick count after the last tick this worker ran.
    next_frame: u64,
    /// The tick in which the instance was last renewed (see [`renew`]).
    renewed_at: Option<u64>,
    replies: Sender<(u64, Reply)>,
    gauge: Arc<Gauge>,
}

/// A mod's saved state, taken between two of its ticks (empty when it
/// saves nothing: nothing to resume from): every tick before
/// `frame` ran and was applied (the main thread sends no further tick to a
/// mod whose tick it refused), none from `frame` on. Resuming from it, the
/// main thread despawns the entities the mod spawned from tick `frame` on,
/// which the saved state does not know.
struct Checkpoint {
    frame: u64,
    state: Vec<u8>,
}

/// Replies a worker holds for its batch, and since when; since when its
/// current job runs.
#[derive(Default)]
struct Outbox {
    held: Vec<(Sender<(u64, Reply)>, (u64, Reply))>,
    since: Option<Instant>,
    running: Option<Instant>,
    /// The worker's thread id, for reading its CPU time (Linux).
    tid: Option<i32>,
}

/// How long a reply may be held for a batch before the courier sends it:
/// a worker that went into a long call keeps nobody else's reply.
const HOLD_AT_MOST: Duration = Duration::from_millis(1);

fn run(me: usize, shared: &Shared) {
    // Replies are held until the queue is empty, so the main thread, which
    // collects them in one go, is woken once a frame rather than once a
    // mod. If the worker goes into a long call meanwhile, the courier
    // sends them.
    let out = &shared.outboxes[me];
    #[cfg(target_os = "linux")]
    {
        out.lock().unwrap_or_else(|e| e.into_inner()).tid =
            Some(rustix::thread::gettid().as_raw_nonzero().get());
    }
    let running = |at: Option<Instant>| out.lock().unwrap_or_else(|e| e.into_inner()).running = at;
    while let Ok(job) = shared.queue.recv() {
        running(Some(Instant::now()));
        timed!("worker: a request, whole", handle(job, &shared.mods, out));
        while let Ok(job) = shared.queue.try_recv() {
            running(Some(Instant::now()));
            timed!("worker: a request, whole", handle(job, &shared.mods, out));
        }
        running(None);
        flush(out);
    }
}

/// About every millisecond until `stop`: sends the replies a worker has
/// held longer than [`HOLD_AT_MOST`], and starts a spare worker when every
/// worker is held by a long call while requests wait.
fn courier(shared: &Arc<Shared>, stop: &AtomicBool) {
    // For each worker: the start of the long call it was last seen in,
    // and its thread's CPU time when first seen in it.
    let mut seen: Vec<Option<(Instant, Option<Duration>)>> = vec![None; shared.outboxes.len()];
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(HOLD_AT_MOST);
        let started = shared.started.load(Ordering::Relaxed);
        let mut held = 0;
        for (outbox, seen) in shared.outboxes[..started].iter().zip(&mut seen) {
            let (stale, long, tid) = {
                let o = outbox.lock().unwrap_or_else(|e| e.into_inner());
                (
                    o.since.is_some_and(|since| since.elapsed() >= HOLD_AT_MOST),
                    o.running.filter(|at| at.elapsed() >= HELD),
                    o.tid,
                )
            };
            if stale {
                flush(outbox);
            }
            held += usize::from(holds_its_core(long, tid, seen));
        }
        if held == started
            && !shared.queue.is_empty()
            && started < shared.outboxes.len()
            && shared.start_worker(started).is_ok()
        {
            shared.started.store(started + 1, Ordering::Relaxed);
            tracing::debug!("every mod worker is held by a long call: started a spare");
        }
    }
}

/// Whether a worker is held by a long call that keeps running on its
/// core: in a call of [`HELD`] or longer (`long`, when it began), which
/// has also used [`HELD`] of CPU time since the courier first saw it so
/// (where the thread's CPU time can be read). A call that is long only
/// because the machine is busy holds nothing: a spare worker would add one
/// more thread to share the same cores, and take them from the game.
fn holds_its_core(
    long: Option<Instant>,
    tid: Option<i32>,
    seen: &mut Option<(Instant, Option<Duration>)>,
) -> bool {
    let Some(began) = long else {
        *seen = None;
        return false;
    };
    let cpu = tid.and_then(thread_cpu_of);
    match *seen {
        Some((call, Some(first))) if call == began => {
            cpu.is_none_or(|now| now.saturating_sub(first) >= HELD)
        }
        Some((call, None)) if call == began => true,
        _ => {
            *seen = Some((began, cpu));
            cpu.is_none()
        }
    }
}

/// The CPU time thread `tid` of this process has used, from
/// `/proc/self/task/<tid>/schedstat` (Linux only).
fn thread_cpu_of(tid: i32) -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
        let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
        Some(Duration::from_nanos(nanos))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tid;
        None
    }
}

/// Sends the replies held in `outbox`.
fn flush(outbox: &Mutex<Outbox>) {
    let held = {
        let mut outbox = outbox.lock().unwrap_or_else(|e| e.into_inner());
        outbox.since = None;
        std::mem::take(&mut outbox.held)
    };
    for (to, reply) in held {
        let _ = to.try_send(reply);
    }
}

/// Holds a reply for the batch.
fn hold(outbox: &Mutex<Outbox>, to: Sender<(u64, Reply)>, reply: (u64, Reply)) {
    let mut outbox = outbox.lock().unwrap_or_else(|e| e.into_inner());
    outbox.since.get_or_insert_with(std::time::Instant::now);
    outbox.held.push((to, reply));
}

/// The table of mods, whoever else panicked holding it.
fn table(mods: &Mods) -> std::sync::MutexGuard<'_, HashMap<usize, Option<Arc<Mutex<Hosted>>>>> {
    mods.lock().unwrap_or_else(|e| e.into_inner())
}

fn handle(job: Job, mods: &Mods, out: &Mutex<Outbox>) {
    match job {
        Job::Start {
            id,
            spec,
            prepared,
            replies,
            gauge,
        } => {
            if table(mods).get(&id).is_some_and(Option::is_none) {
                // Let go of while it compiled (its file changed or went).
                table(mods).remove(&id);
                return;
            }
            // A file that does not compile has nothing to restart from.
            let pre = match prepared {
                Ok(pre) => pre,
                Err(fault) => {
                    gauge.set_phase(None);
                    hold(out, replies, (0, Reply::Failed(fault)));
                    return;
                }
            };
            let (instance, reply) = start(&spec, &pre);
            gauge.set_memory(instance.as_ref().map_or(0, Instance::memory_bytes));
            gauge.set_code(&pre);
            gauge.set_phase(None);
            hold(out, replies.clone(), (0, reply));
            let hosted = Hosted {
                spec,
                pre,
                instance,
                checkpoint: None,
                next_frame: 0,
                renewed_at: None,
                replies,
                gauge,
            };
            let mut table = table(mods);
            if table.get(&id).is_some_and(Option::is_none) {
                // Let go of while it compiled (its file changed or went).
                table.remove(&id);
                return;
            }
            table.insert(id, Some(Arc::new(Mutex::new(hosted))));
        }
        Job::Swap { id, seq, spec, pre } => {
            let Some(hosted) = table(mods).get(&id).cloned().flatten() else {
                return;
            };
            let mut hosted = hosted.lock().unwrap_or_else(|e| e.into_inner());
            let reply = swap(&mut hosted, *spec, pre);
            hosted.gauge.set_phase(None);
            if let Some(instance) = &hosted.instance {
                hosted.gauge.set_memory(instance.memory_bytes());
            }
            hold(out, hosted.replies.clone(), (seq, reply));
        }
        Job::Request { id, seq, request } => {
            if matches!(request, Request::Shutdown) {
                let mut table = table(mods);
                if table.remove(&id).is_none() {
                    // Still compiling: its instance is not made when it
                    // comes (see `Job::Start`).
                    table.insert(id, None);
                }
                return;
            }
            // The table is unlocked while the mod runs; only this mod waits.
            let Some(hosted) = table(mods).get(&id).cloned().flatten() else {
                return;
            };
            let mut hosted = hosted.lock().unwrap_or_else(|e| e.into_inner());
            let hosted = &mut *hosted;
            let reply = match request {
                Request::Tick(_) if hosted.instance.is_none() => no_instance(Hook::Tick),
                Request::Tick(tick) => run_tick(hosted, tick),
                Request::Restart => {
                    hosted.instance = None;
                    let reply = restart(hosted);
                    hosted
                        .gauge
                        .set_memory(hosted.instance.as_ref().map_or(0, Instance::memory_bytes));
                    reply
                }
                Request::Save => match hosted.instance.as_mut() {
                    None => no_instance(Hook::Save),
                    Some(instance) => match instance.save() {
                        Ok(state) => Reply::Saved(state.into()),
                        Err(fault) => {
                            hosted.instance = None;
                            Reply::Failed(fault)
                        }
                    },
                },
                Request::Load {
                    state,
                    game_time_nanos,
                    frame,
                } => {
                    hosted.instance = None;
                    let reply = load(hosted, state.map(|s| s.into_vec()), game_time_nanos, frame);
                    hosted
                        .gauge
                        .set_memory(hosted.instance.as_ref().map_or(0, Instance::memory_bytes));
                    reply
                }
                Request::Shutdown => return,
            };
            hold(out, hosted.replies.clone(), (seq, reply));
        }
    }
}

/// Swaps a mod to new code under its lock (see [`Job::Swap`]).
fn swap(hosted: &mut Hosted, spec: ModSpec, pre: ModPre) -> Reply {
    let Some(instance) = hosted.instance.as_mut() else {
        return no_instance(Hook::Save);
    };
    match instance.swap(&spec, &pre) {
        Ok((fresh, state)) => {
            let manifest = fresh.manifest.clone();
            hosted.instance = Some(fresh);
            hosted.gauge.set_code(&pre);
            hosted.spec = spec;
            hosted.pre = pre;
            // Taken between two ticks, and the new code took it: the
            // newest checkpoint there is.
            hosted.checkpoint = (!state.is_empty()).then_some(Checkpoint {
                frame: hosted.next_frame,
                state,
            });
            Reply::Swapped(manifest)
        }
        // The new code failed: the old instance is as it was.
        Err(SwapError::New(fault)) => Reply::UpdateRefused(fault),
        // The running instance failed to save: it is broken.
        Err(SwapError::Old(fault)) => {
            hosted.instance = None;
            Reply::Failed(fault)
        }
    }
}

/// A fresh instance of a compiled mod, and the reply that says how it went.
fn start(spec: &ModSpec, pre: &ModPre) -> (Option<Instance>, Reply) {
    match Instance::start(spec, pre) {
        Ok(instance) => {
            let reply = Reply::Ready {
                manifest: instance.manifest.clone(),
                resumed_at: None,
            };
            (Some(instance), reply)
        }
        Err(fault) => (None, Reply::Failed(fault)),
    }
}

/// Runs one tick of a mod that has a live instance: renews the instance
/// or takes a checkpoint first when one is due (see [`renew`] and
/// [`Checkpoint`]). Their time counts as the tick's guest time.
fn run_tick(hosted: &mut Hosted, tick: crate::protocol::TickRequest) -> Reply {
    let frame = tick.frame;
    hosted.next_frame = frame + 1;
    let started = Instant::now();
    if renewal_due(hosted, frame)
        && let Err(fault) = renew(hosted, frame)
    {
        hosted.instance = None;
        return Reply::Failed(fault);
    }
    let Some(instance) = hosted.instance.as_mut() else {
        return no_instance(Hook::Tick);
    };
    let due = hosted.spec.checkpoint_every > 0
        && hosted
            .checkpoint
            .as_ref()
            .is_none_or(|c| frame.saturating_sub(c.frame) >= hosted.spec.checkpoint_every);
    if due {
        match instance.save() {
            // A mod that saves nothing keeps no state to resume: it is
            // restarted afresh, its entities left as they are. The empty
            // checkpoint is kept all the same, so its `save` is called
            // only every `checkpoint_every` ticks, as anyone's.
            Ok(state) => hosted.checkpoint = Some(Checkpoint { frame, state }),
            Err(fault) => {
                hosted.instance = None;
                return Reply::Failed(fault);
            }
        }
    }
    let before = started.elapsed();
    // Only a recording needs the request after the tick.
    #[cfg(feature = "test-seam")]
    let tapped = hosted.spec.tap.as_ref().map(|tap| (tap, tick.clone()));
    let reply = instance.tick(tick);
    hosted
        .gauge
        .ticked(instance.guest_time + before, instance.memory_bytes());
    #[cfg(feature = "test-seam")]
    if let Some((tap, tick)) = tapped {
        tap.record(&hosted.spec.id(), &instance.manifest, &tick, &reply);
    }
    if matches!(reply, Reply::Failed(_)) {
        hosted.instance = None;
    }
    reply
}

/// Ticks between two renewals of one mod's instance at most.
const RENEW_AT_MOST_EVERY: u64 = 600;

/// Whether the mod's instance holds so much of its memory cap that it is
/// renewed before tick `frame` (see [`renew`]).
fn renewal_due(hosted: &Hosted, frame: u64) -> bool {
    let Some(instance) = hosted.instance.as_ref() else {
        return false;
    };
    let percent = u64::from(hosted.spec.limits.renew_at_memory_percent);
    let cap = hosted
        .spec
        .grants
        .memory_bytes
        .unwrap_or(hosted.spec.limits.memory_bytes) as u64;
    percent > 0
        && instance.memory_bytes() >= cap / 100 * percent
        && hosted
            .renewed_at
            .is_none_or(|at| frame.saturating_sub(at) >= RENEW_AT_MOST_EVERY)
}

/// Moves the mod into a fresh instance of its code, its state kept (`save`
/// here, `init` and `restore` there, as for an update), between two ticks:
/// the memory its old instance grew to is given back. A guest's linear
/// memory never shrinks, and some toolchains' code leaks a little on every
/// call or collects garbage late (see `docs/security.md`), so without this
/// a mod that is fine for minutes runs into its cap after an hour. The
/// state handed over is also the mod's newest checkpoint. If the fresh
/// instance fails, the old one goes on; if the old one cannot `save`, that
/// is its fault.
fn renew(hosted: &mut Hosted, frame: u64) -> Result<(), Fault> {
    hosted.renewed_at = Some(frame);
    let Some(old) = hosted.instance.as_mut() else {
        return Ok(());
    };
    let before = old.memory_bytes();
    match old.swap(&hosted.spec, &hosted.pre) {
        Ok((fresh, state)) => {
            tracing::info!(
                mod_id = %hosted.spec.id(),
                "renewed its instance at tick {frame}, its state kept: memory {} KiB -> {} KiB",
                before >> 10,
                fresh.memory_bytes() >> 10
            );
            hosted.instance = Some(fresh);
            hosted.checkpoint = (!state.is_empty()).then_some(Checkpoint { frame, state });
            hosted.gauge.renewed();
            Ok(())
        }
        Err(SwapError::New(fault)) => {
            tracing::warn!(
                mod_id = %hosted.spec.id(),
                "could not renew its instance, the old one goes on: {fault}"
            );
            Ok(())
        }
        Err(SwapError::Old(fault)) => Err(fault),
    }
}

/// A fresh instance for a loaded game, restored to `state` (what the mod
/// saved then); when that `restore` fails, another fresh instance, started
/// afresh, and the reply says why. The state is the mod's newest
/// checkpoint.
fn load(hosted: &mut Hosted, state: Option<Vec<u8>>, game_time_nanos: u64, frame: u64) -> Reply {
    let start_fresh = || {
        let time = super::clock::GameTime::default();
        time.set(game_time_nanos);
        Instance::start_at(&hosted.spec, &hosted.pre, time)
    };
    hosted.next_frame = frame;
    hosted.renewed_at = None;
    hosted.checkpoint = None;
    let mut instance = match start_fresh() {
        Ok(instance) => instance,
        Err(fault) => return Reply::Failed(fault),
    };
    let mut restore_failed = None;
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        match instance.restore(&state) {
            Ok(()) => hosted.checkpoint = Some(Checkpoint { frame, state }),
            Err(fault) => {
                // Half restored is no known state: a fresh one instead.
                restore_failed = Some(fault);
                instance = match start_fresh() {
                    Ok(instance) => instance,
                    Err(fault) => return Reply::Failed(fault),
                };
            }
        }
    }
    let reply = Reply::Loaded {
        manifest: instance.manifest.clone(),
        restore_failed,
    };
    hosted.instance = Some(instance);
    reply
}

/// A fresh instance after a fault, resumed from the mod's checkpoint when
/// it has one. A checkpoint the fresh instance cannot `restore` is dropped
/// and the restart is a fault (the next one starts the mod afresh), since
/// an instance that failed half way through `restore` is in no known state.
fn restart(hosted: &mut Hosted) -> Reply {
    let (instance, reply) = start(&hosted.spec, &hosted.pre);
    let Some(mut instance) = instance else {
        return reply;
    };
    let Some(checkpoint) = hosted.checkpoint.as_ref().filter(|c| !c.state.is_empty()) else {
        hosted.instance = Some(instance);
        return reply;
    };
    match instance.restore(&checkpoint.state) {
        Ok(()) => {
            let reply = Reply::Ready {
                manifest: instance.manifest.clone(),
                resumed_at: Some(checkpoint.frame),
            };
            hosted.instance = Some(instance);
            reply
        }
        Err(mut fault) => {
            fault.message = format!(
                "restoring its checkpoint of tick {} failed; it starts afresh next time: {}",
                checkpoint.frame, fault.message
            );
            hosted.checkpoint = None;
            Reply::Failed(fault)
        }
    }
}

/// The reply to a request for a mod whose instance is gone.
fn no_instance(hook: Hook) -> Reply {
    Reply::Failed(Fault {
        kind: FaultKind::Unresponsive,
        hook,
        message: "the mod has no live instance (it failed and was not restarted)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice values of this process's threads named `name`.
    #[cfg(target_os = "linux")]
    fn nices_of(name: &str) -> Vec<i64> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| {
                let path = t.ok()?.path();
                let comm = std::fs::read_to_string(path.join("comm")).ok()?;
                let stat = std::fs::read_to_string(path.join("stat")).ok()?;
                // The fields after the name: state is the first, nice the 17th.
                let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
                // Linux keeps the first 15 bytes of a thread's name.
                (comm.trim() == &name[..name.len().min(15)])
                    .then(|| fields.get(16)?.parse().ok())?
            })
            .collect()
    }

    /// `ModSettings::worker_nice` reaches the scheduler: the workers run
    /// at that nice value, and the game's own threads keep theirs.
    #[cfg(target_os = "linux")]
    #[test]
    fn workers_run_at_the_nice_value_asked_for() {
        let pool = WorkerPool::new(2, Some(7)).unwrap();
        let started = Instant::now();
        while nices_of("mod worker 1").iter().all(|n| *n != 7) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no worker at nice 7"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(nices_of("mod worker 0").contains(&7));
        assert_eq!(nices_of("mod reply courier").iter().max(), Some(&0));
        drop(pool);
    }
}
