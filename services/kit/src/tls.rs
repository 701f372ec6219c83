//! Outbound TLS, one way for every client of the platform (the gateway's
//! subgraph fetches, feeds, member standing and exports, the identity
//! provider's JWKS, OTLP export): rustls, trusting Mozilla's roots
//! (webpki-roots) and the certificates of `tls.ca_files` (a private CA).
//! The CA files are read once at start ([`install`]); a file that does not
//! hold a PEM certificate stops the process.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// The certificates of `tls.ca_files`, as DER.
static EXTRA_ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();

/// Reads the CA files and trusts their certificates from now on, in every
/// client made after. Once per process: a second call with other files is
/// an error.
pub fn install(ca_files: &[PathBuf]) -> Result<(), String> {
    let mut roots = Vec::new();
    for path in ca_files {
        let found: Vec<_> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("tls.ca_files: {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls.ca_files: {}: {e}", path.display()))?;
        if found.is_empty() {
            return Err(format!(
                "tls.ca_files: {} holds no PEM certificate",
                path.display()
            ));
        }
        roots.extend(found);
    }
    match EXTRA_ROOTS.get() {
        Some(held) if *held == roots => Ok(()),
        Some(_) => Err("tls.ca_files: already installed with other files".into()),
        None => {
            let _ = EXTRA_ROOTS.set(roots);
            Ok(())
        }
    }
}

/// The certificates every client trusts beyond Mozilla's.
pub fn extra_roots() -> &'static [CertificateDer<'static>] {
    EXTRA_ROOTS.get().map_or(&[], Vec::as_slice)
}

/// A rustls client configuration with the platform's roots.
pub fn client_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots() {
        // A certificate rustls cannot use was already read as PEM; it is
        // left out with a warning rather than trusted half-way.
        if let Err(err) = roots.add(cert.clone()) {
            tracing::warn!(error = %err, "tls.ca_files: a certificate is not usable as a root");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            // The ring provider supports the default versions; kept total.
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
    Arc::new(config)
}

/// A reqwest client builder that trusts the platform's roots.
pub fn reqwest_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls((*client_config()).clone())
}
