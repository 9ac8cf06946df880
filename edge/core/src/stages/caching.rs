//! The cache phase, for behaviours with `cache = "POLICY"`. After identity (so a protected
//! answer never reaches a caller who may not have it, and a `per_user` key is built from an
//! identity the edge checked), before the origin.
//!
//! [`lookup`] computes the key and looks in the memory tier, then the platform's shared tier:
//! - fresh and matching `Vary`: answered here (304/412, HEAD, Range from the entry);
//! - stale within `stale-while-revalidate`: answered here, and a refresh is left for the
//!   platform to run after the answer ([`crate::Handled::background`]);
//! - otherwise the request goes on, as the only one for its key on this instance (others wait,
//!   [`crate::cache::flight`]), rewritten for the cache (pingora's `upstream_request_filter`):
//!   GET for HEAD, the client's validators and `Range` removed, the entry's validators added
//!   when revalidating.
//!
//! [`fill`] then takes the origin's answer: a 304 refreshes the entry; a storable answer is
//! stored (bodies over `cache_max_object_bytes` pass uncached); a failure (500, 502, 503, 504, or
//! no answer) is replaced by the stale entry within `stale-if-error`. The client's own
//! preconditions, HEAD and Range are then answered from the result. Unsafe methods that succeed
//! invalidate every variant of their URI in the memory tier and in the shared tier (RFC 9111 4.4,
//! [`crate::cache::variants`]).

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};

use super::{origin, Ctx, Exchange, Stop};
use crate::auth::Identity;
use crate::cache::flight::{self, Joined, Leader};
use crate::cache::key::{compute, KeyInput};
use crate::cache::status::{CacheStatus, Fwd};
use crate::cache::{conditional, policy, purge, variants, CacheKey, Entry};
use crate::config::auth::AuthRule;
use crate::config::cache::CachePolicy;
use crate::platform::{Out, Platform};
use crate::problem::EdgeError;
use crate::upstream::{Body, Capped};

/// What the lookup leaves for [`fill`].
pub(crate) struct Pending<'e> {
    policy: &'e CachePolicy,
    key: CacheKey,
    /// The client's method and headers, before the request was rewritten for the cache.
    method: Method,
    client: HeaderMap,
    /// Whether the freshness rules treat the caller as authenticated (RFC 9111 3.5).
    authenticated: bool,
    /// The entry being revalidated, or kept for `stale-if-error`.
    stale: Option<Arc<Entry>>,
    /// Held while this request is the one at the origin for its key.
    _leader: Option<Leader<'e>>,
    status: CacheStatus,
    /// Only invalidate (an unsafe method).
    invalidate: bool,
}

fn policy_of<'e, P: Platform>(cx: &Ctx<'e, P>) -> Result<Option<&'e CachePolicy>, EdgeError> {
    let edge = cx.edge;
    Ok(cx.route()?.behaviour.cache.and_then(|i| edge.config.cache_policies.get(i)))
}

/// [`find_or_prepare`], timed for `Server-Timing`.
pub(crate) async fn lookup<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let start = cx.platform.now();
    let result = find_or_prepare(cx).await;
    if cx.route()?.behaviour.cache.is_some() {
        cx.ex.timings.cache = Some(super::since(cx.platform, start));
    }
    result
}

