//! Misbehaves on purpose. The game's config says how (`{"attack": ...}`)
//! and from which tick (`{"from": n}`, default 3). Before each attack the
//! mod spawns an entity at (-1, -1), so a test can check that nothing of the
//! failed tick reached the world. An attack that finds the sandbox open
//! emits `escaped` and returns normally, which the tests treat as a failure.

use mod_api::__private::bindings::bevy_wasm::mods as raw;
use mod_api::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy)]
struct Position {
    x: f32,
    y: f32,
}

component!(Position { x: f32, y: f32 });

/// A type the demo game exposes read-only.
#[derive(Serialize, Deserialize, Clone, Copy)]
struct Health {
    current: i32,
    max: i32,
}

component!(Health);

/// A type the game does not expose and this mod does not define.
#[derive(Serialize, Deserialize, Clone, Copy)]
struct Secret {
    level: u32,
}

component!(Secret);

/// A `Badge` of this mod's own (`squat` declares one, as the greeter does).
#[derive(Serialize, Deserialize, Clone)]
struct Badge {
    greeted: u32,
    names: Vec<String>,
}

component!(Badge);

/// A type this mod defines with `hoard-bytes`: a megabyte a value.
#[derive(Serialize, Deserialize, Clone)]
struct Blob {
    data: serde_bytes::ByteBuf,
}

component!(Blob);

/// The greeter's `Badge` as a mod that misread its shape would have it.
#[derive(Serialize, Deserialize, Clone)]
struct MisreadBadge {
    greeted: String,
}

impl mod_api::Component for MisreadBadge {
    const NAME: &'static str = "Badge";
}

#[derive(Deserialize, Default)]
struct Config {
    attack: String,
    /// `chatter`: events sent each tick (default 1); `work`: thousands of
    /// steps of arithmetic each tick (`grow`: each tick, times its number
    /// plus one).
    #[serde(default)]
    per_tick: Option<u32>,
    /// `chatter`: send text where listeners expect numbers.
    #[serde(default)]
    garble: bool,
    /// `chatter`: claim the `chat` event name, and whether to share it
    /// (`hoard-bytes`: share the `Blob` type).
    #[serde(default)]
    claim: bool,
    #[serde(default)]
    share: bool,
    #[serde(default)]
    from: Option<u64>,
    /// Attack in tick `from` only, and behave after (tick numbers go on
    /// across a restart).
    #[serde(default)]
    once: bool,
    /// A display name other than the crate's.
    #[serde(default)]
    name: Option<String>,
    /// `steal-type`, `steal-event`: the full name of another mod's type or
    /// event to write or send (default `greeter:Badge`,
    /// `greeter:greeting`); `chatter`: the event to send (default `chat`).
    #[serde(default)]
    target: Option<String>,
}

#[derive(Default)]
struct Hostile {
    config: Config,
    mine: Vec<Entity>,
    /// `listen`: `chat` events heard, by sender (`game` for the game).
    heard: std::collections::BTreeMap<String, u64>,
}

/// The greeter's `Badge`, named as another mod names it.
#[derive(Serialize, Deserialize, Clone)]
struct GreetersBadge {
    greeted: u32,
    names: Vec<String>,
}

component!(GreetersBadge = "greeter:Badge");

impl Hostile {
    /// The other mod's name this attack uses.
    fn target(&self, default: &str) -> String {
        self.config.target.clone().unwrap_or_else(|| default.into())
    }
}

/// Every source of chance and time a Rust mod's standard library reaches
/// (`entropy`): the game must give the same values in every run and on
/// every machine, and clocks that read game time.
fn entropy() -> (u64, Vec<&'static str>, u64, u64) {
    use std::hash::BuildHasher;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    // A HashMap's hasher is keyed from the system's randomness.
    let state = std::collections::hash_map::RandomState::new();
    let order = std::collections::HashSet::<&str>::from_iter(["alpha", "beta", "gamma", "delta"]);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let since = START.get_or_init(Instant::now).elapsed().as_nanos() as u64;
    (
        state.hash_one("bevy"),
        order.into_iter().collect(),
        wall,
        since,
    )
}

fn escaped(what: &str) -> Result<()> {
    emit("escaped", what)
}

