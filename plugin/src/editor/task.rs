//! The task panel: what Generate runs (task, stems with their prompts) and
//! how (settings prefilled with the model's defaults, each with a tooltip).

use std::collections::BTreeMap;

use egui::{Id, RichText, Ui};
use gmsdi_engine::settings::{Kind, Spec, StoredSettings, TaskKind, Value, SETTINGS};
use nice_plug::prelude::Enum;

use super::action_bar::RED;
use super::frame::Frame;
use crate::model_info::ModelInfo;
use crate::params::{Monitor, TaskChoice};

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
    egui::CollapsingHeader::new("Settings").default_open(true).show(ui, |ui| {
        settings(ui, frame, choice, &model);
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

/// The settings: a row per setting of the engine's vocabulary that matters
/// for the task (the advanced ones folded away), the plugin's own rows,
/// and any saved setting that was refused.
fn settings(ui: &mut Ui, frame: &mut Frame, choice: TaskChoice, model: &ModelInfo) {
    let kind = choice.kind();
    let specs: Vec<&Spec> = SETTINGS.iter().filter(|s| s.tasks.contains(&kind)).collect();
    egui::Grid::new("settings").num_columns(2).show(ui, |ui| {
        for spec in specs.iter().filter(|s| !s.advanced) {
            setting_row(ui, frame, model, kind, spec);
        }
        plugin_rows(ui, frame, choice);
    });
    egui::CollapsingHeader::new("Advanced").default_open(false).show(ui, |ui| {
        egui::Grid::new("advanced").num_columns(2).show(ui, |ui| {
            for spec in specs.iter().filter(|s| s.advanced) {
                setting_row(ui, frame, model, kind, spec);
            }
        });
    });
    for (key, why) in frame.state.settings.refusals() {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(RED, format!("Saved setting not used (the default applies): {why}"));
            if ui.small_button("Remove").clicked() {
                frame.state.settings.clear(&key);
            }
        });
    }
    if ui.button("Reset to the model's defaults").clicked() {
        frame.state.settings = StoredSettings::default();
    }
}

/// The editor's way to change a setting: the engine's check and message.
pub fn apply(settings: &mut StoredSettings, key: &str, value: Value) -> Result<(), String> {
    settings.set(key, value).map_err(|e| e.to_string())
}

/// One setting: label, widget showing the override or the default, and
/// the refusal of the last edit, if any.
fn setting_row(ui: &mut Ui, frame: &mut Frame, model: &ModelInfo, kind: TaskKind, spec: &Spec) {
    let label = row_label(ui, spec.label, spec.doc);
    let current = frame.state.settings.overrides.get(spec.key).cloned().or_else(|| model.default_value(kind, spec.key));
    let refusal = label.with("refused");
    ui.horizontal(|ui| {
        if let Some(value) = widget(ui, label, spec, current, model) {
            match apply(&mut frame.state.settings, spec.key, value) {
                Ok(()) => ui.data_mut(|d| d.remove::<String>(refusal)),
                Err(why) => ui.data_mut(|d| {
                    d.insert_temp(refusal, why);
                }),
            }
        }
        if let Some(why) = ui.data(|d| d.get_temp::<String>(refusal)) {
            ui.colored_label(RED, why);
        }
    });
    ui.end_row();
}

/// The widget of a setting's kind showing `current`; the new value when the user changed it.
fn widget(ui: &mut Ui, label: Id, spec: &Spec, current: Option<Value>, model: &ModelInfo) -> Option<Value> {
    let edited = |r: egui::Response| r.labelled_by(label).changed();
    match (spec.kind, current) {
        (Kind::Count { min, max }, current) => {
            let mut n = if let Some(Value::Count(n)) = current { n } else { min };
            edited(ui.add(egui::DragValue::new(&mut n).range(min..=max))).then_some(Value::Count(n))
        }
        (Kind::Number { min, max }, current) => {
            let mut x = if let Some(Value::Number(x)) = current { x } else { min };
            let speed = f64::from((max - min) / 500.0).max(0.01);
            edited(ui.add(egui::DragValue::new(&mut x).range(min..=max).speed(speed))).then_some(Value::Number(x))
        }
        (Kind::Width { max }, current) => {
            let width = if let Some(Value::Width(w)) = current { w } else { None };
            let (mut infinite, mut x) = (width.is_none(), width.unwrap_or(1.0));
            let mut changed = None;
            if ui.checkbox(&mut infinite, "∞").on_hover_text("No constraint").changed() {
                changed = Some(Value::Width((!infinite).then_some(x)));
            }
            if !infinite && edited(ui.add(egui::DragValue::new(&mut x).range(0.0..=max).speed(0.01))) {
                changed = Some(Value::Width(Some(x)));
            }
            changed
        }
        (Kind::Switch, current) => {
            let mut on = matches!(current, Some(Value::Switch(true)));
            edited(ui.checkbox(&mut on, "")).then_some(Value::Switch(on))
        }
        (Kind::Choice(names), current) => {
            let current = if let Some(Value::Name(name)) = current { name } else { String::new() };
            choose(ui, label, spec.key, &current, names).map(|v| Value::Name(v.into()))
        }
        (Kind::Stem, current) => {
            let current = if let Some(Value::Name(name)) = current { name } else { "auto".into() };
            let stems: Vec<&str> = model.stems.iter().map(|(n, _)| n.as_str()).collect();
            choose(ui, label, spec.key, &current, &stems).map(|v| Value::Name(v.into()))
        }
        (Kind::Seed, current) => {
            let mut seed = if let Some(Value::Seed(n)) = current { n } else { 0 };
            let mut changed = edited(ui.add(egui::DragValue::new(&mut seed)));
            if ui.button("Random").on_hover_text("A new random seed").clicked() {
                (seed, changed) = (random_seed(), true);
            }
            changed.then_some(Value::Seed(seed))
        }
    }
}

