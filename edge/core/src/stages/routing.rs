//! Path normalisation (400 for what it refuses) and routing: the first behaviour whose pattern
//! matches the normalised path. Patterns never see the raw path.

use super::{Ctx, Route, Stop};
use crate::path::NormalPath;
use crate::platform::Platform;

/// Normalises the path once; everything after sees only the [`NormalPath`].
pub(crate) fn normalise<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let path = NormalPath::parse(cx.req.uri().path()).map_err(crate::EdgeError::from)?;
    cx.ex.log.path = path.as_str().to_owned();
    cx.path = Some(path);
    Ok(())
}

/// Picks the behaviour. Never stops the request: the last behaviour is always `*`.
pub(crate) fn route<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let route = cx.edge.route(cx.path()?);
    cx.ex.log.behaviour = Some(route.behaviour.pattern.to_string());
    cx.ex.log.origin = Some(route.origin.name.clone());
    cx.ex.route = Some(route);
    Ok(())
}

impl crate::Edge {
    pub(crate) fn route(&self, path: &NormalPath) -> Route<'_> {
        let behaviours = &self.config.behaviours;
        // Validation guarantees a final catch-all, so the fallback is that behaviour.
        let behaviour = behaviours.iter().find(|b| b.pattern.matches(path.as_str())).unwrap_or(&behaviours[behaviours.len() - 1]);
        let cfg = &self.config;
        Route {
            behaviour,
            origin: &self.origins[behaviour.origin],
            headers: behaviour.headers.and_then(|i| cfg.headers_policies.get(i)),
            cors: behaviour.cors.and_then(|i| cfg.cors_policies.get(i)),
        }
    }
}
