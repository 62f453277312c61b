//! The CLI's way to the running broker: HTTP over the Unix socket beside the
//! state file (see the module above). Used by `mqreg client ...`,
//! `registry list --refused` and `registry status`.

use std::path::Path;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use crate::error::{Error, Result};

/// Sends one request to the broker serving `state`. `Ok(None)`: no broker
/// answers on its socket.
pub fn request(
    state: &Path,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<Option<serde_json::Value>> {
    let socket = super::socket_path(state);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let stream = match tokio::net::UnixStream::connect(&socket).await {
            Ok(stream) => stream,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None)
            }
            Err(error) => {
                return Err(Error::failure(format!(
                    "cannot reach the broker on {}: {error}",
                    socket.display()
                )))
            }
        };
        let failed = |e: hyper::Error| {
            Error::failure(format!(
                "the broker on {} did not answer: {e}",
                socket.display()
            ))
        };
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(failed)?;
        tokio::spawn(connection);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::failure(format!("cannot build the request: {e}")))?;
        let response = sender.send_request(request).await.map_err(failed)?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(failed)?
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if status.is_success() {
            return Ok(Some(json));
        }
        let message = json["error"]
            .as_str()
            .unwrap_or("the broker refused the request")
            .to_owned();
        Err(match status.as_u16() {
            400 => Error::usage(message),
            404 => Error::not_found(message),
            409 => Error::conflict(message),
            _ => Error::failure(message),
        })
    })
}
