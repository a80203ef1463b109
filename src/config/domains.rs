//! Settings of verified domains.

use clap::Args;

use crate::domain::domains::{normalize_name, BlockList};

#[derive(Debug, Clone, Args)]
pub struct DomainSettings {
    /// Domain names no org may add (comma-separated), besides the shipped list of common
    /// mail providers (gmail.com, outlook.com, …); subdomains of a listed name are
    /// blocked too.
    #[arg(
        long = "blocked-email-domains",
        env = "POLIS_BLOCKED_EMAIL_DOMAINS",
        value_delimiter = ',',
        value_parser = parse_blocked_name,
        global = true
    )]
    pub blocked: Vec<String>,
    /// `add` (default): the names above are added to the shipped list; `replace`: they
    /// are the whole list (an empty one blocks nothing).
    #[arg(
        long = "blocked-email-domains-mode",
        env = "POLIS_BLOCKED_EMAIL_DOMAINS_MODE",
        default_value = "add",
        value_parser = ["add", "replace"],
        global = true
    )]
    pub blocked_mode: String,
}

impl DomainSettings {
    /// The names refused as domains.
    pub fn block_list(&self) -> BlockList {
        BlockList::new(&self.blocked, self.blocked_mode == "replace")
    }
}

fn parse_blocked_name(raw: &str) -> Result<String, String> {
    normalize_name(raw).map_err(|message| format!("{raw:?} {message}"))
}
