//! The plugin's editor in a real CLAP host: embedded through the gui
//! extension ("x11", not floating) in an X11 window of the test's own while
//! audio keeps running. The host then drives a whole accompaniment job with
//! the analytic fixture (a guitar-like signal on Source 1, Capture while the
//! transport plays, Generate) and the window is captured with GetImage in
//! the idle, running and done states, then again at 200 % scale, into
//! `target/screenshots/editor-*.png` (`GMSDI_UPDATE_SCREENSHOTS=1`: into
//! `docs/screenshots/`, the README's); then the editor is hidden and destroyed. (The editor's texts and buttons
//! are checked through egui's accessibility tree in `plugin/tests/editor.rs`.)
//!
//! Needs an X server: `$DISPLAY`, or else the test starts its own Xvfb
//! (`apt-get install xvfb`; Mesa's software OpenGL draws the editor). With
//! `GMSDI_SKIP_GUI=1` and no Xvfb installed it is skipped.

// X11 and Xvfb: Linux only (the Windows build under Wine runs other tests).
#![cfg(target_os = "linux")]

use std::collections::HashSet;
use std::io::ErrorKind;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use clack_extensions::gui::{GuiApiType, GuiConfiguration, Window};
use gmsdi_tests::clap_host::{plugin_library, Instance, Transport};
use gmsdi_tests::{fixture_dir, repo};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, EventMask, ImageFormat, ImageOrder, WindowClass};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// The editor's default size in pixels at scale 1.
const SIZE: (u16, u16) = (980, 760);
/// The same at scale 2 (200 %).
const SIZE_200: (u16, u16) = (2 * SIZE.0, 2 * SIZE.1);
/// Frames per processed block while the editor is open.
const BLOCK: usize = 512;
/// Host sample rate.
const RATE: f64 = 48000.0;
/// Sampler steps of the job: enough for the running state to last a few seconds.
const STEPS: u64 = 60;
/// The parent window's background (magenta): what shows where the editor draws nothing.
const BACKGROUND: u32 = 0xff00ff;

/// Held by the test that has the X server: the tests share `$DISPLAY`, and two
/// Xvfb started at once can both take the same free display number, the
/// loser's test then drawing on the winner's server until it stops.
static X_TURN: Mutex<()> = Mutex::new(());

/// An X server for the test, with the test's connection to it: the
/// session's (`$DISPLAY`) or a private Xvfb, stopped on drop.
struct XServer {
    display: String,
    conn: RustConnection,
    screen: usize,
    xvfb: Option<Child>,
    _turn: MutexGuard<'static, ()>,
}

impl XServer {
    /// The session's display, else a new Xvfb on a free display number;
    /// `None` when Xvfb is missing and `GMSDI_SKIP_GUI=1` asks to skip.
    fn open() -> Option<XServer> {
        let turn = X_TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(display) = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty()) {
            let (conn, screen) = x11rb::connect(Some(&display)).expect("connect to $DISPLAY");
            return Some(XServer { display, conn, screen, xvfb: None, _turn: turn });
        }
        for n in 90..200 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let display = format!(":{n}");
            // -terminate: the server also ends when its last client goes, should this process die.
            let spawned = Command::new("Xvfb")
                .args([display.as_str(), "-screen", "0", "2048x1600x24", "-nolisten", "tcp", "-terminate"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut xvfb = match spawned {
                Ok(child) => child,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if std::env::var("GMSDI_SKIP_GUI").as_deref() == Ok("1") {
                        println!("SKIPPED: no X server ($DISPLAY unset) and no Xvfb installed");
                        return None;
                    }
                    panic!(
                        "no X server ($DISPLAY unset) and no Xvfb: install it with `apt-get install xvfb` \
                         (or set GMSDI_SKIP_GUI=1 to skip this test)"
                    );
                }
                Err(e) => panic!("starting Xvfb: {e}"),
            };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if xvfb.try_wait().expect("Xvfb status").is_some() {
                    break; // taken meanwhile: try the next number
                }
                if let Ok((conn, screen)) = x11rb::connect(Some(&display)) {
                    return Some(XServer { display, conn, screen, xvfb: Some(xvfb), _turn: turn });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            stop(&mut xvfb);
        }
        panic!("no free X display number for Xvfb in :90 to :199");
    }
}

impl Drop for XServer {
    fn drop(&mut self) {
        if let Some(xvfb) = &mut self.xvfb {
            stop(xvfb);
            // The test pointed the plugin at this server; the next test starts its own.
            std::env::remove_var("DISPLAY");
        }
    }
}

