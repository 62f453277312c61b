//! Server certificates read from PEM files and re-read on SIGHUP.
//!
//! A renewed certificate (certbot, an internal CA's cron job) is picked up
//! without a restart and without dropping a connection: the rustls
//! configuration asks [`Certificates`] for the current key on every
//! handshake, and [`Certificates::reload`] swaps it. A pair that does not
//! load is reported and the old one stays in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::error::{Error, Result};

#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificates {
    /// Reads the pair; an error names the file and what is wrong with it.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(read(cert, key)?),
        }))
    }

    /// Re-reads the files; on error the certificate in use stays.
    pub fn reload(&self) -> Result<()> {
        let fresh = read(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    pub fn describe(&self) -> String {
        self.cert.display().to_string()
    }

    /// A rustls server configuration that always uses the current pair,
    /// asking clients for certificates as `clients` says.
    pub fn server_config(
        self: &Arc<Self>,
        alpn: &[&[u8]],
        clients: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    ) -> Result<Arc<rustls::ServerConfig>> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::failure(format!("cannot set up TLS: {e}")))?
        .with_client_cert_verifier(clients)
        .with_cert_resolver(self.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn read(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| {
            Error::failure(format!(
                "cannot read the TLS certificate {}: {e}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(Error::failure(format!(
            "no certificate in {}: give a PEM file with a CERTIFICATE block",
            cert.display()
        )));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        Error::failure(format!(
            "cannot read the TLS private key {}: {e} (PKCS#8, PKCS#1 or SEC1 PEM)",
            key.display()
        ))
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key_der).map_err(|e| {
        Error::failure(format!(
            "cannot use the TLS private key {}: {e}",
            key.display()
        ))
    })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        Error::failure(format!(
            "the TLS certificate {} and key {} do not fit: {e}",
            cert.display(),
            key.display()
        ))
    })?;
    Ok(Arc::new(certified))
}
