//! Sessions this process has resumed, remembered for the routes whose write checks the session
//! itself ([`crate::web::access::Routes::checked_in_write`]). Every other request reads
//! its session from the database, as a change made through another `serve` process (a
//! sign-out, a role taken away, new reference data) must hold from the next request on. A
//! request admitted on a remembered session keeps that promise at its write instead: the write
//! transaction reads the session again ([`still_current`]) and stores nothing if it changed,
//! and the request is then admitted again on the session as the database has it. Reading it
//! there costs no statement of its own: a batch of intakes reads it with its first read.

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::{self, SessionFacts, SessionUser};
use super::{Principal, Role, SESSION_MAX_SECONDS, token_hash};
use crate::db::reference::Stamp;
use crate::db::{Db, DbError, DbResult};
use crate::ids::{OrgId, UserId};
use crate::time::Timestamp;

/// A session's `last_seen_at` is written when it is older than this: reads stay cheap, and idle
/// sessions still end on time.
pub const TOUCH_AFTER_MICROS: i64 = 60_000_000;

/// Sessions remembered at most: past this, those idle too long are forgotten, and if that is
/// not enough, all (each is read again at its next request).
const MAX_REMEMBERED: usize = 10_000;

/// What of a session decides how a request is admitted and recorded: if any of it changed,
/// so might the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts {
    user_id: UserId,
    username: String,
    display_name: String,
    org_id: OrgId,
    status: String,
    roles: Vec<Role>,
    csrf_token: String,
    reference: Stamp,
}

impl Facts {
    fn of_current(s: &SessionFacts) -> Facts {
        Facts {
            user_id: UserId(s.user_id),
            username: s.username.clone(),
            display_name: s.display_name.clone(),
            org_id: OrgId(s.org_id),
            status: s.status.clone(),
            roles: store::parse_roles(s.roles.as_deref()),
            csrf_token: s.csrf_token.clone(),
            reference: Stamp::from(s.reference_stamp.clone()),
        }
    }

    fn of(s: &SessionUser) -> Facts {
        Facts {
            user_id: s.user.id,
            username: s.user.username.clone(),
            display_name: s.user.display_name.clone(),
            org_id: s.user.org_id,
            status: s.user.status.clone(),
            roles: s.roles(),
            csrf_token: s.csrf_token.clone(),
            reference: Stamp::from(s.reference_stamp.clone()),
        }
    }
}

struct Remembered {
    principal: Principal,
    facts: Facts,
    created_at: Timestamp,
    last_seen_at: Timestamp,
}

#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Remembered>>);

/// A request's session as this process last read it, for its write to check
/// ([`still_current`]).
#[derive(Debug, Clone)]
pub struct Recalled {
    token_hash: String,
    facts: Facts,
}

/// Remembers a session just read from the database, with the principal made from it.
pub(super) fn remember(db: &Db, s: &SessionUser, last_seen_at: Timestamp, principal: &Principal) {
    let sessions = db.caches().get::<Sessions>();
    let mut map = sessions.0.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_REMEMBERED && !map.contains_key(&s.token_hash) {
        let now = Timestamp::now().as_micros();
        map.retain(|_, r| now - r.last_seen_at.as_micros() < TOUCH_AFTER_MICROS);
        if map.len() >= MAX_REMEMBERED {
            map.clear();
        }
    }
    map.insert(
        s.token_hash.clone(),
        Remembered {
            principal: principal.clone(),
            facts: Facts::of(s),
            created_at: s.session_created_at,
            last_seen_at,
        },
    );
}

/// The session of `token` as this process last read it, if that read is recent enough to
/// need no write (see [`TOUCH_AFTER_MICROS`]) and the session was then active and within its
/// limits; else `None`, and the session is to be read from the database.
pub fn recall(db: &Db, token: &str, idle_seconds: i64) -> Option<(Principal, Recalled)> {
    let hash = token_hash(token);
    let sessions = db.caches().get::<Sessions>();
    let map = sessions.0.lock().unwrap_or_else(|e| e.into_inner());
    let r = map.get(&hash)?;
    let now = Timestamp::now();
    if !usable(now, r.last_seen_at, r.created_at, idle_seconds) || r.facts.status != "active" {
        return None;
    }
    Some((
        r.principal.clone(),
        Recalled {
            token_hash: hash,
            facts: r.facts.clone(),
        },
    ))
}

