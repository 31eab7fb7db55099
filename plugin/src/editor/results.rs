//! The results panel: one row per result stem (waveform on the sources'
//! timeline, mute / solo / gain, its aux output, its file), the settings
//! of the job that made them, and the history of this instance's jobs.

use std::path::Path;

use egui::{Color32, RichText, Ui};

use super::view::Frame;
use super::waveform;
use crate::state::{HistoryEntry, JobSettings};
use crate::RESULT_OUTPUTS;

/// Waveform colour of the results.
const RESULT_COLOR: Color32 = Color32::from_rgb(240, 180, 90);

/// Draws the panel.
pub fn show(ui: &mut Ui, frame: &mut Frame) {
    ui.heading("Results");
    if frame.state.results.is_empty() {
        ui.label(
            RichText::new("No results yet: they appear here, play with the transport and are written as WAV files.")
                .weak(),
        );
    }
    let transport = frame.shared.live.transport();
    let results = frame.state.results.clone();
    egui::Grid::new("results").num_columns(3).show(ui, |ui| {
        for (i, clip) in results.iter().enumerate() {
            ui.vertical(|ui| {
                ui.label(RichText::new(&clip.stem).strong());
                let output =
                    if i < RESULT_OUTPUTS { format!("plays on Result {}", i + 1) } else { "main output only".into() };
                ui.label(RichText::new(output).small().weak());
            });
            match (frame.overviews.span, frame.overviews.results.get(i)) {
                (Some(span), Some(overview)) => waveform::draw(ui, overview, span, None, transport.pos, RESULT_COLOR),
                _ => {
                    ui.label("loading...");
                }
            }
            ui.vertical(|ui| {
                if i < RESULT_OUTPUTS {
                    controls(ui, frame, i);
                }
                file(ui, &clip.path);
            });
            ui.end_row();
        }
    });
    if let Some(last) = frame.state.history.first().filter(|h| h.results == frame.state.results) {
        ui.label(RichText::new(format!("Made by: {}", describe(last))).small().weak());
    }
    history(ui, frame);
}

/// Mute, solo and gain of result `i` (parameters, so the host can automate them).
fn controls(ui: &mut Ui, frame: &Frame, i: usize) {
    let params = &frame.shared.params;
    let setter = frame.setter;
    ui.horizontal(|ui| {
        let stem = &params.stems[i];
        let mut mute = stem.mute.value();
        if ui.checkbox(&mut mute, "Mute").changed() {
            setter.begin_set_parameter(&stem.mute);
            setter.set_parameter(&stem.mute, mute);
            setter.end_set_parameter(&stem.mute);
        }
        if ui.button("Solo").on_hover_text("Mute every other result").clicked() {
            for (j, other) in params.stems.iter().enumerate() {
                setter.begin_set_parameter(&other.mute);
                setter.set_parameter(&other.mute, j != i);
                setter.end_set_parameter(&other.mute);
            }
        }
        let mut gain = stem.gain_db.value();
        let slider = ui.add(egui::Slider::new(&mut gain, -60.0..=12.0).suffix(" dB").fixed_decimals(1));
        if slider.drag_started() {
            setter.begin_set_parameter(&stem.gain_db);
        }
        if slider.changed() {
            setter.set_parameter(&stem.gain_db, gain);
        }
        if slider.drag_stopped() || (slider.changed() && !slider.dragged()) {
            setter.end_set_parameter(&stem.gain_db);
        }
    });
}

/// The file's path with copy and open-folder buttons.
fn file(ui: &mut Ui, path: &Path) {
    ui.horizontal(|ui| {
        let text = path.display().to_string();
        let name = path.file_name().map_or(text.clone(), |n| n.to_string_lossy().into_owned());
        ui.label(RichText::new(name).monospace().small()).on_hover_text(&text);
        if ui.small_button("Copy path").clicked() {
            ui.ctx().copy_text(text);
        }
        if ui.small_button("Open folder").clicked() {
            if let Some(dir) = path.parent() {
                let _ = open::that_detached(dir); // failing to open a file manager is not worth a dialog
            }
        }
    });
}

/// The last jobs, each restorable.
fn history(ui: &mut Ui, frame: &mut Frame) {
    let entries = frame.state.history.clone();
    egui::CollapsingHeader::new(format!("Job history ({})", entries.len())).default_open(false).show(ui, |ui| {
        for (i, entry) in entries.iter().enumerate() {
            ui.horizontal(|ui| {
                let current = entry.results == frame.state.results;
                let restore = ui.add_enabled(!current, egui::Button::new(if current { "Playing" } else { "Restore" }));
                if restore.on_hover_text("Play this job's results again").clicked() {
                    frame.state.results.clone_from(&entry.results); // the view asks the worker to load them
                }
                ui.label(format!("{}. {}", i + 1, describe(entry)));
            });
        }
    });
}

/// A job in one line: task, what, and its settings.
fn describe(entry: &HistoryEntry) -> String {
    format!("{} {} · {}", entry.task, entry.summary, settings_text(&entry.settings))
}

/// The user's overrides in words ("model defaults" when none).
pub fn settings_text(s: &JobSettings) -> String {
    let mut parts = Vec::new();
    if let Some(v) = s.steps {
        parts.push(format!("steps {v}"));
    }
    if let Some(v) = s.w {
        parts.push(format!("w {v}"));
    }
    if let Some(v) = s.gamma {
        parts.push(format!("γ {v}"));
    }
    if let Some(v) = s.seed {
        parts.push(format!("seed {v}"));
    }
    for (name, v) in
        [("sampler", &s.sampler), ("method", &s.method), ("constrained", &s.constrained), ("on", &s.provider)]
    {
        if let Some(v) = v {
            parts.push(format!("{name} {v}"));
        }
    }
    if let Some(v) = s.negative_prompts {
        parts.push(format!("negative prompts {}", if v { "on" } else { "off" }));
    }
    if parts.is_empty() {
        "model defaults".into()
    } else {
        parts.join(", ")
    }
}
