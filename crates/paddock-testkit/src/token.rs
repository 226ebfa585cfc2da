//! A tiny bearer-token server for the test registry's `auth: token:` mode:
//! it checks HTTP basic credentials and answers with an ES256 JWT whose
//! `x5c` header carries a self-signed certificate the registry trusts
//! (its `rootcertbundle`), granting what the scope asked for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const ISSUER: &str = "paddock-test-issuer";
pub const SERVICE: &str = "paddock-test-registry";

/// The signing material; `cert_pem` goes into the registry's bundle.
pub struct TokenKeys {
    pub cert_pem: String,
    cert_der: Vec<u8>,
    pkcs8: Vec<u8>,
}

impl TokenKeys {
    pub fn generate() -> Self {
        let key = rcgen::KeyPair::generate().expect("generate key");
        let params =
            rcgen::CertificateParams::new(vec!["paddock-token".to_string()]).expect("cert params");
        let cert = params.self_signed(&key).expect("self-sign");
        TokenKeys {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            pkcs8: key.serialize_der(),
        }
    }

    fn jwt(&self, subject: &str, scope: Option<&str>) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // scope = "repository:NAME:pull,push"
        let access: Vec<serde_json::Value> = scope
            .and_then(|s| {
                let mut parts = s.splitn(3, ':');
                let (t, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                Some(serde_json::json!({
                    "type": t,
                    "name": name,
                    "actions": actions.split(',').collect::<Vec<_>>(),
                }))
            })
            .into_iter()
            .collect();
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{now}-{}", rand_suffix()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8, &rng)
            .expect("key");
        let sig = key.sign(&rng, signing_input.as_bytes()).expect("sign");
        format!("{signing_input}.{}", b64(sig.as_ref()))
    }
}

fn rand_suffix() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst) as u64
}

pub struct TokenServer {
    port: u16,
    issued: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TokenServer {
    /// Serves `GET /token` on a free port; only `username:password` gets a
    /// token.
    pub async fn start(keys: Arc<TokenKeys>, username: &str, password: &str) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind token server");
        let port = listener.local_addr().unwrap().port();
        let issued = Arc::new(AtomicUsize::new(0));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        );
        let count = issued.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (keys, expected, count) = (keys.clone(), expected.clone(), count.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let authorized = head.lines().any(|l| {
                        l.to_ascii_lowercase().starts_with("authorization:")
                            && l[14..].trim() == expected
                    });
                    let scope = target
                        .split_once('?')
                        .map(|(_, q)| q)
                        .unwrap_or("")
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("scope="))
                        .map(percent_decode);
                    let (status, body) = if authorized {
                        count.fetch_add(1, Ordering::SeqCst);
                        let token = keys.jwt("paddock", scope.as_deref());
                        (
                            "200 OK",
                            serde_json::json!({"token": token, "expires_in": 300}).to_string(),
                        )
                    } else {
                        (
                            "401 Unauthorized",
                            r#"{"details":"bad credentials"}"#.to_string(),
                        )
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(resp.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        TokenServer { port, issued, task }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// Tokens handed out so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
