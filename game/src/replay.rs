//! Recordings of what entered the mods, frame by frame, and replays of
//! them that say where a run went another way.
//!
//! A recording (`ModPlugin::with_recording`) starts on the frame the mods
//! found at start-up begin ([`ModsStarted`](crate::ModsStarted)). It holds
//! the mods that ran then (each by its id, version and the SHA-256 of its
//! component), the limits they ran under, and for every frame: the time
//! step, the game's messages the mods were given, a digest of what each mod
//! did (its commands, or its fault), what happened to mods (loaded,
//! updated, faulted, ...), the entries of the mods folder that changed
//! (their bytes, so a replay brings the same new versions in at the same
//! frames) and, every [`ModSettings::checksum_every`]
//! frames, the world's [`moddable_checksum`](crate::moddable_checksum).
//!
//! A replay (`ModPlugin::with_replay`) runs the same game with the
//! recording: the mods are given the recorded game messages, and each
//! frame is compared with the recording. The first frame that differs is
//! reported ([`ReplayDiverged`], [`ReplayStatus::diverged`]) with the mods
//! whose commands differ, as a desync report; the game decides whether to
//! stop. The game's own systems must be deterministic for their part of
//! the world to match (a fixed time step, its simulation held until
//! [`mods_ready`](crate::mods_ready)).
//!
//! The file: the 8 bytes `BWMODREC`, then MessagePack values, a
//! [`RecordingHeader`] (a map) and one [`RecordedFrame`] per frame (an
//! array of its fields, in order). A recording
//! cut short (the game crashed) reads up to its last whole frame.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The first bytes of every recording.
pub const MAGIC: &[u8; 8] = b"BWMODREC";

/// The version of the file's layout this game writes and reads.
/// (Format 2 added the files of the mods folder that changed, which a
/// format 1 recording lacks: it reads as one without changes.)
pub const FORMAT: u32 = 2;

/// The largest recording this game reads (1 GiB; an hour of the demo
/// with its ten mods is about 15 MB).
pub const MAX_BYTES: u64 = 1 << 30;

/// What a recording starts with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecordingHeader {
    /// The layout's version ([`FORMAT`]).
    pub format: u32,
    /// The mod contract the game served ([`WIT_VERSION`](crate::WIT_VERSION)).
    pub contract: String,
    /// The limits and settings mods ran under, in words; a replay under
    /// others says so.
    pub settings: String,
    /// Frames between two checksums.
    pub checksum_every: u32,
    /// The mods that began on the first frame, in load order.
    pub mods: Vec<RecordedMod>,
}

/// A mod as it ran when the recording was made.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordedMod {
    /// Its id.
    pub id: String,
    /// The version its manifest gave.
    pub version: String,
    /// The SHA-256 of its component, in hex.
    pub code: String,
}

/// One frame of a recording.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RecordedFrame {
    /// The time step, in nanoseconds.
    pub step_nanos: u64,
    /// The game's messages the mods were given, in order.
    pub messages: Vec<RecordedMessage>,
    /// The ids of the mods present, in load order, when they changed since
    /// the frame before (always on the first frame).
    pub mods: Option<Vec<String>>,
    /// For each mod present (in that order), a digest of what it did this
    /// frame: its commands, or its fault; 0 when it did not tick.
    pub ticks: Vec<u32>,
    /// What happened to mods this frame, as `"<what> <id>"` (`"updated
    /// storm"`, `"faulted mover"`).
    pub changes: Vec<String>,
    /// The world's checksum at the end of the frame, every
    /// [`RecordingHeader::checksum_every`] frames.
    pub checksum: Option<u64>,
    /// The game's own input this frame, as it gave it to [`GameInput`].
    pub input: Vec<ByteBuf>,
    /// The mods folder's entries that changed this frame, as they were
    /// then: a replay puts these in place of the folder's.
    #[serde(default)]
    pub files: Vec<RecordedFile>,
}

/// An entry of the mods folder that changed while the game ran.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordedFile {
    /// The id of the mod it is (or was).
    pub id: String,
    /// Its name in the folder (a package folder is kept as `NAME.zip`);
    /// empty when the mod's entries all went.
    pub name: String,
    /// Its bytes (a package folder zipped).
    pub bytes: ByteBuf,
}

/// A game message given to the mods.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordedMessage {
    /// The message's name.
    pub name: String,
    /// Its payload, one MessagePack value.
    pub payload: ByteBuf,
}

/// A recording, read whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// What it starts with.
    pub header: RecordingHeader,
    /// Its frames, from the one the mods began on.
    pub frames: Vec<RecordedFrame>,
    /// Whether it ended inside a frame (the recording game stopped while
    /// writing): the frames before it are whole.
    pub cut_short: bool,
}

