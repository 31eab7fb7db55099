//! End-to-end tests of the `gmsdi` command line on the analytic fixture model
//! (`models/fixtures/gaussian`, 8 kHz): the happy paths of every task with
//! `--json`, and every way a run can fail — each failure must be one clear
//! `gmsdi: error:` line, a non-zero exit and no output file that looks finished.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{fixture_dir, read_wav, test_channel, write_f32, write_i16, write_raw_wav};
use gmsdi_engine::runtime::LIB_NAME;
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_gmsdi");

/// `gmsdi --model <fixture> --threads 1`, with no model from the environment.
fn gmsdi() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("GMSDI_MODEL").arg("--model").arg(fixture_dir()).args(["--threads", "1"]);
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to its end. Under Wine, starting a process now and then fails
/// with ERROR_INTERNAL_ERROR (1359) before it runs; such a start is tried
/// again, up to three times (it never happens on Linux or real Windows).
fn run(cmd: &mut Command) -> Output {
    const WINE_START_FAILURE: i32 = 1359;
    let mut retries = 0;
    loop {
        match cmd.output() {
            Err(e) if cfg!(windows) && e.raw_os_error() == Some(WINE_START_FAILURE) && retries < 3 => {
                eprintln!("process start failed under Wine ({e}); trying again");
                std::thread::sleep(std::time::Duration::from_millis(500));
                retries += 1;
            }
            result => return result.expect("gmsdi runs"),
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tmp() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// Asserts success and returns stdout parsed as JSON.
fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "gmsdi failed ({:?}):\nstderr: {}\nstdout: {}",
        out.status,
        text(&out.stderr),
        text(&out.stdout)
    );
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(&out.stdout)))
}

/// Files in `dir` that look like (partial) audio output: `*.wav` or `*.wav.part`.
fn wav_like_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wav") || n.ends_with(".part") || n.starts_with(".gmsdi"))
        .collect()
}

/// A line ONNX Runtime 1.32's Windows build prints to stderr when DXGI
/// cannot start (under Wine without a display); not the CLI's.
const ORT_DXGI_NOTICE: &str = "Failed to create DXGI factory.";

/// Stderr without the lines that libraries print on their own.
fn without_foreign_lines(stderr: &str) -> String {
    stderr.lines().filter(|l| l.trim() != ORT_DXGI_NOTICE).map(|l| format!("{l}\n")).collect()
}

/// Asserts a clean failure: non-zero exit (not a signal, not 130), exactly
/// one `gmsdi: error:` line on stderr, last and containing every `needles`,
/// no panic, and nothing that looks like output in `out_dir`. Returns the line.
fn assert_fails(out: &Output, out_dir: &Path, needles: &[&str]) -> String {
    let stderr = without_foreign_lines(&text(&out.stderr));
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| c != 0 && c != 130),
        "expected a failure exit, got {:?}; stderr: {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "gmsdi panicked: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("gmsdi: error:")).collect();
    assert_eq!(errors.len(), 1, "expected one error line, stderr: {stderr}");
    let line = errors[0];
    assert!(line.starts_with("gmsdi: error: "), "error line has a prefix before it: {line:?}");
    assert!(line.len() > "gmsdi: error: ".len() + 5, "error line says nothing: {line:?}");
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    assert_eq!(last, line, "the error must be the last line of stderr: {stderr}");
    for n in needles {
        assert!(line.contains(n), "error line lacks {n:?}: {line}");
    }
    let left = wav_like_files(out_dir);
    assert!(left.is_empty(), "failed run left {left:?} in {}", out_dir.display());
    line.to_string()
}

