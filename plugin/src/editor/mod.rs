//! The plugin's window (egui through nice-plug-egui): sources, task,
//! action bar and results. Drawing only: jobs run on the worker thread, the
//! editor reads atomics and snapshots, writes the state and parameters, and
//! sends the worker its requests.

mod action_bar;
pub mod frame;
mod results;
mod sources;
mod task;
pub mod view;
pub mod waveform;

use std::sync::Arc;

use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::ResizeHint;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, Frame, NiceEguiApp, RepaintNotifier,
};

use crate::live::Live;
use crate::params::GmsdiParams;
use crate::worker::WorkerView;
use view::View;

/// Logical size of a new window.
pub const DEFAULT_SIZE: (u32, u32) = (980, 760);

/// The plugin's editor type.
pub type GmsdiEditor = EguiEditor<App>;

/// What the editor works with: the parameters and state it edits, the audio
/// thread's levels and transport, and its view of the worker.
#[derive(Clone)]
pub struct Link {
    /// Parameters (changed through the host) and the persisted state.
    pub params: Arc<GmsdiParams>,
    /// Input levels and transport, from the audio thread.
    pub live: Arc<Live>,
    /// What the worker shows and the requests it takes.
    pub worker: WorkerView,
}

/// The editor of an instance.
pub fn create(link: Link, state: Arc<EguiEditorState>) -> Option<GmsdiEditor> {
    let settings = EguiNiceSettings::new().with_tile("GMSDI").with_resize_hint(ResizeHint {
        can_resize: true,
        can_resize_horizontally: true,
        can_resize_vertically: true,
        ..Default::default()
    });
    let app = App { view: View::new(link), context: None };
    create_egui_editor(state, RepaintNotifier::new(), settings, app)
}

/// The egui app: the view plus the host's GUI context for parameter changes.
pub struct App {
    view: View,
    context: Option<GuiContext>,
}

impl NiceEguiApp for App {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        view::style(&egui_ctx);
        self.context = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut Frame) {
        if let Some(context) = &self.context {
            self.view.ui(ui, &context.param_setter());
        }
    }
}
