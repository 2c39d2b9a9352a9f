//! Load bench of the simulator: a plain reqwest client (HTTP/1.1
//! keep-alive, 64 requests in flight, mutual TLS with the generated PFX)
//! POSTs a few thousand distinct contract-shaped bundles with zero injected
//! latency and prints bundles/s. Bounded in count and in time.
//!
//! cargo bench --bench simulator_load   [-- COUNT [CONCURRENCY]]

// A benchmark is a measuring harness: a failed setup step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rnds_drop::simulator::{self, SimOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const TIME_LIMIT: Duration = Duration::from_secs(60);

fn client(files: &simulator::SimFiles) -> reqwest::Client {
    let password = std::fs::read_to_string(&files.lab_pfx_password_file).expect("password file");
    let pfx = std::fs::read(&files.lab_pfx).expect("pfx");
    let store = p12_keystore::KeyStore::from_pkcs12(
        &pfx,
        password.trim(),
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .expect("pkcs12");
    let (_, chain) = store.private_key_chain().expect("key chain");
    let certs = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&files.ca_pem).expect("ca.pem") {
        roots.add(ca.expect("ca")).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("tls versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(certs, key)
    .expect("client cert");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .http1_only()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(count, concurrency));
}

async fn run(count: usize, concurrency: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator::start(SimOptions::new(dir.path()))
        .await
        .expect("simulator");
    let client = client(sim.files());
    let token: serde_json::Value = serde_json::from_str(
        &client
            .get(format!("{}/api/token", sim.base_url()))
            .send()
            .await
            .expect("token")
            .text()
            .await
            .expect("token body"),
    )
    .expect("token json");
    let token = format!(
        "Bearer {}",
        token["access_token"].as_str().expect("access_token")
    );

    let fixture = format!(
        "{}/tests/fixtures/conformance/bundle-2.0.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).expect("fixture")).expect("json");
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..count)
            .map(|i| {
                let mut b = template.clone();
                b["identifier"]["value"] = serde_json::json!(format!("LOAD-{i:07}"));
                b.to_string()
            })
            .collect(),
    );

    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/api/fhir/r4/Bundle", sim.base_url());
    let cns = sim.identity().requester_cns.clone();
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, bodies, next, url, token, cns) = (
                client.clone(),
                bodies.clone(),
                next.clone(),
                url.clone(),
                token.clone(),
                cns.clone(),
            );
            tokio::spawn(async move {
                let mut created = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= bodies.len() || started.elapsed() > TIME_LIMIT {
                        return created;
                    }
                    let reply = client
                        .post(&url)
                        .header("Content-Type", "application/fhir+json")
                        .header("X-Authorization-Server", &token)
                        .header("Authorization", &cns)
                        .body(bodies[i].clone())
                        .send()
                        .await;
                    match reply {
                        Ok(r) if r.status().as_u16() == 201 => {
                            let _ = r.bytes().await;
                            created += 1;
                        }
                        Ok(r) => eprintln!("unexpected answer {}", r.status()),
                        Err(e) => eprintln!("request failed: {e}"),
                    }
                }
            })
        })
        .collect();
    let mut created = 0;
    for w in workers {
        created += w.await.unwrap_or(0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "simulator_load: {created} bundles created in {elapsed:.2} s with {concurrency} in flight = {:.0} bundles/s",
        created as f64 / elapsed
    );
    assert_eq!(sim.documents().len(), created);
    sim.shutdown().await;
}
