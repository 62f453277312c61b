//! Which client certificates the broker trusts right now, and what a
//! presented chain says: the registry's CA (re-read when its file changes,
//! so `mqreg ca init` takes effect without a restart) and the CAs of
//! `--tls-client-ca`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::pki_types::CertificateDer;

use crate::error::{Error, Result};
use crate::pki::ca::{Ca, CERTIFICATE_SUFFIX};
use crate::pki::trust::Trust;
use crate::state::store::Store;

/// What a presented certificate chain says, decided once per CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// Its subject CN, when it was trusted.
    pub common_name: Option<String>,
    pub fingerprint: String,
    /// Signed by the registry's own CA: it must be one issued to the user.
    pub by_registry: bool,
    /// Why it is not trusted, if it is not.
    pub untrusted: Option<String>,
}

pub struct ClientCertificates {
    store: Store,
    extra: Option<String>,
    /// The trust built for the registry CA file as it was (its modification
    /// time and length), rebuilt when that changes.
    cached: Mutex<Option<(Seen, Arc<Trust>)>>,
}

/// A file's modification time and length, or `None` when it is absent.
type FileSeen = Option<(SystemTime, u64)>;

/// When the registry CA was last read.
#[derive(Debug, PartialEq)]
enum Seen {
    File(FileSeen),
    Database(Instant),
}

/// How long a CA read from the registry database is used before it is read
/// again (a new `ca init` or `ca import` reaches every gateway in this time).
const DATABASE_CA_FOR: Duration = Duration::from_secs(2);

impl ClientCertificates {
    /// Reads `--tls-client-ca`; an error names the file.
    pub fn new(store: Store, extra: Option<&Path>) -> Result<Self> {
        let extra = extra
            .map(|path| {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::usage(format!(
                        "cannot read --tls-client-ca {}: {e}",
                        path.display()
                    ))
                })?;
                Trust::new(None, Some(&text)).map_err(|e| {
                    Error::usage(format!("--tls-client-ca {}: {e}", path.display()))
                })?;
                Ok::<_, Error>(text)
            })
            .transpose()?;
        Ok(Self {
            store,
            extra,
            cached: Mutex::new(None),
        })
    }

    fn ca_file(&self) -> PathBuf {
        self.store.beside(CERTIFICATE_SUFFIX)
    }

    fn trust(&self) -> Arc<Trust> {
        let identity = match self.store.database() {
            // A CA kept in the registry database is asked for again after a
            // few seconds; there is no file to watch.
            Some(_) => Seen::Database(Instant::now()),
            None => Seen::File(
                std::fs::metadata(self.ca_file())
                    .ok()
                    .and_then(|meta| Some((meta.modified().ok()?, meta.len()))),
            ),
        };
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, trust)) = cached.as_ref() {
            let fresh = match (seen, &identity) {
                (Seen::Database(read), Seen::Database(_)) => read.elapsed() < DATABASE_CA_FOR,
                (seen, identity) => seen == identity,
            };
            if fresh {
                return trust.clone();
            }
        }
        let registry_ca = match Ca::load(&self.store) {
            Ok(ca) => ca.map(|ca| ca.certificate_der().to_vec()),
            // The database away: the CA it had still stands.
            Err(error) if self.store.database().is_some() && cached.is_some() => {
                tracing::debug!("keeping the registry's CA as last read: {error}");
                let trust = cached
                    .as_ref()
                    .map(|(_, trust)| trust.clone())
                    .expect("cached");
                *cached = Some((identity, trust.clone()));
                return trust;
            }
            Err(error) => {
                tracing::error!("client certificates of the registry's CA are refused: {error}");
                None
            }
        };
        let trust = Arc::new(
            Trust::new(registry_ca.clone(), self.extra.as_deref()).unwrap_or_else(|error| {
                tracing::error!("client certificates are refused: {error}");
                Trust::new(None, None).expect("an empty trust")
            }),
        );
        *cached = Some((identity, trust.clone()));
        trust
    }

    /// What `chain` (leaf first) says.
    pub fn present(&self, chain: &[CertificateDer<'_>]) -> Presented {
        let fingerprint = chain
            .first()
            .map(|leaf| crate::pki::fingerprint(leaf))
            .unwrap_or_default();
        match self.trust().identify(chain) {
            Ok(identity) => Presented {
                common_name: Some(identity.common_name),
                fingerprint: identity.fingerprint,
                by_registry: identity.by_registry,
                untrusted: None,
            },
            Err(reason) => Presented {
                common_name: None,
                fingerprint,
                by_registry: false,
                untrusted: Some(reason),
            },
        }
    }
}
