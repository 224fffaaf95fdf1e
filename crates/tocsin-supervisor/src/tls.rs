//! TLS for `wss://`, `https://` and `tls://`: one rustls configuration per account,
//! shared by the WebSocket, the HTTP client (tokens, tickets, REST, SSE) and NATS.
//!
//! Owns: certificate verification through the operating system's verifier and
//! roots (rustls-platform-verifier), an optional per-account CA file (PEM) whose
//! certificates are trusted in addition to the platform roots, and turning TLS
//! failures into sentences.
//!
//! Must not: offer any way to skip verification. A CA file that cannot be read or
//! parsed is an account error, never a reason to trust less; when the platform has
//! no roots at all, every TLS connection fails with that reason (plain `ws://` and
//! `http://` still work).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::driver::{Cause, Failure};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM CA file. Errors start with `ca_file <path>:`.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("ca_file {}: cannot read: {e}", path.display()))?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        certs.push(item.map_err(|e| format!("ca_file {}: cannot parse: {e}", path.display()))?);
    }
    if certs.is_empty() {
        return Err(format!(
            "ca_file {}: cannot parse: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
            path.display()
        ));
    }
    Ok(certs)
}

/// The rustls client configuration of an account: the platform's verifier and
/// roots, plus the certificates of `ca_file` when given.
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    let provider = provider();
    let extra = match ca_file {
        Some(path) => load_ca_file(path)?,
        None => Vec::new(),
    };
    let verifier: Arc<dyn ServerCertVerifier> =
        match rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone()) {
            Ok(v) => Arc::new(v),
            Err(e) => match ca_file {
                Some(path) => return Err(format!("ca_file {}: cannot use it as a trust anchor: {e}", path.display())),
                // No platform roots at all: TLS connections fail with this reason.
                None => Arc::new(Unverifiable { reason: format!("no trusted root certificates: {e}"), provider: provider.clone() }),
            },
        };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        // The platform verifier is installed like any custom verifier; it verifies.
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

/// Refuses every certificate, saying why (the platform has no roots).
#[derive(Debug)]
struct Unverifiable {
    reason: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Unverifiable {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(self.reason.clone()))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(self.reason.clone()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(self.reason.clone()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls error behind an I/O error or an error chain, if any.
pub(crate) fn rustls_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // An I/O error's `source()` skips the error it wraps: look inside it first.
        cur = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// A sentence for a failed TLS handshake with `log_url`.
pub(crate) fn describe(e: &rustls::Error, log_url: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => format!(
            "the TLS certificate of {log_url} is not trusted (invalid certificate: {c:?}); \
             if the server uses a private CA, set ca_file for this account"
        ),
        other => format!("the TLS handshake with {log_url} failed: {other}"),
    }
}

/// An HTTP client error as a sentence: its causes, without the URL (which may hold
/// a key), and a TLS failure explained.
pub(crate) fn describe_http(e: reqwest::Error, log_url: &str) -> String {
    http_failure(e, log_url).reason
}

/// An HTTP client error as a [`Failure`]: TLS, a timeout, or the network.
pub(crate) fn http_failure(e: reqwest::Error, log_url: &str) -> Failure {
    let timed_out = e.is_timeout();
    let e = e.without_url();
    if let Some(r) = rustls_cause(&e) {
        return Failure::new(Cause::Tls, describe(r, log_url));
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    Failure::new(if timed_out { Cause::Timeout } else { Cause::Network }, format!("cannot reach {log_url}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_cannot_be_read_or_parsed_is_an_error_in_words() {
        let dir = std::env::temp_dir().join(format!("tocsin-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let e = client_config(Some(&missing)).unwrap_err();
        assert!(e.starts_with(&format!("ca_file {}: cannot read: ", missing.display())), "{e}");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let e = client_config(Some(&junk)).unwrap_err();
        assert!(e.starts_with(&format!("ca_file {}: cannot parse: ", junk.display())), "{e}");
        let broken = dir.join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap();
        let e = client_config(Some(&broken)).unwrap_err();
        assert!(e.starts_with(&format!("ca_file {}: cannot", broken.display())), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_a_ca_file_the_platform_verifier_is_used() {
        client_config(None).expect("a configuration (the platform roots, or a verifier that refuses)");
    }
}
