//! Partner order feeds: batches from API-key clients, validated order by order.
//!
//! Tables (see `docs/origin.md`):
//! - orders: `pk = partnerId`, `sk = sequenceNumber` (N); GSI `by-event-time` on `pk`, `et`
//!   (the event time as fixed-width UTC text, so it sorts).
//! - order errors: `pk = partnerId`, `sk = "{received_ms:013}#{index:03}#{random}"`, with the
//!   reasons, the order as sent (cut to 4 KB) and `expires_at` (TTL, 30 days).
//!
//! A valid order is written with a conditional PutItem (`attribute_not_exists(sk)`): a sequence
//! number already stored is a duplicate, reported and ignored, so a partner can resend a whole
//! batch after a timeout. Invalid orders go to the errors table with BatchWriteItem.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::date::{format_ms, parse_rfc3339_ms, rfc3339};
use crate::dynamo::{n, s, DynamoError};
use crate::numbers::json_response;
use crate::problem::ApiError;
use crate::query::Query;
use crate::{Origin, Platform};

pub const MAX_BATCH: usize = 100;
pub const MAX_LINE_ITEMS: usize = 100;
pub const ERROR_TTL_SECS: i64 = 30 * 86_400;
pub const GSI_EVENT_TIME: &str = "by-event-time";
/// Event times more than this far in the future are refused (clock skew allowance).
pub const FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;
/// Largest sequence number: integers a JSON number holds exactly.
pub const MAX_SEQUENCE: u64 = (1 << 53) - 1;

/// A validated order, amounts in cents.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub sequence: u64,
    pub event_ms: i64,
    pub currency: String,
    pub lines: Vec<(String, u64, i64)>,
    pub total_cents: i64,
}

/// The largest amount (a price or a total) in cents: 100000000000.00, well inside the range
/// where `f64` holds every cent exactly (2^53).
const MAX_CENTS: i64 = 10_000_000_000_000;

fn cents(v: &Value) -> Option<i64> {
    let x = v.as_f64().filter(|_| v.is_number())?;
    let c = (x * 100.0).round();
    ((x * 100.0 - c).abs() < 1e-6 && (0.0..=MAX_CENTS as f64).contains(&c)).then_some(c as i64)
}

/// The sum of the lines in cents, or `None` past [`MAX_CENTS`]. Checked: 100 lines of 10000 at
/// the largest price are 10^19 cents, past `i64`, which would panic in debug builds and wrap to
/// a wrong refusal in release builds.
fn lines_total(lines: &[(String, u64, i64)]) -> Option<i64> {
    lines
        .iter()
        .try_fold(0i64, |sum, (_, q, p)| i64::try_from(*q).ok()?.checked_mul(*p).and_then(|line| sum.checked_add(line)))
        .filter(|sum| *sum <= MAX_CENTS)
}