impl Mod for Hostile {
    fn manifest(&self, manifest: Manifest) -> Manifest {
        let manifest = match &self.config.name {
            Some(name) => manifest.with_name(name.clone()),
            None => manifest,
        };
        let manifest = manifest.query::<Position>();
        match self.config.attack.as_str() {
            "steal-type" | "odd-badge" => manifest.define::<Badge>(),
            // Declares the greeter's names as its own: it gets its own.
            "squat" => manifest
                .define::<Badge>()
                .emits("greeting")
                .query::<Badge>(),
            // Declares the greeter's type by its full name: refused.
            "squat-full" => manifest.define::<Badge>().define::<GreetersBadge>(),
            "hoard-bytes" if self.config.share => manifest.define::<Blob>().share("Blob"),
            "hoard-bytes" => manifest.define::<Blob>(),
            "read-blobs" => manifest.query::<Blob>(),
            "listen" => manifest.subscribe("chat").query::<MisreadBadge>(),
            "chatter" if self.config.claim && self.config.share => {
                manifest.emits("chat").share("chat")
            }
            "chatter" if self.config.claim => manifest.emits("chat"),
            _ => manifest,
        }
    }

    fn event(&mut self, event: &Event) -> Result<()> {
        // A number is what a chat event carries; anything else is the
        // sender's fault, and `?` reports it as such.
        let _n: u32 = event.decode()?;
        let from = event.source.clone().unwrap_or_else(|| "game".into());
        *self.heard.entry(from).or_default() += 1;
        Ok(())
    }

