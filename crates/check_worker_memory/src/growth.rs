//! Leak detection: samples of each worker's memory kept between runs, per process (pid and
//! start time, so a restarted worker starts a new series), pruned to the window; a worker whose
//! memory grows faster than the limit over the window is a finding.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The state file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct History {
    /// `pid:start_time` → `[unix time, bytes]` samples, oldest first.
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
}

/// The key of a process' series.
pub fn key(pid: u32, start_time: u64) -> String {
    format!("{pid}:{start_time}")
}

impl History {
    /// Adds this run's samples, forgets processes that are gone and samples older than
    /// `window` seconds.
    pub fn record(&mut self, now: f64, window: f64, samples: &[(String, f64)]) {
        let mut kept = BTreeMap::new();
        for (key, value) in samples {
            let mut series = self.series.remove(key).unwrap_or_default();
            series.retain(|(t, _)| now - t <= window && *t <= now);
            series.push((now, *value));
            kept.insert(key.clone(), series);
        }
        self.series = kept;
    }

    /// The growth of a series in bytes per second (least-squares slope) and the time it spans,
    /// once it spans at least `min_span` seconds.
    pub fn growth(&self, key: &str, min_span: f64) -> Option<(f64, f64)> {
        let s = self.series.get(key)?;
        let span = s.last()?.0 - s.first()?.0;
        if s.len() < 2 || span < min_span || span <= 0.0 {
            return None;
        }
        let n = s.len() as f64;
        let mt = s.iter().map(|(t, _)| t).sum::<f64>() / n;
        let mv = s.iter().map(|(_, v)| v).sum::<f64>() / n;
        let cov: f64 = s.iter().map(|(t, v)| (t - mt) * (v - mv)).sum();
        let var: f64 = s.iter().map(|(t, _)| (t - mt) * (t - mt)).sum();
        (var > 0.0).then(|| (cov / var, span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_kept_pruned_and_judged() {
        let mut h = History::default();
        // A worker growing 1 MB/s, one steady, sampled every 10 s.
        for i in 0..10 {
            let t = 1000.0 + 10.0 * i as f64;
            h.record(
                t,
                60.0,
                &[("1:5".into(), 1e6 * i as f64 * 10.0), ("2:5".into(), 5e6)],
            );
        }
        // Pruned to the window: samples from 1030 to 1090.
        assert_eq!(h.series["1:5"].len(), 7);
        let (rate, span) = h.growth("1:5", 30.0).unwrap();
        assert!((rate - 1e6).abs() < 1.0, "{rate}");
        assert_eq!(span, 60.0);
        assert_eq!(h.growth("2:5", 30.0).unwrap().0, 0.0);
        // Too short a history says nothing.
        assert_eq!(h.growth("1:5", 61.0), None);
        // A restarted worker (new start time) is a new series; the old one is forgotten.
        h.record(1100.0, 60.0, &[("1:99".into(), 1.0)]);
        assert_eq!(h.series.len(), 1);
        assert_eq!(h.growth("1:99", 0.0), None);
    }
}
