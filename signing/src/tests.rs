use super::*;

const KEY: &str = "AKIDVERGETEST";

fn creds() -> Credentials {
    Credentials::new(KEY, "verge-test-secret", None)
}

fn scope() -> Scope {
    Scope { region: "us-east-1".into(), service: "execute-api".into() }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn signed(method: &str, uri: &str, body: &[u8], extra: &[(&str, &str)], now: SystemTime) -> Request<Vec<u8>> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let mut req = b.body(body.to_vec()).unwrap();
    sign(&mut req, &creds(), &scope(), Profile::Api, now).unwrap();
    req
}

fn check(req: &Request<Vec<u8>>, now: SystemTime) -> Result<Verified, VerifyError> {
    let host = req.uri().authority().unwrap().as_str();
    let c = creds();
    verify(
        req.method(),
        host,
        req.uri().path_and_query().unwrap().as_str(),
        req.headers(),
        req.body(),
        &|id| (id == KEY).then(|| c.clone()),
        &scope(),
        now,
    )
}

#[test]
fn a_signed_request_verifies() {
    let req = signed(
        "POST",
        "http://127.0.0.1:8081/api/numbers?x=1&a=2",
        b"{\"value\":3}",
        &[("x-verge-user", "u1"), ("content-type", "application/json")],
        at(1_800_000_000),
    );
    assert_eq!(check(&req, at(1_800_000_100)).unwrap().access_key_id, KEY);
    assert_eq!(req.headers()[CONTENT_SHA256], sha256_hex(b"{\"value\":3}"));
}

#[test]
fn each_tampering_is_refused_with_its_reason() {
    let now = at(1_800_000_000);
    let req = signed("POST", "http://o.test/api/numbers", b"{\"value\":3}", &[("x-verge-user", "u1")], now);

    let mut body = req.clone();
    *body.body_mut() = b"{\"value\":4}".to_vec();
    assert_eq!(check(&body, now), Err(VerifyError::BodyMismatch));

    let mut hdr = req.clone();
    hdr.headers_mut().insert("x-verge-user", "admin".parse().unwrap());
    assert_eq!(check(&hdr, now), Err(VerifyError::Mismatch));

    let mut added = req.clone();
    added.headers_mut().insert("x-verge-scopes", "admin".parse().unwrap());
    assert_eq!(check(&added, now), Err(VerifyError::UnsignedHeader("x-verge-scopes".into())));

    let mut path = req.clone();
    *path.uri_mut() = "http://o.test/api/numbers?admin=1".parse().unwrap();
    assert_eq!(check(&path, now), Err(VerifyError::Mismatch));

    let mut method = req.clone();
    *method.method_mut() = Method::PUT;
    assert_eq!(check(&method, now), Err(VerifyError::Mismatch));

    let mut unsigned = req.clone();
    unsigned.headers_mut().remove("authorization");
    assert_eq!(check(&unsigned, now), Err(VerifyError::Missing));
}

#[test]
fn stale_and_future_signatures_are_refused_at_five_minutes() {
    let t = at(1_800_000_000);
    let req = signed("GET", "http://o.test/api/stats/daily", b"", &[], t);
    assert!(check(&req, at(1_800_000_300)).is_ok());
    assert_eq!(check(&req, at(1_800_000_301)), Err(VerifyError::Stale));
    assert_eq!(check(&req, at(1_799_999_699)), Err(VerifyError::Stale));
}

#[test]
fn wrong_key_or_scope_is_refused() {
    let now = at(1_800_000_000);
    let mut req = Request::get("http://o.test/x").body(Vec::new()).unwrap();
    sign(&mut req, &Credentials::new("OTHER", "s", None), &scope(), Profile::Api, now).unwrap();
    assert_eq!(check(&req, now), Err(VerifyError::UnknownKey));

    let mut req = Request::get("http://o.test/x").body(Vec::new()).unwrap();
    sign(&mut req, &Credentials::new(KEY, "wrong-secret", None), &scope(), Profile::Api, now).unwrap();
    assert_eq!(check(&req, now), Err(VerifyError::Mismatch));

    let mut req = Request::get("http://o.test/x").body(Vec::new()).unwrap();
    let other = Scope { region: "eu-west-1".into(), service: "execute-api".into() };
    sign(&mut req, &creds(), &other, Profile::Api, now).unwrap();
    assert_eq!(check(&req, now), Err(VerifyError::WrongScope("region")));
}

#[test]
fn malformed_authorization_headers_never_panic() {
    let now = at(1_800_000_000);
    for bad in [
        "Bearer abc",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDVERGETEST/20270115/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=zz",
        "AWS4-HMAC-SHA256 Credential=AKIDVERGETEST/20270115/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date;x-amz-content-sha256;\u{1}, Signature=0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let mut req = signed("GET", "http://o.test/x", b"", &[], now);
        match http::HeaderValue::from_str(bad) {
            Ok(v) => {
                req.headers_mut().insert("authorization", v);
                assert!(check(&req, now).is_err(), "{bad}");
            }
            Err(_) => continue,
        }
    }
}

#[test]
fn amz_dates_parse_exactly() {
    assert_eq!(parse_amz_date("20150830T123600Z"), Some(at(1_440_938_160)));
    assert_eq!(parse_amz_date("20150830T123600"), None);
    assert_eq!(parse_amz_date("2015083xT123600Z"), None);
    assert_eq!(parse_amz_date("20151330T123600Z"), None);
}

/// The `get-vanilla` case of the AWS SigV4 test suite (service "service", region "us-east-1").
#[test]
fn aws_suite_get_vanilla_signature() {
    let mut req = Request::get("https://example.amazonaws.com/").body(Vec::new()).unwrap();
    let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
    let scope = Scope { region: "us-east-1".into(), service: "service".into() };
    sign(&mut req, &creds, &scope, Profile::DynamoDb, parse_amz_date("20150830T123600Z").unwrap()).unwrap();
    assert_eq!(
        req.headers()["authorization"],
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn the_exact_path_is_verified_not_a_normalised_one() {
    // The origin routes the raw path, so a signature for one path must not verify another that
    // only normalises to it (RFC 3986 dot segments, empty segments).
    let now = at(1_800_000_000);
    let req = signed("DELETE", "http://o.test/api/admin/keys/k1", b"", &[], now);
    assert!(check(&req, now).is_ok());
    for other in [
        "http://o.test/api/admin/keys/x/../k1",
        "http://o.test/api/admin/keys/./k1",
        "http://o.test/api//admin/keys/k1",
        "http://o.test//api/admin/keys/k1",
    ] {
        let mut moved = req.clone();
        *moved.uri_mut() = other.parse().unwrap();
        assert_eq!(check(&moved, now), Err(VerifyError::Mismatch), "{other}");
    }
}

#[test]
fn the_credential_date_is_exactly_the_date_of_x_amz_date() {
    let now = at(1_800_000_000); // 2027-01-15T08:00:00Z
    let req = signed("GET", "http://o.test/api/stats/daily", b"", &[], now);
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    assert!(auth.contains("/20270115/"), "{auth}");
    for date in ["2027", "202701", "", "2027011", "20270115T", "20270116"] {
        let mut edited = req.clone();
        let value = auth.replace("/20270115/", &format!("/{date}/"));
        edited.headers_mut().insert("authorization", value.parse().unwrap());
        assert!(matches!(check(&edited, now), Err(VerifyError::Malformed(_))), "credential date {date:?}: {:?}", check(&edited, now));
    }
}