/// Whether a session last seen (read or touched) at `last_seen_at` may be recalled at `now`:
/// it needs no touch yet and is within its limits. A session that is not is read from the
/// database, which touches or ends it.
fn usable(
    now: Timestamp,
    last_seen_at: Timestamp,
    created_at: Timestamp,
    idle_seconds: i64,
) -> bool {
    now.as_micros() - last_seen_at.as_micros() <= TOUCH_AFTER_MICROS
        && within_limits(now, last_seen_at, created_at, idle_seconds)
}

/// Whether a session has neither sat idle longer than `idle_seconds` nor lived longer than
/// [`SESSION_MAX_SECONDS`]: one that has is ended.
pub(super) fn within_limits(
    now: Timestamp,
    last_seen_at: Timestamp,
    created_at: Timestamp,
    idle_seconds: i64,
) -> bool {
    now.as_micros() - last_seen_at.as_micros() <= idle_seconds * 1_000_000
        && now.as_micros() - created_at.as_micros() <= SESSION_MAX_SECONDS * 1_000_000
}

/// Forgets the session whose token hashes to `token_hash`: its write found it changed, or it
/// ended.
pub fn forget(db: &Db, token_hash: &str) {
    let sessions = db.caches().get::<Sessions>();
    let mut map = sessions.0.lock().unwrap_or_else(|e| e.into_inner());
    map.remove(token_hash);
}

/// The token hashes of the recalled sessions, each once, for the write's statement to read
/// them by ([`store::sessions_json`]).
pub fn token_hashes<'a>(recalled: &[&'a Recalled]) -> Vec<&'a str> {
    let mut hashes: Vec<&str> = recalled.iter().map(|r| r.token_hash.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// Whether every recalled session is still as it was recalled, with the reference data under
/// the same stamp, by `current`: what a statement of the write transaction read of them
/// ([`store::sessions_json`]). The write stores nothing unless they are, so that it stores
/// nothing a fresh read of the session would have refused or answered otherwise.
pub fn still_current(current: &str, recalled: &[&Recalled]) -> DbResult<bool> {
    let read: Vec<SessionFacts> = serde_json::from_str(current).map_err(DbError::decode)?;
    let now: HashMap<&str, Facts> = read
        .iter()
        .map(|s| (s.token_hash.as_str(), Facts::of_current(s)))
        .collect();
    Ok(recalled
        .iter()
        .all(|r| now.get(r.token_hash.as_str()) == Some(&r.facts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_recalled_only_while_it_needs_no_touch_and_is_within_its_limits() {
        let now = Timestamp::from_micros(100 * 3_600_000_000);
        let ago = |seconds: i64| now.plus_seconds(-seconds);
        let idle = 30 * 60;
        assert!(usable(now, ago(0), ago(3600), idle));
        assert!(usable(now, ago(60), ago(3600), idle));
        // Past a minute its last_seen_at is due to be written, which only a read does.
        assert!(!usable(now, ago(61), ago(3600), idle));
        // However active, a session ends 12 hours after it began.
        assert!(usable(now, ago(0), ago(SESSION_MAX_SECONDS), idle));
        assert!(!usable(now, ago(0), ago(SESSION_MAX_SECONDS + 1), idle));
        // The limits alone, as resuming a session from the database applies them.
        assert!(within_limits(now, ago(idle), ago(3600), idle));
        assert!(!within_limits(now, ago(idle + 1), ago(3600), idle));
        assert!(!within_limits(
            now,
            ago(0),
            ago(SESSION_MAX_SECONDS + 1),
            idle
        ));
    }
}
