//! The denoiser's rows shared out over one session per CPU thread: the same
//! batch gives the same rows, in the same order, whatever the thread count.

mod common;

use common::{fixture_dir, noise};
use gmsdi_engine::network::{Denoiser, Model};
use gmsdi_engine::runtime::RuntimeOptions;

/// The fixture loaded with `threads` threads.
fn model(threads: usize) -> Model {
    Model::load(&fixture_dir(), &RuntimeOptions { threads: Some(threads), ..RuntimeOptions::default() })
        .expect("the fixture loads")
}

#[test]
fn a_batch_gives_the_same_rows_whatever_the_thread_count() {
    let (rows, frames) = (7, 512);
    let mut one = model(1);
    let (c, d) = (one.channels(), one.manifest.embedding_dim);
    let x = noise(rows * c * frames, 3, 0.3);
    // Every row differs in σ and prompt, so a row out of place shows.
    let sigma: Vec<f32> = (0..rows).map(|r| 0.05 + 0.1 * r as f32).collect();
    let stems: Vec<String> = one.manifest.stems.values().map(|s| s.prompt.clone()).collect();
    let embedding: Vec<f32> = (0..rows).flat_map(|r| one.embed(&stems[r % stems.len()]).expect("embedding")).collect();
    assert_eq!(embedding.len(), rows * d);
    let want = one.denoise(&x, frames, &sigma, &embedding, None).expect("one thread");
    assert_eq!(one.denoiser_sessions(), 1);
    for threads in [2, 3, 16] {
        let mut many = model(threads);
        assert_eq!(many.denoiser_sessions(), threads.min(8), "{threads} threads");
        let got = many.denoise(&x, frames, &sigma, &embedding, None).expect("many threads");
        assert_eq!(got.len(), want.len());
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{threads} threads: rows differ by up to {worst}");
    }
}