async fn find_or_prepare<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let Some(policy) = policy_of(cx)? else { return Ok(()) };
    let route = cx.route()?;
    let key = compute(&KeyInput {
        policy,
        path: cx.path()?,
        query: cx.req.uri().query(),
        headers: cx.req.headers(),
        identity: &cx.identity,
        origin: route.behaviour.canary.as_ref().map(|_| route.origin.name.as_str()),
    });
    let method = cx.req.method().clone();
    let authenticated = cx.route()?.behaviour.auth != AuthRule::None && !policy.per_user;
    let mut pending = Pending {
        policy,
        key,
        method: method.clone(),
        client: cx.req.headers().clone(),
        authenticated,
        stale: None,
        _leader: None,
        status: CacheStatus::forwarded(Fwd::UriMiss),
        invalidate: false,
    };
    if method != Method::GET && method != Method::HEAD {
        pending.status = CacheStatus::forwarded(Fwd::Method);
        pending.invalidate = true;
        cx.cache = Some(pending);
        return Ok(());
    }
    if let Some(entry) = find(cx, &pending.key).await {
        let view = policy::request_view(&Method::GET, "", &pending.client, &entry.headers, authenticated);
        if !policy::vary_matches(&entry.semantics, &view, cx.now) {
            pending.status = CacheStatus::forwarded(Fwd::VaryMiss);
        } else if entry.is_fresh(cx.now) {
            let status = CacheStatus::hit(entry.ttl_secs(cx.now));
            return Err(answer(&mut cx.ex, &method, &pending.client, &entry, status, cx.now));
        } else if entry.staleness(cx.now) <= entry.stale_while_revalidate && !entry.stale_while_revalidate.is_zero() {
            let status = CacheStatus { detail: Some("stale-while-revalidate"), ..CacheStatus::hit(entry.ttl_secs(cx.now)) };
            cx.ex.background = Some(Box::pin(refresh(
                cx.edge,
                cx.platform,
                route,
                background_request(cx),
                cx.identity.clone(),
                pending.key.clone(),
                entry.clone(),
            )));
            return Err(answer(&mut cx.ex, &method, &pending.client, &entry, status, cx.now));
        } else {
            pending.status = CacheStatus::forwarded(Fwd::Stale);
            pending.stale = Some(entry);
        }
    }
    // One request per key goes to the origin; the others wait for its answer (on their own
    // timers, see flight.rs) and are answered from the entry it stored, or go on by themselves
    // when it stored none (RFC 9211's `collapsed`, `?0` then).
    match cx.edge.flights.join(pending.key.hash()) {
        Joined::Lead(leader) => pending._leader = Some(leader),
        Joined::Wait(wait) => {
            if wait.finished(&Out(cx.platform), flight::MAX_WAIT).await {
                let now = cx.platform.now();
                if let Some(entry) = find(cx, &pending.key).await {
                    let view = policy::request_view(&Method::GET, "", &pending.client, &entry.headers, authenticated);
                    if entry.is_fresh(now) && policy::vary_matches(&entry.semantics, &view, now) {
                        let status = CacheStatus { collapsed: Some(true), ttl: Some(entry.ttl_secs(now)), ..pending.status };
                        return Err(answer(&mut cx.ex, &method, &pending.client, &entry, status, now));
                    }
                }
                pending.status.collapsed = Some(false);
            }
        }
    }
    rewrite_for_cache(&mut cx.req, pending.stale.as_deref());
    cx.cache = Some(pending);
    Ok(())
}

/// The memory tier, then the shared tier (a shared hit is kept in memory too). An entry the
/// purge list covers is a miss, and is deleted where it was found.
async fn find<P: Platform>(cx: &Ctx<'_, P>, key: &CacheKey) -> Option<Arc<Entry>> {
    let purges = match &cx.edge.config.purge {
        Some(cfg) => Some(cx.edge.purges.current(cx.platform.cache(), cx.now, cfg.check_interval).await),
        None => None,
    };
    let path = cx.path.as_ref()?.as_str();
    let purged = |e: &Entry| purges.as_ref().is_some_and(|list| list.covers(path, e.requested_at()));
    if let Some(e) = cx.edge.cache_memory.get_entry(key) {
        if !purged(&e) {
            return Some(e);
        }
        cx.edge.cache_memory.remove(key);
    }
    let shared = cx.platform.cache()?;
    let entry = Arc::new(Entry::decode(&shared.get(key).await?)?);
    if purged(&entry) {
        shared.delete(key).await;
        return None;
    }
    cx.edge.cache_memory.put_entry(key, entry.clone());
    Some(entry)
}

