//! Everything a handler may need, in one cloneable value; handlers extract only
//! the parts they use.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::store::Store;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> anyhow::Result<AppState> {
        let auth = Authenticator::new(&settings, store.clone())?;
        Ok(AppState {
            store,
            auth: Arc::new(auth),
            settings: Arc::new(settings),
        })
    }
}
