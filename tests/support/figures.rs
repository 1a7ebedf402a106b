//! The benchmarks' figures against the ones recorded in docs/benchmarks.md,
//! so a figure that got worse is said, not noticed months later.
//!
//! docs/benchmarks.md ends with a table, "Recorded figures": a figure's id
//! (in a code span), its recorded value, its unit, the noise this machine
//! shows between runs (a percentage) and what it is. A benchmark
//! [`note`](Figures::note)s each figure it measures under the same id, and
//! [`Figures::compare`] prints each beside its record and says which got
//! worse by more than the noise. A lower figure is better for all of them
//! (times, ratios, bytes).

use std::path::Path;

/// One recorded figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub id: String,
    pub value: f64,
    pub unit: String,
    /// How far above the record a run may land on this machine and still
    /// be the same figure, as a fraction (0.3 for ±30%).
    pub noise: f64,
}

/// The "Recorded figures" table of a benchmarks document.
pub fn recorded(doc: &str) -> Vec<Recorded> {
    let Some(start) = doc.find("## Recorded figures") else {
        return Vec::new();
    };
    doc[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(row)
        .collect()
}

fn row(line: &str) -> Option<Recorded> {
    let cells: Vec<&str> = line
        .trim()
        .strip_prefix('|')?
        .split('|')
        .map(str::trim)
        .collect();
    let id = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
    let value = cells.get(1)?.replace(',', "").parse().ok()?;
    let unit = cells.get(2)?.to_string();
    let noise = cells
        .get(3)?
        .trim_start_matches('±')
        .strip_suffix('%')?
        .parse::<f64>()
        .ok()?
        / 100.0;
    Some(Recorded {
        id: id.to_string(),
        value,
        unit,
        noise,
    })
}

/// What a run measured, by id.
#[derive(Default)]
pub struct Figures(Vec<(String, f64)>);

/// A figure beside its record.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Within the noise of the record, or better.
    Same,
    /// Better than the record by more than the noise.
    Better,
    /// Worse than the record by more than the noise.
    Worse,
    /// Nothing recorded under this id.
    New,
}

impl Figures {
    pub fn note(&mut self, id: &str, value: f64) {
        self.0.push((id.to_string(), value));
    }

    /// Each figure beside its record.
    pub fn verdicts(&self, records: &[Recorded]) -> Vec<(String, f64, Option<Recorded>, Verdict)> {
        self.0
            .iter()
            .map(|(id, value)| {
                let record = records.iter().find(|r| &r.id == id).cloned();
                let verdict = match &record {
                    None => Verdict::New,
                    Some(r) if *value > r.value * (1.0 + r.noise) => Verdict::Worse,
                    Some(r) if *value < r.value / (1.0 + r.noise) => Verdict::Better,
                    Some(_) => Verdict::Same,
                };
                (id.clone(), *value, record, verdict)
            })
            .collect()
    }

    /// Prints every figure beside the one recorded in `doc` (a path) and
    /// says which got worse; returns how many did.
    pub fn compare(&self, doc: &Path) -> usize {
        let text = std::fs::read_to_string(doc).unwrap_or_default();
        let records = recorded(&text);
        println!();
        println!("against the figures recorded in {}:", doc.display());
        let mut worse = 0;
        for (id, value, record, verdict) in self.verdicts(&records) {
            let Some(r) = record else {
                println!("  {id}: {value:.2} (nothing recorded)");
                continue;
            };
            let change = (value / r.value - 1.0) * 100.0;
            let said = match verdict {
                Verdict::Worse => {
                    worse += 1;
                    "WORSE, beyond this machine's noise"
                }
                Verdict::Better => "better",
                _ => "the same, within the noise",
            };
            println!(
                "  {id}: {value:.2} {unit}, recorded {:.2} ({change:+.0}%, noise ±{:.0}%): {said}",
                r.value,
                r.noise * 100.0,
                unit = r.unit,
            );
        }
        if worse > 0 {
            println!("{worse} figure(s) got worse than recorded");
        }
        worse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Benchmarks\n\n## Recorded figures\n\n\
        | figure | recorded | unit | noise | what |\n|---|---:|---|---:|---|\n\
        | `idle.per_mod.100` | 2.0 | µs | ±40% | idle mods |\n\
        | `mover.update_batch` | 1,015.8 | × native | ±30% | the mover |\n\
        | not a figure | 1 | x | ±1% | |\n\n## After\n| `later` | 1 | x | ±1% | |\n";

    #[test]
    fn the_table_is_read_and_figures_are_judged_against_its_noise() {
        let records = recorded(DOC);
        assert_eq!(records.len(), 2, "{records:?}");
        assert_eq!(records[1].value, 1015.8);
        assert_eq!(records[0].noise, 0.4);
        let mut figures = Figures::default();
        figures.note("idle.per_mod.100", 2.7);
        figures.note("idle.per_mod.100", 2.9);
        figures.note("mover.update_batch", 700.0);
        figures.note("new.one", 1.0);
        let verdicts: Vec<Verdict> = figures
            .verdicts(&records)
            .into_iter()
            .map(|v| v.3)
            .collect();
        assert_eq!(
            verdicts,
            [Verdict::Same, Verdict::Worse, Verdict::Better, Verdict::New]
        );
    }
}