/// `POST /.verge/purge` (when `[purge]` is configured): checks the purge rule's credentials,
/// adds the named paths and prefixes to the purge list, and answers what it did and how far it
/// reaches. Other methods answer 405; bad credentials 401/403 like any behaviour; a bad body 400.
pub(crate) async fn purge<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let Some(cfg) = cx.edge.config.purge.as_ref() else { return Ok(()) };
    if cx.path()?.as_str() != purge::ENDPOINT {
        return Ok(());
    }
    cx.ex.log.behaviour = Some(purge::ENDPOINT.to_owned());
    if cx.req.method() != Method::POST {
        return Err(EdgeError::MethodNotAllowed { method: cx.req.method().to_string(), allow: "POST".into() }.into());
    }
    let out = Out(cx.platform);
    let auth = cx.authenticator(&out);
    let checked = auth.evaluate(&cfg.auth, cx.req.headers()).await;
    let issued = auth.issued.into_inner();
    cx.absorb(issued);
    let mut identity = checked.map_err(EdgeError::Auth)?;
    cx.ex.log.auth = identity.via.take();
    cx.ex.log.signature = identity.signature;
    let request = purge::PurgeRequest::parse(cx.req.body()).map_err(EdgeError::Malformed)?;
    let shared = cx.platform.cache();
    let list = cx.edge.purges.add(shared, request.bans(cx.now), cx.now).await;
    let reach = shared.map_or("this instance only: the runtime has no shared tier", |s| s.reach());
    let body = serde_json::json!({
        "purged": { "paths": request.paths, "prefixes": request.prefixes },
        "at_ms": cx.now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
        "reach": reach,
        "other_instances_within_s": cfg.check_interval.as_secs(),
        "purge_list": { "bans": list.bans.len(), "max": purge::MAX_BANS },
    });
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Full(Bytes::from(body.to_string())))
        .map_err(|_| EdgeError::Misconfigured)?;
    Err(Stop::Answer(Box::new(response)))
}

/// The origin request for a cache fill: a whole GET, with the entry's validators if any.
fn rewrite_for_cache(req: &mut Request<Bytes>, stale: Option<&Entry>) {
    *req.method_mut() = Method::GET;
    let h = req.headers_mut();
    for name in
        [header::IF_MATCH, header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE, header::IF_UNMODIFIED_SINCE, header::IF_RANGE, header::RANGE]
    {
        h.remove(name);
    }
    if let Some(e) = stale {
        if let Some(v) = e.headers.get(header::ETAG) {
            h.insert(header::IF_NONE_MATCH, v.clone());
        }
        if let Some(v) = e.headers.get(header::LAST_MODIFIED) {
            h.insert(header::IF_MODIFIED_SINCE, v.clone());
        }
    }
}

fn background_request<P: Platform>(cx: &Ctx<'_, P>) -> Request<Bytes> {
    let mut req = Request::new(Bytes::new());
    *req.uri_mut() = cx.req.uri().clone();
    *req.headers_mut() = cx.req.headers().clone();
    req
}

/// A `stale-while-revalidate` refresh, run after the answer by the platform.
async fn refresh<'e, P: Platform>(
    edge: &'e crate::Edge,
    platform: &'e P,
    route: super::Route<'e>,
    req: Request<Bytes>,
    identity: Identity,
    key: CacheKey,
    entry: Arc<Entry>,
) {
    let Joined::Lead(leader) = edge.flights.join(key.hash()) else { return };
    let now = platform.now();
    let mut ex = Exchange::begin(&req, platform.entropy(), Some(now));
    let path = crate::path::NormalPath::parse(req.uri().path()).ok();
    // The route as the request had it, the canary's origin included: the entry is that origin's.
    ex.route = Some(route);
    let Some(policy) = route.behaviour.cache.and_then(|i| edge.config.cache_policies.get(i)) else { return };
    let client = req.headers().clone();
    let authenticated = route.behaviour.auth != AuthRule::None && !policy.per_user;
    let mut cx = Ctx { edge, platform, req, now, entropy: [0; 16], ex, path, identity, cache: None, client: None };
    rewrite_for_cache(&mut cx.req, Some(&entry));
    cx.cache = Some(Pending {
        policy,
        key,
        method: Method::HEAD,
        client,
        authenticated,
        stale: Some(entry),
        _leader: Some(leader),
        status: CacheStatus::forwarded(Fwd::Stale),
        invalidate: false,
    });
    let outcome = origin::fetch(&mut cx).await;
    let _ = fill(&mut cx, outcome).await;
}

