//! The windowed demo as a player sees it: run with the example mods under a
//! display (Xvfb with Mesa's software Vulkan when there is none), it saves
//! a screenshot, and the pixels say what is drawn: every entity the game
//! reports at its place on screen, in front of the background elsewhere;
//! the ship in its colour; the storm's sign as the picture its package
//! holds; the mod panel when it is open.
//!
//! Needs the packages `.ci/run` installs (xvfb, mesa-vulkan-drivers, ...)
//! and the example mods in `assets/mods` (`bash mods/build.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// An entity as the game printed it: who owns it, where its centre is on
/// screen, how big it is drawn.
#[derive(Debug)]
struct Drawn {
    owner: String,
    x: f32,
    y: f32,
    size: f32,
}

struct Shot {
    /// What the game printed of mods' lives (loaded, faulted, ...).
    lives: Vec<String>,
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    drawn: Vec<Drawn>,
}

impl Shot {
    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// The demo's background, as the PNG holds it (sRGB 0.04, 0.05, 0.09).
const BACKGROUND: [u8; 3] = [10, 13, 23];

fn near(a: [u8; 3], b: [u8; 3], by: i32) -> bool {
    a.iter()
        .zip(b)
        .all(|(a, b)| (*a as i32 - b as i32).abs() <= by)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One demo at a time: each runs ten mods on the machine's cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the windowed demo with `args` until it has saved `name`.
fn screenshot(name: &str, args: &[&str]) -> Shot {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let demo = env!("CARGO_BIN_EXE_demo-game");
    let mut cmd = if std::env::var_os("DISPLAY").is_some() {
        Command::new(demo)
    } else {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1024x768x24", demo]);
        c
    };
    let out = cmd
        .current_dir(repo())
        .args(["--mods", "assets/mods", "--screenshot"])
        .arg(&path)
        .args(args)
        .output()
        .expect("xvfb-run runs (install xvfb, see .ci/run)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && path.exists(),
        "the demo did not save a screenshot ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let drawn = stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("drawn ")?.split(' ');
            Some(Drawn {
                owner: w.next()?.to_string(),
                x: w.next()?.parse().ok()?,
                y: w.next()?.parse().ok()?,
                size: w.next()?.parse().ok()?,
            })
        })
        .collect();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "Bevy saves RGB");
    buf.truncate(info.buffer_size());
    let lives = stdout
        .lines()
        .filter(|l| {
            [
                "loaded:",
                "faulted:",
                "recovered:",
                "quarantined:",
                "unloaded:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .map(str::to_string)
        .collect();
    Shot {
        lives,
        width: info.width as usize,
        height: info.height as usize,
        rgb: buf,
        drawn,
    }
}

/// Whether something other than the background is drawn within `reach`
/// pixels of (x, y): an entity moves a pixel or so between the frame whose
/// positions were printed and the frame captured, and a ring is hollow.
fn drawn_near(shot: &Shot, x: f32, y: f32, reach: i64) -> bool {
    let (x, y) = (x.round() as i64, y.round() as i64);
    (-reach..=reach).any(|dy| {
        (-reach..=reach).any(|dx| {
            let (px, py) = (x + dx, y + dy);
            px >= 0
                && py >= 0
                && (px as usize) < shot.width
                && (py as usize) < shot.height
                && !near(shot.pixel(px as usize, py as usize), BACKGROUND, 24)
        })
    })
}

/// Whether the background shows within `reach` pixels of `d`'s centre
/// (a picture hollow in the middle).
fn hollow(shot: &Shot, d: &Drawn, reach: i64, by: i32) -> bool {
    around(shot, d, reach).any(|p| near(p, BACKGROUND, by))
}

/// Whether `color` is drawn within half of `d`'s size of its centre.
fn ringed(shot: &Shot, d: &Drawn, color: [u8; 3], by: i32) -> bool {
    around(shot, d, (d.size / 2.0).ceil() as i64).any(|p| near(p, color, by))
}

/// The pixels within `reach` of `d`'s centre (a square), on screen.
fn around<'a>(shot: &'a Shot, d: &Drawn, reach: i64) -> impl Iterator<Item = [u8; 3]> + 'a {
    let (x, y) = (d.x.round() as i64, d.y.round() as i64);
    (-reach..=reach)
        .flat_map(move |dy| (-reach..=reach).map(move |dx| (x + dx, y + dy)))
        .filter(|(x, y)| {
            *x >= 0 && *y >= 0 && (*x as usize) < shot.width && (*y as usize) < shot.height
        })
        .map(|(x, y)| shot.pixel(x as usize, y as usize))
}

/// Near-white pixels (text) in a rectangle.
fn white_in(shot: &Shot, x0: usize, y0: usize, x1: usize, y1: usize) -> usize {
    (y0..y1.min(shot.height))
        .flat_map(|y| (x0..x1.min(shot.width)).map(move |x| (x, y)))
        .filter(|(x, y)| shot.pixel(*x, *y).iter().all(|c| *c > 200))
        .count()
}

#[test]
fn what_the_world_holds_is_on_screen_and_the_panel_opens() {
    // On a busy machine too: two threads keep both cores of CI busy while
    // the game runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let world = screenshot("world.png", &["--frames", "60"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in busy {
        b.join().unwrap();
    }
    assert_eq!((world.width, world.height), (800, 600));

