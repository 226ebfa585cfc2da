//! Talking to registries for one image: the sources to try (mirrors in
//! order, then the upstream), credentials per host, plain HTTP only for
//! hosts listed as insecure, and errors that say what to do about them.

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::{Client, Reference};
use tracing::{debug, warn};

use super::digest::Digest;
use super::oci::{Descriptor, ACCEPTED_MANIFESTS};
use super::registries::RegistriesConfig;

/// Errors from a registry.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "cannot connect to registry {host} over https: {source} (if it serves plain http, list \
         it under `insecure` in registries.yaml)"
    )]
    NotHttps {
        host: String,
        source: OciDistributionError,
    },
    #[error("registry {host}: {what}: {source}")]
    Registry {
        host: String,
        what: String,
        source: OciDistributionError,
    },
    #[error("registry {host}: {what}: {source}")]
    Stream {
        host: String,
        what: String,
        source: std::io::Error,
    },
    /// The registry sent bytes that do not match their digest.
    #[error("registry {host}: {what}: digest verification failed: {detail}")]
    Digest {
        host: String,
        what: String,
        detail: String,
    },
    #[error("{what} is {size} bytes, more than the {limit} allowed")]
    TooLarge { what: String, size: u64, limit: u64 },
}

/// A registry connection for one image reference.
pub(crate) struct Remote {
    client: Client,
    /// Mirrors first, the upstream last.
    sources: Vec<Reference>,
    registries: RegistriesConfig,
}

impl Remote {
    pub(crate) fn new(reference: &Reference, registries: &RegistriesConfig) -> Self {
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(
                registries.insecure_hosts().map(str::to_string).collect(),
            ),
            platform_resolver: None,
            connect_timeout: Some(std::time::Duration::from_secs(30)),
            read_timeout: Some(std::time::Duration::from_secs(120)),
            ..Default::default()
        };
        let mut sources = Vec::new();
        // `docker.io` resolves to `index.docker.io`; settings may name either.
        let mut mirrors = registries.mirrors(reference.registry());
        if mirrors.is_empty() {
            mirrors = registries.mirrors(reference.resolve_registry());
        }
        for mirror in mirrors {
            let mut r = reference.clone();
            r.set_mirror_registry(mirror.clone());
            sources.push(r);
        }
        sources.push(reference.clone());
        Self {
            client: Client::new(config),
            sources,
            registries: registries.clone(),
        }
    }

    fn error(&self, host: &str, what: String, source: OciDistributionError) -> RemoteError {
        if let OciDistributionError::DigestError(d) = &source {
            return RemoteError::Digest {
                host: host.to_string(),
                what,
                detail: d.to_string(),
            };
        }
        if matches!(&source, OciDistributionError::RequestError(e) if e.is_connect() || e.is_request())
            && !self.registries.is_insecure(host)
        {
            return RemoteError::NotHttps {
                host: host.to_string(),
                source,
            };
        }
        RemoteError::Registry {
            host: host.to_string(),
            what,
            source,
        }
    }

    /// Tries `op` on each source in order; the last error if all fail.
    async fn each_source<T, F, Fut>(&self, what: &str, op: F) -> Result<T, RemoteError>
    where
        F: Fn(Reference) -> Fut,
        Fut: std::future::Future<Output = Result<T, RemoteError>>,
    {
        let mut last = None;
        for source in &self.sources {
            let host = source.resolve_registry().to_string();
            self.client
                .store_auth_if_needed(&host, &self.registries.auth_for(&host))
                .await;
            match op(source.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if self.sources.len() > 1 {
                        warn!(%host, what, error = %e, "source failed, trying the next");
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| RemoteError::TooLarge {
            what: what.to_string(),
            size: 0,
            limit: 0,
        }))
    }

    /// Fetches a manifest by the reference's tag or digest, or by `digest`.
    pub(crate) async fn manifest(&self, digest: Option<&Digest>) -> Result<Bytes, RemoteError> {
        let what = match digest {
            Some(d) => format!("manifest {d}"),
            None => "manifest".to_string(),
        };
        self.each_source(&what, |source| {
            let what = what.clone();
            async move {
                let r = match digest {
                    Some(d) => source.clone_with_digest(d.to_string()),
                    None => source.clone(),
                };
                let host = source.resolve_registry().to_string();
                debug!(%host, reference = %r, "fetching manifest");
                let auth = self.registries.auth_for(&host);
                self.client
                    .pull_manifest_raw(&r, &auth, ACCEPTED_MANIFESTS)
                    .await
                    .map(|(bytes, _)| bytes)
                    .map_err(|e| self.error(&host, what, e))
            }
        })
        .await
    }

    /// Fetches a small blob (a config) into memory, at most `limit` bytes.
    pub(crate) async fn small_blob(
        &self,
        desc: &Descriptor,
        limit: u64,
    ) -> Result<Vec<u8>, RemoteError> {
        let what = format!("blob {}", desc.digest);
        if desc.size > limit {
            return Err(RemoteError::TooLarge {
                what,
                size: desc.size,
                limit,
            });
        }
        let mut stream = self.blob(desc).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            out.extend_from_slice(&chunk);
            if out.len() as u64 > limit {
                return Err(RemoteError::TooLarge {
                    what,
                    size: out.len() as u64,
                    limit,
                });
            }
        }
        Ok(out)
    }

    /// Opens a blob download. The stream's bytes are not yet verified: the
    /// caller hashes them.
    pub(crate) async fn blob(
        &self,
        desc: &Descriptor,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<Bytes, RemoteError>>, RemoteError>
    {
        let what = format!("blob {}", desc.digest);
        self.each_source(&what, |source| {
            let what = what.clone();
            async move {
                let host = source.resolve_registry().to_string();
                debug!(%host, digest = %desc.digest, "fetching blob");
                let stream = self
                    .client
                    .pull_blob_stream(&source, desc.digest.as_str())
                    .await
                    .map_err(|e| self.error(&host, what.clone(), e))?;
                let s = stream.stream.map(move |r| {
                    r.map_err(|source| {
                        let digest = source
                            .get_ref()
                            .and_then(|e| e.downcast_ref::<oci_client::errors::DigestError>());
                        match digest {
                            Some(d) => RemoteError::Digest {
                                host: host.clone(),
                                what: what.clone(),
                                detail: d.to_string(),
                            },
                            None => RemoteError::Stream {
                                host: host.clone(),
                                what: what.clone(),
                                source,
                            },
                        }
                    })
                });
                Ok(s.boxed())
            }
        })
        .await
    }
}
