//! The host's side of recordings and replays (see [`crate::replay`]): what
//! each frame gave the mods and what they did, written down or compared.

use std::collections::BTreeMap;

use bevy::ecs::message::MessageCursor;
use bevy::prelude::*;

use super::ModRegistry;
use crate::protocol::WireEvent;
use crate::registry::ModLifecycle;
use crate::replay::{
    Divergence, FORMAT, GameInput, RecordedFile, RecordedFrame, RecordedMessage, RecordedMod,
    Recording, RecordingHeader, RecordingWriter, ReplayDiverged, ReplayStatus,
};
use crate::settings::{FrameMode, ModSettings};

/// A recording being made, a replay being run, or neither.
#[derive(Default)]
pub(crate) enum Tape {
    #[default]
    Off,
    Recording(Box<Recorder>),
    Replaying(Box<Replayer>),
}

/// What this frame gave the mods and what they did, as it happens.
#[derive(Default)]
pub(crate) struct Live {
    /// Whether the mods found at start-up have begun (frames count from
    /// then).
    begun: bool,
    /// Frames ended since they began.
    frame: u64,
    messages: Vec<RecordedMessage>,
    /// Entries of the mods folder that changed this frame.
    files: Vec<RecordedFile>,
    ticks: BTreeMap<String, u32>,
    /// The mods present at the end of the frame before.
    mods: Vec<String>,
    lives: Option<MessageCursor<ModLifecycle>>,
}

pub(crate) struct Recorder {
    live: Live,
    writer: Option<RecordingWriter>,
    path: std::path::PathBuf,
}

pub(crate) struct Replayer {
    live: Live,
    recording: Recording,
    /// Where the recording's changes of the mods folder are put, made
    /// when the first comes and removed with the replay.
    scratch: Option<std::path::PathBuf>,
    /// The mods present in the recording at the frame before.
    recorded_mods: Vec<String>,
    /// Whether frames are still compared (until the first divergence).
    comparing: bool,
}

/// Opens the recording or the replay the settings ask for; a replay that
/// cannot be read is said in [`ReplayStatus::error`] and the log.
pub(crate) fn open(world: &mut World, settings: &ModSettings) -> Tape {
    if (settings.record.is_some() || settings.replay.is_some())
        && settings.frame_mode != FrameMode::Lockstep
    {
        tracing::warn!(
            "recording or replaying in real time: a frame does not wait for late mods, so \
             runs differ (use FrameMode::Lockstep)"
        );
    }
    let lives = Some(world.resource::<Messages<ModLifecycle>>().get_cursor());
    if let Some(path) = &settings.replay {
        return match Recording::read(path) {
            Ok(recording) => {
                if recording.cut_short {
                    tracing::warn!(
                        "{} ends inside a frame: replaying its {} whole frames",
                        path.display(),
                        recording.frames.len()
                    );
                }
                world.resource_mut::<ReplayStatus>().frames = recording.frames.len() as u64;
                Tape::Replaying(Box::new(Replayer {
                    live: Live {
                        lives,
                        ..Live::default()
                    },
                    recording,
                    scratch: None,
                    recorded_mods: Vec::new(),
                    comparing: true,
                }))
            }
            Err(e) => {
                tracing::error!("cannot replay: {e}");
                world.resource_mut::<ReplayStatus>().error = Some(e);
                Tape::Off
            }
        };
    }
    if let Some(path) = &settings.record {
        return match RecordingWriter::create(path) {
            Ok(writer) => Tape::Recording(Box::new(Recorder {
                live: Live {
                    lives,
                    ..Live::default()
                },
                writer: Some(writer),
                path: path.clone(),
            })),
            Err(e) => {
                tracing::error!("not recording: {e}");
                Tape::Off
            }
        };
    }
    Tape::Off
}

impl Tape {
    fn live(&mut self) -> Option<&mut Live> {
        match self {
            Tape::Off => None,
            Tape::Recording(r) => Some(&mut r.live),
            Tape::Replaying(r) => Some(&mut r.live),
        }
    }