/// The execution providers offered: DirectML exists on Windows only.
const PROVIDERS: &[&str] = if cfg!(windows) { &["cpu", "directml", "cuda"] } else { &["cpu", "cuda"] };

/// The plugin's own rows: length of a total generation, provider, monitor.
fn plugin_rows(ui: &mut Ui, frame: &mut Frame, choice: TaskChoice) {
    let params = frame.params;
    if choice == TaskChoice::Generate {
        let label =
            row_label(ui, "Length (s)", "Used when nothing is captured; otherwise the captured region's length");
        ui.add(egui::DragValue::new(&mut frame.state.generate_seconds).range(1.0..=600.0).speed(0.5))
            .labelled_by(label);
        ui.end_row();
    }

    let label = row_label(ui, "Runs on", "Execution provider; falls back to the CPU with a warning if it cannot start");
    let current = frame.state.provider.clone().unwrap_or_else(|| "cpu".into());
    if let Some(v) = choose(ui, label, "provider", &current, PROVIDERS) {
        frame.state.provider = Some(v.into());
    }
    ui.end_row();

    let label = row_label(ui, "Monitor", "What the main output plays");
    let monitor = params.monitor.value();
    let combo = egui::ComboBox::from_id_salt("monitor").selected_text(Monitor::variants()[monitor.to_index()]).show_ui(
        ui,
        |ui| {
            for (i, name) in Monitor::variants().iter().enumerate() {
                if ui.selectable_label(monitor.to_index() == i, *name).clicked() {
                    frame.setter.begin_set_parameter(&params.monitor);
                    frame.setter.set_parameter(&params.monitor, Monitor::from_index(i));
                    frame.setter.end_set_parameter(&params.monitor);
                }
            }
        },
    );
    combo.response.labelled_by(label);
    ui.end_row();
}

/// A settings row's label with its tooltip; its id labels the row's widget.
fn row_label(ui: &mut Ui, text: &str, tip: &str) -> Id {
    ui.label(text).on_hover_text(tip).id
}

/// A combo box over `options` showing `current`; the option picked, if another.
fn choose<'o>(ui: &mut Ui, label: Id, id: &str, current: &str, options: &[&'o str]) -> Option<&'o str> {
    let mut picked = None;
    let combo = egui::ComboBox::from_id_salt(id).selected_text(current).show_ui(ui, |ui| {
        for option in options {
            if ui.selectable_label(current == *option, *option).clicked() {
                picked = Some(*option);
            }
        }
    });
    combo.response.labelled_by(label);
    picked.filter(|o| *o != current)
}

/// A seed from the clock (a dice roll, not cryptography).
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    (nanos as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_refuses_what_the_engine_refuses_with_its_message() {
        let mut stored = StoredSettings::default();
        let why = apply(&mut stored, "gamma_sources", Value::Width(Some(0.0))).unwrap_err();
        let cli = gmsdi_engine::settings::spec("gamma_sources").unwrap().parse("0").unwrap_err().to_string();
        assert_eq!(why, cli);
        assert_eq!(stored, StoredSettings::default(), "nothing stored");
        apply(&mut stored, "gamma_sources", Value::Width(Some(0.5))).unwrap();
        assert_eq!(stored.overrides.get("gamma_sources"), Some(&Value::Width(Some(0.5))));
    }
}
