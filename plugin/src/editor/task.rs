//! The task panel: what Generate runs (task, stems with their prompts) and
//! how (settings prefilled with the model's defaults, each with a tooltip).

use std::collections::BTreeMap;

use egui::{Id, RichText, Ui};
use gmsdi_engine::settings::Settings;
use nice_plug::prelude::Enum;

use super::frame::Frame;
use crate::model_info::ModelInfo;
use crate::params::{Monitor, TaskChoice};
use crate::state::JobSettings;

/// Draws the panel.
pub fn show(ui: &mut Ui, frame: &mut Frame) {
    ui.heading("Task");
    let params = frame.params;
    let choice = params.task.value();
    ui.horizontal(|ui| {
        for (i, name) in TaskChoice::variants().iter().enumerate() {
            let option = TaskChoice::from_index(i);
            if ui.selectable_label(choice == option, *name).on_hover_text(describe(option)).clicked()
                && option != choice
            {
                frame.setter.begin_set_parameter(&params.task);
                frame.setter.set_parameter(&params.task, option);
                frame.setter.end_set_parameter(&params.task);
            }
        }
    });
    ui.label(RichText::new(describe(choice)).weak());
    let Some(model) = frame.model_info().cloned() else { return };
    stems(ui, frame, &model, choice);
    let defaults = model.defaults.get(choice.name()).cloned();
    egui::CollapsingHeader::new("Settings").default_open(true).show(ui, |ui| {
        settings(ui, frame, choice, &model, defaults.as_ref());
    });
}

/// One line on what a task does.
fn describe(choice: TaskChoice) -> &'static str {
    match choice {
        TaskChoice::Accompany => "Accompany: generate the chosen stems so they fit the labelled sources (e.g. a bass line under the guitar on Source 1).",
        TaskChoice::Separate => "Separate: split the captured main input into the chosen stems (method Separator: they add up to the input).",
        TaskChoice::Extract => "Extract: pull each chosen stem out of the captured main input, one at a time.",
        TaskChoice::Generate => "Generate: make the chosen stems from nothing, over the captured region (or the length below).",
    }
}

/// Checkboxes for the stems to produce, each with its prompt and negative prompt.
fn stems(ui: &mut Ui, frame: &mut Frame, model: &ModelInfo, choice: TaskChoice) {
    let separating = matches!(choice, TaskChoice::Separate | TaskChoice::Extract);
    let state = &mut frame.state;
    let list = if separating { &mut state.separate_stems } else { &mut state.stems };
    let all: Vec<String> = model.stems.iter().map(|(s, _)| s.clone()).collect();
    // Separation with an empty list means all stems; show them checked.
    if separating && list.is_empty() {
        list.clone_from(&all);
    }
    let mut names = all.clone();
    names.extend(list.iter().filter(|s| !all.contains(s)).cloned());
    egui::Grid::new("stems").num_columns(3).show(ui, |ui| {
        ui.label(RichText::new("Stems").strong());
        row_label(ui, "Prompt", "Text the model is conditioned on for this stem");
        row_label(ui, "Negative prompt", "Text the guidance steers away from (used when negative prompts are on)");
        ui.end_row();
        for name in &names {
            let mut on = list.contains(name);
            let checkbox = ui.checkbox(&mut on, name.as_str());
            if checkbox.changed() {
                if on {
                    list.push(name.clone());
                } else {
                    list.retain(|s| s != name);
                }
            }
            prompt_field(ui, 110.0, checkbox.id, &mut state.prompts, name, model.prompt(name));
            prompt_field(ui, 150.0, checkbox.id, &mut state.negatives, name, model.negative(name));
            ui.end_row();
        }
    });
    if separating && state_list_is_all(&frame.state.separate_stems, &all) {
        frame.state.separate_stems.clear(); // stored as "all" so another model's stems apply too
    }
}