    /// Whether this frame's outcomes are being kept.
    pub(crate) fn active(&self) -> bool {
        match self {
            Tape::Off => false,
            Tape::Recording(r) => r.live.begun,
            Tape::Replaying(r) => r.live.begun,
        }
    }

    /// The mods found at start-up begin this frame: a recording writes its
    /// header, a replay says which mods are not the recording's.
    /// `player_grants` is what the player's grants file grants, in words.
    pub(crate) fn begin(&mut self, world: &mut World, registry: &ModRegistry, player_grants: &str) {
        let settings = world.resource::<ModSettings>();
        let limits = format!(
            "limits {:?}; faults {:?}; configs and grants {:016x}",
            settings.limits,
            settings.faults,
            crate::fnv1a(
                format!(
                    "{:?} {} {player_grants}",
                    settings.configs,
                    crate::grants::describe(&settings.grants, &settings.mods_dir)
                )
                .as_bytes()
            ),
        );
        let every = settings.checksum_every.max(1);
        let mods = running_mods(registry);
        match self {
            Tape::Off => return,
            Tape::Recording(r) => {
                let header = RecordingHeader {
                    format: FORMAT,
                    contract: crate::WIT_VERSION.to_string(),
                    settings: limits,
                    checksum_every: every,
                    mods,
                };
                if let Some(writer) = &mut r.writer
                    && let Err(e) = writer.header(&header)
                {
                    tracing::error!("recording to {} stopped: {e}", r.path.display());
                    r.writer = None;
                }
            }
            Tape::Replaying(r) => {
                let header = &r.recording.header;
                let mut differ = Vec::new();
                for m in &header.mods {
                    match mods.iter().find(|l| l.id == m.id) {
                        None => differ.push(format!("mod `{}` is not here", m.id)),
                        Some(l) if l.code != m.code => differ.push(format!(
                            "mod `{}` runs other code than the recording's (version {}, \
                             recorded {})",
                            m.id, l.version, m.version
                        )),
                        Some(_) => {}
                    }
                }
                for l in &mods {
                    if !header.mods.iter().any(|m| m.id == l.id) {
                        differ.push(format!("mod `{}` was not in the recording", l.id));
                    }
                }
                if header.settings != limits {
                    differ.push(format!(
                        "the mods run under other settings than the recording's: {limits}, \
                         recorded {}",
                        header.settings
                    ));
                }
                for d in &differ {
                    tracing::warn!("replay: {}", crate::text::escape(d));
                }
                world.resource_mut::<ReplayStatus>().mods_differ = differ;
            }
        }
        if let Some(live) = self.live() {
            live.begun = true;
        }
        if let Tape::Recording(_) = self {
            world.resource_mut::<GameInput>().recording = true;
        }
    }

    /// Before the game's `Update`: in a replay, the game's input recorded
    /// for this frame (none past the recording's end).
    pub(crate) fn game_input(&mut self, world: &mut World) {
        let Tape::Replaying(r) = self else {
            return;
        };
        if !r.live.begun {
            return;
        }
        // Past the recording's end, the game's devices again.
        world.resource_mut::<GameInput>().replayed = r
            .recording
            .frames
            .get(r.live.frame as usize)
            .map(|f| f.input.clone());
    }

    /// The game's messages for the mods this frame (the first of
    /// `events`, before the mods' own): kept, and in a replay, replaced
    /// by the recording's.
    pub(crate) fn game_messages(&mut self, events: &mut Vec<WireEvent>, game: usize) {
        let Some(live) = self.live().filter(|l| l.begun) else {
            return;
        };
        live.messages = events[..game]
            .iter()
            .map(|e| RecordedMessage {
                name: e.name.clone(),
                payload: e.payload.clone(),
            })
            .collect();
        let Tape::Replaying(r) = self else {
            return;
        };
        let Some(frame) = r.recording.frames.get(r.live.frame as usize) else {
            return;
        };
        let recorded = frame.messages.iter().map(|m| WireEvent {
            name: m.name.clone(),
            source: None,
            payload: m.payload.clone(),
        });
        events.splice(..game, recorded);
    }

