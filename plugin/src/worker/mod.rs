//! The worker of an instance: one thread that loads the model lazily, runs
//! jobs on the captured audio, writes result clips, hands results to the
//! audio thread and restores results after the host loads a state. This
//! module holds what the others see of it: the handle the plugin keeps
//! ([`Worker`]), the narrow view the editor gets ([`WorkerView`]) and the
//! commands they send; the thread itself is in `thread.rs`.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::capture::CaptureStore;
use crate::error::PluginError;
use crate::model_info::ModelInfo;
use crate::params::GmsdiParams;
use crate::playback::{Publisher, Results};
use crate::status::{Code, JobProgress, Status};

#[cfg(test)]
mod stress;
mod thread;
use thread::Thread;

/// The longest the worker waits for a command before it looks at the audio
/// thread's Generate request (see [`Worker::request_generate`]).
const AUDIO_REQUEST_WAIT: Duration = Duration::from_millis(20);

/// The model the next job will use, or why there is none.
pub type ModelLookup = Result<ModelInfo, Arc<PluginError>>;

/// Messages to the worker thread.
enum Command {
    /// Run the chosen task on the captured audio (the editor's Generate button).
    Generate,
    /// Load the state's result files again (the editor restored a job from the history).
    Restore,
    /// The host loaded a state: describe its model, load its result files.
    StateLoaded,
    /// The editor changed the model folder or the execution provider: describe the model again.
    ModelChanged,
    /// The host activated the plugin: the results may need resampling to its rate.
    Activated,
    /// Stop (after cancelling the running job).
    Shutdown,
}

/// What the worker thread shares with the plugin and the editor, private to
/// this module: the plugin reaches it through [`Worker`], the editor through
/// [`WorkerView`].
struct Shared {
    /// Parameters and persisted state.
    params: Arc<GmsdiParams>,
    /// The capture buffers of the current activation.
    capture: Mutex<Option<Arc<CaptureStore>>>,
    /// Current host sample rate (0 before the first activation).
    rate: AtomicU32,
    /// Writer side of the results hand-over.
    publisher: Mutex<Publisher>,
    /// The results the audio thread plays, for the editor's waveforms.
    results: Mutex<Option<Arc<Results>>>,
    /// What the worker is doing.
    status: Status,
    /// The model the next job will use, or why there is none (`None`: not
    /// looked for yet, the worker starts at the first activation).
    model_info: Mutex<Option<ModelLookup>>,
    /// The audio thread's Generate request. It exists only because the audio
    /// thread cannot send a command (sending may allocate, and the audio
    /// thread must not allocate, lock or wait): it sets this flag and the
    /// worker looks at it each time it wakes, at least every
    /// [`AUDIO_REQUEST_WAIT`]. Everything else arrives as a [`Command`].
    generate: AtomicBool,
    /// Stops the running job before its next network evaluation (the
    /// engine's progress tracker reads it between evaluations).
    cancel: Arc<AtomicBool>,
    /// Set when the instance goes away: no job or restore starts after it.
    shutdown: AtomicBool,
    /// Whether a job runs (the status may say otherwise meanwhile: an
    /// activation reports a discarded capture while a job runs).
    job_running: AtomicBool,
    /// State loads that the published results reflect.
    restored_loads: AtomicU64,
    /// Rate of the published results (0 = none published).
    results_rate: AtomicU32,
}

impl Shared {
    /// Whether the state's result files still wait to be (re)loaded: a state
    /// was loaded, or the host rate changed, since the results were published.
    fn restore_pending(&self) -> bool {
        let published = self.results_rate.load(Ordering::Acquire);
        self.params.state.loads() != self.restored_loads.load(Ordering::Acquire)
            || (published != 0 && published != self.rate.load(Ordering::Acquire))
    }

    /// Sets the status and the state's report together.
    fn report(&self, code: Code, message: String) {
        self.params.state.update(|s| s.report.clone_from(&message));
        self.status.set(code, message);
    }

