//! Every mod's cost as Bevy diagnostics, so a game's own diagnostics tools
//! (a log, an overlay) show them beside its frame time. Paths are
//! `mods/<id>/<figure>`; see [`FIGURES`].

use std::collections::HashMap;

use bevy::diagnostic::{Diagnostic, DiagnosticMeasurement, DiagnosticPath, DiagnosticsStore};
use bevy::prelude::*;

use super::ModRegistry;
use crate::registry::ModCost;

/// One figure of a mod's cost, published as a diagnostic.
pub struct CostFigure {
    /// The last component of its path.
    pub name: &'static str,
    /// The unit shown after its value.
    pub unit: &'static str,
    /// Reads it from a mod's cost.
    pub read: fn(&ModCost) -> f64,
}

/// The figures each mod has as diagnostics.
pub const FIGURES: [CostFigure; 6] = [
    CostFigure {
        name: "guest_time",
        unit: "ms",
        read: |c| c.guest_time.as_secs_f64() * 1000.0,
    },
    CostFigure {
        name: "main_thread",
        unit: "ms",
        read: |c| c.main_thread.as_secs_f64() * 1000.0,
    },
    CostFigure {
        name: "bytes_in",
        unit: "B",
        read: |c| c.bytes_in as f64,
    },
    CostFigure {
        name: "bytes_out",
        unit: "B",
        read: |c| c.bytes_out as f64,
    },
    CostFigure {
        name: "entities",
        unit: "",
        read: |c| c.entities as f64,
    },
    CostFigure {
        name: "memory",
        unit: "B",
        read: |c| c.memory_bytes as f64,
    },
];

/// The diagnostic path of figure `figure` (one of [`FIGURES`]) of mod `id`.
pub fn mod_diagnostic(id: &str, figure: &str) -> DiagnosticPath {
    // A mod's id is a file's stem: never empty, never holds a `/`.
    DiagnosticPath::from_components(["mods", id, figure])
}

/// What was last published of one mod: its tick count then, and the paths
/// of its figures (made once: a path is a string and its hash).
pub(crate) struct Published {
    ticks: u64,
    paths: [DiagnosticPath; FIGURES.len()],
    /// The last round of [`publish_costs`] that found the mod.
    round: u64,
}

/// Adds one measurement per figure for each mod that ticked since the last
/// frame; clears the history of a mod that is gone.
pub(crate) fn publish_costs(
    registry: Res<ModRegistry>,
    store: Option<ResMut<DiagnosticsStore>>,
    mut seen: Local<(u64, HashMap<String, Published>)>,
) {
    let Some(mut store) = store else {
        return;
    };
    let now = bevy::platform::time::Instant::now();
    let (round, seen) = &mut *seen;
    *round += 1;
    for info in registry.mods() {
        if info.ticks == 0 {
            continue;
        }
        let published = match seen.get_mut(info.id.as_str()) {
            Some(p) if p.ticks == info.ticks => {
                p.round = *round;
                continue;
            }
            Some(p) => p,
            None => {
                let paths = FIGURES.map(|f| mod_diagnostic(&info.id, f.name));
                for (path, figure) in paths.iter().zip(&FIGURES) {
                    if store.get(path).is_none() {
                        store.add(Diagnostic::new(path.clone()).with_suffix(figure.unit));
                    }
                }
                seen.entry(info.id.clone()).or_insert(Published {
                    ticks: 0,
                    paths,
                    round: 0,
                })
            }
        };
        published.ticks = info.ticks;
        published.round = *round;
        for (path, figure) in published.paths.iter().zip(&FIGURES) {
            if let Some(diagnostic) = store.get_mut(path)
                && diagnostic.is_enabled
            {
                diagnostic.add_measurement(DiagnosticMeasurement {
                    time: now,
                    value: (figure.read)(&info.cost),
                });
            }
        }
    }
    // Mods not found this round are gone (one look-up each above, not a
    // search of the registry per mod).
    seen.retain(|_, published| {
        let here = published.round == *round;
        if !here {
            for path in &published.paths {
                if let Some(d) = store.get_mut(path) {
                    d.clear_history();
                }
            }
        }
        here
    });
}