    /// What mod `id` did this frame: `digest` makes the digest of its
    /// commands or its fault (called only while a tape runs).
    pub(crate) fn ticked(&mut self, id: &str, digest: impl FnOnce() -> u32) {
        if let Some(live) = self.live().filter(|l| l.begun) {
            live.ticks.insert(id.to_string(), digest());
        }
    }

    /// The frame ends: a recording writes it, a replay compares it with
    /// the recording's.
    pub(crate) fn end_frame(&mut self, world: &mut World, registry: &ModRegistry) {
        let Some(live) = self.live().filter(|l| l.begun) else {
            return;
        };
        let n = live.frame;
        // A replay takes its checksums where the recording took them.
        let every = match self {
            Tape::Replaying(r) => r.recording.header.checksum_every,
            _ => world.resource::<ModSettings>().checksum_every,
        }
        .max(1) as u64;
        let Some(live) = self.live() else {
            return;
        };
        let frame = live.take_frame(world, registry, every);
        match self {
            Tape::Off => {}
            Tape::Recording(r) => {
                if let Some(writer) = &mut r.writer
                    && let Err(e) = writer.frame(&frame)
                {
                    tracing::error!("recording to {} stopped: {e}", r.path.display());
                    r.writer = None;
                }
            }
            Tape::Replaying(r) => r.compare(world, n, frame),
        }
    }

    /// The mods folder's entries for mod `id` changed (`paths` are those
    /// it has now; none when it went): a recording keeps them as they are
    /// now, so a replay can put them in place at this frame.
    pub(crate) fn folder_changed(&mut self, id: &str, paths: &[std::path::PathBuf]) {
        let Tape::Recording(r) = self else {
            return;
        };
        if !r.live.begun {
            return;
        }
        if paths.is_empty() {
            r.live.files.push(RecordedFile {
                id: id.to_string(),
                ..Default::default()
            });
        }
        for path in paths {
            match entry_bytes(path) {
                Ok((name, bytes)) => r.live.files.push(RecordedFile {
                    id: id.to_string(),
                    name,
                    bytes: bytes.into(),
                }),
                Err(e) => tracing::warn!(
                    "the recording lacks a change of the mods folder ({}): {e}",
                    crate::text::escape(&path.display().to_string())
                ),
            }
        }
    }

    /// In a replay, the mods folder's entries the recording changed this
    /// frame, put in a folder of the replay's own, by mod id: what the
    /// game puts in place of the folder's (an empty list: the mod went).
    pub(crate) fn replayed_files(&mut self) -> Vec<(String, Vec<std::path::PathBuf>)> {
        let Tape::Replaying(r) = self else {
            return Vec::new();
        };
        if !r.live.begun {
            return Vec::new();
        }
        let Some(frame) = r.recording.frames.get(r.live.frame as usize) else {
            return Vec::new();
        };
        if frame.files.is_empty() {
            return Vec::new();
        }
        let dir = match &r.scratch {
            Some(dir) => dir.clone(),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "bevy-wasm-mods-replay-{}-{}",
                    std::process::id(),
                    crate::fnv1a(format!("{:p}", &r.recording).as_bytes())
                ));
                r.scratch = Some(dir.clone());
                dir
            }
        };
        let mut out: Vec<(String, Vec<std::path::PathBuf>)> = Vec::new();
        for (n, file) in frame.files.iter().enumerate() {
            let at = match out.iter().position(|(id, _)| *id == file.id) {
                Some(at) => at,
                None => {
                    out.push((file.id.clone(), Vec::new()));
                    out.len() - 1
                }
            };
            if file.name.is_empty() {
                continue;
            }
            // A folder per entry, so each keeps its name (the mod's id
            // may be its name's stem) and none overwrites one in use.
            let name = std::path::Path::new(&file.name)
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            let path = dir.join(format!("{}-{n}", r.live.frame)).join(name);
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, &file.bytes));
            match written {
                Ok(()) => out[at].1.push(path),
                Err(e) => tracing::error!(
                    "replay: cannot put {} in place: {e}",
                    crate::text::escape(&file.name)
                ),
            }
        }
        out
    }

    /// In a replay, the ids of the mods that `what` (`"updated"`,
    /// `"loaded"`) happened to in this frame of the recording; `None` when
    /// not replaying, or before the mods found at start-up begin.
    pub(crate) fn due(&self, what: &str) -> Option<Vec<String>> {
        self.expected_changes().map(|changes| {
            changes
                .iter()
                .filter_map(|c| c.strip_prefix(what)?.strip_prefix(' '))
                .map(str::to_string)
                .collect()
        })
    }

    /// In a replay, what happened to mods in this frame of the recording
    /// (`"updated storm"`, ...); `None` when not replaying, or before the
    /// mods found at start-up begin.
    fn expected_changes(&self) -> Option<&[String]> {
        let Tape::Replaying(r) = self else {
            return None;
        };
        if !r.live.begun {
            return None;
        }
        Some(
            r.recording
                .frames
                .get(r.live.frame as usize)
                .map_or(&[][..], |f| &f.changes[..]),
        )
    }

    /// Writes what is recorded so far to the file.
    pub(crate) fn flush(&mut self) {
        if let Tape::Recording(r) = self
            && let Some(writer) = &mut r.writer
            && let Err(e) = writer.flush()
        {
            tracing::error!("recording to {} stopped: {e}", r.path.display());
            r.writer = None;
        }
    }
}

