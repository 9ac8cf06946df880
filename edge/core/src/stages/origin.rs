//! The origin: [`crate::s3`] (signed GET/HEAD, SPA fallback) or [`crate::forward`] (a
//! SigV4-signed proxy with allow-listed headers). The request's body is handed over here; the
//! response's body is relayed as the runtime holds it.

use super::{Ctx, Stop};
use crate::platform::{Out, Platform};
use crate::target::Target;
use crate::upstream::Body;
use crate::{forward, s3};

pub(crate) async fn fetch<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<http::Response<Body<P::Body>>, Stop<P::Body>> {
    let route = cx.route()?;
    let origin = route.origin;
    let path = cx.path()?;
    let up = Out(cx.platform);
    let req = &cx.req;
    let response = match &origin.target {
        Target::S3 { base, bucket, path_style } => {
            let bucket = s3::Bucket { origin, base, bucket, path_style: *path_style };
            bucket.serve(req.method(), path, req.headers(), route.behaviour.spa_fallback, &up, cx.now).await
        }
        Target::Http { base } => {
            let call = forward::Call {
                method: req.method(),
                path,
                query: req.uri().query(),
                client: req.headers(),
                identity: &cx.identity,
                request_id: &cx.ex.request_id,
            };
            forward::forward(origin, base, call, req.body().clone(), &up, cx.now).await
        }
    }?;
    Ok(response.map(Body::Origin))
}
