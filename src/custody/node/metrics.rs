//! The node's Prometheus metrics (text exposition format 0.0.4), served at
//! `GET /metrics`: requests, ceremonies by kind and outcome, policy
//! refusals by rule, unauthenticated API calls, refused peer connections,
//! and a histogram of ceremony latency.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    counters: BTreeMap<(&'static str, String), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Counters and histograms, behind one lock (updates are a few per
/// ceremony).
#[derive(Default)]
pub(crate) struct Metrics(Mutex<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Escapes a label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Each counter: name, help, and whether it has labels.
const HELP: [(&str, &str, bool); 5] = [
    (
        "quorate_requests_total",
        "API requests accepted, by kind (keygen, sign, refresh).",
        true,
    ),
    (
        "quorate_ceremonies_total",
        "Ceremonies this node took part in, by kind and outcome.",
        true,
    ),
    (
        "quorate_policy_refusals_total",
        "Requests this node's policy refused, by rule.",
        true,
    ),
    (
        "quorate_api_unauthorized_total",
        "API calls refused for a missing or wrong token.",
        false,
    ),
    (
        "quorate_peer_refused_total",
        "Node-to-node connections refused (unknown certificate, bad hello).",
        false,
    ),
];

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds one to the counter `name` with the label set `labels`
    /// (already formatted, `key="value",...`, or empty).
    fn add(&self, name: &'static str, labels: String) {
        *self.inner().counters.entry((name, labels)).or_default() += 1;
    }

    /// An API request of `kind` accepted.
    pub(crate) fn request(&self, kind: &str) {
        self.add(
            "quorate_requests_total",
            format!("kind=\"{}\"", escape(kind)),
        );
    }

    /// A ceremony of `kind` ended with `outcome` after `took`.
    pub(crate) fn ceremony(&self, kind: &str, outcome: &str, took: Duration) {
        self.add(
            "quorate_ceremonies_total",
            format!("kind=\"{}\",outcome=\"{}\"", escape(kind), escape(outcome)),
        );
        let mut inner = self.inner();
        let h = inner.latency.entry(kind.to_owned()).or_default();
        let s = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    /// The policy refused a request by `rule`.
    pub(crate) fn refusal(&self, rule: &str) {
        self.add(
            "quorate_policy_refusals_total",
            format!("rule=\"{}\"", escape(rule)),
        );
    }

    /// An API call without a valid token.
    pub(crate) fn unauthorized(&self) {
        self.add("quorate_api_unauthorized_total", String::new());
    }

    /// A refused node-to-node connection.
    pub(crate) fn peer_refused(&self) {
        self.add("quorate_peer_refused_total", String::new());
    }

    /// The exposition text; `gauges` are added as they are.
    pub(crate) fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let inner = self.inner();
        let mut out = String::new();
        for (name, help, labelled) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let mut any = false;
            for ((n, labels), v) in &inner.counters {
                if *n == name {
                    any = true;
                    if labels.is_empty() {
                        let _ = writeln!(out, "{name} {v}");
                    } else {
                        let _ = writeln!(out, "{name}{{{labels}}} {v}");
                    }
                }
            }
            if !any && !labelled {
                let _ = writeln!(out, "{name} 0");
            }
        }
        let name = "quorate_ceremony_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Ceremony latency on this node, by kind.\n# TYPE {name} histogram"
        );
        for (kind, h) in &inner.latency {
            let kind = escape(kind);
            for (b, c) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(out, "{name}_bucket{{kind=\"{kind}\",le=\"{b}\"}} {c}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{kind=\"{kind}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{kind=\"{kind}\"}} {}", h.count);
        }
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_counts_and_buckets() {
        let m = Metrics::default();
        m.request("sign");
        m.request("sign");
        m.ceremony("sign", "ok", Duration::from_millis(7));
        m.ceremony("sign", "failed", Duration::from_secs(3));
        m.refusal("limit \"eth\"");
        let text = m.render(&[("quorate_keys", "Keys held.", 2.0)]);
        assert!(text.contains("quorate_requests_total{kind=\"sign\"} 2"));
        assert!(text.contains("quorate_ceremonies_total{kind=\"sign\",outcome=\"ok\"} 1"));
        assert!(text.contains("quorate_ceremony_seconds_bucket{kind=\"sign\",le=\"0.005\"} 0"));
        assert!(text.contains("quorate_ceremony_seconds_bucket{kind=\"sign\",le=\"0.01\"} 1"));
        assert!(text.contains("quorate_ceremony_seconds_bucket{kind=\"sign\",le=\"5\"} 2"));
        assert!(text.contains("quorate_ceremony_seconds_count{kind=\"sign\"} 2"));
        assert!(text.contains("quorate_policy_refusals_total{rule=\"limit \\\"eth\\\"\"} 1"));
        assert!(text.contains("quorate_api_unauthorized_total 0"));
        assert!(text.contains("quorate_keys 2"));
    }
}