impl Live {
    /// This frame as a recording holds it; the next one starts.
    fn take_frame(
        &mut self,
        world: &mut World,
        registry: &ModRegistry,
        every: u64,
    ) -> RecordedFrame {
        let n = self.frame;
        self.frame += 1;
        let step_nanos = world
            .get_resource::<Time>()
            .map_or(0, |t| t.delta().as_nanos() as u64);
        let present: Vec<String> = registry.mods().map(|m| m.id.clone()).collect();
        let ticks = present
            .iter()
            .map(|id| self.ticks.get(id).copied().unwrap_or(0))
            .collect();
        self.ticks.clear();
        let mods = (n == 0 || present != self.mods).then(|| present.clone());
        self.mods = present;
        let changes = match &mut self.lives {
            Some(cursor) => cursor
                .read(world.resource::<Messages<ModLifecycle>>())
                .map(change)
                .collect(),
            None => Vec::new(),
        };
        let checksum = ((n + 1) % every == 0).then(|| crate::moddable_checksum(world));
        let input = std::mem::take(&mut world.resource_mut::<GameInput>().pushed);
        RecordedFrame {
            step_nanos,
            messages: std::mem::take(&mut self.messages),
            mods,
            ticks,
            changes,
            checksum,
            input,
            files: std::mem::take(&mut self.files),
        }
    }
}

