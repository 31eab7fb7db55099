//! The action bar: Capture, Generate / Cancel, progress with step count and
//! time left, and the last job's outcome (an error banner when it failed).

use egui::{Color32, RichText, Ui};

use super::frame::Frame;
use crate::status::Code;

/// Red of the recording light and error banner.
pub const RED: Color32 = Color32::from_rgb(220, 70, 60);

/// Draws the bar.
pub fn show(ui: &mut Ui, frame: &mut Frame) {
    let (params, worker) = (frame.params, frame.worker);
    let code = worker.code();
    ui.horizontal(|ui| {
        let capturing = params.capture.value();
        let recording = capturing && frame.transport.playing;
        let light = if recording {
            RED
        } else if capturing {
            Color32::from_rgb(220, 160, 60)
        } else {
            Color32::GRAY
        };
        let label = RichText::new(if capturing { "Capture: on" } else { "Capture: off" }).color(light);
        let capture = ui.selectable_label(capturing, label).on_hover_text(
            "While on and the transport plays, every input is recorded at its timeline position. \
             Turning it on starts a new take.",
        );
        if capture.clicked() {
            frame.setter.begin_set_parameter(&params.capture);
            frame.setter.set_parameter(&params.capture, !capturing);
            frame.setter.end_set_parameter(&params.capture);
        }
        ui.label(captured_text(frame, recording, capturing));
        ui.separator();
        if code == Code::Busy {
            if ui
                .button(RichText::new("Cancel").strong())
                .on_hover_text("Stop the job after the current step")
                .clicked()
            {
                worker.cancel();
            }
            let p = worker.progress();
            let mut text = if p.total > 0 { format!("step {}/{}", p.step, p.total) } else { "starting".into() };
            if let Some(eta) = p.eta {
                text += &format!(" · {} left", clock(eta.as_secs_f64()));
            }
            ui.add(egui::ProgressBar::new(p.fraction).desired_width(260.0).text(text));
        } else {
            let ready = frame.model_info().is_some();
            let generate = ui
                .add_enabled(ready, egui::Button::new(RichText::new("Generate").strong()))
                .on_hover_text("Run the task below on the captured audio (also: the Generate parameter)");
            if generate.clicked() {
                worker.generate();
            }
        }
    });
    outcome(ui, frame, code);
}

/// "Captured 12.3 s (from 4.0 s)" or what to do to capture.
fn captured_text(frame: &Frame, recording: bool, capturing: bool) -> String {
    let Some(store) = &frame.capture else { return "not active yet: start playback in the host".into() };
    let rate = f64::from(store.rate());
    match store.range() {
        Some((start, end)) => {
            let verb = if recording { "Recording" } else { "Captured" };
            format!("{verb} {} (from {})", clock((end - start) as f64 / rate), clock(start as f64 / rate))
        }
        None if capturing => "armed: press play in the host".into(),
        None => "nothing captured: turn Capture on and play the part".into(),
    }
}

/// The last message: an error banner with its fix (a missing model first,
/// then a failed job or restore), or a plain line.
fn outcome(ui: &mut Ui, frame: &Frame, code: Code) {
    let message = frame.worker.message();
    match frame.model.as_ref() {
        Some(Err(problem)) => banner(ui, &problem.to_string(), problem.fix()),
        _ if code == Code::Failed => banner(ui, &message, frame.worker.fix()),
        _ if !message.is_empty() => {
            ui.label(RichText::new(message).weak());
        }
        None => {
            ui.label(RichText::new("the model is looked for when the host starts the plugin").weak());
        }
        Some(Ok(_)) => {}
    }
}

/// A red banner: what went wrong and, when known, how to fix it.
fn banner(ui: &mut Ui, message: &str, fix: Option<&str>) {
    egui::Frame::new().fill(Color32::from_rgb(70, 24, 22)).inner_margin(8.0).corner_radius(4.0).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(RichText::new(format!("Error: {message}")).color(Color32::from_rgb(255, 200, 190)));
        if let Some(fix) = fix {
            ui.label(RichText::new(format!("Fix: {fix}")).color(Color32::WHITE));
        }
    });
}

/// Seconds as m:ss.s.
pub fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    format!("{}:{:04.1}", (seconds / 60.0).floor() as u64, seconds % 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shows_minutes_and_tenths() {
        assert_eq!(clock(75.25), "1:15.2");
        assert_eq!(clock(-3.0), "0:00.0");
    }
}
