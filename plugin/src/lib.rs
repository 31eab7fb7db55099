//! GMSDI as a CLAP and VST3 plugin: captures the main input and three
//! sidechain "source" inputs at their timeline positions, runs GMSDI jobs
//! (accompaniment, separation) on a worker thread, writes the results as
//! BWF clips and plays them back in sync on aux outputs and the main output.
//!
//! Threads: the audio thread (`process`) touches only atomics, the capture
//! buffers and the results' triple buffer; everything else (model, files,
//! state, status messages) lives on the worker thread or the host's main thread.
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod buses;
pub mod cache;
pub mod capture;
pub mod clips;
pub mod editor;
pub mod error;
pub mod live;
pub mod location;
pub mod model_info;
pub mod params;
pub mod playback;
pub mod state;
pub mod status;
pub mod tasks;
pub mod worker;

use std::sync::Arc;

use nice_plug::prelude::*;

use buses::SOURCES;
use capture::{CaptureStore, Capturer};
use error::PluginError;
use live::{Live, Transport};
use params::GmsdiParams;
use playback::{Block, Reader};
use status::Code;
use worker::Worker;

/// How long activation waits for a loaded project's result clips.
const RESTORE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// The plugin instance. Its worker thread starts at the first activation
/// and lives until the instance is dropped (a job survives the host
/// deactivating and reactivating the plugin; removing the plugin cancels it).
pub struct Gmsdi {
    params: Arc<GmsdiParams>,
    /// Input levels and transport, from the audio thread to the editor.
    live: Arc<Live>,
    reader: Reader,
    capture: Option<Arc<CaptureStore>>,
    capturer: Capturer,
    worker: Worker,
    rate: u32,
    generate_was_on: bool,
    editor_state: Arc<nice_plug_egui::EguiEditorState>,
}

impl Default for Gmsdi {
    fn default() -> Self {
        let (publisher, reader) = playback::channel();
        let params = Arc::new(GmsdiParams::default());
        Self {
            worker: Worker::new(params.clone(), publisher),
            params,
            live: Arc::new(Live::default()),
            reader,
            capture: None,
            capturer: Capturer::default(),
            rate: 0,
            generate_was_on: false,
            editor_state: nice_plug_egui::EguiEditorState::from_size(
                nice_plug::editor::dpi::LogicalSize::new(editor::DEFAULT_SIZE.0, editor::DEFAULT_SIZE.1),
                1.0,
            ),
        }
    }
}

impl Plugin for Gmsdi {
    const NAME: &'static str = "GMSDI";
    const VENDOR: &'static str = "GMSDI";
    const URL: &'static str = "https://github.com/gmsdi/gmsdi";
    const EMAIL: &'static str = "gmsdi@users.noreply.github.com";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = buses::LAYOUTS;

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = editor::GmsdiEditor;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        let link = editor::Link { params: self.params.clone(), live: self.live.clone(), worker: self.worker.view() };
        editor::create(link, self.editor_state.clone())
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let rate = buffer_config.sample_rate.round().max(1.0) as u32;
        let seconds = self.params.state.snapshot().max_capture_seconds;
        let len = CaptureStore::capacity(rate, seconds);
        let keep = self.capture.as_ref().is_some_and(|c| c.rate() == rate && c.frames() == len);
        if !keep {
            if let Some(old) = self.capture.as_ref().filter(|c| c.range().is_some()) {
                self.worker.report(
                    Code::Idle,
                    format!(
                        "the captured audio was discarded: the sample rate ({} Hz to {rate} Hz) or the maximum \
                         capture length changed",
                        old.rate()
                    ),
                );
            }
            self.capture = None; // frees the old buffers before allocating new ones
            self.worker.release_capture();
            self.capture = CaptureStore::new(rate, len).map(Arc::new);
            if self.capture.is_none() {
                self.worker.fail(&PluginError::CaptureMemory { seconds });
            }
        }
        self.rate = rate;
        self.generate_was_on = self.params.generate.value();
        self.worker.activated(self.capture.clone(), rate);
        match self.worker.start() {
            // A project just loaded: its result clips play from the first block.
            Ok(()) => self.worker.wait_for_restore(RESTORE_WAIT),
            Err(e) => self.worker.fail(&PluginError::WorkerThread(e)),
        }
        true
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let params = &self.params;
        let transport = context.transport();
        let (playing, host_pos) = (transport.playing, transport.pos_samples());
        let live = &self.live;
        live.set_transport(Transport {
            playing,
            pos: host_pos,
            tempo: transport.tempo,
            beats_per_bar: transport.time_sig_numerator.and_then(|n| u32::try_from(n).ok()),
        });
        live.meter(0, buffer.as_slice_immutable());
        for (i, input) in aux.inputs.iter().take(SOURCES).enumerate() {
            live.meter(1 + i, input.as_slice_immutable());
        }
        if let Some(store) = self.capture.as_ref().filter(|_| !params.bypass.value()) {
            if let Some(pos) = self.capturer.position(store, params.capture.value(), playing, host_pos) {
                store.write(0, buffer.as_slice_immutable(), pos);
                for (i, input) in aux.inputs.iter().take(SOURCES).enumerate() {
                    store.write(1 + i, input.as_slice_immutable(), pos);
                }
                if host_pos.is_none() {
                    self.capturer.advance(buffer.samples());
                }
            }
        }
        let generate = params.generate.value();
        if generate && !self.generate_was_on {
            self.worker.request_generate();
        }
        self.generate_was_on = generate;
        if params.bypass.value() {
            // The main input passes unchanged; the result outputs are silent.
            aux.outputs.iter_mut().flat_map(|b| b.as_slice().iter_mut()).for_each(|c| c.fill(0.0));
            playback::flush_subnormals(buffer.as_slice());
            return ProcessStatus::KeepAlive;
        }
        let stem_gains = params.stem_gains();
        let block = Block {
            pos: host_pos.filter(|_| playing),
            rate: self.rate,
            main: buffer.as_slice(),
            monitor: params.monitor.value(),
            gain: params.gain(),
            stem_gains: &stem_gains,
        };
        block.render(self.reader.read().as_deref(), aux.outputs.iter_mut().map(Buffer::as_slice));
        playback::flush_subnormals(buffer.as_slice());
        ProcessStatus::KeepAlive
    }
}

impl ClapPlugin for Gmsdi {
    const CLAP_ID: &'static str = "org.gmsdi.gmsdi";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Text-conditioned accompaniment generation and source separation");
    const CLAP_MANUAL_URL: Option<&'static str> = Some(Self::URL);
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[ClapFeature::AudioEffect, ClapFeature::Stereo];
}

impl Vst3Plugin for Gmsdi {
    const VST3_CLASS_ID: [u8; 16] = *b"GmsdiPlugin00001";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Tools];
}

nice_export_clap!(Gmsdi);
nice_export_vst3!(Gmsdi);
