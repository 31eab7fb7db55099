//! The whole window, one frame at a time: reads what the frame shows, draws
//! the panels, and writes back what the user changed (state fields the user
//! owns; parameters through the host's `ParamSetter`; requests to the worker).

use std::time::{Duration, Instant};

use egui::{Color32, RichText, Ui};
use nice_plug::prelude::ParamSetter;

use super::frame::{Frame, Overviews};
use super::waveform::{self, Span};
use super::{action_bar, results, sources, task, Link};
use crate::buses::INPUTS;
use crate::state::PersistedState;
use crate::status::Code;
use crate::worker::WorkerView;

/// How often waveform overviews are recomputed.
const OVERVIEW_EVERY: Duration = Duration::from_millis(150);
/// Repaint interval while something moves (capture, job, playback).
const LIVE_REPAINT: Duration = Duration::from_millis(40);
/// Repaint interval otherwise.
const IDLE_REPAINT: Duration = Duration::from_millis(250);

/// Editor-only state that lives while the window is open.
pub struct View {
    /// What the editor works with.
    pub link: Link,
    /// Displayed input levels (peak with decay), main input first.
    pub meters: [f32; INPUTS],
    /// Cached waveform overviews and when they were made.
    overviews: Option<(Instant, Overviews)>,
}

/// The window's look: egui's dark theme, slightly larger text.
pub fn style(ctx: &egui::Context) {
    ctx.set_visuals(egui::Visuals::dark());
    ctx.all_styles_mut(|style| {
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
    });
}

impl View {
    /// A view over `link`.
    pub fn new(link: Link) -> Self {
        Self { link, meters: [0.0; INPUTS], overviews: None }
    }

    /// Draws one frame.
    pub fn ui(&mut self, ui: &mut Ui, setter: &ParamSetter) {
        self.update_meters();
        let overviews = self.overviews();
        let link = self.link.clone();
        let before = link.params.state.snapshot();
        let mut frame = Frame {
            params: &link.params,
            worker: &link.worker,
            setter,
            state: before.clone(),
            model: link.worker.model(),
            transport: link.live.transport(),
            capture: link.worker.capture(),
            overviews,
            wave_width: 300.0,
        };
        egui::ScrollArea::vertical().auto_shrink([false; 2]).show(ui, |ui| {
            egui::Frame::new().inner_margin(12.0).show(ui, |ui| {
                header(ui, &frame);
                action_bar::show(ui, &mut frame);
                ui.separator();
                // Left: the timeline (sources and results); right: the task and its settings.
                let left = (ui.available_width() * 0.6).max(420.0);
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(left);
                        // The label and meter columns take about 280 points.
                        frame.wave_width = (left - 280.0).max(160.0);
                        sources::show(ui, &mut frame, &self.meters);
                        results::show(ui, &mut frame);
                    });
                    ui.separator();
                    ui.vertical(|ui| task::show(ui, &mut frame));
                });
            });
        });
        write_back(&link, &before, &frame.state);
        let moving = link.worker.code() == Code::Busy
            || link.params.capture.value()
            || frame.transport.playing
            || self.meters.iter().any(|m| *m > 1e-4);
        // Otherwise a slow refresh: the worker and the host change things without input events.
        ui.ctx().request_repaint_after(if moving { LIVE_REPAINT } else { IDLE_REPAINT });
    }

    /// Takes the audio thread's peaks and lets the displayed levels fall back.
    fn update_meters(&mut self) {
        for (i, meter) in self.meters.iter_mut().enumerate() {
            *meter = self.link.live.take_peak(i).max(*meter * 0.85);
        }
    }

    /// The overviews, recomputed at most every [`OVERVIEW_EVERY`].
    fn overviews(&mut self) -> Overviews {
        if let Some((made, overviews)) = &self.overviews {
            if made.elapsed() < OVERVIEW_EVERY {
                return overviews.clone();
            }
        }
        let overviews = compute_overviews(&self.link.worker);
        self.overviews = Some((Instant::now(), overviews.clone()));
        overviews
    }
}

/// Span covering the captured region and every result; overviews over it.
fn compute_overviews(worker: &WorkerView) -> Overviews {
    let capture = worker.capture();
    let results = worker.results();
    let rate = capture.as_ref().map(|c| c.rate()).or(results.as_ref().map(|r| r.rate)).unwrap_or(0);
    let mut range = capture.as_ref().and_then(|c| c.range());
    if let Some(results) = &results {
        let scale = f64::from(rate) / f64::from(results.rate.max(1));
        for stem in &results.stems {
            let start = (stem.start as f64 * scale) as i64;
            let end = start + (stem.channels[0].len() as f64 * scale) as i64;
            range = Some(range.map_or((start, end), |(a, b)| (a.min(start), b.max(end))));
        }
    }
    let Some((start, end)) = range.filter(|_| rate > 0) else { return Overviews::default() };
    let span = Span { start, end: end.max(start + 1), rate };
    let inputs = match &capture {
        Some(store) => (0..INPUTS).map(|i| waveform::of_capture(store, i, span)).collect(),
        None => Vec::new(),
    };
    let results =
        results.map_or_else(Vec::new, |r| r.stems.iter().map(|s| waveform::of_stem(s, r.rate, span)).collect());
    Overviews { span: Some(span), inputs, results }
}

/// Title line: plugin, model and execution provider.
fn header(ui: &mut Ui, frame: &Frame) {
    ui.horizontal_wrapped(|ui| {
        ui.heading(RichText::new("GMSDI").strong());
        ui.label("stem generation and separation");
        ui.separator();
        match &frame.model {
            Some(Ok(info)) => {
                ui.label(format!("Model: {}", info.name)).on_hover_text(info.dir.display().to_string());
                let provider = info.provider.clone().unwrap_or_else(|| {
                    let wanted = frame.state.provider.clone().unwrap_or_else(|| "cpu".into());
                    format!("{} (when the model loads)", wanted.to_uppercase())
                });
                ui.label(format!("Runs on: {provider}"));
            }
            Some(Err(_)) => {
                ui.colored_label(Color32::from_rgb(230, 120, 90), "No model");
            }
            None => {
                ui.label(RichText::new("Model: not loaded yet").weak());
            }
        }
    });
}

/// Writes the fields the user edits back into the shared state, leaving
/// what the worker owns (results, report, history) as the worker left it,
/// and tells the worker what concerns it.
fn write_back(link: &Link, before: &PersistedState, after: &PersistedState) {
    if before == after {
        return;
    }
    link.params.state.update(|s| {
        s.labels.clone_from(&after.labels);
        s.stems.clone_from(&after.stems);
        s.separate_stems.clone_from(&after.separate_stems);
        s.prompts.clone_from(&after.prompts);
        s.negatives.clone_from(&after.negatives);
        s.generate_seconds = after.generate_seconds;
        s.settings.clone_from(&after.settings);
        s.provider.clone_from(&after.provider);
        s.output_dir.clone_from(&after.output_dir);
        s.model_dir.clone_from(&after.model_dir);
        if after.results != before.results {
            s.results.clone_from(&after.results); // a history entry was restored
        }
    });
    if after.results != before.results {
        link.worker.restore();
    }
    if after.model_dir != before.model_dir || after.provider != before.provider {
        link.worker.model_changed();
    }
}
