//! API keys for partners and machine clients.
//!
//! Only a SHA-256 of the secret is stored; the secret is returned once, at creation. Two items
//! per key in the keys table, written and deleted together in a transaction:
//! - `pk = "HASH#{sha256}"`, `sk = "KEY"`: what the edge's lookup reads (one GetItem by hash);
//! - `pk = "KEYS"`, `sk = id`: the admin list (one Query).
//!
//! A plan is the rate limits the edge applies to the key: requests per second, burst, and a
//! daily quota (API Gateway usage plans).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use crate::date::rfc3339;
use crate::dynamo::{s, DynamoError};
use crate::numbers::json_response;
use crate::problem::ApiError;
use crate::{Origin, Platform};

/// Prefix of every key secret, so leaked keys are easy to recognise and scan for.
pub const SECRET_PREFIX: &str = "vk_";

fn hash(secret: &str) -> String {
    verge_signing::sha256_hex(secret.as_bytes())
}

fn plan(v: Option<&Value>) -> Result<Value, ApiError> {
    let Some(p) = v else {
        return Ok(json!({ "rate_per_second": 10, "burst": 20, "quota_per_day": 10_000 }));
    };
    let obj = p.as_object().ok_or_else(|| ApiError::invalid("plan", "`plan` must be an object"))?;
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "rate_per_second" | "burst" | "quota_per_day")) {
        return Err(ApiError::invalid(&format!("plan.{k}"), format!("unknown field `plan.{k}`")));
    }
    let field = |k: &str, max: u64| -> Result<u64, ApiError> {
        obj.get(k)
            .and_then(Value::as_u64)
            .filter(|x| (1..=max).contains(x))
            .ok_or_else(|| ApiError::invalid(&format!("plan.{k}"), format!("`plan.{k}` must be a whole number from 1 to {max}")))
    };
    Ok(
        json!({ "rate_per_second": field("rate_per_second", 10_000)?, "burst": field("burst", 5_000)?, "quota_per_day": field("quota_per_day", 100_000_000)? }),
    )
}

fn consumer(v: Option<&Value>) -> Result<String, ApiError> {
    match v.and_then(Value::as_str) {
        Some(c) if (1..=64).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) => {
            Ok(c.to_owned())
        }
        _ => Err(ApiError::invalid("consumer", "`consumer` is required: 1-64 of letters, digits, '.', '_' and '-'")),
    }
}

pub(crate) async fn create<P: Platform>(o: &Origin, p: &P, body: &[u8]) -> Result<Response<Bytes>, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let obj = v.as_object().ok_or_else(|| ApiError::invalid("body", "the body must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "consumer" | "plan")) {
        return Err(ApiError::invalid(k, format!("unknown field `{k}`")));
    }
    let consumer = consumer(obj.get("consumer"))?;
    let plan = plan(obj.get("plan"))?;
    let (a, b) = (p.random(), p.random());
    let secret = format!("{SECRET_PREFIX}{}{}", hex::encode(a), hex::encode(b));
    let id = hex::encode(&p.random()[..8]);
    let created = rfc3339(p.now());
    let h = hash(&secret);
    let table = &o.config.tables.api_keys;
    let tx = json!({ "TransactItems": [
        { "Put": { "TableName": table, "Item": {
            "pk": s(&format!("HASH#{h}")), "sk": s("KEY"), "id": s(&id), "consumer": s(&consumer),
            "plan": s(&plan.to_string()), "created_at": s(&created)
        }, "ConditionExpression": "attribute_not_exists(pk)" }},
        { "Put": { "TableName": table, "Item": {
            "pk": s("KEYS"), "sk": s(&id), "hash": s(&h), "consumer": s(&consumer),
            "plan": s(&plan.to_string()), "created_at": s(&created)
        }, "ConditionExpression": "attribute_not_exists(pk)" }}
    ]});
    o.dynamo.call(p, "TransactWriteItems", &tx).await?;
    Ok(json_response(StatusCode::CREATED, &json!({ "id": id, "consumer": consumer, "plan": plan, "created_at": created, "key": secret })))
}

