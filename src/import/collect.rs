//! The first pass: reads the document once, checks every element's shape and that no
//! id appears twice, keeps the small parts (orgs, roles, domains, membership requests,
//! `user_map`, `slug_overrides`) in memory and
//! spills memberships and invitations to disk. Nothing is written to Polis until this
//! pass has read the whole document without error.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::clerk::{ClerkDomain, ClerkMembershipRequest, ClerkOrg, ClerkRole, ShapeError};
use super::document::{read_document, DocumentError, DocumentInfo, Element, SinkError, SinkResult};
use super::spill::{Spill, SpillRow, Table};
use super::ImportError;

const BATCH: usize = 2000;

/// What the first pass keeps in memory.
#[derive(Debug, Default)]
pub struct Collected {
    pub orgs: Vec<ClerkOrg>,
    pub roles: Vec<ClerkRole>,
    pub user_map: HashMap<String, Uuid>,
    /// Clerk org id → the slug to import it under instead of Clerk's.
    pub slug_overrides: HashMap<String, String>,
    pub info: DocumentInfo,
    pub memberships: u64,
    pub invitations: u64,
    /// Clerk org id → its domains (at most a few per org).
    pub domains: HashMap<String, Vec<ClerkDomain>>,
    /// Clerk org id → its membership requests (a Clerk-side backlog; kept in memory).
    pub requests: HashMap<String, Vec<ClerkMembershipRequest>>,
}

struct Collector {
    out: mpsc::Sender<(Table, Vec<SpillRow>)>,
    memberships: Vec<SpillRow>,
    invitations: Vec<SpillRow>,
    seq: u64,
    org_ids: HashSet<String>,
    role_keys: HashSet<String>,
    /// 128-bit digests of membership and invitation ids: exact for any practical
    /// document, at a sixth of the memory of the ids themselves.
    item_ids: HashSet<u128>,
    kept: Collected,
}

fn digest(kind: &str, id: &str) -> u128 {
    let hash = Sha256::new()
        .chain_update(kind)
        .chain_update([0])
        .chain_update(id)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(bytes)
}

fn duplicate(path: &str) -> SinkError {
    SinkError::Shape(ShapeError::new(
        format!("{path}.id"),
        "duplicates the id of an earlier element",
    ))
}

impl Collector {
    fn accept(&mut self, element: Element, path: &str) -> SinkResult {
        self.seq += 1;
        match element {
            Element::Org(org) => {
                if !self.org_ids.insert(org.id.clone()) {
                    return Err(duplicate(path));
                }
                self.kept.orgs.push(org);
            }
            Element::Role(role) => {
                if !self.role_keys.insert(role.key.clone()) {
                    return Err(SinkError::Shape(ShapeError::new(
                        format!("{path}.key"),
                        "duplicates the key of an earlier role",
                    )));
                }
                self.kept.roles.push(role);
            }
            Element::UserMapping(user, identity) => {
                if self.kept.user_map.insert(user, identity).is_some() {
                    return Err(SinkError::Shape(ShapeError::new(path, "appears twice")));
                }
            }
            Element::SlugOverride(org, slug) => {
                if self.kept.slug_overrides.insert(org, slug).is_some() {
                    return Err(SinkError::Shape(ShapeError::new(path, "appears twice")));
                }
            }
            Element::Membership(m) => {
                if !self.item_ids.insert(digest("m", &m.id)) {
                    return Err(duplicate(path));
                }
                self.kept.memberships += 1;
                let row = self.row(m.org_id.clone(), &m)?;
                self.memberships.push(row);
                if self.memberships.len() >= BATCH {
                    self.flush(Table::Memberships)?;
                }
            }
            Element::Domain(d) => {
                if !self.item_ids.insert(digest("d", &d.id)) {
                    return Err(duplicate(path));
                }
                self.kept
                    .domains
                    .entry(d.org_id.clone())
                    .or_default()
                    .push(d);
            }
            Element::MembershipRequest(r) => {
                if !self.item_ids.insert(digest("r", &r.id)) {
                    return Err(duplicate(path));
                }
                self.kept
                    .requests
                    .entry(r.org_id.clone())
                    .or_default()
                    .push(r);
            }
            Element::Invitation(i) => {
                if !self.item_ids.insert(digest("i", &i.id)) {
                    return Err(duplicate(path));
                }
                self.kept.invitations += 1;
                let row = self.row(i.org_id.clone(), &i)?;
                self.invitations.push(row);
                if self.invitations.len() >= BATCH {
                    self.flush(Table::Invitations)?;
                }
            }
        }
        Ok(())
    }

    fn row<T: serde::Serialize>(&self, org: String, item: &T) -> Result<SpillRow, SinkError> {
        let body = serde_json::to_string(item).map_err(|_| SinkError::Abort)?;
        Ok(SpillRow {
            org,
            seq: self.seq,
            body,
        })
    }

    fn flush(&mut self, table: Table) -> SinkResult {
        let rows = match table {
            Table::Memberships => std::mem::take(&mut self.memberships),
            Table::Invitations => std::mem::take(&mut self.invitations),
        };
        if rows.is_empty() {
            return Ok(());
        }
        // Blocks while the spill writer is behind: the channel bounds memory.
        self.out
            .blocking_send((table, rows))
            .map_err(|_| SinkError::Abort)
    }
}

/// Reads `reader` to the end on a blocking thread while spilling into `spill`.
pub async fn collect<R: Read + Send + 'static>(
    reader: R,
    spill: &Spill,
) -> Result<Collected, ImportError> {
    let (tx, mut rx) = mpsc::channel::<(Table, Vec<SpillRow>)>(4);
    let parser = tokio::task::spawn_blocking(move || {
        let mut collector = Collector {
            out: tx,
            memberships: Vec::new(),
            invitations: Vec::new(),
            seq: 0,
            org_ids: HashSet::new(),
            role_keys: HashSet::new(),
            item_ids: HashSet::new(),
            kept: Collected::default(),
        };
        let info = read_document(reader, &mut |e, path| collector.accept(e, path))?;
        collector
            .flush(Table::Memberships)
            .and_then(|()| collector.flush(Table::Invitations))
            .map_err(|_| DocumentError::Aborted)?;
        collector.kept.info = info;
        Ok::<Collected, DocumentError>(collector.kept)
    });
    let mut spill_error = None;
    while let Some((table, rows)) = rx.recv().await {
        if let Err(e) = spill.insert(table, &rows).await {
            // Dropping the receiver makes the parser stop at its next batch.
            spill_error = Some(e);
            break;
        }
    }
    drop(rx);
    let parsed = parser
        .await
        .map_err(|e| ImportError::Internal(anyhow::anyhow!("import reader failed: {e}")))?;
    if let Some(e) = spill_error {
        return Err(ImportError::Internal(e));
    }
    Ok(parsed?)
}
