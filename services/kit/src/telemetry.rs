//! Logs and traces: `tracing` everywhere, exported through OpenTelemetry OTLP
//! only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Spans always carry W3C
//! trace ids (taken from an incoming `traceparent`), so a request keeps one
//! trace across services even when nothing is exported.

use std::sync::OnceLock;

use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the tracer provider alive; dropping it flushes pending spans.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs the global subscriber. `filter` is an `EnvFilter` directive such
/// as `info` or `member=debug,sea_orm=warn`.
pub fn init(process: &str, filter: &str) -> anyhow::Result<TelemetryGuard> {
    let provider = tracer_provider(process)?;
    // The log filter governs what is printed; spans for traces are kept at
    // INFO whatever the log level, so trace context always propagates.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("bigmember"))
        .with_filter(LevelFilter::INFO)
        .boxed();
    // Logs go to stderr: stdout is for what a command prints (URLs, tokens,
    // summaries), so scripts can capture it.
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("log filter {filter:?} is not valid: {e}"))?;
    // Colour only for a person at a terminal, never into files or pipes.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .with_filter(filter)
        .boxed();
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| anyhow::anyhow!("telemetry already initialised: {e}"))?;
    Ok(TelemetryGuard { provider })
}

/// For tests: one subscriber per test process, quiet unless `RUST_LOG` says
/// otherwise, with trace ids so propagation can be checked.
pub fn init_for_tests() {
    static GUARD: OnceLock<Option<TelemetryGuard>> = OnceLock::new();
    GUARD.get_or_init(|| {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let provider = SdkTracerProvider::builder().build();
        let otel = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("bigmember-test"))
            .with_filter(LevelFilter::INFO)
            .boxed();
        let fmt = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(EnvFilter::new(filter))
            .boxed();
        let installed = tracing_subscriber::registry()
            .with(fmt)
            .with(otel)
            .try_init()
            .is_ok();
        installed.then_some(TelemetryGuard { provider })
    });
}

fn tracer_provider(process: &str) -> anyhow::Result<SdkTracerProvider> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(format!("bigmember-{process}"))
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let exporting = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.is_empty());
    let builder = if exporting {
        use opentelemetry_otlp::WithExportConfig as _;
        use opentelemetry_otlp::WithHttpConfig as _;
        // The exporter's blocking client trusts kit::tls's roots (an
        // https:// collector behind a private CA); a blocking client is made
        // off the async runtime.
        let client = std::thread::spawn(|| {
            reqwest::blocking::Client::builder()
                .use_preconfigured_tls((*crate::tls::client_config()).clone())
                .build()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the OTLP client could not be made"))??;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()?;
        builder.with_batch_exporter(exporter)
    } else {
        builder
    };
    Ok(builder.build())
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` a child of the W3C trace context in `headers`, if any.
pub fn adopt_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The `traceparent` value naming `span`, for responses and onward calls.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_ref = context.span();
    let sc = span_ref.span_context();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}
