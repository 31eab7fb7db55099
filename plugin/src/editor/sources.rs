//! The timeline: one row per input (the main input, then the three
//! sidechain sources) with its label, live level and captured waveform
//! under a ruler, then the result rows in the same grid so that every
//! waveform lines up.

use egui::{Color32, Sense, Ui, Vec2};

use super::frame::Frame;
use super::waveform::{self, Look};
use crate::buses::{SOURCES, SOURCE_NAMES};

/// Label presets offered next to each source's text field.
pub const PRESETS: [&str; 4] = ["bass", "drums", "guitar", "piano"];
/// Waveform colour of the inputs.
const INPUT_COLOR: Color32 = Color32::from_rgb(120, 170, 230);

/// Draws the panel.
pub fn show(ui: &mut Ui, frame: &mut Frame, meters: &[f32]) {
    ui.heading("Sources");
    let transport = frame.transport;
    let marked = frame.capture.as_ref().and_then(|c| c.range());
    let span = frame.overviews.span;
    egui::Grid::new("timeline").num_columns(3).striped(false).min_col_width(60.0).show(ui, |ui| {
        ui.label("");
        ui.label("");
        match span {
            Some(span) => waveform::ruler(ui, frame.wave_width, span, transport.tempo, transport.beats_per_bar),
            None => {
                ui.label("Nothing captured yet: turn Capture on and play the part in the host.");
            }
        }
        ui.end_row();
        for input in 0..=SOURCES {
            if input == 0 {
                ui.label("Main input")
                    .on_hover_text("The track this plugin sits on: the mix to separate or extract from");
            } else {
                source_label(ui, frame, input - 1);
            }
            meter(ui, meters.get(input).copied().unwrap_or(0.0));
            match (span, frame.overviews.inputs.get(input)) {
                (Some(span), Some(overview)) => {
                    let look = Look { width: frame.wave_width, marked, playhead: transport.pos, color: INPUT_COLOR };
                    waveform::draw(ui, overview, span, look);
                }
                _ => {
                    ui.label("");
                }
            }
            ui.end_row();
        }
        super::results::rows(ui, frame);
    });
}

/// The label of sidechain source `i`: free text plus presets.
fn source_label(ui: &mut Ui, frame: &mut Frame, i: usize) {
    ui.horizontal(|ui| {
        let name = ui.label(SOURCE_NAMES[i]).id;
        let label = &mut frame.state.labels[i];
        ui.add_sized([90.0, ui.spacing().interact_size.y], egui::TextEdit::singleline(label).hint_text("unused"))
            .labelled_by(name)
            .on_hover_text("What this sidechain input plays, used as its text prompt (empty: left out)");
        let presets = egui::ComboBox::from_id_salt(("preset", i)).width(20.0).selected_text("").show_ui(ui, |ui| {
            for preset in PRESETS.iter().chain(&[""]) {
                let name = if preset.is_empty() { "(unused)" } else { preset };
                if ui.selectable_label(label == preset, name).clicked() {
                    *label = preset.to_string();
                }
            }
        });
        presets.response.labelled_by(name).on_hover_text("Presets");
    });
}

/// A horizontal level meter (peak, dBFS scale from -60 to 0).
fn meter(ui: &mut Ui, peak: f32) {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(70.0, 10.0), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(30));
    let db = 20.0 * peak.max(1e-6).log10();
    let fill = ((db + 60.0) / 60.0).clamp(0.0, 1.0);
    let color = if peak >= 1.0 { Color32::from_rgb(230, 60, 50) } else { Color32::from_rgb(90, 200, 110) };
    let mut bar = rect;
    bar.set_width(rect.width() * fill);
    painter.rect_filled(bar, 2.0, color);
    response.on_hover_text(if peak > 1e-6 { format!("peak {db:.1} dBFS") } else { "silent".into() });
}
