//! Everything a handler may need, in one cloneable value; handlers extract only
//! the parts they use.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::identities::IdentityDirectory;
use crate::auth::signing_keys::KeyRing;
use crate::auth::Authenticator;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimits;
use crate::store::Store;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub identities: Arc<IdentityDirectory>,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<RateLimits>,
    /// Shutdown has begun (readiness turns 503); background workers stop on it.
    pub lifecycle: Lifecycle,
    /// The keys that sign org-claims tokens.
    pub keys: Arc<KeyRing>,
    /// The e-mail templates, built-in and overridden (checked when the state is made).
    pub templates: Arc<crate::email::Templates>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> anyhow::Result<AppState> {
        let metrics = Arc::new(Metrics::new());
        metrics.watch_pool(store.clone());
        let auth = Authenticator::new(&settings, store.clone(), metrics.clone())?;
        let identities = IdentityDirectory::new(
            auth.kratos().clone(),
            settings.identity_traits.clone(),
            settings.session_cache_capacity,
        );
        let keys = KeyRing::new(
            store.clone(),
            settings.claims.signing_key_secret.as_deref(),
            settings.claims.token_ttl(),
        );
        let templates =
            crate::email::Templates::load(settings.email.email_templates_dir.as_deref())?;
        Ok(AppState {
            templates: Arc::new(templates),
            keys: Arc::new(keys),
            store,
            auth: Arc::new(auth),
            identities: Arc::new(identities),
            limits: Arc::new(RateLimits::new(&settings)),
            settings: Arc::new(settings),
            clock: Arc::new(SystemClock),
            metrics,
            lifecycle: Lifecycle::new(),
        })
    }

    /// The same state reading time from `clock` (tests move time forward with it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> AppState {
        self.clock = clock;
        self
    }
}