    // Every entity whose centre is on screen is drawn there.
    let on_screen: Vec<&Drawn> = world
        .drawn
        .iter()
        .filter(|d| d.x >= 4.0 && d.y >= 4.0 && d.x < 796.0 && d.y < 596.0)
        .collect();
    let missing: Vec<&&Drawn> = on_screen
        .iter()
        .filter(|d| !drawn_near(&world, d.x, d.y, (d.size * 0.4).max(2.0) as i64))
        .collect();
    assert!(missing.is_empty(), "not drawn: {missing:?}");
    let mods = on_screen.iter().filter(|d| d.owner != "game").count();
    // The ship and six asteroids exist; asteroids drift at wall-clock speed
    // and wrap at the edges, so one or two may sit in the border band, off
    // the checked area, in the captured frame.
    let game = world.drawn.iter().filter(|d| d.owner == "game").count();
    let game_on_screen = on_screen.iter().filter(|d| d.owner == "game").count();
    assert!(
        game >= 7 && game_on_screen >= 4,
        "the ship and asteroids: {:?}",
        world.drawn
    );
    for owner in [
        "mover",
        "mover_py",
        "mover_js",
        "raw_spinner",
        "storm",
        "fireflies_py",
        "beacons_js",
    ] {
        assert!(
            on_screen.iter().any(|d| d.owner == owner),
            "{owner}'s entities on screen: {:?}\n{:#?}",
            world.drawn,
            world.lives
        );
    }
    assert!(mods >= 20, "{mods} mod entities on screen");

    // Away from every entity and where its label may be (centred above
    // it, up to 48 characters), and from the text along the edges: only
    // background.
    let clear = |x: f32, y: f32| {
        world.drawn.iter().all(|d| {
            let r = d.size / 2.0 + 6.0;
            (x - d.x).abs() > r.max(200.0) || y < d.y - r - 24.0 || y > d.y + r
        })
    };
    let mut empty = 0;
    let mut background = 0;
    for y in (40..500).step_by(10) {
        for x in (10..790).step_by(10) {
            if clear(x as f32, y as f32) {
                empty += 1;
                background += near(world.pixel(x, y), BACKGROUND, 3) as usize;
            }
        }
    }
    assert!(empty > 300, "{empty} empty places sampled");
    assert_eq!(background, empty, "the background elsewhere");

    // The ship in its colour (#4fc3f7), at its centre.
    let ship = world
        .drawn
        .iter()
        .find(|d| d.owner == "game" && d.size == 28.0)
        .expect("the ship");
    let (sx, sy) = (ship.x.round() as usize, ship.y.round() as usize);
    let blue = (sy - 2..=sy + 2)
        .flat_map(|y| (sx - 2..=sx + 2).map(move |x| (x, y)))
        .any(|(x, y)| near(world.pixel(x, y), [79, 195, 247], 12));
    assert!(blue, "the ship is blue at ({sx}, {sy})");

    // The storm's sign is the picture from its package
    // (mods/storm/assets/storm.png): a purple sky over a yellow band.
    let sign = world
        .drawn
        .iter()
        .find(|d| d.owner == "storm" && d.size == 32.0)
        .expect("the storm's sign");
    let seen = |dy: f32, color: [u8; 3]| {
        let (x, y) = (sign.x.round() as usize, (sign.y + dy).round() as usize);
        (y - 2..=y + 2)
            .flat_map(|y| (x - 2..=x + 2).map(move |x| (x, y)))
            .any(|(x, y)| near(world.pixel(x, y), color, 16))
    };
    assert!(
        seen(-8.0, [120, 60, 200]) && seen(8.0, [250, 210, 40]),
        "the storm's picture at ({}, {})",
        sign.x,
        sign.y
    );

    // The beacons' picture (mods/js/beacons/assets/beacon.png) is an empty
    // frame: hollow where the square shape would be filled purple. The
    // beacons stand still; one may be covered by a passing entity, so most
    // of them, not all, must show it.
    let beacons: Vec<&&Drawn> = on_screen
        .iter()
        .filter(|d| d.owner == "beacons_js")
        .collect();
    let framed = beacons
        .iter()
        .filter(|b| hollow(&world, b, 1, 12) && ringed(&world, b, [179, 89, 242], 40))
        .count();
    assert!(
        beacons.len() == 4 && framed >= 3,
        "{framed} of the beacons drawn as their empty frame: {beacons:?}"
    );

    // The fireflies' picture (mods/python/fireflies/assets/firefly.png) is
    // a halo with a dark centre, where the circle shape would be filled
    // yellow. They circle a few pixels a frame, and the captured frame may
    // be the one after the printed positions: the dark centre is looked
    // for within two pixels.
    let fireflies: Vec<&&Drawn> = on_screen
        .iter()
        .filter(|d| d.owner == "fireflies_py")
        .collect();
    let halos = fireflies
        .iter()
        .filter(|f| hollow(&world, f, 2, 24) && ringed(&world, f, [255, 230, 64], 60))
        .count();
    assert!(
        !fireflies.is_empty() && halos * 2 > fireflies.len(),
        "{halos} of the fireflies drawn as their halo: {fireflies:?}"
    );

    // The panel: a row of text for each of the ten mods, on the right.
    let panel = screenshot("panel.png", &["--frames", "60", "--panel"]);
    let closed = white_in(&world, 400, 36, 794, 440);
    let open = white_in(&panel, 400, 36, 794, 440);
    assert!(
        open > 3000 && open > 4 * closed,
        "panel text: {open} white pixels, {closed} without it"
    );
}

#[test]
fn without_a_display_the_game_says_so_and_runs_headless() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(env!("CARGO_BIN_EXE_demo-game"))
        .current_dir(repo())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args(["--mods", "assets/mods", "--frames", "30"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("no display (DISPLAY is not set): running headless"),
        "{stderr}"
    );
    assert!(
        stdout.contains("frames: 30") && stdout.contains("checksum: "),
        "{stdout}"
    );
    // A screenshot cannot be taken headless: said, and a failure.
    let out = Command::new(env!("CARGO_BIN_EXE_demo-game"))
        .current_dir(repo())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args(["--screenshot", "target/never.png"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot take a screenshot: no display"));
}
