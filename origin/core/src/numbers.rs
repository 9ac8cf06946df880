//! Numbers and daily statistics.
//!
//! Table design (see `docs/origin.md`):
//! - numbers table: `pk = "USER#{user}"`, `sk = "{epoch_ms:013}#{id}"`, `value` (N), `at` (S).
//! - daily table: `pk = user`, `sk = "YYYY-MM-DD"`, `count`, `sum`, `min`, `max` (all N),
//!   kept up to date on every write so a range read is one Query over at most 366 items.
//!
//! A POST costs one TransactWriteItems (the number and the day's `ADD count, sum`, atomically)
//! and two conditional UpdateItems for `min` and `max` (a failed condition means the stored
//! extreme already wins, and costs nothing more).

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::date::{rfc3339, Day};
use crate::dynamo::{n, s, DynamoError};
use crate::problem::ApiError;
use crate::{Origin, Platform};

/// Largest range `GET /api/stats/daily` answers, in days (inclusive).
pub const MAX_RANGE_DAYS: i64 = 366;
/// Values are stored with at most this many decimals and magnitude at most [`MAX_ABS`], so that
/// DynamoDB's 38-digit decimal sums stay exact.
pub const DECIMALS: usize = 9;
pub const MAX_ABS: f64 = 1e15;

pub(crate) fn json_response(status: StatusCode, v: &Value) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `{"value": <number>}` -> the number, or a 400 naming the field.
pub fn parse_number_body(body: &[u8]) -> Result<String, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let obj = v.as_object().ok_or_else(|| ApiError::invalid("body", "the body must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| k.as_str() != "value") {
        return Err(ApiError::invalid(k, format!("unknown field `{k}`; the body takes only `value`")));
    }
    let value = obj.get("value").ok_or_else(|| ApiError::invalid("value", "`value` is required"))?;
    let x = value.as_f64().filter(|_| value.is_number()).ok_or_else(|| ApiError::invalid("value", "`value` must be a number"))?;
    if !x.is_finite() || x.abs() > MAX_ABS {
        return Err(ApiError::invalid("value", format!("`value` must be between -{MAX_ABS:e} and {MAX_ABS:e}")));
    }
    Ok(decimal(x))
}

/// Fixed-point text with at most [`DECIMALS`] decimals and no trailing zeros.
fn decimal(x: f64) -> String {
    let s = format!("{x:.DECIMALS$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "-0" | "" => "0".to_owned(),
        s => s.to_owned(),
    }
}

/// How long an `Idempotency-Key` is remembered (DynamoDB TTL removes the record afterwards).
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

/// An `Idempotency-Key` header: 1-255 visible ASCII characters.
pub fn idempotency_key(headers: &http::HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    match v.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(k.to_owned())),
        _ => Err(ApiError::invalid("Idempotency-Key", "the Idempotency-Key header must be 1-255 visible ASCII characters")),
    }
}

