//! The results: one row per result stem in the timeline grid (waveform
//! aligned with the sources', mute / solo / gain, its aux output, its
//! file), the settings of the job that made them, and the job history.

use std::path::Path;

use egui::{Color32, RichText, Ui};

use super::frame::Frame;
use super::waveform::{self, Look};
use gmsdi_engine::settings::{spec, StoredSettings};

use crate::buses::{RESULT_NAMES, RESULT_OUTPUTS};
use crate::state::HistoryEntry;

/// Waveform colour of the results.
const RESULT_COLOR: Color32 = Color32::from_rgb(240, 180, 90);

/// Result rows inside the timeline grid (three columns: name and output,
/// mute and solo, waveform with gain and file below it).
pub fn rows(ui: &mut Ui, frame: &Frame) {
    let transport = frame.transport;
    ui.label(RichText::new("Results").heading());
    ui.label("");
    if frame.state.results.is_empty() {
        ui.label(
            RichText::new("None yet: they appear here, play in time with the song and are written as WAV files.")
                .weak(),
        );
    } else {
        ui.label("");
    }
    ui.end_row();
    for (i, clip) in frame.state.results.iter().enumerate() {
        ui.vertical(|ui| {
            ui.label(RichText::new(&clip.stem).strong());
            let output =
                if i < RESULT_OUTPUTS { format!("plays on {}", RESULT_NAMES[i]) } else { "main output only".into() };
            ui.label(RichText::new(output).small().weak());
        });
        if i < RESULT_OUTPUTS {
            mute_solo(ui, frame, i);
        } else {
            ui.label("");
        }
        ui.vertical(|ui| {
            match (frame.overviews.span, frame.overviews.results.get(i)) {
                (Some(span), Some(overview)) => {
                    let look =
                        Look { width: frame.wave_width, marked: None, playhead: transport.pos, color: RESULT_COLOR };
                    waveform::draw(ui, overview, span, look);
                }
                _ => {
                    ui.label("loading...");
                }
            }
            if i < RESULT_OUTPUTS {
                gain(ui, frame, i);
            }
            file(ui, frame.wave_width, &clip.path);
        });
        ui.end_row();
    }
}

/// Under the timeline: the settings of the job that made the results, and the history.
pub fn show(ui: &mut Ui, frame: &mut Frame) {
    if let Some(last) = frame.state.history.first().filter(|h| h.results == frame.state.results) {
        ui.label(RichText::new(format!("Made by: {}", describe(last))).small().weak()).on_hover_text(&last.resolved);
    }
    history(ui, frame);
}

/// Mute and solo of result `i` (parameters, so the host can automate them).
fn mute_solo(ui: &mut Ui, frame: &Frame, i: usize) {
    let (params, setter) = (frame.params, frame.setter);
    ui.vertical(|ui| {
        let stem = &params.stems[i];
        let mut mute = stem.mute.value();
        if ui.checkbox(&mut mute, "Mute").changed() {
            setter.begin_set_parameter(&stem.mute);
            setter.set_parameter(&stem.mute, mute);
            setter.end_set_parameter(&stem.mute);
        }
        if ui.small_button("Solo").on_hover_text("Mute every other result").clicked() {
            for (j, other) in params.stems.iter().enumerate() {
                setter.begin_set_parameter(&other.mute);
                setter.set_parameter(&other.mute, j != i);
                setter.end_set_parameter(&other.mute);
            }
        }
    });
}

/// Gain of result `i`, a host-automatable parameter (one gesture per drag).
fn gain(ui: &mut Ui, frame: &Frame, i: usize) {
    let (param, setter) = (&frame.params.stems[i].gain_db, frame.setter);
    let mut gain = param.value();
    let slider = ui.add(egui::Slider::new(&mut gain, -60.0..=12.0).suffix(" dB").fixed_decimals(1).text("Gain"));
    if slider.drag_started() {
        setter.begin_set_parameter(param);
    }
    if slider.changed() {
        if !slider.dragged() {
            setter.begin_set_parameter(param);
        }
        setter.set_parameter(param, gain);
        if !slider.dragged() {
            setter.end_set_parameter(param);
        }
    }
    if slider.drag_stopped() {
        setter.end_set_parameter(param);
    }
}

/// The file's name (the whole path on hover) with copy and open-folder buttons.
fn file(ui: &mut Ui, width: f32, path: &Path) {
    ui.allocate_ui(egui::vec2(width, ui.spacing().interact_size.y), |ui| {
        ui.horizontal(|ui| {
            let text = path.display().to_string();
            if ui.small_button("Copy path").on_hover_text(&text).clicked() {
                ui.ctx().copy_text(text.clone());
            }
            if ui.small_button("Open folder").clicked() {
                if let Some(dir) = path.parent() {
                    let _ = open::that_detached(dir); // failing to open a file manager is not worth a dialog
                }
            }
            let name = path.file_name().map_or(text.clone(), |n| n.to_string_lossy().into_owned());
            ui.add(egui::Label::new(RichText::new(name).monospace().small()).truncate()).on_hover_text(&text);
        });
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
                ui.label(format!("{}. {}", i + 1, describe(entry))).on_hover_text(&entry.resolved);
            });
        }
    });
}

/// A job in one line: task, what, and its settings.
fn describe(entry: &HistoryEntry) -> String {
    format!("{} {} · {}", entry.task, entry.summary, settings_text(&entry.settings))
}

/// The user's overrides in words ("model defaults" when none).
pub fn settings_text(s: &StoredSettings) -> String {
    let parts: Vec<String> =
        s.overrides.iter().map(|(key, v)| format!("{} {v}", spec(key).map_or(key, |s| s.label))).collect();
    if parts.is_empty() {
        "model defaults".into()
    } else {
        parts.join(", ")
    }
}