/// Checks one entry of the JSON `outputs` list and the file it names.
fn check_output(entry: &Value, stem: &str, rate: u32, channels: u16, frames: u32) -> Vec<Vec<f32>> {
    assert_eq!(entry["stem"], stem, "{entry}");
    assert_eq!(entry["rate"], rate, "{entry}");
    assert_eq!(entry["channels"], channels, "{entry}");
    let seconds = entry["seconds"].as_f64().unwrap();
    assert!((seconds - f64::from(frames) / f64::from(rate)).abs() < 1e-6, "{entry}");
    let path = PathBuf::from(entry["path"].as_str().unwrap());
    assert_eq!(path.file_name().unwrap(), format!("{stem}.wav").as_str());
    let reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.duration(), frames, "{}: frame count", path.display());
    let (spec, samples) = read_wav(&path);
    assert_eq!((spec.sample_rate, spec.channels), (rate, channels), "{}", path.display());
    for ch in &samples {
        assert!(ch.iter().all(|s| s.is_finite()), "{}: non-finite samples", path.display());
        assert!(ch.iter().any(|s| *s != 0.0), "{}: all silent", path.display());
    }
    samples
}

fn outputs(summary: &Value) -> &Vec<Value> {
    summary["outputs"].as_array().unwrap_or_else(|| panic!("no outputs list: {summary}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gmsdi --json separate MIX --stems bass,drums --out OUT --steps 4 EXTRA…`,
/// which must succeed; its JSON summary.
fn separate_bass_drums(mix: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut cmd = gmsdi();
    cmd.args(["--json", "separate", s(mix), "--stems", "bass,drums", "--out", s(out), "--steps", "4"]).args(extra);
    ok_json(&run(&mut cmd))
}

// ------------------------------------------------------------------ happy paths

#[test]
fn separate_stereo_44k_keeps_rate_channels_and_length() {
    let dir = tmp();
    let mix = dir.path().join("mix.wav");
    let frames = 44_100 + 37;
    write_i16(&mix, 44_100, &[test_channel(44_100, frames, 1), test_channel(44_100, frames, 2)]);
    let out = dir.path().join("out");
    let summary = separate_bass_drums(&mix, &out, &[]);
    assert_eq!(summary["task"], "separate");
    assert_eq!(summary["model"], "gaussian-fixture");
    let list = outputs(&summary);
    assert_eq!(list.len(), 2, "{summary}");
    for (entry, stem) in list.iter().zip(["bass", "drums"]) {
        check_output(entry, stem, 44_100, 2, frames as u32);
        assert!(out.join(format!("{stem}.wav")).is_file());
    }
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["bass.wav", "drums.wav"], "only the stems may be left in the output folder");
}

/// With the Wiener filter the stems of a 44.1 kHz stereo mix add up to the
/// whole mix, channel by channel, including everything above the fixture
/// model's 4 kHz band (the test channels carry white noise up to 22 kHz).
#[test]
fn wiener_stems_null_against_the_full_band_stereo_mix() {
    let dir = tmp();
    let mix_path = dir.path().join("mix.wav");
    let frames = 44_100;
    let mix = [test_channel(44_100, frames, 3), test_channel(44_100, frames, 4)];
    write_f32(&mix_path, 44_100, &mix);
    let out = dir.path().join("out");
    let summary = separate_bass_drums(&mix_path, &out, &["--wiener", "true"]);
    let stems: Vec<Vec<Vec<f32>>> = outputs(&summary)
        .iter()
        .zip(["bass", "drums"])
        .map(|(e, stem)| check_output(e, stem, 44_100, 2, frames as u32))
        .collect();
    for (c, row) in mix.iter().enumerate() {
        let rest: f64 = (0..frames).map(|i| f64::from(row[i] - stems[0][c][i] - stems[1][c][i]).powi(2)).sum();
        let energy: f64 = row.iter().map(|v| f64::from(*v).powi(2)).sum();
        let null_db = 10.0 * (rest / energy).log10();
        assert!(null_db < -60.0, "channel {c}: stems vs mix {null_db:.1} dB");
    }
}

#[test]
fn extract_writes_the_asked_stem() {
    let dir = tmp();
    let mix = dir.path().join("mix.wav");
    write_i16(&mix, 8000, &[test_channel(8000, 6000, 3)]);
    let out = dir.path().join("out");
    let summary =
        ok_json(&run(gmsdi().args(["--json", "extract", s(&mix), "--stem", "bass", "--out", s(&out), "--steps", "4"])));
    assert_eq!(summary["task"], "extract");
    let list = outputs(&summary);
    assert_eq!(list.len(), 1, "{summary}");
    check_output(&list[0], "bass", 8000, 1, 6000);
}

#[test]
fn format_flac_writes_the_same_stem_as_wav_within_16_bits() {
    // The Wiener filter keeps the stem within the mix's level, so FLAC clips nothing.
    let dir = tmp();
    let mix = dir.path().join("mix.wav");
    write_i16(&mix, 8000, &[test_channel(8000, 6000, 3)]);
    let mut stems = Vec::new();
    for format in ["wav", "flac"] {
        let out = dir.path().join(format);
        let args = [
            "--json",
            "--format",
            format,
            "extract",
            s(&mix),
            "--stem",
            "bass",
            "--out",
            s(&out),
            "--steps",
            "4",
            "--wiener",
            "true",
        ];
        let summary = ok_json(&run(gmsdi().args(args)));
        let path = PathBuf::from(outputs(&summary)[0]["path"].as_str().unwrap());
        assert_eq!(path, out.join(format!("bass.{format}")));
        stems.push(gmsdi_engine::audio::read_audio(&path).unwrap());
    }
    assert_eq!((stems[1].rate, stems[1].frames()), (8000, 6000));
    let err = stems[0].channels[0].iter().zip(&stems[1].channels[0]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(err <= 1.5 / 32768.0, "FLAC differs from WAV by {err}");
    let refused = run(gmsdi().args(["--format", "mp3", "extract", s(&mix), "--stem", "bass", "--out", "x"]));
    assert!(!refused.status.success() && text(&refused.stderr).contains("flac"), "{}", text(&refused.stderr));
}

#[test]
fn extract_reads_flac_and_mp3_as_it_reads_the_same_audio_as_wav() {
    let dir = tmp();
    for (name, rate, channels) in [("sine_22050_stereo.flac", 22050, 2), ("sine_44100_mono.mp3", 44100, 1)] {
        let compressed = common::data_dir().join(name);
        let decoded = gmsdi_engine::audio::read_audio(&compressed).unwrap();
        let wav = dir.path().join(format!("{name}.wav"));
        write_f32(&wav, decoded.rate, &decoded.channels);
        let frames = decoded.frames() as u32;
        let mut results = Vec::new();
        for (input, out) in
            [(&compressed, dir.path().join(format!("{name}-out"))), (&wav, dir.path().join(format!("{name}-wav-out")))]
        {
            let summary = ok_json(&run(gmsdi().args([
                "--json",
                "extract",
                s(input),
                "--stem",
                "bass",
                "--out",
                s(&out),
                "--steps",
                "4",
                "--seed",
                "7",
            ])));
            results.push(check_output(&outputs(&summary)[0], "bass", rate, channels, frames));
        }
        // The same decoded samples in, the same stem out.
        let err = results[0]
            .iter()
            .flatten()
            .zip(results[1].iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-6, "{name}: the stem differs from the WAV run's by {err}");
    }
}

#[test]
fn accompany_output_is_as_long_as_the_source() {
    let dir = tmp();
    let src = dir.path().join("guitar.wav");
    let frames = 26_011;
    write_i16(&src, 22_050, &[test_channel(22_050, frames, 4), test_channel(22_050, frames, 5)]);
    let out = dir.path().join("out");
    let source = format!("guitar={}", s(&src));
    let summary = ok_json(&run(gmsdi().args([
        "--json",
        "accompany",
        "--source",
        &source,
        "--generate",
        "bass",
        "--out",
        s(&out),
        "--steps",
        "4",
    ])));
    assert_eq!(summary["task"], "accompany");
    let list = outputs(&summary);
    assert_eq!(list.len(), 1, "{summary}");
    check_output(&list[0], "bass", 22_050, 2, frames as u32);
}

#[test]

fn accompany_sources_at_different_rates_give_an_output_as_long_as_the_sources() {
    let dir = tmp();
    let guitar = dir.path().join("guitar.wav");
    let piano = dir.path().join("piano.wav");
    // Both sources last 1 s: 8000 frames at 8 kHz and 44100 frames at 44.1 kHz.
    write_i16(&guitar, 8000, &[test_channel(8000, 8000, 1)]);
    write_i16(&piano, 44_100, &[test_channel(44_100, 44_100, 2)]);
    let out = dir.path().join("out");
    let (g, p) = (format!("guitar={}", s(&guitar)), format!("piano={}", s(&piano)));
    let summary = ok_json(&run(gmsdi().args([
        "--json",
        "accompany",
        "--source",
        &g,
        "--source",
        &p,
        "--generate",
        "bass",
        "--out",
        s(&out),
        "--steps",
        "2",
    ])));
    // The output takes the first source's rate and must last 1 s, not 44100 / 8000 = 5.5 s.
    check_output(&outputs(&summary)[0], "bass", 8000, 1, 8000);
}

#[test]
fn generate_writes_stems_and_their_mix() {
    let dir = tmp();
    let out = dir.path().join("out");
    let summary = ok_json(&run(gmsdi().args([
        "--json",
        "generate",
        "--stems",
        "bass,drums",
        "--seconds",
        "1",
        "--out",
        s(&out),
        "--steps",
        "4",
    ])));
    assert_eq!(summary["task"], "generate");
    let list = outputs(&summary);
    assert_eq!(list.len(), 3, "{summary}");
    let bass = check_output(&list[0], "bass", 8000, 1, 8000);
    let drums = check_output(&list[1], "drums", 8000, 1, 8000);
    let mix = check_output(&list[2], "mix", 8000, 1, 8000);
    let err = mix[0].iter().zip(bass[0].iter().zip(&drums[0])).map(|(m, (b, d))| (m - b - d).abs()).fold(0.0, f32::max);
    assert!(err < 1e-5, "mix.wav is not bass + drums (max error {err})");
}

#[test]
fn info_prints_the_model() {
    let summary = ok_json(&run(gmsdi().args(["--json", "info"])));
    assert_eq!(summary["name"], "gaussian-fixture");
    assert_eq!(summary["sample_rate"], 8000);
    assert_eq!(summary["channels"], 1);
    let stems: Vec<&str> = summary["stems"].as_array().unwrap().iter().map(|s| s["stem"].as_str().unwrap()).collect();
    assert_eq!(stems, ["bass", "drums", "guitar", "piano"]);
    assert!(summary["onnxruntime"].as_str().is_some_and(|p| p.contains("onnxruntime")), "{summary}");
}

#[test]
fn eval_separation_reports_si_sdri_per_stem() {
    let dir = tmp();
    let frames = 9 * 8000;
    for (t, name) in ["track_a", "track_b"].iter().enumerate() {
        let track = dir.path().join(name);
        std::fs::create_dir(&track).unwrap();
        let seed = 10 * t as u64;
        let bass =
            common::add(&common::sine(8000, 55.0 + 10.0 * t as f32, frames, 0.3), &common::noise(frames, seed, 0.01));
        let drums = common::noise(frames, seed + 1, 0.2);
        write_i16(&track.join("bass.wav"), 8000, std::slice::from_ref(&bass));
        write_i16(&track.join("drums.wav"), 8000, std::slice::from_ref(&drums));
        write_i16(&track.join("mix.wav"), 8000, &[common::add(&bass, &drums)]);
    }
    let summary =
        ok_json(&run(gmsdi().args(["--json", "eval", "separation", "--data", s(dir.path()), "--steps", "4"])));
    assert_eq!(summary["tracks"], 2, "{summary}");
    for stem in ["bass", "drums"] {
        let v = summary["si_sdri_db"][stem].as_f64();
        assert!(v.is_some_and(f64::is_finite), "no finite SI-SDRi for {stem}: {summary}");
        // 9 s tracks, 4 s windows with a 2 s hop: windows at 0, 2 and 4 s in each track.
        assert_eq!(summary["windows"][stem], 6, "{summary}");
    }
    assert_eq!(summary["si_sdri_db"].as_object().unwrap().len(), 2, "only stems present in every track: {summary}");
    assert!(summary["all_db"].as_f64().is_some_and(f64::is_finite), "{summary}");
}

// ------------------------------------------------------------------ bad input

#[test]
fn missing_wav_is_a_clear_error() {
    let dir = tmp();
    let out = dir.path().join("out");
    let missing = dir.path().join("nope.wav");
    let o = run(gmsdi().args(["separate", s(&missing), "--stems", "bass,drums", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["nope.wav"]);
}

#[test]
fn truncated_wav_is_a_clear_error() {
    let dir = tmp();
    let path = dir.path().join("cut.wav");
    write_i16(&path, 8000, &[test_channel(8000, 8000, 1), test_channel(8000, 8000, 2)]);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2 + 1]).unwrap();
    let out = dir.path().join("out");
    let source = format!("guitar={}", s(&path));
    let o =
        run(gmsdi().args(["accompany", "--source", &source, "--generate", "bass", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["cut.wav", "truncated"]);
}

#[test]
fn garbage_named_wav_is_a_clear_error() {
    let dir = tmp();
    let path = dir.path().join("garbage.wav");
    std::fs::write(&path, common::noise(300, 7, 1.0).iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>())
        .unwrap();
    let out = dir.path().join("out");
    let o = run(gmsdi().args(["extract", s(&path), "--stem", "bass", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["garbage.wav", "not a valid WAV"]);
}

#[test]
fn unsupported_wav_formats_are_clear_errors() {
    let dir = tmp();
    let out = dir.path().join("out");
    let data = vec![0x55u8; 8000];
    // A-law (format tag 6) with a 16-byte `fmt ` chunk (no cbSize): hound
    // does not decode A-law and symphonia wants the 18-byte chunk the format
    // requires, so hound's message stands. (A-law with that chunk and 64-bit
    // float are decoded by symphonia: see tests/formats.rs.)
    let alaw = dir.path().join("alaw.wav");
    write_raw_wav(&alaw, 6, 1, 8000, 8, &data);
    let o = run(gmsdi().args(["separate", s(&alaw), "--stems", "bass,drums", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["alaw.wav", "unsupported WAV format"]);
    // MS ADPCM (format tag 2): neither hound nor the engine's symphonia build
    // (no ADPCM decoder) decodes it.
    let adpcm = dir.path().join("adpcm.wav");
    write_raw_wav(&adpcm, 2, 1, 8000, 4, &data);
    let o = run(gmsdi().args(["separate", s(&adpcm), "--stems", "bass,drums", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["adpcm.wav", "unsupported WAV format"]);
    // 40-bit integer PCM: hound reads the header, the engine refuses the format.
    let pcm40 = dir.path().join("pcm40.wav");
    write_raw_wav(&pcm40, 1, 1, 8000, 40, &data);
    let o = run(gmsdi().args(["separate", s(&pcm40), "--stems", "bass,drums", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["pcm40.wav", "unsupported WAV format", "40 bit"]);
}

#[test]
fn an_unsupported_audio_format_is_named_in_one_line() {
    let dir = tmp();
    let out = dir.path().join("out");
    let m4a = dir.path().join("song.m4a");
    std::fs::write(&m4a, b"\0\0\0\x20ftypM4A \0\0\0\0M4A mp42isom\0\0\0\0").unwrap();
    let o = run(gmsdi().args(["extract", s(&m4a), "--stem", "bass", "--out", s(&out)]));
    assert_fails(&o, &out, &["song.m4a", "unsupported audio format", "supported: WAV, FLAC, MP3, OGG/Vorbis, AIFF"]);
}

#[test]
fn empty_wav_is_a_clear_error() {
    let dir = tmp();
    let path = dir.path().join("empty.wav");
    write_f32(&path, 8000, &[Vec::new(), Vec::new()]);
    let out = dir.path().join("out");
    let o = run(gmsdi().args(["separate", s(&path), "--stems", "bass,drums", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["empty.wav", "no audio"]);
}

#[test]
fn nan_samples_are_a_clear_error() {
    let dir = tmp();
    let path = dir.path().join("nan.wav");
    let mut left = test_channel(8000, 4000, 1);
    left[100] = f32::NAN;
    write_f32(&path, 8000, &[left, test_channel(8000, 4000, 2)]);
    let out = dir.path().join("out");
    let o = run(gmsdi().args(["separate", s(&path), "--stems", "bass,drums", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["NaN", "sample 100"]);
}

#[test]
fn infinite_source_samples_are_a_clear_error() {
    let dir = tmp();
    let path = dir.path().join("inf.wav");
    let mut x = test_channel(8000, 4000, 1);
    x[3000] = f32::INFINITY;
    write_f32(&path, 8000, &[x]);
    let out = dir.path().join("out");
    let source = format!("guitar={}", s(&path));
    let o =
        run(gmsdi().args(["accompany", "--source", &source, "--generate", "bass", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["guitar", "infinite", "sample 3000"]);
}

#[test]
fn unknown_stem_is_a_clear_error() {
    let dir = tmp();
    let mix = dir.path().join("mix.wav");
    write_i16(&mix, 8000, &[test_channel(8000, 4000, 1)]);
    let out = dir.path().join("out");
    let o = run(gmsdi().args(["separate", s(&mix), "--stems", "bass,flute", "--out", s(&out), "--steps", "2"]));
    let line = assert_fails(&o, &out, &["unknown stem", "flute"]);
    assert!(line.contains("bass, drums, guitar, piano"), "the error should list the known stems: {line}");
    let o = run(gmsdi().args(["generate", "--stems", "kazoo", "--seconds", "1", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["unknown stem", "kazoo"]);
}

#[test]
fn separate_with_one_stem_is_a_clear_error() {
    let dir = tmp();
    let mix = dir.path().join("mix.wav");
    write_i16(&mix, 8000, &[test_channel(8000, 4000, 1)]);
    let out = dir.path().join("out");
    let o = run(gmsdi().args(["separate", s(&mix), "--stems", "bass", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["at least two stems", "extract"]);
}

#[test]
fn bad_requests_are_clear_errors() {
    let dir = tmp();
    let out = dir.path().join("out");
    let o = run(gmsdi().args(["generate", "--stems", "bass", "--seconds=-1", "--out", s(&out), "--steps", "2"]));
    assert_fails(&o, &out, &["positive number of seconds"]);
    let o = run(gmsdi().args(["generate", "--stems", "bass", "--seconds", "1", "--out", s(&out), "--steps", "1"]));
    assert_fails(&o, &out, &["--steps: Steps must be a whole number from 2 to 10000, got 1"]);
    let o = run(gmsdi().args(["--provider", "tpu", "generate", "--stems", "bass", "--seconds", "1", "--out", s(&out)]));
    assert_fails(&o, &out, &["unknown execution provider", "tpu"]);
    let o = run(gmsdi().args(["accompany", "--source", "guitar", "--generate", "bass", "--out", s(&out)]));
    assert_fails(&o, &out, &["--source", "NAME=VALUE"]);
}

#[test]
fn a_setting_out_of_range_is_refused_with_the_engine_s_message() {
    let dir = tmp();
    let guitar = dir.path().join("guitar.wav");
    write_i16(&guitar, 8000, &[test_channel(8000, 4000, 1)]);
    let out = dir.path().join("out");
    let source = format!("guitar={}", s(&guitar));
    let o = run(gmsdi()
        .args(["accompany", "--source", &source, "--generate", "bass", "--out", s(&out)])
        .args(["--gamma-sources", "0"]));
    let why = gmsdi_engine::settings::spec("gamma_sources").unwrap().parse("0").unwrap_err().to_string();
    assert_fails(&o, &out, &[&format!("--gamma-sources: {why}")]);
    let o = run(gmsdi()
        .args(["accompany", "--source", &source, "--generate", "bass", "--out", s(&out)])
        .args(["--sampler", "heun"]));
    assert_fails(&o, &out, &["--sampler: Sampler must be one of adpm2, euler, dpmpp2m, got \"heun\""]);
}

// ------------------------------------------------------------------ output folder

#[test]
fn output_folder_under_a_regular_file_is_a_clear_error() {
    let dir = tmp();
    let mix = dir.path().join("mix.wav");
    write_i16(&mix, 8000, &[test_channel(8000, 4000, 1)]);
    let file = dir.path().join("a_file");
    std::fs::write(&file, "not a folder").unwrap();
    for out in [file.join("sub"), file.clone()] {
        let o = run(gmsdi().args(["separate", s(&mix), "--stems", "bass,drums", "--out", s(&out), "--steps", "2"]));
        assert_fails(&o, &out, &["cannot create output folder", "a_file"]);
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
}

/// Unix permissions (a 0555 folder); the Windows build under Wine skips it.
#[cfg(unix)]
#[test]
fn read_only_output_folder_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let mix = dir.path().join("mix.wav");
    write_i16(&mix, 8000, &[test_channel(8000, 4000, 1)]);
    // No user, root included, can make a folder under a regular file.
    let file = dir.path().join("plain");
    std::fs::create_dir(&file).unwrap();
    let plain = file.join("file");
    std::fs::write(&plain, "x").unwrap();
    let under = plain.join("out");
    let o = run(gmsdi().args(["separate", s(&mix), "--stems", "bass,drums", "--out", s(&under), "--steps", "2"]));
    assert_fails(&o, &file, &["cannot create output folder", s(&under)]);
    assert_eq!(std::fs::read_dir(&file).unwrap().count(), 1, "only the file that was there");
    // A 0555 folder, for a user who cannot write to one (root can).
    let out = dir.path().join("ro");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = out.join("probe");
    if std::fs::write(&probe, "x").is_ok() {
        let _ = std::fs::remove_file(&probe);
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
        println!("SKIPPED: read-only folder case: this user (root?) can write to a 0555 folder");
        return;
    }
    let o = run(gmsdi().args(["separate", s(&mix), "--stems", "bass,drums", "--out", s(&out), "--steps", "2"]));
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_fails(&o, &out, &["not writable"]);
}

/// Unmounts its folder when dropped.
#[cfg(unix)]
struct Mount(PathBuf);

#[cfg(unix)]
impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// A small tmpfs (Linux's `mount`); the Windows build under Wine skips it.
#[cfg(unix)]
#[test]
fn full_disk_fails_cleanly_and_leaves_no_wav() {
    let dir = tmp();
    let mix = dir.path().join("mix.wav");
    let frames = 3 * 44_100;
    write_i16(&mix, 44_100, &[test_channel(44_100, frames, 1), test_channel(44_100, frames, 2)]);
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::piped())
        .output()
        .map(|o| (o.status.success(), text(&o.stderr)));
    let _guard = match mounted {
        Ok((true, _)) => Mount(mnt.clone()),
        Ok((false, why)) => {
            println!("SKIPPED: disk-full case: cannot mount a tmpfs here: {}", why.trim());
            return;
        }
        Err(e) => {
            println!("SKIPPED: disk-full case: cannot run mount: {e}");
            return;
        }
    };
    // Each output is 3 s × 44.1 kHz × 2 channels × 4 bytes ≈ 1 MB, far over 64 KiB.
    let o = run(gmsdi().args(["separate", s(&mix), "--stems", "bass,drums", "--out", s(&mnt), "--steps", "2"]));
    let line = assert_fails(&o, &mnt, &["bass.wav"]);
    assert!(line.contains("No space left") || line.contains("space"), "error should say the disk is full: {line}");
    let left: Vec<_> = std::fs::read_dir(&mnt).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "the full folder should be left empty, found {left:?}");
    // The first stem (~40 KB) fits, the second does not: the first must be removed again.
    let small = dir.path().join("small_mix.wav");
    write_i16(&small, 8000, &[test_channel(8000, 10_000, 3)]);
    let o = run(gmsdi().args(["separate", s(&small), "--stems", "bass,drums", "--out", s(&mnt), "--steps", "2"]));
    let line = assert_fails(&o, &mnt, &["drums.wav"]);
    assert!(line.contains("space"), "error should say the disk is full: {line}");
    let left: Vec<_> = std::fs::read_dir(&mnt).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "bass.wav of the failed run should be removed, found {left:?}");
}

// ------------------------------------------------------------------ runtime

#[test]
fn missing_onnx_runtime_names_setup_and_places_searched() {
    let dir = tmp();
    let exe = dir.path().join("gmsdi");
    if std::fs::hard_link(BIN, &exe).is_err() {
        std::fs::copy(BIN, &exe).unwrap();
    }
    let nowhere = dir.path().join("nowhere").join(LIB_NAME);
    let out = dir.path().join("out");
    for args in [vec!["info"], vec!["generate", "--stems", "bass", "--seconds", "1", "--steps", "2", "--out", s(&out)]]
    {
        let o = run(Command::new(&exe)
            .current_dir(dir.path())
            .env("GMSDI_ORT_LIB", &nowhere)
            .env_remove("GMSDI_MODEL")
            .stdin(Stdio::null())
            .arg("--model")
            .arg(fixture_dir())
            .args(&args));
        let line = assert_fails(&o, &out, &["ONNX Runtime", "cargo xtask setup", "GMSDI_ORT_LIB", s(&nowhere)]);
        let walked = dir.path().join("onnxruntime").join(LIB_NAME);
        assert!(line.contains(s(&walked)), "should list the folders above the binary ({}): {line}", walked.display());
    }
}

/// A library older than the engine needs (here a stand-in that says it is
/// ONNX Runtime 1.17.3, as an old `onnxruntime.dll` in System32 would) is
/// one clear error naming its version and path, not a crash. Needs a C
/// compiler (`cc`) to build the stand-in; skipped without one.
#[cfg(unix)]
#[test]
fn too_old_onnx_runtime_is_refused_with_its_version() {
    let dir = tmp();
    let lib = dir.path().join(LIB_NAME);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/old_onnxruntime.c");
    let built = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&source).status();
    if !built.is_ok_and(|s| s.success()) {
        println!("SKIPPED: no C compiler to build the old-library stand-in");
        return;
    }
    let out = dir.path().join("out");
    let o = run(gmsdi().env("GMSDI_ORT_LIB", &lib).arg("info"));
    assert_fails(&o, &out, &["ONNX Runtime", "1.17.3", "1.24", s(&lib)]);
}

/// A GPU provider that cannot start (CUDA here; DirectML here and under Wine,
/// which has no Direct3D 12 device) runs on the CPU with one warning.
#[test]
fn gpu_providers_fall_back_to_cpu_with_a_warning() {
    for (flag, name) in [("cuda", "CUDA"), ("directml", "DirectML")] {
        let dir = tmp();
        let out = dir.path().join("out");
        let o = run(gmsdi()
            .args(["--provider", flag, "--json", "generate", "--stems", "bass", "--seconds", "0.5"])
            .args(["--out", s(&out), "--steps", "2"]));
        let summary = ok_json(&o);
        check_output(&outputs(&summary)[0], "bass", 8000, 1, 4000);
        if summary["provider"] == name {
            println!("{name} is available here: no fallback to test");
            continue;
        }
        assert_eq!(summary["provider"], "CPU", "{summary}");
        let stderr = text(&o.stderr);
        let warning = stderr.lines().find(|l| l.starts_with("gmsdi: warning:") && l.contains(name));
        let warning = warning.unwrap_or_else(|| panic!("no {name} warning on stderr: {stderr}"));
        assert!(warning.contains("not available") && warning.contains("CPU"), "{warning}");
    }
}

/// SIGINT (`kill -INT`); the Windows build under Wine skips it.
#[cfg(unix)]
#[test]
fn ctrl_c_cancels_with_exit_130_and_no_output() {
    use std::time::{Duration, Instant};
    let dir = tmp();
    let out = dir.path().join("out");
    let mut child = gmsdi()
        .args(["--json", "generate", "--stems", "bass,drums", "--seconds", "60", "--steps", "200", "--out", s(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The output folder is made just before the model loads; the Ctrl-C
    // handler is installed right after loading.
    let start = Instant::now();
    while !out.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "the 60 s generation finished before it could be cancelled");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gmsdi did not stop within 10 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = child.wait_with_output().unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(o.stdout.is_empty(), "no summary after a cancel: {}", text(&o.stdout));
    let left = wav_like_files(&out);
    assert!(left.is_empty(), "cancelled run left {left:?}");
}
