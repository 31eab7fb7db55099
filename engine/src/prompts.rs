//! Prompts and conditions: what the model is told about each stem or label,
//! from the job's prompts, else the model's.

use crate::context::Context;
use crate::error::Result;
use crate::gmsdi::Condition;

impl Context<'_> {
    /// Fails unless `stem` is one of the model's stems or the job gives it a prompt.
    pub(crate) fn check_stem(&self, stem: &str) -> Result<()> {
        if self.job.prompts.contains_key(stem) {
            return Ok(());
        }
        self.manifest().stem(stem).map(|_| ())
    }

    /// The prompt of a label: the job's, else the model's for a stem, else the label itself.
    fn prompt_of(&self, label: &str) -> String {
        if let Some(p) = self.job.prompts.get(label) {
            return p.clone();
        }
        self.manifest().stems.get(label).map_or_else(|| label.to_string(), |s| s.prompt.clone())
    }

    /// The negative prompt of a label: the job's, else the model's; "" when
    /// the settings turn negative prompts off.
    fn negative_of(&self, label: &str) -> String {
        if !self.settings.negative_prompts {
            return String::new();
        }
        if let Some(p) = self.job.negatives.get(label) {
            return p.clone();
        }
        self.manifest().stems.get(label).map_or_else(String::new, |s| s.negative.clone())
    }

    /// Joins labels into one prompt, model stems in the model's order first.
    pub(crate) fn joined_prompt(&self, labels: &[&str]) -> String {
        let order: Vec<&String> = self.manifest().stems.keys().collect();
        let mut sorted: Vec<&str> = labels.to_vec();
        sorted.sort_by_key(|l| order.iter().position(|s| s.as_str() == *l).unwrap_or(usize::MAX));
        sorted.dedup();
        let parts: Vec<String> = sorted.iter().map(|l| self.prompt_of(l)).collect();
        parts.join(&self.manifest().label_separator)
    }

    /// Condition of a set of labels: joined prompt; negative only for one label.
    pub(crate) fn condition(&mut self, labels: &[&str]) -> Result<Condition> {
        let prompt = self.joined_prompt(labels);
        let negative = if labels.len() == 1 { self.negative_of(labels[0]) } else { String::new() };
        Ok(Condition { prompt: self.model.embed(&prompt)?, negative: self.model.embed(&negative)? })
    }
}