/// Stops Xvfb with SIGTERM, so that it removes its socket and lock file
/// (SIGKILL after 5 s).
fn stop(xvfb: &mut Child) {
    // SAFETY: kill(2) on our own child's pid, which it keeps until waited for.
    unsafe { libc::kill(xvfb.id() as libc::pid_t, libc::SIGTERM) };
    let started = Instant::now();
    while xvfb.try_wait().expect("Xvfb status").is_none() {
        if started.elapsed() > Duration::from_secs(5) {
            let _ = xvfb.kill();
            let _ = xvfb.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The contents of `window` as RGB bytes, read as a 32-bit (BGRX) ZPixmap.
fn grab(conn: &RustConnection, window: u32, size: (u16, u16)) -> Vec<u8> {
    let image =
        conn.get_image(ImageFormat::Z_PIXMAP, window, 0, 0, size.0, size.1, !0).unwrap().reply().expect("GetImage");
    let setup = conn.setup();
    let format = setup.pixmap_formats.iter().find(|f| f.depth == image.depth).expect("pixmap format of the depth");
    assert_eq!(format.bits_per_pixel, 32, "{}-bit pixels: only 32-bit (BGRX) is read", format.bits_per_pixel);
    assert_eq!(setup.image_byte_order, ImageOrder::LSB_FIRST, "BGRX byte order expected");
    assert_eq!(image.data.len(), size.0 as usize * size.1 as usize * 4);
    image.data.chunks_exact(4).flat_map(|p| [p[2], p[1], p[0]]).collect()
}

/// How many distinct colours an RGB image has.
fn colours(rgb: &[u8]) -> usize {
    rgb.chunks_exact(3).collect::<HashSet<_>>().len()
}

/// Writes RGB bytes of `size` as an 8-bit PNG.
fn write_png(path: &Path, rgb: &[u8], size: (u16, u16)) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut encoder = png::Encoder::new(file, size.0.into(), size.1.into());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(rgb).unwrap();
    writer.finish().unwrap();
}

/// Ends the whole process, Xvfb going with its last client, if the test
/// has not set `done` within `limit`: a hung editor fails with a message
/// instead of stalling the run.
fn watchdog(limit: Duration, done: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < limit {
            if done.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("the editor test hung for {limit:?}: ending the process");
        std::process::exit(101);
    });
}

/// An editor test's start: its X server (`None`: skipped), the plugin
/// built first (the first call may compile it, outside the watchdog's time),
/// a 600 s watchdog and the flag that stops it, and `$DISPLAY` pointed at the
/// server (the plugin's baseview opens its own Xlib connection to it).
fn setup() -> Option<(XServer, &'static Path, Arc<AtomicBool>)> {
    let server = XServer::open()?;
    let library = plugin_library();
    let finished_test = Arc::new(AtomicBool::new(false));
    watchdog(Duration::from_secs(600), finished_test.clone());
    std::env::set_var("DISPLAY", &server.display);
    Some((server, library, finished_test))
}

/// Runs the editor tests one at a time: each sets `DISPLAY` for the
/// plugin's windows and counts the process's threads.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Processes silent blocks (transport stopped) for `duration`, at about real time.
fn run_for(p: &mut Instance, duration: Duration) {
    let started = Instant::now();
    while started.elapsed() < duration {
        p.process(&[], BLOCK, None);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A plucked-string-like stereo signal, two partials decaying every half second.
fn guitar(frames: usize) -> Vec<Vec<f32>> {
    [110.0, 164.8]
        .iter()
        .map(|f| {
            (0..frames)
                .map(|i| {
                    let t = i as f64 / RATE;
                    (0.3 * (-4.0 * (t % 0.5)).exp() * (2.0 * std::f64::consts::PI * f * t).sin()) as f32
                })
                .collect()
        })
        .collect()
}

/// Whether two screenshots differ in more than 0.5 % of their pixels.
fn differs(a: &[u8], b: &[u8]) -> bool {
    let changed = a.chunks_exact(3).zip(b.chunks_exact(3)).filter(|(x, y)| x != y).count();
    changed * 200 > a.len() / 3
}

/// Checks a screenshot is not blank and covers the window, and writes it to
/// `target/screenshots/editor-<state>.png`, or with `GMSDI_UPDATE_SCREENSHOTS=1`
/// to `docs/screenshots/` (the README's copies).
fn save(rgb: &[u8], size: (u16, u16), state: &str) {
    let folder = if std::env::var("GMSDI_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        repo().join("docs/screenshots")
    } else {
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), Into::into).join("screenshots")
    };
    let path = folder.join(format!("editor-{state}.png"));
    write_png(&path, rgb, size);
    let distinct = colours(rgb);
    let magenta = rgb.chunks_exact(3).filter(|c| *c == [0xff, 0x00, 0xff]).count();
    println!("screenshot {}: {distinct} colours", path.display());
    assert!(distinct > 20, "the {state} screenshot looks blank: {distinct} colours");
    assert!(magenta < rgb.len() / 3 / 100, "the editor leaves {magenta} pixels of the parent window uncovered");
}

/// A mapped top-level window of `size` with the magenta background.
fn create_window(conn: &RustConnection, root: u32, size: (u16, u16)) -> u32 {
    let window = conn.generate_id().unwrap();
    let aux = CreateWindowAux::new().background_pixel(BACKGROUND).event_mask(EventMask::STRUCTURE_NOTIFY);
    let class = WindowClass::INPUT_OUTPUT;
    conn.create_window(x11rb::COPY_DEPTH_FROM_PARENT, window, root, 0, 0, size.0, size.1, 0, class, 0, &aux).unwrap();
    conn.map_window(window).unwrap();
    // The pointer off the windows: no hover tooltips in the screenshots.
    conn.warp_pointer(x11rb::NONE, root, 0, 0, 0, 0, 2047, 1599).unwrap();
    conn.sync().unwrap();
    window
}

/// Creates the editor at `scale`, checks its size, embeds it in `window` and shows it.
fn open_editor(p: &mut Instance, window: u32, scale: f64, size: (u16, u16)) {
    let x11 = GuiConfiguration { api_type: GuiApiType::X11, is_floating: false };
    let (gui, plugin) = p.gui();
    assert!(gui.is_api_supported(&plugin, x11), "embedded X11 editor supported");
    assert!(!gui.is_api_supported(&plugin, GuiConfiguration { is_floating: true, ..x11 }), "floating is not");
    gui.create(&plugin, x11).expect("gui.create");
    gui.set_scale(&plugin, scale).expect("gui.set_scale");
    assert!(gui.can_resize(&plugin), "the host may resize the editor");
    let got = gui.get_size(&plugin).expect("gui.get_size");
    assert_eq!((got.width, got.height), (size.0.into(), size.1.into()), "size at scale {scale}");
    // SAFETY: the caller keeps `window` alive until after `close_editor`.
    unsafe { gui.set_parent(&plugin, Window::from_x11_handle(window.into())) }.expect("gui.set_parent");
    gui.show(&plugin).expect("gui.show");
}

/// Hides and destroys the editor.
fn close_editor(p: &mut Instance) {
    let (gui, plugin) = p.gui();
    gui.hide(&plugin).expect("gui.hide");
    gui.destroy(&plugin);
    p.process(&[], BLOCK, None);
}

/// Keeps audio running until the editor has drawn into `window`, then a
/// moment more for its layout to settle; returns the window's pixels.
fn wait_drawn(p: &mut Instance, conn: &RustConnection, window: u32, size: (u16, u16)) -> Vec<u8> {
    let opened = Instant::now();
    let mut drawn: Option<Instant> = None;
    let mut last_poll = Instant::now();
    loop {
        p.process(&[], BLOCK, None);
        std::thread::sleep(Duration::from_millis(10));
        if last_poll.elapsed() < Duration::from_millis(200) {
            continue;
        }
        last_poll = Instant::now();
        let rgb = grab(conn, window, size);
        match drawn {
            Some(at) if at.elapsed() > Duration::from_millis(1500) => {
                println!("editor drew within {:?}", at - opened);
                return rgb;
            }
            Some(_) => {}
            None if colours(&rgb) > 20 => drawn = Some(Instant::now()),
            None => assert!(
                opened.elapsed() < Duration::from_secs(60),
                "the editor drew nothing within 60 s ({} colours)",
                colours(&rgb)
            ),
        }
    }
}

#[test]
fn editor_shows_an_accompaniment_job_from_idle_to_done() {
    let _alone = one_at_a_time();
    let Some((server, library, finished_test)) = setup() else { return };
    let started = Instant::now();
    let conn = &server.conn;
    let root = conn.setup().roots[server.screen].root;
    let window = create_window(conn, root, SIZE);

    let mut p = Instance::new(library);
    let out = tempfile::tempdir().unwrap();
    let mut state = p.field("gmsdi");
    state["model_dir"] = fixture_dir().to_string_lossy().into();
    state["output_dir"] = out.path().to_string_lossy().into();
    state["settings"]["steps"] = STEPS.into();
    p.set_field("gmsdi", &state);
    p.activate(RATE, BLOCK as u32);
    run_for(&mut p, Duration::from_millis(500)); // hosts open the editor of a running plugin
    open_editor(&mut p, window, 1.0, SIZE);
    let idle = wait_drawn(&mut p, conn, window, SIZE);
    save(&idle, SIZE, "idle");

    // Capture 2 s of guitar on Source 1 while the transport plays from 1 s.
    let start = RATE as i64;
    let source = guitar(2 * RATE as usize / BLOCK * BLOCK);
    p.set_param("Capture", 1.0);
    for (i, from) in (0..source[0].len()).step_by(BLOCK).enumerate() {
        let block: Vec<Vec<f32>> = source.iter().map(|c| c[from..from + BLOCK].to_vec()).collect();
        p.process(&[vec![], block], BLOCK, Some(Transport { pos: start + (i * BLOCK) as i64, playing: true }));
    }
    p.set_param("Capture", 0.0);
    p.process(&[], BLOCK, Some(Transport { pos: start, playing: false }));

    // Generate: the job runs on the worker while audio and the editor go on.
    p.set_param("Generate", 1.0);
    run_for(&mut p, Duration::from_millis(1500));
    p.set_param("Generate", 0.0);
    let running = grab(conn, window, SIZE);
    assert!(p.field("gmsdi")["results"].as_array().is_none_or(Vec::is_empty), "still running when captured");
    save(&running, SIZE, "running");
    assert!(differs(&idle, &running), "the running editor looks like the idle one");

    let finished = Instant::now();
    while p.field("gmsdi")["results"].as_array().is_none_or(Vec::is_empty) {
        assert!(finished.elapsed() < Duration::from_secs(400), "the job did not finish within 400 s");
        run_for(&mut p, Duration::from_millis(200));
    }
    println!("the job finished {:?} after the running screenshot", finished.elapsed());
    // The history says how the generated stem heard the source: the fixture has no context input.
    let summary = p.field("gmsdi")["history"][0]["summary"].as_str().unwrap_or_default().to_string();
    assert!(
        summary.contains(" under ") && summary.ends_with("(coupled through the mixture (eq. 12))"),
        "history: {summary}"
    );
    // Play over the result so the playhead shows, then let the editor catch up.
    let mut pos = start;
    let playing = Instant::now();
    while playing.elapsed() < Duration::from_millis(1500) {
        p.process(&[], BLOCK, Some(Transport { pos, playing: true }));
        pos += BLOCK as i64;
        std::thread::sleep(Duration::from_millis(10));
    }
    let done = grab(conn, window, SIZE);
    save(&done, SIZE, "done");
    assert!(differs(&running, &done), "the done editor looks like the running one");
    close_editor(&mut p);

    // 200 %: the editor again at scale 2, in a window twice the size.
    let big = create_window(conn, root, SIZE_200);
    open_editor(&mut p, big, 2.0, SIZE_200);
    let done_200 = wait_drawn(&mut p, conn, big, SIZE_200);
    save(&done_200, SIZE_200, "done-200");

    let closing = Instant::now();
    close_editor(&mut p);
    p.deactivate();
    drop(p);
    conn.destroy_window(window).unwrap();
    conn.destroy_window(big).unwrap();
    conn.sync().unwrap();
    drop(server);
    finished_test.store(true, Ordering::Release);
    println!("closed in {:?}; the editor test took {:?}", closing.elapsed(), started.elapsed());
    assert!(closing.elapsed() < Duration::from_secs(5), "closing took {:?}", closing.elapsed());
}

#[test]
fn editor_opened_and_closed_a_hundred_times_while_audio_runs() {
    let _alone = one_at_a_time();
    let Some((server, library, finished_test)) = setup() else { return };
    let conn = &server.conn;
    let root = conn.setup().roots[server.screen].root;
    let window = create_window(conn, root, SIZE);
    let mut p = Instance::new(library);
    p.activate(RATE, BLOCK as u32);
    let input = guitar(BLOCK);
    let threads = || std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count);
    let before = threads();
    // The editor's threads end a moment after it closes: wait for them
    // (also before the X server goes, which they would still be talking to).
    let settled = |p: &mut Instance| {
        let closed = Instant::now();
        while threads() > before && closed.elapsed() < Duration::from_secs(10) {
            run_for(p, Duration::from_millis(50));
        }
        threads() <= before
    };
    for _ in 0..100 {
        open_editor(&mut p, window, 1.0, SIZE);
        for _ in 0..4 {
            assert_eq!(p.process(std::slice::from_ref(&input), BLOCK, None)[0], input, "audio passes");
        }
        close_editor(&mut p);
    }
    assert!(settled(&mut p), "threads leaked: {before} -> {}", threads());
    // The editor still opens and draws.
    open_editor(&mut p, window, 1.0, SIZE);
    let drawn = wait_drawn(&mut p, conn, window, SIZE);
    assert!(colours(&drawn) > 8, "the editor drew after 100 open/close cycles");
    close_editor(&mut p);
    assert!(settled(&mut p), "threads leaked: {before} -> {}", threads());
    finished_test.store(true, Ordering::Release);
}