/// Cents as decimal text: `2000` -> `20.00`.
fn money_text(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// Cents as a JSON number.
fn money(c: i64) -> Value {
    serde_json::from_str(&money_text(c)).unwrap_or(Value::Null)
}

/// Validates one order; every problem found is listed, each naming its field.
pub fn validate(v: &Value, now_ms: i64) -> Result<Order, Vec<String>> {
    let Some(o) = v.as_object() else { return Err(vec!["the order must be a JSON object".into()]) };
    let mut why = Vec::new();
    for k in o.keys() {
        if !matches!(k.as_str(), "sequenceNumber" | "eventTime" | "currency" | "lineItems" | "total") {
            why.push(format!("{k}: unknown field"));
        }
    }
    let sequence = match o.get("sequenceNumber").and_then(Value::as_u64) {
        Some(q) if q <= MAX_SEQUENCE => Some(q),
        _ => {
            why.push(format!("sequenceNumber: required, a whole number from 0 to {MAX_SEQUENCE}"));
            None
        }
    };
    let event_ms = match o.get("eventTime").and_then(Value::as_str).map(|t| (t, parse_rfc3339_ms(t))) {
        Some((_, Some(ms))) if ms > now_ms + FUTURE_SKEW_MS => {
            why.push("eventTime: more than 5 minutes in the future".into());
            None
        }
        Some((_, Some(ms))) if ms < 946_684_800_000 => {
            why.push("eventTime: before 2000-01-01".into());
            None
        }
        Some((_, Some(ms))) => Some(ms),
        _ => {
            why.push("eventTime: required, an RFC 3339 timestamp such as 2026-11-21T10:00:00Z".into());
            None
        }
    };
    let currency = match o.get("currency").and_then(Value::as_str) {
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => Some(c.to_owned()),
        _ => {
            why.push("currency: required, an ISO 4217 code such as EUR".into());
            None
        }
    };
    let mut lines = Vec::new();
    match o.get("lineItems").and_then(Value::as_array) {
        Some(items) if !items.is_empty() && items.len() <= MAX_LINE_ITEMS => {
            for (i, item) in items.iter().enumerate() {
                let sku = item.get("sku").and_then(Value::as_str).filter(|s| (1..=64).contains(&s.len()));
                let qty = item.get("quantity").and_then(Value::as_u64).filter(|q| (1..=10_000).contains(q));
                let price = item.get("unitPrice").and_then(cents);
                if sku.is_none() {
                    why.push(format!("lineItems[{i}].sku: required, 1-64 characters"));
                }
                if qty.is_none() {
                    why.push(format!("lineItems[{i}].quantity: required, a whole number from 1 to 10000"));
                }
                if price.is_none() {
                    why.push(format!("lineItems[{i}].unitPrice: required, at least 0 with at most 2 decimals"));
                }
                if let Some(extra) =
                    item.as_object().and_then(|m| m.keys().find(|k| !matches!(k.as_str(), "sku" | "quantity" | "unitPrice")))
                {
                    why.push(format!("lineItems[{i}].{extra}: unknown field"));
                }
                if let (Some(s), Some(q), Some(p)) = (sku, qty, price) {
                    lines.push((s.to_owned(), q, p));
                }
            }
        }
        _ => why.push(format!("lineItems: required, 1 to {MAX_LINE_ITEMS} items")),
    }
    let total = o.get("total").and_then(cents);
    if total.is_none() {
        why.push("total: required, at least 0 with at most 2 decimals".into());
    }
    if why.is_empty() {
        match lines_total(&lines) {
            None => why.push(format!("total: the line items add up to more than {}, the largest total", money_text(MAX_CENTS))),
            Some(sum) if Some(sum) != total => {
                why.push(format!("total: {} does not equal the sum of the line items, {}", money_text(total.unwrap_or(0)), money_text(sum)))
            }
            Some(_) => {}
        }
    }
    match (why.is_empty(), sequence, event_ms, currency, total) {
        (true, Some(sequence), Some(event_ms), Some(currency), Some(total_cents)) => {
            Ok(Order { sequence, event_ms, currency, lines, total_cents })
        }
        _ => Err(why),
    }
}

fn order_item(partner: &str, o: &Order, received: &str) -> Value {
    let lines: Vec<Value> = o.lines.iter().map(|(sku, q, p)| json!({ "sku": sku, "quantity": q, "unitPrice": money(*p) })).collect();
    json!({
        "pk": s(partner), "sk": n(o.sequence), "et": s(&format_ms(o.event_ms)),
        "currency": s(&o.currency), "total": n(money_text(o.total_cents)),
        "lines": s(&Value::Array(lines).to_string()), "received_at": s(received)
    })
}

fn order_json(item: &Value) -> Option<Value> {
    Some(json!({
        "sequenceNumber": item["sk"]["N"].as_str()?.parse::<u64>().ok()?,
        "eventTime": item["et"]["S"].as_str()?,
        "currency": item["currency"]["S"].as_str()?,
        "lineItems": serde_json::from_str::<Value>(item["lines"]["S"].as_str()?).ok()?,
        "total": serde_json::from_str::<Value>(item["total"]["N"].as_str()?).ok()?,
        "receivedAt": item["received_at"]["S"].as_str()?,
    }))
}

pub(crate) async fn post_orders<P: Platform>(o: &Origin, p: &P, partner: &str, body: &[u8]) -> Result<Response<Bytes>, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let orders =
        v.get("orders").and_then(Value::as_array).ok_or_else(|| ApiError::invalid("orders", "the body must be {\"orders\": [...]}"))?;
    if orders.is_empty() || orders.len() > MAX_BATCH {
        return Err(ApiError::invalid("orders", format!("a batch has 1 to {MAX_BATCH} orders")));
    }
    if let Some(k) = v.as_object().and_then(|m| m.keys().find(|k| k.as_str() != "orders")) {
        return Err(ApiError::invalid(k, format!("unknown field `{k}`; the body takes only `orders`")));
    }
    let now = p.now();
    let now_ms = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
    let received = rfc3339(now);
    let (mut accepted, mut duplicates, mut rejected, mut error_items) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (index, raw) in orders.iter().enumerate() {
        match validate(raw, now_ms) {
            Ok(order) => {
                let put = json!({
                    "TableName": o.config.tables.orders,
                    "Item": order_item(partner, &order, &received),
                    "ConditionExpression": "attribute_not_exists(sk)"
                });
                match o.dynamo.call(p, "PutItem", &put).await {
                    Ok(_) => accepted.push(order.sequence),
                    Err(DynamoError::ConditionFailed) => duplicates.push(order.sequence),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(reasons) => {
                let seq = raw.get("sequenceNumber").filter(|q| q.is_u64()).cloned().unwrap_or(Value::Null);
                let mut raw_text = raw.to_string();
                raw_text.truncate(raw_text.char_indices().nth(4096).map_or(raw_text.len(), |(i, _)| i));
                let mut rand = [0u8; 4];
                rand.copy_from_slice(&p.random()[..4]);
                error_items.push(json!({
                    "pk": s(partner), "sk": s(&format!("{now_ms:013}#{index:03}#{}", hex::encode(rand))),
                    "index": n(index), "sequence": if seq.is_null() { json!({"NULL": true}) } else { n(&seq) },
                    "reasons": s(&json!(reasons).to_string()), "order": s(&raw_text), "received_at": s(&received),
                    "expires_at": n(now_ms / 1000 + ERROR_TTL_SECS)
                }));
                rejected.push(json!({ "index": index, "sequenceNumber": seq, "reasons": reasons }));
            }
        }
    }
    o.dynamo.batch_put(p, &o.config.tables.order_errors, error_items).await?;
    Ok(json_response(StatusCode::OK, &json!({ "accepted": accepted, "duplicates": duplicates, "rejected": rejected })))
}

pub(crate) async fn list_orders<P: Platform>(o: &Origin, p: &P, partner: &str, query: Option<&str>) -> Result<Response<Bytes>, ApiError> {
    let q = Query::parse(query)?;
    let bound = |name: &str, default: &str| -> Result<String, ApiError> {
        match q.get(name) {
            None => Ok(default.to_owned()),
            Some(t) => {
                parse_rfc3339_ms(t).map(format_ms).ok_or_else(|| ApiError::invalid(name, format!("`{name}` must be an RFC 3339 timestamp")))
            }
        }
    };
    let from = bound("from", "1970-01-01T00:00:00.000Z")?;
    let to = bound("to", "9999-12-31T23:59:59.999Z")?;
    if to < from {
        return Err(ApiError::invalid("to", "`to` must not be before `from`"));
    }
    let limit = q.limit(50, 100)?;
    let context = format!("orders\n{partner}\n{from}\n{to}");
    let mut req = json!({
        "TableName": o.config.tables.orders,
        "IndexName": GSI_EVENT_TIME,
        "KeyConditionExpression": "pk = :p AND et BETWEEN :a AND :b",
        "ExpressionAttributeValues": { ":p": s(partner), ":a": s(&from), ":b": s(&to) },
        "Limit": limit
    });
    page(o, p, partner, &q, &context, &mut req, "orders").await
}

pub(crate) async fn list_errors<P: Platform>(o: &Origin, p: &P, partner: &str, query: Option<&str>) -> Result<Response<Bytes>, ApiError> {
    let q = Query::parse(query)?;
    let limit = q.limit(50, 100)?;
    let context = format!("errors\n{partner}");
    let mut req = json!({
        "TableName": o.config.tables.order_errors,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": { ":p": s(partner) },
        "ScanIndexForward": false,
        "Limit": limit
    });
    page(o, p, partner, &q, &context, &mut req, "errors").await
}

/// One page of a Query, with the cursor opened from and sealed into the response.
async fn page<P: Platform>(
    o: &Origin,
    p: &P,
    partner: &str,
    q: &Query,
    context: &str,
    req: &mut Value,
    what: &str,
) -> Result<Response<Bytes>, ApiError> {
    if let Some(c) = q.get("cursor") {
        let key = o.cursor_key.open(context, c)?;
        if key["pk"]["S"].as_str() != Some(partner) {
            return Err(ApiError::invalid("cursor", "the cursor is not valid for this query"));
        }
        req["ExclusiveStartKey"] = key;
    }
    let out = o.dynamo.call(p, "Query", req).await?;
    let items = out["Items"].as_array().cloned().unwrap_or_default();
    let list: Vec<Value> = if what == "orders" {
        items
            .iter()
            .map(|i| order_json(i).ok_or_else(|| ApiError::Internal("an order item is malformed".into())))
            .collect::<Result<_, _>>()?
    } else {
        items.iter().map(error_json).collect()
    };
    let next = match out.get("LastEvaluatedKey") {
        Some(k) if !k.is_null() => Value::String(o.cursor_key.seal(context, k)),
        _ => Value::Null,
    };
    let mut body = Map::new();
    body.insert(what.to_owned(), Value::Array(list));
    body.insert("next_cursor".to_owned(), next);
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

fn error_json(item: &Value) -> Value {
    json!({
        "index": item["index"]["N"].as_str().and_then(|x| x.parse::<u64>().ok()),
        "sequenceNumber": item["sequence"]["N"].as_str().and_then(|x| x.parse::<u64>().ok()),
        "reasons": item["reasons"]["S"].as_str().and_then(|r| serde_json::from_str::<Value>(r).ok()).unwrap_or(Value::Null),
        "order": item["order"]["S"].as_str().unwrap_or(""),
        "receivedAt": item["received_at"]["S"].as_str(),
        "expiresAt": item["expires_at"]["N"].as_str().and_then(|x| x.parse::<i64>().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        json!({ "sequenceNumber": 7, "eventTime": "2026-11-21T10:00:00Z", "currency": "EUR",
                "lineItems": [{ "sku": "A-1", "quantity": 2, "unitPrice": 9.99 }, { "sku": "B", "quantity": 1, "unitPrice": 0.02 }],
                "total": 20.0 })
    }
    const NOW: i64 = 1_795_305_600_000;

    #[test]
    fn a_valid_order() {
        let o = validate(&good(), NOW).unwrap();
        assert_eq!((o.sequence, o.total_cents, o.lines.len()), (7, 2000, 2));
    }

    #[test]
    fn each_problem_names_its_field() {
        let mut v = good();
        v["total"] = json!(19.99);
        assert_eq!(validate(&v, NOW).unwrap_err(), vec!["total: 19.99 does not equal the sum of the line items, 20.00".to_owned()]);
        let v = json!({ "sequenceNumber": -1, "eventTime": "yesterday", "currency": "eur", "lineItems": [{ "sku": "", "quantity": 0, "unitPrice": 1.001 }], "total": 1, "x": 1 });
        let why = validate(&v, NOW).unwrap_err();
        for field in [
            "x: unknown",
            "sequenceNumber:",
            "eventTime:",
            "currency:",
            "lineItems[0].sku",
            "lineItems[0].quantity",
            "lineItems[0].unitPrice",
        ] {
            assert!(why.iter().any(|w| w.starts_with(field)), "{field} in {why:?}");
        }
        let mut v = good();
        v["eventTime"] = json!("2027-01-01T00:00:00Z");
        assert_eq!(validate(&v, NOW).unwrap_err(), vec!["eventTime: more than 5 minutes in the future".to_owned()]);
        assert!(validate(&json!([1]), NOW).is_err());
    }

    #[test]
    fn line_items_too_large_to_add_up_are_refused_naming_the_total() {
        // 100 lines of 10000 x 100000000000.00: 10^19 cents, past i64 (9.2 x 10^18).
        let mut v = good();
        v["lineItems"] =
            json!((0..100).map(|i| json!({ "sku": format!("S{i}"), "quantity": 10_000, "unitPrice": 1e11 })).collect::<Vec<_>>());
        v["total"] = json!(1e11);
        assert_eq!(
            validate(&v, NOW).unwrap_err(),
            vec!["total: the line items add up to more than 100000000000.00, the largest total".to_owned()]
        );
        // Just past the largest total, with no overflow at all: the same answer.
        v["lineItems"] = json!([{ "sku": "A", "quantity": 2, "unitPrice": 1e11 }]);
        assert_eq!(validate(&v, NOW).unwrap_err()[0], "total: the line items add up to more than 100000000000.00, the largest total");
        // The largest total itself is fine.
        v["lineItems"] = json!([{ "sku": "A", "quantity": 1, "unitPrice": 1e11 }]);
        assert_eq!(validate(&v, NOW).unwrap().total_cents, 10_000_000_000_000);
    }
}