pub(crate) async fn post_number<P: Platform>(
    o: &Origin,
    p: &P,
    user: &str,
    idem: Option<&str>,
    body: &[u8],
) -> Result<Response<Bytes>, ApiError> {
    let value = parse_number_body(body)?;
    let now = p.now();
    let day = Day::of(now).to_string();
    let secs = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let id = hex_id(p.random());
    let at = rfc3339(now);
    let value_json: Value = serde_json::from_str(&value).unwrap_or(Value::Null);
    let result = json!({ "id": id, "value": value_json, "at": at, "day": day });
    let t = &o.config.tables;
    let mut items = vec![
        json!({ "Put": {
            "TableName": t.numbers,
            "Item": { "pk": s(&format!("USER#{user}")), "sk": s(&format!("{:013}#{id}", secs.as_millis())), "value": n(&value), "at": s(&at) },
            "ConditionExpression": "attribute_not_exists(pk)"
        }}),
        json!({ "Update": {
            "TableName": t.daily,
            "Key": { "pk": s(user), "sk": s(&day) },
            // min and max are set here only for the day's first number, so a day with a count
            // always has both; the conditional updates below move them outward.
            "UpdateExpression": "ADD #c :one, #s :v SET #mn = if_not_exists(#mn, :v), #mx = if_not_exists(#mx, :v)",
            "ExpressionAttributeNames": { "#c": "count", "#s": "sum", "#mn": "min", "#mx": "max" },
            "ExpressionAttributeValues": { ":one": n(1), ":v": n(&value) }
        }}),
    ];
    let body_hash = verge_signing::sha256_hex(body);
    if let Some(key) = idem {
        // The record that makes retries safe: written in the same transaction as the number,
        // so either both exist or neither does.
        items.push(json!({ "Put": {
            "TableName": t.numbers,
            "Item": {
                "pk": s(&format!("IDEM#{user}")), "sk": s(key),
                "request": s(&body_hash), "response": s(&result.to_string()),
                "expires_at": n(secs.as_secs() + IDEMPOTENCY_TTL_SECS)
            },
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"
        }}));
    }
    // One token per request to the origin, sent with every attempt of this one call (the client
    // in dynamo.rs resends the same payload): DynamoDB answers a repeat within 10 minutes with the
    // first success instead of writing again, so an attempt whose answer was lost is confirmed.
    //
    // Not one token per Idempotency-Key: a client's retry is a new request with a new id, time
    // and sort key, and DynamoDB answers the same token with other items with
    // IdempotentParameterMismatchException (400) for 10 minutes. Nor items derived from the key
    // alone: the first attempt's time is not known to a retry. Exactly-once across the client's
    // retries comes from the idempotency record's `attribute_not_exists` in the same
    // transaction (a retry is cancelled and replays the stored answer); nothing acknowledged is
    // lost because the answer is sent only after DynamoDB confirmed the transaction.
    let write = json!({ "TransactItems": items, "ClientRequestToken": id });
    let (status, result) = match o.dynamo.call(p, "TransactWriteItems", &write).await {
        Ok(_) => (StatusCode::CREATED, result),
        Err(DynamoError::TransactionCanceled(reasons))
            if idem.is_some() && reasons.get(2).is_some_and(|r| r["Code"] == "ConditionalCheckFailed") =>
        {
            let stored = match reasons[2].get("Item") {
                Some(item) if !item.is_null() => item.clone(),
                _ => stored_idempotency(o, p, user, idem.unwrap_or_default()).await?,
            };
            if stored["request"]["S"].as_str() != Some(body_hash.as_str()) {
                return Err(ApiError::Unprocessable("this Idempotency-Key was used with a different body".into()));
            }
            let previous: Value = stored["response"]["S"]
                .as_str()
                .and_then(|r| serde_json::from_str(r).ok())
                .ok_or_else(|| ApiError::Internal("idempotency record without a response".into()))?;
            (StatusCode::OK, previous)
        }
        // The number's id is fresh and random, so a failed "does not exist" condition on it means
        // an earlier attempt of this very call landed and only its answer was lost.
        Err(DynamoError::TransactionCanceled(reasons))
            if idem.is_none() && reasons.first().is_some_and(|r| r["Code"] == "ConditionalCheckFailed") =>
        {
            (StatusCode::CREATED, result)
        }
        Err(e) => return Err(e.into()),
    };
    // Re-applied on a replay too: they are idempotent, and finish what a failed first attempt
    // may have left undone.
    let value = result["value"].to_string();
    let key = json!({ "pk": s(user), "sk": s(result["day"].as_str().unwrap_or(&day)) });
    for (attr, cmp) in [("min", ">"), ("max", "<")] {
        let update = json!({
            "TableName": t.daily,
            "Key": key,
            "UpdateExpression": "SET #a = :v",
            "ConditionExpression": format!("attribute_not_exists(#a) OR #a {cmp} :v"),
            "ExpressionAttributeNames": { "#a": attr },
            "ExpressionAttributeValues": { ":v": n(&value) }
        });
        match o.dynamo.call(p, "UpdateItem", &update).await {
            Ok(_) | Err(DynamoError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut resp = json_response(status, &result);
    if status == StatusCode::OK {
        resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

async fn stored_idempotency<P: Platform>(o: &Origin, p: &P, user: &str, key: &str) -> Result<Value, ApiError> {
    let get =
        json!({ "TableName": o.config.tables.numbers, "Key": { "pk": s(&format!("IDEM#{user}")), "sk": s(key) }, "ConsistentRead": true });
    let out = o.dynamo.call(p, "GetItem", &get).await?;
    out.get("Item").cloned().ok_or_else(|| ApiError::Internal("idempotency record vanished".into()))
}

/// `from` and `to` from the query string, validated.
pub fn parse_range(query: Option<&str>) -> Result<(Day, Day), ApiError> {
    let mut from = None;
    let mut to = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "from" => from = Some(v),
            "to" => to = Some(v),
            _ => {}
        }
    }
    let day = |name: &str, v: Option<&str>| -> Result<Day, ApiError> {
        let v = v.ok_or_else(|| ApiError::invalid(name, format!("`{name}` is required (YYYY-MM-DD)")))?;
        Day::parse(v).ok_or_else(|| ApiError::invalid(name, format!("`{name}` must be a date as YYYY-MM-DD")))
    };
    let (from, to) = (day("from", from)?, day("to", to)?);
    if to < from {
        return Err(ApiError::invalid("to", "`to` must not be before `from`"));
    }
    if to.0 - from.0 + 1 > MAX_RANGE_DAYS {
        return Err(ApiError::invalid("to", format!("the range is at most {MAX_RANGE_DAYS} days")));
    }
    Ok((from, to))
}

pub(crate) async fn daily_stats<P: Platform>(o: &Origin, p: &P, user: &str, query: Option<&str>) -> Result<Response<Bytes>, ApiError> {
    let (from, to) = parse_range(query)?;
    let mut days = Vec::new();
    let mut start: Option<Value> = None;
    loop {
        let mut q = json!({
            "TableName": o.config.tables.daily,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": { ":p": s(user), ":a": s(&from.to_string()), ":b": s(&to.to_string()) }
        });
        if let Some(k) = start.take() {
            q["ExclusiveStartKey"] = k;
        }
        let page = o.dynamo.call(p, "Query", &q).await?;
        for item in page["Items"].as_array().into_iter().flatten() {
            days.push(day_entry(item).ok_or_else(|| ApiError::Internal("a daily item lacks count, sum, min or max".into()))?);
        }
        match page.get("LastEvaluatedKey") {
            Some(k) if !k.is_null() => start = Some(k.clone()),
            _ => break,
        }
    }
    let mut r = json_response(StatusCode::OK, &json!({ "from": from.to_string(), "to": to.to_string(), "days": days }));
    // The anonymous user's figures are everybody's: a shared cache in front (the edge) may keep
    // them briefly (RFC 9213: for CDNs only; browsers still see no-store). A signed-in user's
    // own figures are never marked so.
    if user == crate::identity::ANONYMOUS {
        r.headers_mut().insert(HeaderName::from_static("cdn-cache-control"), HeaderValue::from_static(STATS_CDN_CACHE_CONTROL));
    }
    Ok(r)
}

/// `CDN-Cache-Control` of the anonymous daily statistics.
pub const STATS_CDN_CACHE_CONTROL: &str = "max-age=30, stale-while-revalidate=300, stale-if-error=3600";

fn num(item: &Value, attr: &str) -> Option<f64> {
    item[attr]["N"].as_str()?.parse().ok()
}

fn day_entry(item: &Value) -> Option<Value> {
    let count = num(item, "count")?;
    let sum = num(item, "sum")?;
    let mut m = Map::new();
    m.insert("date".into(), item["sk"]["S"].as_str()?.into());
    m.insert("count".into(), json!(count as u64));
    m.insert("sum".into(), json!(sum));
    m.insert("min".into(), json!(num(item, "min")?));
    m.insert("max".into(), json!(num(item, "max")?));
    m.insert("mean".into(), json!(if count > 0.0 { sum / count } else { 0.0 }));
    Some(Value::Object(m))
}

fn hex_id(b: [u8; 16]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_bodies() {
        assert_eq!(parse_number_body(br#"{"value": 3}"#).unwrap(), "3");
        assert_eq!(parse_number_body(br#"{"value": -0.25}"#).unwrap(), "-0.25");
        assert_eq!(parse_number_body(br#"{"value": 0.1}"#).unwrap(), "0.1");
        assert_eq!(parse_number_body(br#"{"value": 1e-12}"#).unwrap(), "0");
        let field = |b: &[u8]| match parse_number_body(b) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(br#"{"value": "3"}"#), "value");
        assert_eq!(field(br#"{"value": null}"#), "value");
        assert_eq!(field(br#"{}"#), "value");
        assert_eq!(field(br#"{"value": 1, "extra": 2}"#), "extra");
        assert_eq!(field(br#"{"value": 1e300}"#), "value");
        assert_eq!(field(br#"[1]"#), "body");
        assert!(matches!(parse_number_body(b"{\"value\": "), Err(ApiError::MalformedJson(_))));
    }

    #[test]
    fn ranges() {
        let (a, b) = parse_range(Some("from=2026-01-01&to=2026-12-31")).unwrap();
        assert_eq!(b.0 - a.0, 364);
        assert!(parse_range(Some("from=2024-01-01&to=2024-12-31")).is_ok(), "366 days in a leap year");
        let field = |q: &str| match parse_range(Some(q)) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field("from=2026-01-01&to=2027-01-02"), "to");
        assert_eq!(field("from=2026-02-30&to=2026-03-01"), "from");
        assert_eq!(field("to=2026-03-01"), "from");
        assert_eq!(field("from=2026-03-02&to=2026-03-01"), "to");
    }
}