    fn init(&mut self, config: &[u8]) -> Result<()> {
        self.config = rmp_serde::from_slice(config).map_err(|e| Error::msg(e.to_string()))?;
        if self.config.attack == "loop-in-init" {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        if self.config.attack == "loop-in-late-init" {
            // Game time starts at 2025-01-01: a start later than half a
            // second into the game (an update, not the first load) loops.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| Error::msg(e.to_string()))?;
            if now.as_secs_f64() > 1_735_689_600.5 {
                #[allow(clippy::empty_loop)]
                loop {}
            }
        }
        Ok(())
    }

    fn restore(&mut self, _state: &[u8]) -> Result<()> {
        if self.config.attack == "fail-restore" {
            return Err(Error::msg("this mod's restore fails on purpose"));
        }
        Ok(())
    }

    fn tick(&mut self, tick: &Tick) -> Result<()> {
        match self.config.attack.as_str() {
            // Misbehave only when updated (see `init` and `restore`).
            "fail-restore" | "loop-in-late-init" => return Ok(()),
            "entropy" => return emit("entropy", &entropy()),
            "chatter" => {
                let name = self.config.target.as_deref().unwrap_or("chat");
                for i in 0..self.config.per_tick.unwrap_or(1) {
                    if self.config.garble {
                        emit(name, "not a number")?;
                    } else {
                        emit(name, &i)?;
                    }
                }
                return Ok(());
            }
            "squat" => {
                if tick.frame == 0 {
                    spawn(&Badge {
                        greeted: 0,
                        names: vec!["squatter".into()],
                    })?;
                }
                let badges = read_batch::<Badge>()?.len();
                return emit("greeting", &badges);
            }
            "listen" => {
                emit("heard", &self.heard)?;
                // Read last: the badge's shape is not what this mod thinks.
                if tick.frame > 0 {
                    read_batch::<MisreadBadge>()?;
                }
                return Ok(());
            }
            "read-blobs" => {
                let blobs = read_batch::<Blob>()?.len();
                return emit("blobs", &blobs);
            }
            "work" | "grow" => {
                // Honest work of a fixed size (`grow`: growing with each
                // tick, until a limit cuts it): what it costs in time is
                // the machine's business.
                let mut x = tick.frame | 1;
                let times = if self.config.attack == "grow" {
                    tick.frame + 1
                } else {
                    1
                };
                for _ in 0..u64::from(self.config.per_tick.unwrap_or(1)) * 1_000 * times {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                }
                return emit("worked", &std::hint::black_box(x));
            }
            "odd-badge" => {
                // A `Badge` no reader can decode, in any language: its
                // count an extension type, its name not UTF-8. Well-formed
                // MessagePack, so the game takes it.
                if tick.frame == self.config.from.unwrap_or(3) {
                    let mut odd = vec![0x82, 0xa7];
                    odd.extend_from_slice(b"greeted");
                    odd.extend_from_slice(&[0xd4, 0x01, 0x00, 0xa5]);
                    odd.extend_from_slice(b"names");
                    odd.extend_from_slice(&[0x91, 0xa2, 0xff, 0xfe]);
                    let badge = raw::types::Component {
                        name: "Badge".into(),
                        value: odd,
                    };
                    raw::entities::spawn(&[badge]).map_err(|e| Error::msg(format!("{e:?}")))?;
                }
                return Ok(());
            }
            "hoard-bytes" => {
                if tick.frame >= self.config.from.unwrap_or(3) {
                    let data = serde_bytes::ByteBuf::from(vec![7u8; 1 << 20]);
                    spawn(&Blob { data })?;
                }
                return Ok(());
            }
            _ => {}
        }
        if self.config.attack == "hoard" {
            // Spawns as many as it may, every tick; at the cap spawn fails
            // and the mod simply tries again next tick.
            while let Ok(e) = spawn(&Position { x: 5.0, y: 5.0 }) {
                self.mine.push(e);
            }
            return Ok(());
        }
        let from = self.config.from.unwrap_or(3);
        if tick.frame == 0 {
            // Lives through faults: its components stay in the world.
            spawn(&Position { x: 3.0, y: 3.0 })?;
        }
        if tick.frame < from || (self.config.once && tick.frame > from) {
            return Ok(());
        }
        match self.config.attack.as_str() {
            "steal-type" => {
                let badge = Badge {
                    greeted: 999,
                    names: vec!["forged".into()],
                };
                let forged = raw::types::Component {
                    name: self.target("greeter:Badge"),
                    value: rmp_serde::to_vec_named(&badge)
                        .map_err(|e| Error::msg(e.to_string()))?,
                };
                raw::entities::spawn(&[forged]).map_err(|e| Error::msg(format!("{e:?}")))?;
                return escaped("wrote another mod's type");
            }
            "steal-event" => {
                emit(&self.target("greeter:greeting"), "forged")?;
                return escaped("sent another mod's event");
            }
            "forge-message" => {
                emit(
                    "PlayerJoined",
                    &std::collections::BTreeMap::from([("name", "forged"), ("level", "1")]),
                )?;
                return escaped("sent the game's message");
            }
            "hog-main-thread" => {
                // Within every per-tick cap, but each insert is decoded by
                // reflection on the game's main thread.
                let mine = spawn(&Position { x: 0.0, y: 0.0 })?;
                for i in 0..99_000 {
                    insert(
                        mine,
                        &Position {
                            x: i as f32,
                            y: 0.0,
                        },
                    )?;
                }
                return Ok(());
            }
            "flood-denied" => {
                // Each call is refused, and would be logged.
                let mine = spawn(&Position { x: 0.0, y: 0.0 })?;
                for _ in 0..10_000 {
                    let _ = insert(mine, &Secret { level: 1 });
                }
                return Ok(());
            }
            "babble" => {
                // All the lines a tick may write, each as long as may be,
                // on every stream, every tick.
                let line = "babble ".repeat(585);
                for _ in 0..100 {
                    mod_api::log::info(&line);
                }
                println!("{line}");
                eprintln!("{line}");
                return Ok(());
            }
            "noisy" => {
                // Text that would clear a terminal, reverse a line and
                // forge a second log line, if it reached one raw.
                mod_api::log::warn("first\nforged line \u{1b}[2J \u{202e}desrever");
                println!("stdout \u{1b}[31mred\rover");
                return Err(Error::msg("failed \u{1b}[2J\nforged fault line"));
            }
            "random" => {
                // What WASI's random source gives, straight from the host.
                let mut bytes = [0u8; 96];
                getrandom::fill(&mut bytes).map_err(|e| Error::msg(e.to_string()))?;
                return emit("random", serde_bytes::Bytes::new(&bytes));
            }
            "clock" => {
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_err(|e| Error::msg(e.to_string()))?;
                let start = std::time::Instant::now();
                std::thread::sleep(std::time::Duration::from_millis(250));
                let slept = start.elapsed();
                return emit("clock", &(wall.as_secs_f64(), slept.as_secs_f64()));
            }
            "read-data" => {
                return match std::fs::read_to_string("/data/hello.txt") {
                    Ok(text) => {
                        if std::fs::write("/data/hello.txt", "overwritten").is_ok() {
                            return escaped("wrote into a read-only grant");
                        }
                        emit("data", &text)
                    }
                    Err(e) => Err(Error::msg(format!("file system: {e}"))),
                };
            }
            _ => {}
        }
        // Marks the tick: this entity must never appear.
        spawn(&Position { x: -1.0, y: -1.0 })?;
        match self.config.attack.as_str() {
            "loop" =>
            {
                #[allow(clippy::empty_loop)]
                loop {}
            }
            "sleep" => {
                // A real sleep would hold the worker for an hour; a mod's
                // sleep returns at once, and the loop meets the deadline.
                std::thread::sleep(std::time::Duration::from_secs(3600));
                #[allow(clippy::empty_loop)]
                loop {}
            }
            "panic" => panic!("this mod panics on purpose"),
            "trap" => {
                #[cfg(target_arch = "wasm32")]
                core::arch::wasm32::unreachable();
                #[allow(unreachable_code)]
                Ok(())
            }
            "allocate" => {
                // Big zeroed blocks: the memory cap is met in a few
                // growths, whatever the machine's load.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![0u8; 8 << 20]));
                }
            }
            "recurse" => {
                fn down(n: u64) -> u64 {
                    if n == u64::MAX {
                        0
                    } else {
                        1 + down(std::hint::black_box(n + 1))
                    }
                }
                let _ = down(0);
                Ok(())
            }
            "error" => Err(Error::msg("this mod fails on purpose")),
            "long-error" => Err(Error::msg("long error ".repeat(1 << 20))),
            "flood" => {
                // Far more events than a tick may carry; errors ignored.
                for i in 0..1_000_000u32 {
                    let _ = emit("spam", &i);
                }
                Ok(())
            }
            "giant-payload" => {
                // One event bigger than a tick may send.
                let _ = emit("giant", &serde_bytes::ByteBuf::from(vec![7u8; 3 << 20]));
                Ok(())
            }
            "deep" => {
                // MessagePack nested 100,000 deep: arrays of one element.
                let mut bytes = vec![0x91u8; 100_000];
                bytes.push(0xc0);
                let _ = raw::events::emit("deep", &bytes);
                Ok(())
            }
            "invalid-msgpack" => {
                // 0xc1 is never used in MessagePack.
                let _ = raw::events::emit("broken", &[0xc1, 0x00, 0xff]);
                Ok(())
            }
            "write-read-only" => {
                let e = spawn(&Position { x: -1.0, y: -2.0 })?;
                let _ = insert(e, &Health { current: 1, max: 1 });
                Ok(())
            }
            "write-unexposed" => {
                let e = spawn(&Position { x: -1.0, y: -3.0 })?;
                let _ = insert(e, &Secret { level: 9 });
                Ok(())
            }
            "despawn-other" => {
                // Anything but its own keeper at (3, 3) is someone else's:
                // its marked spawns never reached the world.
                let rows = read_batch::<Position>()?;
                match rows.iter().find(|(_, p)| (p.x, p.y) != (3.0, 3.0)) {
                    Some((e, _)) => {
                        let _ = despawn(*e);
                        Ok(())
                    }
                    None => escaped("no entity of another mod to attack"),
                }
            }
            "write-other" => {
                // Straight to the host: mod-api would leave out the rows
                // this mod may not change.
                let mut batch = raw::entities::query_batch(&["Position".to_string()])
                    .map_err(|e| Error::msg(format!("{e:?}")))?;
                let far: Vec<u8> = (0..batch.entities.len())
                    .flat_map(|_| [1e9f32.to_le_bytes(), 1e9f32.to_le_bytes()].concat())
                    .collect();
                batch.columns[0].data = far;
                let _ = raw::entities::write_batch(&batch);
                Ok(())
            }
            "open-file" => match std::fs::read("/etc/passwd") {
                Ok(_) => escaped("read /etc/passwd"),
                Err(e) => Err(Error::msg(format!("file system: {e}"))),
            },
            "read-env" => {
                let vars: Vec<(String, String)> = std::env::vars().collect();
                let args: Vec<String> = std::env::args().collect();
                if vars.is_empty() && args.is_empty() {
                    Err(Error::msg("environment: no variables, no arguments"))
                } else {
                    escaped("read the environment")
                }
            }
            "socket" => match std::net::TcpStream::connect("127.0.0.1:80") {
                Ok(_) => escaped("opened a socket"),
                Err(e) => Err(Error::msg(format!("network: {e}"))),
            },
            "resolve" => match std::net::ToSocketAddrs::to_socket_addrs("localhost:80") {
                Ok(_) => escaped("resolved a host name"),
                Err(e) => Err(Error::msg(format!("network: {e}"))),
            },
            other => Err(Error::msg(format!("unknown attack `{other}`"))),
        }
    }
}

register_mod!(Hostile);
