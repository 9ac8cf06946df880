//! Identity: the behaviour's auth rule checked against the request (401, 403 or 503 when it
//! fails). After the cheap refusals, before any cache lookup or origin work. A CORS preflight
//! carries no credentials by design, so a behaviour may let it through.

use http::{header, Method};

use super::{Ctx, Stop};
use crate::auth::Identity;
use crate::platform::{Out, Platform};
use crate::problem::EdgeError;

/// [`verify`], timed for `Server-Timing`.
pub(crate) async fn check<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let start = cx.platform.now();
    let result = verify(cx).await;
    cx.ex.timings.identity = Some(super::since(cx.platform, start));
    result
}

async fn verify<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let behaviour = cx.route()?.behaviour;
    let req = &cx.req;
    let preflight = req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut identity = if behaviour.allow_preflight && preflight {
        Identity::default()
    } else {
        let out = Out(cx.platform);
        let auth = cx.authenticator(&out);
        let checked = auth.evaluate(&behaviour.auth, req.headers()).await;
        let issued = auth.issued.into_inner();
        cx.absorb(issued);
        match checked {
            Ok(id) => id,
            Err(e) => {
                // Refused credentials count against `count = "failed_identity"` limits.
                super::ratelimit::identity_failed(cx, &e).await;
                return Err(EdgeError::Auth(e).into());
            }
        }
    };
    cx.ex.log.auth = identity.via.take();
    cx.ex.log.signature = identity.signature;
    cx.identity = identity;
    Ok(())
}
