//! The edge's own OIDC login routes (`/auth/login`, `/auth/callback`, `/auth/me`,
//! `/auth/logout`), when `[auth.oidc]` is configured: answered here, before routing, so no
//! behaviour can shadow them. The flow itself lives in [`crate::auth::oidc`].

use super::{Ctx, Stop};
use crate::platform::{Out, Platform};
use crate::problem::EdgeError;
use crate::upstream::Body;

pub(crate) async fn routes<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let path = cx.path()?.as_str();
    if cx.edge.oidc.is_none() || !path.starts_with("/auth/") {
        return Ok(());
    }
    let out = Out(cx.platform);
    let auth = cx.authenticator(&out);
    let answer = auth.login_route(cx.req.method(), path, cx.req.uri().query(), cx.req.headers()).await;
    let issued = auth.issued.into_inner();
    cx.absorb(issued);
    match answer {
        None => Ok(()),
        Some(result) => {
            cx.ex.log.behaviour = Some("/auth/*".to_owned());
            match result {
                Ok(r) => Err(Stop::Answer(Box::new(r.map(Body::Full)))),
                Err(crate::auth::oidc::LoginError::PostOnly) => {
                    Err(EdgeError::MethodNotAllowed { method: cx.req.method().to_string(), allow: "POST".to_owned() }.into())
                }
                Err(e) => Err(EdgeError::Login(e).into()),
            }
        }
    }
}