    /// Sets a failure, with its fix, as the status, and both as the state's
    /// report (hosts without the editor show only the report).
    fn fail(&self, message: String, fix: Option<&'static str>) {
        let report = fix.map_or_else(|| message.clone(), |fix| format!("{message}. Fix: {fix}"));
        self.params.state.update(|s| s.report = report);
        self.status.fail(message, fix);
    }
}

/// The worker of an instance: its shared data, its command channel and,
/// once started, its thread. Dropping it cancels the running job and joins.
pub struct Worker {
    shared: Arc<Shared>,
    commands: Sender<Command>,
    inbox: Receiver<Command>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// The worker of the instance whose parameters are `params`, not started
    /// yet (see [`start`](Self::start)). From now on every host state load
    /// reaches it as a command, queued until it starts.
    pub fn new(params: Arc<GmsdiParams>, publisher: Publisher) -> Worker {
        let (commands, inbox) = crossbeam_channel::unbounded();
        let loaded = commands.clone();
        let listening = params.state.on_load(move || {
            let _ = loaded.send(Command::StateLoaded); // fails only once the worker is gone
        });
        debug_assert!(listening, "one worker per set of parameters");
        let shared = Shared {
            params,
            capture: Mutex::new(None),
            rate: AtomicU32::new(0),
            publisher: Mutex::new(publisher),
            results: Mutex::new(None),
            status: Status::default(),
            model_info: Mutex::new(None),
            generate: AtomicBool::new(false),
            cancel: Arc::new(AtomicBool::new(false)),
            shutdown: AtomicBool::new(false),
            job_running: AtomicBool::new(false),
            restored_loads: AtomicU64::new(0),
            results_rate: AtomicU32::new(0),
        };
        Worker { shared: Arc::new(shared), commands, inbox, thread: None }
    }

    /// Starts the worker thread, unless it runs already (a failed start may be retried).
    pub fn start(&mut self) -> std::io::Result<()> {
        if self.thread.is_none() {
            let thread = Thread::new(self.shared.clone(), self.inbox.clone());
            self.thread = Some(std::thread::Builder::new().name("gmsdi-worker".into()).spawn(move || thread.run())?);
        }
        Ok(())
    }

    /// Whether the worker thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }

    /// Hands the worker an activation's capture buffers and sample rate
    /// (main thread); it resamples the results if the rate changed.
    pub fn activated(&self, capture: Option<Arc<CaptureStore>>, rate: u32) {
        *self.shared.capture.lock() = capture;
        self.shared.rate.store(rate, Ordering::Release);
        self.send(Command::Activated);
    }

    /// Lets go of the capture buffers, so that they are freed before new
    /// ones are allocated (a running job keeps its own reference).
    pub fn release_capture(&self) {
        *self.shared.capture.lock() = None;
    }

    /// The Generate parameter turned on. Real-time safe (one atomic store):
    /// the audio thread's only way to ask the worker for something.
    pub fn request_generate(&self) {
        self.shared.generate.store(true, Ordering::Release);
    }

    /// Blocks the calling (main) thread until the worker has loaded the
    /// state's result files, at most `limit`, so that a host rendering right
    /// after loading a project (an offline export) hears them. Returns at once
    /// while a job runs (the restore waits for it) or before the worker
    /// starts. Never call it from the audio thread.
    pub fn wait_for_restore(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let status = &self.shared.status;
        while self.is_running()
            && self.shared.restore_pending()
            && !self.shared.job_running.load(Ordering::Acquire)
            && status.code() != Code::Busy
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sets the status and the state's report (a message from the plugin, not the worker).
    pub fn report(&self, code: Code, message: String) {
        self.shared.report(code, message);
    }

    /// Reports a failure outside a job (an activation's), with its fix.
    pub fn fail(&self, error: &PluginError) {
        self.shared.fail(error.to_string(), error.fix());
    }

    /// The editor's view of this worker.
    pub fn view(&self) -> WorkerView {
        WorkerView { shared: self.shared.clone(), commands: self.commands.clone() }
    }

    fn send(&self, command: Command) {
        let _ = self.commands.send(command); // cannot fail: `self.inbox` keeps the channel open
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.shutdown.store(true, Ordering::Release);
            self.shared.cancel.store(true, Ordering::Release);
            self.send(Command::Shutdown);
            let _ = thread.join();
        }
    }
}

