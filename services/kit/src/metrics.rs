//! Prometheus-format metrics at `/metrics`. One recorder per process; every
//! series is labelled with the service it belongs to.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a host program); ours
        // still renders what it was given.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The text exposition of every metric recorded so far.
pub fn render() -> String {
    handle().render()
}
