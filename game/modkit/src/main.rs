//! `modkit`: a modder's toolkit.
//!
//! ```text
//! modkit new NAME --lang rust|python|js   # a mod project from a template
//! modkit test [DIR]                       # its tests, natively
//! modkit build [DIR]                      # build/NAME.wasm and build/NAME.zip
//! modkit check MOD [--mods DIR]           # the mod in the real host, headless
//! modkit run MOD... [--frames N]          # the demo game with these mods
//! ```

mod check;
mod project;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "modkit",
    version,
    about = "Make, build, test and check mods for games built on bevy-wasm-mods"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Makes a mod project from a template that builds as it is, with tests.
    New {
        /// The mod's name: lowercase letters, digits and `-`, starting with
        /// a letter. Its file is NAME.wasm, and the game knows it by NAME.
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum)]
        lang: project::Lang,
        /// Where to make it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The `mod-api` crate a Rust mod depends on (default: the one in
        /// the checkout modkit was built from).
        #[arg(long)]
        mod_api: Option<PathBuf>,
    },
    /// Runs a mod project's tests natively (cargo test, python3 -m
    /// unittest, node --test).
    Test {
        /// The project (default: the current folder).
        dir: Option<PathBuf>,
    },
    /// Builds a mod project into DIR/build/NAME.wasm and, from its
    /// `mod.toml` and `assets/`, its package DIR/build/NAME.zip (read back
    /// as the game would), installing the WebAssembly target or the guest
    /// build tool on first use.
    Build {
        /// The project (default: the current folder).
        dir: Option<PathBuf>,
    },
    /// Loads a mod in the real host, headless, beside the demo game, and
    /// runs it for a few hundred frames: prints its manifest, what it
    /// queries and defines, time per tick, memory, output per tick and any
    /// fault. Exits with 0 only when the mod ran clean.
    Check {
        /// The mod: a `.wasm` file, a package folder or a `.zip` package.
        file: PathBuf,
        /// Frames to run once it is loaded.
        #[arg(long, default_value_t = 300)]
        frames: u64,
        /// A folder of mods to run beside it (the mods it depends on): its
        /// package's dependencies are checked against them.
        #[arg(long)]
        mods: Option<PathBuf>,
    },
    /// Runs the demo game headless with these mods, their logs on the
    /// console, and prints what each did. Exits with 0 when every mod
    /// still runs at the end.
    Run {
        /// The mods: `.wasm` files, package folders or `.zip` packages.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Frames to run once they are loaded.
        #[arg(long, default_value_t = 600)]
        frames: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New {
            name,
            lang,
            dir,
            mod_api,
        } => project::new(&name, lang, dir, mod_api),
        Command::Test { dir } => project::open(dir).and_then(|p| tools::test(&p)),
        Command::Build { dir } => project::open(dir).and_then(|p| tools::build(&p).map(|_| ())),
        Command::Check { file, frames, mods } => check::check(&file, frames, mods.as_deref()),
        Command::Run { files, frames } => check::run(&files, frames),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modkit: {e}");
            ExitCode::FAILURE
        }
    }
}