/// An answer too big to keep, relayed as it comes (without its body for HEAD).
fn too_large<B>(
    ex: &mut Exchange<'_>,
    status: CacheStatus,
    parts: http::response::Parts,
    body: Body<B>,
    is_head: bool,
) -> Response<Body<B>> {
    ex.cache = Some((CacheStatus { detail: Some("too-large"), ..status }, std::time::Duration::ZERO));
    Response::from_parts(parts, if is_head { Body::Full(Bytes::new()) } else { body })
}

/// Answers from an entry and notes the cache's part for the finishing step.
fn answer<B>(ex: &mut Exchange<'_>, method: &Method, client: &HeaderMap, entry: &Entry, status: CacheStatus, now: SystemTime) -> Stop<B> {
    ex.cache = Some((status, entry.age(now)));
    Stop::Answer(Box::new(conditional::respond(method, client, entry).map(Body::Full)))
}

/// What a failed origin answer is, for `stale-if-error`: a status of 500, 502, 503 or 504, or
/// none at all.
fn failed<B>(outcome: &Result<Response<Body<B>>, Stop<B>>) -> Option<Option<u16>> {
    match outcome {
        Ok(r) if matches!(r.status().as_u16(), 500 | 502 | 503 | 504) => Some(Some(r.status().as_u16())),
        Err(Stop::Error(EdgeError::OriginUnreachable | EdgeError::OriginTimeout | EdgeError::OriginRefused)) => Some(None),
        _ => None,
    }
}

pub(crate) async fn fill<P: Platform>(
    cx: &mut Ctx<'_, P>,
    outcome: Result<Response<Body<P::Body>>, Stop<P::Body>>,
) -> Result<Response<Body<P::Body>>, Stop<P::Body>> {
    let Some(mut pending) = cx.cache.take() else { return outcome };
    let now = cx.platform.now();
    if pending.invalidate {
        if outcome.as_ref().is_ok_and(|r| r.status().as_u16() < 400) {
            cx.edge.cache_memory.invalidate(pending.key.resource());
            if let Some(shared) = cx.platform.cache() {
                variants::forget_all(shared, &pending.key).await;
            }
        }
        cx.ex.cache = Some((pending.status, std::time::Duration::ZERO));
        return outcome;
    }
    if let (Some(code), Some(stale)) = (failed(&outcome), pending.stale.clone()) {
        if stale.staleness(now) <= stale.stale_if_error && !stale.stale_if_error.is_zero() {
            let status = CacheStatus { fwd_status: code, ttl: Some(stale.ttl_secs(now)), detail: Some("stale-if-error"), ..pending.status };
            return Err(answer(&mut cx.ex, &pending.method, &pending.client, &stale, status, now));
        }
    }
    let response = match outcome {
        Ok(r) => r,
        Err(e) => {
            cx.ex.cache = Some((pending.status, std::time::Duration::ZERO));
            return Err(e);
        }
    };
    pending.status.fwd_status = Some(response.status().as_u16());
    // A 304 to the edge's own validators: the stored body is still good (RFC 9111 4.3.4).
    if response.status() == StatusCode::NOT_MODIFIED {
        if let Some(stale) = pending.stale.take() {
            let entry = refreshed(&pending, &stale, response.headers(), now, cx.now);
            pending.status.stored = store(cx, &pending.key, &entry, now).await;
            return Err(answer(&mut cx.ex, &pending.method, &pending.client, &entry, pending.status, now));
        }
    }
    let (parts, body) = response.into_parts();
    let view = policy::request_view(&Method::GET, "", &pending.client, &parts.headers, pending.authenticated);
    let mut judged = policy::assess(&view, parts.status, &parts.headers, now, pending.policy);
    super::error_page::keep_error(&cx.edge.config, parts.status, &mut judged, pending.stale.is_some());
    let max = cx.edge.config.limits.cache_max_object_bytes;
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let is_head = pending.method == Method::HEAD;
    if declared.is_some_and(|n| n > max as u64) {
        return Ok(too_large(&mut cx.ex, pending.status, parts, body, is_head));
    }
    // A body of unknown length is read up to the object limit and relayed past it: never held
    // whole, whatever the origin sends.
    let bytes = match body {
        Body::Full(b) => b,
        Body::Origin(b) => match cx.platform.read_capped(b, max).await.map_err(|e| Stop::Error(crate::forward::upstream_error(e)))? {
            Capped::Whole(b) => b,
            Capped::Over(rest) => return Ok(too_large(&mut cx.ex, pending.status, parts, Body::Origin(rest), is_head)),
        },
    };
    let entry = Entry {
        status: parts.status,
        headers: Entry::storable_headers(&parts.headers),
        body: bytes,
        stored: now,
        fresh_until: now + judged.lifetime,
        stale_while_revalidate: judged.stale_while_revalidate,
        stale_if_error: judged.stale_if_error,
        resource: pending.key.resource().to_owned(),
        requested: Some(cx.now),
        semantics: judged.semantics,
    };
    if judged.refused.is_none() && entry.body.len() <= max {
        pending.status.stored = store(cx, &pending.key, &entry, now).await;
    } else if let Some(why) = judged.refused {
        pending.status.detail = Some(why);
    } else {
        pending.status.detail = Some("too-large");
    }
    let mut answer = conditional::respond(&pending.method, &pending.client, &entry);
    // What the cache did not keep goes back with everything the origin sent (its cookies).
    if !pending.status.stored {
        for v in parts.headers.get_all(header::SET_COOKIE) {
            answer.headers_mut().append(header::SET_COOKIE, v.clone());
        }
    }
    cx.ex.cache = Some((pending.status, entry.age(now)));
    Ok(answer.map(Body::Full))
}