/// Whether `list` holds exactly the model's stems.
fn state_list_is_all(list: &[String], all: &[String]) -> bool {
    list.len() == all.len() && all.iter().all(|s| list.contains(s))
}

/// A prompt field showing the override or the model's default; editing back
/// to the default removes the override.
fn prompt_field(ui: &mut Ui, width: f32, label: Id, map: &mut BTreeMap<String, String>, stem: &str, default: String) {
    let mut text = map.get(stem).cloned().unwrap_or_else(|| default.clone());
    let field = ui.add_sized([width, ui.spacing().interact_size.y], egui::TextEdit::singleline(&mut text));
    if field.labelled_by(label).changed() {
        if text == default {
            map.remove(stem);
        } else {
            map.insert(stem.to_string(), text);
        }
    }
}

/// The settings grid.
fn settings(ui: &mut Ui, frame: &mut Frame, choice: TaskChoice, model: &ModelInfo, defaults: Option<&Settings>) {
    let params = frame.params;
    let s = &mut frame.state.settings;
    egui::Grid::new("settings").num_columns(2).show(ui, |ui| {
        let steps_default = defaults.map_or(50, |d| d.steps);
        let label = row_label(ui, "Steps", "Sampler steps: more is slower and usually cleaner");
        let mut steps = s.steps.unwrap_or(steps_default);
        if ui.add(egui::DragValue::new(&mut steps).range(2..=10_000)).labelled_by(label).changed() {
            s.steps = Some(steps);
        }
        ui.end_row();

        let label = row_label(ui, "Guidance w", "How strongly the prompts steer the result (0 = off)");
        let mut w = s.w.unwrap_or(defaults.map_or(3.0, |d| d.w));
        if ui.add(egui::DragValue::new(&mut w).range(0.0..=30.0).speed(0.1)).labelled_by(label).changed() {
            s.w = Some(w);
        }
        ui.end_row();

        let label = row_label(ui, "γ (sources)", "Noise of the known sources relative to σ: 0 trusts them exactly");
        let mut gamma = s.gamma.unwrap_or(defaults.and_then(|d| d.gamma_sources).unwrap_or(0.0));
        if ui.add(egui::DragValue::new(&mut gamma).range(0.0..=10.0).speed(0.01)).labelled_by(label).changed() {
            s.gamma = Some(gamma);
        }
        ui.end_row();

        let label = row_label(ui, "Seed", "Same seed, same input and settings: the same result");
        ui.horizontal(|ui| {
            let mut seed = s.seed.unwrap_or(defaults.map_or(0, |d| d.seed));
            if ui.add(egui::DragValue::new(&mut seed)).labelled_by(label).changed() {
                s.seed = Some(seed);
            }
            if ui.button("Random").on_hover_text("A new random seed").clicked() {
                s.seed = Some(random_seed());
            }
        });
        ui.end_row();

        let label = row_label(
            ui,
            "Sampler",
            "ADPM2 for generation; Euler with churn or the deterministic DPM-Solver++(2M) for separation",
        );
        let current = s.sampler.clone().unwrap_or_else(|| defaults.map_or("adpm2", |d| d.sampler.name()).into());
        choose(ui, label, "sampler", &current, &gmsdi_engine::sampler::Sampler::NAMES, |v| s.sampler = Some(v.into()));
        ui.end_row();

        if choice == TaskChoice::Separate {
            let label = row_label(
                ui,
                "Method",
                "Separator: stems add up to the mix. Extractor: each stem on its own. Ensemble: both",
            );
            let current = s.method.clone().unwrap_or_else(|| method_name(defaults));
            choose(ui, label, "method", &current, &["separator", "extractor", "ensemble"], |v| {
                s.method = Some(v.into())
            });
            ui.end_row();
            let label = row_label(ui, "Constrained stem", "The separator's stem that takes whatever the others leave");
            let stems: Vec<&str> = model.stems.iter().map(|(n, _)| n.as_str()).collect();
            let current =
                s.constrained.clone().or(defaults.and_then(|d| d.constrained.clone())).unwrap_or_else(|| "auto".into());
            choose(ui, label, "constrained", &current, &stems, |v| s.constrained = Some(v.into()));
            ui.end_row();
        }
        if choice == TaskChoice::Generate {
            let label =
                row_label(ui, "Length (s)", "Used when nothing is captured; otherwise the captured region's length");
            ui.add(egui::DragValue::new(&mut frame.state.generate_seconds).range(1.0..=600.0).speed(0.5))
                .labelled_by(label);
            ui.end_row();
        }

        if matches!(choice, TaskChoice::Separate | TaskChoice::Extract) {
            let label = row_label(
                ui,
                "Wiener filter",
                "Split the mix by each stem's estimated power: less hiss, the stems add up to the whole mix, and the model hears a stereo mix once (its mid), so it runs twice as fast",
            );
            let mut wiener = s.wiener.unwrap_or(defaults.is_some_and(|d| d.wiener));
            if ui.checkbox(&mut wiener, "").labelled_by(label).changed() {
                s.wiener = Some(wiener);
            }
            ui.end_row();
        }

        let label = row_label(ui, "Negative prompts", "Steer away from each stem's negative prompt");
        let mut negative = s.negative_prompts.unwrap_or(defaults.is_some_and(|d| d.negative_prompts));
        if ui.checkbox(&mut negative, "").labelled_by(label).changed() {
            s.negative_prompts = Some(negative);
        }
        ui.end_row();

        let label =
            row_label(ui, "Runs on", "Execution provider; falls back to the CPU with a warning if it cannot start");
        let current = s.provider.clone().unwrap_or_else(|| "cpu".into());
        choose(ui, label, "provider", &current, &["cpu", "cuda", "directml"], |v| s.provider = Some(v.into()));
        ui.end_row();

        let label = row_label(ui, "Monitor", "What the main output plays");
        let monitor = params.monitor.value();
        let combo = egui::ComboBox::from_id_salt("monitor")
            .selected_text(Monitor::variants()[monitor.to_index()])
            .show_ui(ui, |ui| {
                for (i, name) in Monitor::variants().iter().enumerate() {
                    if ui.selectable_label(monitor.to_index() == i, *name).clicked() {
                        frame.setter.begin_set_parameter(&params.monitor);
                        frame.setter.set_parameter(&params.monitor, Monitor::from_index(i));
                        frame.setter.end_set_parameter(&params.monitor);
                    }
                }
            });
        combo.response.labelled_by(label);
        ui.end_row();
    });
    if ui.button("Reset to the model's defaults").clicked() {
        frame.state.settings =
            JobSettings { provider: frame.state.settings.provider.clone(), ..JobSettings::default() };
    }
}

/// The default method's name.
fn method_name(defaults: Option<&Settings>) -> String {
    match defaults.map(|d| d.method) {
        Some(gmsdi_engine::settings::Method::Extractor) => "extractor",
        Some(gmsdi_engine::settings::Method::Ensemble) => "ensemble",
        _ => "separator",
    }
    .into()
}

/// A settings row's label with its tooltip; its id labels the row's widget.
fn row_label(ui: &mut Ui, text: &str, tip: &str) -> Id {
    ui.label(text).on_hover_text(tip).id
}

/// A combo box over `options` showing `current`; calls `set` on a change.
fn choose(ui: &mut Ui, label: Id, id: &str, current: &str, options: &[&str], set: impl FnOnce(&str)) {
    let mut picked = None;
    let combo = egui::ComboBox::from_id_salt(id).selected_text(current).show_ui(ui, |ui| {
        for option in options {
            if ui.selectable_label(current == *option, *option).clicked() {
                picked = Some(*option);
            }
        }
    });
    combo.response.labelled_by(label);
    if let Some(option) = picked.filter(|o| *o != current) {
        set(option);
    }
}

/// A seed from the clock (a dice roll, not cryptography).
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    (nanos as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
}