fn listed(item: &Value) -> Value {
    json!({
        "id": item["sk"]["S"], "consumer": item["consumer"]["S"],
        "plan": item["plan"]["S"].as_str().and_then(|x| serde_json::from_str::<Value>(x).ok()),
        "created_at": item["created_at"]["S"],
    })
}

pub(crate) async fn list<P: Platform>(o: &Origin, p: &P) -> Result<Response<Bytes>, ApiError> {
    let mut keys = Vec::new();
    let mut start: Option<Value> = None;
    loop {
        let mut q = json!({ "TableName": o.config.tables.api_keys, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": { ":p": s("KEYS") } });
        if let Some(k) = start.take() {
            q["ExclusiveStartKey"] = k;
        }
        let page = o.dynamo.call(p, "Query", &q).await?;
        keys.extend(page["Items"].as_array().into_iter().flatten().map(listed));
        match page.get("LastEvaluatedKey") {
            Some(k) if !k.is_null() => start = Some(k.clone()),
            _ => break,
        }
    }
    Ok(json_response(StatusCode::OK, &json!({ "keys": keys })))
}

pub(crate) async fn revoke<P: Platform>(o: &Origin, p: &P, id: &str) -> Result<Response<Bytes>, ApiError> {
    let table = &o.config.tables.api_keys;
    let get = json!({ "TableName": table, "Key": { "pk": s("KEYS"), "sk": s(id) }, "ConsistentRead": true });
    let item = o.dynamo.call(p, "GetItem", &get).await?;
    let Some(h) = item["Item"]["hash"]["S"].as_str() else {
        return Err(ApiError::NotFoundItem(format!("no API key {id}")));
    };
    let tx = json!({ "TransactItems": [
        { "Delete": { "TableName": table, "Key": { "pk": s("KEYS"), "sk": s(id) }, "ConditionExpression": "attribute_exists(pk)" }},
        { "Delete": { "TableName": table, "Key": { "pk": s(&format!("HASH#{h}")), "sk": s("KEY") } }}
    ]});
    match o.dynamo.call(p, "TransactWriteItems", &tx).await {
        Ok(_) => {}
        // Revoked concurrently: the outcome the caller asked for.
        Err(DynamoError::TransactionCanceled(_)) => return Err(ApiError::NotFoundItem(format!("no API key {id}"))),
        Err(e) => return Err(e.into()),
    }
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

/// The edge's lookup: one GetItem by the hash the edge computed from the presented key.
pub(crate) async fn lookup<P: Platform>(o: &Origin, p: &P, key_hash: &str) -> Result<Response<Bytes>, ApiError> {
    if key_hash.len() != 64 || !key_hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::invalid(crate::identity::KEY_HASH, "the key hash must be 64 lowercase hex digits"));
    }
    let get = json!({ "TableName": o.config.tables.api_keys, "Key": { "pk": s(&format!("HASH#{key_hash}")), "sk": s("KEY") } });
    let item = o.dynamo.call(p, "GetItem", &get).await?;
    let Some(i) = item.get("Item").filter(|i| !i.is_null()) else {
        return Err(ApiError::NotFoundItem("no such API key".into()));
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({ "id": i["id"]["S"], "consumer": i["consumer"]["S"], "plan": i["plan"]["S"].as_str().and_then(|x| serde_json::from_str::<Value>(x).ok()) }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_validated_field_by_field() {
        assert_eq!(plan(None).unwrap()["burst"], 20);
        let err = |v: Value| match plan(Some(&v)) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(json!({ "rate_per_second": 0, "burst": 1, "quota_per_day": 1 })), "plan.rate_per_second");
        assert_eq!(err(json!({ "rate_per_second": 1, "burst": 1, "quota_per_day": 1, "x": 1 })), "plan.x");
        assert_eq!(hash("vk_a").len(), 64);
    }
}