/// The stored entry updated with a 304's headers (RFC 9111 4.3.4) and judged afresh.
fn refreshed(pending: &Pending<'_>, stale: &Entry, headers: &HeaderMap, now: SystemTime, requested: SystemTime) -> Entry {
    let mut merged = stale.headers.clone();
    for (name, _) in Entry::storable_headers(headers).iter() {
        if matches!(name.as_str(), "content-length" | "content-encoding" | "content-range" | "content-type") {
            continue;
        }
        merged.remove(name);
    }
    for (name, v) in Entry::storable_headers(headers).iter() {
        if !matches!(name.as_str(), "content-length" | "content-encoding" | "content-range" | "content-type") {
            merged.append(name.clone(), v.clone());
        }
    }
    let view = policy::request_view(&Method::GET, "", &pending.client, &merged, pending.authenticated);
    let judged = policy::assess(&view, stale.status, &merged, now, pending.policy);
    Entry {
        status: stale.status,
        headers: merged,
        body: stale.body.clone(),
        stored: now,
        fresh_until: now + judged.lifetime,
        stale_while_revalidate: judged.stale_while_revalidate,
        stale_if_error: judged.stale_if_error,
        resource: stale.resource.clone(),
        requested: Some(requested),
        semantics: judged.semantics,
    }
}

/// Keeps an entry in memory and, if the platform has one, the shared tier. Returns whether the
/// memory tier kept it.
async fn store<P: Platform>(cx: &Ctx<'_, P>, key: &CacheKey, entry: &Entry, now: SystemTime) -> bool {
    let entry = Arc::new(entry.clone());
    let kept = cx.edge.cache_memory.put_entry(key, entry.clone());
    if let Some(shared) = cx.platform.cache() {
        let bytes = entry.encode();
        if bytes.len() <= shared.max_value_bytes() {
            shared.put(key, bytes, entry.keep(now)).await;
            variants::remember(shared, key).await;
            return true;
        }
    }
    kept
}