impl Recording {
    /// Reads the recording at `path`. A file that is not a recording, or
    /// one of a layout this game does not read, is refused with the reason.
    pub fn read(path: &Path) -> Result<Recording, String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot open recording {}: {e}", path.display()))?;
        // A recording may come from anyone (a player's bug report): one
        // too big to hold is refused before it is read.
        let size = file.metadata().map_or(0, |m| m.len());
        if size > MAX_BYTES {
            return Err(format!(
                "recording {} is {size} bytes, over the {MAX_BYTES} this game reads",
                path.display()
            ));
        }
        Self::from_reader(BufReader::new(file))
            .map_err(|e| format!("recording {}: {e}", path.display()))
    }

    /// Reads a recording from `reader`.
    pub fn from_reader(mut reader: impl BufRead) -> Result<Recording, String> {
        let mut magic = [0; 8];
        reader
            .read_exact(&mut magic)
            .map_err(|_| "too short to be a recording".to_string())?;
        if &magic != MAGIC {
            return Err("not a recording of mods (it does not start with BWMODREC)".into());
        }
        let header: RecordingHeader = rmp_serde::from_read(&mut reader)
            .map_err(|e| format!("its header cannot be read: {e}"))?;
        if !(1..=FORMAT).contains(&header.format) {
            return Err(format!(
                "it is laid out in format {}, and this game reads format {FORMAT}",
                header.format
            ));
        }
        let mut frames = Vec::new();
        let mut cut_short = false;
        loop {
            if reader.fill_buf().map_or(true, <[u8]>::is_empty) {
                break;
            }
            match rmp_serde::from_read::<_, RecordedFrame>(&mut reader) {
                Ok(frame) => frames.push(frame),
                Err(_) => {
                    cut_short = true;
                    break;
                }
            }
        }
        Ok(Recording {
            header,
            frames,
            cut_short,
        })
    }

    /// The recording as its file holds it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        // Writing to a Vec cannot fail.
        let _ = rmp_serde::encode::write_named(&mut out, &self.header);
        for frame in &self.frames {
            let _ = rmp_serde::encode::write(&mut out, frame);
        }
        out
    }
}

/// Writes a recording as the game runs: the header, then each frame as it
/// ends, flushed every second of frames and when dropped.
pub(crate) struct RecordingWriter {
    out: std::io::BufWriter<std::fs::File>,
    unflushed: u32,
}

impl RecordingWriter {
    pub(crate) fn create(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make the folder for {}: {e}", path.display()))?;
        }
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot write recording {}: {e}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        out.write_all(MAGIC)
            .map_err(|e| format!("cannot write recording {}: {e}", path.display()))?;
        Ok(Self { out, unflushed: 0 })
    }

    pub(crate) fn header(&mut self, header: &RecordingHeader) -> std::io::Result<()> {
        rmp_serde::encode::write_named(&mut self.out, header).map_err(std::io::Error::other)?;
        self.out.flush()
    }

    pub(crate) fn frame(&mut self, frame: &RecordedFrame) -> std::io::Result<()> {
        // Frames are arrays, not maps: their fields' names would be most
        // of their bytes.
        rmp_serde::encode::write(&mut self.out, frame).map_err(std::io::Error::other)?;
        self.unflushed += 1;
        if self.unflushed >= 60 {
            self.unflushed = 0;
            self.out.flush()?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        self.unflushed = 0;
        self.out.flush()
    }
}

/// The game's own input, for recordings: what the player did (keys held,
/// clicks), in bytes of the game's choosing. What enters the mods is
/// recorded by the plugin, but the game's simulation is the game's: to be
/// replayed, it takes its player's input through here.
///
/// While a recording is made, what the game [`push`](Self::push)es in a
/// frame is written with it. While a replay runs, [`replayed`](Self::replayed)
/// gives, from the frame the mods began on, what was recorded for this
/// frame (set before `Update`), and the game plays it instead of its
/// devices. Otherwise `push` keeps nothing.
#[derive(Resource, Default, Debug)]
pub struct GameInput {
    pub(crate) recording: bool,
    pub(crate) pushed: Vec<ByteBuf>,
    pub(crate) replayed: Option<Vec<ByteBuf>>,
}

impl GameInput {
    /// Records `input` with this frame (while a recording is made).
    pub fn push(&mut self, input: impl Into<Vec<u8>>) {
        if self.recording {
            self.pushed.push(ByteBuf::from(input.into()));
        }
    }

    /// Whether a replay runs: the game takes its input from
    /// [`replayed`](Self::replayed), not from its devices.
    pub fn replaying(&self) -> bool {
        self.replayed.is_some()
    }

    /// This frame's recorded input, in the order it was pushed (empty
    /// when none was, or no replay runs).
    pub fn replayed(&self) -> impl Iterator<Item = &[u8]> {
        self.replayed.iter().flatten().map(|b| b.as_slice())
    }
}

/// Where a replay stands.
#[derive(Resource, Clone, Debug, Default)]
pub struct ReplayStatus {
    /// Frames replayed so far.
    pub frame: u64,
    /// Frames the recording holds.
    pub frames: u64,
    /// Whether every recorded frame has been replayed.
    pub finished: bool,
    /// The first frame that went another way, if one did.
    pub diverged: Option<Divergence>,
    /// Mods whose code is not the recording's (or that are missing, or
    /// that the recording did not have), and settings or grants that are
    /// not the recording's, in words: where the replay diverges, they are
    /// the first suspects.
    pub mods_differ: Vec<String>,
    /// Why the replay could not start (the file is missing or unreadable).
    pub error: Option<String>,
}