impl Replayer {
    fn compare(&mut self, world: &mut World, n: u64, live: RecordedFrame) {
        let Some(recorded) = self.recording.frames.get(n as usize) else {
            let mut status = world.resource_mut::<ReplayStatus>();
            status.finished = true;
            return;
        };
        if let Some(mods) = &recorded.mods {
            self.recorded_mods = mods.clone();
        }
        {
            let mut status = world.resource_mut::<ReplayStatus>();
            status.frame = n + 1;
            status.finished = n + 1 >= self.recording.frames.len() as u64;
        }
        if !self.comparing {
            return;
        }
        let live_mods = self.live.mods.clone();
        let mut differences = Vec::new();
        let mut mods = Vec::new();
        let recorded_tick = |id: &str| {
            self.recorded_mods
                .iter()
                .position(|m| m == id)
                .and_then(|i| recorded.ticks.get(i).copied())
                .unwrap_or(0)
        };
        for (i, id) in live_mods.iter().enumerate() {
            let here = live.ticks.get(i).copied().unwrap_or(0);
            let there = recorded_tick(id);
            if here != there {
                mods.push(id.clone());
                differences.push(match (here, there) {
                    (_, 0) => format!("mod `{id}` ticked where the recording's did not"),
                    (0, _) => format!("mod `{id}` did not tick where the recording's did"),
                    _ => format!("mod `{id}` did other things than the recording's"),
                });
            }
        }
        for id in &self.recorded_mods {
            if !live_mods.contains(id) && recorded_tick(id) != 0 {
                mods.push(id.clone());
                differences.push(format!(
                    "mod `{id}` ticked in the recording and is not here"
                ));
            }
        }
        if live.step_nanos != recorded.step_nanos {
            differences.push(format!(
                "the time step is {} ns, the recording's {} ns",
                live.step_nanos, recorded.step_nanos
            ));
        }
        if live.messages != recorded.messages {
            differences.push(format!(
                "the game sent the mods other messages than the recording's ({} here, {} \
                 recorded; the mods were given the recording's)",
                live.messages.len(),
                recorded.messages.len()
            ));
        }
        if live.changes != recorded.changes {
            differences.push(format!(
                "mods' lives: [{}] here, [{}] recorded",
                live.changes.join(", "),
                recorded.changes.join(", ")
            ));
        }
        if let (Some(here), Some(there)) = (live.checksum, recorded.checksum)
            && here != there
        {
            differences.push(format!(
                "the world's checksum is {here:016x}, the recording's {there:016x}"
            ));
        }
        if differences.is_empty() {
            return;
        }
        self.comparing = false;
        let divergence = Divergence {
            frame: n,
            mods,
            differences,
        };
        // What a recording says (ids, lives) is the recording's author's.
        tracing::error!("{}", crate::text::escape(&divergence.to_string()));
        world.resource_mut::<ReplayStatus>().diverged = Some(divergence.clone());
        world.write_message(ReplayDiverged(divergence));
    }
}

/// The mods running, as a recording's header lists them.
fn running_mods(registry: &ModRegistry) -> Vec<RecordedMod> {
    registry
        .entries
        .iter()
        .filter(|e| e.life.is_running())
        .map(|e| RecordedMod {
            id: e.life.info().id.clone(),
            version: e.life.info().version.clone(),
            code: code_of(e),
        })
        .collect()
}

impl Drop for Replayer {
    fn drop(&mut self) {
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// An entry of the mods folder as a recording keeps it: its name and
/// bytes, a package folder as a zip of it (`NAME.zip`).
fn entry_bytes(path: &std::path::Path) -> Result<(String, Vec<u8>), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Ok((name, std::fs::read(path).map_err(|e| e.to_string())?));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let p = entry.path();
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            let inside = p
                .strip_prefix(path)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            if kind.is_dir() {
                stack.push(p);
            } else if kind.is_file() {
                zip.start_file(inside, options).map_err(|e| e.to_string())?;
                let bytes = std::fs::read(&p).map_err(|e| e.to_string())?;
                std::io::Write::write_all(&mut zip, &bytes).map_err(|e| e.to_string())?;
            }
        }
    }
    let bytes = zip.finish().map_err(|e| e.to_string())?.into_inner();
    Ok((format!("{name}.zip"), bytes))
}

/// The SHA-256 of the component a mod runs, in hex (empty when unknown).
pub(crate) fn code_of(entry: &super::ModEntry) -> String {
    entry
        .slot
        .worker
        .as_ref()
        .and_then(|w| w.gauge().code())
        .map(hex)
        .unwrap_or_default()
}

fn hex(bytes: [u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A change in a mod's life, as a recording says it.
fn change(life: &ModLifecycle) -> String {
    let what = match life {
        ModLifecycle::Loaded(_) => "loaded",
        ModLifecycle::Updated(_) => "updated",
        ModLifecycle::UpdateRefused(_) => "update-refused",
        ModLifecycle::Unloaded(_) => "unloaded",
        ModLifecycle::Failed(_) => "faulted",
        ModLifecycle::Recovered(_) => "recovered",
        ModLifecycle::Quarantined(_) => "quarantined",
    };
    format!("{what} {}", life.id())
}
