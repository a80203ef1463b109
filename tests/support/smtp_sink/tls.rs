//! The sink's TLS side: a self-signed certificate for `localhost` and `127.0.0.1`, made
//! once per process, served by rustls over `ring` (the provider lettre and the rest of
//! the tree use; aws-lc is not built).

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Accepts TLS with the sink's certificate. Its names match the sink's address, so a
/// client that refuses it refuses it for being self-signed, not for naming another host.
pub fn acceptor() -> TlsAcceptor {
    static ACCEPTOR: OnceLock<TlsAcceptor> = OnceLock::new();
    ACCEPTOR
        .get_or_init(|| {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let made =
                rcgen::generate_simple_self_signed(names).expect("a self-signed certificate");
            let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
            let config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS 1.2 and 1.3 with ring")
                .with_no_client_auth()
                .with_single_cert(vec![made.cert.der().clone()], PrivateKeyDer::Pkcs8(key))
                .expect("the sink's certificate and key");
            TlsAcceptor::from(Arc::new(config))
        })
        .clone()
}