/// What the editor sees of the worker (status, progress, results, capture
/// buffers, model) and the requests it may send (generate, cancel, restore,
/// a new model choice). Cheap to clone.
#[derive(Clone)]
pub struct WorkerView {
    shared: Arc<Shared>,
    commands: Sender<Command>,
}

impl WorkerView {
    /// What the worker is doing.
    pub fn code(&self) -> Code {
        self.shared.status.code()
    }

    /// The worker's last message.
    pub fn message(&self) -> String {
        self.shared.status.message()
    }

    /// What the user can do about the last failure, if it is one with a fix.
    pub fn fix(&self) -> Option<&'static str> {
        self.shared.status.fix()
    }

    /// The running job's progress.
    pub fn progress(&self) -> JobProgress {
        self.shared.status.progress()
    }

    /// The results the audio thread plays.
    pub fn results(&self) -> Option<Arc<Results>> {
        self.shared.results.lock().clone()
    }

    /// The capture buffers of the current activation (their rate and captured range).
    pub fn capture(&self) -> Option<Arc<CaptureStore>> {
        self.shared.capture.lock().clone()
    }

    /// The model the next job will use, or why there is none (`None`: not looked for yet).
    pub fn model(&self) -> Option<ModelLookup> {
        self.shared.model_info.lock().clone()
    }

    /// Runs the chosen task on the captured audio.
    pub fn generate(&self) {
        self.send(Command::Generate);
    }

    /// Stops the running job after its current network evaluation.
    pub fn cancel(&self) {
        self.shared.cancel.store(true, Ordering::Release);
    }

    /// Loads the state's result files again (after the editor changed them).
    pub fn restore(&self) {
        self.send(Command::Restore);
    }

    /// Describes the model again (after the editor changed the model folder or provider).
    pub fn model_changed(&self) {
        self.send(Command::ModelChanged);
    }

    fn send(&self, command: Command) {
        let _ = self.commands.send(command); // fails only once the worker is gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback;
    use crate::state::{Clip, PersistedState};
    use nice_plug::params::persist::PersistentField;

    /// Waits until `done` holds for the worker's view (at most 10 s).
    fn until(view: &WorkerView, what: &str, done: impl Fn(&WorkerView) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(view) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {}", view.message());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn requests_and_host_loads_reach_the_worker() {
        let out = tempfile::tempdir().unwrap();
        let params = Arc::new(GmsdiParams::default());
        let missing = out.path().join("no-model-here");
        params.state.update(|s| s.model_dir = Some(missing.clone()));
        let (publisher, _reader) = playback::channel();
        let mut worker = Worker::new(params.clone(), publisher);
        let view = worker.view();
        worker.activated(None, 44_100);
        worker.start().unwrap();
        until(&view, "the model search", |v| v.model().is_some());
        let no_model = view.model().unwrap().unwrap_err();
        assert!(
            matches!(&*no_model, PluginError::NoModel { looked_in } if looked_in == std::slice::from_ref(&missing))
        );

        // The audio thread's request: a job without capture buffers fails with that fix.
        worker.request_generate();
        until(&view, "the job", |v| v.code() == Code::Failed);
        assert_eq!(view.message(), format!("job failed: {}", PluginError::NoCaptureBuffers));
        assert_eq!(view.fix(), PluginError::NoCaptureBuffers.fix());

        // A host load: the worker restores its results, and the main thread can wait for that.
        let clip = Clip { stem: "bass".into(), path: out.path().join("gone.wav"), start: 0 };
        params.state.set(PersistedState { model_dir: Some(missing), results: vec![clip], ..PersistedState::default() });
        worker.wait_for_restore(Duration::from_secs(10));
        assert!(view.message().starts_with("restored 0 result clips; missing or unreadable: "), "{}", view.message());
        assert!(view.fix().is_some_and(|f| f.contains("Job history")));
        let report = format!("{}. Fix: {}", view.message(), view.fix().unwrap_or_default());
        assert_eq!(params.state.snapshot().report, report, "the report is the status message and its fix");
    }
}