/// The first frame of a replay that differs from its recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The frame, counted from the one the mods began on (0).
    pub frame: u64,
    /// The mods whose commands (or faults) differ from the recording's.
    pub mods: Vec<String>,
    /// Everything that differs, in words.
    pub differences: Vec<String>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the replay diverged at frame {}", self.frame)?;
        if !self.mods.is_empty() {
            write!(f, " (mods: {})", self.mods.join(", "))?;
        }
        write!(f, ": {}", self.differences.join("; "))
    }
}

/// Sent once, on the first frame of a replay that differs from its
/// recording.
#[derive(Message, Clone, Debug)]
pub struct ReplayDiverged(pub Divergence);

/// The 32-bit FNV-1a digest of `bytes` streamed through it, never 0 (0
/// says "did not tick").
#[derive(Default)]
pub(crate) struct Digest32(Option<u32>);

impl Digest32 {
    pub(crate) fn value(&self) -> u32 {
        self.0.unwrap_or(0x811c_9dc5).max(1)
    }
}

impl Write for Digest32 {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut hash = self.0.unwrap_or(0x811c_9dc5);
        for b in bytes {
            hash = (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193);
        }
        self.0 = Some(hash);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A digest of `value` as MessagePack (see [`Digest32`]).
pub(crate) fn digest_of(value: &impl Serialize) -> u32 {
    let mut digest = Digest32::default();
    let _ = rmp_serde::encode::write(&mut digest, value);
    digest.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Recording {
        Recording {
            header: RecordingHeader {
                format: FORMAT,
                contract: "0.2.0".into(),
                settings: "limits".into(),
                checksum_every: 60,
                mods: vec![RecordedMod {
                    id: "storm".into(),
                    version: "0.1.0".into(),
                    code: "ab".repeat(32),
                }],
            },
            frames: (0..3)
                .map(|n| RecordedFrame {
                    step_nanos: 16_666_666,
                    messages: vec![RecordedMessage {
                        name: "PlayerJoined".into(),
                        payload: ByteBuf::from(vec![0x80]),
                    }],
                    mods: (n == 0).then(|| vec!["storm".into()]),
                    ticks: vec![n + 1],
                    changes: Vec::new(),
                    checksum: (n == 2).then_some(42),
                    input: vec![ByteBuf::from(vec![n as u8])],
                    files: (n == 1)
                        .then(|| RecordedFile {
                            id: "storm".into(),
                            name: "storm.wasm".into(),
                            bytes: ByteBuf::from(b"\0asm".to_vec()),
                        })
                        .into_iter()
                        .collect(),
                })
                .collect(),
            cut_short: false,
        }
    }

    #[test]
    fn a_recording_of_the_first_format_reads_as_one_without_folder_changes() {
        let mut old = sample();
        old.header.format = 1;
        let mut bytes = MAGIC.to_vec();
        rmp_serde::encode::write_named(&mut bytes, &old.header).unwrap();
        for f in &old.frames {
            // Format 1 frames: the fields before `files`.
            let fields = (
                f.step_nanos,
                &f.messages,
                &f.mods,
                &f.ticks,
                &f.changes,
                f.checksum,
                &f.input,
            );
            rmp_serde::encode::write(&mut bytes, &fields).unwrap();
        }
        let read = Recording::from_reader(&bytes[..]).unwrap();
        assert!(!read.cut_short);
        assert_eq!(read.frames.len(), 3);
        assert!(read.frames.iter().all(|f| f.files.is_empty()));
        assert_eq!(read.frames[2].input, old.frames[2].input);
    }

    #[test]
    fn a_recording_reads_back_as_written() {
        let recording = sample();
        let bytes = recording.to_bytes();
        assert_eq!(Recording::from_reader(&bytes[..]).unwrap(), recording);
    }

    #[test]
    fn a_recording_cut_short_keeps_its_whole_frames() {
        let bytes = sample().to_bytes();
        let cut = Recording::from_reader(&bytes[..bytes.len() - 3]).unwrap();
        assert!(cut.cut_short);
        assert_eq!(cut.frames, sample().frames[..2]);
    }

    #[test]
    fn what_is_not_a_recording_is_refused_with_the_reason() {
        let e = Recording::from_reader(&b"PK\x03\x04 a zip"[..]).unwrap_err();
        assert!(e.contains("not a recording"), "{e}");
        let mut other = sample();
        other.header.format = 99;
        let e = Recording::from_reader(&other.to_bytes()[..]).unwrap_err();
        assert!(e.contains("format 99"), "{e}");
        let e = Recording::from_reader(&b"BWMO"[..]).unwrap_err();
        assert!(e.contains("too short"), "{e}");
    }
}
