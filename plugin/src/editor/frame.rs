//! What one frame's panels work with: the parameters, the worker's view, a
//! copy of the state they edit, and what the view read for this frame
//! (model, transport, capture buffers, waveform overviews).

use std::sync::Arc;

use nice_plug::prelude::ParamSetter;

use super::waveform::{Overview, Span};
use crate::capture::CaptureStore;
use crate::live::Transport;
use crate::model_info::ModelInfo;
use crate::params::GmsdiParams;
use crate::state::PersistedState;
use crate::worker::{ModelLookup, WorkerView};

/// Overviews of the inputs and results over one span.
#[derive(Clone, Debug, Default)]
pub struct Overviews {
    /// The span every row shows.
    pub span: Option<Span>,
    /// One per input, main first.
    pub inputs: Vec<Overview>,
    /// One per result stem.
    pub results: Vec<Overview>,
}

/// What one frame's panels work with.
pub struct Frame<'a> {
    /// Parameters (read here, changed through `setter`).
    pub params: &'a GmsdiParams,
    /// The worker: its status, and the requests the panels send.
    pub worker: &'a WorkerView,
    /// Parameter changes go through here (the host records automation).
    pub setter: &'a ParamSetter<'a>,
    /// A copy of the state; the panels edit it and the view writes back the user's fields.
    pub state: PersistedState,
    /// The model, or why there is none; `None` until the worker has looked
    /// (it starts when the host activates the plugin).
    pub model: Option<ModelLookup>,
    /// The host's transport in the last block.
    pub transport: Transport,
    /// The capture buffers of the current activation.
    pub capture: Option<Arc<CaptureStore>>,
    /// This frame's overviews.
    pub overviews: Overviews,
    /// Width of the timeline's waveforms, in points.
    pub wave_width: f32,
}

impl Frame<'_> {
    /// The model, once found.
    pub fn model_info(&self) -> Option<&ModelInfo> {
        self.model.as_ref().and_then(|m| m.as_ref().ok())
    }
}
