//! The canary choice ([`crate::canary`]), for behaviours with `canary`: after identity and rate
//! limits (a refused request costs no decision and gets no cookie), before the cache lookup,
//! whose key names the chosen origin on such behaviours, so the canary's answers and the
//! primary's never share an entry.

use super::{Ctx, Route, Stop};
use crate::canary::{decide, Side};
use crate::platform::Platform;

pub(crate) fn pick<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let route = cx.route()?;
    let Some(canary) = &route.behaviour.canary else { return Ok(()) };
    let decision = decide(canary, cx.req.headers(), cx.entropy);
    if let Some(c) = decision.set_cookie {
        cx.ex.set_cookies.push(c);
    }
    if decision.side == Side::Canary {
        let origin = &cx.edge.origins[canary.origin];
        cx.ex.log.origin = Some(origin.name.clone());
        cx.ex.route = Some(Route { origin, ..route });
    }
    Ok(())
}
